// Where the child programs of the benchmarks live and how to start them. They
// are small Python scripts (fixtures/*.py) run by Debian's /usr/bin/python3
// with -S -I -B (no site import, no user environment, no .pyc written: starts in ~10 ms), so every
// init runs the very same child. Each writes its timestamps, CLOCK_MONOTONIC ns,
// as lines on a FIFO (the "channel") that the driver reads.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = resolve(BENCH_DIR, '../..');
export const BUNDLE = join(ROOT, 'dist/supervisor.mjs');
export const FIXTURES = join(BENCH_DIR, 'fixtures');
/** Debian's python3, not a pyenv shim (a shell script that would add ~50 ms to every start). */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** argv of fixture NAME.py with its arguments. */
export function fixture(name, ...args) {
  return [PYTHON, '-S', '-I', '-B', join(FIXTURES, `${name}.py`), ...args.map(String)];
}

/** Prefixes argv with `env BENCH_TAG=tag`, so the driver can find the process by its environment (env execs: same pid). */
export function tagged(tag, argv) {
  return ['/usr/bin/env', `BENCH_TAG=${tag}`, ...argv];
}
