// Finds out what memory control this process has: cgroup v2, v1 or none, where our
// own cgroup's directory is, its limit and usage, whether we can make child cgroups,
// memory.oom.group, swap and PSI. The file system is read at this edge only; `root`
// (a directory standing for `/`) and `probe` make it testable on a fake tree.
import { mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode, readQuiet } from './files.js';
import {
  cgroupPathUnderMount, countSwaps, findCgroup2Mounts, findV1MemoryMount, parseCgroupFile, parseCount,
  parseFlatKeyed, parseLimit, parseMountinfo, parsePsi, type MountEntry,
} from './parse.js';

export type CgroupVersion = 'v1' | 'v2' | 'none';

export interface MemoryEnvironment {
  cgroup: CgroupVersion;
  /**
   * The directory of our own cgroup in the memory hierarchy (with `root` prefixed), as it
   * was at detection: on v2 in a container with a cgroup namespace, the mount point
   * itself (/sys/fs/cgroup); on this kind of v1 host e.g. /sys/fs/cgroup/memory/process_api/x.
   * Null when cgroup is 'none'.
   */
  path: string | null;
  /** The mount holding `path` (mount point with `root` prefixed). */
  mount: { point: string; root: string; readOnly: boolean; options: string[] } | null;
  /**
   * The effective limit: v2 the smallest memory.max from `path` up to the mount point;
   * v1 the smaller of memory.limit_in_bytes and memory.stat's hierarchical_memory_limit.
   * Null when unlimited or unknown.
   */
  limitBytes: number | null;
  /** memory.current (v2; missing in the root cgroup) / memory.usage_in_bytes (v1). */
  usageBytes: number | null;
  /** A probe child cgroup could be made and removed (false without probing on a read-only mount). */
  writable: boolean;
  /** Why not writable (errno code or 'read-only mount'), for the log. */
  writableReason?: string;
  /** v2 memory.oom.group of `path`; null on v1 or when missing. */
  oomGroup: boolean | null;
  swap: {
    /** Swap areas exist (/proc/swaps) and our cgroup's swap limit is not 0. */
    available: boolean;
    /**
     * v2: memory.swap.max (smallest up to the mount point); v1: memsw.limit_in_bytes minus
     * limit_in_bytes (memsw counts memory + swap), or memsw alone when memory is unlimited.
     * Null when unlimited or not accounted.
     */
    limitBytes: number | null;
    /** The kernel accounts swap per cgroup (v2 memory.swap.max / v1 memory.memsw.* exist), so it can be capped. */
    accounted: boolean;
  };
  /** memory.pressure of `path` is readable (v2 with PSI enabled). */
  psi: boolean;
  /** One line on how the version was decided, for the log. */
  reason: string;
}

export interface DetectOptions {
  /** Stands for `/`: every absolute path read is taken below it. Default ''. */
  root?: string;
  /** Is `dir` (a cgroup directory) writable? Default: mkdir + rmdir of a probe child. */
  probe?: (dir: string) => { ok: true } | { ok: false; reason: string };
}

/** mkdir + rmdir of a child cgroup named after our pid. */
export function probeWritable(dir: string): { ok: true } | { ok: false; reason: string } {
  const child = join(dir, `probe-${process.pid}-${Date.now().toString(36)}`);
  try {
    mkdirSync(child);
  } catch (e) {
    return { ok: false, reason: errnoCode(e) };
  }
  try {
    rmdirSync(child);
  } catch (e) {
    return { ok: false, reason: `mkdir worked but rmdir failed: ${errnoCode(e)}` };
  }
  return { ok: true };
}

const readLimit = (file: string): number | null | undefined => {
  const t = readQuiet(file);
  if (t === null) return undefined;
  try {
    return parseLimit(t);
  } catch {
    return undefined;
  }
};

const readNumber = (file: string): number | null => {
  const t = readQuiet(file);
  if (t === null) return null;
  try {
    return parseCount(t);
  } catch {
    return null;
  }
};

const minLimit = (a: number | null, b: number | null | undefined): number | null =>
  b === undefined || b === null ? a : a === null ? b : Math.min(a, b);

/** The smallest `file` limit from `dir` up to `top` (both included); null if none is set. */
export function smallestLimitUpTo(dir: string, top: string, file: string): number | null {
  let limit: number | null = null;
  let d = dir;
  for (;;) {
    limit = minLimit(limit, readLimit(join(d, file)));
    if (d === top || d.length <= top.length) break;
    const up = d.slice(0, d.lastIndexOf('/'));
    if (up === d || up.length < top.length) break;
    d = up;
  }
  return limit;
}

/** Effective v1 memory limit of a v1 memory cgroup directory. */
export function v1EffectiveLimit(dir: string): number | null {
  const own = readLimit(join(dir, 'memory.limit_in_bytes'));
  const stat = readQuiet(join(dir, 'memory.stat'));
  const hier = stat === null ? undefined : parseFlatKeyed(stat)['hierarchical_memory_limit'];
  return minLimit(own ?? null, hier === undefined || hier >= 2 ** 62 ? null : hier);
}

/** memory.pressure can be read and parsed (it exists but fails to read when the kernel runs with psi=0). */
function readPsiOk(dir: string): boolean {
  const t = readQuiet(join(dir, 'memory.pressure'));
  return t !== null && parsePsi(t) !== null;
}

