// The one interface the supervisor uses for per-program memory cgroups, whatever the
// kernel offers: picks the v1 or v2 driver for a detected environment, and reads the
// container's own totals (usage, limit, events, stat, PSI) for the container guard.
import { join } from 'node:path';
import type { MemoryEnvironment } from './environment.js';
import { smallestLimitUpTo, v1EffectiveLimit } from './environment.js';
import { readQuiet } from './files.js';
import type { RemoveResult } from './leaf.js';
import { parsePsi, type Psi } from './parse.js';
import { createV1Driver, readV1Events, readV1Usage } from './cgroup-v1.js';
import { createV2Driver, readV2Events, readV2Usage } from './cgroup-v2.js';

export interface MemoryLimits {
  /** Hard cap: v2 memory.max, v1 memory.limit_in_bytes. Unset: no cap. */
  maxBytes?: number;
  /** v2 memory.high (throttle + reclaim above it, never kills); v1 memory.soft_limit_in_bytes, which only steers reclaim under global pressure (v1 has no real "high"). */
  highBytes?: number;
  /** Swap the program may use. Default 0. v2 memory.swap.max; v1 memory.memsw.limit_in_bytes = maxBytes + this. */
  swapMaxBytes?: number;
  /** v2 memory.oom.group: an OOM kill in the leaf kills the whole program. Default false (the kernel's choice dies alone, as on v1). Ignored on v1. */
  oomGroup?: boolean;
}

export interface PrepareResult {
  /** The supervisor's own cgroup directory afterwards. */
  supervisorCgroup: string;
  /** Pids moved into it. */
  moved: number[];
  /** What was skipped or could not be done, for the log. */
  notes: string[];
}

/** Counters with the same names on both versions; 0 where a version has no such counter. */
export type MemoryEvents = Record<'oom_kill' | 'oom' | 'max' | 'high' | 'oom_group_kill', number> & Record<string, number>;

export interface MemoryUsage {
  /** v2 memory.current, v1 memory.usage_in_bytes. */
  currentBytes: number;
  /** v2 memory.peak (Linux ≥ 5.19), v1 memory.max_usage_in_bytes; null if missing. */
  peakBytes: number | null;
  /** Bytes, v2 names: anon, file, shmem, anon_thp, inactive_file, active_file, file_mapped (v1: total_rss, total_cache, …). */
  stat: Record<string, number>;
}

export interface CgroupLeaf {
  /** The leaf's directory. */
  path: string;
  name: string;
  /** Settings that could not be applied (e.g. no swap accounting), for the log. */
  notes: string[];
  /**
   * v2 memory.events: oom, oom_kill, oom_group_kill, max, high, low. v1: oom_kill and
   * under_oom from memory.oom_control, memory.failcnt as `max`; oom, high, oom_group_kill 0.
   */
  readEvents(): MemoryEvents;
  readUsage(): MemoryUsage;
  /** Pids in the leaf (cgroup.procs). */
  pids(): number[];
  /**
   * Writes the limits (an unset field: no limit). Throws a CgroupFileError naming the
   * file; v1 refuses a memory.limit_in_bytes below what the leaf already holds with
   * EBUSY once reclaim fails; v2 reclaims and OOM-kills inside the leaf instead.
   * Returns what could not be applied (notes).
   */
  setLimits(limits: MemoryLimits): string[];
  /** SIGKILL what is left, rmdir (retrying EBUSY briefly). Never throws. */
  remove(): RemoveResult;
}

export interface CgroupDriver {
  version: 'v1' | 'v2';
  /**
   * One-time setup, idempotent. v2: moves every process of our cgroup into the leaf
   * `<root>/supervisor`, enables +memory in `<root>/cgroup.subtree_control` and makes
   * `<root>/programs` for the leaves. v1: nothing to do. Throws a CgroupFileError.
   */
  prepare(): PrepareResult;
  /**
   * Makes the leaf for a program — v2 `<root>/programs/<name>`, v1 `<our memory
   * cgroup>/<name>` — or reuses it after killing what is left in it (it is removed
   * and made again when possible, so its counters start at 0), and sets the limits
   * (none given: every limit lifted, so the supervisor may step in to fork).
   * v2 calls prepare() first if needed. Throws a CgroupFileError naming the file.
   */
  createLeaf(name: string, limits?: MemoryLimits): CgroupLeaf;
  /** The supervisor's own cgroup directory (v2: `<root>/supervisor` after prepare()). */
  readonly selfPath: string;
  /** Writes `pid` to `<dir>/cgroup.procs`. */
  movePid(pid: number, dir: string): void;
  /** Removes every leaf this driver made (and v2's `programs` directory). Never throws. */
  cleanup(): RemoveResult[];
}

