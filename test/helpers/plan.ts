// Builds ProgramPlan / SupervisorPlan objects for tests, with the documented defaults.
import type { ProgramPlan, SupervisorPlan } from '../../src/plan/types.js';

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
