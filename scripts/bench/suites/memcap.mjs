// 7. Memory-cap reaction: a program leaking at a fixed rate (fixtures/leak.py:
// 20, 100, 500 MiB/s; it stops growing at a 1 GiB safety ceiling) under each
// init that has a cap: the supervisor's watchdog (polls the tree every 250 ms),
// its cgroup leaf (the kernel kills at memory.limit_in_bytes), pm2's
// max_memory_restart (polls every 30 s). The driver samples the leak's VmRSS
// every ~10 ms from /proc: crossing time (interpolated), stop time (first sample
// with the process gone or a zombie), peak RSS above the cap. Our events
// (child.memory_cap_exceeded with overshoot_bytes, child.oom_killed) and pm2's
// "[PM2][WORKER] ... exceeds --max-memory-restart" line are timed on arrival.
import { nowNs, sleep } from '../lib/clock.mjs';
import { fixture, tagged } from '../lib/fixtures.mjs';
import { isAvailable } from '../lib/inits.mjs';
import { openKmsg } from '../lib/kmsg.mjs';
import { findTagged, procState, rssBytes } from '../lib/proc.mjs';
import { startSession } from '../lib/session.mjs';
import { rotate, summarize } from '../lib/stats.mjs';

const MiB = 1024 * 1024;
export const CAP_COLS = ['supervisor-watchdog', 'supervisor-cgroup', 'pm2'];
const COLS = ['tini', 'dumb-init', ...CAP_COLS, 'supervisord'];

function eventOf(s, id) {
  const l = s.run.lines.find((x) =>
    id === 'pm2' ? /exceeds --max-memory-restart/.test(x.text) : x.obj?.event === 'child.memory_cap_exceeded' || x.obj?.event === 'child.oom_killed',
  );
  if (!l) return undefined;
  if (id === 'pm2') return { at: l.at, event: 'pm2 max-memory-restart', usage: Number(/current_memory=(\d+)/.exec(l.text)?.[1]) };
  return { at: l.at, event: l.obj.event, overshoot: l.obj.overshoot_bytes, usage: l.obj.usage_bytes, obj: l.obj };
}

