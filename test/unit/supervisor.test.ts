// The supervisor loop with fake processes and fake timers: start order by
// dependencies, blocked programs, shutdown in reverse order, exit codes.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LEFTOVER_GRACE_MS, Supervisor, type ProcessOps } from '../../src/supervision/supervisor.js';
import { FINAL_KILL_BOUND_MS } from '../../src/supervision/shutdown-kill.js';
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

/**
 * Leftover descendants (not the programs' main processes): each has a name, and
 * what it does. `obeys`: SIGTERM ends it. `escapes`: it survives that many kill
 * rounds (a hopper slipping past), then dies. `unkillable`: no round ends it.
 */
interface Leftover {
  pid: number;
  /** The program whose run left it (ops.leftovers), if any. */
  owner?: string;
  obeys?: boolean;
  escapes?: number;
  unkillable?: boolean;
  signals: NodeJS.Signals[];
}

function harness(programs: ProgramPlan[], singleCommand = false, over: { shutdownTimeoutMs?: number } = {}) {
  const children: FakeChild[] = [];
  const events: Array<{ event: EventName; fields: EventFields }> = [];
  const leftovers: Leftover[] = [];
  let rounds = 0;
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
    descendants: () => leftovers.map((l) => l.pid),
    leftovers: (name) => leftovers.filter((l) => l.owner === name).map((l) => l.pid),
    kill(pid, sig) {
      const l = leftovers.find((x) => x.pid === pid);
      if (!l) return false;
      l.signals.push(sig);
      if ((sig === 'SIGTERM' && l.obeys) || (sig === 'SIGKILL' && !l.unkillable && !l.escapes)) leftovers.splice(leftovers.indexOf(l), 1);
      return true;
    },
    killRound() {
      rounds++;
      const killed = leftovers.map((l) => l.pid);
      for (const l of [...leftovers]) {
        l.signals.push('SIGSTOP', 'SIGKILL');
        if (l.unkillable) continue;
        if (l.escapes) {
          l.escapes--;
          l.pid += 1000; // it forked and exited: a new pid
          continue;
        }
        leftovers.splice(leftovers.indexOf(l), 1);
      }
      return { sweeps: 2, converged: true, killed };
    },
    reapNow: () => {},
  };
  const sup = new Supervisor(supervisorPlan(programs, { singleCommand, ...over }), { remapToZero: new Set() }, {
    events: { emit: (event, fields) => events.push({ event, fields }) },
    sinks: { stdout: nullSink(), stderr: nullSink() },
    ops,
    now: () => Date.now(),
    exit: (code) => (exitCode = code),
  });
  const live = (name: string) => children.filter((c) => c.name === name).at(-1)!;
  const leave = (l: Omit<Leftover, 'pid' | 'signals'>) => {
    const entry = { pid: nextPid++, signals: [], ...l };
    leftovers.push(entry);
    return entry;
  };
  const fields = (ev: EventName) => events.filter((e) => e.event === ev).map((e) => e.fields);
  return {
    sup,
    children,
    events,
    live,
    leave,
    leftovers,
    rounds: () => rounds,
    fields,
    exitCode: () => exitCode,
    names: (ev: EventName) => events.filter((e) => e.event === ev).map((e) => e.fields.program),
  };
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
    expect(h.live('b').signals).toEqual(['SIGINT', 'SIGCONT']);
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
    expect(h.live('stubborn').signals).toEqual(['SIGTERM', 'SIGCONT', 'SIGKILL']);
  });

  it('a second SIGTERM SIGKILLs at once', () => {
    const h = harness([programPlan({ name: 'slow', startSecsMs: 0, stopGraceMs: 60_000 })]);
    h.sup.start();
    h.sup.requestShutdown('SIGTERM');
    h.sup.requestShutdown('SIGTERM');
    expect(h.live('slow').signals).toEqual(['SIGTERM', 'SIGCONT', 'SIGKILL']);
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

describe('Supervisor shutdown budget: every program gets its stop signal before shutdown_timeout', () => {
  it('a program is stopped at shutdown_timeout minus its stop_grace even while a dependent ignores its own stop signal', () => {
    const h = harness(
      [programPlan({ name: 'db', startSecsMs: 0, stopGraceMs: 1000 }), programPlan({ name: 'web', startSecsMs: 0, startAfter: ['db'], stopGraceMs: 10_000 })],
      false,
      { shutdownTimeoutMs: 5000 },
    );
    h.sup.start();
    h.sup.requestShutdown('SIGTERM');
    expect(h.live('web').signals).toEqual(['SIGTERM', 'SIGCONT']);
    expect(h.live('db').signals).toEqual([]); // web (its dependent) is still alive
    vi.advanceTimersByTime(3999);
    expect(h.live('db').signals).toEqual([]);
    vi.advanceTimersByTime(1);
    // 5000 - 1000: db gets its stop signal with web still running, and its whole grace before the timeout.
    expect(h.live('db').signals).toEqual(['SIGTERM', 'SIGCONT']);
    expect(h.fields('child.stop').map((f) => [f.program, f.reason])).toEqual([
      ['web', 'shutdown'],
      ['db', 'shutdown_budget'],
    ]);
    h.live('db').exit({ code: 0, signal: null });
    vi.advanceTimersByTime(1000); // shutdown_timeout: web, which ignored SIGTERM, is killed
    expect(h.live('web').signals).toEqual(['SIGTERM', 'SIGCONT', 'SIGKILL']);
    expect(h.fields('child.kill')).toEqual([expect.objectContaining({ program: 'web', reason: 'shutdown_timeout' })]);
  });

  it('a dependent that exits in time keeps the usual order: the budget does not stop anything early', () => {
    const h = harness(
      [programPlan({ name: 'db', startSecsMs: 0, stopGraceMs: 1000 }), programPlan({ name: 'web', startSecsMs: 0, startAfter: ['db'] })],
      false,
      { shutdownTimeoutMs: 5000 },
    );
    h.sup.start();
    h.sup.requestShutdown('SIGTERM');
    vi.advanceTimersByTime(3000);
    h.live('web').exit({ code: 0, signal: null });
    expect(h.fields('child.stop').map((f) => [f.program, f.reason])).toEqual([
      ['web', 'shutdown'],
      ['db', 'shutdown'],
    ]);
  });

  it('a stop_grace as long as shutdown_timeout: the program is stopped at once, with its dependents', () => {
    const h = harness(
      [programPlan({ name: 'db', startSecsMs: 0, stopGraceMs: 30_000 }), programPlan({ name: 'web', startSecsMs: 0, startAfter: ['db'] })],
      false,
      { shutdownTimeoutMs: 25_000 },
    );
    h.sup.start();
    h.sup.requestShutdown('SIGTERM');
    expect(h.fields('child.stop').map((f) => [f.program, f.reason])).toEqual([
      ['web', 'shutdown'],
      ['db', 'shutdown_budget'],
    ]);
  });
});

describe('Supervisor leftovers and the final kill', () => {
  const oneProgram = () => {
    const h = harness([programPlan({ name: 'app', startSecsMs: 0 })]);
    h.sup.start();
    return h;
  };

  it('leftovers get SIGTERM then SIGCONT; one that obeys needs no kill', () => {
    const h = oneProgram();
    const l = h.leave({ obeys: true });
    h.sup.requestShutdown('SIGTERM');
    h.live('app').exit({ code: 0, signal: null });
    expect(l.signals).toEqual(['SIGTERM']); // it obeyed the SIGTERM at once (and was gone for the SIGCONT)
    vi.advanceTimersByTime(100);
    expect(h.exitCode()).toBe(0);
    expect(h.rounds()).toBe(0);
    expect(h.fields('descendants.stop')).toEqual([{ count: 1, signal: 'SIGTERM', grace_ms: LEFTOVER_GRACE_MS }]);
  });

  it("a run's leftovers, told to stop when it ended, get no second SIGTERM from the shutdown's drain and keep their stop_grace", () => {
    // Single-command mode: the command exits, its leftover ignores SIGTERM (some take a second one as "quit now").
    const h = harness([programPlan({ name: 'app', startSecsMs: 0, stopGraceMs: 8000, restart: 'never', onExit: { action: 'shutdown' } })], true);
    h.sup.start();
    const l = h.leave({ owner: 'app' });
    h.live('app').exit({ code: 0, signal: null });
    vi.advanceTimersByTime(100);
    expect(l.signals).toEqual(['SIGTERM', 'SIGCONT']);
    expect(h.fields('child.leftovers')).toEqual([expect.objectContaining({ count: 1, signal: 'SIGTERM', grace_ms: 8000 })]);
    expect(h.fields('descendants.stop')).toEqual([]);
    vi.advanceTimersByTime(LEFTOVER_GRACE_MS); // past the drain's own 5 s, inside the program's 8 s
    expect(l.signals).toEqual(['SIGTERM', 'SIGCONT']);
    vi.advanceTimersByTime(3000);
    expect(l.signals.filter((x) => x === 'SIGTERM')).toHaveLength(1);
    expect(l.signals).toContain('SIGKILL');
    vi.advanceTimersByTime(3000);
    expect(h.exitCode()).toBe(0);
  });

  it('a leftover that ignores SIGTERM: SIGCONT after it, then the final kill after the leftover grace; logged', () => {
    const h = oneProgram();
    const l = h.leave({});
    h.sup.requestShutdown('SIGTERM');
    h.live('app').exit({ code: 0, signal: null });
    expect(l.signals).toEqual(['SIGTERM', 'SIGCONT']);
    vi.advanceTimersByTime(LEFTOVER_GRACE_MS - 1);
    expect(h.rounds()).toBe(0);
    vi.advanceTimersByTime(1);
    expect(l.signals).toEqual(['SIGTERM', 'SIGCONT', 'SIGSTOP', 'SIGKILL']);
    vi.advanceTimersByTime(100);
    expect(h.exitCode()).toBe(0);
    expect(h.fields('descendants.stop').map((f) => [f.signal, f.count, f.reason])).toEqual([
      ['SIGTERM', 1, undefined],
      ['SIGKILL', 1, 'leftover_grace_expired'],
    ]);
    expect(h.fields('descendants.killed')).toEqual([expect.objectContaining({ reason: 'leftover_grace_expired', killed: 1, left: 0, converged: true })]);
  });

  it('a hopper that slips past three rounds: the final kill repeats until a round finds nothing', () => {
    const h = oneProgram();
    h.leave({ escapes: 3 });
    h.sup.requestShutdown('SIGTERM');
    h.live('app').exit({ code: 0, signal: null });
    vi.advanceTimersByTime(LEFTOVER_GRACE_MS + 1000);
    expect(h.leftovers).toEqual([]);
    expect(h.rounds()).toBe(5); // four that killed something, one that found nothing
    expect(h.fields('descendants.killed')).toEqual([expect.objectContaining({ rounds: 5, killed: 4, left: 0 })]);
    expect(h.exitCode()).toBe(0);
  });

  it('the final kill is bounded: what cannot be killed is logged, and the supervisor exits anyway', () => {
    const h = oneProgram();
    const l = h.leave({ unkillable: true });
    h.sup.requestShutdown('SIGTERM');
    h.live('app').exit({ code: 0, signal: null });
    vi.advanceTimersByTime(LEFTOVER_GRACE_MS);
    expect(h.exitCode()).toBeUndefined();
    vi.advanceTimersByTime(FINAL_KILL_BOUND_MS + 100);
    expect(h.exitCode()).toBe(0);
    const [summary] = h.fields('descendants.killed');
    expect(summary).toMatchObject({ left: 1, left_pids: [l.pid], killed: 1 });
    expect(summary!.elapsed_ms as number).toBeGreaterThanOrEqual(FINAL_KILL_BOUND_MS);
    expect(h.events.at(-1)?.event).toBe('supervisor.exit');
  });

  it('shutdown_timeout runs the final kill at once, with the programs still alive', () => {
    const h = harness([programPlan({ name: 'app', startSecsMs: 0, stopGraceMs: 60_000 })], false, { shutdownTimeoutMs: 2000 });
    h.sup.start();
    const l = h.leave({ escapes: 1 });
    h.sup.requestShutdown('SIGTERM');
    vi.advanceTimersByTime(2000);
    expect(h.live('app').signals).toEqual(['SIGTERM', 'SIGCONT', 'SIGKILL']);
    expect(l.signals.slice(0, 2)).toEqual(['SIGSTOP', 'SIGKILL']); // no SIGTERM grace for leftovers after the timeout
    vi.advanceTimersByTime(100);
    expect(h.leftovers).toEqual([]);
    h.live('app').exit({ code: null, signal: 'SIGKILL' });
    vi.advanceTimersByTime(100);
    expect(h.exitCode()).toBe(0);
    expect(h.fields('descendants.stop')).toEqual([{ count: 1, signal: 'SIGKILL', reason: 'shutdown_timeout' }]);
    expect(h.fields('supervisor.exit')).toEqual([expect.objectContaining({ forced: true })]);
  });
});

describe('Supervisor: operator commands (supervisor stop|start|restart|signal)', () => {
  it('stop keeps the only program down and the supervisor up; start runs it again', () => {
    const h = harness([programPlan({ name: 'web', startSecsMs: 0 })]);
    h.sup.start();
    expect(h.sup.stopProgram('web')).toEqual({ ok: true, message: 'stopping web' });
    expect(h.live('web').signals).toEqual(['SIGTERM', 'SIGCONT']);
    h.live('web').exit({ code: null, signal: 'SIGTERM' });
    expect(h.exitCode()).toBeUndefined();
    expect(h.sup.programViews()[0]).toMatchObject({ phase: 'exited', held: true });
    vi.advanceTimersByTime(60_000);
    expect(h.children).toHaveLength(1); // no restart
    expect(h.sup.startProgram('web')).toEqual({ ok: true, message: 'starting web' });
    expect(h.children).toHaveLength(2);
    expect(h.sup.programViews()[0]).toMatchObject({ phase: 'running', held: false, pid: h.live('web').pid });
  });

  it('restart stops, then starts at once: no backoff, not counted as a restart', () => {
    const h = harness([programPlan({ name: 'web', startSecsMs: 0 })]);
    h.sup.start();
    expect(h.sup.restartProgram('web').ok).toBe(true);
    h.live('web').exit({ code: null, signal: 'SIGTERM' });
    expect(h.children).toHaveLength(2);
    expect(h.fields('child.backoff')).toEqual([]);
    expect(h.sup.programViews()[0]).toMatchObject({ phase: 'running', restarts: 0 });
  });

  it('a stopped dependency does not block its dependents: they wait for it', () => {
    const h = harness([programPlan({ name: 'db', startSecsMs: 1000 }), programPlan({ name: 'web', startAfter: ['db'] })]);
    h.sup.start();
    h.sup.stopProgram('db');
    h.live('db').exit({ code: null, signal: 'SIGTERM' });
    expect(h.names('child.blocked')).toEqual([]);
    expect(h.children.map((c) => c.name)).toEqual(['db']);
    h.sup.startProgram('db');
    vi.advanceTimersByTime(1000);
    expect(h.children.map((c) => c.name)).toEqual(['db', 'db', 'web']);
  });

  it('signal reaches a running program; unknown programs, stopped ones and a shutdown are refused', () => {
    const h = harness([programPlan({ name: 'web', startSecsMs: 0 }), programPlan({ name: 'job', restart: 'never', startSecsMs: 0 })]);
    h.sup.start();
    expect(h.sup.signalProgram('web', 'SIGUSR1').ok).toBe(true);
    expect(h.live('web').signals).toEqual(['SIGUSR1']);
    h.live('job').exit({ code: 0, signal: null });
    expect(h.sup.signalProgram('job', 'SIGUSR1')).toEqual({ ok: false, message: 'job is not running (exited)' });
    expect(h.sup.stopProgram('nope')).toEqual({ ok: false, message: 'no program named "nope"' });
    h.sup.requestShutdown('SIGTERM');
    expect(h.sup.restartProgram('web')).toEqual({ ok: false, message: 'the supervisor is shutting down' });
    expect(h.sup.programViews()[0]!.stopping).toBe(true);
  });
});
