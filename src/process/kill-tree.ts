// The final kill of a process tree, made to converge even against a process
// that forks and exits faster than a kill loop can list it (a "pid hopper").
// One round: SIGSTOP sweeps over every descendant, each process signalled the
// moment it is read and before its children are read, until a whole sweep
// finds every one already stopped (a stopped process cannot fork, so the set is
// closed); then SIGKILL to all of them (SIGKILL also ends a stopped process).
// A generation that exits between being read and being stopped leaves its child
// to us (the reaper of orphans), and the next sweep finds it there; a stopped
// parent keeps its children in its own list. Process groups are stopped and
// killed too where allowed: a group signal reaches a child forked at that very
// moment as well (the kernel delivers it to both). Pure over an injected view of
// /proc (unit-tested with a simulated process table); procTreeAccess() is the real one.
import { readFileSync } from 'node:fs';
import { childrenOf } from './tree.js';

export interface ProcStat {
  /** /proc/<pid>/stat state letter: R S D T t Z X … */
  state: string;
  pgid: number;
}

export interface TreeAccess {
  /** Direct children of `pid` (every thread's children file). */
  children(pid: number): number[];
  /** State and process group, or undefined when the process is gone. */
  stat(pid: number): ProcStat | undefined;
  /** kill(2) to a pid, or to a process group when `target` is negative; false when it failed. */
  kill(target: number, signal: NodeJS.Signals): boolean;
  now(): number;
}

export interface KillRoundOptions {
  /** Whose descendants: the supervisor's own pid. */
  root: number;
  /**
   * Whether a whole process group may be signalled (never the supervisor's own,
   * never one shared with strangers). `seen`: every pid met as a descendant this round.
   */
  mayKillGroup(pgid: number, seen: ReadonlySet<number>): boolean;
  /** Stop sweeps before SIGKILL is sent anyway (a process stuck in D state never shows as stopped). */
  maxSweeps: number;
  maxMs: number;
}

export interface KillRoundResult {
  /** Stop sweeps this round took. */
  sweeps: number;
  /** The last sweep found every process already stopped: the SIGKILL reached a closed set. */
  converged: boolean;
  /** Pids that were alive (not zombies) and got SIGKILL; empty when nothing was left. */
  killed: number[];
}

const STOPPED = new Set(['T', 't']);
const DEAD = new Set(['Z', 'X', 'x']);

interface SweepResult {
  /** Descendants that are not zombies, parents before their children. */
  live: Array<{ pid: number; pgid: number }>;
  /** How many SIGSTOPs this sweep had to send (0: everything was stopped already). */
  signaled: number;
  /** Nothing to stop, and nothing appeared under the root meanwhile: every descendant is stopped. */
  closed: boolean;
}

/**
 * One SIGSTOP sweep: walks the tree from `root`, stopping each running process as
 * soon as it is read. A process hidden from a sweep must have been reparented to
 * the root after the root's children were read (its parent was a zombie by the
 * time we looked, or stopped and so could not have exited), so a sweep that stopped
 * nothing and finds no new child under the root at its end has seen every process.
 */
