// Pure parsers for the kernel's memory files: cgroup v1/v2 interface files,
// /proc/<pid>/status, smaps_rollup, PSI, /proc/self/cgroup and mountinfo.
// They take text and never touch the file system; keys are looked up by name and
// unknown or missing keys are tolerated, since every kernel version adds some.

/** At or above this a v1 limit means "unlimited" (PAGE_COUNTER_MAX × page size, e.g. 9223372036854771712). */
export const V1_UNLIMITED_THRESHOLD = 2 ** 62;

/**
 * `key value` lines (memory.events, memory.stat of v1 and v2, v1 memory.oom_control)
 * into numbers. Lines whose value is not a number are skipped. Values above 2^53
 * (v1's "unlimited") lose precision but stay ≥ 2^62.
 */
export function parseFlatKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+)\s+(-?\d+(?:\.\d+)?)\s*$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/**
 * A single-value limit file: v2 `memory.max`/`memory.high`/`memory.swap.max` ("max" or
 * bytes), v1 `memory.limit_in_bytes` and friends (bytes; ≥ 2^62 means unlimited).
 * Returns bytes, or null for "no limit". Throws on text that is neither.
 */
export function parseLimit(text: string): number | null {
  const t = text.trim();
  if (t === 'max' || t === '-1') return null;
  if (!/^\d+$/.test(t)) throw new Error(`not a memory limit: ${JSON.stringify(t.slice(0, 40))}`);
  const n = Number(t);
  return n >= V1_UNLIMITED_THRESHOLD ? null : n;
}

/** A number from a single-value file such as memory.current; throws on anything else. */
export function parseCount(text: string): number {
  const t = text.trim();
  if (!/^\d+$/.test(t)) throw new Error(`not a number: ${JSON.stringify(t.slice(0, 40))}`);
  return Number(t);
}

/** cgroup.procs / tasks: one pid per line. */
export function parsePidList(text: string): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    const n = Number.parseInt(line, 10);
    if (n > 0) out.push(n);
  }
  return out;
}

export interface ProcStatus {
  name: string | null;
  /** Single letter: R, S, D, Z, T, I … */
  state: string | null;
  pid: number | null;
  ppid: number | null;
  threads: number | null;
  /** The Vm* and Rss* fields, kB. Null where the kernel does not print them (kernel threads, zombies). */
  vmSizeKb: number | null;
  vmPeakKb: number | null;
  vmRssKb: number | null;
  vmHwmKb: number | null;
  vmSwapKb: number | null;
  vmDataKb: number | null;
  rssAnonKb: number | null;
  rssFileKb: number | null;
  rssShmemKb: number | null;
}

/** /proc/<pid>/status (`Key:\tvalue` lines; sizes in kB). */
export function parseProcStatus(text: string): ProcStatus {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) fields.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  const int = (key: string): number | null => {
    const v = fields.get(key);
    if (v === undefined) return null;
    const n = Number.parseInt(v, 10);
    return Number.isFinite(n) ? n : null;
  };
  return {
    name: fields.get('Name') ?? null,
    state: fields.get('State')?.charAt(0) || null,
    pid: int('Pid'),
    ppid: int('PPid'),
    threads: int('Threads'),
    vmSizeKb: int('VmSize'),
    vmPeakKb: int('VmPeak'),
    vmRssKb: int('VmRSS'),
    vmHwmKb: int('VmHWM'),
    vmSwapKb: int('VmSwap'),
    vmDataKb: int('VmData'),
    rssAnonKb: int('RssAnon'),
    rssFileKb: int('RssFile'),
    rssShmemKb: int('RssShmem'),
  };
}

export interface SmapsRollup {
  /** Bytes. */
  rss: number;
  pss: number;
  /** `Anonymous:` — private and shared anonymous memory. */
  anon: number;
  /** Pss_Anon / Pss_File / Pss_Shmem (Linux ≥ 5.9): the proportional share of each kind. */
  pssAnon?: number;
  file?: number;
  shmem?: number;
  swap?: number;
  anonHugePages?: number;
  /** Every `Key: N kB` line, in bytes, by the kernel's key name. */
  all: Record<string, number>;
}

/** /proc/<pid>/smaps_rollup: the header line then `Key:  N kB` lines. Sizes in bytes. */
export function parseSmapsRollup(text: string): SmapsRollup {
  const all: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+) kB\s*$/.exec(line);
    if (m) all[m[1]!] = Number(m[2]) * 1024;
  }
  const out: SmapsRollup = { rss: all['Rss'] ?? 0, pss: all['Pss'] ?? 0, anon: all['Anonymous'] ?? 0, all };
  if (all['Pss_Anon'] !== undefined) out.pssAnon = all['Pss_Anon'];
  if (all['Pss_File'] !== undefined) out.file = all['Pss_File'];
  if (all['Pss_Shmem'] !== undefined) out.shmem = all['Pss_Shmem'];
  if (all['Swap'] !== undefined) out.swap = all['Swap'];
  if (all['AnonHugePages'] !== undefined) out.anonHugePages = all['AnonHugePages'];
  return out;
}

export interface PsiLine {
  /** Percent of wall time stalled over 10 s, 60 s, 300 s. */
  avg10: number;
  avg60: number;
  avg300: number;
  /** Total stall time, microseconds. */
  total: number;
}
export interface Psi {
  some: PsiLine;
  full?: PsiLine;
}

