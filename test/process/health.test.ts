// Health probes against real processes and real sockets, the built bundle as
// PID 1: readiness after a delay gating a dependent (`healthy`), a wedged
// program restarted by its liveness probe, an exec probe that hangs (killed with
// its process group at its timeout, no zombie), and readiness flipping with
// the program's answers.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { byEvent, FIXTURES, hostDescendantsOf, killAllRuns, startInit, tempDir, writeConfig, zombiesUnder, type LogEvent } from '../helpers/init.js';
import { until, within } from './support.js';

afterEach(killAllRuns);

const SERVER = join(FIXTURES, 'health-server.mjs');

/** A TCP port nobody listens on right now (the kernel picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const indexOf = (events: LogEvent[], pred: (e: LogEvent) => boolean) => events.findIndex(pred);

/** Command lines of the processes below `pid` (host view). */
function commandLines(pid: number): string[] {
  return hostDescendantsOf(pid).map((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      return '';
    }
  });
}

describe('readiness and depends_on: healthy', () => {
  it('an HTTP program ready after a delay: child.ready once /ready answers 200, and only then its dependent starts', async () => {
    const port = await freePort();
    const state = tempDir();
    const config = writeConfig(`
programs:
  web:
    command: [node, ${SERVER}]
    env: { PORT: ${port}, READY_AFTER_MS: 2500, STATE_DIR: ${state} }
    start_secs: 0
    health:
      readiness: { http: "http://127.0.0.1:${port}/ready", period: 200ms }
  app:
    command: [sleep, 1000]
    depends_on: { web: { condition: healthy } }
`);
    const run = startInit(['-c', config]);
    const spawned = await run.waitFor(byEvent('child.spawn', 'app'), 60_000, 'the dependent spawned');
    const ready = run.events.find(byEvent('child.ready', 'web'));
    expect(ready).toMatchObject({ program: 'web', check: 'http', level: 'info' });
    // The dependent came after the readiness, and web was running (not ready) before it.
    expect(indexOf(run.events, byEvent('child.ready', 'web'))).toBeLessThan(indexOf(run.events, (e) => e === spawned));
    expect(indexOf(run.events, byEvent('child.running', 'web'))).toBeLessThan(indexOf(run.events, byEvent('child.ready', 'web')));
    await run.signal('SIGTERM');
    expect((await within(run.done, 60_000, 'supervisor exit')).code).toBe(0);
  });

  it('readiness flips to not_ready when the program stops answering 200, and back', async () => {
    const port = await freePort();
    const state = tempDir();
    const config = writeConfig(`
programs:
  web:
    command: [node, ${SERVER}]
    env: { PORT: ${port}, STATE_DIR: ${state} }
    health:
      readiness: { http: "http://127.0.0.1:${port}/ready", period: 200ms, failure_threshold: 2, success_threshold: 2 }
`);
    const run = startInit(['-c', config]);
    await run.waitFor(byEvent('child.ready', 'web'), 60_000);
    writeFileSync(join(state, 'unready'), '');
    const notReady = await run.waitFor(byEvent('child.not_ready', 'web'), 60_000);
    expect(notReady).toMatchObject({ reason: 'probe_failed', failures: 2, error: 'status 503', output: 'warming up', check: 'http' });
    rmSync(join(state, 'unready'));
    await run.waitForCount(byEvent('child.ready', 'web'), 2, 60_000);
    // Readiness alone never restarts a program.
    expect(run.events.filter(byEvent('child.spawn', 'web'))).toHaveLength(1);
    expect(run.events.filter(byEvent('child.unhealthy'))).toEqual([]);
    await run.signal('SIGTERM');
    expect((await within(run.done, 60_000, 'supervisor exit')).code).toBe(0);
  });

  it('a log readiness probe: ready once the program prints a matching line', async () => {
    const config = writeConfig(`
programs:
  server:
    command: [sh, -c, "echo starting; sleep 1; echo 'accepting connections on 5432'; exec sleep 1000"]
    health:
      readiness: { log: "accepting connections" }
  client:
    command: [sleep, 1000]
    depends_on: { server: { condition: healthy } }
`);
    const run = startInit(['-c', config]);
    await run.waitFor(byEvent('child.spawn', 'client'), 60_000);
    const order = run.events.map((e) => (e.event === 'child.ready' ? 'ready' : e.raw === 'accepting connections on 5432' ? 'line' : e.raw === 'starting' ? 'starting' : e.event === 'child.spawn' && e.program === 'client' ? 'client' : undefined)).filter(Boolean);
    // The program's output still reaches stdout unchanged.
    expect(order).toEqual(['starting', 'line', 'ready', 'client']);
    await run.signal('SIGTERM');
    expect((await within(run.done, 60_000, 'supervisor exit')).code).toBe(0);
  });
});

