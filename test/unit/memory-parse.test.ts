// memory-parse.test.ts — the pure parsers of src/memory/parse.ts against real file
// contents: a v1 memory cgroup of the Debian 12 development host (Linux 6.18), v2
// leaves of the VM bench (Debian's 6.1 kernel), /proc files of the host.
import { describe, expect, it } from 'vitest';
import {
  cgroupPathUnderMount, countSwaps, findCgroup2Mounts, findV1MemoryMount, parseCgroupFile, parseCount,
  parseFlatKeyed, parseLimit, parseMountinfo, parsePidList, parseProcStatus, parsePsi, parseSmapsRollup,
} from '../../src/memory/parse.js';

// /sys/fs/cgroup/memory/process_api/<id>/memory.stat on the development host.
const V1_STAT = `cache 303104
rss 1654784
rss_huge 0
shmem 0
mapped_file 0
dirty 36864
writeback 0
workingset_refault_anon 0
workingset_refault_file 67
swap 0
swapcached 0
pgpgin 10715
pgpgout 10237
pgfault 26302
pgmajfault 4
inactive_anon 1507328
active_anon 12288
inactive_file 86016
active_file 217088
unevictable 0
hierarchical_memory_limit 9223372036854771712
hierarchical_memsw_limit 9223372036854771712
total_cache 303104
total_rss 1654784
total_rss_huge 0
total_shmem 0
total_mapped_file 0
total_dirty 36864
total_writeback 0
total_workingset_refault_anon 0
total_workingset_refault_file 67
total_swap 0
total_swapcached 0
total_pgpgin 10715
total_pgpgout 10237
total_pgfault 26302
total_pgmajfault 4
total_inactive_anon 1507328
total_active_anon 12288
total_inactive_file 86016
total_active_file 217088
total_unevictable 0
`;

// memory.stat of a v2 leaf (memory.max 64M) in the VM bench (Debian's 6.1 kernel) while a
// python hog holds 40 MiB, in a Kubernetes-style container.
const V2_STAT = `anon 44830720
file 7061504
kernel 204800
kernel_stack 0
pagetables 139264
sec_pagetables 0
percpu 0
sock 0
vmalloc 0
shmem 0
zswap 0
zswapped 0
file_mapped 3260416
file_dirty 0
file_writeback 0
swapcached 0
anon_thp 31457280
file_thp 0
shmem_thp 0
inactive_anon 44797952
active_anon 4096
inactive_file 6053888
active_file 1007616
unevictable 0
slab_reclaimable 28880
slab_unreclaimable 10728
slab 39608
workingset_refault_anon 0
workingset_refault_file 1718
workingset_activate_anon 0
workingset_activate_file 246
workingset_restore_anon 0
workingset_restore_file 0
workingset_nodereclaim 0
pgscan 0
pgsteal 0
pgscan_kswapd 0
pgscan_direct 0
pgsteal_kswapd 0
pgsteal_direct 0
pgfault 3440
pgmajfault 16
pgrefill 0
pgactivate 0
pgdeactivate 0
pglazyfree 0
pglazyfreed 0
zswpin 0
zswpout 0
thp_fault_alloc 15
thp_collapse_alloc 0
`;

// memory.events of a 64M leaf in the VM bench after the kernel killed the hog (oom.group 0).
const V2_EVENTS = `low 0
high 0
max 79
oom 1
oom_kill 1
oom_group_kill 0
`;

