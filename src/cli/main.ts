// The command line: `supervisor [-c file]` runs supervisor.yaml,
// `supervisor -- cmd args` runs one command like tini, `supervisor validate`
// checks a config, `supervisor schema` prints the config's JSON Schema.
// Bad input ends here with one line on stderr and exit code 2, never a stack trace.
// Loaded by src/cli/entry.ts once the early signal listeners are in place.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { LogFormat, LogLevel, SupervisorPlan } from '../plan/types.js';
import { isatty } from 'node:tty';
import { createLogger, prettyChildLine, useColor } from '../logging/logger.js';
import { stderr, stdout } from '../logging/sink.js';
import type { LineFramer } from '../process/output.js';
import { runSupervisor, VERSION } from '../supervision/run.js';
import { libc } from '../sys/libc.js';
import { readPlan, configSchemaText, validateConfig, UsageError } from './plan-source.js';
import { EXIT_USAGE, EXIT_INTERNAL } from './exit-codes.js';
import type { EarlySignals } from './entry.js';
import { CONTROL_COMMANDS, CONTROL_NAMES } from './control-args.js';

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty', 'auto'];

function fail(message: string, code = EXIT_USAGE): never {
  process.stderr.write(`supervisor: ${message}\n`);
  process.exit(code);
}

function parseRemap(values: unknown[]): Set<number> {
  const out = new Set<number>();
  for (const v of values) {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 255) fail(`-e/--remap-exit: expected an exit code 0..255, got ${JSON.stringify(v)}`);
    out.add(n);
  }
  return out;
}

/** Children's `output: json` lines in the pretty format, coloured where their stream is a terminal. */
function prettyFramer(): LineFramer {
  const color = { stdout: useColor(isatty(1)), stderr: useColor(isatty(2)) };
  return (program, stream, line, time) => prettyChildLine(program, stream, time, line, color[stream]);
}

async function main(early: EarlySignals): Promise<void> {
  const parser = yargs(hideBin(process.argv))
    .scriptName('supervisor')
    .usage('$0 [options] [-- command [args...]]\n\nRuns the programs of supervisor.yaml, or one command, as a container init (PID 1).')
    .parserConfiguration({ 'populate--': true })
    .option('config', { alias: 'c', type: 'string', describe: 'Config file (else $SUPERVISOR_CONFIG, ./supervisor.yaml, /etc/supervisor.yaml)' })
    .option('log-level', { type: 'string', choices: LOG_LEVELS, describe: 'Lowest level logged (default: config log.level, else info; warn in single-command mode)' })
    .option('log-format', { type: 'string', choices: LOG_FORMATS, describe: 'json, pretty, or auto (pretty on a TTY; the log is on stderr in single-command mode)' })
    .option('remap-exit', { alias: 'e', type: 'array', describe: 'Report this exit code as 0 (like tini -e); repeatable', default: [] })
    .option('process-group', { alias: 'g', type: 'boolean', default: false, describe: 'Single-command mode: run the command in its own process group and signal the group (like tini -g)' })
    .command('$0', 'Run the supervisor (default)')
    .command('validate', 'Check a config file: exit 0, or print every problem as file:line:col: path: message and exit 2')
    .command('schema', 'Print the JSON Schema of supervisor.yaml')
    .command(CONTROL_COMMANDS)
    .example('$0 -c /etc/supervisor.yaml', 'supervise the programs of a config file')
    .example('$0 -- node server.js', 'run one command as PID 1, like tini')
    .example('$0 validate -c supervisor.yaml', 'check a config file')
    .strict()
    .version(VERSION)
    .help()
    .alias('h', 'help')
    .alias('V', 'version')
    // A fixed width: reading process.stdout.columns would open fd 1 as a Node stream
    // (non-blocking for a pipe, which the children inherit).
    .wrap(100)
    .fail((msg, err) => fail(msg ?? err?.message ?? 'invalid arguments'));

  const argv = await parser.parseAsync();
  const command = argv['--'] as string[] | undefined;
  const sub = argv._[0];

  if (typeof sub === 'string' && CONTROL_NAMES.has(sub)) {
    const { runControlCommand } = await import('./control-commands.js');
    process.exit(await runControlCommand(sub, argv));
  }
  if (sub === 'schema') {
    process.stdout.write(await configSchemaText());
    return;
  }
  if (sub === 'validate') {
    const result = await validateConfig(argv.config, process.env);
    if (result.ok) {
      process.stdout.write(`${result.file}: ok (${result.programs} program${result.programs === 1 ? '' : 's'})\n`);
      process.exit(0);
    }
    for (const line of result.problems) process.stderr.write(`${line}\n`);
    process.exit(EXIT_USAGE);
  }
  if (sub !== undefined) fail(`unknown command ${JSON.stringify(sub)}; to run a command, put it after --`);
  const single = command !== undefined && command.length > 0;
  if (argv['process-group'] && !single) {
    fail('-g/--process-group is for single-command mode (supervisor -g -- CMD); in a config file every program has process_group (default true)');
  }

  let plan: SupervisorPlan;
  let log: { level?: LogLevel; format?: LogFormat };
  try {
    ({ plan, log } = await readPlan({
      configPath: argv.config,
      command: single ? command : undefined,
      processGroup: argv['process-group'],
      env: process.env,
    }));
  } catch (e) {
    if (e instanceof UsageError) {
      for (const line of e.lines) process.stderr.write(`supervisor: ${line}\n`);
      process.exit(EXIT_USAGE);
    }
    throw e;
  }
  // As PID 1 the supervisor must reap orphans, which takes waitpid through koffi:
  // without koffi's binary it refuses to start rather than let zombies pile up.
  // Under another init (not PID 1) that init gets the orphans: it runs degraded,
  // with a libc_unavailable warning (README, "Platforms").
  if (process.pid === 1) {
    const { libc: sys, error } = libc();
    if (!sys) fail(`${error}; as PID 1 the supervisor needs it to reap orphans (README, "Platforms")`, EXIT_INTERNAL);
  }
  // Single-command mode: stdout is the command's alone; the supervisor speaks on
  // stderr, and only when something is wrong unless asked for more (like tini, quiet).
  const fd = single ? 2 : 1;
  const events = createLogger(
    {
      level: (argv['log-level'] as LogLevel | undefined) ?? log.level ?? (single ? 'warn' : 'info'),
      format: (argv['log-format'] as LogFormat | undefined) ?? log.format ?? 'auto',
      fd,
    },
    single ? stderr() : stdout(),
  );
  runSupervisor(plan, { remapToZero: parseRemap(argv['remap-exit'] as unknown[]), early, frame: events.format === 'pretty' ? prettyFramer() : undefined }, events);
}

export function runCli(early: EarlySignals): Promise<void> {
  return main(early).catch((e: unknown) => {
    // Only reached before any child runs: nothing to keep safe, so exit clearly.
    fail(`internal error: ${e instanceof Error ? e.message : String(e)}`, EXIT_INTERNAL);
  });
}
