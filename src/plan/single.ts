// The plan for single-command mode (`supervisor -- node server.js`): one
// program, run once like tini runs it; the container exits with its exit code.
import { basename } from 'node:path';
import { PROGRAM_DEFAULTS, SUPERVISOR_DEFAULTS } from '../config/defaults.js';
import { inheritedEnv } from './env.js';
import type { LogPlan, SupervisorPlan } from './types.js';

export interface SingleCommandOptions {
  /** The child's environment. Default: process.env. */
  env?: Record<string, string | undefined>;
  /** Put the child in its own process group and signal the group (tini's -g). Default: false. */
  processGroup?: boolean;
  stopSignal?: NodeJS.Signals;
  stopGraceMs?: number;
  shutdownTimeoutMs?: number;
  log?: Partial<LogPlan>;
}

export function buildSingleCommandPlan(argv: readonly string[], options: SingleCommandOptions = {}): SupervisorPlan {
  const [program] = argv;
  if (program === undefined || program === '') throw new Error('no command given after --');
  return {
    programs: [
      {
        name: basename(program) || program,
        argv: [...argv],
        env: inheritedEnv(options.env ?? process.env),
        envKeys: [],
        restart: 'never',
        backoff: { ...PROGRAM_DEFAULTS.backoff },
        startSecsMs: 0,
        crashLoop: { ...PROGRAM_DEFAULTS.crashLoop },
        stopSignal: options.stopSignal ?? 'SIGTERM',
        stopGraceMs: options.stopGraceMs ?? PROGRAM_DEFAULTS.stopGraceMs,
        processGroup: options.processGroup ?? false,
        leftovers: 'stop',
        startAfter: [],
        output: 'inherit',
        stdin: 'inherit',
        // Exit code undefined: the supervisor exits with the child's (tini rules).
        onExit: { action: 'shutdown' },
        onFatal: { action: 'shutdown' },
      },
    ],
    log: { ...SUPERVISOR_DEFAULTS.log, ...options.log },
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? SUPERVISOR_DEFAULTS.shutdownTimeoutMs,
    singleCommand: true,
  };
}