export interface DriverOptions {
  /** Our pid (moved into the supervisor leaf even when alone). Default process.pid. */
  selfPid?: number;
  /** Sends signals when removing leaves. Default process.kill. */
  kill?: (pid: number, signal: NodeJS.Signals) => void;
  /** How long remove() retries EBUSY (ms). Default 2000. */
  removeRetryMs?: number;
}

/** The driver for a detected environment. Throws when there is no cgroup memory controller or it is not writable. */
export function createCgroupDriver(env: MemoryEnvironment, opts: DriverOptions = {}): CgroupDriver {
  if (env.cgroup === 'none' || env.path === null) {
    throw new Error(`no cgroup memory controller to cap programs with (${env.reason})`);
  }
  if (!env.writable) {
    throw new Error(`the cgroup ${env.cgroup} hierarchy at ${env.path} is not writable (${env.writableReason ?? 'unknown'}): cannot make per-program cgroups`);
  }
  return env.cgroup === 'v2' ? createV2Driver(env.path, opts) : createV1Driver(env.path, opts);
}

/**
 * argv that moves itself into the cgroup `dir` and then execs `argv`, so the program
 * is charged to the leaf from its first allocation (needs /bin/sh).
 */
export function enterCgroupArgv(dir: string, argv: string[]): string[] {
  return ['/bin/sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', dir, ...argv];
}

export interface ContainerMemory {
  version: 'v1' | 'v2';
  /** The cgroup read: the container's (env.path, as detected before prepare()). */
  path: string;
  /** Null where the file is missing (the root cgroup has no memory.current). */
  usageBytes: number | null;
  /** Effective limit (see MemoryEnvironment.limitBytes); null if unlimited. */
  limitBytes: number | null;
  /** usage − inactive_file, the kubelet's working set. */
  workingSetBytes: number | null;
  peakBytes: number | null;
  /**
   * v2: hierarchical memory.events — includes the programs' leaves, so an OOM group kill
   * inside a leaf shows here as oom_group_kill too. v1: this cgroup's own counters
   * (v1 does not add a child's OOM kills to its parents: sum the leaves).
   */
  events: MemoryEvents;
  /** Events of the container cgroup itself (v2 memory.events.local; v1 the same as `events`): an OOM at the container's own limit. */
  eventsLocal: MemoryEvents;
  stat: Record<string, number>;
  /** v2 memory.pressure; null on v1 or without PSI. */
  psi: Psi | null;
  /** v2 memory.swap.current / v1 memsw usage − usage; null if not accounted. */
  swapBytes: number | null;
}

/** The container's own totals, the way a container guard polls them. Null for 'none'. Throws a CgroupFileError when a needed file cannot be read. */
export function readContainerMemory(env: MemoryEnvironment): ContainerMemory | null {
  if (env.cgroup === 'none' || env.path === null) return null;
  const dir = env.path;
  const psiText = readQuiet(join(dir, 'memory.pressure'));
  const psi = psiText === null ? null : parsePsi(psiText);
  const num = (file: string) => {
    const t = readQuiet(join(dir, file));
    const n = t === null ? NaN : Number(t.trim());
    return Number.isFinite(n) ? n : null;
  };
  if (env.cgroup === 'v2') {
    const usage = readV2Usage(dir, { allowMissingCurrent: true });
    const current = num('memory.current');
    const inactive = usage.stat['inactive_file'];
    return {
      version: 'v2',
      path: dir,
      usageBytes: current,
      limitBytes: smallestLimitUpTo(dir, env.mount?.point ?? dir, 'memory.max'),
      workingSetBytes: current === null ? null : Math.max(0, current - (inactive ?? 0)),
      peakBytes: usage.peakBytes,
      events: readV2Events(dir, { allowMissing: true }),
      eventsLocal: readV2Events(dir, { allowMissing: true, local: true }),
      stat: usage.stat,
      psi,
      swapBytes: num('memory.swap.current'),
    };
  }
  const usage = readV1Usage(dir);
  const events = readV1Events(dir);
  const memsw = num('memory.memsw.usage_in_bytes');
  return {
    version: 'v1',
    path: dir,
    usageBytes: usage.currentBytes,
    limitBytes: v1EffectiveLimit(dir),
    workingSetBytes: Math.max(0, usage.currentBytes - (usage.stat['inactive_file'] ?? 0)),
    peakBytes: usage.peakBytes,
    events,
    eventsLocal: events,
    stat: usage.stat,
    psi,
    swapBytes: memsw === null ? null : Math.max(0, memsw - usage.currentBytes),
  };
}
