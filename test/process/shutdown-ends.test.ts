// A shutdown always ends, against programs that make it hard: a "pid hopper"
// (ignores SIGTERM, leaves its group with setsid, forks and exits without end)
// as a program's descendant when shutdown_timeout fires, and as a leftover after
// the program exits; a program stopped with SIGSTOP; a dependent that ignores its
// stop signal while its dependency waits. Whether any hopper process is still
// alive is read from a FIFO every generation holds open (EOF = none is left), a
// side channel that does not depend on pids.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { byEvent, FIXTURES, hostDescendantsOf, killAllRuns, procState, startInit, tempDir, writeConfig } from '../helpers/init.js';
import { lines, sleep, until, within } from './support.js';

const HOPPER = join(FIXTURES, 'hopper.py');
const RECORDER = join(FIXTURES, 'signal-recorder.mjs');
const ready = (tag: string) => (e: Record<string, unknown>) => e.fixture === 'ready' && e.tag === tag;

interface Fifo {
  path: string;
  /** True while some process holds the write end (a hopper generation is alive). */
  writersAlive(): boolean;
}

const cleanups: Array<() => void> = [];

/** A FIFO whose read end the test holds, non-blocking: EOF means no writer is left. */
function fifo(dir: string): Fifo {
  const path = join(dir, 'hopper.fifo');
  execFileSync('mkfifo', [path]);
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  cleanups.push(() => {
    killByMarker(path);
    closeSync(fd);
  });
  return {
    path,
    writersAlive() {
      try {
        return readSync(fd, Buffer.alloc(64)) > 0;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return true;
        throw e;
      }
    },
  };
}

/** Test cleanup after a failure: SIGSTOP every host process whose command line holds `marker` until all are stopped, then SIGKILL. */
function killByMarker(marker: string): void {
  const find = () =>
    readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(marker);
        } catch {
          return false;
        }
      });
  for (let i = 0; i < 200; i++) {
    const pids = find();
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGSTOP');
      } catch {
        // gone
      }
    }
    if (pids.every((p) => procState(p) === 'T' || procState(p) === 'Z' || procState(p) === undefined)) {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  }
}

afterEach(async () => {
  await killAllRuns();
  for (const c of cleanups.splice(0)) c();
});

const hopperCommand = (f: Fifo, ...extra: string[]) => JSON.stringify(['python3', HOPPER, f.path, ...extra]);

describe('the final kill ends a pid hopper', () => {
  it('as PID 1: shutdown_timeout (2s) with the program and its hopper ignoring SIGTERM; the kill loop ends the hopper, the supervisor exits', async () => {
    const dir = tempDir();
    const f = fifo(dir);
    const config = writeConfig(`
shutdown_timeout: 2s
programs:
  hop:
    command: ${hopperCommand(f)}
    stop_grace: 60s
    start_secs: 0
`, dir);
    const run = startInit(['-c', config]);
    await run.waitFor(ready('hopper'), 30_000);
    await sleep(300); // let it hop a while
    expect(f.writersAlive()).toBe(true);
    await run.signal('SIGTERM');
    await run.waitFor(byEvent('descendants.killed'), 45_000);
    // The summary is written once a round found nothing alive: no generation holds the FIFO any more.
    expect(f.writersAlive()).toBe(false);
    const { code } = await within(run.done, 45_000, 'supervisor exit');
    expect(code).toBe(0);
    expect(run.events.find(byEvent('child.kill', 'hop'))).toMatchObject({ reason: 'shutdown_timeout' });
    expect(run.events.filter(byEvent('descendants.stop'))).toEqual([expect.objectContaining({ signal: 'SIGKILL', reason: 'shutdown_timeout' })]);
    const summary = run.events.find(byEvent('descendants.killed'))!;
    expect(summary).toMatchObject({ reason: 'shutdown_timeout', left: 0 });
    expect(summary.killed as number).toBeGreaterThanOrEqual(1);
    expect(run.events.find(byEvent('supervisor.exit'))).toMatchObject({ code: 0, forced: true });
    const names = run.events.map((e) => e.event);
    expect(names.indexOf('descendants.killed')).toBeLessThan(names.indexOf('supervisor.exit'));
  });

  it('as PID 1: the hopper as a leftover of a normal shutdown: SIGTERM and SIGCONT, then the final kill after the leftover grace', async () => {
    const dir = tempDir();
    const f = fifo(dir);
    const config = writeConfig(`
programs:
  hop:
    command: ${hopperCommand(f, '--main-exits-on-term')}
    start_secs: 0
`, dir);
    const run = startInit(['-c', config]);
    await run.waitFor(ready('hopper'), 30_000);
    expect(f.writersAlive()).toBe(true);
    await run.signal('SIGTERM');
    await run.waitFor(byEvent('descendants.killed'), 45_000);
    expect(f.writersAlive()).toBe(false);
    const { code } = await within(run.done, 45_000, 'supervisor exit');
    expect(code).toBe(0);
    expect(run.events.find(byEvent('child.exit', 'hop'))).toMatchObject({ code: 0, expected: true });
    expect(run.events.filter(byEvent('descendants.stop')).map((e) => [e.signal, e.reason])).toEqual([
      ['SIGTERM', undefined],
      ['SIGKILL', 'leftover_grace_expired'],
    ]);
    expect(run.events.find(byEvent('descendants.killed'))).toMatchObject({ reason: 'leftover_grace_expired', left: 0 });
    expect(run.events.find(byEvent('supervisor.exit'))).toMatchObject({ code: 0, forced: false });
  });

  it('single-command mode as PID 1: the command exits on the relayed SIGTERM, its hopper is killed before the supervisor exits', async () => {
    const dir = tempDir();
    const f = fifo(dir);
    const run = startInit(['--log-level', 'info', '--', 'python3', HOPPER, f.path, '--main-exits-on-term']);
    await run.waitFor(ready('hopper'), 30_000);
    await run.signal('SIGTERM');
    await run.waitFor(byEvent('descendants.killed'), 45_000);
    expect(f.writersAlive()).toBe(false);
    const { code } = await within(run.done, 45_000, 'supervisor exit');
    expect(code).toBe(0);
    expect(run.events.find(byEvent('descendants.killed'))).toMatchObject({ left: 0 });
  });

  it('not PID 1 (subreaper, so a survivor would stay on the host): after the supervisor exits, no hopper process is left anywhere', async () => {
    const dir = tempDir();
    const f = fifo(dir);
    const config = writeConfig(`
shutdown_timeout: 3s
programs:
  hop:
    command: ${hopperCommand(f, '--main-exits-on-term')}
    start_secs: 0
`, dir);
    const run = startInit(['-c', config], { pid1: false });
    await run.waitFor(ready('hopper'), 30_000);
    expect(f.writersAlive()).toBe(true);
    await run.signal('SIGTERM');
    const { code } = await within(run.done, 45_000, 'supervisor exit');
    expect(code).toBe(0);
    // No PID namespace to take the hopper down with the supervisor: this is the kill loop's own doing.
    expect(f.writersAlive()).toBe(false);
    expect(run.events.find(byEvent('descendants.killed'))).toMatchObject({ left: 0 });
  });
});