export function stopSweep(
  access: TreeAccess,
  opts: Pick<KillRoundOptions, 'root' | 'mayKillGroup'>,
  everSeen = new Set<number>(),
  deadline = Infinity,
): SweepResult {
  const live: SweepResult['live'] = [];
  const seen = new Set<number>();
  const groupsStopped = new Set<number>();
  let signaled = 0;
  // Newest first: the children file lists them in the order they became ours,
  // so a hopper's live generation is at the end, behind its zombie ancestors.
  const queue = access.children(opts.root).reverse();
  let cut = false;
  while (queue.length > 0) {
    // A fork bomb can grow the tree faster than it is read: the round's bound holds inside a
    // sweep too, once it found someone (a cut sweep that found no one would read as "none left").
    if (live.length > 0 && access.now() >= deadline) {
      cut = true;
      break;
    }
    const pid = queue.shift()!;
    if (seen.has(pid) || pid === opts.root) continue;
    seen.add(pid);
    const st = access.stat(pid);
    if (!st) continue;
    everSeen.add(pid);
    if (!DEAD.has(st.state)) {
      if (!STOPPED.has(st.state)) {
        access.kill(pid, 'SIGSTOP');
        signaled++;
        if (st.pgid > 0 && !groupsStopped.has(st.pgid) && opts.mayKillGroup(st.pgid, everSeen)) {
          groupsStopped.add(st.pgid);
          access.kill(-st.pgid, 'SIGSTOP');
        }
      }
      live.push({ pid, pgid: st.pgid });
      // Read the children after the stop: a stopped parent keeps the child it just forked.
      // (A zombie has none: its children went to the reaper when it exited.)
      queue.push(...access.children(pid));
    }
  }
  // Closed only if no process slipped past: one that was reparented to us during
  // the sweep (its parent exited after our read) shows up among our children now.
  const closed = !cut && signaled === 0 && access.children(opts.root).every((pid) => seen.has(pid));
  return { live, signaled, closed };
}

/**
 * One round: stop sweeps until the set is closed (or the round's bound), then SIGKILL
 * every live descendant any sweep found: a sweep cut short by the bound (a loaded
 * machine) sees only part of the tree, and what the earlier sweeps stopped must not be
 * left stopped and alive.
 */
export function killRound(access: TreeAccess, opts: KillRoundOptions): KillRoundResult {
  const start = access.now();
  let sweeps = 0;
  let converged = false;
  const found = new Map<number, number>();
  const seen = new Set<number>();
  for (;;) {
    const sweep = stopSweep(access, opts, seen, start + opts.maxMs);
    sweeps++;
    for (const { pid, pgid } of sweep.live) found.set(pid, pgid);
    if (sweep.closed) {
      converged = true;
      break;
    }
    if (sweeps >= opts.maxSweeps || access.now() - start >= opts.maxMs) break;
  }
  const live = [...found].map(([pid, pgid]) => ({ pid, pgid }));
  const groups = new Set<number>();
  for (const { pid, pgid } of live) {
    access.kill(pid, 'SIGKILL');
    if (pgid > 0 && opts.mayKillGroup(pgid, seen)) groups.add(pgid);
  }
  for (const pgid of groups) access.kill(-pgid, 'SIGKILL');
  return { sweeps, converged, killed: live.map((p) => p.pid) };
}

/** Parses the state and process group out of a /proc/<pid>/stat line (the name may hold spaces and parentheses). */
export function parseStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).split(' ');
  const pgid = Number.parseInt(fields[2] ?? '', 10);
  if (!fields[0] || Number.isNaN(pgid)) return undefined;
  return { state: fields[0], pgid };
}

export function readStat(pid: number, procRoot = '/proc'): ProcStat | undefined {
  try {
    return parseStat(readFileSync(`${procRoot}/${pid}/stat`, 'latin1'));
  } catch {
    return undefined;
  }
}

/** The real /proc and kill(2). */
export function procTreeAccess(procRoot = '/proc'): TreeAccess {
  return {
    children: (pid) => childrenOf(pid, procRoot),
    stat: (pid) => readStat(pid, procRoot),
    kill(target, signal) {
      try {
        process.kill(target, signal);
        return true;
      } catch {
        return false;
      }
    },
    now: () => Date.now(),
  };
}

/**
 * Which process groups the final kill may signal as a whole. As PID 1 every
 * process of the namespace is ours, so any group but our own; otherwise only a
 * group whose leader was seen among our descendants (a group made by one of
 * ours), so a stranger sharing a group with a descendant is never hit.
 */
export function groupPolicy(isPid1: boolean, ownPgid: number, ownPid: number): KillRoundOptions['mayKillGroup'] {
  return (pgid, seen) => pgid > 1 && pgid !== ownPgid && pgid !== ownPid && (isPid1 || seen.has(pgid));
}