const NONE = (reason: string): MemoryEnvironment => ({
  cgroup: 'none', path: null, mount: null, limitBytes: null, usageBytes: null, writable: false,
  oomGroup: null, swap: { available: false, limitBytes: null, accounted: false }, psi: false, reason,
});

const mountInfo = (m: MountEntry, root: string) => ({
  point: join(root || '/', m.mountPoint), root: m.root, readOnly: m.readOnly, options: m.mountOptions,
});

export function detectMemoryEnvironment(opts: DetectOptions = {}): MemoryEnvironment {
  const root = opts.root ?? '';
  const probe = opts.probe ?? probeWritable;
  const at = (p: string) => (root ? join(root, p) : p);

  const cgroupText = readQuiet(at('/proc/self/cgroup'));
  if (cgroupText === null) return NONE('no /proc/self/cgroup');
  const membership = parseCgroupFile(cgroupText);
  const mountText = readQuiet(at('/proc/self/mountinfo'));
  // Without mountinfo, assume the usual places.
  const mounts = mountText === null
    ? parseMountinfo([
      '1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw',
      '2 0 0:2 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
    ].join('\n'))
    : parseMountinfo(mountText);
  const swaps = readQuiet(at('/proc/swaps'));
  const swapAreas = swaps === null ? 0 : countSwaps(swaps);
  const notes: string[] = [];

  // v2: a cgroup2 mount showing our `0::` cgroup, whose cgroup.controllers has memory.
  if (membership.unified !== null) {
    for (const m of findCgroup2Mounts(mounts)) {
      const rel = cgroupPathUnderMount(membership.unified, m.root);
      const mount = mountInfo(m, root);
      const dir = rel === null || rel === '' ? mount.point : join(mount.point, rel);
      if (rel === null) notes.push(`cgroup ${membership.unified} is outside the cgroup2 mount at ${m.mountPoint} (root ${m.root})`);
      const controllers = readQuiet(join(dir, 'cgroup.controllers'));
      if (controllers === null) {
        notes.push(`no cgroup.controllers in ${dir}`);
        continue;
      }
      if (!controllers.trim().split(/\s+/).includes('memory')) {
        notes.push(`cgroup2 at ${m.mountPoint} without the memory controller`);
        continue;
      }
      const writable = m.readOnly ? { ok: false as const, reason: 'read-only mount' } : probe(dir);
      const swapLimit = smallestLimitUpTo(dir, mount.point, 'memory.swap.max');
      const accounted = readQuiet(join(dir, 'memory.swap.max')) !== null || readQuiet(join(dir, 'memory.swap.current')) !== null;
      const oomGroup = readQuiet(join(dir, 'memory.oom.group'));
      return {
        cgroup: 'v2',
        path: dir,
        mount,
        limitBytes: smallestLimitUpTo(dir, mount.point, 'memory.max'),
        usageBytes: readNumber(join(dir, 'memory.current')),
        writable: writable.ok,
        ...(writable.ok ? {} : { writableReason: writable.reason }),
        oomGroup: oomGroup === null ? null : oomGroup.trim() === '1',
        swap: { available: swapAreas > 0 && swapLimit !== 0, limitBytes: swapLimit, accounted },
        psi: readPsiOk(dir),
        reason: `cgroup v2 at ${m.mountPoint}, our cgroup ${membership.unified}`,
      };
    }
  }

  // v1: a memory controller line and a mounted memory hierarchy.
  if (membership.memory !== null) {
    const m = findV1MemoryMount(mounts);
    if (m === null) {
      notes.push('memory controller listed in /proc/self/cgroup but no v1 memory mount');
    } else {
      const rel = cgroupPathUnderMount(membership.memory, m.root);
      const mount = mountInfo(m, root);
      const dir = rel === null || rel === '' ? mount.point : join(mount.point, rel);
      if (rel === null) notes.push(`cgroup ${membership.memory} is outside the memory mount (root ${m.root})`);
      if (readQuiet(join(dir, 'memory.usage_in_bytes')) === null) {
        notes.push(`no memory.usage_in_bytes in ${dir}`);
      } else {
        const writable = m.readOnly ? { ok: false as const, reason: 'read-only mount' } : probe(dir);
        const limit = v1EffectiveLimit(dir);
        const memsw = readLimit(join(dir, 'memory.memsw.limit_in_bytes'));
        const accounted = memsw !== undefined;
        const swapLimit = memsw === undefined || memsw === null ? null : limit === null ? memsw : Math.max(0, memsw - limit);
        return {
          cgroup: 'v1',
          path: dir,
          mount,
          limitBytes: limit,
          usageBytes: readNumber(join(dir, 'memory.usage_in_bytes')),
          writable: writable.ok,
          ...(writable.ok ? {} : { writableReason: writable.reason }),
          oomGroup: null,
          swap: { available: swapAreas > 0 && swapLimit !== 0, limitBytes: swapLimit, accounted },
          psi: readPsiOk(dir),
          reason: [`cgroup v1 memory at ${m.mountPoint}, our cgroup ${membership.memory}`, ...notes].join('; '),
        };
      }
    }
  }
  return NONE(notes.length ? notes.join('; ') : 'no memory controller in /proc/self/cgroup');
}
