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
// Job control: when the command is stopped (Ctrl-Z), the supervisor takes the
// terminal back and stops itself, so the shell that started it sees the job
// stop; when continued in the foreground it hands the terminal back and
// continues the command's group.
import { isatty } from 'node:tty';
import type { ProgramPlan } from '../plan/types.js';
import { jobControl, type JobControl } from '../sys/job-control.js';

import { FOREGROUND_SHIM_FLAG } from './shim-flag.js';

const ENOENT = 2;

/** In the shim: own group, the terminal, then exec the command. Never returns. */
export function runForegroundShim(argv: readonly string[]): never {
  const { jobControl: jc, error } = jobControl();
  if (!jc) {
    process.stderr.write(`supervisor: cannot load libc: ${error}\n`);
    process.exit(126);
  }
  jc.ownProcessGroup();
  if (isatty(0)) jc.setForegroundGroup(0, process.pid);
  const errno = jc.exec(argv);
  const notFound = errno === ENOENT;
  process.stderr.write(`supervisor: ${notFound ? 'command not found' : `cannot execute (errno ${errno})`}: ${argv[0]}\n`);
  process.exit(notFound ? 127 : 126);
}

export class ForegroundTerminal {
  /** The process group handed the terminal (the command's pid). */
  private commandGroup?: number;

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

  /** The plan to spawn instead: the shim with the command after it; no setsid (the shim makes a group). */
  plan(p: ProgramPlan): ProgramPlan {
    return { ...p, argv: [process.execPath, process.argv[1]!, FOREGROUND_SHIM_FLAG, '--', ...p.argv], processGroup: false };
  }

  spawned(pid: number): void {
    this.commandGroup = pid;
  }

  /** On SIGCHLD: the command stopped (Ctrl-Z, or a read from the background)? Take the terminal back and stop too. */
  childChanged(pid: number): void {
    if (this.jc.stopSignal(pid) === null || this.isPid1) return;
    this.jc.setForegroundGroup(0, this.jc.getpgrp());
    process.kill(process.pid, 'SIGSTOP');
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
