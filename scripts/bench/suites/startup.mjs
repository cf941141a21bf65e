// 1. Start-up. (a) As PID 1: from the driver's spawn of `unshare … INIT child`
// to the child's first statement (fixtures/stamp.py writes CLOCK_MONOTONIC),
// minus the same with no init (the child itself as PID 1): the init's share.
// (b) Whole processes, not PID 1: `INIT -- /bin/true` exec → exit with
// hyperfine, and its peak RSS with /usr/bin/time -v, beside `node -e 0`.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nowNs } from '../lib/clock.mjs';
import { BUNDLE, fixture } from '../lib/fixtures.mjs';
import { isAvailable } from '../lib/inits.mjs';
import { startSession } from '../lib/session.mjs';
import { rotate, summarize } from '../lib/stats.mjs';
import { tempDir } from '../lib/tmp.mjs';

const COLS = ['bare', 'tini', 'dumb-init', 'supervisor-single', 'supervisor', 'supervisord', 'pm2'];

export async function run(ctx) {
  const { p, peers, log } = ctx;
  const cols = COLS.filter((c) => isAvailable(c, peers));
  const samples = Object.fromEntries(cols.map((c) => [c, []]));
  const errors = [];
  for (let r = 0; r < p.startupRounds; r++) {
    for (const id of rotate(cols, r)) {
      const s = startSession(id, (chan) => [{ name: 'stamp', argv: fixture('stamp', chan) }]);
      try {
        const line = await s.chan.waitFor((l) => l.tag === 'start', 20_000);
        samples[id].push((line.ts - s.run.t0) / 1e6);
      } catch (e) {
        errors.push(`${id}: ${e.message.split('\n')[0]}`);
      } finally {
        await s.close();
      }
    }
    log(`startup round ${r + 1}/${p.startupRounds}`);
  }
  const cells = {};
  for (const c of cols) cells[c] = { ...summarize(samples[c]), values: samples[c] };
  const bare = cells.bare?.median;
  const share = {};
  for (const c of cols) if (c !== 'bare' && cells[c].n) share[c] = { ...summarize(samples[c].map((v) => v - bare)), note: 'each run minus the no-init median' };

  // (b) one-shot whole processes.
  const oneShot = oneShots(ctx);
  const rows = [
    { label: 'exec → first child running, as PID 1', unit: 'ms', better: 'lower', cells },
    { label: "init's share (above minus the no-init median)", unit: 'ms', better: 'lower', noRatio: true, cells: share },
    ...oneShot.rows,
  ];
  return {
    title: 'Start-up',
    how:
      'PID 1 of a new PID namespace (`unshare --pid --fork --mount-proc`). Time from the driver spawning `unshare … INIT stamp.py` to the child writing ' +
      'CLOCK_MONOTONIC as its first statement (python3 -S -I: the child alone takes about as long as the "no init" column). One-shot rows: ' +
      '`INIT -- /bin/true` as a normal process (tini -s), exec → exit measured by hyperfine -N, peak RSS by /usr/bin/time -v; ' +
      'supervisord and pm2-runtime never exit on their own, so they have no one-shot figure.',
    columns: [...cols, 'node'],
    rows,
    notes: [...errors, ...oneShot.notes],
  };
}

function oneShots({ p, peers, log }) {
  const cmds = {
    bare: ['/bin/true'],
    tini: ['tini', '-s', '--', '/bin/true'],
    'dumb-init': ['dumb-init', '/bin/true'],
    'supervisor-single': [process.execPath, BUNDLE, '--', '/bin/true'],
    node: [process.execPath, '-e', '0'],
  };
  const ids = Object.keys(cmds).filter((c) => isAvailable(c, peers));
  const notes = [];
  const wall = Object.fromEntries(ids.map((c) => [c, []]));
  const rss = Object.fromEntries(ids.map((c) => [c, []]));
  const dir = tempDir();
  if (peers.hyperfine.available) {
    for (let r = 0; r < p.hyperfineRounds; r++) {
      // hyperfine runs its commands one after the other: a round of a few runs each, rotated, keeps them alternating.
      const order = rotate(ids, r);
      const out = join(dir, `hf-${r}.json`);
      const res = spawnSync('hyperfine', ['-N', '--runs', String(p.hyperfineRuns), '--export-json', out, ...order.map((c) => cmds[c].join(' '))], {
        encoding: 'utf8',
        timeout: 300_000,
      });
      if (res.status !== 0) {
        notes.push(`hyperfine failed: ${(res.stderr || res.stdout).trim().split('\n').slice(-2).join(' ')}`);
        break;
      }
      const json = JSON.parse(readFileSync(out, 'utf8'));
      json.results.forEach((x, i) => wall[order[i]].push(...x.times.map((t) => t * 1000)));
    }
    log('startup: hyperfine one-shots done');
  } else notes.push('hyperfine not installed: no one-shot wall times');
  if (peers.time.available) {
    for (let r = 0; r < p.timeRuns; r++) {
      for (const c of rotate(ids, r)) {
        const res = spawnSync('/usr/bin/time', ['-v', ...cmds[c]], { encoding: 'utf8', timeout: 60_000 });
        const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(res.stderr ?? '');
        if (m) rss[c].push(Number(m[1]) / 1024);
      }
    }
  } else notes.push('/usr/bin/time not installed: no peak RSS');
  const cell = (v) => (v.length ? { ...summarize(v), values: v } : { dash: 'not measured' });
  return {
    rows: [
      { label: 'one-shot `INIT -- /bin/true`, exec → exit (hyperfine)', unit: 'ms', better: 'lower', ref: 'supervisor-single', cells: Object.fromEntries(ids.map((c) => [c, cell(wall[c])])) },
      { label: 'one-shot peak RSS (/usr/bin/time -v)', unit: 'MiB', better: 'lower', ref: 'supervisor-single', cells: Object.fromEntries(ids.map((c) => [c, cell(rss[c])])) },
    ],
    notes,
  };
}
