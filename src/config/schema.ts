// The zod schema of supervisor.yaml: validates the file (strict objects, so a
// typo is an error), converts units and signal names, and generates the JSON
// Schema editors use. Built-in defaults are NOT applied here (see defaults.ts):
// every program field stays optional so `defaults:` can be merged in later.
// Written with zod/mini (the same zod, functional API): it evaluates far less
// at load than the method-chaining build, and config mode pays that at every
// start (docs/benchmarks.md, "Start-up and footprint").
import * as z from 'zod/mini';
import { PROBE_DEFAULTS, PROGRAM_DEFAULTS, SUPERVISOR_DEFAULTS } from './defaults.js';
import { normaliseSignal, SIGNAL_NAMES, signalSpelling } from './signals.js';
import { didYouMean } from './suggest.js';
import {
  DURATION_HINT,
  DURATION_PATTERN,
  formatDuration,
  parseDuration,
  parseSizeOrPercent,
  showValue,
  SIZE_HINT,
  SIZE_OR_PERCENT_PATTERN,
} from './units.js';
import { parseListen } from './listen.js';

export { parseListen };

export const PROGRAM_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
export const RESTART_POLICIES = ['always', 'on-failure', 'never'] as const;
export const OUTPUT_MODES = ['inherit', 'json'] as const;
export const END_ACTIONS = ['continue', 'shutdown'] as const;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export const LOG_FORMATS = ['json', 'pretty', 'auto'] as const;
export const MEMORY_ENFORCEMENTS = ['auto', 'cgroup', 'watchdog', 'rlimit'] as const;
export const RLIMIT_KINDS = ['data', 'as'] as const;

/** Adds a description (for the JSON Schema and editors) to a schema; a new schema, the given one is unchanged. */
const described = <T extends z.ZodMiniType>(schema: T, description: string): T => schema.check(z.describe(description));

/** An optional field with its description. */
const optional = <T extends z.ZodMiniType>(schema: T, description?: string) =>
  description === undefined ? z.optional(schema) : described(z.optional(schema), description);

/** `500ms`, `30s`, `1m30s`, or a number of seconds → milliseconds. */
const duration = z.pipe(
  z.union(
    [
      z.number({ error: DURATION_HINT }).check(z.nonnegative({ error: DURATION_HINT })),
      z.string({ error: DURATION_HINT }).check(z.regex(new RegExp(DURATION_PATTERN), { error: DURATION_HINT })),
    ],
    { error: DURATION_HINT },
  ),
  z.transform((value: number | string, ctx) => {
    try {
      return parseDuration(value);
    } catch (error) {
      ctx.issues.push({ code: 'custom', message: (error as Error).message, input: value });
      return z.NEVER;
    }
  }),
);

const durationField = (what: string, defaultMs?: number) =>
  optional(
    duration,
    `${what} A duration like 500ms, 30s, 2m, 1m30s; a bare number means seconds.` +
      (defaultMs === undefined ? '' : ` Default: ${formatDuration(defaultMs)}.`),
  );

const signal = z.pipe(
  z.string(),
  z.transform((value: string, ctx) => {
    const name = normaliseSignal(value);
    if (name === undefined) {
      ctx.issues.push({
        code: 'custom',
        message: `expected a signal name like SIGTERM, TERM or sigterm, got ${showValue(value)}${didYouMean(signalSpelling(value), SIGNAL_NAMES)}`,
        input: value,
      });
      return z.NEVER;
    }
    return name;
  }),
);

/** The message for a NUL byte, which exec cannot pass on. Never quotes the value (it may be a secret). */
const NUL_MESSAGE = 'must not contain a NUL byte (exec cannot pass one; the value is not shown)';
const hasNul = (value: string): boolean => value.includes('\0');

/**
 * The smallest memory cap (max or high) a program may have: 4 MiB. Smaller values
 * are nearly always a unit typo (64Ki for 64Mi): in a cgroup v1 leaf, python3 and
 * node are OOM-killed at start under 4 MiB (they start at 8 MiB); only tiny
 * programs whose pages are already charged elsewhere run below it.
 */
export const MIN_MEMORY_CAP_BYTES = 4 * 1024 * 1024;

