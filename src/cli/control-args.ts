// The control subcommands' command-line shape (yargs), kept out of main.ts:
// `supervisor status`, `start|stop|restart NAME`, `signal NAME SIG`,
// `probe live|ready|startup`. Their work is in control-commands.ts, imported
// only when one of them runs.
import type { Argv, CommandModule } from 'yargs';

const common = (y: Argv) =>
  y
    .option('json', { type: 'boolean', default: false, describe: 'Print JSON instead of a table or a line' })
    .option('socket', { type: 'string', describe: 'Control socket (else $SUPERVISOR_SOCKET, /run/supervisor.sock, $XDG_RUNTIME_DIR/supervisor.sock)' });

const named = (y: Argv) => common(y).positional('name', { type: 'string', describe: 'Program name' });

export const CONTROL_COMMANDS: CommandModule[] = [
  { command: 'status', describe: "Show the running supervisor's programs (over its control socket)", builder: common, handler: () => {} },
  { command: 'start <name>', describe: 'Start a program that ended or was stopped', builder: named, handler: () => {} },
  { command: 'stop <name>', describe: 'Stop a program and keep it stopped (no restart) until `start`', builder: named, handler: () => {} },
  { command: 'restart <name>', describe: 'Stop a program and start it again', builder: named, handler: () => {} },
  {
    command: 'signal <name> <signal>',
    describe: 'Send a signal to a running program (its process group)',
    builder: (y) => named(y).positional('signal', { type: 'string', describe: 'Signal: TERM, SIGHUP, usr1 ...' }),
    handler: () => {},
  },
  {
    command: 'probe <check>',
    describe: 'Exit 0 if the check passes, else 1, with one line saying why (for exec probes)',
    builder: (y) => common(y).positional('check', { choices: ['live', 'ready', 'startup'] as const, describe: 'live, ready or startup' }),
    handler: () => {},
  },
];

export const CONTROL_NAMES: ReadonlySet<string> = new Set(['status', 'start', 'stop', 'restart', 'signal', 'probe']);
