// Turns a validated config into the SupervisorPlan: applies `defaults:` and the
// built-in defaults, splits commands, merges environments, resolves users and
// groups, and orders the programs. Every problem found is reported together as
// one ConfigError pointing into the config file.
import { dirname, isAbsolute, resolve } from 'node:path';
import { PROBE_DEFAULTS, PROGRAM_DEFAULTS, SHELL_ARGV, SUPERVISOR_DEFAULTS } from '../config/defaults.js';
import { ConfigError, formatProblem, problemAt, type ConfigOrigin, type ConfigProblem, type PathSegment } from '../config/errors.js';
import type { LoadedConfig } from '../config/load.js';
import { parseListen } from '../config/listen.js';
import type { Config, EndActionConfig, ProgramConfig } from '../config/schema.js';
import { formatDuration } from '../config/units.js';
import { childEnv, inheritedEnv } from './env.js';
import { fieldSource, mergeDefaults } from './merge.js';
import { computeStartOrder } from './order.js';
import type { DependencyCondition, EndAction, HealthPlan, ProbeCheck, ProbePlan, ProgramMemoryPlan, ProgramPlan, SupervisorMemoryPlan, SupervisorPlan } from './types.js';
import { readUserDb, resolveIdentity, type PasswdEntry, type UserDb } from './users.js';
import { checkShellSyntax, type ShellChecker } from './shell-check.js';
import { splitWords, WordsError } from './words.js';

// Re-exported so the CLI gets both plan builders from one module.
export { buildSingleCommandPlan, type SingleCommandOptions } from './single.js';

export interface BuildPlanOptions {
  /** The supervisor's own environment, which every child inherits. Default: process.env. */
  env?: Record<string, string | undefined>;
  /** The config file name, recorded in the plan and used in errors. Default: origin.file. */
  source?: string;
  /** Where the config came from (LoadedConfig.origin), so problems get file:line:col. */
  origin?: ConfigOrigin;
  /** Base for relative `cwd:` when there is no source file. Default: process.cwd(). */
  cwd?: string;
  /** The user database; read from /etc/passwd and /etc/group only if some program sets user/group. */
  userDb?: UserDb | (() => UserDb);
  /** Checks `shell: true` scripts. Default: `/bin/sh -n`. */
  checkShell?: ShellChecker;
}

/** Collects problems at config paths, for one ConfigError at the end. */
class Problems {
  private readonly list: ConfigProblem[] = [];
  constructor(
    private readonly origin: ConfigOrigin | undefined,
    private readonly file: string,
  ) {}
  add(path: readonly PathSegment[], message: string): void {
    this.list.push(problemAt(this.origin, this.file, path, message));
  }
  throwIfAny(): void {
    if (this.list.length === 0) return;
    const unique = new Map(this.list.map((problem) => [formatProblem(problem), problem]));
    const sorted = [...unique.values()].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
    throw new ConfigError(sorted);
  }
}

/** The path of `field` for program `name`: in the program if it set the field, else in `defaults`. */
function pathOf(program: ProgramConfig, name: string, field: string, ...rest: PathSegment[]): PathSegment[] {
  return fieldSource(program, field) === 'program' ? ['programs', name, field, ...rest] : ['defaults', field, ...rest];
}

export function toEndAction(value: EndActionConfig | undefined, fallback: EndAction): EndAction {
  if (value === undefined) return { ...fallback };
  if (typeof value === 'string') return { action: value };
  return value.exit_code === undefined ? { action: value.action } : { action: value.action, exitCode: value.exit_code };
}

/** argv for a program, or a problem message. */
export function commandArgv(command: string | string[], shell: boolean): { argv: string[] } | { error: string } {
  if (shell) {
    if (typeof command !== 'string') return { error: 'with shell: true, command must be a string (the script for /bin/sh -c)' };
    return { argv: [...SHELL_ARGV, command] };
  }
  if (typeof command !== 'string') return { argv: [...command] };
  try {
    const argv = splitWords(command);
    return argv.length > 0 && argv[0] !== '' ? { argv } : { error: 'command has no program to run' };
  } catch (error) {
    if (error instanceof WordsError) return { error: `cannot split command into words: ${error.message}` };
    throw error;
  }
}

