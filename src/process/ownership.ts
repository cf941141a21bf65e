// Which program owns which process. A process that was ever seen as a
// program's descendant stays that program's, also once it leaves the tree
// (setsid, double fork, re-parented to the supervisor) and so do its own
// children after it. Each refresh reads the supervisor's descendants from
// /proc (pid, parent, process group, session and start time from
// /proc/PID/stat) and extends every program's set:
//   - its main pid;
//   - every pid it owned before that is still the same process (same start
//     time: a reused pid is someone else);
//   - the children of an owned process;
//   - a process in a process group or session led by an owned process (a
//     daemon re-parented before any refresh saw it still carries its first
//     program's group), unless that group is the supervisor's own;
//   - a process nobody owns whose environment carries SUPERVISOR_PROGRAM=<name>
//     (set on every program at spawn, like supervisord's SUPERVISOR_PROCESS_NAME):
//     a double-forked daemon whose middle process came and went between two
//     refreshes is re-parented with a session nobody saw, but keeps its environment.
// The pure part (`extendOwnership`) is unit-tested; `ProcessOwnership` adds /proc.
import { readFileSync } from 'node:fs';
import { descendantsOf } from './tree.js';

export interface ProcStat {
  pid: number;
  ppid: number;
  pgrp: number;
  session: number;
  /** Clock ticks after boot (field 22): with the pid, names one process for good. */
  startTime: number;
  /** Single letter: R, S, D, Z … */
  state: string;
}

/** The environment variable that names a process's program (see spawn.ts). */
export const PROGRAM_ENV = 'SUPERVISOR_PROGRAM';

/** The program named in a /proc/PID/environ text (NUL-separated), if any. */
export function programFromEnviron(text: string): string | undefined {
  const prefix = `${PROGRAM_ENV}=`;
  for (const entry of text.split('\0')) if (entry.startsWith(prefix)) return entry.slice(prefix.length);
  return undefined;
}

/** Parses /proc/PID/stat (the command name may hold spaces and parentheses). */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  const open = text.indexOf('(');
  if (close < 0 || open < 0) return undefined;
  const pid = Number.parseInt(text.slice(0, open), 10);
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state); field N is f[N - 3].
  const n = (i: number) => Number.parseInt(f[i - 3] ?? '', 10);
  const out = { pid, state: f[0] ?? '?', ppid: n(4), pgrp: n(5), session: n(6), startTime: n(22) };
  return Number.isFinite(out.pid) && Number.isFinite(out.ppid) && Number.isFinite(out.startTime) ? out : undefined;
}

/** One owned process: its pid and start time. */
export interface Owned {
  pid: number;
  startTime: number;
}

/**
 * The next ownership from the current process table. `owned`: program → pid →
 * start time; `mains`: program → its main pid alive now; `procs`: every
 * descendant of the supervisor; `ownGroups`: the supervisor's own process group
 * and session, never a reason to own anything. A process goes to at most one
 * program: the first claim wins (a main pid, then kept ownership, then parents,
 * then groups).
 */
export function extendOwnership(
  owned: ReadonlyMap<string, ReadonlyMap<number, number>>,
  mains: ReadonlyMap<string, number>,
  procs: readonly ProcStat[],
  ownGroups: ReadonlySet<number>,
  /** The program named in a process's environment (only asked for processes no other rule claims). */
  markedProgram: (p: ProcStat) => string | undefined = () => undefined,
): Map<string, Map<number, number>> {
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const next = new Map<string, Map<number, number>>();
  const ownerOf = new Map<number, string>();
  const claim = (program: string, p: ProcStat): boolean => {
    if (ownerOf.has(p.pid)) return false;
    ownerOf.set(p.pid, program);
    next.get(program)!.set(p.pid, p.startTime);
    return true;
  };
  const programs = new Set([...owned.keys(), ...mains.keys()]);
  for (const program of programs) next.set(program, new Map());
  for (const [program, pid] of mains) {
    const p = byPid.get(pid);
    if (p) claim(program, p);
  }
  for (const [program, pids] of owned) {
    for (const [pid, start] of pids) {
      const p = byPid.get(pid);
      if (p && p.startTime === start) claim(program, p);
    }
  }
  // Children of owned processes, and members of groups led by owned processes, to a fixed point.
  for (let changed = true; changed; ) {
    changed = false;
    for (const p of procs) {
      if (ownerOf.has(p.pid)) continue;
      const byParent = ownerOf.get(p.ppid);
      const byGroup = (!ownGroups.has(p.pgrp) ? ownerOf.get(p.pgrp) : undefined) ?? (!ownGroups.has(p.session) ? ownerOf.get(p.session) : undefined);
      const program = byParent ?? byGroup ?? groupOwner(owned, p, ownGroups);
      if (program !== undefined && claim(program, p)) changed = true;
    }
    if (changed) continue;
    // Last: the environment's mark, for processes whose parent and group say nothing.
    for (const p of procs) {
      if (ownerOf.has(p.pid)) continue;
      const program = markedProgram(p);
      if (program !== undefined && next.has(program) && claim(program, p)) changed = true;
    }
  }
  return next;
}

