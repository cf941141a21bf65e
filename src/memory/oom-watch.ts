// Watches the kernel's OOM-kill counters and turns every increase into one report
// naming the program and, where it can be known, the victims — whoever they are in
// the program's tree, not only its main process. Sources: each program's leaf
// (v2 memory.events, v1 memory.oom_control's oom_kill) and the container's own
// counters for the programs that have no leaf (the read-only cgroup fs of an
// ordinary pod). v2 counters are watched by inotify (fs.watch; the kernel notifies
// on every change of memory.events); v1 offers only an eventfd through
// cgroup.event_control, which Node cannot read without a blocking thread, so v1 is
// polled on the sampling tick. Victims are the processes seen in the last sample
// that are gone now (a pure function below); the supervisor's samples are its
// only knowledge of a program's processes (on v2, a leaf's processes are also noted
// whenever its memory.events changes, i.e. at its limit, just before a kill), so a
// victim born and killed between two looks is reported as unknown, never guessed.
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { CgroupLeaf, MemoryEvents } from './cgroup.js';

export interface ProcInfo {
  pid: number;
  /** /proc/<pid>/comm when it was seen; null if unreadable. */
  comm: string | null;
  /** The program's main process (the one the supervisor spawned). */
  main: boolean;
}

/** Per program: its processes, by pid. */
export type PidSets = ReadonlyMap<string, ReadonlyMap<number, ProcInfo>>;

export type Attribution = 'exact' | 'only_candidate' | 'unknown';

export interface ContainerAttribution {
  /** Null when the kill cannot be tied to one program. */
  program: string | null;
  /** exact: as many of the programs' processes vanished as the kernel killed; only_candidate: only this program lost processes, but the counts differ; unknown: several programs lost processes, or none did. */
  attribution: Attribution;
  /** The processes that vanished (with `unknown`: the possible victims of every candidate). */
  victims: ProcInfo[];
  /** Programs that lost processes at that moment. */
  candidates: string[];
}

/**
 * Which program(s) a container-level OOM kill of `kills` processes hit, from the
 * programs' processes in the last sample (`before`) and now (`after`). A process in
 * `before` missing from `after` vanished; `exclude` holds pids known not to be
 * victims (already reported, or seen to exit on their own). Pure.
 */
export function attributeContainerKills(kills: number, before: PidSets, after: ReadonlyMap<string, ReadonlySet<number>>, exclude: ReadonlySet<number> = new Set()): ContainerAttribution[] {
  const vanished = new Map<string, ProcInfo[]>();
  for (const [program, procs] of before) {
    const now = after.get(program) ?? new Set<number>();
    const gone = [...procs.values()].filter((p) => !now.has(p.pid) && !exclude.has(p.pid));
    if (gone.length > 0) vanished.set(program, gone);
  }
  const candidates = [...vanished.keys()];
  const total = [...vanished.values()].reduce((n, v) => n + v.length, 0);
  if (candidates.length === 0) return [{ program: null, attribution: 'unknown', victims: [], candidates }];
  if (total === kills) return candidates.map((program) => ({ program, attribution: 'exact', victims: vanished.get(program)!, candidates }));
  if (candidates.length === 1) return [{ program: candidates[0]!, attribution: 'only_candidate', victims: vanished.get(candidates[0]!)!, candidates }];
  return [{ program: null, attribution: 'unknown', victims: [...vanished.values()].flat(), candidates }];
}

const COUNTERS = ['oom_kill', 'oom_group_kill', 'oom', 'max'] as const;
type Counter = (typeof COUNTERS)[number];
export type CounterDelta = Record<Counter, number>;

export function counterDelta(before: MemoryEvents, after: MemoryEvents): CounterDelta {
  const d = {} as CounterDelta;
  for (const k of COUNTERS) d[k] = (after[k] ?? 0) - (before[k] ?? 0);
  return d;
}

/**
 * Whether a leaf's own limit was hit: v2's `oom` (an OOM at this cgroup's limit or
 * below it) or `max` (usage reached memory.max) went up; v1, which has neither
 * (its failcnt was seen to stay 0 at an OOM kill), when the leaf's peak reached its
 * limit (within a charge batch). A kill in the leaf without this came from a limit
 * above it: the container's.
 */
