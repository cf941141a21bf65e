// runc.test.ts — the supervisor as PID 1 of a real OCI container started by runc
// (Debian's runc, installed on the host, seen by the guest through the host's root)
// inside the cgroup v2 VM, with what containerd and the kubelet give an ordinary pod
// with a 256Mi memory limit (scripts/vm/oci-pod.mjs): memory.max 256Mi,
// memory.swap.max 0, memory.oom.group 1 via the spec's `unified` map, the cgroup fs
// read-only, containerd's default capabilities, no_new_privs. One memory scenario:
// a leaker capped at 80Mi beside a steady server, for RUN_S seconds of guest time;
// then the runtime's SIGTERM (`runc kill`). The container is never group-killed, only
// the leaker is stopped, and PID 1 exits 0. No assertion depends on timing: event
// counts, pids, exit statuses and kernel counters.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GUEST_OUT, parseReport, REPO, runInVm, SUPERVISOR_BUNDLE, type VmResult } from '../../scripts/vm/vm.mjs';
import { podSpec } from '../../scripts/vm/oci-pod.mjs';

const MiB = 1024 * 1024;
const RUN_S = 45;
const FIXTURES = join(REPO, 'test', 'fixtures');
const OUT = '/media'; // the container's view of $GUEST_OUT/runc (a bind needs a directory that exists in the read-only rootfs)

type Event = { event?: string; program?: string; [k: string]: unknown };

/** Debian's runc on the host (the guest runs the host's binaries). */
function ensureRunc(): void {
  if (spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).stdout.trim()) return;
  const install = () => execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'runc'], { stdio: 'ignore' });
  try {
    install();
  } catch {
    execFileSync('apt-get', ['update'], { stdio: 'ignore' });
    install();
  }
}

const CONFIG = `log: { level: info, format: json }
programs:
  steady:
    command: ["node", "${FIXTURES}/steady.mjs", "${OUT}", "30"]
    memory: { max: 96Mi }
  leaker:
    command: ["node", "${FIXTURES}/hog.mjs", "50"]
    memory: { max: 80Mi, stop_grace: 5s }
    backoff: { initial: 200ms, factor: 1, max: 200ms }
    crash_loop: { max_restarts: 1000, window: 60s }
`;

function script(): string {
  const d = `${GUEST_OUT}/runc`;
  const spec = podSpec({
    args: ['/usr/bin/node', SUPERVISOR_BUNDLE, '-c', `${OUT}/supervisor.yaml`],
    memoryBytes: 256 * MiB,
    cgroupsPath: '/kubepods/pod-runc/ctr',
    binds: [{ source: d, destination: OUT }],
  });
  const cg = '/sys/fs/cgroup/kubepods/pod-runc/ctr';
  return `#!/bin/sh
set -u
D=${d}; mkdir -p $D
B=/tmp/bundle; mkdir -p $B/rootfs
mount --bind / $B/rootfs
cat > $B/config.json <<'JSON'
${JSON.stringify(spec)}
JSON
cat > $D/supervisor.yaml <<'YAML'
${CONFIG}YAML
# The guest's root is a chroot: no pivot_root there, runc moves the rootfs instead.
runc run --no-pivot --bundle $B pod > $D/stdout 2> $D/stderr &
RUNC=$!
i=0; while [ ! -f $D/steady-ready ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
sleep ${RUN_S}
{
  echo "memory_max=$(cat ${cg}/memory.max)"
  echo "swap_max=$(cat ${cg}/memory.swap.max)"
  echo "oom_group=$(cat ${cg}/memory.oom.group)"
  sed 's/ /=/' ${cg}/memory.events
  PID1=$(runc state pod | sed -n 's/.*"pid": *\\([0-9]*\\).*/\\1/p')
  echo "nnp=$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/$PID1/status)"
  echo "capeff=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/$PID1/status)"
  echo "cgroup_mount=$(awk '$5 == "/sys/fs/cgroup" { print $6 }' /proc/$PID1/mountinfo)"
} > $D/report
runc kill pod TERM
wait $RUNC; echo "exit=$?" >> $D/report
`;
}

describe('the supervisor as PID 1 of a runc container (cgroup v2 VM)', () => {
  let r: VmResult;
  beforeAll(async () => {
    ensureRunc();
    r = await runInVm(script(), { timeoutMs: 300_000 });
  });

  it('runc gave the container the pod settings', () => {
    const report = parseReport(r.files['runc/report'] ?? '');
    expect(report, `${r.stderr}\n${r.files['runc/stderr'] ?? ''}`).toMatchObject({
      memory_max: 256 * MiB,
      swap_max: 0,
      oom_group: 1,
      nnp: 1,
    });
    // containerd's default set: no CAP_SYS_RESOURCE (bit 24), no CAP_SYS_ADMIN (bit 21).
    const caps = BigInt(`0x${report.capeff}`);
    expect(caps & (1n << 24n)).toBe(0n);
    expect(caps & (1n << 21n)).toBe(0n);
    expect(caps & (1n << 5n)).not.toBe(0n); // CAP_KILL
    expect(String(report.cgroup_mount)).toMatch(/^ro[,$]/);
  });

  it('the leaker is capped beside the steady server, the container is never group-killed, SIGTERM exits 0', () => {
    const report = parseReport(r.files['runc/report'] ?? '');
    const events = (r.files['runc/stdout'] ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Event);
    const of = (name: string, program?: string) => events.filter((e) => e.event === name && (program === undefined || e.program === program));
    expect(of('supervisor.start')[0]).toMatchObject({ pid: 1, pid1: true });
    // Without CAP_SYS_RESOURCE PID 1 cannot lower its own oom_score_adj: not protected, and it says so.
    expect(of('supervisor.environment')[0]).toMatchObject({
      cgroup: 'v2', memory_limit_bytes: 256 * MiB, cgroup_writable: false, oom_group: true, oom_protected: false,
      programs: { steady: { enforce: 'watchdog' }, leaker: { enforce: 'watchdog' } },
    });
    expect(report).toMatchObject({ oom_group_kill: 0, exit: 0 });
    expect(of('supervisor.exit')[0]).toMatchObject({ code: 0 });
    // Only the leaker was stopped, each time for its cap.
    const capHits = of('child.memory_cap_exceeded', 'leaker');
    expect(capHits.length).toBeGreaterThanOrEqual(3);
    expect(of('child.memory_cap_exceeded', 'steady')).toEqual([]);
    expect(of('child.oom_killed')).toEqual([]);
    // The steady server ran once, to the end, and stopped by its SIGTERM.
    expect(of('child.spawn', 'steady')).toHaveLength(1);
    expect(of('child.exit', 'steady')).toMatchObject([{ code: 0 }]);
    expect(r.files['runc/steady-finished']?.trim()).toBe(r.files['runc/steady-ready']?.trim());
    expect(of('supervisor.error')).toEqual([]);
  });
});