describe('stop signals reach stopped programs and come in time', () => {
  it('a SIGSTOPped program gets SIGCONT after its stop signal and exits by itself, not by SIGKILL', async () => {
    const dir = tempDir();
    const out = join(dir, 'signals.txt');
    const config = writeConfig(`
shutdown_timeout: 120s
programs:
  app:
    command: ${JSON.stringify([process.execPath, RECORDER, '--out', out, '--tag', 'app', '--exit-on', 'SIGTERM'])}
    stop_grace: 60s
    start_secs: 0
`, dir);
    const run = startInit(['-c', config]);
    await run.waitFor(ready('app'));
    const [pid] = hostDescendantsOf(await run.supervisorPid());
    process.kill(pid!, 'SIGSTOP');
    await until(() => procState(pid!) === 'T', 'the program to be stopped');
    await run.signal('SIGTERM');
    // Well before the 60 s stop_grace: only SIGCONT lets it run its SIGTERM handler.
    const { code } = await within(run.done, 45_000, 'supervisor exit');
    expect(code).toBe(0);
    expect(lines(out)).toContain('app SIGTERM');
    expect(run.events.find(byEvent('child.exit', 'app'))).toMatchObject({ code: 0, signal: null, expected: true });
    expect(run.events.filter(byEvent('child.kill'))).toEqual([]);
  });

  it('a program gets its stop signal at shutdown_timeout minus its stop_grace while its dependent still ignores SIGTERM', async () => {
    const dir = tempDir();
    const out = join(dir, 'signals.txt');
    const config = writeConfig(`
shutdown_timeout: 4s
programs:
  db:
    command: ${JSON.stringify([process.execPath, RECORDER, '--out', out, '--tag', 'db', '--exit-on', 'SIGTERM'])}
    stop_grace: 1s
    start_secs: 0
  web:
    command: ${JSON.stringify([process.execPath, RECORDER, '--out', out, '--tag', 'web'])}
    depends_on: [db]
    stop_grace: 60s
    start_secs: 0
`, dir);
    const run = startInit(['-c', config]);
    await Promise.all([run.waitFor(ready('db')), run.waitFor(ready('web'))]);
    await run.signal('SIGTERM');
    const { code } = await within(run.done, 45_000, 'supervisor exit');
    expect(code).toBe(0);
    expect(run.events.filter(byEvent('child.stop')).map((e) => [e.program, e.reason])).toEqual([
      ['web', 'shutdown'],
      ['db', 'shutdown_budget'],
    ]);
    // db handled its SIGTERM itself while web was still running; web was killed at shutdown_timeout.
    expect(lines(out)).toContain('db SIGTERM');
    expect(run.events.find(byEvent('child.exit', 'db'))).toMatchObject({ code: 0, signal: null });
    const names = run.events.map((e) => `${e.event} ${e.program}`);
    expect(names.indexOf('child.exit db')).toBeLessThan(names.indexOf('child.exit web'));
    expect(run.events.find(byEvent('child.kill', 'web'))).toMatchObject({ reason: 'shutdown_timeout' });
    expect(run.events.find(byEvent('child.exit', 'web'))).toMatchObject({ signal: 'SIGKILL' });
  });
});