function programPlan(
  name: string,
  own: ProgramConfig,
  config: Config,
  context: { inherited: Record<string, string>; baseDir: string; userDb: () => UserDb; problems: Problems; checkShell: ShellChecker },
): ProgramPlan & { priority: number; dependsOn: string[]; dependsOnKeys: PathSegment[] } {
  const p = mergeDefaults(config.defaults, own);
  const { problems } = context;

  const shell = p.shell ?? PROGRAM_DEFAULTS.shell;
  const command = commandArgv(p.command, shell);
  if ('error' in command) problems.add(['programs', name, 'command'], command.error);
  else if (shell) {
    const complaint = context.checkShell(command.argv[command.argv.length - 1]!);
    if (complaint !== undefined) problems.add(['programs', name, 'command'], complaint);
  }

  let uid: number | undefined;
  let gid: number | undefined;
  let entry: PasswdEntry | undefined;
  if (p.user !== undefined || p.group !== undefined) {
    const resolved = resolveIdentity(context.userDb(), p.user, p.group);
    ({ uid, gid, entry } = resolved.identity);
    for (const problem of resolved.problems) problems.add(pathOf(own, name, problem.field), problem.message);
  }

  const configEnv = p.env ?? {};
  const b = PROGRAM_DEFAULTS.backoff;
  const backoff = {
    initialMs: p.backoff?.initial ?? b.initialMs,
    factor: p.backoff?.factor ?? b.factor,
    maxMs: p.backoff?.max ?? b.maxMs,
    resetAfterMs: p.backoff?.reset_after ?? b.resetAfterMs,
  };
  if (backoff.initialMs > backoff.maxMs) {
    problems.add(
      pathOf(own, name, 'backoff', 'initial'),
      `backoff.initial (${formatDuration(backoff.initialMs)}) is longer than backoff.max (${formatDuration(backoff.maxMs)})`,
    );
  }

  const max = p.memory?.max;
  const high = p.memory?.high;
  if (max !== undefined && high !== undefined && 'bytes' in max && 'bytes' in high && high.bytes > max.bytes) {
    problems.add(pathOf(own, name, 'memory', 'high'), `memory.high (${high.bytes} bytes) is above memory.max (${max.bytes} bytes): it could never be crossed`);
  }

  return {
    name,
    argv: 'argv' in command ? command.argv : [],
    env: childEnv(context.inherited, configEnv, uid, entry),
    envKeys: Object.keys(configEnv),
    ...(p.cwd === undefined ? {} : { cwd: isAbsolute(p.cwd) ? p.cwd : resolve(context.baseDir, p.cwd) }),
    ...(uid === undefined ? {} : { uid }),
    ...(gid === undefined ? {} : { gid }),
    ...(p.user === undefined ? {} : { user: String(p.user) }),
    restart: p.restart ?? PROGRAM_DEFAULTS.restart,
    backoff,
    startSecsMs: p.start_secs ?? PROGRAM_DEFAULTS.startSecsMs,
    crashLoop: {
      maxRestarts: p.crash_loop?.max_restarts ?? PROGRAM_DEFAULTS.crashLoop.maxRestarts,
      windowMs: p.crash_loop?.window ?? PROGRAM_DEFAULTS.crashLoop.windowMs,
    },
    stopSignal: p.stop_signal ?? PROGRAM_DEFAULTS.stopSignal,
    stopGraceMs: p.stop_grace ?? PROGRAM_DEFAULTS.stopGraceMs,
    processGroup: p.process_group ?? PROGRAM_DEFAULTS.processGroup,
    leftovers: p.leftovers ?? PROGRAM_DEFAULTS.leftovers,
    startAfter: [],
    output: p.output ?? PROGRAM_DEFAULTS.output,
    stdin: 'ignore',
    onExit: toEndAction(p.on_exit, PROGRAM_DEFAULTS.onExit),
    onFatal: toEndAction(p.on_fatal, PROGRAM_DEFAULTS.onFatal),
    memory: memoryPlan(p.memory),
    ...healthField(name, own.health, problems),
    ...dependencies(own.depends_on),
    priority: p.priority ?? PROGRAM_DEFAULTS.priority,
    ...(p.critical ? { critical: true } : {}),
  };
}