/** memory.pressure or /proc/pressure/memory. Null when there is no `some` line. */
export function parsePsi(text: string): Psi | null {
  const lines: Record<string, PsiLine> = {};
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    const kind = words.shift();
    if (kind !== 'some' && kind !== 'full') continue;
    const kv: Record<string, number> = {};
    for (const w of words) {
      const [k, v] = w.split('=');
      if (k && v !== undefined && v !== '' && Number.isFinite(Number(v))) kv[k] = Number(v);
    }
    lines[kind] = { avg10: kv['avg10'] ?? 0, avg60: kv['avg60'] ?? 0, avg300: kv['avg300'] ?? 0, total: kv['total'] ?? 0 };
  }
  if (!lines['some']) return null;
  return lines['full'] ? { some: lines['some'], full: lines['full'] } : { some: lines['some'] };
}

export interface CgroupEntry {
  id: number;
  /** Empty for the v2 line; `name=systemd` style names are kept as they are. */
  controllers: string[];
  path: string;
}
export interface CgroupMembership {
  /** Path of the `0::` line (the cgroup2 hierarchy), or null. */
  unified: string | null;
  /** v1: controller (or `name=…`) → path, one key per comma-joined controller. */
  v1: Record<string, string>;
  /** Path in the v1 memory hierarchy, or null. */
  memory: string | null;
  entries: CgroupEntry[];
}

/** /proc/<pid>/cgroup: `id:controllers:path` lines (the path may itself hold colons). */
export function parseCgroupFile(text: string): CgroupMembership {
  const out: CgroupMembership = { unified: null, v1: {}, memory: null, entries: [] };
  for (const line of text.split('\n')) {
    const a = line.indexOf(':');
    const b = a < 0 ? -1 : line.indexOf(':', a + 1);
    if (b < 0) continue;
    const id = Number(line.slice(0, a));
    if (!Number.isInteger(id)) continue;
    const list = line.slice(a + 1, b);
    const path = line.slice(b + 1);
    const controllers = list === '' ? [] : list.split(',');
    out.entries.push({ id, controllers, path });
    if (id === 0 && controllers.length === 0) out.unified = path;
    for (const c of controllers) out.v1[c] = path;
  }
  out.memory = out.v1['memory'] ?? null;
  return out;
}

export interface MountEntry {
  id: number;
  parentId: number;
  /** The path inside the mounted file system that is mounted (for cgroups: the cgroup shown at the mount point). */
  root: string;
  mountPoint: string;
  /** Per-mount options (`ro`/`rw`, `nosuid` …). */
  mountOptions: string[];
  fsType: string;
  source: string;
  /** Per-superblock options (for v1 cgroups: the controllers, e.g. `memory`). */
  superOptions: string[];
  readOnly: boolean;
}

const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));

/** /proc/<pid>/mountinfo. Malformed lines are skipped. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(' ');
    const dash = f.indexOf('-', 6);
    if (f.length < 10 || dash < 0 || f.length < dash + 3) continue;
    const mountOptions = f[5]!.split(',');
    const superOptions = (f[dash + 3] ?? '').split(',');
    out.push({
      id: Number(f[0]),
      parentId: Number(f[1]),
      root: unescapeMount(f[3]!),
      mountPoint: unescapeMount(f[4]!),
      mountOptions,
      fsType: f[dash + 1]!,
      source: unescapeMount(f[dash + 2]!),
      superOptions,
      readOnly: mountOptions.includes('ro') || superOptions.includes('ro'),
    });
  }
  return out;
}

/** Keeps the last mount per mount point (a later mount on the same point hides the earlier one). */
function visible(entries: MountEntry[]): MountEntry[] {
  const byPoint = new Map<string, MountEntry>();
  for (const e of entries) {
    byPoint.delete(e.mountPoint);
    byPoint.set(e.mountPoint, e);
  }
  return [...byPoint.values()];
}

const preferSysFs = (a: MountEntry, b: MountEntry) => {
  const rank = (e: MountEntry) => (e.mountPoint === '/sys/fs/cgroup' ? 0 : e.mountPoint.startsWith('/sys/fs/cgroup/') ? 1 : 2);
  return rank(a) - rank(b);
};

/** The cgroup2 mounts, /sys/fs/cgroup first. */
export function findCgroup2Mounts(entries: MountEntry[]): MountEntry[] {
  return visible(entries).filter((e) => e.fsType === 'cgroup2').sort(preferSysFs);
}

/** The v1 mount of the memory controller (a `cgroup` mount with `memory` in its super options), or null. */
export function findV1MemoryMount(entries: MountEntry[]): MountEntry | null {
  return visible(entries).filter((e) => e.fsType === 'cgroup' && e.superOptions.includes('memory')).sort(preferSysFs)[0] ?? null;
}

/**
 * Where a cgroup path from /proc/self/cgroup lives under a mount: the mount shows the
 * hierarchy from `mount.root` down. Returns the path relative to the mount point ('' for
 * the mount's own root), or null when the cgroup is outside what the mount shows
 * (e.g. `/../..` paths of a process outside its cgroup namespace).
 */
export function cgroupPathUnderMount(cgroupPath: string, mountRoot: string): string | null {
  if (cgroupPath.split('/').includes('..')) return null;
  const root = mountRoot.replace(/\/+$/, '');
  const p = cgroupPath.replace(/\/+$/, '');
  if (root === '') return p.replace(/^\/+/, '');
  if (p === root) return '';
  if (p.startsWith(`${root}/`)) return p.slice(root.length + 1);
  return null;
}

/** /proc/swaps: the number of active swap areas (lines after the header). */
export function countSwaps(text: string): number {
  return text.split('\n').slice(1).filter((l) => l.trim() !== '').length;
}