// /proc/self/mountinfo on the development host (cgroup lines).
const HOST_MOUNTINFO = `23 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

// The VM bench: cgroup2 at /sys/fs/cgroup with systemd's options.
const VM_MOUNTINFO = `25 1 0:22 / / ro,relatime - 9p hostroot ro,dirsync,loose,access=client,msize=512000,trans=virtio
26 25 0:23 / /proc rw,relatime - proc proc rw
27 25 0:21 / /sys rw,relatime - sysfs sysfs rw
28 27 0:24 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
31 25 0:26 / /tmp rw,relatime - tmpfs tmpfs rw,inode64
`;

// Shaped like an ordinary Kubernetes pod on a v2 node: cgroup2 read-only, optional fields, an escaped space.
const POD_MOUNTINFO = `1280 1279 0:120 / / rw,relatime master:400 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
1285 1284 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup ro,nsdelegate,memory_recursiveprot
1290 1280 8:1 /var/lib/kubelet/pods/x/volumes/my\\040dir /data\\040dir rw,relatime - ext4 /dev/sda1 rw
`;

describe('parseFlatKeyed', () => {
  it('reads a v1 memory.stat, keeping the "unlimited" huge values ≥ 2^62', () => {
    const s = parseFlatKeyed(V1_STAT);
    expect(s['total_rss']).toBe(1654784);
    expect(s['total_cache']).toBe(303104);
    expect(s['inactive_file']).toBe(86016);
    expect(s['hierarchical_memory_limit']).toBeGreaterThanOrEqual(2 ** 62);
    expect(Object.keys(s)).toHaveLength(42);
  });

  it('reads a v2 memory.stat and memory.events', () => {
    const s = parseFlatKeyed(V2_STAT);
    expect(s).toMatchObject({ anon: 44830720, file: 7061504, shmem: 0, anon_thp: 31457280, inactive_file: 6053888, file_mapped: 3260416 });
    expect(Object.keys(s)).toHaveLength(51);
    expect(parseFlatKeyed(V2_EVENTS)).toEqual({ low: 0, high: 0, max: 79, oom: 1, oom_kill: 1, oom_group_kill: 0 });
  });

  it('reads v1 memory.oom_control, old (no oom_kill line) and new', () => {
    expect(parseFlatKeyed('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n')).toEqual({ oom_kill_disable: 0, under_oom: 0, oom_kill: 3 });
    expect(parseFlatKeyed('oom_kill_disable 1\nunder_oom 1\n')).toEqual({ oom_kill_disable: 1, under_oom: 1 });
  });

  it('tolerates unknown keys, blank lines, odd spacing and non-numeric lines', () => {
    expect(parseFlatKeyed('\nsock_throttled 2\n  weird   7  \nnot a number\nname=value 3\n')).toEqual({ sock_throttled: 2, weird: 7, 'name=value': 3 });
    expect(parseFlatKeyed('')).toEqual({});
  });
});

describe('parseLimit', () => {
  it('reads bytes', () => {
    expect(parseLimit('268435456\n')).toBe(268435456);
    expect(parseLimit('0')).toBe(0);
  });
  it('v2 "max" and v1 unlimited values are null', () => {
    expect(parseLimit('max\n')).toBeNull();
    expect(parseLimit('9223372036854771712\n')).toBeNull(); // 4 KiB pages
    expect(parseLimit('9223372036854710272')).toBeNull(); // 64 KiB pages
    expect(parseLimit('9223372036854775807')).toBeNull();
    expect(parseLimit('-1')).toBeNull();
  });
  it('throws on anything else', () => {
    expect(() => parseLimit('')).toThrow(/not a memory limit/);
    expect(() => parseLimit('64M')).toThrow(/"64M"/);
  });
});

describe('parseCount and parsePidList', () => {
  it('reads memory.current and cgroup.procs', () => {
    expect(parseCount('135168\n')).toBe(135168);
    expect(() => parseCount('max')).toThrow();
    expect(parsePidList('1\n27\n\n305\n')).toEqual([1, 27, 305]);
    expect(parsePidList('')).toEqual([]);
  });
});

describe('parseProcStatus', () => {
  const STATUS = `Name:\tpython3
