// 4. Orphan reaping: the program (fixtures/orphans.py) makes an intermediate
// process fork N children that exit at once, then exit itself, so N zombies
// are re-parented to PID 1 in one go. The driver samples the init's children
// (/proc/<pid>/task/*/children; every new child of the init here is one of
// those zombies) every ~1 ms: time from the intermediate's exit to no zombie
// left, peak zombie count, and the init's CPU time spent.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nowNs, sleep } from '../lib/clock.mjs';
import { fixture } from '../lib/fixtures.mjs';
import { isAvailable } from '../lib/inits.mjs';
import { childrenOf, CLK_TCK, cpuTicks } from '../lib/proc.mjs';
import { startSession } from '../lib/session.mjs';
import { rotate, summarize } from '../lib/stats.mjs';

const COLS = ['tini', 'dumb-init', 'supervisor', 'supervisord', 'pm2'];

async function once(id, p) {
  const s = startSession(id, (chan, dir) => [{ name: 'orphans', argv: fixture('orphans', chan, p.orphans, join(dir, 'go')) }]);
  try {
    await s.chan.waitFor((l) => l.tag === 'ready', 30_000);
    const init = await s.run.hostPid();
    await sleep(1500);
    const baseline = new Set(childrenOf(init));
    writeFileSync(join(s.dir, 'go'), '');
    let peak = 0;
    let lastCount = 0;
    let lastChange = nowNs();
    let cpu0;
    const noProgressNs = (p.quick ? 3 : 10) * 1e9;
    const deadline = Date.now() + p.reapTimeoutMs + 60_000; // forking N takes a while too
    for (;;) {
      const t = nowNs();
      const extra = childrenOf(init).filter((k) => !baseline.has(k)).length;
      if (extra > peak) peak = extra;
      if (extra !== lastCount) {
        lastCount = extra;
        lastChange = t;
      }
      const release = s.chan.tagged('release')[0];
      if (release && cpu0 === undefined) cpu0 = cpuTicks(init);
      const done = s.chan.tagged('done')[0];
      if (done && extra === 0) {
        return { ms: (t - release.ts) / 1e6, peak, cpuMs: ((cpuTicks(init) - cpu0) / CLK_TCK) * 1000 };
      }
      if (done && (t - lastChange > noProgressNs || t - release.ts > p.reapTimeoutMs * 1e6)) {
        return { left: extra, peak, afterS: (t - release.ts) / 1e9, stalled: t - lastChange > noProgressNs };
      }
      if (Date.now() > deadline) throw new Error(`${id}: the orphan burst never finished (release ${!!release}, done ${!!done})`);
      await sleep(1);
    }
  } finally {
    await s.close();
  }
}

export async function run({ p, peers, log, quick }) {
  const cols = COLS.filter((c) => isAvailable(c, peers));
  const res = Object.fromEntries(cols.map((c) => [c, []]));
  for (let r = 0; r < p.reapRounds; r++) {
    for (const id of rotate(cols, r)) {
      res[id].push(await once(id, { ...p, quick }));
      log(`reaping ${id} round ${r + 1}/${p.reapRounds}: ${JSON.stringify(res[id].at(-1))}`);
    }
  }
  const time = {};
  const peak = {};
  const cpu = {};
  const notes = [];
  for (const id of cols) {
    const ok = res[id].filter((x) => x.ms !== undefined);
    const bad = res[id].filter((x) => x.ms === undefined);
    if (bad.length > 0) {
      const b = bad[0];
      time[id] = { text: `${b.stalled ? 'never' : `> ${b.afterS.toFixed(0)} s`}: ${b.left.toLocaleString('en-US')} zombies left after ${b.afterS.toFixed(1)} s${b.stalled ? ' with no progress' : ''}${ok.length ? ` (${ok.length} other runs ok)` : ''}` };
      notes.push(`${id}: ${bad.map((x) => `${x.left} of ${p.orphans} zombies left after ${x.afterS.toFixed(1)} s`).join('; ')}`);
    } else time[id] = { ...summarize(ok.map((x) => x.ms)), values: ok.map((x) => x.ms) };
    peak[id] = { ...summarize(res[id].map((x) => x.peak)), values: res[id].map((x) => x.peak) };
    if (ok.length) cpu[id] = { ...summarize(ok.map((x) => x.cpuMs)), values: ok.map((x) => x.cpuMs) };
  }
  return {
    title: `Orphan reaping (${p.orphans.toLocaleString('en-US')} zombies at once)`,
    how: 'PID 1. Time from the intermediate process writing its exit time to the first driver sample with no zombie child of the init left (an upper bound: samples are ~1 ms apart, the first one only after the program reaped the intermediate); peak = most zombies seen in one sample.',
    columns: COLS,
    rows: [
      { label: 'time until no zombie left', unit: 'ms', better: 'lower', cells: time },
      { label: 'peak zombies seen', unit: '', better: 'lower', noRatio: true, cells: peak },
      { label: "init's CPU time for the burst", unit: 'ms', better: 'lower', cells: cpu },
    ],
    notes,
  };
}
