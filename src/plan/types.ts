// The plan: the validated, normalised form of supervisor.yaml (or of a single
// `supervisor -- cmd` command line) that the supervisor runs. Everything here
// is plain data in final units (milliseconds, bytes, numeric ids), so the
// supervision code never parses or defaults anything itself.

export type RestartPolicy = 'always' | 'on-failure' | 'never';
export type OutputMode = 'inherit' | 'json';
export type LogFormat = 'json' | 'pretty' | 'auto';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** What the supervisor does when a program ends for good or turns fatal. */
export interface EndAction {
  action: 'continue' | 'shutdown';
  /** Exit code for the container; undefined = derived from the program's exit (see README). */
  exitCode?: number;
}

export interface BackoffPlan {
  initialMs: number;
  factor: number;
  maxMs: number;
  /** Uptime after which a run counts as stable and the backoff starts again from initialMs. */
  resetAfterMs: number;
}

export interface CrashLoopPlan {
  /** More than this many restarts inside windowMs turns the program fatal. */
  maxRestarts: number;
  windowMs: number;
}

/** A size in bytes, or a percentage of the container's memory limit (resolved at start). */
export type SizeSpec = { bytes: number } | { percent: number };

/**
 * How a program's memory cap is enforced:
 * cgroup   – its own leaf cgroup with memory.max: exact, by the kernel (needs a writable cgroup fs);
 * watchdog – the supervisor samples the program's process tree and stops it at the cap;
 * rlimit   – RLIMIT_DATA / RLIMIT_AS: allocations fail past the cap (opt-in; not for Node, Go, JVM);
 * auto     – cgroup when the cgroup fs is writable, else watchdog.
 */
export type MemoryEnforcement = 'auto' | 'cgroup' | 'watchdog' | 'rlimit';

export interface ProgramMemoryPlan {
  max?: SizeSpec;
  high?: SizeSpec;
  enforce: MemoryEnforcement;
  /** Which limit `enforce: rlimit` sets. */
  rlimit: 'data' | 'as';
  /** The child's /proc/<pid>/oom_score_adj (never below the supervisor's own). */
  oomScoreAdj: number;
  /** Grace between the stop signal and SIGKILL when the watchdog or the guard stops the program. */
  stopGraceMs: number;
  /** v2 leaf memory.oom.group: an OOM kill in the leaf takes the program's whole tree (default false: only the kernel's victim). */
  oomGroup?: boolean;
  /** More than maxEvents memory kills/stops within windowMs turns the program fatal (on_fatal applies). */
  oomLoop?: { maxEvents: number; windowMs: number };
}

export interface SupervisorMemoryPlan {
  /** How often the watchdog and the container guard sample memory. */
  pollIntervalMs: number;
  /** The container guard: stop the program most over its share before the container's limit is hit. */
  guard: { enabled: boolean | 'auto'; threshold: SizeSpec };
  /** The oom_score_adj the supervisor tries to give itself (-1000 = never OOM-killed). */
  oomScoreAdj: number;
}

export type LeftoversMode = 'stop' | 'keep';

/** One check of a program's health (Kubernetes probe fields, in ms). */
export type ProbeCheck =
  | { kind: 'exec'; argv: string[] }
  | { kind: 'http'; url: string }
  | { kind: 'tcp'; host: string; port: number }
  /** Readiness only: ready once a line of the program's output matches. */
  | { kind: 'log'; pattern: string };

export interface ProbePlan {
  check: ProbeCheck;
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  failureThreshold: number;
  successThreshold: number;
}

export interface HealthPlan {
  readiness?: ProbePlan;
  liveness?: ProbePlan;
  startup?: ProbePlan;
}

/** When a dependent may start (depends_on conditions, like Compose). */
export type DependencyCondition = 'started' | 'running' | 'healthy' | 'completed_successfully';

export interface ProgramPlan {
  name: string;
  /** argv[0] is the executable; with shell=true, argv is ['/bin/sh', '-c', script]. */
  argv: string[];
  /** Full environment of the child (the supervisor's own merged with the program's). */
  env: Record<string, string>;
  /** Names of the variables the config set (logged by name only, never by value). */
  envKeys: string[];
  cwd?: string;
  uid?: number;
  gid?: number;
  /** The user name given in the config, for logs. */
  user?: string;
  restart: RestartPolicy;
  backoff: BackoffPlan;
  /** The child must stay up this long to count as started (STARTING → RUNNING). */
  startSecsMs: number;
  crashLoop: CrashLoopPlan;
  stopSignal: NodeJS.Signals;
  stopGraceMs: number;
  /** Child gets its own process group (session); signals go to the whole group. */
  processGroup: boolean;
  /** What happens to the processes a run leaves behind when its main process ends: stopped before the next run (default), or kept. */
  leftovers: LeftoversMode;
  /** Programs that must be RUNNING (or have exited 0 for good) before this one starts. */
  startAfter: string[];
  /** The condition each of startAfter must meet; absent or missing entries mean `running`. */
  startConditions?: Record<string, DependencyCondition>;
  /** Probes; absent: none (no timers, no CPU). */
  health?: HealthPlan;
  output: OutputMode;
  /** stdin: inherit (single-command mode, like tini) or ignore. */
  stdin: 'inherit' | 'ignore';
  onExit: EndAction;
  onFatal: EndAction;
  /** Absent: no cap, default oom_score_adj (hand-made plans in tests). */
  memory?: ProgramMemoryPlan;
  /** /readyz waits for the critical programs (for every program when none is). Absent: false. */
  critical?: boolean;
}

export interface LogPlan {
  level: LogLevel;
  /** auto = pretty when stdout is a TTY, else json. */
  format: LogFormat;
}

export interface SupervisorPlan {
  /** Programs in start order (dependencies first). */
  programs: ProgramPlan[];
  /** The config file's `log:` section with defaults applied (absent in hand-made plans: use info/auto). */
  log?: LogPlan;
  /** After this long in shutdown, everything left gets SIGKILL. */
  shutdownTimeoutMs: number;
  /** Single-command mode (`supervisor -- cmd`): exit code rules follow tini. */
  singleCommand: boolean;
  /** Absent: the defaults (see config/defaults.ts). */
  memory?: SupervisorMemoryPlan;
  /** Where the termination message goes: a path, null = nowhere, undefined = /dev/termination-log if it exists. */
  terminationLog?: string | null;
  /** The config file this plan came from, if any. */
  source?: string;
  /** The read-only HTTP listener (src/observe/); absent: off. */
  http?: { host: string; port: number };
  /** The control socket: a path, null = none, undefined = the default (src/control/socket-path.ts). */
  controlSocket?: string | null;
}
