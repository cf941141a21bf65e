#!/usr/bin/env node
// Cost of watching: the supervisor's own CPU at idle with N programs that have no
// memory cap, the container guard on (the container has a limit). Each N runs in a
// fresh memory cgroup (v1 or v2, under ours) with a 64 GiB limit, so the guard is
// on and never near it; the programs are `sleep`. CPU = utime+stime of the
// supervisor's pid over the window, after every program has started and a settle.
//
//   node scripts/bench/guard-idle.mjs [--bundle dist/supervisor.mjs] [--n 10,500,2000]
//                                     [--window 10] [--settle 5] [--guard on|off]
// Run it as root (it makes cgroups), one at a time: other load shows in the figure.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const bundle = opt('bundle', 'dist/supervisor.mjs');
const ns = opt('n', '10,500,2000').split(',').map(Number);
const windowS = Number(opt('window', '10'));
const settleS = Number(opt('settle', '5'));
const guard = opt('guard', 'on');
const CLK_TCK = 100;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function ownMemoryCgroup() {
  const lines = readFileSync('/proc/self/cgroup', 'latin1').split('\n');
  const v1 = lines.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
  if (v1) return { version: 'v1', dir: `/sys/fs/cgroup/memory${v1.split(':')[2]}` };
  const v2 = lines.find((l) => l.startsWith('0::'));
  return { version: 'v2', dir: `/sys/fs/cgroup${v2.slice(3)}` };
}

function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

function children(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(' ').filter(Boolean).length;
  } catch {
    return 0;
  }
}

async function measure(n) {
  const own = ownMemoryCgroup();
  const cg = join(own.dir, `guard-idle-${process.pid}-${n}`);
  mkdirSync(cg, { recursive: true });
  writeFileSync(join(cg, own.version === 'v1' ? 'memory.limit_in_bytes' : 'memory.max'), String(64 * 1024 ** 3));
  const dir = join(tmpdir(), `guard-idle-${process.pid}-${n}`);
  mkdirSync(dir, { recursive: true });
  const progs = Array.from({ length: n }, (_, i) => `  s${i}: { command: [/bin/sleep, "1000000"] }`).join('\n');
  writeFileSync(join(dir, 'supervisor.yaml'), `log: { level: warn }\nmemory: { guard: { enabled: ${guard === 'on' ? 'true' : 'false'} } }\nprograms:\n${progs}\n`);
  const child = spawn('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec node "$1" -c "$2"', cg, bundle, join(dir, 'supervisor.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  try {
    const end = Date.now() + 300_000;
    while (children(child.pid) < n && Date.now() < end) await sleep(200);
    if (children(child.pid) < n) throw new Error(`only ${children(child.pid)} of ${n} programs started: ${stderr.slice(-500)}`);
    await sleep(settleS * 1000);
    const c0 = cpuTicks(child.pid);
    const t0 = Date.now();
    await sleep(windowS * 1000);
    const pct = ((cpuTicks(child.pid) - c0) / CLK_TCK / ((Date.now() - t0) / 1000)) * 100;
    return pct;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    for (let i = 0; i < 50 && existsSync(cg); i++) {
      try {
        rmdirSync(cg);
      } catch {
        await sleep(100);
      }
    }
  }
}

for (const n of ns) {
  const pct = await measure(n);
  console.log(JSON.stringify({ bundle, guard, programs: n, cpu_pct: Math.round(pct * 10) / 10, window_s: windowS }));
}
