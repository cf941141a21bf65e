// 9. Per Node version: what the supervisor costs on each Node a user may run
// (the machine's node plus the official builds scripts/node-versions.sh caches in
// .cache/node/<major>/), beside that Node's own `node -e 0`:
// (a) one-shot start to exit, `supervisor -- /bin/true` and a config whose one
//     program is /bin/true (restart: never, on_exit: shutdown): wall time, CPU
//     time and peak RSS, runs taking turns (fixtures/oneshot.py);
// (b) idle RSS (VmRSS, and its anonymous part RssAnon) of the process with one
//     sleeping program, beside a bare Node process that only waits.
// Not PID 1 (the PID-1 figures are in the start-up and footprint suites). Each
// Node gets its compile cache filled first (one `supervisor schema`), as an image
// build step would.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../lib/clock.mjs';
import { BUNDLE, fixture, ROOT } from '../lib/fixtures.mjs';
import { summarize } from '../lib/stats.mjs';
import { tempDir } from '../lib/tmp.mjs';

const COLUMNS = ['node', 'supervisor-single', 'supervisor'];
/** BENCH_BASELINE=path/to/an/older/supervisor.mjs adds it as two more columns, measured in the same turns. */
const BASELINE = process.env.BENCH_BASELINE;
if (BASELINE) COLUMNS.push('baseline-single', 'baseline');
/**
 * BENCH_SEA=path[,path...] adds single executables (scripts/build-sea.mjs) as two
 * columns each, named after the file, measured in the same turns under every Node
 * row (they carry their own Node 26: compare them with the Node 26 row).
 */
const SEAS = (process.env.BENCH_SEA ?? '').split(',').filter(Boolean).map((file) => ({ file, id: file.split('/').pop() }));
for (const { id } of SEAS) COLUMNS.push(`${id}-single`, id);
const seaCommands = (single, config) =>
  Object.fromEntries(SEAS.flatMap(({ file, id }) => [[`${id}-single`, [file, ...single]], [id, [file, ...config]]]));

/** Every Node binary to measure: this one, then .cache/node/<major>/bin/node, one per version. */
function nodes() {
  const out = new Map([[process.version, process.execPath]]);
  const dir = join(ROOT, '.cache/node');
  const majors = existsSync(dir) ? readdirSync(dir).sort((a, b) => Number(a) - Number(b)) : [];
  for (const m of majors) {
    const bin = join(dir, m, 'bin/node');
    if (!existsSync(bin)) continue;
    const v = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim();
    if (v && !out.has(v)) out.set(v, bin);
  }
  return [...out].sort((a, b) => Number(a[0].slice(1).split('.')[0]) - Number(b[0].slice(1).split('.')[0]));
}

function configs(dir) {
  const oneShot = join(dir, 'oneshot.yaml');
  writeFileSync(oneShot, 'log: {level: error}\nprograms:\n  one: {command: [/bin/true], restart: never, on_exit: shutdown}\n');
  const idle = join(dir, 'idle.yaml');
  writeFileSync(idle, 'log: {level: error}\nprograms:\n  one: {command: [/bin/sleep, "1000000"]}\n');
  return { oneShot, idle };
}

const cell = (v) => (v.length ? { ...summarize(v), values: v } : { dash: 'not measured' });

function oneShots(node, files, p, notes) {
  const cmds = {
    node: [node, '-e', '0'],
    'supervisor-single': [node, BUNDLE, '--log-level', 'error', '--', '/bin/true'],
    supervisor: [node, BUNDLE, '-c', files.oneShot],
    ...(BASELINE && {
      'baseline-single': [node, BASELINE, '--log-level', 'error', '--', '/bin/true'],
      baseline: [node, BASELINE, '-c', files.oneShot],
    }),
    ...seaCommands(['--log-level', 'error', '--', '/bin/true'], ['-c', files.oneShot]),
  };
  const ids = Object.keys(cmds);
  const res = spawnSync(fixture('oneshot')[0], [...fixture('oneshot').slice(1), p.nodeRounds, JSON.stringify(ids.map((c) => cmds[c]))], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  const runs = Object.fromEntries(ids.map((c) => [c, { wall: [], cpu: [], rss: [] }]));
  for (const line of (res.stdout ?? '').split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line);
    const id = ids[r.i];
    if (r.status !== 0) {
      notes.push(`${id} exited with ${r.status}`);
      continue;
    }
    runs[id].wall.push(r.wall_ms);
    runs[id].cpu.push(r.cpu_ms);
    runs[id].rss.push(r.maxrss_mib);
  }
  if (res.status !== 0) notes.push(`oneshot.py failed: ${(res.stderr ?? '').trim().split('\n').slice(-1)[0]}`);
  return runs;
}

