// The zod schema of supervisor.yaml: validates the file (strict objects, so a
// typo is an error), converts units and signal names, and generates the JSON
// Schema editors use. Built-in defaults are NOT applied here (see defaults.ts):
// every program field stays optional so `defaults:` can be merged in later.
import * as z from 'zod';
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

/** `500ms`, `30s`, `1m30s`, or a number of seconds → milliseconds. */
const duration = z
  .union(
    [
      z.number({ error: DURATION_HINT }).nonnegative({ error: DURATION_HINT }),
      z.string({ error: DURATION_HINT }).regex(new RegExp(DURATION_PATTERN), { error: DURATION_HINT }),
    ],
    { error: DURATION_HINT },
  )
  .transform((value, ctx) => {
    try {
      return parseDuration(value);
    } catch (error) {
      ctx.issues.push({ code: 'custom', message: (error as Error).message, input: value });
      return z.NEVER;
    }
  });

const durationField = (what: string, defaultMs?: number) =>
  duration
    .optional()
    .describe(
      `${what} A duration like 500ms, 30s, 2m, 1m30s; a bare number means seconds.` +
        (defaultMs === undefined ? '' : ` Default: ${formatDuration(defaultMs)}.`),
    );

const signal = z.string().transform((value, ctx) => {
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
});

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
  z.union([z.string().min(1), z.number().int().min(0).max(ID_MAX)], {
    error: `expected a ${what} name or a numeric ${id}`,
  });

const endAction = z.union(
  [
    z.enum(END_ACTIONS),
    z.strictObject({
      action: z.enum(END_ACTIONS).describe('continue: the other programs keep running; shutdown: stop everything.'),
      exit_code: z
        .number()
        .int({ error: 'expected an exit code from 0 to 255' })
        .min(0, { error: 'expected an exit code from 0 to 255' })
        .max(255, { error: 'expected an exit code from 0 to 255' })
        .optional()
        .describe("The supervisor's exit code when this action shuts it down. Default: derived from the program's exit."),
    }),
  ],
  { error: 'expected continue, shutdown, or {action: shutdown, exit_code: N}' },
);

const envValue = z
  .union([z.string(), z.number(), z.boolean()], { error: 'expected a string, number or boolean' })
  .transform((value) => String(value))
  .refine((value) => !hasNul(value), { error: NUL_MESSAGE });

const env = z
  .record(
    z.string().regex(/^[^=\0]+$/, { error: 'expected an environment variable name (not empty, no "=" or NUL byte)' }),
    envValue,
  )
  .describe(
    "Environment variables for the child, merged over the supervisor's own environment. " +
      'Numbers and booleans become strings (quote values like "1.10" to keep them as written).',
  );

const backoff = z
  .strictObject({
    initial: durationField('Delay before the first restart.', PROGRAM_DEFAULTS.backoff.initialMs),
    factor: z
      .number()
      .min(1, { error: 'expected a number >= 1' })
      .optional()
      .describe(`Each further restart waits this many times longer. At least 1. Default: ${PROGRAM_DEFAULTS.backoff.factor}.`),
    max: durationField('Longest delay between restarts.', PROGRAM_DEFAULTS.backoff.maxMs),
    reset_after: durationField(
      'A run that stays up this long counts as stable: the next delay starts again from `initial`.',
      PROGRAM_DEFAULTS.backoff.resetAfterMs,
    ),
  })
  .describe('Delay between restarts, growing exponentially. Set fields merge over `defaults.backoff` one by one.');

const crashLoop = z
  .strictObject({
    max_restarts: z
      .number()
      .int()
      .min(0, { error: 'expected a number >= 0' })
      .optional()
      .describe(`How many restarts the window tolerates. Default: ${PROGRAM_DEFAULTS.crashLoop.maxRestarts}.`),
    window: durationField('The time window the restarts are counted in.', PROGRAM_DEFAULTS.crashLoop.windowMs),
  })
  .describe('More than `max_restarts` restarts within `window` turns the program fatal (see on_fatal).');