export function leafLimitHit(version: 'v1' | 'v2', delta: CounterDelta, peakBytes: number | null, limitBytes: number | undefined): boolean {
  if (delta.oom > 0 || delta.max > 0) return true;
  if (version === 'v2' || limitBytes === undefined || peakBytes === null) return false;
  return peakBytes >= limitBytes - Math.min(1 << 20, limitBytes / 10);
}

/**
 * Processes the kernel killed, from a counter delta: with a group kill the victim is
 * counted in oom_kill twice (once as the victim, once as a member of its group),
 * so processes = oom_kill − oom_group_kill when the group kill is counted in the
 * same cgroup. At least 1 when oom_kill went up.
 */
export function killsFromDelta(d: CounterDelta): number {
  if (d.oom_kill <= 0) return 0;
  return Math.max(1, d.oom_kill - Math.max(0, d.oom_group_kill));
}

export interface OomReport {
  program: string | null;
  /** leaf: the program's own limit was hit; container: a limit above it (the container's). */
  evidence: 'leaf' | 'container';
  attribution: Attribution;
  victims: ProcInfo[];
  candidates: string[];
  /** Processes killed in this report: the victims found, else the kills the counters show (at least 1). */
  oomKills: number;
  mainKilled: boolean;
  leafDelta?: CounterDelta;
  leafEvents?: MemoryEvents;
  containerDelta?: CounterDelta;
}

export interface WatchedProgram {
  name: string;
  /** Main pid of the current run, if running. */
  mainPid?: number;
  leaf?: CgroupLeaf;
  maxBytes?: number;
}

export interface OomWatchDeps {
  version: 'v1' | 'v2';
  programs(): WatchedProgram[];
  /** The container's hierarchical counters now; null when unreadable. */
  containerEvents(): MemoryEvents | null;
  /** The container's memory.events file to watch (v2), if any. */
  containerEventsFile?: string;
  /** A program's processes now (its leaf's, or its tree's). */
  processesOf(p: WatchedProgram): number[];
  /**
   * Whether this round's snapshot records `p`'s processes (default: yes). A program left out
   * has no "before" for that round: a container kill then names it only if its main process died.
   */
  snapshotIncludes?(p: WatchedProgram): boolean;
  /**
   * The container's memory.events changed (v2): it may be at its limit, where a kill comes
   * next. The owner decides whether that is so and then calls noteProcesses().
   */
  containerChanged?(): void;
  comm(pid: number): string | null;
  /** Whether a listed process is alive and not exiting (default: isLive below, from /proc). */
  isLive?(pid: number): boolean;
  report(r: OomReport): void;
  now(): number;
}

/** How long an increase with no vanished process waits for its victim to exit before it is reported as unknown. */
export const SETTLE_MS = 500;
const RECHECK_MS = 40;
/** A leaf at its limit notifies often: its processes are noted at most this often. */
const NOTE_MS = 10;

interface LeafState {
  leaf: CgroupLeaf;
  seen: MemoryEvents;
  /** Last value read (for the container's share, v2). */
  lastRead: MemoryEvents;
  pendingSince?: number;
  watcher?: FSWatcher;
  /** When its processes were last noted on a notification. */
  notedAt?: number;
}

export class OomWatch {
  private readonly leaves = new Map<string, LeafState>();
  /** Counters of removed leaves (v2: they stay in the container's hierarchical counters). */
  private readonly removed: Record<string, number> = { oom_kill: 0, oom_group_kill: 0, oom: 0, max: 0 };
  private containerSeen?: MemoryEvents;
  private containerPendingSince?: number;
  private containerWatcher?: FSWatcher;
  private last = new Map<string, Map<number, ProcInfo>>();
  /** Pids already reported as victims, or seen to exit on their own: never victims again. */
  private readonly settled = new Map<number, number>();
  private recheck?: NodeJS.Timeout;

  constructor(private readonly deps: OomWatchDeps) {}

  start(): void {
    this.containerSeen = this.nonLeafCounters() ?? undefined;
    if (this.deps.version === 'v2' && this.deps.containerEventsFile) this.containerWatcher = this.watchFile(this.deps.containerEventsFile, () => this.deps.containerChanged?.());
  }

