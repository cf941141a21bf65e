// What the v1 and v2 drivers share about a program's leaf cgroup: checking its name,
// making it afresh (counters at 0) with rollback when its limits cannot be set,
// listing its pids, and tearing it down (SIGKILL what is left, rmdir, retry on EBUSY
// while the killed processes finish exiting) without ever throwing.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupLeaf, MemoryEvents, MemoryLimits, MemoryUsage } from './cgroup.js';
import { ensureDir, errnoCode, readText, removeDir, sleepSync, writeValue } from './files.js';
import { parsePidList } from './parse.js';

/** Program names become directory names: letters, digits, `_ . - @ :`, not starting with `.`, ≤ 200 chars. */
export function checkLeafName(name: string): void {
  if (!/^[A-Za-z0-9_@:-][A-Za-z0-9_.@:-]{0,199}$/.test(name)) {
    throw new Error(`cannot use ${JSON.stringify(name)} as a cgroup name: expected letters, digits, _ . - @ : and not starting with "."`);
  }
}

/** `<parent>/<name>` for a leaf, refusing names that are taken by an interface file (memory.stat, tasks …). */
export function leafDir(parent: string, name: string): string {
  checkLeafName(name);
  const dir = join(parent, name);
  let isFile = false;
  try {
    isFile = !statSync(dir).isDirectory();
  } catch {
    // does not exist yet
  }
  if (isFile) throw new Error(`cannot use ${JSON.stringify(name)} as a cgroup name: ${dir} is a cgroup interface file`);
  return dir;
}

/** A limit as the files want it: bytes, or the version's "no limit" ('max' on v2, -1 on v1). */
export const limitText = (version: 'v1' | 'v2', bytes: number | undefined): string =>
  bytes === undefined || !Number.isFinite(bytes) ? (version === 'v2' ? 'max' : '-1') : String(Math.max(0, Math.floor(bytes)));

export function readPids(dir: string): number[] {
  return parsePidList(readText(join(dir, 'cgroup.procs')));
}

export interface RemoveResult {
  removed: boolean;
  /** Pids that were still in the cgroup and got SIGKILL. */
  killed: number[];
  /** How many times rmdir met EBUSY (killed tasks still exiting) before it worked or gave up. */
  busyRetries: number;
  /** Why it could not be removed. */
  reason?: string;
}

export interface RemoveOptions {
  /** Give up after this long of EBUSY (ms). Default 2000. */
  retryMs?: number;
  /** Sends the signal; default process.kill. */
  kill?: (pid: number, signal: NodeJS.Signals) => void;
  /** Use v2's cgroup.kill when the file exists. */
  cgroupKill?: boolean;
}

const defaultKill = (pid: number, signal: NodeJS.Signals) => process.kill(pid, signal);

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
  } catch {
    return [];
  }
}

/**
 * Kills every process left in `dir` (and in child cgroups a program may have made),
 * then removes the directories bottom-up. A cgroup stays busy until its killed tasks
 * have exited, so EBUSY is retried for up to `retryMs`. Never throws.
 */
export function killAndRemove(dir: string, opts: RemoveOptions = {}): RemoveResult {
  const retryMs = opts.retryMs ?? 2000;
  const kill = opts.kill ?? defaultKill;
  const killed = new Set<number>();
  const deadline = Date.now() + retryMs;
  let busyRetries = 0;

  const killAll = (d: string) => {
    if (opts.cgroupKill) {
      try {
        writeValue(join(d, 'cgroup.kill'), 1);
      } catch {
        // no cgroup.kill (Linux < 5.14) or not allowed: fall back to the pids
      }
    }
    let pids: number[] = [];
    try {
      pids = readPids(d);
    } catch {
      return;
    }
    for (const pid of pids) {
      try {
        kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        // ESRCH: gone already
      }
    }
  };

  const removeTree = (d: string): string | undefined => {
    for (const child of subdirs(d)) {
      const why = removeTree(child);
      if (why) return why;
    }
    for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
      killAll(d);
      try {
        removeDir(d);
        return undefined;
      } catch (e) {
        const code = errnoCode(e);
        if (code === 'ENOENT') return undefined;
        if (code !== 'EBUSY' || Date.now() >= deadline) return e instanceof Error ? e.message : String(e);
        busyRetries++;
      }
      sleepSync(wait);
    }
  };

  try {
    const reason = removeTree(dir);
    const base = { killed: [...killed], busyRetries };
    return reason === undefined ? { removed: true, ...base } : { removed: false, ...base, reason };
  } catch (e) {
    return { removed: false, killed: [...killed], busyRetries, reason: e instanceof Error ? e.message : String(e) };
  }
}

export interface LeafSpec {
  dir: string;
  name: string;
  /** The driver's registry of live leaves (a removed leaf leaves it). */
  leaves: Map<string, CgroupLeaf>;
  removeOpts: RemoveOptions;
  readEvents(dir: string): MemoryEvents;
  readUsage(dir: string): MemoryUsage;
  /** Writes the version's limit files (no limit where a field is unset); pushes what it could not apply to `notes`. */
  configure(limits: MemoryLimits, notes: string[]): void;
}

/**
 * Makes the leaf directory — removing a previous one first, so its counters start
 * at 0, or reusing it emptied when it cannot be removed — writes `limits` (none:
 * every limit lifted, which also opens a reused leaf), and returns the leaf. If a
 * limit cannot be set the directory is removed again and the error is thrown.
 */
export function makeLeaf(spec: LeafSpec, limits: MemoryLimits = {}): CgroupLeaf {
  const { dir, name, leaves, removeOpts } = spec;
  const notes: string[] = [];
  if (existsSync(dir)) {
    const r = killAndRemove(dir, removeOpts);
    if (!r.removed) notes.push(`reusing ${dir} (could not remove it: ${r.reason})`);
  }
  ensureDir(dir);
  try {
    spec.configure(limits, notes);
  } catch (e) {
    try {
      removeDir(dir);
    } catch {
      // leave it; the error below says what failed
    }
    throw e;
  }
  const leaf: CgroupLeaf = {
    path: dir,
    name,
    notes,
    readEvents: () => spec.readEvents(dir),
    readUsage: () => spec.readUsage(dir),
    pids: () => readPids(dir),
    setLimits(l: MemoryLimits): string[] {
      const more: string[] = [];
      spec.configure(l, more);
      notes.push(...more);
      return more;
    },
    remove(): RemoveResult {
      const r = killAndRemove(dir, removeOpts);
      if (r.removed && leaves.get(name) === leaf) leaves.delete(name);
      return r;
    },
  };
  leaves.set(name, leaf);
  return leaf;
}