const SIZE_OR_PERCENT_HINT = `${SIZE_HINT}, or a percentage of the container's limit like 50%`;

/** `256Mi`, `1G`, a number of bytes, or `50%` of the container's memory limit. */
const sizeOrPercent = z
  .union(
    [
      z.number({ error: SIZE_OR_PERCENT_HINT }).nonnegative({ error: SIZE_OR_PERCENT_HINT }),
      z.string({ error: SIZE_OR_PERCENT_HINT }).regex(new RegExp(`^(?:${SIZE_OR_PERCENT_PATTERN})$`), { error: SIZE_OR_PERCENT_HINT }),
    ],
    { error: SIZE_OR_PERCENT_HINT },
  )
  .transform((value, ctx) => {
    try {
      return parseSizeOrPercent(value);
    } catch (error) {
      ctx.issues.push({ code: 'custom', message: (error as Error).message, input: value });
      return z.NEVER;
    }
  });

/** A memory cap: a size at or above the floor, or a percentage (checked against the container's limit at start). */
const memoryCap = sizeOrPercent.refine((value) => !('bytes' in value) || value.bytes >= MIN_MEMORY_CAP_BYTES, {
  error: (issue) =>
    `expected at least 4Mi (${MIN_MEMORY_CAP_BYTES} bytes; below that, programs are killed as they start), got ${(issue.input as { bytes: number }).bytes} bytes`,
});

const programMemory = z
  .strictObject({
    max: memoryCap
      .optional()
      .describe("Memory cap of the program's whole process tree: a size (256Mi) or a percentage of the container's limit (50%). Past it the program is stopped or killed, logged, and restarted per its policy."),
    high: memoryCap
      .optional()
      .describe('Early-warning mark: crossing it logs child.memory_high (and throttles reclaim under cgroup v2 enforcement). Below max.'),
    enforce: z
      .enum(MEMORY_ENFORCEMENTS)
      .optional()
      .describe(
        'cgroup: own leaf cgroup, exact, enforced by the kernel (needs a writable cgroup fs); watchdog: the supervisor samples the process tree and stops it at the cap; ' +
          'rlimit: RLIMIT_DATA/RLIMIT_AS, allocations fail past the cap (not for Node, Go, JVM); auto: cgroup when possible, else watchdog. Default: auto.',
      ),
    rlimit: z
      .enum(RLIMIT_KINDS)
      .optional()
      .describe(`With enforce: rlimit, which limit: data (RLIMIT_DATA, heap and private mappings) or as (RLIMIT_AS, all address space). Default: ${PROGRAM_DEFAULTS.memory.rlimit}.`),
    oom_score_adj: z
      .number()
      .int()
      .min(-1000, { error: 'expected an integer from -1000 to 1000' })
      .max(1000, { error: 'expected an integer from -1000 to 1000' })
      .optional()
      .describe(`The child's oom_score_adj (never below the supervisor's own). Default: ${PROGRAM_DEFAULTS.memory.oomScoreAdj}.`),
    stop_grace: durationField('When the watchdog or the container guard stops the program: grace before SIGKILL.', PROGRAM_DEFAULTS.memory.stopGraceMs),
    oom_group: z
      .boolean()
      .optional()
      .describe("With cgroup enforcement on cgroup v2: an OOM kill in the program's leaf kills its whole process tree (memory.oom.group=1). Default false: only the process the kernel picks dies, as on cgroup v1 (a master can re-fork its worker); the program restarts when its main process dies."),
    oom_loop: z
      .strictObject({
        max_events: z.number().int().min(0, { error: 'expected a number >= 0' }).describe('How many OOM kills and memory stops the window tolerates.'),
        window: duration.describe('The time window they are counted in. A duration like 10m.'),
      })
      .optional()
      .describe('More than max_events OOM kills or memory stops within window turns the program fatal, so on_fatal (e.g. shutdown: the pod restarts) applies. Off by default: crash_loop still counts memory restarts.'),
  })
  .describe('Memory cap and OOM handling of this program.');