const ID_MAX = 2 ** 32 - 2;
const userOrGroup = (what: 'user' | 'group', id: 'uid' | 'gid') =>
  z.union([z.string().check(z.minLength(1)), z.number().check(z.int(), z.gte(0), z.lte(ID_MAX))], {
    error: `expected a ${what} name or a numeric ${id}`,
  });

/** A whole number, with the given message for a fraction. */
const integer = (error?: string) => z.number().check(error === undefined ? z.int() : z.int({ error }));

const endAction = z.union(
  [
    z.enum(END_ACTIONS),
    z.strictObject({
      action: described(z.enum(END_ACTIONS), 'continue: the other programs keep running; shutdown: stop everything.'),
      exit_code: optional(
        integer('expected an exit code from 0 to 255').check(
          z.gte(0, { error: 'expected an exit code from 0 to 255' }),
          z.lte(255, { error: 'expected an exit code from 0 to 255' }),
        ),
        "The supervisor's exit code when this action shuts it down. Default: derived from the program's exit.",
      ),
    }),
  ],
  { error: 'expected continue, shutdown, or {action: shutdown, exit_code: N}' },
);

const envValue = z
  .pipe(
    z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string, number or boolean' }),
    z.transform((value: string | number | boolean) => String(value)),
  )
  .check(z.refine((value) => !hasNul(value), { error: NUL_MESSAGE }));

const env = described(
  z.record(
    z.string().check(z.regex(/^[^=\0]+$/, { error: 'expected an environment variable name (not empty, no "=" or NUL byte)' })),
    envValue,
  ),
  "Environment variables for the child, merged over the supervisor's own environment. " +
    'Numbers and booleans become strings (quote values like "1.10" to keep them as written).',
);

const backoff = described(
  z.strictObject({
    initial: durationField('Delay before the first restart.', PROGRAM_DEFAULTS.backoff.initialMs),
    factor: optional(
      z.number().check(z.gte(1, { error: 'expected a number >= 1' })),
      `Each further restart waits this many times longer. At least 1. Default: ${PROGRAM_DEFAULTS.backoff.factor}.`,
    ),
    max: durationField('Longest delay between restarts.', PROGRAM_DEFAULTS.backoff.maxMs),
    reset_after: durationField(
      'A run that stays up this long counts as stable: the next delay starts again from `initial`.',
      PROGRAM_DEFAULTS.backoff.resetAfterMs,
    ),
  }),
  'Delay between restarts, growing exponentially. Set fields merge over `defaults.backoff` one by one.',
);

const crashLoop = described(
  z.strictObject({
    max_restarts: optional(
      integer().check(z.gte(0, { error: 'expected a number >= 0' })),
      `How many restarts the window tolerates. Default: ${PROGRAM_DEFAULTS.crashLoop.maxRestarts}.`,
    ),
    window: durationField('The time window the restarts are counted in.', PROGRAM_DEFAULTS.crashLoop.windowMs),
  }),
  'More than `max_restarts` restarts within `window` turns the program fatal (see on_fatal).',
);

const SIZE_OR_PERCENT_HINT = `${SIZE_HINT}, or a percentage of the container's limit like 50%`;

/** `256Mi`, `1G`, a number of bytes, or `50%` of the container's memory limit. */
const sizeOrPercent = z.pipe(
  z.union(
    [
      z.number({ error: SIZE_OR_PERCENT_HINT }).check(z.nonnegative({ error: SIZE_OR_PERCENT_HINT })),
      z.string({ error: SIZE_OR_PERCENT_HINT }).check(z.regex(new RegExp(`^(?:${SIZE_OR_PERCENT_PATTERN})$`), { error: SIZE_OR_PERCENT_HINT })),
    ],
    { error: SIZE_OR_PERCENT_HINT },
  ),
  z.transform((value: number | string, ctx) => {
    try {
      return parseSizeOrPercent(value);
    } catch (error) {
      ctx.issues.push({ code: 'custom', message: (error as Error).message, input: value });
      return z.NEVER;
    }
  }),
);

/** A memory cap: a size at or above the floor, or a percentage (checked against the container's limit at start). */
const memoryCap = sizeOrPercent.check(
  z.refine((value) => !('bytes' in value) || value.bytes >= MIN_MEMORY_CAP_BYTES, {
    error: (issue) =>
      `expected at least 4Mi (${MIN_MEMORY_CAP_BYTES} bytes; below that, programs are killed as they start), got ${(issue.input as { bytes: number }).bytes} bytes`,
  }),
);

