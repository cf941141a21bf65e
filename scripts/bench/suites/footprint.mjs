// 2. Footprint of the init itself: VmRSS (/proc/<pid>/status) and CPU
// (utime+stime of /proc/<pid>/stat over a window) of the init process alone,
// as PID 1, idle with 1 and with 8 sleeping programs, and while watching the
// memory of 8 sleeping programs at its default interval (supervisor:
// memory {max: 1Gi} by watchdog every 250 ms, or by cgroup leaves; pm2:
// max_memory_restart, which polls every 30 s). The inits of one scenario run
// side by side (CPU time and RSS are per process, so they do not disturb each other much).
import { sleep } from '../lib/clock.mjs';
import { isAvailable } from '../lib/inits.mjs';
import { CLK_TCK, cpuTicks, descendantsOf, procState, status } from '../lib/proc.mjs';
import { startSession } from '../lib/session.mjs';
import { summarize } from '../lib/stats.mjs';
import { readFileSync } from 'node:fs';

const GiB = 1024 ** 3;
const SCENARIOS = [
  { key: 'idle1', label: '1 program', n: 1, cols: ['tini', 'dumb-init', 'supervisor-single', 'supervisor', 'supervisord', 'pm2'] },
  { key: 'idle8', label: '8 programs', n: 8, cols: ['tini', 'dumb-init', 'supervisor', 'supervisord', 'pm2'] },
  { key: 'watch8', label: '8 programs, memory watched', n: 8, memory: { bytes: GiB, mode: 'watchdog' }, cols: ['tini', 'dumb-init', 'supervisor-watchdog', 'supervisor-cgroup', 'supervisord', 'pm2'] },
];
const COLUMNS = ['tini', 'dumb-init', 'supervisor-single', 'supervisor', 'supervisor-watchdog', 'supervisor-cgroup', 'supervisord', 'pm2'];

const sleepers = (n) => () => Array.from({ length: n }, (_, i) => ({ name: `sleep${i}`, argv: ['/bin/sleep', '1000000'] }));

function countSleeping(root) {
  let n = 0;
  for (const p of descendantsOf(root)) {
    try {
      if (readFileSync(`/proc/${p}/comm`, 'latin1').trim() === 'sleep' && procState(p) !== 'Z') n++;
    } catch {
      // gone
    }
  }
  return n;
}

export async function run({ p, peers, log }) {
  const rss = {};
  const cpu = {};
  const dashes = {};
  const notes = [];
  for (const sc of SCENARIOS) {
    rss[sc.key] = {};
    cpu[sc.key] = {};
    dashes[sc.key] = {};
    for (let r = 0; r < p.footprintRounds; r++) {
      const sessions = [];
      for (const id of sc.cols.filter((c) => isAvailable(c, peers))) {
        const s = startSession(id, sleepers(sc.n), { memory: sc.memory });
        if (s.unsupported) {
          dashes[sc.key][id] = s.unsupported;
          continue;
        }
        sessions.push(s);
      }
      try {
        // Every program running, then settle, then measure over the window.
        const end = Date.now() + 30_000;
        const pids = await Promise.all(sessions.map((s) => s.run.hostPid()));
        while (Date.now() < end && sessions.some((s, i) => countSleeping(pids[i]) < sc.n)) await sleep(50);
        sessions.forEach((s, i) => {
          if (countSleeping(pids[i]) < sc.n) throw new Error(`${s.id}: only ${countSleeping(pids[i])} of ${sc.n} programs started\n${s.run.stdout.slice(-1500)}${s.run.stderr.slice(-1500)}`);
        });
        await sleep(p.footprintSettleMs);
        const t0 = Date.now();
        const c0 = pids.map(cpuTicks);
        await sleep(p.footprintWindowMs);
        const secs = (Date.now() - t0) / 1000;
        sessions.forEach((s, i) => {
          const c1 = cpuTicks(pids[i]);
          const st = status(pids[i]);
          (cpu[sc.key][s.id] ??= []).push(((c1 - c0[i]) / CLK_TCK / secs) * 100);
          (rss[sc.key][s.id] ??= []).push(st.rssKb / 1024);
        });
      } finally {
        await Promise.all(sessions.map((s) => s.close()));
      }
      log(`footprint ${sc.key} round ${r + 1}/${p.footprintRounds}`);
    }
  }
  const rows = [];
  for (const sc of SCENARIOS) {
    const ref = sc.key === 'watch8' ? 'supervisor-watchdog' : 'supervisor';
    const cells = (m) => {
      const out = {};
      for (const [id, why] of Object.entries(dashes[sc.key])) out[id] = { dash: why };
      for (const [id, v] of Object.entries(m[sc.key])) out[id] = { ...summarize(v), values: v };
      return out;
    };
    rows.push({ label: `RSS of the init, ${sc.label}`, unit: 'MiB', better: 'lower', ref, cells: cells(rss) });
    rows.push({ label: `CPU of the init, ${sc.label}`, unit: '% of a core', better: 'lower', ref, cells: cells(cpu) });
  }
  notes.push(`CPU from utime+stime ticks (1/${CLK_TCK} s) over ${p.footprintWindowMs / 1000} s after ${p.footprintSettleMs / 1000} s of settling: resolution ${fmtRes(p.footprintWindowMs)} % of a core`);
  return {
    title: 'Footprint of the init (idle and watching memory)',
    how: 'PID 1, programs are `sleep`. RSS: VmRSS of the init process alone (not its programs). CPU: (utime+stime) of the init over the window. "memory watched": supervisor with `memory: {max: 1Gi, enforce: watchdog}` (or `cgroup`) on each program, pm2 with `max_memory_restart: 1024M`.',
    columns: COLUMNS,
    rows,
    notes,
  };
}

function fmtRes(windowMs) {
  return (100 / CLK_TCK / (windowMs / 1000)).toFixed(2);
}
