// Builds ProgramPlan / SupervisorPlan objects for tests, with the documented defaults.
import type { ProgramPlan, SupervisorPlan } from '../../src/plan/types.js';
import { initialState, transition, type LifecycleInput, type ProgramState, type Transition } from '../../src/supervision/lifecycle.js';

export function programPlan(over: Partial<ProgramPlan> = {}): ProgramPlan {
  return {
    name: 'app',
    argv: ['/bin/true'],
    env: {},
    envKeys: [],
    restart: 'always',
    backoff: { initialMs: 1000, factor: 2, maxMs: 30_000, resetAfterMs: 60_000 },
    startSecsMs: 1000,
    crashLoop: { maxRestarts: 5, windowMs: 60_000 },
    stopSignal: 'SIGTERM',
    stopGraceMs: 10_000,
    processGroup: true,
    leftovers: 'stop',
    startAfter: [],
    output: 'inherit',
    stdin: 'ignore',
    onExit: { action: 'continue' },
    onFatal: { action: 'shutdown' },
    ...over,
  };
}

export function supervisorPlan(programs: ProgramPlan[], over: Partial<SupervisorPlan> = {}): SupervisorPlan {
  return { programs, shutdownTimeoutMs: 25_000, singleCommand: false, ...over };
}

/** Runs lifecycle inputs at the given times from `from`; returns every transition. */
export function runLifecycle(plan: ProgramPlan, steps: Array<[number, LifecycleInput]>, from: ProgramState = initialState(plan)): Transition[] {
  const out: Transition[] = [];
  let state = from;
  for (const [now, input] of steps) {
    const t = transition(state, input, plan, now);
    out.push(t);
    state = t.state;
  }
  return out;
}