const oomScoreAdj = () =>
  integer().check(z.gte(-1000, { error: 'expected an integer from -1000 to 1000' }), z.lte(1000, { error: 'expected an integer from -1000 to 1000' }));

const programMemory = described(
  z.strictObject({
    max: optional(
      memoryCap,
      "Memory cap of the program's whole process tree: a size (256Mi) or a percentage of the container's limit (50%). Past it the program is stopped or killed, logged, and restarted per its policy.",
    ),
    high: optional(
      memoryCap,
      'Early-warning mark: crossing it logs child.memory_high (and throttles reclaim under cgroup v2 enforcement). Below max.',
    ),
    enforce: optional(
      z.enum(MEMORY_ENFORCEMENTS),
      'cgroup: own leaf cgroup, exact, enforced by the kernel (needs a writable cgroup fs); watchdog: the supervisor samples the process tree and stops it at the cap; ' +
        'rlimit: RLIMIT_DATA/RLIMIT_AS, allocations fail past the cap (not for Node, Go, JVM); auto: cgroup when possible, else watchdog. Default: auto.',
    ),
    rlimit: optional(
      z.enum(RLIMIT_KINDS),
      `With enforce: rlimit, which limit: data (RLIMIT_DATA, heap and private mappings) or as (RLIMIT_AS, all address space). Default: ${PROGRAM_DEFAULTS.memory.rlimit}.`,
    ),
    oom_score_adj: optional(
      oomScoreAdj(),
      `The child's oom_score_adj (never below the supervisor's own). Default: ${PROGRAM_DEFAULTS.memory.oomScoreAdj}.`,
    ),
    stop_grace: durationField('When the watchdog or the container guard stops the program: grace before SIGKILL.', PROGRAM_DEFAULTS.memory.stopGraceMs),
    oom_group: optional(
      z.boolean(),
      "With cgroup enforcement on cgroup v2: an OOM kill in the program's leaf kills its whole process tree (memory.oom.group=1). Default false: only the process the kernel picks dies, as on cgroup v1 (a master can re-fork its worker); the program restarts when its main process dies.",
    ),
    oom_loop: optional(
      z.strictObject({
        max_events: described(integer().check(z.gte(0, { error: 'expected a number >= 0' })), 'How many OOM kills and memory stops the window tolerates.'),
        window: described(duration, 'The time window they are counted in. A duration like 10m.'),
      }),
      'More than max_events OOM kills or memory stops within window turns the program fatal, so on_fatal (e.g. shutdown: the pod restarts) applies. Off by default: crash_loop still counts memory restarts.',
    ),
  }),
  'Memory cap and OOM handling of this program.',
);

/** Every program field that `defaults:` may also set. */
const sharedProgramFields = {
  env: optional(env),
  cwd: optional(
    z.string().check(z.minLength(1), z.refine((value) => !hasNul(value), { error: NUL_MESSAGE })),
    "Working directory of the child. A relative path is relative to the config file's directory.",
  ),
  user: optional(
    userOrGroup('user', 'uid'),
    'Run the child as this user (name from /etc/passwd, or numeric uid). Sets HOME, USER and LOGNAME unless env does.',
  ),
  group: optional(
    userOrGroup('group', 'gid'),
    "Run the child with this group (name from /etc/group, or numeric gid). Default: the user's primary group.",
  ),
  restart: optional(z.enum(RESTART_POLICIES), `When to restart the program after it exits. Default: ${PROGRAM_DEFAULTS.restart}.`),
  backoff: optional(backoff),
  start_secs: durationField(
    'The program must stay up this long to count as started (like supervisord startsecs).',
    PROGRAM_DEFAULTS.startSecsMs,
  ),
  crash_loop: optional(crashLoop),
  stop_signal: optional(signal, `Signal that asks the program to stop: SIGTERM, TERM or sigterm. Default: ${PROGRAM_DEFAULTS.stopSignal}.`),
  stop_grace: durationField('After the stop signal, wait this long, then SIGKILL.', PROGRAM_DEFAULTS.stopGraceMs),
  process_group: optional(
    z.boolean(),
    `Start the child in its own process group and signal the whole group. Default: ${PROGRAM_DEFAULTS.processGroup}.`,
  ),
  leftovers: optional(
    z.enum(['stop', 'keep']),
    `When a run's main process ends, the processes it left behind (daemons, background jobs): stop = stop_signal, SIGKILL after stop_grace, and the next run waits until they are gone; keep = leave them running. Default: ${PROGRAM_DEFAULTS.leftovers}.`,
  ),
  priority: optional(
    integer(),
    `Lower starts first (like supervisord): waits for every program with a lower number. Default: ${PROGRAM_DEFAULTS.priority}.`,
  ),
  output: optional(
    z.enum(OUTPUT_MODES),
    `inherit: child writes straight to the container's stdout/stderr; json: each line becomes a JSON log record. Default: ${PROGRAM_DEFAULTS.output}.`,
  ),
  on_exit: optional(endAction, `What to do when the program ends for good on its own (not restarted). Default: ${PROGRAM_DEFAULTS.onExit.action}.`),
  on_fatal: optional(endAction, `What to do when the program turns fatal (crash loop). Default: ${PROGRAM_DEFAULTS.onFatal.action}.`),
  memory: optional(programMemory),
};

