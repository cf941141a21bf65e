// shutdown-cgroup-kill.test.ts — the final kill on cgroup v2: a program with a memory
// cap runs in its own leaf cgroup, and its "pid hopper" (ignores SIGTERM, setsid, forks
// and exits without end) is in that leaf too. On shutdown_timeout the supervisor kills
// the whole leaf at once with cgroup.kill before its SIGSTOP/SIGKILL rounds, and logs it.
// The supervisor is PID 1 of a writable (--rw) Kubernetes-style container in the VM.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GUEST_OUT, parseReport, REPO, runInVm, supervisorCommand, type VmResult } from '../../scripts/vm/vm.mjs';

const HOPPER = join(REPO, 'test', 'fixtures', 'hopper.py');

function scenario(name: string): string {
  const d = `${GUEST_OUT}/${name}`;
  const cmd = supervisorCommand(['-c', `${d}/supervisor.yaml`], { writable: true, name, report: `${d}/report`, pidfile: `${d}/pidfile` });
  return `
d=${d}
mkdir -p $d
cat >$d/supervisor.yaml <<'EOF_CONFIG'
shutdown_timeout: 2s
programs:
  hop:
    command: ["python3", ${JSON.stringify(HOPPER)}, "-"]
    memory: { max: 64Mi }
    stop_grace: 60s
    start_secs: 0
EOF_CONFIG
(${cmd} >$d/stdout 2>$d/stderr; echo $? >$d/helper-exit) &
helper=$!
gone() { [ -e $d/helper-exit ]; }
while ! grep -q '"hopper"' $d/stdout 2>/dev/null && ! gone; do sleep 0.2; done
sleep 1
gone || kill -TERM $(cat $d/pidfile)
(sleep 60; gone || kill -KILL $(cat $d/pidfile)) 2>/dev/null &
wd=$!
wait $helper
kill $wd 2>/dev/null
`;
}

interface Ev {
  event?: string;
  program?: string;
  [k: string]: any;
}

let vm: Promise<VmResult>;
beforeAll(() => {
  vm = runInVm(`set -u\n${scenario('hop')}`, { timeoutMs: 240_000 });
  vm.catch(() => {});
});

describe('final kill on cgroup v2 (writable container, the program in its own leaf)', () => {
  it('shutdown_timeout: cgroup.kill takes the leaf with the hopper in it; nothing is left; the supervisor exits 0', { timeout: 600_000 }, async () => {
    const r = await vm;
    const file = (f: string) => r.files[`hop/${f}`] ?? '';
    const report = parseReport(file('report'));
    const events: Ev[] = file('stdout').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Ev).filter((e) => typeof e.event === 'string');
    const ctx = `stdout:\n${file('stdout')}\nstderr:\n${file('stderr')}`;
    expect(events.find((e) => e.event === 'supervisor.environment'), ctx).toMatchObject({ cgroup: 'v2', cgroup_writable: true });
    expect(events.find((e) => e.event === 'child.kill' && e.program === 'hop'), ctx).toMatchObject({ reason: 'shutdown_timeout' });
    const stop = events.find((e) => e.event === 'descendants.stop');
    expect(stop, ctx).toMatchObject({ signal: 'SIGKILL', reason: 'shutdown_timeout' });
    expect(stop!.cgroups, ctx).toEqual([expect.stringMatching(/\/hop$/)]);
    expect(events.find((e) => e.event === 'descendants.killed'), ctx).toMatchObject({ reason: 'shutdown_timeout', left: 0 });
    expect(events.find((e) => e.event === 'supervisor.exit'), ctx).toMatchObject({ code: 0, forced: true });
    expect(report['exit'], ctx).toBe(0);
  });
});
