// The built-in defaults: what a program or the supervisor gets for every field
// the config file (and its `defaults:` section) leaves out. One table, in plan units.
import type { BackoffPlan, CrashLoopPlan, EndAction, LogFormat, LogLevel, OutputMode, RestartPolicy } from '../plan/types.js';

export interface ProgramDefaults {
  shell: boolean;
  restart: RestartPolicy;
  backoff: BackoffPlan;
  startSecsMs: number;
  crashLoop: CrashLoopPlan;
  stopSignal: NodeJS.Signals;
  stopGraceMs: number;
  processGroup: boolean;
  priority: number;
  output: OutputMode;
  onExit: EndAction;
  onFatal: EndAction;
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
  priority: 100,
  output: 'inherit',
  onExit: Object.freeze({ action: 'continue' }),
  onFatal: Object.freeze({ action: 'shutdown' }),
});

export interface SupervisorDefaults {
  shutdownTimeoutMs: number;
  log: { level: LogLevel; format: LogFormat };
}

export const SUPERVISOR_DEFAULTS: Readonly<SupervisorDefaults> = Object.freeze({
  /** Inside Kubernetes' default 30 s termination grace period. */
  shutdownTimeoutMs: 25_000,
  log: Object.freeze({ level: 'info', format: 'auto' }),
});

/** The shell that runs `command` when `shell: true`. */
export const SHELL_ARGV: readonly string[] = ['/bin/sh', '-c'];