  stop(): void {
    clearTimeout(this.recheck);
    this.containerWatcher?.close();
    for (const s of this.leaves.values()) s.watcher?.close();
  }

  /** A program's leaf for a new run: its counters start here. */
  leafStarted(name: string, leaf: CgroupLeaf): void {
    this.leafEnded(name);
    const seen = safe(() => leaf.readEvents()) ?? zeroEvents();
    const state: LeafState = { leaf, seen, lastRead: seen };
    // A change of memory.events without a kill means the leaf is at its limit, where a kill
    // comes next: its processes are noted then, so a worker forked since the last sample
    // and killed before the next is still named.
    if (this.deps.version === 'v2') state.watcher = this.watchFile(join(leaf.path, 'memory.events'), () => this.noteLeafProcesses(name, state));
    this.leaves.set(name, state);
  }

  /** Before a leaf is removed: report what it still holds, then keep its count for the container's share. */
  leafEnded(name: string): void {
    const s = this.leaves.get(name);
    if (!s) return;
    this.check(name);
    s.watcher?.close();
    if (this.deps.version === 'v2') for (const k of COUNTERS) this.removed[k]! += s.lastRead[k] ?? 0;
    this.leaves.delete(name);
  }

  /** A pid that exited on its own (not SIGKILL): it is not a victim. */
  exitedOnItsOwn(pid: number): void {
    this.settled.set(pid, this.deps.now());
  }

  /** A main process died of SIGKILL: reports it if the counters explain it. True when it is (or was already) reported as an OOM kill. */
  mainKilled(name: string, pid: number): boolean {
    if (this.wasReported.has(pid)) return true;
    this.check(name, { name, pid });
    return this.wasReported.has(pid);
  }

  private readonly wasReported = new Set<number>();

  /** Records every program's processes now: the "before" of the next check. Call after check(). */
  snapshot(): void {
    const next = new Map<string, Map<number, ProcInfo>>();
    // A container kill not reported yet is judged against the processes before it: until
    // then the programs without a leaf keep what was seen (a victim still dying is live now,
    // and a program left out of this round would lose its "before").
    const holding = this.containerKillPending();
    for (const p of this.deps.programs()) {
      const prev = this.last.get(p.name);
      const hold = holding && !this.leaves.has(p.name) && prev !== undefined;
      if (p.mainPid === undefined || this.deps.snapshotIncludes?.(p) === false) {
        if (hold) next.set(p.name, prev);
        continue;
      }
      const procs = new Map<number, ProcInfo>(hold ? prev : []);
      for (const pid of this.processesNow(p, p.mainPid)) {
        // comm is read every time: a forked child changes it when it execs.
        procs.set(pid, { pid, comm: this.deps.comm(pid) ?? prev?.get(pid)?.comm ?? null, main: pid === p.mainPid });
      }
      next.set(p.name, procs);
    }
    this.last = next;
    const old = this.deps.now() - 60_000;
    for (const [pid, t] of this.settled) {
      if (t < old) {
        this.settled.delete(pid);
        this.wasReported.delete(pid);
      }
    }
  }

  /** The container's counters show a kill outside the leaves that is not reported yet. */
  containerKillPending(): boolean {
    if (this.containerPendingSince !== undefined) return true;
    const current = this.nonLeafCounters();
    return current !== null && this.containerSeen !== undefined && current.oom_kill > this.containerSeen.oom_kill;
  }