describe('liveness', () => {
  it('a wedged program (alive, /live never answers) is restarted with child.unhealthy', async () => {
    const port = await freePort();
    const state = tempDir();
    const config = writeConfig(`
programs:
  web:
    command: [node, ${SERVER}]
    env: { PORT: ${port}, STATE_DIR: ${state} }
    backoff: { initial: 100ms }
    health:
      # Liveness only once it listens, however slowly node starts on a loaded machine.
      startup: { tcp: ${port}, period: 200ms, failure_threshold: 1000 }
      liveness: { http: "http://127.0.0.1:${port}/live", period: 300ms, timeout: 500ms, failure_threshold: 2 }
`);
    const run = startInit(['-c', config]);
    const first = await run.waitFor(byEvent('child.spawn', 'web'), 60_000);
    // Healthy for a while: passing probes do nothing.
    await run.waitFor((e) => e.raw === `listening ${port}`, 60_000);
    writeFileSync(join(state, 'wedged'), '');
    const unhealthy = await run.waitFor(byEvent('child.unhealthy', 'web'), 60_000);
    rmSync(join(state, 'wedged'));
    expect(unhealthy).toMatchObject({ level: 'error', pid: first.pid, probe: 'liveness', check: 'http', failures: 2, error: 'timeout' });
    const stop = await run.waitFor(byEvent('child.stop', 'web'), 30_000);
    expect(stop).toMatchObject({ pid: first.pid, reason: 'unhealthy', signal: 'SIGTERM' });
    const exit = await run.waitFor(byEvent('child.exit', 'web'), 30_000);
    expect(exit).toMatchObject({ expected: true, stop_reason: 'unhealthy' });
    const again = await run.waitFor((e) => e.event === 'child.spawn' && e.program === 'web' && e.restarts === 1, 60_000);
    expect(again.pid).not.toBe(first.pid);
    await run.signal('SIGTERM');
    expect((await within(run.done, 60_000, 'supervisor exit')).code).toBe(0);
    expect(run.events.filter(byEvent('child.unhealthy'))).toHaveLength(1);
  });

  it('an exec probe that hangs is SIGKILLed with its process group at its timeout: nothing left, no zombie', async () => {
    const config = writeConfig(`
programs:
  stuck:
    command: [sleep, 1000]
    restart: never
    health:
      liveness: { exec: [sh, -c, "sleep 997 & sleep 998; echo never"], timeout: 500ms, period: 700ms, failure_threshold: 2 }
  keeper:
    command: [sleep, 1001]
`);
    const run = startInit(['-c', config]);
    const pid = await run.supervisorPid();
    const unhealthy = await run.waitFor(byEvent('child.unhealthy', 'stuck'), 60_000);
    expect(unhealthy).toMatchObject({ probe: 'liveness', check: 'exec', failures: 2, error: 'timeout' });
    expect(unhealthy.output).toBeUndefined();
    await run.waitFor(byEvent('child.exit', 'stuck'), 30_000);
    // Both sleeps (the probe's shell's child and its background child) would live 16 minutes: only the group kill ends them.
    await until(() => !commandLines(pid).some((c) => /sleep 99[78]/.test(c)), `the probe's processes gone (now: ${commandLines(pid).join(' | ')})`, 30_000);
    await until(() => zombiesUnder(pid).length === 0, `no zombie under the supervisor (now: ${zombiesUnder(pid).join(' ')})`, 30_000);
    expect(commandLines(pid).some((c) => c.includes('sleep 1001'))).toBe(true);
    await run.signal('SIGTERM');
    expect((await within(run.done, 60_000, 'supervisor exit')).code).toBe(0);
  });
});

