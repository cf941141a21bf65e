// The supervisor's own exit code (the container's exit code), pure.
//
// Single-command mode (`supervisor -- cmd`), like tini: the child's exit code,
// or 128+signal when a signal killed it, whatever caused the shutdown; a
// shutdown signal that came before the command started gives 128+that signal
// (what a command killed by it would have given).
// Config mode:
//   - shutdown asked by a signal (SIGTERM/SIGINT)        → 0
//   - a program exited/turned fatal with on_*: shutdown   → the action's exit_code,
//     else the program's status (fatal with status 0 → 1: a fatal is a failure)
//   - every program ended on its own                      → status of the last one to end
// Finally, codes given with -e (tini's remapping) become 0.
import { exitCodeForSignal } from '../process/signals.js';

export type ShutdownCause =
  | { kind: 'signal'; signal: NodeJS.Signals }
  | { kind: 'program_exited'; program: string; status: number; exitCode?: number }
  | { kind: 'program_fatal'; program: string; status: number; exitCode?: number }
  | { kind: 'all_exited'; status: number };

export interface ExitCodeContext {
  /** Single-command mode: with no status yet (never started), a signal shutdown gives 128+signal. */
  singleCommand?: boolean;
  /** In single-command mode, the child's last status (code or 128+signal). */
  singleCommandStatus?: number;
  remapToZero: ReadonlySet<number>;
}

export function decideExitCode(cause: ShutdownCause, ctx: ExitCodeContext): number {
  let code: number;
  if (ctx.singleCommandStatus !== undefined) code = ctx.singleCommandStatus;
  else if (cause.kind === 'signal') code = ctx.singleCommand ? exitCodeForSignal(cause.signal) : 0;
  else if (cause.kind === 'all_exited') code = cause.status;
  else if (cause.exitCode !== undefined) code = cause.exitCode;
  else if (cause.kind === 'program_fatal') code = cause.status === 0 ? 1 : cause.status;
  else code = cause.status;
  return ctx.remapToZero.has(code) ? 0 : code;
}
