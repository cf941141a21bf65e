// memory-environment.test.ts — detectMemoryEnvironment against fake trees in a temp
// dir (a directory standing for `/`): the v1 development host, v2 containers with and
// without a cgroup namespace, read-only cgroup2, and machines without memory control.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { detectMemoryEnvironment } from '../../src/memory/environment.js';

const MiB = 1024 * 1024;
const NO_SWAP = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n';
const ONE_SWAP = `${NO_SWAP}/swapfile                               file\t\t1048572\t\t0\t\t-2\n`;
const PSI = 'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** A fake `/` holding `files` (path → content; a path ending in / is an empty directory). */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'memenv-'));
  roots.push(root);
  for (const [p, text] of Object.entries(files)) {
    const full = join(root, p);
    if (p.endsWith('/')) mkdirSync(full, { recursive: true });
    else {
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, text);
    }
  }
  return root;
}

const neverProbe = () => {
  throw new Error('probe must not run on a read-only mount');
};

describe('detectMemoryEnvironment: cgroup v1', () => {
  // The development host: v1 memory at /sys/fs/cgroup/memory, cgroup2 without memory at /unified.
  const host = (extra: Record<string, string> = {}) => tree({
    'proc/self/cgroup': '9:name=systemd:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n',
    'proc/self/mountinfo': [
      '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
      '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
      '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
      '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    ].join('\n'),
    'proc/swaps': NO_SWAP,
    'sys/fs/cgroup/unified/cgroup.controllers': 'hugetlb\n',
    'sys/fs/cgroup/unified/memory.pressure': PSI,
    'sys/fs/cgroup/memory/process_api/abc/memory.usage_in_bytes': '3600384\n',
    'sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes': '9223372036854771712\n',
    'sys/fs/cgroup/memory/process_api/abc/memory.memsw.limit_in_bytes': '9223372036854771712\n',
    'sys/fs/cgroup/memory/process_api/abc/memory.stat': 'rss 1654784\nhierarchical_memory_limit 9223372036854771712\nhierarchical_memsw_limit 9223372036854771712\n',
    ...extra,
  });

  it('finds our memory cgroup under the v1 mount; unlimited; writable by probe', () => {
    const root = host();
    const probed: string[] = [];
    const env = detectMemoryEnvironment({ root, probe: (d) => (probed.push(d), { ok: true }) });
    const dir = join(root, 'sys/fs/cgroup/memory/process_api/abc');
    expect(env).toMatchObject({
      cgroup: 'v1', path: dir, limitBytes: null, usageBytes: 3600384, writable: true, oomGroup: null, psi: false,
      swap: { available: false, limitBytes: null, accounted: true },
      mount: { point: join(root, 'sys/fs/cgroup/memory'), root: '/', readOnly: false },
    });
    expect(probed).toEqual([dir]);
    expect(env.reason).toMatch(/cgroup v1 memory at \/sys\/fs\/cgroup\/memory.*cgroup2 at \/sys\/fs\/cgroup\/unified without the memory controller/);
  });

  it('the default probe really makes and removes a child directory', () => {
    const env = detectMemoryEnvironment({ root: host() });
    expect(env.writable).toBe(true);
  });

  it('takes the limit from hierarchical_memory_limit when a parent sets it; memsw − limit is the swap', () => {
    const root = host({
      'proc/swaps': ONE_SWAP,
      'sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes': `${512 * MiB}\n`,
      'sys/fs/cgroup/memory/process_api/abc/memory.memsw.limit_in_bytes': `${768 * MiB}\n`,
      'sys/fs/cgroup/memory/process_api/abc/memory.stat': `rss 1\nhierarchical_memory_limit ${256 * MiB}\n`,
    });
    const env = detectMemoryEnvironment({ root, probe: () => ({ ok: true }) });
    expect(env.limitBytes).toBe(256 * MiB);
    expect(env.swap).toEqual({ available: true, limitBytes: 512 * MiB, accounted: true });
  });

  it('no memsw files: swap not accounted', () => {
    const root = host({ 'proc/swaps': ONE_SWAP });
    rmSync(join(root, 'sys/fs/cgroup/memory/process_api/abc/memory.memsw.limit_in_bytes'));
    const env = detectMemoryEnvironment({ root, probe: () => ({ ok: true }) });
    expect(env.swap).toEqual({ available: true, limitBytes: null, accounted: false });
  });

  it('a read-only v1 mount (a Docker container on a v1 host) is not writable, without probing', () => {
    const root = tree({
      'proc/self/cgroup': '12:memory:/docker/0123abcd\n0::/\n',
      'proc/self/mountinfo': '700 690 0:32 /docker/0123abcd /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime master:15 - cgroup cgroup rw,memory\n',
      'sys/fs/cgroup/memory/memory.usage_in_bytes': '1000\n',
      'sys/fs/cgroup/memory/memory.limit_in_bytes': `${128 * MiB}\n`,
    });
    const env = detectMemoryEnvironment({ root, probe: neverProbe });
    expect(env).toMatchObject({
      cgroup: 'v1', path: join(root, 'sys/fs/cgroup/memory'), limitBytes: 128 * MiB, writable: false, writableReason: 'read-only mount',
    });
  });
});

describe('detectMemoryEnvironment: cgroup v2', () => {
  // A container with its own cgroup namespace: `0::/`, the mount shows the container's cgroup.
  const container = (mode: 'rw' | 'ro', extra: Record<string, string> = {}) => tree({
    'proc/self/cgroup': '0::/\n',
    'proc/self/mountinfo': `1285 1284 0:26 / /sys/fs/cgroup ${mode},nosuid,nodev,noexec,relatime - cgroup2 cgroup2 ${mode},nsdelegate,memory_recursiveprot\n`,
    'proc/swaps': ONE_SWAP,
    'sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n',
    'sys/fs/cgroup/cgroup.procs': '1\n',
    'sys/fs/cgroup/memory.max': `${256 * MiB}\n`,
    'sys/fs/cgroup/memory.current': '5234688\n',
    'sys/fs/cgroup/memory.oom.group': '1\n',
    'sys/fs/cgroup/memory.swap.max': '0\n',
    'sys/fs/cgroup/memory.pressure': PSI,
    ...extra,
  });

  it('a writable container (privileged or delegated): path is the mount root', () => {
    const root = container('rw');
    const env = detectMemoryEnvironment({ root, probe: () => ({ ok: true }) });
    expect(env).toMatchObject({
      cgroup: 'v2', path: join(root, 'sys/fs/cgroup'), limitBytes: 256 * MiB, usageBytes: 5234688, writable: true,
      oomGroup: true, swap: { available: false, limitBytes: 0, accounted: true }, psi: true,
    });
    expect(env.reason).toBe('cgroup v2 at /sys/fs/cgroup, our cgroup /');
  });

  it('an ordinary pod: cgroup2 mounted read-only → not writable, the probe is not run', () => {
    const env = detectMemoryEnvironment({ root: container('ro'), probe: neverProbe });
    expect(env).toMatchObject({ cgroup: 'v2', writable: false, writableReason: 'read-only mount', limitBytes: 256 * MiB, oomGroup: true });
  });

  it('a rw mount where mkdir fails (no permission) → not writable, with the errno', () => {
    const env = detectMemoryEnvironment({ root: container('rw'), probe: () => ({ ok: false, reason: 'EACCES' }) });
    expect(env).toMatchObject({ cgroup: 'v2', writable: false, writableReason: 'EACCES' });
  });

  it('oom.group 0, no swap accounting, unreadable PSI, unlimited', () => {
    const root = container('rw', {
      'sys/fs/cgroup/memory.max': 'max\n',
      'sys/fs/cgroup/memory.oom.group': '0\n',
      'sys/fs/cgroup/memory.pressure': '',
    });
    rmSync(join(root, 'sys/fs/cgroup/memory.swap.max'));
    const env = detectMemoryEnvironment({ root, probe: () => ({ ok: true }) });
    expect(env).toMatchObject({ limitBytes: null, oomGroup: false, psi: false, swap: { available: true, limitBytes: null, accounted: false } });
  });

  it('without a cgroup namespace: our cgroup below the mount, the smallest memory.max on the way up counts', () => {
    const root = tree({
      'proc/self/cgroup': '0::/kubepods/pod-a/ctr\n',
      'proc/self/mountinfo': '28 27 0:24 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n',
      'proc/swaps': NO_SWAP,
      'sys/fs/cgroup/cgroup.controllers': 'cpu memory pids\n',
      'sys/fs/cgroup/kubepods/memory.max': `${4096 * MiB}\n`,
      'sys/fs/cgroup/kubepods/pod-a/memory.max': `${512 * MiB}\n`,
      'sys/fs/cgroup/kubepods/pod-a/ctr/cgroup.controllers': 'memory pids\n',
      'sys/fs/cgroup/kubepods/pod-a/ctr/memory.max': 'max\n',
      'sys/fs/cgroup/kubepods/pod-a/ctr/memory.current': '100\n',
    });
    const env = detectMemoryEnvironment({ root, probe: () => ({ ok: true }) });
    expect(env).toMatchObject({ cgroup: 'v2', path: join(root, 'sys/fs/cgroup/kubepods/pod-a/ctr'), limitBytes: 512 * MiB, usageBytes: 100, oomGroup: null });
  });

  it('the root cgroup (the VM bench): no memory.max or memory.current there', () => {
    const root = tree({
      'proc/self/cgroup': '0::/\n',
      'proc/self/mountinfo': '28 27 0:24 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n',
      'proc/swaps': NO_SWAP,
      'sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n',
      'sys/fs/cgroup/memory.pressure': PSI,
    });
    const env = detectMemoryEnvironment({ root, probe: () => ({ ok: true }) });
    expect(env).toMatchObject({ cgroup: 'v2', limitBytes: null, usageBytes: null, oomGroup: null, psi: true, swap: { available: false } });
  });

  it('without mountinfo, assumes /sys/fs/cgroup', () => {
    const root = container('rw');
    rmSync(join(root, 'proc/self/mountinfo'));
    expect(detectMemoryEnvironment({ root, probe: () => ({ ok: true }) })).toMatchObject({ cgroup: 'v2', path: join(root, 'sys/fs/cgroup') });
  });
});

describe('detectMemoryEnvironment: none', () => {
  it('cgroup2 without the memory controller and no v1 memory line', () => {
    const root = tree({
      'proc/self/cgroup': '0::/\n',
      'proc/self/mountinfo': '28 27 0:24 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n',
      'sys/fs/cgroup/cgroup.controllers': 'cpu pids\n',
    });
    const env = detectMemoryEnvironment({ root, probe: neverProbe });
    expect(env).toMatchObject({ cgroup: 'none', path: null, writable: false, limitBytes: null, psi: false });
    expect(env.reason).toMatch(/without the memory controller/);
  });

  it('a memory line but no mounted memory hierarchy', () => {
    const root = tree({
      'proc/self/cgroup': '4:memory:/x\n',
      'proc/self/mountinfo': '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw\n',
    });
    expect(detectMemoryEnvironment({ root, probe: neverProbe })).toMatchObject({ cgroup: 'none' });
  });

  it('no /proc/self/cgroup at all (not Linux, or no /proc)', () => {
    expect(detectMemoryEnvironment({ root: tree({ 'proc/': '' }), probe: neverProbe })).toMatchObject({ cgroup: 'none', reason: 'no /proc/self/cgroup' });
  });
});
