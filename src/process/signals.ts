// Signal facts: which signals PID 1 forwards to its children, which ones mean
// "shut down", and name/number conversions. Pure data and functions.
import { constants } from 'node:os';

/** Signals that start a graceful shutdown (a second one escalates to SIGKILL). */
export const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/**
 * Signals relayed unchanged to every running child (or its process group).
 * Left out: SIGKILL/SIGSTOP (uncatchable), SIGCHLD (ours), SIGPIPE (Node
 * ignores it), and the synchronous faults (SEGV, BUS, FPE, ILL, TRAP, ABRT, SYS)
 * that only make sense for the process that caused them.
 */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
  'SIGCONT',
  'SIGALRM',
  'SIGVTALRM',
  'SIGPROF',
  'SIGURG',
  'SIGIO',
  'SIGPWR',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGXCPU',
  'SIGXFSZ',
  'SIGSTKFLT',
];

export function signalNumber(name: NodeJS.Signals): number {
  return constants.signals[name];
}

export function signalName(num: number): NodeJS.Signals | undefined {
  for (const [name, n] of Object.entries(constants.signals)) if (n === num) return name as NodeJS.Signals;
  return undefined;
}

/** The shell convention for a death by signal: 128 + signal number. */
export function exitCodeForSignal(name: NodeJS.Signals): number {
  return 128 + signalNumber(name);
}
