// The built-in defaults: what a program or the supervisor gets for every field
// the config file (and its `defaults:` section) leaves out. One table, in plan units.
import type {
  BackoffPlan,
  CrashLoopPlan,
  EndAction,
  LogFormat,
  LeftoversMode,
  LogLevel,
  OutputMode,
  ProgramMemoryPlan,
  RestartPolicy,
  SupervisorMemoryPlan,
} from '../plan/types.js';

export interface ProgramDefaults {
  shell: boolean;
  restart: RestartPolicy;
  backoff: BackoffPlan;
  startSecsMs: number;
  crashLoop: CrashLoopPlan;
  stopSignal: NodeJS.Signals;
  stopGraceMs: number;
  processGroup: boolean;
  leftovers: LeftoversMode;
  priority: number;
  output: OutputMode;
  onExit: EndAction;
  onFatal: EndAction;
  memory: ProgramMemoryPlan;
}

export const PROGRAM_DEFAULTS: Readonly<ProgramDefaults> = Object.freeze({
  shell: false,
  restart: 'always',
  backoff: Object.freeze({ initialMs: 1000, factor: 2, maxMs: 30_000, resetAfterMs: 60_000 }),
  startSecsMs: 1000,
  crashLoop: Object.freeze({ maxRestarts: 5, windowMs: 60_000 }),
  stopSignal: 'SIGTERM',
  stopGraceMs: 10_000,
  processGroup: true,
  leftovers: 'stop',
  priority: 100,
  output: 'inherit',
  onExit: Object.freeze({ action: 'continue' }),
  onFatal: Object.freeze({ action: 'shutdown' }),
  // Children are the kernel's first choice in an OOM, never PID 1.
  memory: Object.freeze({ enforce: 'auto', rlimit: 'data', oomScoreAdj: 1000, stopGraceMs: 2000 }),
});

export interface SupervisorDefaults {
  shutdownTimeoutMs: number;
  log: { level: LogLevel; format: LogFormat };
  memory: SupervisorMemoryPlan;
}

export const SUPERVISOR_DEFAULTS: Readonly<SupervisorDefaults> = Object.freeze({
  /** Inside Kubernetes' default 30 s termination grace period. */
  shutdownTimeoutMs: 25_000,
  log: Object.freeze({ level: 'info', format: 'auto' }),
  memory: Object.freeze({
    pollIntervalMs: 250,
    // On whenever the container has a memory limit; at 95 % the program most over its share is stopped.
    guard: Object.freeze({ enabled: 'auto' as const, threshold: Object.freeze({ percent: 95 }) }),
    oomScoreAdj: -1000,
  }),
});

/** Probe defaults: Kubernetes' own (initialDelaySeconds 0, periodSeconds 10, timeoutSeconds 1, failureThreshold 3, successThreshold 1). */
export const PROBE_DEFAULTS = Object.freeze({ initialDelayMs: 0, periodMs: 10_000, timeoutMs: 1000, failureThreshold: 3, successThreshold: 1 });

/** The shell that runs `command` when `shell: true`. */
export const SHELL_ARGV: readonly string[] = ['/bin/sh', '-c'];
