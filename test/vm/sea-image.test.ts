// sea-image.test.ts — the single executable (scripts/build-sea.mjs) as PID 1 of a real
// runc container inside the cgroup v2 VM, in an image that has Python and no Node: a
// Debian minbase rootfs with python3-minimal (scripts/vm/image.mjs, pythonRootfs, cached
// in .cache/image/), bound read-only as the bundle's rootfs, with the ordinary pod's
// settings of scripts/vm/oci-pod.mjs (256Mi memory limit, containerd's default
// capabilities, no_new_privs, read-only root and cgroup fs, an emptyDir at /tmp). The
// executable is bound in at /usr/local/bin/supervisor (the way an image `COPY`s it), the
// config and the two Python programs at /media. The programs run a few seconds, then
// the runtime's SIGTERM (`runc kill`). Asserted: no `node` anywhere in the image nor on
// the container's PATH, PID 1 inside is the executable, the events of both programs'
// start, readiness and exit, and exit 0. No assertion depends on timing.
//
// Part of `npm run test:vm` (about 25 s with the image cached); IMAGE_VM_TEST=0 skips it
// and image.test.ts.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { pythonRootfs } from '../../scripts/vm/image.mjs';
import { podSpec } from '../../scripts/vm/oci-pod.mjs';
import { ensureCommands } from '../../scripts/lib/apt.mjs';
import { GUEST_OUT, parseReport, REPO, runInVm, type VmResult } from '../../scripts/vm/vm.mjs';

const MiB = 1024 * 1024;
const SEA = join(REPO, 'dist-sea', `supervisor-linux-${process.arch}`);
const OUT = '/media'; // the container's view of $GUEST_OUT/sea (an empty directory of the read-only image)
const RUN_S = 5;

type Event = { event?: string; program?: string; pid?: number; [k: string]: unknown };

/** Paths under `root` whose name is `node` (symbolic links included), without following links. */
function nodesIn(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.name === 'node' || e.name.startsWith('nodejs')) found.push(p.slice(root.length));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(root);
  return found;
}

// The programs use only what python3-minimal has (no json, no shutil): os, sys, signal, time.
// A server that says it is ready in a JSON line, and writes what it sees of the container:
// PID 1's executable, whether a `node` is on PATH, its Python.
const SERVER = `import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
try:
    exe = os.readlink('/proc/1/exe')
except OSError as e:
    exe = 'error:' + e.strerror.replace(' ', '_')
found = [d for d in os.environ.get('PATH', '').split(':') if d and os.access(os.path.join(d, 'node'), os.X_OK)]
with open('${OUT}/inside', 'w') as f:
    f.write('pid1_exe=%s\\nnode_on_path=%s\\npython=%s\\n' % (exe, ','.join(found) or 'none', sys.version.split()[0]))
print('{"msg": "server ready", "pid": %d}' % os.getpid(), flush=True)
while True:
    time.sleep(0.5)
`;
// A worker that writes one JSON line a second and leaves its pid behind.
const WORKER = `import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
with open('${OUT}/worker-started', 'w') as f:
    f.write(str(os.getpid()))
n = 0
while True:
    n += 1
    print('{"msg": "tick", "n": %d}' % n, flush=True)
    time.sleep(1)
`;
const CONFIG = `log: { level: info, format: json }
programs:
  server:
    command: ["python3", "${OUT}/server.py"]
    output: json
    health:
      readiness: { log: "server ready" }
  worker:
    command: ["python3", "${OUT}/worker.py"]
    output: json
    depends_on: [server]
`;

function script(rootfs: string): string {
  const d = `${GUEST_OUT}/sea`;
  const spec = podSpec({
    args: ['/usr/local/bin/supervisor', '-c', `${OUT}/supervisor.yaml`],
    memoryBytes: 256 * MiB,
    cgroupsPath: '/kubepods/pod-sea/ctr',
    binds: [
      { source: '/tmp/sea-bin', destination: '/usr/local/bin' },
      { source: d, destination: OUT },
    ],
  });
  const cg = '/sys/fs/cgroup/kubepods/pod-sea/ctr';
  return `#!/bin/sh
set -u
D=${d}; mkdir -p $D
B=/tmp/bundle-sea; mkdir -p $B/rootfs /tmp/sea-bin
mount --bind ${rootfs} $B/rootfs
# /usr/local/bin of the image, with the executable in it (bound: it is 120 MB).
touch /tmp/sea-bin/supervisor; mount --bind ${SEA} /tmp/sea-bin/supervisor
cat > $B/config.json <<'JSON'
${JSON.stringify(spec)}
JSON
cat > $D/supervisor.yaml <<'YAML'
${CONFIG}YAML
cat > $D/server.py <<'PY'
${SERVER}PY
cat > $D/worker.py <<'PY'
${WORKER}PY
echo "sea_id=$(stat -L -c %d:%i ${SEA})" > $D/report
# The guest's root is a chroot: no pivot_root there, runc moves the rootfs instead.
runc run --no-pivot --bundle $B sea > $D/stdout 2> $D/stderr &
RUNC=$!
# Until the server is ready and the worker runs (at most 300 s of guest time).
i=0
until grep -q '"event":"child.ready".*"program":"server"\\|"program":"server".*"event":"child.ready"' $D/stdout && [ -f $D/worker-started ]; do
  kill -0 $RUNC 2>/dev/null || break # the container is gone: no use waiting
  i=$((i+1)); [ $i -gt 3000 ] && break; sleep 0.1
done
sleep ${RUN_S}
PID1=$(runc state sea | sed -n 's/.*"pid": *\\([0-9]*\\).*/\\1/p')
echo "pid1_exe_id=$(stat -L -c %d:%i /proc/$PID1/exe)" >> $D/report
echo "memory_max=$(cat ${cg}/memory.max)" >> $D/report
echo "nnp=$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/$PID1/status)" >> $D/report
runc kill sea TERM
wait $RUNC; echo "exit=$?" >> $D/report
`;
}

