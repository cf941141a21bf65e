// runc.test.ts — the supervisor as PID 1 of a real OCI container started by runc
// (Debian's runc, installed on the host, seen by the guest through the host's root)
// inside the cgroup v2 VM, with what containerd and the kubelet give a pod with a 256Mi
// memory limit (scripts/vm/oci-pod.mjs): memory.max 256Mi, memory.swap.max 0,
// memory.oom.group 1 via the spec's `unified` map. Three pods, one after the other in
// one boot:
//   root        an ordinary pod: cgroup fs read-only, containerd's default capabilities,
//               no_new_privs; the supervisor's memory caps use the watchdog;
//   user        the same with `runAsUser: 1000` / `runAsGroup: 1000` (no capabilities at all);
//   privileged  `privileged: true`: every capability, cgroup fs read-write; the
//               supervisor makes a leaf cgroup per program and the kernel caps the leaker
//               in its own leaf.
// One memory scenario in each: a leaker capped at 80Mi beside a steady server, for RUN_S
// seconds of guest time; then the runtime's SIGTERM (`runc kill`). The container is never
// group-killed, only the leaker is stopped (each time a structured event), and PID 1
// exits 0. No assertion depends on timing: event counts, pids, exit statuses and kernel
// counters.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GUEST_OUT, parseReport, REPO, runInVm, SUPERVISOR_BUNDLE, type VmResult } from '../../scripts/vm/vm.mjs';
import { podSpec } from '../../scripts/vm/oci-pod.mjs';
import { ensureCommands } from '../../scripts/lib/apt.mjs';

const MiB = 1024 * 1024;
const RUN_S = 60;
const LEAKER_MAX = 80 * MiB;
const FIXTURES = join(REPO, 'test', 'fixtures');
const OUT = '/media'; // the container's view of $GUEST_OUT/<pod> (a bind needs a directory that exists in the read-only rootfs)

type Event = { event?: string; program?: string; pid?: number; [k: string]: unknown };

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

type Pod = { name: string; uid: number; privileged: boolean; title: string };
const PODS: Pod[] = [
  { name: 'root', uid: 0, privileged: false, title: 'an ordinary pod as root (cgroup fs read-only, watchdog)' },
  { name: 'user', uid: 1000, privileged: false, title: 'an ordinary pod with runAsUser: 1000 (cgroup fs read-only, watchdog)' },
  { name: 'privileged', uid: 0, privileged: true, title: 'a privileged pod (cgroup fs read-write, a leaf cgroup per program)' },
];

/** The guest script for one pod: start it, let it run RUN_S s, read its settings, `runc kill TERM`, wait. */
function podScript(p: Pod): string {
  const d = `${GUEST_OUT}/${p.name}`;
  const spec = podSpec({
    args: ['/usr/bin/node', SUPERVISOR_BUNDLE, '-c', `${OUT}/supervisor.yaml`],
    uid: p.uid,
    gid: p.uid,
    privileged: p.privileged,
    memoryBytes: 256 * MiB,
    cgroupsPath: `/kubepods/pod-${p.name}/ctr`,
    // The checkout again at its own path: the pod's tmpfs /tmp hides it when it lives under /tmp (a clone there).
    binds: [{ source: d, destination: OUT }, { source: REPO, destination: REPO }],
  });
  const pod = `/sys/fs/cgroup/kubepods/pod-${p.name}`;
  const cg = `${pod}/ctr`;
  return `
D=${d}; mkdir -p $D; chmod 777 $D
B=/tmp/bundle-${p.name}; mkdir -p $B/rootfs
mount --bind / $B/rootfs
cat > $B/config.json <<'JSON'
${JSON.stringify(spec)}
JSON
cat > $D/supervisor.yaml <<'YAML'
${CONFIG}YAML
# The guest's root is a chroot: no pivot_root there, runc moves the rootfs instead.
runc run --no-pivot --bundle $B ${p.name} > $D/stdout 2> $D/stderr &
RUNC=$!
i=0; while [ ! -f $D/steady-ready ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
sleep ${RUN_S}
{
  echo "memory_max=$(cat ${cg}/memory.max)"
  echo "swap_max=$(cat ${cg}/memory.swap.max)"
  echo "oom_group=$(cat ${cg}/memory.oom.group)"
  sed 's/^/local_/; s/ /=/' ${cg}/memory.events.local
  PID1=$(runc state ${p.name} | sed -n 's/.*"pid": *\\([0-9]*\\).*/\\1/p')
  echo "nnp=$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/$PID1/status)"
  echo "capeff=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/$PID1/status)"
  echo "uid=$(awk '/^Uid:/ { print $2 }' /proc/$PID1/status)"
  echo "gid=$(awk '/^Gid:/ { print $2 }' /proc/$PID1/status)"
  echo "cgroup_mount=$(awk '$5 == "/sys/fs/cgroup" { print $6 }' /proc/$PID1/mountinfo)"
} > $D/report
runc kill ${p.name} TERM
wait $RUNC; echo "exit=$?" >> $D/report
# The pod cgroup outlives the container's: its hierarchical counters cover every OOM kill
# in the container and its child cgroups, up to the very end.
sed 's/^/pod_/; s/ /=/' ${pod}/memory.events >> $D/report
`;
}

const script = () => `#!/bin/sh
set -u
${PODS.map(podScript).join('')}`;