/** Every program field that `defaults:` may also set. */
const sharedProgramFields = {
  env: env.optional(),
  cwd: z
    .string()
    .min(1)
    .refine((value) => !hasNul(value), { error: NUL_MESSAGE })
    .optional()
    .describe("Working directory of the child. A relative path is relative to the config file's directory."),
  user: userOrGroup('user', 'uid')
    .optional()
    .describe('Run the child as this user (name from /etc/passwd, or numeric uid). Sets HOME, USER and LOGNAME unless env does.'),
  group: userOrGroup('group', 'gid')
    .optional()
    .describe("Run the child with this group (name from /etc/group, or numeric gid). Default: the user's primary group."),
  restart: z
    .enum(RESTART_POLICIES)
    .optional()
    .describe(`When to restart the program after it exits. Default: ${PROGRAM_DEFAULTS.restart}.`),
  backoff: backoff.optional(),
  start_secs: durationField(
    'The program must stay up this long to count as started (like supervisord startsecs).',
    PROGRAM_DEFAULTS.startSecsMs,
  ),
  crash_loop: crashLoop.optional(),
  stop_signal: signal
    .optional()
    .describe(`Signal that asks the program to stop: SIGTERM, TERM or sigterm. Default: ${PROGRAM_DEFAULTS.stopSignal}.`),
  stop_grace: durationField('After the stop signal, wait this long, then SIGKILL.', PROGRAM_DEFAULTS.stopGraceMs),
  process_group: z
    .boolean()
    .optional()
    .describe(
      `Start the child in its own process group and signal the whole group. Default: ${PROGRAM_DEFAULTS.processGroup}.`,
    ),
  priority: z
    .number()
    .int()
    .optional()
    .describe(`Lower starts first (like supervisord): waits for every program with a lower number. Default: ${PROGRAM_DEFAULTS.priority}.`),
  output: z
    .enum(OUTPUT_MODES)
    .optional()
    .describe(`inherit: child writes straight to the container's stdout/stderr; json: each line becomes a JSON log record. Default: ${PROGRAM_DEFAULTS.output}.`),
  on_exit: endAction
    .optional()
    .describe(`What to do when the program ends for good on its own (not restarted). Default: ${PROGRAM_DEFAULTS.onExit.action}.`),
  on_fatal: endAction
    .optional()
    .describe(`What to do when the program turns fatal (crash loop). Default: ${PROGRAM_DEFAULTS.onFatal.action}.`),
  memory: programMemory.optional(),
};

