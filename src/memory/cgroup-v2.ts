// The cgroup v2 driver: turns our cgroup (the container's) into a parent with the
// memory controller enabled — the supervisor and every other process go to the leaf
// `supervisor/` first (the "no internal processes" rule) — and makes one leaf per
// program under `programs/<name>` with memory.max, memory.high, memory.swap.max and
// memory.oom.group.
//
//   <root>/                 our cgroup at startup; cgroup.subtree_control: +memory
//   <root>/supervisor/      the supervisor (and whatever else lived in <root>)
//   <root>/programs/        cgroup.subtree_control: +memory
//   <root>/programs/<name>/ one program, with its limits
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupDriver, CgroupLeaf, DriverOptions, MemoryEvents, MemoryLimits, MemoryUsage, PrepareResult } from './cgroup.js';
import { CgroupFileError, ensureDir, errnoCode, readOptional, readText, removeDir, writeValue } from './files.js';
import { checkLeafName, leafDir, limitText, makeLeaf, readPids, type RemoveResult } from './leaf.js';
import { parseCount, parseFlatKeyed } from './parse.js';

export const SUPERVISOR_LEAF = 'supervisor';
export const PROGRAMS_DIR = 'programs';

/** memory.stat keys reported by readUsage (all bytes). */
export const V2_STAT_KEYS = ['anon', 'file', 'shmem', 'anon_thp', 'inactive_file', 'active_file', 'file_mapped'] as const;

const EVENT_KEYS = ['oom_kill', 'oom', 'max', 'high', 'oom_group_kill'] as const;

/**
 * memory.events of `dir` (hierarchical: includes descendants), or memory.events.local
 * with `local`. With allowMissing, a cgroup without the file (the root) reads as zeros.
 * With memory.oom.group=1 oom_kill counts the victim and then every group member the
 * kernel kills (the victim again among them): one killed single-threaded process was
 * seen as oom_kill 2, oom_group_kill 1 on Linux 6.1. Treat oom_kill as "went up", not a count.
 */
export function readV2Events(dir: string, o: { allowMissing?: boolean; local?: boolean } = {}): MemoryEvents {
  const file = join(dir, o.local ? 'memory.events.local' : 'memory.events');
  const text = o.allowMissing ? readOptional(file) ?? '' : readText(file);
  const parsed = parseFlatKeyed(text);
  const out = { ...parsed } as MemoryEvents;
  for (const k of EVENT_KEYS) out[k] = parsed[k] ?? 0;
  return out;
}

/** memory.current, memory.peak and memory.stat highlights of `dir`. */
export function readV2Usage(dir: string, o: { allowMissingCurrent?: boolean } = {}): MemoryUsage {
  const currentFile = join(dir, 'memory.current');
  const currentText = o.allowMissingCurrent ? readOptional(currentFile) : readText(currentFile);
  const peakText = readOptional(join(dir, 'memory.peak'));
  const statText = o.allowMissingCurrent ? readOptional(join(dir, 'memory.stat')) ?? '' : readText(join(dir, 'memory.stat'));
  const all = parseFlatKeyed(statText);
  const stat: Record<string, number> = {};
  for (const k of V2_STAT_KEYS) if (all[k] !== undefined) stat[k] = all[k];
  return {
    currentBytes: currentText === null ? 0 : parseNumber(currentText, currentFile),
    peakBytes: peakText === null ? null : parseNumber(peakText, join(dir, 'memory.peak')),
    stat,
  };
}

