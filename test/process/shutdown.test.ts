// Graceful shutdown on SIGTERM in config mode: programs stop in reverse
// dependency order, each with its stop_signal; stop_grace ends in SIGKILL;
// leftover descendants (even in their own session) get a graceful SIGTERM
// before the supervisor exits; a second SIGTERM SIGKILLs everything.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { byEvent, FIXTURES, killAllRuns, procState, startInit, tempDir, writeConfig } from '../helpers/init.js';
import { lines, until, within } from './support.js';

afterEach(killAllRuns);

const RECORDER = join(FIXTURES, 'signal-recorder.mjs');
const ready = (tag: string) => (e: Record<string, unknown>) => e.fixture === 'ready' && e.tag === tag;
const recorder = (out: string, tag: string, ...extra: string[]) => JSON.stringify([process.execPath, RECORDER, '--out', out, '--tag', tag, ...extra]);

describe('graceful shutdown', () => {
  it('stops programs in reverse dependency order (c, then b, then a)', async () => {
    const dir = tempDir();
    const out = join(dir, 'stops.txt');
    // Listed out of order on purpose: the order comes from depends_on.
    const config = writeConfig(`
programs:
  c:
    command: ${recorder(out, 'c', '--exit-on', 'SIGTERM')}
    depends_on: [b]
    start_secs: 0
  a:
    command: ${recorder(out, 'a', '--exit-on', 'SIGTERM')}
    start_secs: 0
  b:
    command: ${recorder(out, 'b', '--exit-on', 'SIGTERM')}
    depends_on: [a]
    start_secs: 0
`, dir);
    const run = startInit(['-c', config]);
    await Promise.all(['a', 'b', 'c'].map((t) => run.waitFor(ready(t))));
    expect(run.events.filter(byEvent('child.spawn')).map((e) => e.program)).toEqual(['a', 'b', 'c']);
    await run.signal('SIGTERM');
    const { code } = await within(run.done, 60_000, 'supervisor exit');
    expect(code).toBe(0);
    // SIGCONT follows each stop signal; Node may run its handler first (another thread took it) or not at all (exited).
    const stops = lines(out).filter((l) => !l.endsWith(' SIGCONT'));
    expect(stops).toEqual(['c SIGTERM', 'b SIGTERM', 'a SIGTERM']);
    expect(run.events.filter(byEvent('child.stop')).map((e) => [e.program, e.signal, e.reason])).toEqual([
      ['c', 'SIGTERM', 'shutdown'],
      ['b', 'SIGTERM', 'shutdown'],
      ['a', 'SIGTERM', 'shutdown'],
    ]);
    // Each program is stopped only once the one that depends on it has exited.
    const order = run.events.filter((e) => e.event === 'child.stop' || e.event === 'child.exit').map((e) => `${e.event} ${e.program}`);
    expect(order).toEqual(['child.stop c', 'child.exit c', 'child.stop b', 'child.exit b', 'child.stop a', 'child.exit a']);
    expect(run.events.find(byEvent('supervisor.exit'))).toMatchObject({ code: 0, reason: 'signal', forced: false });
  });

  it('sends a program its stop_signal (SIGUSR2), not SIGTERM', async () => {
    const dir = tempDir();
    const out = join(dir, 'stops.txt');
    const config = writeConfig(`
programs:
  usr2:
    command: ${recorder(out, 'usr2', '--exit-on', 'SIGUSR2')}
    stop_signal: SIGUSR2
    start_secs: 0
`, dir);
    const run = startInit(['-c', config]);
    await run.waitFor(ready('usr2'));
    await run.signal('SIGTERM');
    const { code } = await within(run.done, 60_000, 'supervisor exit');
    expect(code).toBe(0);
    expect(lines(out).filter((l) => !l.endsWith(' SIGCONT'))).toEqual(['usr2 SIGUSR2']);
    expect(run.events.find(byEvent('child.stop', 'usr2'))).toMatchObject({ signal: 'SIGUSR2' });
    expect(run.events.find(byEvent('child.exit', 'usr2'))).toMatchObject({ code: 0, expected: true });
    expect(run.events.filter(byEvent('child.kill'))).toEqual([]);
  });

  it('SIGKILLs a program that ignores SIGTERM once stop_grace (1s) expires, then exits 0', async () => {
    const dir = tempDir();
    const out = join(dir, 'stops.txt');
    const config = writeConfig(`
programs:
  stubborn:
    command: ${recorder(out, 'stubborn')}
    stop_grace: 1s
    start_secs: 0
`, dir);
    const run = startInit(['-c', config]);
    await run.waitFor(ready('stubborn'));
    await run.signal('SIGTERM');
    const { code } = await within(run.done, 60_000, 'supervisor exit');
    expect(code).toBe(0);
    // The stop signal and SIGCONT (which wakes a stopped program; this one just records it).
    expect([...lines(out)].sort()).toEqual(['stubborn SIGCONT', 'stubborn SIGTERM']);
    expect(run.events.find(byEvent('child.kill', 'stubborn'))).toMatchObject({ reason: 'stop_grace_expired' });
    expect(run.events.find(byEvent('child.exit', 'stubborn'))).toMatchObject({ signal: 'SIGKILL', status: 137, expected: true });
    const names = run.events.map((e) => e.event);
    expect(names.indexOf('child.stop')).toBeLessThan(names.indexOf('child.kill'));
    expect(names.indexOf('child.kill')).toBeLessThan(names.indexOf('child.exit'));
    expect(run.events.find(byEvent('supervisor.exit'))).toMatchObject({ code: 0, forced: false });
  });

  it('leaves nothing running: a grandchild in its own session gets a graceful SIGTERM before PID 1 exits', async () => {
    const dir = tempDir();
    const marker = join(dir, 'grandchild-got-sigterm');
    const config = writeConfig(`
programs:
  escapee:
    command: ${JSON.stringify([process.execPath, join(FIXTURES, 'escapee.mjs'), marker])}
    start_secs: 0
`, dir);
    const run = startInit(['-c', config]);
    await Promise.all([run.waitFor(ready('program')), run.waitFor(ready('grandchild'))]);
    await run.signal('SIGTERM');
    const { code } = await within(run.done, 60_000, 'supervisor exit');
    expect(code).toBe(0);
    expect(existsSync(marker)).toBe(true);
    expect(readFileSync(marker, 'utf8')).toMatch(/^SIGTERM /);
    const stops = run.events.filter(byEvent('descendants.stop'));
    expect(stops).toHaveLength(1);
    expect(stops[0]).toMatchObject({ signal: 'SIGTERM', count: 1 });
    const names = run.events.map((e) => e.event);
    expect(names.indexOf('child.exit')).toBeLessThan(names.indexOf('descendants.stop'));
    expect(run.events.find(byEvent('supervisor.exit'))).toMatchObject({ code: 0, forced: false });
  });

  it('not PID 1: a leftover grandchild that ignores SIGTERM gets SIGKILL after the leftover grace and is gone', async () => {
    const dir = tempDir();
    const marker = join(dir, 'grandchild-got-sigterm');
    const config = writeConfig(`
programs:
  escapee:
    command: ${JSON.stringify([process.execPath, join(FIXTURES, 'escapee.mjs'), marker, '--stubborn'])}
    start_secs: 0
`, dir);
    const run = startInit(['-c', config], { pid1: false });
    const [, grandchild] = await Promise.all([run.waitFor(ready('program')), run.waitFor(ready('grandchild'))]);
    // Not in a PID namespace: the pid printed is the host pid.
    const gpid = grandchild.pid as number;
    expect(procState(gpid)).toBeDefined();
    await run.signal('SIGTERM');
    const { code } = await within(run.done, 60_000, 'supervisor exit');
    expect(code).toBe(0);
    expect(readFileSync(marker, 'utf8')).toMatch(/^SIGTERM /);
    expect(run.events.filter(byEvent('descendants.stop')).map((e) => [e.signal, e.count, e.reason])).toEqual([
      ['SIGTERM', 1, undefined],
      ['SIGKILL', 1, 'leftover_grace_expired'],
    ]);
    // Nothing the supervisor started outlives it (no PID namespace to clean up after it here).
    expect(procState(gpid)).toBeUndefined();
    expect(run.events.find(byEvent('supervisor.exit'))).toMatchObject({ code: 0 });
  });

  it('SIGINT in config mode is a graceful shutdown too: programs get their stop_signal, exit 0', async () => {
    const dir = tempDir();
    const out = join(dir, 'stops.txt');
    const config = writeConfig(`
programs:
  app:
    command: ${recorder(out, 'app', '--exit-on', 'SIGTERM')}
    start_secs: 0
`, dir);
    const run = startInit(['-c', config]);
    await run.waitFor(ready('app'));
    await run.signal('SIGINT');
    const { code } = await within(run.done, 60_000, 'supervisor exit');
    expect(code).toBe(0);
    expect(lines(out).filter((l) => !l.endsWith(' SIGCONT'))).toEqual(['app SIGTERM']);
    expect(run.events.find(byEvent('supervisor.shutdown'))).toMatchObject({ reason: 'signal', signal: 'SIGINT' });
  });

  it('shutdown_timeout SIGKILLs what is still running (stop_grace 60s, shutdown_timeout 1s)', async () => {
    const dir = tempDir();
    const out = join(dir, 'stops.txt');
    const config = writeConfig(`
shutdown_timeout: 1s
programs:
  stubborn:
    command: ${recorder(out, 'stubborn')}
    stop_grace: 60s
    start_secs: 0
`, dir);
    const run = startInit(['-c', config]);
    await run.waitFor(ready('stubborn'));
    await run.signal('SIGTERM');
    const { code } = await within(run.done, 45_000, 'supervisor exit');
    expect(code).toBe(0);
    expect(run.events.find(byEvent('child.kill', 'stubborn'))).toMatchObject({ reason: 'shutdown_timeout' });
    expect(run.events.find(byEvent('child.exit', 'stubborn'))).toMatchObject({ signal: 'SIGKILL', status: 137 });
    expect(run.events.find(byEvent('supervisor.exit'))).toMatchObject({ code: 0, forced: true });
  });

  it('a second SIGTERM during the shutdown SIGKILLs everything at once', async () => {
    const dir = tempDir();
    const out = join(dir, 'stops.txt');
    const config = writeConfig(`
programs:
  stubborn:
    command: ${recorder(out, 'stubborn', '--member')}
    stop_grace: 60s
    start_secs: 0
`, dir);
    const run = startInit(['-c', config]);
    await Promise.all([run.waitFor(ready('stubborn')), run.waitFor(ready('stubborn-member'))]);
    await run.signal('SIGTERM');
    await run.waitFor(byEvent('child.stop', 'stubborn'));
    // The whole group got (and ignored) the first SIGTERM, and the SIGCONT after it.
    await until(() => lines(out).length === 4, 'both processes to record the first SIGTERM and SIGCONT');
    await run.signal('SIGTERM');
    // Well before the 60 s stop_grace.
    const { code } = await within(run.done, 45_000, 'supervisor exit after the second SIGTERM');
    expect(code).toBe(0);
    expect([...lines(out)].sort()).toEqual(['stubborn SIGCONT', 'stubborn SIGTERM', 'stubborn-member SIGCONT', 'stubborn-member SIGTERM']);
    const kill = run.events.find(byEvent('child.kill', 'stubborn'));
    expect(kill?.reason).toMatch(/second SIGTERM/);
    expect(run.events.find(byEvent('child.exit', 'stubborn'))).toMatchObject({ signal: 'SIGKILL', status: 137 });
    expect(run.events.filter(byEvent('supervisor.signal')).map((e) => e.signal)).toEqual(['SIGTERM', 'SIGTERM']);
    expect(run.events.find(byEvent('supervisor.exit'))).toMatchObject({ code: 0, forced: true });
  });
});