async function once(id, rate, p) {
  const cap = p.capMiB * MiB;
  const s = startSession(id, (chan) => [{ name: 'leak', argv: tagged('leak', fixture('leak', chan, rate, p.ceilingMiB)) }], {
    memory: { bytes: cap, mode: id === 'supervisor-cgroup' ? 'cgroup' : 'watchdog' },
    restart: 'never',
  });
  if (s.unsupported) return { unsupported: s.unsupported };
  const kmsg = id === 'supervisor-cgroup' ? openKmsg() : undefined;
  try {
    const start = await s.chan.waitFor((l) => l.tag === 'start', 30_000);
    const init = await s.run.hostPid();
    let pid;
    for (let i = 0; i < 500 && !pid; i++) {
      pid = findTagged(init, 'leak');
      if (!pid) await sleep(2);
    }
    if (!pid) throw new Error(`${id}: leak process not found`);
    const series = [];
    const timeoutMs = id === 'pm2' ? p.pm2CapWaitMs : 30_000;
    const end = nowNs() + timeoutMs * 1e6;
    let death;
    for (;;) {
      const t = nowNs();
      const st = procState(pid);
      if (st === undefined || st === 'Z') {
        death = t;
        break;
      }
      series.push([t, rssBytes(pid)]);
      if (t > end) break;
      // ~10 ms, and ~2 ms near the cap, where the stop happens.
      await sleep(series.at(-1)[1] > 0.9 * cap ? 2 : 10);
    }
    await sleep(200); // let the events arrive
    // Crossing: interpolated between the last sample below the cap and the first above.
    let cross;
    const kernelKill = kmsg?.oomKillTime(pid);
    const i = series.findIndex(([, r]) => r > cap);
    if (i > 0) {
      const [t0, r0] = series[i - 1];
      const [t1, r1] = series[i];
      cross = t0 + ((cap - r0) / (r1 - r0)) * (t1 - t0);
    } else if (i === -1 && death && series.length) cross = series.at(-1)[0]; // never above the cap: killed at it
    // cgroup: the cap is on what the kernel charges to the leaf, not VmRSS; the crossing is the kernel's OOM kill.
    if (kernelKill !== undefined) cross = kernelKill;
    const peak = Math.max(...series.map(([, r]) => r));
    const ev = eventOf(s, id);
    const env = s.run.lines.find((l) => l.obj?.event === 'supervisor.environment')?.obj;
    const t0 = start.ts;
    return {
      rate,
      enforce: env?.programs?.leak?.enforce,
      stopped: death !== undefined,
      crossToStopMs: death !== undefined && cross !== undefined ? (death - cross) / 1e6 : undefined,
      overshootMiB: (peak - cap) / MiB,
      eventOvershootMiB: ev?.overshoot !== undefined ? ev.overshoot / MiB : undefined,
      eventUsageMiB: ev?.usage !== undefined ? ev.usage / MiB : undefined,
      crossToEventMs: ev && cross !== undefined ? (ev.at - cross) / 1e6 : undefined,
      killToEventMs: ev && death !== undefined ? (ev.at - death) / 1e6 : undefined,
      kernelKillToEventMs: ev && kernelKill !== undefined ? (ev.at - kernelKill) / 1e6 : undefined,
      kernelKillToSeenDeadMs: kernelKill !== undefined && death !== undefined ? (death - kernelKill) / 1e6 : undefined,
      kmsgCalibrationUncertaintyUs: kmsg ? Math.round(kmsg.uncertaintyNs / 1000) : undefined,
      event: ev?.event,
      waitedS: timeoutMs / 1000,
      crossMs: cross !== undefined ? (cross - t0) / 1e6 : undefined,
      stopMs: death !== undefined ? (death - t0) / 1e6 : undefined,
      eventMs: ev ? (ev.at - t0) / 1e6 : undefined,
      series: downsample(series.map(([t, r]) => [Math.round((t - t0) / 1e5) / 10, Math.round((r / MiB) * 10) / 10]), 500),
    };
  } finally {
    kmsg?.close();
    await s.close();
  }
}

function downsample(points, max) {
  if (points.length <= max) return points;
  const step = points.length / max;
  const out = [];
  for (let k = 0; k < max; k++) out.push(points[Math.floor(k * step)]);
  out.push(points.at(-1));
  return out;
}

const cell = (v) => {
  const x = v.filter((y) => y !== undefined && Number.isFinite(y));
  return x.length ? { ...summarize(x), values: x } : { text: 'n/a' };
};