function parseNumber(text: string, file: string): number {
  try {
    return parseCount(text);
  } catch (e) {
    throw new Error(`unexpected content in ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function enableMemory(dir: string): boolean {
  const file = join(dir, 'cgroup.subtree_control');
  if (readText(file).trim().split(/\s+/).includes('memory')) return false;
  writeValue(file, '+memory');
  return true;
}

export function createV2Driver(root: string, opts: DriverOptions = {}): CgroupDriver {
  const selfPid = opts.selfPid ?? process.pid;
  const supervisorDir = join(root, SUPERVISOR_LEAF);
  const programsDir = join(root, PROGRAMS_DIR);
  const leaves = new Map<string, CgroupLeaf>();
  let prepared: PrepareResult | undefined;
  const removeOpts = { retryMs: opts.removeRetryMs, kill: opts.kill, cgroupKill: true };

  const movePid = (pid: number, dir: string) => writeValue(join(dir, 'cgroup.procs'), pid);

  /** Moves every process of `root` into the supervisor leaf; returns the pids moved. */
  function evacuate(notes: string[]): number[] {
    const moved: number[] = [];
    const refused = new Set<number>();
    // Processes may fork while we move them: repeat until the cgroup is empty.
    for (let round = 0; round < 50; round++) {
      const pids = readPids(root).filter((p) => !refused.has(p));
      if (pids.length === 0) break;
      // Ourselves first, so our children forked from now on start in the leaf.
      pids.sort((a, b) => (a === selfPid ? -1 : b === selfPid ? 1 : 0));
      for (const pid of pids) {
        try {
          movePid(pid, supervisorDir);
          moved.push(pid);
        } catch (e) {
          const code = errnoCode(e);
          if (code === 'ESRCH') continue; // exited meanwhile
          if (code === 'EINVAL' && pid !== selfPid) {
            // Cannot be moved (a kernel thread in the root cgroup).
            refused.add(pid);
            notes.push(`pid ${pid} could not be moved: EINVAL`);
            continue;
          }
          throw e;
        }
      }
    }
    return moved;
  }

  const driver: CgroupDriver = {
    version: 'v2',
    get selfPath() {
      return prepared ? supervisorDir : root;
    },

    prepare() {
      if (prepared) return prepared;
      const notes: string[] = [];
      ensureDir(supervisorDir);
      let moved: number[];
      // The real root cgroup (no cgroup.type) is exempt from "no internal processes"
      // and holds kernel threads and the rest of the system: move only ourselves.
      if (readOptional(join(root, 'cgroup.type')) === null) {
        movePid(selfPid, supervisorDir);
        moved = [selfPid];
        notes.push(`${root} is the root cgroup: moved only the supervisor`);
      } else {
        moved = evacuate(notes);
      }
      try {
        if (enableMemory(root)) notes.push(`enabled +memory in ${join(root, 'cgroup.subtree_control')}`);
      } catch (e) {
        // EBUSY: a process appeared in <root> between the move and the write: once more.
        if (errnoCode(e) !== 'EBUSY') throw e;
        moved.push(...evacuate(notes));
        enableMemory(root);
      }
      ensureDir(programsDir);
      enableMemory(programsDir);
      prepared = { supervisorCgroup: supervisorDir, moved, notes };
      return prepared;
    },

    createLeaf(name: string, limits: MemoryLimits = {}): CgroupLeaf {
      checkLeafName(name);
      driver.prepare();
      const dir = leafDir(programsDir, name);
      return makeLeaf({
        dir,
        name,
        leaves,
        removeOpts,
        readEvents: (d) => readV2Events(d),
        readUsage: (d) => readV2Usage(d),
        configure(limits, notes) {
          writeValue(join(dir, 'memory.max'), limitText('v2', limits.maxBytes));
          writeValue(join(dir, 'memory.high'), limitText('v2', limits.highBytes));
          const swap = limits.swapMaxBytes ?? 0;
          if (existsSync(join(dir, 'memory.swap.max'))) writeValue(join(dir, 'memory.swap.max'), limitText('v2', swap));
          else notes.push('no memory.swap.max (the kernel does not account swap per cgroup): swap is not capped');
          const group = limits.oomGroup ?? false;
          if (existsSync(join(dir, 'memory.oom.group'))) writeValue(join(dir, 'memory.oom.group'), group ? 1 : 0);
          else if (group) notes.push('no memory.oom.group (Linux < 4.19): an OOM kill takes one process, not the program');
        },
      }, limits);
    },

    movePid,

    cleanup(): RemoveResult[] {
      const results = [...leaves.values()].map((l) => l.remove());
      if (prepared) {
        try {
          removeDir(programsDir);
        } catch (e) {
          if (!(e instanceof CgroupFileError) || e.code !== 'ENOENT') {
            results.push({ removed: false, killed: [], busyRetries: 0, reason: e instanceof Error ? e.message : String(e) });
          }
        }
      }
      return results;
    },
  };
  return driver;
}