  /**
   * Reads every counter and reports each increase. `flush`: the program whose
   * increase is reported now even when no victim has been seen to vanish yet (its
   * leaf is about to go, or its main process is known to be dead: `killed`); the
   * others keep waiting for their victims to exit.
   */
  check(flush?: string, killed?: { name: string; pid: number }): void {
    const now = this.deps.now();
    let waiting = false;
    const programs = new Map(this.deps.programs().map((p) => [p.name, p]));
    for (const [name, s] of this.leaves) {
      const ev = safe(() => s.leaf.readEvents());
      if (!ev) continue;
      s.lastRead = ev;
      if (ev.oom_kill <= s.seen.oom_kill) continue;
      const p = programs.get(name);
      const victims = this.vanished(name, p ? safeList(() => this.deps.processesOf(p)) : [], killed);
      if (victims.length === 0 && flush !== name) {
        s.pendingSince ??= now;
        if (now - s.pendingSince < SETTLE_MS) {
          waiting = true;
          continue;
        }
      }
      const delta = counterDelta(s.seen, ev);
      const peak = safe(() => s.leaf.readUsage().peakBytes) ?? null;
      s.seen = ev;
      s.pendingSince = undefined;
      this.emit({
        program: name,
        evidence: leafLimitHit(this.deps.version, delta, peak, p?.maxBytes) ? 'leaf' : 'container',
        attribution: 'exact',
        victims,
        candidates: [name],
        oomKills: victims.length > 0 ? victims.length : killsFromDelta(delta),
        mainKilled: victims.some((v) => v.main),
        leafDelta: delta,
        leafEvents: ev,
      });
    }
    waiting = this.checkContainer(flush !== undefined && !this.leaves.has(flush), now, programs, killed) || waiting;
    if (waiting && !this.recheck) {
      this.recheck = setTimeout(() => {
        this.recheck = undefined;
        this.check();
      }, RECHECK_MS);
      this.recheck.unref();
    }
  }

  /** Kills outside the leaves (the programs without one). Returns true when waiting for a victim to vanish. */
  private checkContainer(force: boolean, now: number, programs: Map<string, WatchedProgram>, killed?: { name: string; pid: number }): boolean {
    const current = this.nonLeafCounters();
    if (!current || !this.containerSeen) {
      this.containerSeen ??= current ?? undefined;
      return false;
    }
    const delta = counterDelta(this.containerSeen, current);
    if (delta.oom_kill <= 0) {
      // The leaves are read before the container, so a kill in a leaf between the two
      // reads shows here as +1 for one pass (then waits, see below) and is gone on the
      // next; whatever the cause, a difference that is gone ends the wait.
      if (delta.oom_kill < 0) this.containerSeen = current;
      this.containerPendingSince = undefined;
      return false;
    }
    const kills = killsFromDelta(delta);
    const before = new Map<string, Map<number, ProcInfo>>();
    const after = new Map<string, Set<number>>();
    for (const [name, procs] of this.last) {
      if (this.leaves.has(name)) continue;
      before.set(name, procs);
      const p = programs.get(name);
      after.set(name, new Set(p ? safeList(() => this.deps.processesOf(p)).filter((pid) => pid !== killed?.pid || name !== killed.name) : []));
    }
    if (killed && !this.leaves.has(killed.name) && !before.get(killed.name)?.has(killed.pid)) {
      // The main process died before any sample saw it.
      const procs = new Map(before.get(killed.name) ?? []);
      procs.set(killed.pid, { pid: killed.pid, comm: null, main: true });
      before.set(killed.name, procs);
    }
    const exclude = new Set(this.settled.keys());
    const found = attributeContainerKills(kills, before, after, exclude);
    if (!force && found.length === 1 && found[0]!.victims.length === 0) {
      this.containerPendingSince ??= now;
      if (now - this.containerPendingSince < SETTLE_MS) return true;
    }
    this.containerSeen = current;
    this.containerPendingSince = undefined;
    for (const a of found) {
      this.emit({
        program: a.program,
        evidence: 'container',
        attribution: a.attribution,
        victims: a.victims,
        candidates: a.candidates,
        oomKills: a.attribution === 'exact' ? a.victims.length : kills,
        mainKilled: a.program !== null && a.victims.some((v) => v.main),
        containerDelta: delta,
      });
    }
    return false;
  }

  private emit(r: OomReport): void {
    const now = this.deps.now();
    for (const v of r.victims) {
      this.settled.set(v.pid, now);
      // Only a report that names the program explains its main process's death.
      if (r.program !== null) this.wasReported.add(v.pid);
      for (const procs of this.last.values()) procs.delete(v.pid);
    }
    this.deps.report(r);
  }

