// 5. Restarts. (a) Latency: a program (fixtures/crasher.py) writes "start",
// lives 100 ms, writes "crash" and exits 1; with each tool's fastest settings
// (no backoff, no crash-loop limit) the latency is the next "start" minus the
// "crash" (includes the exit itself and python3's own start, ~10 ms). PID 1.
// (b) Crash loop with each tool's defaults: a program that exits 1 at once,
// watched for a while: how many starts, the delays between them, and what the
// tool does in the end. Normal processes (the exit code is what matters).
import { fixture } from '../lib/fixtures.mjs';
import { isAvailable } from '../lib/inits.mjs';
import { startSession } from '../lib/session.mjs';
import { rotate, summarize } from '../lib/stats.mjs';
import { sleep } from '../lib/clock.mjs';

const COLS = ['tini', 'dumb-init', 'supervisor', 'supervisord', 'pm2'];
const RESTARTERS = ['supervisor', 'supervisord', 'pm2'];

export const MIN_BACKOFF = {
  supervisor: { text: '0 (backoff.initial: 0, factor: 1)' },
  supervisord: { text: '0 once the run outlived startsecs (0 here); startup failures back off 1 s, 2 s, 3 s…' },
  pm2: { text: '0 (restart_delay: 0, the default)' },
  tini: { dash: 'no restarts' },
  'dumb-init': { dash: 'no restarts' },
};

async function latencyBlock(id, count, p) {
  const s = startSession(id, (chan) => [{ name: 'crasher', argv: fixture('crasher', chan, p.restartLifeMs) }], { restart: 'fast' });
  try {
    await s.chan.waitFor((l) => l.tag === 'start', 30_000, count + 1).catch((e) => {
      throw new Error(`${id}: ${e.message}\n${s.run.stdout.slice(-1500)}`);
    });
    const starts = s.chan.tagged('start');
    const crashes = s.chan.tagged('crash');
    const out = [];
    for (let k = 0; k < count; k++) out.push((starts[k + 1].ts - crashes[k].ts) / 1e6);
    return out;
  } finally {
    await s.close();
  }
}

async function crashLoop(id, p) {
  const s = startSession(id, (chan) => [{ name: 'crasher', argv: fixture('crasher', chan, 0) }], { pid1: false });
  try {
    const exited = await Promise.race([s.run.exited, sleep(p.crashLoopWindowMs).then(() => undefined)]);
    await sleep(100);
    const starts = s.chan.tagged('start').map((l) => l.ts);
    const gaps = starts.slice(1).map((t, i) => (t - starts[i]) / 1e9);
    const text = `${s.run.stdout}\n${s.run.stderr}`;
    const says = text
      .split('\n')
      .filter((l) => /fatal|gave up|errored|unstable|too many|supervisor\.exit|exiting/i.test(l))
      .map((l) => l.replace(/^\{.*"msg":"([^"]*)".*$/, '$1').trim())
      .slice(-3);
    const gaveUp = /"event":"child\.fatal"/.test(text)
      ? 'program turned fatal'
      : /entered FATAL state/.test(text)
        ? 'program FATAL'
        : /too many unstable restarts/.test(text)
          ? 'app "errored"'
          : undefined;
    return {
      gaveUp,
      starts: starts.length,
      gapsS: gaps.map((g) => Math.round(g * 100) / 100),
      exited: exited ? { code: exited.code, signal: exited.signal, afterS: Math.round(((exited.at - s.run.t0) / 1e9) * 10) / 10 } : null,
      says,
    };
  } finally {
    await s.close();
  }
}

function describeLoop(id, r, windowS) {
  const gaps = r.gapsS.length > 8 ? `${r.gapsS.slice(0, 6).join(', ')} … ${r.gapsS.at(-1)}` : r.gapsS.join(', ');
  const end = r.exited ? `the init exited with code ${r.exited.code ?? r.exited.signal} at ${r.exited.afterS} s` : `the init still running after ${windowS} s`;
  return `${r.starts} starts (gaps s: ${gaps || '—'}); ${r.gaveUp ? `gave up: ${r.gaveUp}; ` : 'still retrying; '}${end}`;
}

export async function run({ p, peers, log }) {
  const cols = COLS.filter((c) => isAvailable(c, peers));
  const restarters = RESTARTERS.filter((c) => isAvailable(c, peers));
  const lat = Object.fromEntries(restarters.map((c) => [c, []]));
  const blocks = 2;
  for (let r = 0; r < blocks; r++) {
    for (const id of rotate(restarters, r)) {
      lat[id].push(...(await latencyBlock(id, Math.ceil(p.restartCount / blocks), p)));
      log(`restart latency ${id} block ${r + 1}/${blocks}`);
    }
  }
  log(`crash loop with defaults, ${p.crashLoopWindowMs / 1000} s, side by side`);
  const loops = Object.fromEntries(await Promise.all(restarters.map(async (id) => [id, await crashLoop(id, p)])));
  const latency = {};
  const minBackoff = {};
  const loop = {};
  for (const id of cols) {
    minBackoff[id] = MIN_BACKOFF[id];
    if (!restarters.includes(id)) {
      latency[id] = { dash: 'no restarts' };
      loop[id] = { dash: 'no restarts' };
      continue;
    }
    latency[id] = { ...summarize(lat[id]), values: lat[id] };
    loop[id] = { text: describeLoop(id, loops[id], p.crashLoopWindowMs / 1000), raw: loops[id] };
  }
  return {
    title: 'Restarts',
    how: `Latency: PID 1, fastest settings, ${p.restartCount} restarts per tool in 2 alternating blocks; "crash" written by the dying child → "start" written by the next one (includes python3's start, ~10 ms, same for all). Crash loop: normal processes, each tool's defaults, a program that exits 1 at once, watched ${p.crashLoopWindowMs / 1000} s side by side.`,
    columns: COLS,
    rows: [
      { label: 'crash → new child running (no backoff)', unit: 'ms', better: 'lower', cells: latency },
      { label: 'smallest restart delay allowed', unit: '', noRatio: true, cells: minBackoff },
      { label: 'crash loop with defaults', unit: '', noRatio: true, cells: loop },
    ],
    notes: restarters.map((id) => `${id} crash loop said: ${loops[id].says.join(' | ') || '(nothing)'}`),
  };
}
