#!/usr/bin/env node
// The start-up signal window: how long after exec a SIGTERM to the supervisor
// would still be lost. Polls /proc/PID/status of a freshly spawned process and
// notes when (a) Node's own start-up has put its handler on SIGTERM (from then
// on a signal is no longer discarded by the kernel, but Node's handler would
// just re-raise it: lost for a PID 1), (b) our listeners are in place (SIGHUP,
// caught in the same synchronous block as SIGTERM/SIGINT by src/cli/entry.ts),
// (c) the first program runs. The baseline is a plain Node script whose first
// statement installs the same listeners. Not PID 1: the times are the same.
//   node scripts/bench/signal-window.mjs [--runs N] [--bundle dist/supervisor.mjs]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({ options: { runs: { type: 'string', default: '20' }, bundle: { type: 'string', default: 'dist/supervisor.mjs' } } });
const runs = Number(o.runs);
const bundle = resolve(o.bundle);
const dir = mkdtempSync(join(tmpdir(), 'sigwin-'));
const baseline = join(dir, 'first-statement.mjs');
writeFileSync(baseline, "for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => {});\nsetTimeout(() => {}, 60_000);\n");
const config = join(dir, 'supervisor.yaml');
writeFileSync(config, 'programs:\n  sleeper: { command: [sleep, "60"] }\n');

const nap = new Int32Array(new SharedArrayBuffer(4));
const SIGHUP_BIT = 1n << 0n;
const SIGTERM_BIT = 1n << 14n;

function sample(argv) {
  const t0 = process.hrtime.bigint();
  const child = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
  const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
  const seen = {};
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && !(seen.ours !== undefined && (seen.program !== undefined || argv[1] === baseline))) {
    let status;
    try {
      status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    } catch {
      break;
    }
    const cgt = BigInt('0x' + /SigCgt:\s*([0-9a-f]+)/.exec(status)[1]);
    if (seen.node === undefined && cgt & SIGTERM_BIT) seen.node = ms();
    if (seen.ours === undefined && cgt & SIGHUP_BIT) seen.ours = ms();
    if (seen.program === undefined && readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim()) seen.program = ms();
    Atomics.wait(nap, 0, 0, 0.5); // leave the CPU to the process measured
  }
  // The supervisor's program would outlive a SIGKILLed parent: end it first, by pid.
  try {
    for (const pid of readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
  } catch {
    // gone
  }
  child.kill('SIGKILL');
  return new Promise((res) => child.once('exit', () => res(seen)));
}

const median = (xs) => {
  const s = xs.filter((x) => x !== undefined).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};
const cases = {
  'node, listeners in its first statement': [process.execPath, baseline],
  'supervisor -- sleep 60': [process.execPath, bundle, '--', 'sleep', '60'],
  'supervisor -c (one program)': [process.execPath, bundle, '-c', config],
};
const results = {};
for (const name of Object.keys(cases)) results[name] = [];
for (let r = 0; r < runs; r++) for (const [name, argv] of Object.entries(cases)) results[name].push(await sample(argv));

console.log(`medians of ${runs} runs, ms after spawn (${process.version}, ${bundle})`);
console.log('case | Node handler on SIGTERM | our listeners | first program running');
for (const [name, xs] of Object.entries(results)) {
  const f = (k) => median(xs.map((x) => x[k])).toFixed(1);
  console.log(`${name} | ${f('node')} | ${f('ours')} | ${name.startsWith('node') ? '-' : f('program')}`);
}
