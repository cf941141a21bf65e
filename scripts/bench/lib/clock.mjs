// The one clock of the suite: CLOCK_MONOTONIC in nanoseconds. The driver reads
// it with process.hrtime.bigint() (libuv's uv_hrtime = clock_gettime(CLOCK_MONOTONIC)),
// the Python fixtures with time.monotonic_ns() (the same clock_gettime call).
// PID namespaces do not change it (no time namespace is used). verifyClock()
// checks that a child's reading falls between two of the driver's.
import { spawn } from 'node:child_process';
import { PYTHON } from './fixtures.mjs';

/** Now, in ns of CLOCK_MONOTONIC, as a Number (exact to the ns for 104 days of uptime). */
export function nowNs() {
  return Number(process.hrtime.bigint());
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Spawns python3 five times; each reading must lie between the driver's before/after. */
export async function verifyClock() {
  const samples = [];
  for (let i = 0; i < 5; i++) {
    const before = nowNs();
    const out = await new Promise((resolve, reject) => {
      const p = spawn(PYTHON, ['-S', '-I', '-c', 'import time; print(time.monotonic_ns())'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let s = '';
      p.stdout.on('data', (d) => (s += d));
      p.on('error', reject);
      p.on('exit', () => resolve(s.trim()));
    });
    const after = nowNs();
    const child = Number(out);
    samples.push({ before, child, after, inside: child >= before && child <= after });
  }
  return { clock: 'CLOCK_MONOTONIC', driver: 'process.hrtime.bigint()', child: 'python3 time.monotonic_ns()', ok: samples.every((s) => s.inside), samples };
}