/** A group or session whose leader is gone but was owned: its members stay that program's. */
function groupOwner(owned: ReadonlyMap<string, ReadonlyMap<number, number>>, p: ProcStat, ownGroups: ReadonlySet<number>): string | undefined {
  // A leader of its own group is no member of an older one: its pid may be the dead leader's, reused.
  const groups = [p.pgrp, p.session].filter((g) => g !== p.pid && !ownGroups.has(g));
  for (const [program, pids] of owned) for (const g of groups) if (pids.has(g)) return program;
  return undefined;
}

function readStat(pid: number, procRoot: string): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`${procRoot}/${pid}/stat`, 'latin1'));
  } catch {
    return undefined; // gone meanwhile
  }
}

/** Program ownership of the supervisor's descendants, refreshed from /proc. */
export class ProcessOwnership {
  private owned = new Map<string, Map<number, number>>();
  private readonly mains = new Map<string, number>();
  private readonly ownGroups: Set<number>;
  private zombies = new Set<number>();
  /** Environment marks already read, by pid and start time (an environment's mark does not change). */
  private marks = new Map<number, { startTime: number; program: string | undefined }>();

  constructor(
    private readonly selfPid = process.pid,
    private readonly procRoot = '/proc',
  ) {
    const self = readStat(selfPid, procRoot);
    this.ownGroups = new Set(self ? [self.pgrp, self.session] : []);
  }

  /**
   * A program's new main process (right after its spawn): owned at once, one stat read;
   * its descendants join at the next refresh (a spawn does not walk the process table).
   */
  adopt(program: string, pid: number): void {
    this.mains.set(program, pid);
    const st = readStat(pid, this.procRoot);
    if (!st) return;
    const pids = this.owned.get(program) ?? new Map<number, number>();
    pids.set(pid, st.startTime);
    this.owned.set(program, pids);
  }

  /**
   * Its main process is gone; what it left stays owned. No walk here: whoever asks for
   * the leftovers next refreshes first, and what the main process forked meanwhile is
   * found by its group, session or environment mark.
   */
  mainExited(program: string, pid: number): void {
    if (this.mains.get(program) === pid) this.mains.delete(program);
  }

  /** Re-reads the supervisor's descendants and extends ownership. */
  refresh(): void {
    const procs: ProcStat[] = [];
    for (const pid of descendantsOf(this.selfPid, this.procRoot)) {
      const st = readStat(pid, this.procRoot);
      if (st) procs.push(st);
    }
    this.owned = extendOwnership(this.owned, this.mains, procs, this.ownGroups, (p) => this.markOf(p));
    const alive = new Set(procs.map((p) => p.pid));
    for (const pid of this.marks.keys()) if (!alive.has(pid)) this.marks.delete(pid);
    this.zombies = new Set(procs.filter((p) => p.state === 'Z' || p.state === 'X').map((p) => p.pid));
  }

  private markOf(p: ProcStat): string | undefined {
    const known = this.marks.get(p.pid);
    if (known && known.startTime === p.startTime) return known.program;
    let program: string | undefined;
    try {
      program = programFromEnviron(readFileSync(`${this.procRoot}/${p.pid}/environ`, 'latin1'));
    } catch {
      program = undefined; // gone, or not ours to read
    }
    this.marks.set(p.pid, { startTime: p.startTime, program });
    return program;
  }

  /** Every process the program owns as of the last refresh (main pid first when alive). */
  pidsOf(program: string): number[] {
    const pids = [...(this.owned.get(program)?.keys() ?? [])];
    const main = this.mains.get(program);
    return main !== undefined && pids.includes(main) ? [main, ...pids.filter((p) => p !== main)] : pids;
  }

  /**
   * pidsOf without the processes that ended or whose pid now names another process since
   * the last refresh (one stat read each): what may be sampled or signalled now.
   */
  livePidsOf(program: string): number[] {
    const owned = this.owned.get(program);
    return this.pidsOf(program).filter((pid) => this.isSame({ pid, startTime: owned!.get(pid)! }));
  }

  /** Its processes other than the main one that are alive (not zombies) as of the last refresh. */
  leftoversOf(program: string): Owned[] {
    const main = this.mains.get(program);
    return [...(this.owned.get(program) ?? new Map<number, number>())]
      .filter(([pid]) => pid !== main && !this.zombies.has(pid))
      .map(([pid, startTime]) => ({ pid, startTime }));
  }

  /** The program a process belongs to, if any. */
  ownerOf(pid: number): string | undefined {
    for (const [program, pids] of this.owned) if (pids.has(pid)) return program;
    return undefined;
  }

  /** Whether `pid` is still the process that was owned (same start time). */
  isSame(o: Owned): boolean {
    const st = readStat(o.pid, this.procRoot);
    return st !== undefined && st.startTime === o.startTime && st.state !== 'Z' && st.state !== 'X';
  }
}
