// A program that cannot be executed (missing, not executable) in config mode:
// a child.spawn_failed event with the shell's code, and the other programs go on.
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { byEvent, FIXTURES, killAllRuns, startInit, tempDir, writeConfig } from '../helpers/init.js';
import { lines, stackLines, until, within } from './support.js';

afterEach(killAllRuns);

describe('spawn failures in config mode', () => {
  it('reports child.spawn_failed (ENOENT 127, EACCES 126) and keeps running the other programs', async () => {
    const dir = tempDir();
    const out = join(dir, 'signals.txt');
    const notExec = join(dir, 'not-executable.sh');
    writeFileSync(notExec, '#!/bin/sh\nexit 0\n');
    chmodSync(notExec, 0o644);
    const config = writeConfig(`
programs:
  survivor:
    command: ${JSON.stringify([process.execPath, join(FIXTURES, 'signal-recorder.mjs'), '--out', out, '--tag', 'survivor', '--exit-on', 'SIGTERM'])}
    start_secs: 0
  missing:
    command: ["/nonexistent/program", "arg"]
    restart: always
    backoff: { initial: 10ms, factor: 1, max: 10ms }
    crash_loop: { max_restarts: 2, window: 1h }
    on_fatal: continue
  noexec:
    command: [${JSON.stringify(notExec)}]
    restart: never
`, dir);
    const run = startInit(['-c', config]);
    await Promise.all([
      run.waitFor((e) => e.fixture === 'ready' && e.tag === 'survivor'),
      run.waitFor(byEvent('child.fatal', 'missing'), 60_000),
      run.waitFor(byEvent('child.spawn_failed', 'noexec'), 60_000),
    ]);
    const missing = run.events.filter(byEvent('child.spawn_failed', 'missing'));
    expect(missing).toHaveLength(3);
    expect(missing.every((e) => e.error === 'ENOENT' && e.exit_code === 127)).toBe(true);
    expect(run.events.find(byEvent('child.spawn_failed', 'noexec'))).toMatchObject({ error: 'EACCES', exit_code: 126 });
    // The survivor is still supervised and running.
    await run.signal('SIGHUP');
    await until(() => lines(out).includes('survivor SIGHUP'), 'the survivor to get SIGHUP');
    expect(run.events.filter(byEvent('child.exit', 'survivor'))).toEqual([]);
    expect(run.events.filter(byEvent('supervisor.shutdown'))).toEqual([]);
    await run.signal('SIGTERM');
    expect((await within(run.done, 60_000, 'supervisor exit')).code).toBe(0);
    expect(run.events.filter(byEvent('supervisor.error'))).toEqual([]);
    expect(stackLines(run.stderr())).toEqual([]);
  });
});

describe('spawn failures say what happened (real errno, never mocked)', () => {
  it('EMFILE (the supervisor out of file descriptors) is exit 71, retried with backoff, and the program starts once fds are back', async () => {
    const config = writeConfig(`
programs:
  steady:
    command: ["/bin/sh", "-c", "while :; do sleep 0.2; done"]
    start_secs: 0
    restart: always
    backoff: { initial: 200ms, factor: 1, max: 200ms }
    crash_loop: { max_restarts: 1000, window: 1h }
    on_fatal: continue
`);
    const run = startInit(['-c', config]);
    await run.waitFor(byEvent('child.running', 'steady'), 60_000);
    const pid = await run.supervisorPid();
    // Lower the supervisor's soft RLIMIT_NOFILE below the fds it has open: any new fd is EMFILE.
    execFileSync('prlimit', ['--pid', String(pid), '--nofile=8:']);
    try {
      // steady's next spawn (its sh is killed so it restarts) fails for real.
      execFileSync('pkill', ['-KILL', '-P', String(pid), '-x', 'sh']);
      const first = await run.waitFor((e) => byEvent('child.spawn_failed', 'steady')(e) && e.error === 'EMFILE', 60_000);
      expect(first).toMatchObject({ error: 'EMFILE', exit_code: 71, retry: 1, retry_in_ms: 100 });
      expect(first.reason).toMatch(/too many open files/);
      await run.waitFor((e) => byEvent('child.spawn_failed', 'steady')(e) && e.retry === 2, 60_000);
    } finally {
      execFileSync('prlimit', ['--pid', String(pid), '--nofile=1024:']);
    }
    // A later retry succeeds without the program counting a restart for the failed tries.
    const failures = run.events.filter(byEvent('child.spawn_failed', 'steady')).length;
    const spawned = await run.waitFor((e) => byEvent('child.spawn', 'steady')(e) && run.events.indexOf(e) > run.events.findIndex(byEvent('child.spawn_failed', 'steady')), 60_000);
    expect(failures).toBeGreaterThanOrEqual(2);
    expect(spawned.restarts).toBe(1);
    expect(run.events.filter(byEvent('child.fatal'))).toEqual([]);
    await run.signal('SIGTERM');
    expect((await within(run.done, 60_000, 'supervisor exit')).code).toBe(0);
    expect(stackLines(run.stderr())).toEqual([]);
  });

  it('E2BIG (an argument too long for exec) is exit 126 with its errno, not retried, and the value is not logged', async () => {
    const big = 'x'.repeat(200 * 1024) + 'SECRETTAIL';
    const config = writeConfig(`
programs:
  big:
    command: ["/bin/true"]
    env: { BIG: ${JSON.stringify(big)} }
    restart: never
    on_exit: shutdown
`);
    const run = startInit(['-c', config]);
    const { code } = await within(run.done, 60_000, 'supervisor exit');
    expect(code).toBe(126);
    const failures = run.events.filter(byEvent('child.spawn_failed', 'big'));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ error: 'E2BIG', exit_code: 126 });
    expect(failures[0]!.reason).toMatch(/too long/);
    expect(failures[0]).not.toHaveProperty('retry');
    expect(run.stdout() + run.stderr()).not.toContain('SECRETTAIL');
  });
});