const command = described(
  z
    .union(
      [
        z
          // Numbers and booleans become strings, as in env: `[sleep, 5]` means what it says.
          .array(
            z.pipe(
              z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string' }),
              z.transform((arg: string | number | boolean) => String(arg)),
            ),
          )
          .check(
            z.minLength(1, { error: 'must name a program to run, got an empty list' }),
            z.refine((argv) => argv[0] !== '', { error: 'the program to run (first item) must not be empty' }),
          ),
        z.string().check(z.minLength(1, { error: 'expected a non-empty command' })),
      ],
      { error: 'expected a list of strings (argv) or a string' },
    )
    .check(
      z.superRefine((value, ctx) => {
        // After the union, so the message never falls back to quoting the command.
        if (typeof value === 'string') {
          if (hasNul(value)) ctx.addIssue({ code: 'custom', message: NUL_MESSAGE });
        } else {
          value.forEach((arg, index) => hasNul(arg) && ctx.addIssue({ code: 'custom', message: NUL_MESSAGE, path: [index] }));
        }
      }),
    ),
  'The program to run: an argv list, or a string split into words like a shell would ' +
    '(quotes and backslashes; no $variables or globs) unless shell: true.',
);

export const PROBE_KINDS = ['exec', 'http', 'tcp', 'log'] as const;
export const DEPENDENCY_CONDITIONS = ['started', 'running', 'healthy', 'completed_successfully'] as const;

const positiveCount = (what: string, defaultValue: number) =>
  optional(integer('expected a whole number >= 1').check(z.gte(1, { error: 'expected a whole number >= 1' })), `${what} Default: ${defaultValue}.`);

/** `host:port`, `[v6]:port`, or a bare port (on 127.0.0.1). */
const TCP_TARGET = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):)?(\d{1,5})$/;
const TCP_HINT = 'expected host:port like 127.0.0.1:5432, or a port number';

/**
 * One probe, Kubernetes' fields (initial_delay, period, timeout, failure_threshold,
 * success_threshold) and exactly one check: exec, http, tcp or log.
 */
