// Restarts: exponential backoff growth up to its max, reset after a stable run,
// and the crash loop that turns a program fatal with its on_fatal action.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { byEvent, FIXTURES, killAllRuns, startInit, tempDir, writeConfig } from '../helpers/init.js';
import { lines, until, within } from './support.js';

afterEach(killAllRuns);

const RECORDER = join(FIXTURES, 'signal-recorder.mjs');
const ready = (tag: string) => (e: Record<string, unknown>) => e.fixture === 'ready' && e.tag === tag;

describe('restart backoff', () => {
  it('grows 100, 200, 400, 800, 800 ms; a run longer than reset_after restarts after the initial delay', async () => {
    const config = writeConfig(`
programs:
  fast-fail:
    command: ["sh", "-c", "exit 1"]
    restart: always
    start_secs: 0
    backoff: { initial: 100ms, factor: 2, max: 800ms, reset_after: 1h }
    crash_loop: { max_restarts: 1000, window: 1h }
  slow-fail:
    command: ["sh", "-c", "sleep 0.5; exit 1"]
    restart: always
    start_secs: 0
    backoff: { initial: 100ms, factor: 2, max: 800ms, reset_after: 200ms }
    crash_loop: { max_restarts: 1000, window: 1h }
`);
    const run = startInit(['-c', config]);
    const [fast, slow] = await Promise.all([
      run.waitForCount(byEvent('child.backoff', 'fast-fail'), 5, 60_000),
      run.waitForCount(byEvent('child.backoff', 'slow-fail'), 4, 60_000),
    ]);
    expect(fast.slice(0, 5).map((e) => e.delay_ms)).toEqual([100, 200, 400, 800, 800]);
    expect(fast.slice(0, 5).map((e) => e.last_status)).toEqual([1, 1, 1, 1, 1]);
    expect(slow.slice(0, 4).map((e) => e.delay_ms)).toEqual([100, 100, 100, 100]);
    // Each slow run did stay up past reset_after.
    const slowExits = run.events.filter(byEvent('child.exit', 'slow-fail'));
    expect(slowExits.every((e) => typeof e.uptime_ms === 'number' && e.uptime_ms >= 200)).toBe(true);
    // Every backoff is followed by a restart of the same program (restarts counted up).
    await run.waitForCount(byEvent('child.restart', 'fast-fail'), 5, 60_000);
    expect(run.events.filter(byEvent('child.restart', 'fast-fail')).slice(0, 5).map((e) => e.restarts)).toEqual([1, 2, 3, 4, 5]);
    await run.signal('SIGTERM');
    expect((await within(run.done, 60_000, 'supervisor exit')).code).toBe(0);
    expect(run.events.filter(byEvent('child.fatal'))).toEqual([]);
  });
});

describe('stop during backoff', () => {
  it('SIGTERM while a program waits out a long backoff: no restart, exit 0', async () => {
    const config = writeConfig(`
programs:
  waiting:
    command: ["sh", "-c", "exit 1"]
    restart: always
    start_secs: 0
    backoff: { initial: 1h, max: 1h }
`);
    const run = startInit(['-c', config]);
    await run.waitFor(byEvent('child.backoff', 'waiting'));
    await run.signal('SIGTERM');
    const { code } = await within(run.done, 45_000, 'supervisor exit');
    expect(code).toBe(0);
    expect(run.events.filter(byEvent('child.spawn', 'waiting'))).toHaveLength(1);
    expect(run.events.filter(byEvent('child.restart'))).toEqual([]);
  });
});

describe('crash loop', () => {
  it('on_fatal {action: shutdown, exit_code: 3}: child.fatal, then the supervisor exits 3', async () => {
    const config = writeConfig(`
programs:
  crasher:
    command: ["sh", "-c", "exit 1"]
    restart: always
    start_secs: 0
    backoff: { initial: 10ms, factor: 1, max: 10ms }
    crash_loop: { max_restarts: 3, window: 1h }
    on_fatal: { action: shutdown, exit_code: 3 }
`);
    const run = startInit(['-c', config]);
    const { code } = await within(run.done, 60_000, 'supervisor exit');
    expect(code).toBe(3);
    // 3 restarts tolerated: 4 runs, 3 backoffs, then fatal.
    expect(run.events.filter(byEvent('child.spawn', 'crasher'))).toHaveLength(4);
    expect(run.events.filter(byEvent('child.backoff', 'crasher'))).toHaveLength(3);
    const fatal = run.events.filter(byEvent('child.fatal', 'crasher'));
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ max_restarts: 3, last_status: 1 });
    expect(run.events.find(byEvent('supervisor.shutdown'))).toMatchObject({ reason: 'program_fatal', program: 'crasher' });
    expect(run.events.find(byEvent('supervisor.exit'))).toMatchObject({ code: 3 });
    const names = run.events.map((e) => e.event);
    expect(names.lastIndexOf('child.exit')).toBeLessThan(names.indexOf('child.fatal'));
  });

  it('on_fatal: continue: the other program keeps running; SIGTERM then exits 0', async () => {
    const dir = tempDir();
    const out = join(dir, 'signals.txt');
    const config = writeConfig(`
programs:
  survivor:
    command: ${JSON.stringify([process.execPath, RECORDER, '--out', out, '--tag', 'survivor', '--exit-on', 'SIGTERM'])}
    start_secs: 0
  crasher:
    command: ["sh", "-c", "exit 1"]
    restart: always
    start_secs: 0
    backoff: { initial: 10ms, factor: 1, max: 10ms }
    crash_loop: { max_restarts: 3, window: 1h }
    on_fatal: continue
`, dir);
    const run = startInit(['-c', config]);
    await Promise.all([run.waitFor(byEvent('child.fatal', 'crasher'), 60_000), run.waitFor(ready('survivor'))]);
    // Still supervising after the fatal: a forwarded signal reaches the survivor.
    await run.signal('SIGHUP');
    await until(() => lines(out).includes('survivor SIGHUP'), 'the survivor to get SIGHUP');
    expect(run.events.filter(byEvent('child.exit', 'survivor'))).toEqual([]);
    expect(run.events.filter(byEvent('supervisor.shutdown'))).toEqual([]);
    await run.signal('SIGTERM');
    expect((await within(run.done, 60_000, 'supervisor exit')).code).toBe(0);
    // The fatal program never ran again.
    expect(run.events.filter(byEvent('child.spawn', 'crasher'))).toHaveLength(4);
    expect(run.events.find(byEvent('child.exit', 'survivor'))).toMatchObject({ expected: true, code: 0 });
  });
});
