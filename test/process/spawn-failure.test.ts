// A program that cannot be executed (missing, not executable) in config mode:
// a child.spawn_failed event with the shell's code, and the other programs go on.
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