const probe = (which: 'readiness' | 'liveness' | 'startup') =>
  z
    .strictObject({
      exec: optional(
        command,
        "Run this command (argv list or a string split into words); exit 0 = success. It runs with the program's env, cwd and user, in its own process group, killed at timeout.",
      ),
      http: optional(
        z
          .string()
          .check(
            z.regex(/^https?:\/\/\S+$/, { error: 'expected an http:// or https:// URL' }),
            z.refine((v) => URL.canParse(v), { error: 'expected an http:// or https:// URL' }),
          ),
        'GET this URL; a 2xx or 3xx status = success (https: the certificate is not verified, as in Kubernetes).',
      ),
      tcp: optional(
        z
          .union([integer().check(z.gte(1), z.lte(65535)), z.string().check(z.regex(TCP_TARGET))], { error: TCP_HINT })
          .check(z.refine((v) => typeof v === 'number' || Number(TCP_TARGET.exec(v)![3]) <= 65535, { error: TCP_HINT })),
        'Connect to host:port (or a port on 127.0.0.1); a connection = success.',
      ),
      log: optional(
        z.string().check(
          z.minLength(1),
          z.refine(
            (v) => {
              try {
                new RegExp(v);
                return true;
              } catch {
                return false;
              }
            },
            { error: 'expected a regular expression (JavaScript syntax)' },
          ),
        ),
        "Readiness only: ready once a line of the program's output (stdout or stderr) matches this regular expression.",
      ),
      initial_delay: durationField('Wait this long after the program starts before the first probe.', 0),
      period: durationField('Time between probes.', PROBE_DEFAULTS.periodMs),
      timeout: durationField("A probe that takes longer fails (an exec probe's process group is then SIGKILLed).", PROBE_DEFAULTS.timeoutMs),
      failure_threshold: positiveCount('Consecutive failures before the probe counts as failed.', PROBE_DEFAULTS.failureThreshold),
      success_threshold: positiveCount(
        'Consecutive successes before the probe counts as passing again (must be 1 for liveness and startup).',
        PROBE_DEFAULTS.successThreshold,
      ),
    })
    .check(
      z.superRefine((value, ctx) => {
        const kinds = PROBE_KINDS.filter((kind) => value[kind] !== undefined);
        if (kinds.length !== 1) {
          ctx.addIssue({
            code: 'custom',
            message: kinds.length === 0 ? 'expected one check: exec, http, tcp or log' : `expected one check, got ${kinds.join(' and ')}`,
          });
        }
        if (which !== 'readiness' && value.log !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['log'], message: `a log probe can only be a readiness probe (a ${which} probe needs exec, http or tcp)` });
        }
        if (which !== 'readiness' && value.success_threshold !== undefined && value.success_threshold !== 1) {
          ctx.addIssue({ code: 'custom', path: ['success_threshold'], message: `must be 1 for a ${which} probe (as in Kubernetes)` });
        }
      }),
    );

const health = described(
  z.strictObject({
    readiness: optional(probe('readiness'), 'Whether the program can serve: child.ready / child.not_ready, and depends_on {condition: healthy}.'),
    liveness: optional(probe('liveness'), 'Whether the program is alive and not wedged: failing past failure_threshold restarts it (child.unhealthy).'),
    startup: optional(
      probe('startup'),
      'Until it succeeds once, readiness and liveness wait; failing past failure_threshold restarts the program (child.unhealthy).',
    ),
  }),
  'Probes, with the names and meanings of Kubernetes probes. None by default.',
);

const dependsOn = optional(
  z.union(
    [
      z.array(z.string()),
      z.record(
        z.string(),
        z.strictObject({
          condition: optional(
            z.enum(DEPENDENCY_CONDITIONS),
            'started: spawned; running: past start_secs (default); healthy: its readiness probe passed; completed_successfully: it exited 0 for good.',
          ),
        }),
      ),
    ],
    { error: 'expected a list of program names, or a mapping like {db: {condition: healthy}}' },
  ),
  'Programs that must be running (or have exited 0 for good) before this one starts; the mapping form sets a condition per program.',
);

export const programSchema = described(
  z.strictObject({
    command,
    shell: optional(z.boolean(), 'Run `command` (a string) with /bin/sh -c, so $variables, pipes and globs work. Default: false.'),
    depends_on: dependsOn,
    health: optional(health),
    critical: optional(
      z.boolean(),
      '/readyz and `supervisor probe ready` wait for this program. When no program is critical, they wait for every program. Default: false.',
    ),
    ...sharedProgramFields,
  }),
  'One supervised program.',
);

export const defaultsSchema = described(
  z.strictObject(sharedProgramFields),
  'Fields applied to every program that does not set them itself (nested sections merge field by field).',
);

export const PROGRAM_NAME_HINT = 'expected a program name: letters, digits, _ . - and not starting with _ . -';

