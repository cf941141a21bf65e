// bench.test.ts — proves the VM bench itself tells the truth: it boots a cgroup v2
// kernel with the memory controller, passes the script's output, files and exit code
// back unchanged, and kills a script that outlives its time limit.
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareVm, REPO, runInVm, shq, type VmResult } from '../../scripts/vm/vm.mjs';

// Each test awaits the boot, so a VM that cannot boot fails every test with its reason.
function boot(script: string, timeoutMs?: number): () => Promise<VmResult> {
  let result: Promise<VmResult>;
  beforeAll(() => {
    result = runInVm(script, { timeoutMs });
    result.catch(() => {});
  });
  return () => result;
}

describe('vm bench: one boot', () => {
  const vm = boot(`
    set -u
    o=$VM_OUT
    uname -r >$o/release
    cat /sys/fs/cgroup/cgroup.controllers >$o/controllers
    grep ' /sys/fs/cgroup ' /proc/mounts >$o/cgroup-mount
    cat /proc/self/cgroup >$o/self-cgroup
    cat /proc/swaps >$o/swaps
    if touch /etc/vm-bench-probe 2>/dev/null; then echo writable; else echo read-only; fi >$o/root
    echo hello >/tmp/probe && cat /tmp/probe >$o/tmp
    cat ${shq(`${REPO}/package.json`)} >$o/package.json
    node -e 'console.log(process.version)' >$o/node
    python3 -c 'print(6 * 7)' >$o/python
    echo out-line
    echo err-line >&2
    exit 3
  `);

  it('returns the exit code, stdout and stderr separately', async () => {
    const r = await vm();
    expect(r.code).toBe(3);
    expect(r.timedOut).toBe(false);
    expect(r.stdout).toBe('out-line\n');
    expect(r.stderr).toBe('err-line\n');
  });

  it('boots the cached Debian kernel', async () => {
    const r = await vm();
    expect(r.files['release']?.trim()).toBe(prepareVm().release);
    expect(r.files['release']).toMatch(/-amd64$/m);
  });

  it('runs cgroup v2 only, with the memory controller, mounted like a systemd node', async () => {
    const r = await vm();
    expect(r.files['controllers']?.trim().split(' ')).toEqual(expect.arrayContaining(['memory', 'pids']));
    expect(r.files['cgroup-mount']).toMatch(/^cgroup2 \/sys\/fs\/cgroup cgroup2 rw,.*nsdelegate/);
    expect(r.files['self-cgroup']).toBe('0::/\n');
  });

  it('has no swap', async () => {
    const r = await vm();
    expect(r.files['swaps']?.trim().split('\n')).toHaveLength(1); // the header only
  });

  it('shows the host root read-only, with a writable /tmp and the checkout at its host path', async () => {
    const r = await vm();
    expect(r.files['root']).toBe('read-only\n');
    expect(r.files['tmp']).toBe('hello\n');
    expect(JSON.parse(r.files['package.json'] ?? '{}').name).toBe('pid1-supervisor');
  });

  it('runs the host node and python3', async () => {
    const r = await vm();
    expect(r.files['node']?.trim()).toBe(process.version);
    expect(r.files['python']).toBe('42\n');
  });
});

describe('vm bench: time limit', () => {
  const vm = boot('echo started; sleep 600; echo not-reached', 5_000);

  it('kills a script that outlives timeoutMs and says so', async () => {
    const r = await vm();
    expect(r.timedOut).toBe(true);
    expect(r.code).toBe(137);
    expect(r.stdout).toBe('started\n');
  });
});