const command = z
  .union(
    [
      z
        // Numbers and booleans become strings, as in env: `[sleep, 5]` means what it says.
        .array(z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string' }).transform((arg) => String(arg)))
        .min(1, { error: 'must name a program to run, got an empty list' })
        .refine((argv) => argv[0] !== '', { error: 'the program to run (first item) must not be empty' }),
      z.string().min(1, { error: 'expected a non-empty command' }),
    ],
    { error: 'expected a list of strings (argv) or a string' },
  )
  .superRefine((value, ctx) => {
    // After the union, so the message never falls back to quoting the command.
    if (typeof value === 'string') {
      if (hasNul(value)) ctx.addIssue({ code: 'custom', message: NUL_MESSAGE });
    } else {
      value.forEach((arg, index) => hasNul(arg) && ctx.addIssue({ code: 'custom', message: NUL_MESSAGE, path: [index] }));
    }
  })
  .describe(
    'The program to run: an argv list, or a string split into words like a shell would ' +
      '(quotes and backslashes; no $variables or globs) unless shell: true.',
  );

export const PROBE_KINDS = ['exec', 'http', 'tcp', 'log'] as const;
export const DEPENDENCY_CONDITIONS = ['started', 'running', 'healthy', 'completed_successfully'] as const;

const positiveCount = (what: string, defaultValue: number) =>
  z
    .number()
    .int({ error: 'expected a whole number >= 1' })
    .min(1, { error: 'expected a whole number >= 1' })
    .optional()
    .describe(`${what} Default: ${defaultValue}.`);

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
      exec: command.optional().describe('Run this command (argv list or a string split into words); exit 0 = success. It runs with the program\'s env, cwd and user, in its own process group, killed at timeout.'),
      http: z
        .string()
        .regex(/^https?:\/\/\S+$/, { error: 'expected an http:// or https:// URL' })
        .refine((v) => URL.canParse(v), { error: 'expected an http:// or https:// URL' })
        .optional()
        .describe('GET this URL; a 2xx or 3xx status = success (https: the certificate is not verified, as in Kubernetes).'),
      tcp: z
        .union([z.number().int().min(1).max(65535), z.string().regex(TCP_TARGET)], { error: TCP_HINT })
        .refine((v) => typeof v === 'number' || Number(TCP_TARGET.exec(v)![3]) <= 65535, { error: TCP_HINT })
        .optional()
        .describe('Connect to host:port (or a port on 127.0.0.1); a connection = success.'),
      log: z
        .string()
        .min(1)
        .refine(
          (v) => {
            try {
              new RegExp(v);
              return true;
            } catch {
              return false;
            }
          },
          { error: 'expected a regular expression (JavaScript syntax)' },
        )
        .optional()
        .describe('Readiness only: ready once a line of the program\'s output (stdout or stderr) matches this regular expression.'),
      initial_delay: durationField('Wait this long after the program starts before the first probe.', 0),
      period: durationField('Time between probes.', PROBE_DEFAULTS.periodMs),
      timeout: durationField('A probe that takes longer fails (an exec probe\'s process group is then SIGKILLed).', PROBE_DEFAULTS.timeoutMs),
      failure_threshold: positiveCount('Consecutive failures before the probe counts as failed.', PROBE_DEFAULTS.failureThreshold),
      success_threshold: positiveCount(
        'Consecutive successes before the probe counts as passing again (must be 1 for liveness and startup).',
        PROBE_DEFAULTS.successThreshold,
      ),
    })
    .superRefine((value, ctx) => {
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
    });

const health = z
  .strictObject({
    readiness: probe('readiness')
      .optional()
      .describe('Whether the program can serve: child.ready / child.not_ready, and depends_on {condition: healthy}.'),
    liveness: probe('liveness').optional().describe('Whether the program is alive and not wedged: failing past failure_threshold restarts it (child.unhealthy).'),
    startup: probe('startup')
      .optional()
      .describe('Until it succeeds once, readiness and liveness wait; failing past failure_threshold restarts the program (child.unhealthy).'),
  })
  .describe('Probes, with the names and meanings of Kubernetes probes. None by default.');

const dependsOn = z
  .union(
    [
      z.array(z.string()),
      z.record(
        z.string(),
        z.strictObject({
          condition: z
            .enum(DEPENDENCY_CONDITIONS)
            .optional()
            .describe('started: spawned; running: past start_secs (default); healthy: its readiness probe passed; completed_successfully: it exited 0 for good.'),
        }),
      ),
    ],
    { error: 'expected a list of program names, or a mapping like {db: {condition: healthy}}' },
  )
  .optional()
  .describe('Programs that must be running (or have exited 0 for good) before this one starts; the mapping form sets a condition per program.');

export const programSchema = z
  .strictObject({
    command,
    shell: z
      .boolean()
      .optional()
      .describe('Run `command` (a string) with /bin/sh -c, so $variables, pipes and globs work. Default: false.'),
    depends_on: dependsOn,
    health: health.optional(),
    critical: z
      .boolean()
      .optional()
      .describe('/readyz and `supervisor probe ready` wait for this program. When no program is critical, they wait for every program. Default: false.'),
    ...sharedProgramFields,
  })
  .describe('One supervised program.');

export const defaultsSchema = z
  .strictObject(sharedProgramFields)
  .describe('Fields applied to every program that does not set them itself (nested sections merge field by field).');

export const PROGRAM_NAME_HINT = 'expected a program name: letters, digits, _ . - and not starting with _ . -';

