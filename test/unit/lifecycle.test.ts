import { describe, expect, it } from 'vitest';
import { initialState, transition, type LifecycleInput, type ProgramState, type Transition } from '../../src/supervision/lifecycle.js';
import type { ProgramPlan } from '../../src/plan/types.js';
import { programPlan, runLifecycle as run } from '../helpers/plan.js';


const last = (ts: Transition[]) => ts[ts.length - 1]!;
/** The supervisor reports that the ended run left nothing alive (plan.leftovers = stop). */
const gone = (state: ProgramState, plan: ProgramPlan, now: number) => transition(state, { type: 'leftovers_gone' }, plan, now).state;
const names = (t: Transition) => t.events.map((e) => e.event);

describe('lifecycle state machine', () => {
  it('start → spawn → running after start_secs', () => {
    const plan = programPlan({ startSecsMs: 1000 });
    const ts = run(plan, [
      [0, { type: 'start' }],
      [0, { type: 'spawned', pid: 42 }],
      [1000, { type: 'start_secs_elapsed' }],
    ]);
    expect(ts[0]!.state.phase).toBe('starting');
    expect(ts[0]!.effects).toEqual([{ type: 'spawn' }]);
    expect(ts[1]!.effects).toEqual([{ type: 'set_timer', timer: 'start_secs', ms: 1000 }]);
    expect(names(ts[1]!)).toEqual(['child.spawn']);
    expect(last(ts).state).toMatchObject({ phase: 'running', pid: 42 });
    expect(names(last(ts))).toEqual(['child.running']);
  });

  it('start_secs 0 is running at once', () => {
    const ts = run(programPlan({ startSecsMs: 0 }), [
      [0, { type: 'start' }],
      [0, { type: 'spawned', pid: 7 }],
    ]);
    expect(last(ts).state.phase).toBe('running');
  });

  it('restart: always restarts after a clean exit, with exponential backoff', () => {
    const plan = programPlan({ restart: 'always', startSecsMs: 0, backoff: { initialMs: 100, factor: 2, maxMs: 350, resetAfterMs: 10_000 }, crashLoop: { maxRestarts: 100, windowMs: 1000 } });
    const delays: number[] = [];
    let state = initialState(plan);
    let now = 0;
    state = transition(state, { type: 'start' }, plan, now).state;
    for (let i = 0; i < 5; i++) {
      state = transition(state, { type: 'spawned', pid: 100 + i }, plan, now).state;
      now += 10;
      const t = transition(state, { type: 'exited', code: 0, signal: null }, plan, now);
      expect(t.state.phase).toBe('backoff');
      const timer = t.effects.find((e) => e.type === 'set_timer');
      delays.push(timer && timer.type === 'set_timer' ? timer.ms : -1);
      state = transition(gone(t.state, plan, now), { type: 'backoff_elapsed' }, plan, now).state;
    }
    expect(delays).toEqual([100, 200, 350, 350, 350]);
    expect(state.restarts).toBe(5);
  });

  it('backoff starts over after a run longer than reset_after', () => {
    const plan = programPlan({ startSecsMs: 0, backoff: { initialMs: 100, factor: 3, maxMs: 10_000, resetAfterMs: 5000 } });
    let state = initialState(plan);
    state = transition(state, { type: 'start' }, plan, 0).state;
    state = transition(state, { type: 'spawned', pid: 1 }, plan, 0).state;
    state = transition(state, { type: 'exited', code: 1, signal: null }, plan, 10).state; // delay 100, next 300
    state = transition(gone(state, plan, 110), { type: 'backoff_elapsed' }, plan, 110).state;
    state = transition(state, { type: 'spawned', pid: 2 }, plan, 110).state;
    let t = transition(state, { type: 'exited', code: 1, signal: null }, plan, 120);
    expect(t.effects).toContainEqual({ type: 'set_timer', timer: 'backoff', ms: 300 });
    state = transition(gone(t.state, plan, 420), { type: 'backoff_elapsed' }, plan, 420).state;
    state = transition(state, { type: 'spawned', pid: 3 }, plan, 420).state;
    t = transition(state, { type: 'exited', code: 1, signal: null }, plan, 420 + 5000); // stable run
    expect(t.effects).toContainEqual({ type: 'set_timer', timer: 'backoff', ms: 100 });
  });

  it('on-failure: exit 0 ends the program, exit 1 and signals restart', () => {
    const plan = programPlan({ restart: 'on-failure', startSecsMs: 0 });
    const running = run(plan, [[0, { type: 'start' }], [0, { type: 'spawned', pid: 5 }]]);
    const s = last(running).state;
    const ok = transition(s, { type: 'exited', code: 0, signal: null }, plan, 50);
    expect(ok.state.phase).toBe('exited');
    expect(ok.effects).toContainEqual({ type: 'ended', how: 'exited' });
    expect(transition(s, { type: 'exited', code: 1, signal: null }, plan, 50).state.phase).toBe('backoff');
    const killed = transition(s, { type: 'exited', code: null, signal: 'SIGSEGV' }, plan, 50);
    expect(killed.state.phase).toBe('backoff');
    expect(killed.state.lastExit?.status).toBe(139);
  });

  it('never: any exit ends the program and says so', () => {
    const plan = programPlan({ restart: 'never', startSecsMs: 0 });
    const t = last(run(plan, [[0, { type: 'start' }], [0, { type: 'spawned', pid: 5 }], [5, { type: 'exited', code: 3, signal: null }]]));
    expect(t.state.phase).toBe('exited');
    expect(t.state.lastExit).toMatchObject({ code: 3, status: 3, uptimeMs: 5 });
    expect(names(t)).toEqual(['child.exit']);
  });

  it('crash loop: more than max_restarts in the window turns fatal', () => {
    const plan = programPlan({ startSecsMs: 0, backoff: { initialMs: 0, factor: 1, maxMs: 0, resetAfterMs: 60_000 }, crashLoop: { maxRestarts: 3, windowMs: 10_000 } });
    let state = transition(initialState(plan), { type: 'start' }, plan, 0).state;
    const phases: string[] = [];
    for (let i = 0; i < 4; i++) {
      state = transition(state, { type: 'spawned', pid: i + 1 }, plan, i * 100).state;
      const t = transition(state, { type: 'exited', code: 1, signal: null }, plan, i * 100 + 50);
      phases.push(t.state.phase);
      state = t.state;
      if (t.state.phase === 'fatal') {
        expect(t.effects).toContainEqual({ type: 'ended', how: 'fatal' });
        expect(names(t)).toEqual(['child.exit', 'child.fatal']);
        break;
      }
      state = transition(gone(state, plan, i * 100 + 50), { type: 'backoff_elapsed' }, plan, i * 100 + 50).state;
    }
    expect(phases).toEqual(['backoff', 'backoff', 'backoff', 'fatal']);
  });

  it('restarts spread wider than the window never turn fatal', () => {
    const plan = programPlan({ startSecsMs: 0, backoff: { initialMs: 0, factor: 1, maxMs: 0, resetAfterMs: 60_000 }, crashLoop: { maxRestarts: 2, windowMs: 1000 } });
    let state = transition(initialState(plan), { type: 'start' }, plan, 0).state;
    for (let i = 0; i < 10; i++) {
      const at = i * 600; // two restarts per 1.2 s: never more than 2 in any 1 s window
      state = transition(state, { type: 'spawned', pid: i + 1 }, plan, at).state;
      state = transition(state, { type: 'exited', code: 1, signal: null }, plan, at + 1).state;
      expect(state.phase).toBe('backoff');
      state = transition(gone(state, plan, at + 1), { type: 'backoff_elapsed' }, plan, at + 1).state;
    }
  });

  it('stop: signal, grace timer, SIGKILL when the grace expires, exited on exit', () => {
    const plan = programPlan({ startSecsMs: 0, stopSignal: 'SIGQUIT', stopGraceMs: 2000 });
    const ts = run(plan, [
      [0, { type: 'start' }],
      [0, { type: 'spawned', pid: 9 }],
      [10, { type: 'stop', intent: { reason: 'shutdown', restart: false } }],
      [2010, { type: 'grace_elapsed' }],
      [2011, { type: 'exited', code: null, signal: 'SIGKILL' }],
    ]);
    // The stop signal, then SIGCONT so a stopped program can act on it.
    expect(ts[2]!.effects).toEqual([
      { type: 'clear_timers' },
      { type: 'signal', signal: 'SIGQUIT' },
      { type: 'signal', signal: 'SIGCONT' },
      { type: 'set_timer', timer: 'grace', ms: 2000 },
    ]);
    expect(ts[3]!.effects).toEqual([{ type: 'signal', signal: 'SIGKILL' }]);
    expect(last(ts).state.phase).toBe('exited');
    expect(last(ts).effects).toContainEqual({ type: 'ended', how: 'stopped' });
    expect(last(ts).events[0]!.fields).toMatchObject({ expected: true, stop_reason: 'shutdown', status: 137 });
  });

  it('a stop with a relayed signal overrides stop_signal', () => {
    const plan = programPlan({ startSecsMs: 0 });
    const t = last(run(plan, [[0, { type: 'start' }], [0, { type: 'spawned', pid: 9 }], [1, { type: 'stop', intent: { reason: 'shutdown', restart: false, signal: 'SIGINT' } }]]));
    expect(t.effects).toContainEqual({ type: 'signal', signal: 'SIGINT' });
  });

  it('the stop signal is followed by SIGCONT (shutdown and memory stops), a relayed signal is not', () => {
    const signals = (plan: ProgramPlan, intent: { reason: string; restart: boolean; signal?: NodeJS.Signals }) =>
      last(run(plan, [[0, { type: 'start' }], [0, { type: 'spawned', pid: 9 }], [1, { type: 'stop', intent }]]))
        .effects.flatMap((e) => (e.type === 'signal' ? [e.signal] : []));
    const plan = programPlan({ startSecsMs: 0, stopSignal: 'SIGUSR2' });
    expect(signals(plan, { reason: 'shutdown', restart: false })).toEqual(['SIGUSR2', 'SIGCONT']);
    expect(signals(plan, { reason: 'memory_cap', restart: true })).toEqual(['SIGUSR2', 'SIGCONT']);
    // Single-command mode relays the signal it got, alone (tini and dumb-init do).
    expect(signals(plan, { reason: 'shutdown', restart: false, signal: 'SIGINT' })).toEqual(['SIGINT']);
    // A stop_signal that is SIGCONT or SIGKILL itself needs no SIGCONT after it.
    expect(signals(programPlan({ startSecsMs: 0, stopSignal: 'SIGKILL' }), { reason: 'shutdown', restart: false })).toEqual(['SIGKILL']);
    expect(signals(programPlan({ startSecsMs: 0, stopSignal: 'SIGCONT' }), { reason: 'shutdown', restart: false })).toEqual(['SIGCONT']);
  });

  it('the SIGKILLs (grace expired, kill) are not followed by SIGCONT', () => {
    const plan = programPlan({ startSecsMs: 0 });
    const ts = run(plan, [
      [0, { type: 'start' }],
      [0, { type: 'spawned', pid: 9 }],
      [1, { type: 'stop', intent: { reason: 'shutdown', restart: false } }],
      [2, { type: 'grace_elapsed' }],
      [3, { type: 'kill', reason: 'shutdown_timeout' }],
    ]);
    expect(ts[3]!.effects).toEqual([{ type: 'signal', signal: 'SIGKILL' }]);
    expect(ts[4]!.effects).toEqual([{ type: 'signal', signal: 'SIGKILL' }]);
  });

  it('a stop for restart (memory) restarts even under on-failure after a clean exit', () => {
    const plan = programPlan({ restart: 'on-failure', startSecsMs: 0 });
    const t = last(run(plan, [
      [0, { type: 'start' }],
      [0, { type: 'spawned', pid: 9 }],
      [1, { type: 'stop', intent: { reason: 'memory', restart: true } }],
      [2, { type: 'exited', code: 0, signal: null }],
    ]));
    expect(t.state.phase).toBe('backoff');
  });

  it('stop during backoff ends the program without a process to signal', () => {
    const plan = programPlan({ startSecsMs: 0 });
    const t = last(run(plan, [
      [0, { type: 'start' }],
      [0, { type: 'spawned', pid: 9 }],
      [1, { type: 'exited', code: 1, signal: null }],
      [2, { type: 'stop', intent: { reason: 'shutdown', restart: false } }],
    ]));
    expect(t.state.phase).toBe('exited');
    expect(t.effects).toEqual([{ type: 'clear_timers' }, { type: 'ended', how: 'stopped' }]);
  });

  it('a spawn failure counts as a failed run with status 127', () => {
    const plan = programPlan({ restart: 'never' });
    const t = last(run(plan, [[0, { type: 'start' }], [0, { type: 'spawn_failed', exitCode: 127, code: 'ENOENT', message: 'command not found: nope' }]]));
    expect(t.state.phase).toBe('exited');
    expect(t.state.lastExit?.status).toBe(127);
    expect(names(t)).toEqual(['child.spawn_failed']);
  });

  it('kill is final: a restart-stop under way does not restart after it', () => {
    const plan = programPlan({ startSecsMs: 0 });
    const t = last(run(plan, [
      [0, { type: 'start' }],
      [0, { type: 'spawned', pid: 9 }],
      [1, { type: 'stop', intent: { reason: 'memory', restart: true } }],
      [2, { type: 'kill', reason: 'second SIGTERM' }],
      [3, { type: 'exited', code: null, signal: 'SIGKILL' }],
    ]));
    expect(t.state.phase).toBe('exited');
  });

  it('a give-up stop turns the program fatal when its run ends, from running or from backoff', () => {
    const plan = programPlan({ startSecsMs: 0 });
    const fromRunning = last(run(plan, [
      [0, { type: 'start' }],
      [0, { type: 'spawned', pid: 9 }],
      [1, { type: 'stop', intent: { reason: 'oom_loop', restart: false, giveUp: true } }],
      [2, { type: 'exited', code: null, signal: 'SIGKILL' }],
    ]));
    expect(fromRunning.state.phase).toBe('fatal');
    expect(fromRunning.effects).toContainEqual({ type: 'ended', how: 'fatal' });
    expect(fromRunning.events.map((e) => e.event)).toEqual(['child.exit', 'child.fatal']);
    const fromBackoff = last(run(plan, [
      [0, { type: 'start' }],
      [0, { type: 'spawned', pid: 9 }],
      [1, { type: 'exited', code: null, signal: 'SIGKILL' }],
      [2, { type: 'stop', intent: { reason: 'oom_loop', restart: false, giveUp: true } }],
    ]));
    expect(fromBackoff.state.phase).toBe('fatal');
    expect(fromBackoff.events[0]!.fields).toMatchObject({ reason: 'oom_loop' });
  });

  it('a give-up overrides a restart-stop under way', () => {
    const plan = programPlan({ startSecsMs: 0 });
    const t = last(run(plan, [
      [0, { type: 'start' }],
      [0, { type: 'spawned', pid: 9 }],
      [1, { type: 'stop', intent: { reason: 'memory_cap', restart: true } }],
      [1, { type: 'stop', intent: { reason: 'oom_loop', restart: false, giveUp: true } }],
      [2, { type: 'exited', code: null, signal: 'SIGTERM' }],
    ]));
    expect(t.state.phase).toBe('fatal');
  });

  it('inputs that do not apply to a phase change nothing', () => {
    const plan = programPlan();
    const s = initialState(plan);
    for (const input of [{ type: 'grace_elapsed' }, { type: 'backoff_elapsed' }, { type: 'start_secs_elapsed' }, { type: 'exited', code: 0, signal: null }] as LifecycleInput[]) {
      const t = transition(s, input, plan, 0);
      expect(t.state).toBe(s);
      expect(t.effects).toEqual([]);
    }
  });
  describe('leftovers of an ended run (plan.leftovers)', () => {
    const plan = programPlan({ startSecsMs: 0, stopSignal: 'SIGQUIT', stopGraceMs: 3000, backoff: { initialMs: 100, factor: 1, maxMs: 100, resetAfterMs: 60_000 } });
    const ended = () => last(run(plan, [[0, { type: 'start' }], [0, { type: 'spawned', pid: 5 }], [10, { type: 'exited', code: 1, signal: null }]]));

    it('stop (default): an ended run\'s leftovers get the stop signal and a grace timer', () => {
      const t = ended();
      expect(t.state).toMatchObject({ phase: 'backoff', awaitingLeftovers: true });
      expect(t.effects).toContainEqual({ type: 'signal_leftovers', signal: 'SIGQUIT' });
      expect(t.effects).toContainEqual({ type: 'set_timer', timer: 'leftovers_grace', ms: 3000 });
    });

    it('the next run waits for them: backoff elapsed first, spawn when they are gone', () => {
      const waiting = transition(ended().state, { type: 'backoff_elapsed' }, plan, 110);
      expect(waiting.state.phase).toBe('backoff');
      expect(waiting.effects).toEqual([]);
      const g = transition(waiting.state, { type: 'leftovers_gone' }, plan, 500);
      expect(g.state).toMatchObject({ phase: 'starting', restarts: 1, awaitingLeftovers: false });
      expect(g.effects).toEqual([{ type: 'spawn' }]);
      expect(names(g)).toEqual(['child.restart']);
    });

    it('gone before the backoff elapsed: the restart comes with the backoff, as usual', () => {
      const g = transition(ended().state, { type: 'leftovers_gone' }, plan, 20);
      expect(g.state.phase).toBe('backoff');
      expect(g.effects).toEqual([]);
      expect(transition(g.state, { type: 'backoff_elapsed' }, plan, 110).effects).toEqual([{ type: 'spawn' }]);
    });

    it('still there after stop_grace: SIGKILL; once gone, the grace timer means nothing', () => {
      const t = transition(ended().state, { type: 'leftovers_grace_elapsed' }, plan, 3010);
      expect(t.effects).toEqual([{ type: 'signal_leftovers', signal: 'SIGKILL' }]);
      const after = transition(gone(t.state, plan, 3020), { type: 'leftovers_grace_elapsed' }, plan, 3030);
      expect(after.effects).toEqual([]);
    });

    it('a program that ends for good, or turns fatal, has its leftovers stopped too', () => {
      const never = programPlan({ restart: 'never', startSecsMs: 0 });
      const t = last(run(never, [[0, { type: 'start' }], [0, { type: 'spawned', pid: 5 }], [10, { type: 'exited', code: 0, signal: null }]]));
      expect(t.state.phase).toBe('exited');
      expect(t.effects).toContainEqual({ type: 'signal_leftovers', signal: 'SIGTERM' });
    });

    it('a shutdown stop leaves them to the shutdown (no leftover effect)', () => {
      const t = last(run(plan, [[0, { type: 'start' }], [0, { type: 'spawned', pid: 5 }], [1, { type: 'stop', intent: { reason: 'shutdown', restart: false, shutdown: true } }], [2, { type: 'exited', code: 0, signal: null }]]));
      expect(t.state.phase).toBe('exited');
      expect(t.effects.some((e) => e.type === 'signal_leftovers')).toBe(false);
    });

    it("an operator's stop ends the whole run: its leftovers are stopped, and a start waits until they are gone", () => {
      const t = last(run(plan, [[0, { type: 'start' }], [0, { type: 'spawned', pid: 5 }], [1, { type: 'stop', intent: { reason: 'control', restart: false } }], [2, { type: 'exited', code: 0, signal: null }]]));
      expect(t.state.phase).toBe('exited');
      expect(t.effects).toContainEqual({ type: 'signal_leftovers', signal: plan.stopSignal });
      const revived = transition(t.state, { type: 'revive' }, plan, 3).state;
      const asked = transition(revived, { type: 'start' }, plan, 4);
      expect(asked.state.phase).toBe('stopped');
      expect(asked.effects).toEqual([]);
      const gone = transition(asked.state, { type: 'leftovers_gone' }, plan, 5);
      expect(gone.state.phase).toBe('starting');
      expect(gone.effects).toEqual([{ type: 'spawn' }]);
      expect(gone.state.restarts).toBe(revived.restarts);
    });

    it('keep: no leftover effect, the restart does not wait', () => {
      const keep = { ...plan, leftovers: 'keep' as const };
      const t = last(run(keep, [[0, { type: 'start' }], [0, { type: 'spawned', pid: 5 }], [10, { type: 'exited', code: 1, signal: null }]]));
      expect(t.effects.some((e) => e.type === 'signal_leftovers')).toBe(false);
      expect(transition(t.state, { type: 'backoff_elapsed' }, keep, 110).effects).toEqual([{ type: 'spawn' }]);
    });
  });
});
