// Single-command mode on a terminal: the command runs in its own process group
// and holds the terminal's foreground, like tini does it. Then a Ctrl-C reaches
// the command once (from the terminal; the supervisor, in the background group,
// relays only what is sent to itself), and a shell gets job control.
//
// Node cannot run code between fork and exec, and setpgid on a child that has
// exec'd fails (EACCES); setsid (spawn's `detached`) would cost the command its
// controlling terminal. So the command starts through a shim: the bundle itself,
// run with FOREGROUND_SHIM_FLAG, makes its own process group, takes the terminal
// and execs the command in place (same pid: libuv still reaps and reports it).
// The shim waits at a gate (a pipe on fd 3) until the supervisor has logged the
// spawn, so on the terminal child.spawn always comes before the command's output.
// Job control: when the command is stopped (Ctrl-Z), the supervisor takes the
// terminal back and stops itself, so the shell that started it sees the job
// stop; when continued in the foreground it hands the terminal back and
// continues the command's group.
import { closeSync, readSync } from 'node:fs';
import { isatty } from 'node:tty';
import type { ProgramPlan } from '../plan/types.js';
import { jobControl, type JobControl } from '../sys/job-control.js';
import { readStat, type ProcStat } from './kill-tree.js';
import { childrenOf } from './tree.js';

import { FOREGROUND_SHIM_FLAG } from './shim-flag.js';

declare const __SUPERVISOR_SEA__: boolean | undefined;
/** Whether this is the single executable (a build-time constant). */
const IS_SEA = typeof __SUPERVISOR_SEA__ === 'boolean' && __SUPERVISOR_SEA__;

const ENOENT = 2;

/** argv[3] of a shim that waits at its gate (fd 3) before the exec; plain `--` otherwise. */
export const GATED = '--gated';
/** The gate's fd in the shim. */
const GATE_FD = 3;
/** A gate never opened (it cannot happen, but PID 1's child must not hang on it): go after this long. */
const GATE_MAX_WAIT_MS = 10_000;

/**
 * Waits until the supervisor closes its end of the gate (EOF on fd 3), then
 * closes it so the command never inherits it. The supervisor opens the gate
 * once its child.spawn line is written, so the command's output always comes
 * after it on the terminal.
 */
function waitAtGate(): void {
  const buf = Buffer.alloc(64);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + GATE_MAX_WAIT_MS;
  for (;;) {
    try {
      if (readSync(GATE_FD, buf) === 0) break;
    } catch (e) {
      // libuv leaves fds above 2 non-blocking in the child: wait a little and look again.
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() > deadline) break;
      Atomics.wait(pause, 0, 0, 2);
    }
  }
  try {
    closeSync(GATE_FD);
  } catch {
    // already closed
  }
}

/** In the shim: own group, the terminal, then exec the command. Never returns. */
export function runForegroundShim(argv: readonly string[]): never {
  const { jobControl: jc, error } = jobControl();
  if (!jc) {
    process.stderr.write(`supervisor: cannot load libc: ${error}\n`);
    process.exit(126);
  }
  jc.ownProcessGroup();
  if (isatty(0)) jc.setForegroundGroup(0, process.pid);
  if (process.argv[3] === GATED) waitAtGate();
  const errno = jc.exec(argv);
  const notFound = errno === ENOENT;
  process.stderr.write(`supervisor: ${notFound ? 'command not found' : `cannot execute (errno ${errno})`}: ${argv[0]}\n`);
  process.exit(notFound ? 127 : 126);
}

/**
 * A job stop the command itself cannot report: the command is blocked in
 * vfork (state D, as dash is for every external command) and the terminal's
 * stop caught its vfork child before the exec (state T, in the command's
 * group). The kernel lets the command sleep until that child goes on, so it
 * never stops and no waitid sees it; a shell running the command directly
 * waits forever there too. Returns the stopped child, or undefined.
 */
export function stoppedVforkChild(
  command: number,
  stat: (pid: number) => ProcStat | undefined,
  children: (pid: number) => number[],
): number | undefined {
  if (stat(command)?.state !== 'D') return undefined;
  return children(command).find((pid) => {
    const s = stat(pid);
    return s?.state === 'T' && s.pgid === command;
  });
}

export class ForegroundTerminal {
  /** The process group handed the terminal (the command's pid). */
  private commandGroup?: number;
  /** The stopped vfork child we already stopped for (acted on once, like a waitid stop report). */
  private stoppedChild?: number;

  private constructor(
    private readonly jc: JobControl,
    private readonly isPid1: boolean,
  ) {}

  /**
   * When the supervisor runs one command with stdin on a terminal whose
   * foreground it holds; undefined otherwise (no terminal, started in the
   * background, or libc unavailable: the command then shares our group).
   */
  static detect(singleCommand: boolean, isPid1: boolean): ForegroundTerminal | undefined {
    if (!singleCommand || !isatty(0)) return undefined;
    const { jobControl: jc } = jobControl();
    if (!jc || jc.foregroundGroup(0) !== jc.getpgrp()) return undefined;
    return new ForegroundTerminal(jc, isPid1);
  }

  /**
   * The plan to spawn instead: the shim with the command after it; no setsid (the
   * shim makes a group). It waits at a gate (fd 3, spawned with `gate`) until
   * the supervisor has logged the spawn: the command's first line never comes
   * before child.spawn on the terminal.
   */
  plan(p: ProgramPlan): ProgramPlan {
    // The single executable (scripts/build-sea.mjs) is itself the supervisor: no script argument.
    const self = IS_SEA ? [process.execPath] : [process.execPath, process.argv[1]!];
    return { ...p, argv: [...self, FOREGROUND_SHIM_FLAG, GATED, ...p.argv], processGroup: false };
  }

  spawned(pid: number): void {
    this.commandGroup = pid;
  }

  /** On SIGCHLD: the command stopped (Ctrl-Z, or a read from the background)? Take the terminal back and stop too. */
  childChanged(pid: number): void {
    if (this.isPid1) return;
    if (this.jc.stopSignal(pid) === null && !this.newVforkStop(pid)) return;
    this.jc.setForegroundGroup(0, this.jc.getpgrp());
    process.kill(process.pid, 'SIGSTOP');
  }

  /** The command's vfork child stopped before its exec (stoppedVforkChild), not acted on yet? */
  private newVforkStop(pid: number): boolean {
    if (pid !== this.commandGroup) return false;
    const child = stoppedVforkChild(pid, (p) => readStat(p), (p) => childrenOf(p));
    const isNew = child !== undefined && child !== this.stoppedChild;
    this.stoppedChild = child;
    return isNew;
  }

  /** On SIGCONT: continued in the foreground (`fg`)? Hand the terminal back to the command and continue its group. */
  continued(): void {
    if (this.commandGroup === undefined || this.jc.foregroundGroup(0) !== this.jc.getpgrp()) return;
    this.jc.setForegroundGroup(0, this.commandGroup);
    try {
      process.kill(-this.commandGroup, 'SIGCONT');
    } catch {
      // the group is gone
    }
  }

  /** At exit: the terminal goes back to our group if the command's group still holds it. */
  restore(): void {
    if (this.commandGroup !== undefined && this.jc.foregroundGroup(0) === this.commandGroup) this.jc.setForegroundGroup(0, this.jc.getpgrp());
  }
}