/** depends_on in either form: names (list order), their conditions (map form), and each entry's path segment for problems. */
function dependencies(dependsOn: ProgramConfig['depends_on']): {
  dependsOn: string[];
  dependsOnKeys: PathSegment[];
  startConditions?: Record<string, DependencyCondition>;
} {
  if (dependsOn === undefined) return { dependsOn: [], dependsOnKeys: [] };
  if (Array.isArray(dependsOn)) {
    const names = [...new Set(dependsOn)];
    return { dependsOn: names, dependsOnKeys: names.map((n) => dependsOn.indexOf(n)) };
  }
  const names = Object.keys(dependsOn);
  const startConditions = Object.fromEntries(names.map((n) => [n, dependsOn[n]?.condition ?? 'running'] as const));
  return { dependsOn: names, dependsOnKeys: names, startConditions };
}

function probePlan(name: string, which: string, probe: NonNullable<NonNullable<ProgramConfig['health']>['readiness']>, problems: Problems): ProbePlan {
  const d = PROBE_DEFAULTS;
  let check: ProbeCheck;
  if (probe.exec !== undefined) {
    const argv = commandArgv(probe.exec, false);
    if ('error' in argv) problems.add(['programs', name, 'health', which, 'exec'], argv.error);
    check = { kind: 'exec', argv: 'argv' in argv ? argv.argv : [] };
  } else if (probe.http !== undefined) check = { kind: 'http', url: probe.http };
  else if (probe.tcp !== undefined) check = tcpCheck(probe.tcp);
  else check = { kind: 'log', pattern: probe.log ?? '' };
  return {
    check,
    initialDelayMs: probe.initial_delay ?? d.initialDelayMs,
    periodMs: probe.period ?? d.periodMs,
    timeoutMs: probe.timeout ?? d.timeoutMs,
    failureThreshold: probe.failure_threshold ?? d.failureThreshold,
    successThreshold: probe.success_threshold ?? d.successThreshold,
  };
}

/** `host:port`, `[v6]:port` or a port (on 127.0.0.1); the schema checked the form. */
export function tcpCheck(target: string | number): ProbeCheck {
  if (typeof target === 'number') return { kind: 'tcp', host: '127.0.0.1', port: target };
  const colon = target.lastIndexOf(':');
  if (colon === -1) return { kind: 'tcp', host: '127.0.0.1', port: Number(target) };
  const host = target.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { kind: 'tcp', host, port: Number(target.slice(colon + 1)) };
}

function healthField(name: string, health: ProgramConfig['health'], problems: Problems): { health?: HealthPlan } {
  if (health === undefined) return {};
  const out: HealthPlan = {};
  for (const which of ['readiness', 'liveness', 'startup'] as const) {
    const probe = health[which];
    if (probe !== undefined) out[which] = probePlan(name, which, probe, problems);
  }
  return Object.keys(out).length === 0 ? {} : { health: out };
}

function memoryPlan(m: ProgramConfig['memory']): ProgramMemoryPlan {
  const d = PROGRAM_DEFAULTS.memory;
  return {
    ...(m?.max === undefined ? {} : { max: m.max }),
    ...(m?.high === undefined ? {} : { high: m.high }),
    enforce: m?.enforce ?? d.enforce,
    rlimit: m?.rlimit ?? d.rlimit,
    oomScoreAdj: m?.oom_score_adj ?? d.oomScoreAdj,
    stopGraceMs: m?.stop_grace ?? d.stopGraceMs,
    ...(m?.oom_group === undefined ? {} : { oomGroup: m.oom_group }),
    ...(m?.oom_loop === undefined ? {} : { oomLoop: { maxEvents: m.oom_loop.max_events, windowMs: m.oom_loop.window } }),
  };
}

