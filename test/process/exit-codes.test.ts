// Single-command mode (`supervisor -- cmd`) as PID 1 passes the child's exit
// status on, like tini and dumb-init: every code 0-255, 128+N for a child killed
// by signal N, -e remapping to 0, and 127/126 when the command cannot be executed.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { byEvent, killAllRuns, runInit, tempDir } from '../helpers/init.js';
import { pool, stackLines } from './support.js';

afterEach(killAllRuns);

describe('exit code pass-through (single-command mode, PID 1)', () => {
  // 256 supervisors, each PID 1 of its own namespace: 0.13-0.4 s of CPU apiece (Node's
  // start-up and the run path; more without a compile cache, as on Node 20), up to ~100
  // CPU-seconds in all, but 650 s was measured with the machine loaded 12x over (load
  // average 23, before the bundle was split into chunks).
  // So the limit is 30 min, and each run has its own 5 min bound so that a hung run
  // fails as a wrong code, not as a timeout. Nothing is asserted on time.
  it('passes every exit code 0..255 through', { timeout: 1_800_000 }, async () => {
    const codes = Array.from({ length: 256 }, (_, n) => n);
    const got = await pool(codes, 4, async (n) => (await runInit(['--', 'sh', '-c', `exit ${n}`], {}, 300_000)).code);
    expect(got).toEqual(codes);
  });

  it('reports 128+signal for a child killed by a signal', async () => {
    const signals = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGTERM', 'SIGKILL', 'SIGSEGV', 'SIGABRT', 'SIGALRM', 'SIGPIPE'] as const;
    const results = await pool(signals, 8, async (sig) => {
      // The child is not PID 1 in the namespace, so it can kill itself. No core files.
      const r = await runInit(['--log-level', 'info', '--', 'sh', '-c', `ulimit -c 0; kill -${sig.slice(3)} $$; sleep 5`]);
      const exit = r.events.find(byEvent('child.exit'));
      return { sig, code: r.code, childSignal: exit?.signal, status: exit?.status };
    });
    expect(results).toEqual(signals.map((sig) => ({ sig, code: 128 + constants.signals[sig], childSignal: sig, status: 128 + constants.signals[sig] })));
  });

  it('-e 143 reports 143 as 0, both for exit 143 and for death by SIGTERM; other codes unchanged', async () => {
    const [byCode, bySignal, other, twoRemaps] = await Promise.all([
      runInit(['-e', '143', '--', 'sh', '-c', 'exit 143']),
      runInit(['-e', '143', '--log-level', 'info', '--', 'sh', '-c', 'kill -TERM $$; sleep 5']),
      runInit(['-e', '143', '--', 'sh', '-c', 'exit 3']),
      runInit(['-e', '1', '-e', '143', '--', 'sh', '-c', 'exit 1']),
    ]);
    expect(byCode.code).toBe(0);
    expect(bySignal.code).toBe(0);
    expect(bySignal.events.find(byEvent('child.exit'))).toMatchObject({ signal: 'SIGTERM', status: 143 });
    expect(other.code).toBe(3);
    expect(twoRemaps.code).toBe(0);
  });

  it('exits 127 for a command that does not exist and 126 for a file that is not executable', async () => {
    const dir = tempDir();
    const notExec = join(dir, 'not-executable.sh');
    writeFileSync(notExec, '#!/bin/sh\nexit 0\n');
    chmodSync(notExec, 0o644);
    const [missing, denied] = await Promise.all([runInit(['--', '/nonexistent/command']), runInit(['--', notExec])]);
    expect(missing.code).toBe(127);
    expect(missing.events.find(byEvent('child.spawn_failed'))).toMatchObject({ error: 'ENOENT', exit_code: 127 });
    expect(denied.code).toBe(126);
    expect(denied.events.find(byEvent('child.spawn_failed'))).toMatchObject({ error: 'EACCES', exit_code: 126 });
    expect(stackLines(missing.stderr + denied.stderr)).toEqual([]);
  });
});