function rssOf(pid) {
  const out = {};
  try {
    const s = spawnSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' }).stdout;
    for (const k of ['VmRSS', 'RssAnon']) out[k] = Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1]) / 1024;
  } catch {
    // gone
  }
  return out;
}

async function idle(node, files, p) {
  const cmds = {
    node: [node, '-e', 'setInterval(() => {}, 1e9)'],
    'supervisor-single': [node, BUNDLE, '--log-level', 'error', '--', '/bin/sleep', '1000000'],
    supervisor: [node, BUNDLE, '-c', files.idle],
    ...(BASELINE && {
      'baseline-single': [node, BASELINE, '--log-level', 'error', '--', '/bin/sleep', '1000000'],
      baseline: [node, BASELINE, '-c', files.idle],
    }),
    ...seaCommands(['--log-level', 'error', '--', '/bin/sleep', '1000000'], ['-c', files.idle]),
  };
  const out = Object.fromEntries(Object.keys(cmds).map((c) => [c, { VmRSS: [], RssAnon: [] }]));
  for (let r = 0; r < p.nodeIdleRounds; r++) {
    // Side by side: RSS is per process, they do not disturb each other.
    const procs = Object.entries(cmds).map(([id, argv]) => ({ id, child: spawn(argv[0], argv.slice(1), { stdio: 'ignore' }) }));
    await sleep(p.nodeIdleSettleMs);
    for (const { id, child } of procs) {
      const m = rssOf(child.pid);
      if (m.VmRSS) out[id].VmRSS.push(m.VmRSS);
      if (m.RssAnon) out[id].RssAnon.push(m.RssAnon);
    }
    for (const { child } of procs) child.kill('SIGTERM');
    await Promise.all(procs.map(({ child }) => (child.exitCode === null && child.signalCode === null ? new Promise((res) => child.once('exit', res)) : null)));
  }
  return out;
}

export async function run({ p, log }) {
  const files = configs(tempDir());
  const rows = [];
  const notes = [];
  for (const [version, node] of nodes()) {
    // Fill this Node's compile cache, as an image build step would.
    for (const b of [BUNDLE, BASELINE].filter(Boolean)) spawnSync(node, [b, 'schema'], { stdio: 'ignore', timeout: 60_000 });
    const n = [];
    const runs = oneShots(node, files, p, n);
    const rss = await idle(node, files, p);
    notes.push(...n.map((x) => `${version}: ${x}`));
    const by = (f) => Object.fromEntries(COLUMNS.map((c) => [c, cell(f(c))]));
    rows.push({ label: `${version}: one-shot start → exit`, unit: 'ms', better: 'lower', ref: 'supervisor-single', cells: by((c) => runs[c].wall) });
    rows.push({ label: `${version}: CPU time of that run`, unit: 'ms', better: 'lower', ref: 'supervisor-single', cells: by((c) => runs[c].cpu) });
    rows.push({ label: `${version}: peak RSS of that run`, unit: 'MiB', better: 'lower', ref: 'supervisor-single', cells: by((c) => runs[c].rss) });
    rows.push({ label: `${version}: idle RSS`, unit: 'MiB', better: 'lower', ref: 'supervisor-single', cells: by((c) => rss[c].VmRSS) });
    rows.push({ label: `${version}: idle anonymous RSS`, unit: 'MiB', better: 'lower', ref: 'supervisor-single', cells: by((c) => rss[c].RssAnon) });
    log(`node: ${version} done`);
  }
  return {
    title: 'Per Node version',
    how:
      'Not PID 1. Each Node installed here (the machine\'s, and the official builds in .cache/node/ from scripts/node-versions.sh), its compile cache filled first. ' +
      'One-shot: `node -e 0`, `supervisor --log-level error -- /bin/true` and `supervisor -c` a config whose one program is /bin/true (restart: never, on_exit: shutdown), ' +
      `${p.nodeRounds} runs each taking turns; wall time exec → exit, CPU time (user+system) and peak RSS from wait4 (scripts/bench/fixtures/oneshot.py). ` +
      `Idle: VmRSS and RssAnon (/proc/PID/status) after ${p.nodeIdleSettleMs / 1000} s, a bare \`node -e "setInterval(…)"\` beside the supervisor running one \`sleep\`, ${p.nodeIdleRounds} rounds. ` +
      '"ours ×R": `supervisor --` ÷ that column (in the node column: ÷ bare Node).' +
      (BASELINE ? ` Baseline columns: ${BASELINE}, the same runs, taking turns.` : '') +
      (SEAS.length ? ` Single executables (their own Node 26, whatever the row): ${SEAS.map((x) => x.file).join(', ')}, the same runs, taking turns.` : ''),
    columns: COLUMNS,
    rows,
    notes,
  };
}