describe('the supervisor as PID 1 of a runc container (cgroup v2 VM)', () => {
  let r: VmResult;
  beforeAll(async () => {
    ensureCommands([['runc', 'runc']]); // the guest runs the host's binaries
    r = await runInVm(script(), { timeoutMs: 720_000 });
  }, 900_000);

  describe.each(PODS)('$title', (p) => {
    const report = () => parseReport(r.files[`${p.name}/report`] ?? '');
    const events = () =>
      (r.files[`${p.name}/stdout`] ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Event);
    const of = (name: string, program?: string) =>
      events().filter((e) => e.event === name && (program === undefined || e.program === program));

    it('runc gave the container the pod settings', () => {
      const rep = report();
      expect(rep, `${r.stderr}\n${r.files[`${p.name}/stderr`] ?? ''}`).toMatchObject({
        memory_max: 256 * MiB,
        swap_max: 0,
        oom_group: 1,
        uid: p.uid,
        gid: p.uid,
        nnp: p.privileged ? 0 : 1,
      });
      const caps = BigInt(`0x${rep.capeff}`);
      const has = (bit: bigint) => (caps & (1n << bit)) !== 0n;
      if (p.privileged) {
        expect(has(24n)).toBe(true); // CAP_SYS_RESOURCE
        expect(has(21n)).toBe(true); // CAP_SYS_ADMIN
        expect(String(rep.cgroup_mount)).toMatch(/^rw[,$]/);
      } else {
        // containerd's default set: no CAP_SYS_RESOURCE (bit 24), no CAP_SYS_ADMIN (bit 21);
        // a non-root user has no effective capability at all.
        expect(has(24n)).toBe(false);
        expect(has(21n)).toBe(false);
        expect(has(5n)).toBe(p.uid === 0); // CAP_KILL
        if (p.uid !== 0) expect(caps).toBe(0n);
        expect(String(rep.cgroup_mount)).toMatch(/^ro[,$]/);
      }
    });

    it('says how it enforces the caps and whether it is protected from the OOM killer', () => {
      expect(of('supervisor.start')[0], r.files[`${p.name}/stderr`]).toMatchObject({ pid: 1, pid1: true });
      const enforce = p.privileged ? 'cgroup' : 'watchdog';
      // Without CAP_SYS_RESOURCE PID 1 cannot lower its own oom_score_adj: not protected, and it says so.
      expect(of('supervisor.environment')[0]).toMatchObject({
        cgroup: 'v2', memory_limit_bytes: 256 * MiB, cgroup_writable: p.privileged, oom_group: true,
        oom_protected: p.privileged,
        programs: { steady: { enforce }, leaker: { enforce } },
      });
      if (p.privileged) expect(of('supervisor.environment')[0]).toMatchObject({ cgroup_setup: { moved: [1] } });
    });

    it('the leaker is capped beside the steady server, the container is never group-killed, SIGTERM exits 0', () => {
      const rep = report();
      expect(rep).toMatchObject({ exit: 0, local_oom_group_kill: 0, local_oom_kill: 0, pod_oom_group_kill: 0 });
      expect(of('supervisor.shutdown')).toEqual([expect.objectContaining({ reason: 'signal', signal: 'SIGTERM' })]);
      expect(of('supervisor.exit')).toEqual([expect.objectContaining({ code: 0, forced: false })]);
      // Only the leaker was stopped, each time for its cap, each time one event of that pid.
      const spawns = of('child.spawn', 'leaker').map((e) => e.pid);
      let hits: Event[];
      if (p.privileged) {
        hits = of('child.oom_killed', 'leaker');
        expect(of('child.memory_cap_exceeded')).toEqual([]);
        for (const h of hits) expect(h).toMatchObject({ evidence: 'leaf', enforce: 'cgroup', max_bytes: LEAKER_MAX, main_killed: true });
        // Every OOM kill the kernel made in the container is one of these events: no silent kill.
        expect(rep.pod_oom_kill).toBe(hits.length);
      } else {
        hits = of('child.memory_cap_exceeded', 'leaker');
        expect(of('child.oom_killed')).toEqual([]);
        for (const h of hits) expect(h).toMatchObject({ max_bytes: LEAKER_MAX });
        // The watchdog acted before the kernel ever had to.
        expect(rep.pod_oom_kill).toBe(0);
      }
      expect(hits.length).toBeGreaterThanOrEqual(3);
      expect(new Set(hits.map((h) => h.pid)).size).toBe(hits.length);
      for (const h of hits) expect(spawns).toContain(h.pid);
      // One restart per cap hit, give or take the run in progress at the shutdown.
      expect(spawns.length - hits.length).toBeGreaterThanOrEqual(0);
      expect(spawns.length - hits.length).toBeLessThanOrEqual(1);
      expect(of('child.memory_cap_exceeded', 'steady')).toEqual([]);
      expect(of('child.oom_killed', 'steady')).toEqual([]);
      expect(of('child.killed')).toEqual([]);
      expect(of('container.memory_guard')).toEqual([]);
      // The steady server ran once, to the end, and stopped by its SIGTERM.
      expect(of('child.spawn', 'steady')).toHaveLength(1);
      expect(of('child.exit', 'steady')).toMatchObject([{ code: 0, stop_reason: 'shutdown' }]);
      const pid = of('child.spawn', 'steady')[0]!.pid;
      expect(Number(r.files[`${p.name}/steady-ready`])).toBe(pid);
      expect(Number(r.files[`${p.name}/steady-finished`])).toBe(pid);
      expect(of('supervisor.error')).toEqual([]);
      expect(of('child.fatal')).toEqual([]);
    });
  });
});