function supervisorMemoryPlan(m: Config['memory']): SupervisorMemoryPlan {
  const d = SUPERVISOR_DEFAULTS.memory;
  return {
    pollIntervalMs: m?.poll_interval ?? d.pollIntervalMs,
    guard: {
      enabled: m?.guard?.enabled ?? d.guard.enabled,
      threshold: m?.guard?.threshold ?? d.guard.threshold,
    },
    oomScoreAdj: m?.supervisor_oom_score_adj ?? d.oomScoreAdj,
  };
}

function isLoaded(input: Config | LoadedConfig): input is LoadedConfig {
  return 'config' in input && 'origin' in input;
}

/**
 * Builds the plan from a validated config, or from what loadConfigFile returned
 * (then problems point into that file). Throws a ConfigError listing every problem.
 */
export function buildPlan(input: Config | LoadedConfig, options: BuildPlanOptions = {}): SupervisorPlan {
  const config = isLoaded(input) ? input.config : input;
  const origin = options.origin ?? (isLoaded(input) ? input.origin : undefined);
  const source = options.source ?? origin?.file;
  const problems = new Problems(origin, source ?? '<config>');
  const inherited = inheritedEnv(options.env ?? process.env);
  const baseDir = source !== undefined ? dirname(resolve(options.cwd ?? process.cwd(), source)) : (options.cwd ?? process.cwd());
  let db: UserDb | undefined;
  const userDb = (): UserDb => (db ??= typeof options.userDb === 'function' ? options.userDb() : (options.userDb ?? readUserDb()));

  const built = Object.entries(config.programs).map(([name, program]) =>
    programPlan(name, program, config, { inherited, baseDir, userDb, problems, checkShell: options.checkShell ?? checkShellSyntax }),
  );

  const byName = new Map(built.map((program) => [program.name, program]));
  const { order, startAfter, problems: orderProblems } = computeStartOrder(built);
  for (const problem of orderProblems) {
    problems.add(['programs', problem.program, 'depends_on', byName.get(problem.program)!.dependsOnKeys[problem.index]!], problem.message);
  }
  for (const program of built) {
    for (const [dependency, condition] of Object.entries(program.startConditions ?? {})) {
      if (condition === 'healthy' && byName.has(dependency) && byName.get(dependency)!.health?.readiness === undefined) {
        problems.add(
          ['programs', program.name, 'depends_on', dependency, 'condition'],
          `condition healthy needs a readiness probe on ${JSON.stringify(dependency)} (health.readiness), and it has none`,
        );
      }
      if (condition === 'completed_successfully' && byName.get(dependency)?.restart === 'always') {
        problems.add(
          ['programs', program.name, 'depends_on', dependency, 'condition'],
          `condition completed_successfully needs ${JSON.stringify(dependency)} to end (restart: never or on-failure); with restart: always it never completes`,
        );
      }
    }
  }
  problems.throwIfAny();

  const programs = order.map((name) => {
    const { priority: _priority, dependsOn: _dependsOn, dependsOnKeys: _keys, ...plan } = byName.get(name)!;
    return { ...plan, startAfter: startAfter[name] ?? [] };
  });

  return {
    programs,
    log: {
      level: config.log?.level ?? SUPERVISOR_DEFAULTS.log.level,
      format: config.log?.format ?? SUPERVISOR_DEFAULTS.log.format,
    },
    shutdownTimeoutMs: config.shutdown_timeout ?? SUPERVISOR_DEFAULTS.shutdownTimeoutMs,
    memory: supervisorMemoryPlan(config.memory),
    ...(config.termination_log === undefined ? {} : { terminationLog: config.termination_log === false ? null : config.termination_log }),
    singleCommand: false,
    ...(config.http ? { http: parseListen(config.http.listen)! } : {}),
    ...(config.control?.socket === undefined ? {} : { controlSocket: config.control.socket === false ? null : config.control.socket }),
    ...(source === undefined ? {} : { source }),
  };
}