Umask:\t0022
State:\tS (sleeping)
Tgid:\t8612
Ngid:\t0
Pid:\t8612
PPid:\t8609
TracerPid:\t0
Uid:\t0\t0\t0\t0
VmPeak:\t   82132 kB
VmSize:\t   82132 kB
VmLck:\t       0 kB
VmHWM:\t   71772 kB
VmRSS:\t   71772 kB
RssAnon:\t   65152 kB
RssFile:\t    6620 kB
RssShmem:\t       0 kB
VmData:\t   66360 kB
VmSwap:\t       0 kB
Threads:\t1
voluntary_ctxt_switches:\t3
`;
  it('reads sizes in kB, pid, ppid, state', () => {
    expect(parseProcStatus(STATUS)).toEqual({
      name: 'python3', state: 'S', pid: 8612, ppid: 8609, threads: 1,
      vmSizeKb: 82132, vmPeakKb: 82132, vmRssKb: 71772, vmHwmKb: 71772, vmSwapKb: 0, vmDataKb: 66360,
      rssAnonKb: 65152, rssFileKb: 6620, rssShmemKb: 0,
    });
  });
  it('a kernel thread or zombie has no Vm lines: null', () => {
    const s = parseProcStatus('Name:\tkthreadd\nState:\tZ (zombie)\nPid:\t2\nPPid:\t0\nThreads:\t1\n');
    expect(s).toMatchObject({ name: 'kthreadd', state: 'Z', pid: 2, ppid: 0, vmRssKb: null, rssAnonKb: null });
  });
});

describe('parseSmapsRollup', () => {
  const ROLLUP = `559f14b32000-7ffdac5f4000 ---p 00000000 00:00 0                          [rollup]
Rss:                1752 kB
Pss:                 400 kB
Pss_Dirty:           112 kB
Pss_Anon:            112 kB
Pss_File:            288 kB
Pss_Shmem:             0 kB
Shared_Clean:       1596 kB
Shared_Dirty:          0 kB
Private_Clean:        44 kB
Private_Dirty:       112 kB
Referenced:         1752 kB
Anonymous:           112 kB
KSM:                   0 kB
LazyFree:              0 kB
AnonHugePages:         0 kB
Swap:                  0 kB
SwapPss:               0 kB
Locked:                0 kB
`;
  it('reads bytes by key name', () => {
    const r = parseSmapsRollup(ROLLUP);
    expect(r).toMatchObject({ rss: 1752 * 1024, pss: 400 * 1024, anon: 112 * 1024, pssAnon: 112 * 1024, file: 288 * 1024, shmem: 0, swap: 0, anonHugePages: 0 });
    expect(r.all['Private_Dirty']).toBe(112 * 1024);
  });
  it('an older kernel without Pss_* leaves them out', () => {
    const r = parseSmapsRollup('00400000-7fff [rollup]\nRss:  100 kB\nPss:  50 kB\nAnonymous: 10 kB\n');
    expect(r).toEqual({ rss: 102400, pss: 51200, anon: 10240, all: { Rss: 102400, Pss: 51200, Anonymous: 10240 } });
    expect(parseSmapsRollup('')).toMatchObject({ rss: 0, pss: 0, anon: 0 });
  });
});

describe('parsePsi', () => {
  it('reads some and full', () => {
    expect(parsePsi('some avg10=0.32 avg60=0.06 avg300=0.01 total=58608\nfull avg10=0.30 avg60=0.05 avg300=0.00 total=57000\n')).toEqual({
      some: { avg10: 0.32, avg60: 0.06, avg300: 0.01, total: 58608 },
      full: { avg10: 0.3, avg60: 0.05, avg300: 0, total: 57000 },
    });
  });
  it('full is optional (cpu.pressure before 5.13); no some line: null', () => {
    expect(parsePsi('some avg10=1.00 avg60=0.50 avg300=0.10 total=10')).toEqual({ some: { avg10: 1, avg60: 0.5, avg300: 0.1, total: 10 } });
    expect(parsePsi('')).toBeNull();
  });
});

describe('parseCgroupFile', () => {
  it('the development host: v1 controllers, name=systemd and an empty 0:: line', () => {
    const c = parseCgroupFile(`9:name=systemd:/
