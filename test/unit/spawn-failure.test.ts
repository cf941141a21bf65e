import { describe, expect, it } from 'vitest';
import { classifySpawnError, EXIT_OS_ERROR, failureExitCode, isTransient } from '../../src/process/spawn-failure.js';
import { SPAWN_RETRY, type LifecycleInput } from '../../src/supervision/lifecycle.js';
import { programPlan, runLifecycle as run } from '../helpers/plan.js';

describe('spawn failure classification', () => {
  it.each([
    ['ENOENT', 127, false, /^command not found: \/bin\/x$/],
    ['EACCES', 126, false, /^permission denied: \/bin\/x$/],
    ['EPERM', 126, false, /not permitted/],
    ['ENOEXEC', 126, false, /exec format error/],
    ['E2BIG', 126, false, /argument list and environment too long/],
    ['EAGAIN', EXIT_OS_ERROR, true, /out of processes/],
    ['EMFILE', EXIT_OS_ERROR, true, /too many open files/],
    ['ENFILE', EXIT_OS_ERROR, true, /too many open files/],
    ['ENOMEM', EXIT_OS_ERROR, true, /out of memory/],
    ['EINVAL', 126, false, /invalid argument/],
  ])('%s → exit %d, transient %s, a reason that fits', (code, exitCode, transient, reason) => {
    const failure = classifySpawnError('/bin/x', { code });
    expect(failure).toMatchObject({ code, exitCode, transient });
    expect(failure.message).toMatch(reason);
    expect(failure.message).toContain('/bin/x');
    expect(failureExitCode(code)).toBe(exitCode);
    expect(isTransient(code)).toBe(transient);
  });

  it('never repeats Node error text (which can quote env values, argv or the cwd)', () => {
    const nodeError = Object.assign(new TypeError("The property 'options.env['N']' must be a string without null bytes. Received 'se\\x00cret'"), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
    const failure = classifySpawnError('/bin/x', nodeError);
    expect(failure).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', exitCode: 126, transient: false });
    expect(failure.message).not.toContain('cret');
    expect(failure.message).not.toContain('options.env');
    // An errno-style error carries the argv in its message and fields: none of it comes through.
    const errno = Object.assign(new Error('spawn /bin/x --password=hunter2 E2BIG'), { code: 'E2BIG', spawnargs: ['--password=hunter2'] });
    expect(classifySpawnError('/bin/x', errno).message).not.toContain('hunter2');
  });

  it('an unknown or missing code is "cannot execute" (126), not transient', () => {
    expect(classifySpawnError('/bin/x', {})).toMatchObject({ code: 'EUNKNOWN', exitCode: 126, transient: false });
    expect(classifySpawnError('/bin/x', { code: 'EWHATEVER' })).toMatchObject({ code: 'EWHATEVER', exitCode: 126, transient: false });
    expect(classifySpawnError('/bin/x', { code: 'a value\0with junk' }).code).toBe('EUNKNOWN');
  });
});


const emfile: LifecycleInput = { type: 'spawn_failed', exitCode: EXIT_OS_ERROR, code: 'EMFILE', message: 'too many open files: x', transient: true };

describe('transient spawn failures are retried with backoff', () => {
  it('restart: never still retries a transient failure, then starts normally', () => {
    const plan = programPlan({ restart: 'never', startSecsMs: 0 });
    const ts = run(plan, [
      [0, { type: 'start' }],
      [0, emfile],
      [100, { type: 'backoff_elapsed' }],
      [100, emfile],
      [300, { type: 'backoff_elapsed' }],
      [300, { type: 'spawned', pid: 5 }],
    ]);
    expect(ts[1]!.state.phase).toBe('backoff');
    expect(ts[1]!.effects).toContainEqual({ type: 'set_timer', timer: 'backoff', ms: SPAWN_RETRY.initialMs });
    expect(ts[1]!.events[0]).toMatchObject({ event: 'child.spawn_failed', fields: { error: 'EMFILE', retry: 1, retry_in_ms: 100 } });
    expect(ts[2]!.effects).toEqual([{ type: 'spawn' }]);
    expect(ts[2]!.events).toEqual([]); // a retry is not a restart
    expect(ts[3]!.effects).toContainEqual({ type: 'set_timer', timer: 'backoff', ms: 200 });
    expect(ts[5]!.state).toMatchObject({ phase: 'running', pid: 5, restarts: 0, spawnRetries: 0 });
  });

  it('gives up after the last retry: restart: never ends with the failure', () => {
    const plan = programPlan({ restart: 'never', startSecsMs: 0 });
    const steps: Array<[number, LifecycleInput]> = [[0, { type: 'start' }]];
    for (let i = 0; i < SPAWN_RETRY.attempts; i++) steps.push([i, emfile], [i, { type: 'backoff_elapsed' }]);
    steps.push([99, emfile]);
    const ts = run(plan, steps);
    const failures = ts.flatMap((t) => t.events).filter((e) => e.event === 'child.spawn_failed');
    expect(failures).toHaveLength(SPAWN_RETRY.attempts + 1);
    expect(failures.map((e) => e.fields.retry_in_ms)).toEqual([100, 200, 400, 800, 1600, 3200, undefined]);
    expect(ts[ts.length - 1]!.state).toMatchObject({ phase: 'exited', lastExit: { status: EXIT_OS_ERROR } });
    expect(ts[ts.length - 1]!.effects).toContainEqual({ type: 'ended', how: 'exited' });
  });

  it('with restart: always, the policy takes over after the retries, with fresh retries for the next start', () => {
    const plan = programPlan({ restart: 'always', startSecsMs: 0 });
    const steps: Array<[number, LifecycleInput]> = [[0, { type: 'start' }]];
    for (let i = 0; i < SPAWN_RETRY.attempts; i++) steps.push([i, emfile], [i, { type: 'backoff_elapsed' }]);
    steps.push([99, emfile], [2000, { type: 'backoff_elapsed' }], [2000, emfile]);
    const ts = run(plan, steps);
    const restart = ts[ts.length - 2]!;
    expect(restart.events.map((e) => e.event)).toEqual(['child.restart']);
    expect(restart.state.restarts).toBe(1);
    expect(ts[ts.length - 1]!.events[0]).toMatchObject({ fields: { retry: 1 } });
  });

  it('a permanent failure is not retried, and a stop during a retry wait ends the program', () => {
    const plan = programPlan({ restart: 'never' });
    const enoent = run(plan, [[0, { type: 'start' }], [0, { type: 'spawn_failed', exitCode: 127, code: 'ENOENT', message: 'command not found: x' }]]);
    expect(enoent[1]!.state.phase).toBe('exited');
    const stopped = run(plan, [[0, { type: 'start' }], [0, emfile], [50, { type: 'stop', intent: { reason: 'shutdown', restart: false } }]]);
    expect(stopped[2]!.state.phase).toBe('exited');
    expect(stopped[2]!.effects).toContainEqual({ type: 'ended', how: 'stopped' });
  });
});