export const configSchema = z
  .strictObject({
    version: z.literal(1, { error: 'expected 1 (the only version so far)' }).optional().describe('Config file format version: 1.'),
    shutdown_timeout: durationField(
      'After this long in shutdown, every program still running gets SIGKILL.',
      SUPERVISOR_DEFAULTS.shutdownTimeoutMs,
    ),
    log: z
      .strictObject({
        level: z.enum(LOG_LEVELS).optional().describe(`Default: ${SUPERVISOR_DEFAULTS.log.level}.`),
        format: z
          .enum(LOG_FORMATS)
          .optional()
          .describe(`auto = pretty when stdout is a terminal, else json. Default: ${SUPERVISOR_DEFAULTS.log.format}.`),
      })
      .optional()
      .describe("The supervisor's own log."),
    memory: z
      .strictObject({
        poll_interval: durationField('How often the watchdog and the container guard sample memory. More than 0.', SUPERVISOR_DEFAULTS.memory.pollIntervalMs).refine(
          (ms) => ms === undefined || ms > 0,
          { error: 'expected a duration above 0 (the watchdog would never sleep)' },
        ),
        guard: z
          .strictObject({
            enabled: z
              .union([z.boolean(), z.literal('auto')], { error: 'expected true, false or auto' })
              .optional()
              .describe('auto: on whenever the container has a memory limit. Default: auto.'),
            threshold: sizeOrPercent
              .optional()
              .describe('Act when the container uses this percentage of its limit (or this many bytes). Default: 95%.'),
          })
          .optional()
          .describe("The container guard: before the container's own limit is reached (where the kernel would kill the whole container under Kubernetes' oom.group), stop the program most over its share."),
        supervisor_oom_score_adj: z
          .number()
          .int()
          .min(-1000, { error: 'expected an integer from -1000 to 1000' })
          .max(1000, { error: 'expected an integer from -1000 to 1000' })
          .optional()
          .describe(`The oom_score_adj the supervisor gives itself if it may. Default: ${SUPERVISOR_DEFAULTS.memory.oomScoreAdj}.`),
      })
      .optional()
      .describe('Memory settings of the supervisor itself.'),
    termination_log: z
      .union([z.string().min(1), z.literal(false)], { error: 'expected a file path, or false' })
      .optional()
      .describe('Where to write a short summary of why the supervisor exited (Kubernetes terminationMessagePath). Default: /dev/termination-log when it exists; false: nowhere.'),
    http: z
      .strictObject({
        listen: z
          .string()
          .refine((v) => parseListen(v) !== undefined, { error: 'expected HOST:PORT with a port from 0 to 65535 (0: any free port), e.g. "0.0.0.0:9090" or "[::]:9090"' })
          .describe('Address of the read-only HTTP listener (/livez, /readyz, /startupz, /status, /metrics).'),
      })
      .optional()
      .describe('The HTTP listener for Kubernetes probes and Prometheus. Off when absent.'),
    control: z
      .strictObject({
        socket: z
          .union([z.string().min(1), z.literal(false)], { error: 'expected a socket path, or false' })
          .optional()
          .describe('The Unix socket of `supervisor status|start|stop|restart|signal|probe` (created 0600). Default: $SUPERVISOR_SOCKET, else /run/supervisor.sock when PID 1 ($XDG_RUNTIME_DIR/supervisor.sock when /run is not writable); false: no socket.'),
      })
      .optional()
      .describe('The control socket.'),
    defaults: defaultsSchema.optional(),
    programs: z
      .record(z.string().regex(PROGRAM_NAME_PATTERN, { error: PROGRAM_NAME_HINT }), programSchema)
      .refine((programs) => Object.keys(programs).length > 0, { error: 'expected at least one program' })
      .meta({ minProperties: 1 })
      .describe('The programs to supervise, by name.'),
  })
  .meta({ title: 'supervisor.yaml', description: 'Configuration of the pid1 supervisor.' });

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
