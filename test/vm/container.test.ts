// container.test.ts — proves k8s-container.sh reproduces what Kubernetes (≥ 1.28, cgroup
// v2) does to a container, with no supervisor involved: a memory hog is SIGKILLed by the
// kernel, memory.oom.group=1 takes the whole container with it, oom.group=0 kills only
// the hog, and the container sees its own cgroup read-only (or writable if privileged).
// All scenarios share one boot; each has its own output folder and assertions.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  containerCommand, GUEST_OUT, parseReport, runInVm, shq,
  type ContainerOptions, type Report, type VmResult,
} from '../../scripts/vm/vm.mjs';

/** Allocates and touches 1 MiB at a time until the kernel kills it. */
const HOG = ['python3', '-c', 'a = []\nwhile True: a.append(b"x" * (1 << 20))'];
const HOG_SH = HOG.map(shq).join(' ');

// PID 1 shell with two children: the hog and a sibling that waits (polling) until the
// hog is gone — reaped by PID 1 — and only then writes its marker. So the marker shows
// up exactly when the sibling outlived the hog, however fast or slow the machine.
const FAMILY = `
  d=$1
  ${HOG_SH} &
  hog=$!
  (while kill -0 $hog 2>/dev/null; do sleep 0.2; done; echo done >"$d/sibling-done") &
  wait $hog
  echo $? >"$d/hog-status"
  wait
  exit 7
`;

// What the workload sees of its cgroup.
const VIEW = `
  d=$1
  echo $$ >"$d/pid"
  cat /proc/self/cgroup >"$d/self-cgroup"
  for f in memory.max memory.oom.group memory.swap.max; do cat /sys/fs/cgroup/$f >"$d/$f"; done
  grep ' /sys/fs/cgroup ' /proc/mounts >"$d/mount"
  if mkdir /sys/fs/cgroup/x 2>"$d/mkdir.err"; then echo ok; else echo failed; fi >"$d/mkdir"
`;

// A privileged PID 1 that does what a supervisor would: moves itself into a leaf,
// enables +memory and runs the hog in a worker cgroup with its own 64M limit.
const LEAF = `
  d=$1 cg=/sys/fs/cgroup
  mkdir $cg/init $cg/worker
  echo $$ >$cg/init/cgroup.procs
  echo +memory >$cg/cgroup.subtree_control
  echo 64M >$cg/worker/memory.max
  sh -c 'echo $$ >/sys/fs/cgroup/worker/cgroup.procs; exec "$@"' hog ${HOG_SH}
  echo $? >"$d/hog-status"
  sed 's/ /=/' $cg/worker/memory.events >"$d/worker-events"
  exit 0
`;

const scenarios: Record<string, { script: string; opts: ContainerOptions }> = {
  'hog-alone': { script: `exec ${HOG_SH}`, opts: {} },
  'group-kill': { script: FAMILY, opts: {} },
  'no-group-kill': { script: FAMILY, opts: { oomGroup: 0 } },
  'view-ro': { script: VIEW, opts: {} },
  'view-rw': { script: VIEW, opts: { writable: true } },
  'leaf-oom': { script: LEAF, opts: { writable: true } },
};

// One guest script: each scenario in its own pod; report and helper status kept apart.
const guestScript = Object.entries(scenarios).map(([name, { script, opts }]) => {
  const d = `${GUEST_OUT}/${name}`;
  const cmd = containerCommand(['sh', '-c', script, name, d], { ...opts, name, report: `${d}/report` });
  return `mkdir -p ${d}\n${cmd}\necho $? >${d}/helper-exit\n`;
}).join('');

let vm: Promise<VmResult>;
beforeAll(() => {
  vm = runInVm(guestScript, { timeoutMs: 300_000 });
  vm.catch(() => {});
});

async function scenario(name: string) {
  const r = await vm;
  const file = (f: string) => r.files[`${name}/${f}`];
  const report: Report = parseReport(file('report') ?? '');
  if (report['exit'] === undefined) {
    throw new Error(`scenario ${name} left no report; guest stderr:\n${r.stderr}`);
  }
  return { report, file, helperExit: Number(file('helper-exit')) };
}

describe('a Kubernetes-style container in the VM (no supervisor)', () => {
  it('a lone memory hog is SIGKILLed by the kernel: exit 137, oom_kill and oom_group_kill', async () => {
    const { report, helperExit } = await scenario('hog-alone');
    expect(report['exit']).toBe(137);
    expect(helperExit).toBe(137);
    expect(report['oom_kill']).toBeGreaterThanOrEqual(1);
    expect(report['oom_group_kill']).toBeGreaterThanOrEqual(1);
    expect(report['peak']).toBeGreaterThan(200 * 1024 * 1024); // it did reach the limit...
    expect(report['peak']).toBeLessThanOrEqual(256 * 1024 * 1024); // ...and never passed it
  });

  it('memory.oom.group=1 (Kubernetes ≥ 1.28): a hog child takes PID 1 and its sibling with it', async () => {
    const { report, file } = await scenario('group-kill');
    expect(report['exit']).toBe(137);
    expect(report['oom_kill']).toBeGreaterThanOrEqual(1);
    expect(report['oom_group_kill']).toBeGreaterThanOrEqual(1);
    expect(file('sibling-done')).toBeUndefined();
    expect(file('hog-status')).toBeUndefined(); // PID 1 never got past `wait`
  });

  it('memory.oom.group=0: only the hog dies, the sibling finishes and PID 1 exits normally', async () => {
    const { report, file } = await scenario('no-group-kill');
    expect(report['exit']).toBe(7);
    expect(file('hog-status')).toBe('137\n');
    expect(file('sibling-done')).toBe('done\n');
    expect(report['oom_kill']).toBeGreaterThanOrEqual(1);
    expect(report['oom_group_kill']).toBe(0);
  });

  it('the workload is PID 1 and sees its own cgroup as the root of /sys/fs/cgroup', async () => {
    for (const name of ['view-ro', 'view-rw']) {
      const { report, file } = await scenario(name);
      expect(report['exit']).toBe(0);
      expect(file('pid')).toBe('1\n');
      expect(file('self-cgroup')).toBe('0::/\n');
      expect(file('memory.max')).toBe(`${256 * 1024 * 1024}\n`);
      expect(file('memory.oom.group')).toBe('1\n');
      expect(file('memory.swap.max')).toBe('0\n');
    }
  });

  it('an ordinary pod gets /sys/fs/cgroup read-only: mkdir fails', async () => {
    const { file } = await scenario('view-ro');
    expect(file('mount')).toMatch(/^cgroup2 \/sys\/fs\/cgroup cgroup2 ro,/);
    expect(file('mkdir')).toBe('failed\n');
    expect(file('mkdir.err')).toMatch(/Read-only file system/);
  });

  it('a privileged pod gets it writable: mkdir succeeds', async () => {
    const { file } = await scenario('view-rw');
    expect(file('mount')).toMatch(/^cgroup2 \/sys\/fs\/cgroup cgroup2 rw,/);
    expect(file('mkdir')).toBe('ok\n');
  });

  it('writable: an OOM in a leaf cgroup with its own memory.max stays in the leaf, despite oom.group=1', async () => {
    const { report, file } = await scenario('leaf-oom');
    expect(file('hog-status')).toBe('137\n');
    const worker = parseReport(file('worker-events') ?? '');
    expect(worker['oom_kill']).toBe(1);
    expect(report['exit']).toBe(0);
    expect(report['oom_kill']).toBeGreaterThanOrEqual(1); // memory.events counts descendants
    expect(report['oom_group_kill']).toBe(0);
  });
});