export const configSchema = z
  .strictObject({
    version: optional(z.literal(1, { error: 'expected 1 (the only version so far)' }), 'Config file format version: 1.'),
    shutdown_timeout: durationField(
      'After this long in shutdown, every program still running gets SIGKILL.',
      SUPERVISOR_DEFAULTS.shutdownTimeoutMs,
    ),
    log: optional(
      z.strictObject({
        level: optional(z.enum(LOG_LEVELS), `Default: ${SUPERVISOR_DEFAULTS.log.level}.`),
        format: optional(z.enum(LOG_FORMATS), `auto = pretty when stdout is a terminal, else json. Default: ${SUPERVISOR_DEFAULTS.log.format}.`),
      }),
      "The supervisor's own log.",
    ),
    memory: optional(
      z.strictObject({
        poll_interval: durationField('How often the watchdog and the container guard sample memory. More than 0.', SUPERVISOR_DEFAULTS.memory.pollIntervalMs).check(
          z.refine((ms) => ms === undefined || ms > 0, { error: 'expected a duration above 0 (the watchdog would never sleep)' }),
        ),
        guard: optional(
          z.strictObject({
            enabled: optional(
              z.union([z.boolean(), z.literal('auto')], { error: 'expected true, false or auto' }),
              'auto: on whenever the container has a memory limit. Default: auto.',
            ),
            threshold: optional(sizeOrPercent, 'Act when the container uses this percentage of its limit (or this many bytes). Default: 95%.'),
          }),
          "The container guard: before the container's own limit is reached (where the kernel would kill the whole container under Kubernetes' oom.group), stop the program most over its share.",
        ),
        supervisor_oom_score_adj: optional(
          oomScoreAdj(),
          `The oom_score_adj the supervisor gives itself if it may. Default: ${SUPERVISOR_DEFAULTS.memory.oomScoreAdj}.`,
        ),
      }),
      'Memory settings of the supervisor itself.',
    ),
    termination_log: optional(
      z.union([z.string().check(z.minLength(1)), z.literal(false)], { error: 'expected a file path, or false' }),
      'Where to write a short summary of why the supervisor exited (Kubernetes terminationMessagePath). Default: /dev/termination-log when it exists; false: nowhere.',
    ),
    http: optional(
      z.strictObject({
        listen: described(
          z
            .string()
            .check(
              z.refine((v) => parseListen(v) !== undefined, {
                error: 'expected HOST:PORT with a port from 0 to 65535 (0: any free port), e.g. "0.0.0.0:9090" or "[::]:9090"',
              }),
            ),
          'Address of the read-only HTTP listener (/livez, /readyz, /startupz, /status, /metrics).',
        ),
      }),
      'The HTTP listener for Kubernetes probes and Prometheus. Off when absent.',
    ),
    control: optional(
      z.strictObject({
        socket: optional(
          z.union([z.string().check(z.minLength(1)), z.literal(false)], { error: 'expected a socket path, or false' }),
          'The Unix socket of `supervisor status|start|stop|restart|signal|probe` (created 0600). Default: $SUPERVISOR_SOCKET, else /run/supervisor.sock when PID 1 ($XDG_RUNTIME_DIR/supervisor.sock when /run is not writable); false: no socket.',
        ),
      }),
      'The control socket.',
    ),
    defaults: optional(defaultsSchema),
    programs: described(
      z
        .record(z.string().check(z.regex(PROGRAM_NAME_PATTERN, { error: PROGRAM_NAME_HINT })), programSchema)
        .check(z.refine((programs) => Object.keys(programs).length > 0, { error: 'expected at least one program' }), z.meta({ minProperties: 1 })),
      'The programs to supervise, by name.',
    ),
  })
  // Registered on this schema itself, not added as a check: salvage.ts omits fields of it, which zod refuses on a schema with checks.
  .register(z.globalRegistry, { title: 'supervisor.yaml', description: 'Configuration of the pid1 supervisor.' });

/** The file as written (what the JSON Schema describes). */
export type ConfigInput = z.input<typeof configSchema>;
export type ProgramConfigInput = z.input<typeof programSchema>;
export type DefaultsConfigInput = z.input<typeof defaultsSchema>;
/** The file after validation: durations in ms, signals normalised, env values strings; no defaults applied. */
export type Config = z.output<typeof configSchema>;
export type ProgramConfig = z.output<typeof programSchema>;
export type DefaultsConfig = z.output<typeof defaultsSchema>;
export type EndActionConfig = NonNullable<ProgramConfig['on_exit']>;

/** JSON Schema (draft 2020-12) of supervisor.yaml, from the same definition the validator uses. */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
}
