#!/usr/bin/env node
// run.mjs — command line for the VM bench: boots the cgroup v2 VM, runs one script in
// it, prints the script's stdout and stderr and exits with its exit code.
//   node scripts/vm/run.mjs [-v] [--timeout SECONDS] script.sh
// -v also prints the wall time and the kernel console to stderr.
import { readFileSync } from 'node:fs';
import { runInVm, VmError } from './vm.mjs';

const args = process.argv.slice(2);
let verbose = false;
let timeoutMs = 300_000;
let file;
while (args.length) {
  const a = args.shift();
  if (a === '-v') verbose = true;
  else if (a === '--timeout') timeoutMs = Number(args.shift()) * 1000;
  else if (!file && !a.startsWith('-')) file = a;
  else file = undefined, args.length = 0;
}
if (!file || !(timeoutMs > 0)) {
  console.error('usage: node scripts/vm/run.mjs [-v] [--timeout SECONDS] script.sh');
  process.exit(2);
}

try {
  const r = await runInVm(readFileSync(file, 'utf8'), { timeoutMs });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  if (verbose) process.stderr.write(`--- kernel console ---\n${r.console}\n`);
  if (r.timedOut) process.stderr.write(`vm bench: script killed after ${timeoutMs / 1000}s\n`);
  if (verbose) process.stderr.write(`vm bench: boot+run+poweroff ${(r.wallMs / 1000).toFixed(1)}s, exit ${r.code}\n`);
  process.exit(r.code);
} catch (e) {
  if (!(e instanceof VmError)) throw e;
  console.error(e.message);
  process.exit(125);
}
