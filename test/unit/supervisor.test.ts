// The supervisor loop with fake processes and fake timers: start order by
// dependencies, blocked programs, shutdown in reverse order, exit codes.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Supervisor, type ProcessOps } from '../../src/supervision/supervisor.js';
import type { EventFields, EventName } from '../../src/logging/events.js';
import type { ChildExit, SpawnCallbacks } from '../../src/process/spawn.js';
import type { ProgramPlan } from '../../src/plan/types.js';
import { programPlan, supervisorPlan } from '../helpers/plan.js';
import { nullSink } from '../../src/logging/sink.js';

interface FakeChild {
  name: string;
  pid: number;
  signals: NodeJS.Signals[];
  cb: SpawnCallbacks;
  exit(e: ChildExit): void;
}

function harness(programs: ProgramPlan[], singleCommand = false) {
  const children: FakeChild[] = [];
  const events: Array<{ event: EventName; fields: EventFields }> = [];
  let nextPid = 100;
  let exitCode: number | undefined;
  const ops: ProcessOps = {
    spawn(plan, _sinks, cb) {
      const child: FakeChild = {
        name: plan.name,
        pid: nextPid++,
        signals: [],
        cb,
        exit: (e) => cb.onExit(e),
      };
      children.push(child);
      return { pid: child.pid, signal: (sig) => (child.signals.push(sig), true) };
    },
    descendants: () => [],
    kill: () => true,
    reapNow: () => {},
  };
  const sup = new Supervisor(supervisorPlan(programs, { singleCommand }), { remapToZero: new Set() }, {
    events: { emit: (event, fields) => events.push({ event, fields }) },
    sinks: { stdout: nullSink(), stderr: nullSink() },
    ops,
    now: () => Date.now(),
    exit: (code) => (exitCode = code),
  });
  const live = (name: string) => children.filter((c) => c.name === name).at(-1)!;
  return { sup, children, events, live, exitCode: () => exitCode, names: (ev: EventName) => events.filter((e) => e.event === ev).map((e) => e.fields.program) };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('Supervisor', () => {
  it('starts a program only once its dependencies are running', () => {
    const h = harness([programPlan({ name: 'db', startSecsMs: 1000 }), programPlan({ name: 'web', startAfter: ['db'] })]);
    h.sup.start();
    expect(h.children.map((c) => c.name)).toEqual(['db']);
    vi.advanceTimersByTime(999);
    expect(h.children.map((c) => c.name)).toEqual(['db']);
    vi.advanceTimersByTime(1);
    expect(h.children.map((c) => c.name)).toEqual(['db', 'web']);
  });

  it('a dependency that fails for good blocks its dependents; the supervisor ends with the failure', () => {
    const h = harness([
      programPlan({ name: 'migrate', restart: 'never', onExit: { action: 'continue' } }),
      programPlan({ name: 'web', startAfter: ['migrate'] }),
    ]);
    h.sup.start();
    h.live('migrate').exit({ code: 3, signal: null });
    expect(h.names('child.blocked')).toEqual(['web']);
    expect(h.children.map((c) => c.name)).toEqual(['migrate']);
    expect(h.exitCode()).toBe(3); // every program ended: the last status
  });

  it('a one-shot dependency that exits 0 lets its dependents start', () => {
    const h = harness([programPlan({ name: 'migrate', restart: 'on-failure' }), programPlan({ name: 'web', startAfter: ['migrate'] })]);
    h.sup.start();
    h.live('migrate').exit({ code: 0, signal: null });
    expect(h.children.map((c) => c.name)).toEqual(['migrate', 'web']);
  });

  it('shuts down dependents first, each after the one that depends on it has exited; exit 0', () => {
    const h = harness([
      programPlan({ name: 'a', startSecsMs: 0 }),
      programPlan({ name: 'b', startSecsMs: 0, startAfter: ['a'], stopSignal: 'SIGINT' }),
      programPlan({ name: 'c', startSecsMs: 0, startAfter: ['b'] }),
    ]);
    h.sup.start();
    expect(h.children.map((c) => c.name)).toEqual(['a', 'b', 'c']);
    h.sup.requestShutdown('SIGTERM');
    expect(h.names('child.stop')).toEqual(['c']);
    h.live('c').exit({ code: 0, signal: null });
    expect(h.names('child.stop')).toEqual(['c', 'b']);
    expect(h.live('b').signals).toEqual(['SIGINT']);
    h.live('b').exit({ code: 0, signal: null });
    h.live('a').exit({ code: null, signal: 'SIGTERM' });
    vi.advanceTimersByTime(100); // the descendants drain tick
    expect(h.exitCode()).toBe(0);
    expect(h.events.at(-1)?.event).toBe('supervisor.exit');
  });

  it('stop grace then SIGKILL; the shutdown timeout SIGKILLs everything left', () => {
    const h = harness([programPlan({ name: 'stubborn', startSecsMs: 0, stopGraceMs: 5000 })]);
    h.sup.start();
    h.sup.requestShutdown('SIGTERM');
    vi.advanceTimersByTime(5000);
    expect(h.live('stubborn').signals).toEqual(['SIGTERM', 'SIGKILL']);
  });

  it('a second SIGTERM SIGKILLs at once', () => {
    const h = harness([programPlan({ name: 'slow', startSecsMs: 0, stopGraceMs: 60_000 })]);
    h.sup.start();
    h.sup.requestShutdown('SIGTERM');
    h.sup.requestShutdown('SIGTERM');
    expect(h.live('slow').signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(h.events.find((e) => e.event === 'child.kill')?.fields.reason).toBe('second SIGTERM');
  });

  it('on_fatal shutdown exits with the action code', () => {
    const h = harness([
      programPlan({ name: 'crashy', startSecsMs: 0, backoff: { initialMs: 10, factor: 1, maxMs: 10, resetAfterMs: 60_000 }, crashLoop: { maxRestarts: 2, windowMs: 60_000 }, onFatal: { action: 'shutdown', exitCode: 9 } }),
      programPlan({ name: 'other', startSecsMs: 0 }),
    ]);
    h.sup.start();
    for (let i = 0; i < 3; i++) {
      h.live('crashy').exit({ code: 1, signal: null });
      vi.advanceTimersByTime(10);
    }
    expect(h.names('child.fatal')).toEqual(['crashy']);
    h.live('other').exit({ code: 0, signal: null });
    vi.advanceTimersByTime(100);
    expect(h.exitCode()).toBe(9);
  });

  it('single-command mode relays the shutdown signal and exits with the child status', () => {
    const h = harness([programPlan({ name: 'cmd', startSecsMs: 0, restart: 'never', onExit: { action: 'shutdown' } })], true);
    h.sup.start();
    h.sup.requestShutdown('SIGINT');
    expect(h.live('cmd').signals).toEqual(['SIGINT']);
    h.live('cmd').exit({ code: null, signal: 'SIGINT' });
    vi.advanceTimersByTime(100);
    expect(h.exitCode()).toBe(130);
  });

  it('memory stops may act only on a running program outside a shutdown', () => {
    const h = harness([programPlan({ name: 'w', startSecsMs: 0 })]);
    h.sup.start();
    expect(h.sup.isStoppable('w')).toBe(true);
    h.sup.stopForRestart('w', 'memory_cap', 1000);
    expect(h.sup.isStoppable('w')).toBe(false); // already stopping
    h.live('w').exit({ code: null, signal: 'SIGTERM' });
    vi.advanceTimersByTime(1000); // backoff over, running again
    expect(h.sup.isStoppable('w')).toBe(true);
    h.sup.requestShutdown('SIGTERM');
    expect(h.sup.isStoppable('w')).toBe(false);
  });

  it('forwards signals to running programs only', () => {
    const h = harness([programPlan({ name: 'x', startSecsMs: 0 }), programPlan({ name: 'y', startSecsMs: 0, restart: 'never' })]);
    h.sup.start();
    h.live('y').exit({ code: 0, signal: null });
    h.sup.forward('SIGHUP');
    expect(h.live('x').signals).toEqual(['SIGHUP']);
    expect(h.live('y').signals).toEqual([]);
  });
});