  /** Processes of a program's last sample that are gone (or exiting) now and not settled, plus its main process when it is known to be dead. */
  private vanished(name: string, nowPids: number[], killed?: { name: string; pid: number }): ProcInfo[] {
    const live = this.deps.isLive ?? isLive;
    const now = new Set(nowPids.filter((pid) => live(pid)));
    const out = [...(this.last.get(name)?.values() ?? [])].filter((p) => !now.has(p.pid) && !this.settled.has(p.pid));
    if (killed?.name === name && !out.some((p) => p.pid === killed.pid) && !this.settled.has(killed.pid)) out.push({ pid: killed.pid, comm: null, main: true });
    return out;
  }

  /** The container's counters minus what its leaves counted (v2 counts a leaf's kills in its parents too; v1 does not). */
  private nonLeafCounters(): MemoryEvents | null {
    const c = this.deps.containerEvents();
    if (!c) return null;
    if (this.deps.version !== 'v2') return c;
    const out = { ...c };
    for (const k of COUNTERS) {
      let leafSum = this.removed[k] ?? 0;
      for (const s of this.leaves.values()) leafSum += s.lastRead[k] ?? 0;
      out[k] = (c[k] ?? 0) - leafSum;
    }
    return out;
  }

  /**
   * Adds the processes of every program without a leaf alive now to its "before" (the ones
   * already there stay): between two snapshots, for a container at its limit.
   */
  noteProcesses(): void {
    for (const p of this.deps.programs()) {
      if (p.mainPid === undefined || this.leaves.has(p.name)) continue;
      const procs = this.last.get(p.name) ?? new Map<number, ProcInfo>();
      this.addUnseen(procs, this.processesNow(p, p.mainPid), p.mainPid);
      this.last.set(p.name, procs);
    }
  }

  /** Adds the leaf's processes alive now to its program's "before" (the ones already there stay). */
  private noteLeafProcesses(name: string, s: LeafState): void {
    const now = this.deps.now();
    if (s.notedAt !== undefined && now - s.notedAt < NOTE_MS) return;
    s.notedAt = now;
    const procs = this.last.get(name);
    if (!procs) return; // no sample of this run yet: the next one takes all
    this.addUnseen(procs, safeList(() => s.leaf.pids()));
  }

  /** A program's processes now, its main process first (once). */
  private processesNow(p: WatchedProgram, mainPid: number): number[] {
    return [...new Set([mainPid, ...safeList(() => this.deps.processesOf(p))])];
  }

  /** Records the pids not in `procs` yet, with their command names. */
  private addUnseen(procs: Map<number, ProcInfo>, pids: number[], mainPid?: number): void {
    for (const pid of pids) if (!procs.has(pid)) procs.set(pid, { pid, comm: this.deps.comm(pid), main: pid === mainPid });
  }

  private watchFile(file: string, onNotify?: () => void): FSWatcher | undefined {
    try {
      const w = watch(file, { persistent: false }, () => {
        try {
          onNotify?.();
        } catch {
          // a look between rounds is best effort: the next round looks again
        }
        if (this.recheck) return;
        this.recheck = setTimeout(() => {
          this.recheck = undefined;
          this.check();
        }, RECHECK_MS);
        this.recheck.unref();
      });
      w.on('error', () => w.close());
      return w;
    } catch {
      return undefined; // the sampling tick still polls
    }
  }
}

/** The kernel's PF_EXITING task flag (/proc/PID/stat field 9): the process is in exit(). */
const PF_EXITING = 0x4;

/**
 * False for a vanished pid, a zombie (it has died; only its parent's wait is missing) or a
 * process already in exit(): an OOM victim can take a long time to free its memory, and
 * is listed (in its leaf too) all the while.
 */
export function isLive(pid: number, procRoot = '/proc'): boolean {
  try {
    return statIsLive(readFileSync(`${procRoot}/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

/** isLive() of one /proc/PID/stat text. */
export function statIsLive(stat: string): boolean {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const flags = Number.parseInt(fields[6] ?? '0', 10);
  return state !== 'Z' && state !== 'X' && (flags & PF_EXITING) === 0;
}

function zeroEvents(): MemoryEvents {
  return { oom_kill: 0, oom: 0, max: 0, high: 0, oom_group_kill: 0 };
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

function safeList(fn: () => number[]): number[] {
  return safe(fn) ?? [];
}
