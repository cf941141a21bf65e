// The cgroup v1 driver: one child memory cgroup per program directly under our own
// memory cgroup (`<ours>/<name>`), with memory.limit_in_bytes as the hard cap,
// memory.soft_limit_in_bytes for "high" (v1 has no throttling limit: the soft limit
// only steers reclaim under global memory pressure), memory.memsw.limit_in_bytes =
// limit + swap when the kernel accounts swap, and the OOM killer left enabled.
// v1 has no "no internal processes" rule, so the supervisor stays where it is.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupDriver, CgroupLeaf, DriverOptions, MemoryEvents, MemoryLimits, MemoryUsage } from './cgroup.js';
import { errnoCode, readOptional, readText, writeValue } from './files.js';
import { leafDir, limitText, makeLeaf } from './leaf.js';
import { parseCount, parseFlatKeyed } from './parse.js';

/** v1 memory.stat keys (hierarchical `total_*` first) → the v2 names readUsage reports. */
export const V1_STAT_KEYS: Record<string, [string, string]> = {
  anon: ['total_rss', 'rss'],
  file: ['total_cache', 'cache'],
  shmem: ['total_shmem', 'shmem'],
  anon_thp: ['total_rss_huge', 'rss_huge'],
  inactive_file: ['total_inactive_file', 'inactive_file'],
  active_file: ['total_active_file', 'active_file'],
  file_mapped: ['total_mapped_file', 'mapped_file'],
};

/** v1 memory.stat text → the v2-named highlights. */
export function v1StatHighlights(all: Record<string, number>): Record<string, number> {
  const stat: Record<string, number> = {};
  for (const [name, keys] of Object.entries(V1_STAT_KEYS)) {
    const v = all[keys[0]] ?? all[keys[1]];
    if (v !== undefined) stat[name] = v;
  }
  return stat;
}

/**
 * The v2-named counters from memory.oom_control (oom_kill since Linux 4.13, counted in
 * the victim's own cgroup only, not in its parents) and memory.failcnt +
 * memory.memsw.failcnt (charges that hit the limit) as `max`. Charges try memsw first,
 * so with memsw = limit the failures land on memsw — and Linux 6.18 was seen counting
 * them nowhere (both 0 after an OOM kill): `max` is a hint, oom_kill is the signal.
 * v1 has no oom, high or oom_group_kill counters: 0. under_oom and oom_kill_disable as they are.
 */
export function readV1Events(dir: string): MemoryEvents {
  const oom = parseFlatKeyed(readText(join(dir, 'memory.oom_control')));
  const failcnt = readOptional(join(dir, 'memory.failcnt'));
  const memswFailcnt = readOptional(join(dir, 'memory.memsw.failcnt'));
  return {
    oom_kill: oom['oom_kill'] ?? 0,
    oom: 0,
    max: (failcnt === null ? 0 : safeCount(failcnt)) + (memswFailcnt === null ? 0 : safeCount(memswFailcnt)),
    high: 0,
    oom_group_kill: 0,
    under_oom: oom['under_oom'] ?? 0,
    oom_kill_disable: oom['oom_kill_disable'] ?? 0,
  };
}

const safeCount = (t: string) => {
  try {
    return parseCount(t);
  } catch {
    return 0;
  }
};

export function readV1Usage(dir: string): MemoryUsage {
  const currentFile = join(dir, 'memory.usage_in_bytes');
  const current = readText(currentFile);
  const peak = readOptional(join(dir, 'memory.max_usage_in_bytes'));
  let currentBytes: number;
  try {
    currentBytes = parseCount(current);
  } catch (e) {
    throw new Error(`unexpected content in ${currentFile}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return {
    currentBytes,
    peakBytes: peak === null ? null : safeCount(peak),
    stat: v1StatHighlights(parseFlatKeyed(readText(join(dir, 'memory.stat')))),
  };
}

export function createV1Driver(root: string, opts: DriverOptions = {}): CgroupDriver {
  const leaves = new Map<string, CgroupLeaf>();
  const removeOpts = { retryMs: opts.removeRetryMs, kill: opts.kill };
  const movePid = (pid: number, dir: string) => writeValue(join(dir, 'cgroup.procs'), pid);

  const driver: CgroupDriver = {
    version: 'v1',
    selfPath: root,
    prepare: () => ({ supervisorCgroup: root, moved: [], notes: [] }),

    createLeaf(name: string, limits: MemoryLimits = {}): CgroupLeaf {
      const dir = leafDir(root, name);
      return makeLeaf({
        dir,
        name,
        leaves,
        removeOpts,
        readEvents: readV1Events,
        readUsage: readV1Usage,
        configure(limits, notes) {
          const file = (f: string) => join(dir, f);
          const memsw = existsSync(file('memory.memsw.limit_in_bytes'));
          const swap = limits.swapMaxBytes ?? 0;
          // memsw (memory + swap) must stay ≥ limit_in_bytes at every step: lift it first.
          if (memsw) writeValue(file('memory.memsw.limit_in_bytes'), -1);
          writeValue(file('memory.limit_in_bytes'), limitText('v1', limits.maxBytes));
          if (memsw && limits.maxBytes !== undefined) {
            writeValue(file('memory.memsw.limit_in_bytes'), limitText('v1', limits.maxBytes + swap));
          } else if (memsw) {
            if (limits.swapMaxBytes !== undefined) notes.push('v1 caps swap only together with memory (memsw): no maxBytes, so swap is not capped');
          } else {
            notes.push('no memory.memsw.limit_in_bytes (kernel without swap accounting, swapaccount=0): swap is not capped');
            if (swap === 0) {
              try {
                writeValue(file('memory.swappiness'), 0);
                notes.push('set memory.swappiness=0 instead');
              } catch (e) {
                notes.push(`memory.swappiness=0 failed too: ${errnoCode(e)}`);
              }
            }
          }
          writeValue(file('memory.soft_limit_in_bytes'), limitText('v1', limits.highBytes));
          // OOM killer on (1 would freeze the program at the limit instead).
          writeValue(file('memory.oom_control'), 0);
        },
      }, limits);
    },

    movePid,

    cleanup: () => [...leaves.values()].map((l) => l.remove()),
  };
  return driver;
}