describe.skipIf(process.env['IMAGE_VM_TEST'] === '0')('the single executable as PID 1 of a runc container in a Python image without Node (cgroup v2 VM)', () => {
  let r: VmResult;
  let rootfs: string;
  beforeAll(async () => {
    ensureCommands([['runc', 'runc']]); // the guest runs the host's binaries
    execFileSync(process.execPath, [join(REPO, 'scripts/build-sea.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
    rootfs = pythonRootfs();
    r = await runInVm(script(rootfs), { timeoutMs: 600_000 });
    console.log(`[sea-image] VM wall ${(r.wallMs / 1000).toFixed(0)} s`);
  }, 900_000);

  const report = () => parseReport(r.files['sea/report'] ?? '');
  const inside = () => parseReport(r.files['sea/inside'] ?? '');
  const events = () =>
    (r.files['sea/stdout'] ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Event);
  const of = (name: string, program?: string) => events().filter((e) => e.event === name && (program === undefined || e.program === program));
  const why = () => `${r.stderr}\n${r.files['sea/stderr'] ?? ''}\n${r.files['sea/stdout'] ?? ''}`;

  it('the image has Python and no node anywhere; inside, node is not on PATH', () => {
    expect(nodesIn(rootfs)).toEqual([]);
    expect(statSync(join(rootfs, 'usr/bin/python3')).isFile()).toBe(true);
    expect(inside(), why()).toMatchObject({ node_on_path: 'none' });
    expect(String(inside().python)).toMatch(/^3\.\d+\.\d+$/);
  });

  it('PID 1 of the container is the single executable, under the pod settings', () => {
    expect(inside(), why()).toMatchObject({ pid1_exe: '/usr/local/bin/supervisor' });
    // The same file as the host's dist-sea executable, seen from outside the container.
    expect(report().pid1_exe_id, why()).toBe(report().sea_id);
    expect(report()).toMatchObject({ memory_max: 256 * MiB, nnp: 1 });
    expect(of('supervisor.start')).toEqual([expect.objectContaining({ pid: 1, pid1: true, programs: ['server', 'worker'] })]);
    expect(of('supervisor.environment')[0]).toMatchObject({ cgroup: 'v2', memory_limit_bytes: 256 * MiB });
  });

  it('both Python programs start, the server becomes ready, the worker writes its lines', () => {
    expect(of('child.spawn', 'server'), why()).toHaveLength(1);
    expect(of('child.spawn', 'worker')).toHaveLength(1);
    expect(of('child.ready', 'server')).toHaveLength(1);
    expect(Number(r.files['sea/worker-started'])).toBe(of('child.spawn', 'worker')[0]!.pid);
    // The worker's own JSON lines, framed (`output: json`): fields kept, program added.
    expect(events().filter((e) => e.program === 'worker' && e['msg'] === 'tick').length).toBeGreaterThanOrEqual(1);
    expect(of('supervisor.error')).toEqual([]);
    expect(of('child.fatal')).toEqual([]);
  });

  it('runc kill TERM: both programs stop, PID 1 exits 0', () => {
    expect(report(), why()).toMatchObject({ exit: 0 });
    expect(of('supervisor.shutdown')).toEqual([expect.objectContaining({ reason: 'signal', signal: 'SIGTERM' })]);
    for (const p of ['server', 'worker']) expect(of('child.exit', p), p).toMatchObject([{ code: 0, stop_reason: 'shutdown' }]);
    expect(of('supervisor.exit')).toEqual([expect.objectContaining({ code: 0, forced: false })]);
  });
});