describe('startup probe, stops and shutdowns', () => {
  it('liveness waits for the startup probe to succeed, then runs (and here fails: a restart)', async () => {
    const state = tempDir();
    const config = writeConfig(`
programs:
  slow:
    command: [sleep, 1000]
    restart: never
    health:
      startup: { exec: [sh, -c, "echo s >> ${state}/startup; test -f ${state}/go"], period: 100ms, failure_threshold: 1000 }
      liveness: { exec: [sh, -c, "echo l >> ${state}/liveness; exit 1"], period: 100ms, failure_threshold: 1 }
  keeper:
    command: [sleep, 1000]
`);
    const run = startInit(['-c', config]);
    const count = (f: string) => {
      try {
        return readFileSync(join(state, f), 'utf8').split('\n').filter(Boolean).length;
      } catch {
        return 0;
      }
    };
    await until(() => count('startup') >= 3, 'three startup probes', 60_000);
    expect(count('liveness')).toBe(0);
    expect(run.events.filter(byEvent('child.unhealthy'))).toEqual([]);
    writeFileSync(join(state, 'go'), '');
    const unhealthy = await run.waitFor(byEvent('child.unhealthy', 'slow'), 60_000);
    expect(unhealthy).toMatchObject({ probe: 'liveness', check: 'exec', failures: 1, error: 'exit 1' });
    expect(count('liveness')).toBeGreaterThan(0);
    await run.signal('SIGTERM');
    expect((await within(run.done, 60_000, 'supervisor exit')).code).toBe(0);
  });

  it('no probe runs while a program is being stopped in a shutdown', async () => {
    const state = tempDir();
    const config = writeConfig(`
programs:
  stubborn:
    command: [sh, -c, "trap '' TERM; while :; do sleep 0.1; done"]
    stop_grace: 2s
    health:
      readiness: { exec: [sh, -c, "echo r >> ${state}/probes"], period: 100ms }
`);
    const run = startInit(['-c', config]);
    await run.waitFor(byEvent('child.ready', 'stubborn'), 60_000);
    await run.signal('SIGTERM');
    await run.waitFor(byEvent('child.stop', 'stubborn'), 60_000);
    const atStop = readFileSync(join(state, 'probes'), 'utf8');
    await run.waitFor(byEvent('child.exit', 'stubborn'), 60_000);
    expect(run.events.find(byEvent('child.kill', 'stubborn'))).toMatchObject({ reason: 'stop_grace_expired' });
    expect(readFileSync(join(state, 'probes'), 'utf8')).toBe(atStop);
    expect((await within(run.done, 60_000, 'supervisor exit')).code).toBe(0);
  });
});

describe('depends_on: completed_successfully and started', () => {
  it('an init job that exits 0 lets its dependent start; one that fails blocks it', async () => {
    const config = writeConfig(`
programs:
  migrate:
    command: [sh, -c, "sleep 0.5; exit 0"]
    restart: never
  bad-migrate:
    command: [sh, -c, "exit 3"]
    restart: never
  app:
    command: [sleep, 1000]
    depends_on: { migrate: { condition: completed_successfully } }
  blocked-app:
    command: [sleep, 1000]
    depends_on: { bad-migrate: { condition: completed_successfully } }
  side:
    command: [sleep, 1000]
    start_secs: 1h
  early:
    command: [sleep, 1000]
    depends_on: { side: { condition: started } }
`);
    const run = startInit(['-c', config]);
    await run.waitFor(byEvent('child.spawn', 'app'), 60_000);
    expect(indexOf(run.events, byEvent('child.exit', 'migrate'))).toBeLessThan(indexOf(run.events, byEvent('child.spawn', 'app')));
    expect(await run.waitFor(byEvent('child.blocked', 'blocked-app'), 60_000)).toMatchObject({ dependency: 'bad-migrate', condition: 'completed_successfully' });
    // `started`: no need to wait for side's start_secs (an hour).
    await run.waitFor(byEvent('child.spawn', 'early'), 60_000);
    expect(run.events.filter(byEvent('child.running', 'side'))).toEqual([]);
    await run.signal('SIGTERM');
    expect((await within(run.done, 60_000, 'supervisor exit')).code).toBe(0);
    expect(run.events.filter(byEvent('child.spawn', 'blocked-app'))).toEqual([]);
  });
});
