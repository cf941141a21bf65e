// Signal facts: which signals PID 1 catches, forwards or relays, which ones mean
// "shut down", and name/number conversions. Pure data and functions.
import { constants } from 'node:os';

/** Signals that start a graceful shutdown (config mode: a second one escalates to SIGKILL). */
export const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/**
 * Signals relayed unchanged to every running child (or its process group), in
 * both modes. Left out: SIGKILL/SIGSTOP (uncatchable), SIGCHLD (ours), and the
 * ones below, which config mode logs and ignores.
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

/**
 * Signals a process normally gets from its own faults (a bad instruction or
 * address, a broken pipe, abort(), a breakpoint, a seccomp trap). Sent from
 * outside, none may end PID 1: single-command mode relays them to the command
 * (like tini and dumb-init), config mode logs and ignores them.
 */
export const SELF_SIGNALS: readonly NodeJS.Signals[] = ['SIGABRT', 'SIGTRAP', 'SIGSYS', 'SIGPIPE', 'SIGSEGV', 'SIGBUS', 'SIGFPE', 'SIGILL'];

/**
 * The self signals caught only once the main thread blocks them (src/sys/libc.ts):
 * a real fault on the main thread then kills the process as it should, where a
 * handler that returns would re-run the faulting instruction forever; a broken
 * pipe on our own stdout stays a write error instead of a signal to relay.
 */
export const BLOCKED_ON_MAIN_THREAD: readonly NodeJS.Signals[] = ['SIGSEGV', 'SIGBUS', 'SIGFPE', 'SIGILL', 'SIGTRAP', 'SIGSYS', 'SIGPIPE'];

/** Job-control stops: in single-command mode the supervisor stops itself after relaying them (like dumb-init). */
export const JOB_STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTSTP', 'SIGTTIN', 'SIGTTOU'];

/**
 * Caught by the first lines of the bundle (src/cli/entry.ts), before the rest
 * loads: every signal the supervisor acts on that is safe to catch without
 * libc (the blocked ones wait for it).
 */
export const EARLY_SIGNALS: readonly NodeJS.Signals[] = [
  ...SHUTDOWN_SIGNALS,
  ...FORWARDED_SIGNALS,
  ...SELF_SIGNALS.filter((s) => !BLOCKED_ON_MAIN_THREAD.includes(s)),
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

/**
 * What the supervisor does with a signal from outside:
 * shutdown  – SIGTERM/SIGINT: graceful shutdown (single-command mode relays it);
 * forward   – relay to every running program;
 * suspend   – single-command mode's SIGTSTP/SIGTTIN/SIGTTOU: relay, then stop
 *             itself (not as PID 1), so a shell's job control sees the job stop;
 * ignore    – log and ignore (config mode's self signals).
 */
export type SignalRoute = 'shutdown' | 'forward' | 'suspend' | 'ignore';

export function signalRoute(sig: NodeJS.Signals, singleCommand: boolean): SignalRoute {
  if (SHUTDOWN_SIGNALS.includes(sig)) return 'shutdown';
  if (singleCommand && JOB_STOP_SIGNALS.includes(sig)) return 'suspend';
  if (FORWARDED_SIGNALS.includes(sig)) return 'forward';
  return singleCommand ? 'forward' : 'ignore';
}