export async function run({ p, peers, log }) {
  const cols = CAP_COLS.filter((c) => isAvailable(c, peers));
  const runs = {};
  for (const rate of p.leakRates) {
    runs[rate] = Object.fromEntries(cols.map((c) => [c, []]));
    // pm2 takes ~30 s a run (its poll period), so it gets fewer rounds; the others alternate with it while it has some.
    for (let r = 0; r < Math.max(p.leakRounds, p.pm2LeakRounds); r++) {
      for (const id of rotate(cols, r)) {
        if (r >= (id === 'pm2' ? p.pm2LeakRounds : p.leakRounds)) continue;
        const res = await once(id, rate, p);
        runs[rate][id].push(res);
        log(`memcap ${rate} MiB/s ${id} round ${r + 1}/${p.leakRounds}: stop ${res.crossToStopMs?.toFixed(1)} ms after crossing, overshoot ${res.overshootMiB?.toFixed(1)} MiB, ${res.event ?? 'no event'}`);
      }
    }
  }
  const rows = [];
  const notes = [];
  for (const rate of p.leakRates) {
    const R = runs[rate];
    const per = (f) => Object.fromEntries(cols.map((c) => [c, cell(R[c].map(f))]));
    const dash = { tini: { dash: 'no memory cap' }, 'dumb-init': { dash: 'no memory cap' }, supervisord: { dash: 'no memory cap' } };
    const stop = per((x) => x.crossToStopMs);
    for (const c of cols) {
      const never = R[c].filter((x) => !x.stopped);
      if (never.length) stop[c] = { text: `not stopped within ${never[0].waitedS} s (${never.length} of ${R[c].length} runs)` };
    }
    rows.push({ label: `${rate} MiB/s: cap crossed → stopped`, unit: 'ms', better: 'lower', ref: 'supervisor-watchdog', cells: { ...dash, ...stop } });
    rows.push({ label: `${rate} MiB/s: peak RSS above the cap (sampled)`, unit: 'MiB', better: 'lower', ref: 'supervisor-watchdog', cells: { ...dash, ...per((x) => x.overshootMiB) } });
    rows.push({ label: `${rate} MiB/s: overshoot_bytes of the event`, unit: 'MiB', noRatio: true, cells: { ...dash, ...per((x) => x.eventOvershootMiB) } });
    rows.push({ label: `${rate} MiB/s: crossed → event / kill → event`, unit: 'ms', noRatio: true, cells: { ...dash, ...per((x) => (x.event === 'child.oom_killed' ? (x.kernelKillToEventMs ?? x.killToEventMs) : x.crossToEventMs)) } });
    if (cols.includes('supervisor-cgroup')) {
      const k = R['supervisor-cgroup'].map((x) => x.kernelKillToSeenDeadMs);
      rows.push({ label: `${rate} MiB/s: kernel OOM kill → process gone (cgroup)`, unit: 'ms', noRatio: true, cells: { 'supervisor-cgroup': cell(k) } });
    }
    for (const c of cols) {
      const modes = [...new Set(R[c].map((x) => x.enforce).filter(Boolean))];
      if (c.startsWith('supervisor') && modes.length && !modes.includes(c.slice('supervisor-'.length))) notes.push(`${c}: the supervisor chose enforce=${modes.join(',')}`);
    }
  }
  notes.push(`cap ${p.capMiB} MiB, leak ceiling ${p.ceilingMiB} MiB (an overshoot of ${p.ceilingMiB - p.capMiB} MiB means the leak had reached its ceiling: the real overshoot would have been larger)`);
  notes.push('cgroup: most of "kill → event" is the victim itself dying (freeing its memory), see the "kernel OOM kill → process gone" row; the supervisor reports within a few ms of the exit');
  notes.push('cgroup: the kernel limits what is charged to the leaf; VmRSS also counts shared file pages (python3, libc) charged elsewhere, so the sampled RSS can pass the cap by a few MiB before the kill');
  notes.push(
    "last row: watchdog and pm2 = from the interpolated crossing to the event line; cgroup = from the kernel's OOM kill (the /dev/kmsg record's time, put on CLOCK_MONOTONIC by a calibration line the driver writes to /dev/kmsg) to the child.oom_killed line",
  );
  return {
    title: 'Memory-cap reaction',
    how: `PID 1, one leaking program (python3, touches RATE MiB/s), cap ${p.capMiB} MiB, ${p.leakRounds} round(s) per rate (pm2-runtime: ${p.pm2LeakRounds}), alternating. Crossing = the first VmRSS above the cap (interpolated), except in cgroup mode, where the cap is on the leaf's charge and the crossing is the kernel's OOM kill (its /dev/kmsg record); stopped = the process gone or a zombie. RSS (VmRSS) sampled by the driver every ~10 ms, every ~2 ms above 90 % of the cap, so stop times are ±2 ms; pm2's default worker interval (30 s) is not changed.`,
    columns: COLS,
    rows,
    notes,
    runs,
  };
}