8:pids:/
4:memory:/process_api/d9a74477eeb9847cbc92e6009ce2e6ad
2:cpuacct:/
1:cpu:/
0::/
`);
    expect(c.memory).toBe('/process_api/d9a74477eeb9847cbc92e6009ce2e6ad');
    expect(c.unified).toBe('/');
    expect(c.v1['name=systemd']).toBe('/');
    expect(c.entries).toHaveLength(6);
  });
  it('v2 only', () => {
    expect(parseCgroupFile('0::/kubepods/pod-x/ctr\n')).toMatchObject({ unified: '/kubepods/pod-x/ctr', memory: null, v1: {} });
  });
  it('comma-joined controllers, and colons in the path', () => {
    const c = parseCgroupFile('4:memory,foo:/x\n3:cpu,cpuacct:/a:b\n');
    expect(c.memory).toBe('/x');
    expect(c.v1['foo']).toBe('/x');
    expect(c.v1['cpuacct']).toBe('/a:b');
    expect(c.unified).toBeNull();
  });
});

describe('parseMountinfo', () => {
  it('finds the v1 memory mount and the cgroup2 mount of the development host', () => {
    const m = parseMountinfo(HOST_MOUNTINFO);
    expect(findV1MemoryMount(m)).toMatchObject({ mountPoint: '/sys/fs/cgroup/memory', root: '/', fsType: 'cgroup', readOnly: false });
    expect(findCgroup2Mounts(m).map((e) => e.mountPoint)).toEqual(['/sys/fs/cgroup/unified']);
    // name=systemd is not the memory controller
    expect(findV1MemoryMount(parseMountinfo(HOST_MOUNTINFO.replace(/.*memory\n/, '')))).toBeNull();
  });
  it('reads super options of the VM bench', () => {
    const [cg] = findCgroup2Mounts(parseMountinfo(VM_MOUNTINFO));
    expect(cg).toMatchObject({ mountPoint: '/sys/fs/cgroup', superOptions: ['rw', 'nsdelegate', 'memory_recursiveprot'], readOnly: false });
  });
  it('a pod: read-only cgroup2, optional fields, escaped spaces', () => {
    const m = parseMountinfo(POD_MOUNTINFO);
    expect(findCgroup2Mounts(m)[0]).toMatchObject({ mountPoint: '/sys/fs/cgroup', readOnly: true, mountOptions: ['ro', 'nosuid', 'nodev', 'noexec', 'relatime'] });
    expect(m[2]).toMatchObject({ root: '/var/lib/kubelet/pods/x/volumes/my dir', mountPoint: '/data dir', fsType: 'ext4', source: '/dev/sda1' });
  });
  it('a later mount on the same point hides the earlier one', () => {
    const m = parseMountinfo(`${VM_MOUNTINFO}40 28 0:24 / /sys/fs/cgroup ro,relatime - cgroup2 cgroup2 ro\n`);
    expect(findCgroup2Mounts(m)).toHaveLength(1);
    expect(findCgroup2Mounts(m)[0]!.readOnly).toBe(true);
  });
  it('skips malformed lines', () => {
    expect(parseMountinfo('garbage\n1 2 3\n')).toEqual([]);
  });
});

describe('cgroupPathUnderMount and countSwaps', () => {
  it('maps a cgroup path to a path under the mount', () => {
    expect(cgroupPathUnderMount('/process_api/abc', '/')).toBe('process_api/abc');
    expect(cgroupPathUnderMount('/', '/')).toBe('');
    expect(cgroupPathUnderMount('/docker/abc', '/docker/abc')).toBe('');
    expect(cgroupPathUnderMount('/docker/abc/sub', '/docker/abc')).toBe('sub');
    expect(cgroupPathUnderMount('/docker/abcd', '/docker/abc')).toBeNull();
    expect(cgroupPathUnderMount('/../../x', '/')).toBeNull();
  });
  it('counts swap areas', () => {
    expect(countSwaps('Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n')).toBe(0);
    expect(countSwaps('Filename Type Size Used Priority\n/swapfile file 1048572 0 -2\n')).toBe(1);
  });
});
