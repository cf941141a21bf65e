// What Dockerfile.example and examples/kubernetes promise about the image: the
// supervisor runs the example config as PID 1 as an ordinary user (uid 1000, no
// capabilities), with no_new_privs and a read-only root filesystem, and stops it
// with exit 0 on SIGTERM. The image's layout is rebuilt in a temp dir (dist/ and
// examples/, as the Dockerfile copies them); then, inside the run's own mount
// namespace, the root is made read-only (a bind remount: this namespace only) and
// setpriv drops to uid 1000 with no_new_privs before exec'ing Node, which stays PID 1.
// The control socket: on a tmpfs /tmp (the pod's emptyDir) `supervisor status` answers
// as `kubectl exec` would ask; with no writable place the supervisor says so and runs on.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { byEvent, killAllRuns, ROOT, startInit, tempDir, type InitRun } from '../helpers/init.js';
import { stackLines } from './support.js';

afterEach(killAllRuns);

/** The image's layout in a temp dir: dist/ in /opt/supervisor, examples/ in /app, Node and `supervisor` on PATH. */
function imageRoot(): { root: string; node: string; bin: string } {
  const root = tempDir('sv-image-');
  chmodSync(root, 0o755);
  cpSync(join(ROOT, 'dist'), join(root, 'opt/supervisor'), { recursive: true });
  mkdirSync(join(root, 'app'));
  cpSync(join(ROOT, 'examples'), join(root, 'app'), { recursive: true });
  mkdirSync(join(root, 'tmp'));
  // Node too, as the image has it: the one running the tests may sit where uid 1000 cannot reach.
  const bin = join(root, 'usr/local/bin');
  mkdirSync(bin, { recursive: true });
  cpSync(process.execPath, join(bin, 'node'));
  // As Dockerfile.example links it: `supervisor status` on PATH.
  symlinkSync(join(root, 'opt/supervisor/supervisor.mjs'), join(bin, 'supervisor'));
  return { root, node: join(bin, 'node'), bin };
}

/**
 * The example as PID 1, uid 1000 with no capabilities and no_new_privs, the root
 * read-only; `tmpfs`: a writable /tmp as the pod's emptyDir gives it (mounted before
 * the root turns read-only, in the run's own mount namespace).
 */
function startConstrained(img: { root: string; node: string; bin: string }, env: Record<string, string>, tmpfs: boolean): InitRun {
  const constrain = [
    ...(tmpfs ? [`mount -t tmpfs -o mode=1777 tmpfs ${img.root}/tmp || exit 98`] : []),
    'mount -o remount,bind,ro / || exit 99',
    'exec setpriv --reuid=1000 --regid=1000 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs "$0" "$@"',
  ].join('; ');
  // A network namespace of its own, so the example's web server never meets another test's port 8080.
  return startInit(['--log-format', 'json'], {
    node: ['/bin/sh', '-c', `exec unshare --net /bin/sh -c '${constrain}' "$0" "$@"`, img.node],
    bundle: join(img.root, 'opt/supervisor/supervisor.mjs'),
    cwd: join(img.root, 'app'),
    env: { SUPERVISOR_CONFIG: join(img.root, 'app/supervisor.yaml'), PATH: `${img.bin}:/usr/bin:/bin`, ...env },
  });
}

describe('the example image, constrained like an admission policy asks', () => {
  it('uid 1000, no capabilities, no_new_privs, read-only root: the example runs as PID 1 and SIGTERM exits 0; `supervisor status` answers through the socket on /tmp', async () => {
    const img = imageRoot();
    const socket = join(img.root, 'tmp/supervisor.sock');
    const run = startConstrained(img, { SUPERVISOR_SOCKET: socket }, true);
    const start = await run.waitFor(byEvent('supervisor.start'), 60_000);
    expect(start).toMatchObject({ pid: 1, pid1: true });
    expect((start.programs as string[]).sort()).toEqual(['flaky-job', 'web', 'worker']);
    // What the kernel says of PID 1: uid 1000, no_new_privs, no capabilities, and a read-only root.
    const pid = await run.supervisorPid();
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    expect(status).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    expect(readFileSync(`/proc/${pid}/mountinfo`, 'utf8')).toMatch(/^\S+ \S+ \S+ \S+ \/ ro[, ]/m);
    await run.waitFor((e) => e.event === 'control.listening' && e.socket === socket, 60_000);
    await run.waitFor(byEvent('child.running', 'web'), 60_000);
    await run.waitFor(byEvent('child.running', 'worker'), 60_000);
    // kubectl exec POD -- supervisor status: same mount namespace, same user, the image's PATH and ENV.
    const asked = spawnSync(
      'nsenter',
      ['-t', String(pid), '-m', 'setpriv', '--reuid=1000', '--regid=1000', '--clear-groups', 'env', '-i', `PATH=${img.bin}:/usr/bin:/bin`, `SUPERVISOR_SOCKET=${socket}`, 'supervisor', 'status', '--json'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(asked.stderr).toBe('');
    expect(asked.status).toBe(0);
    expect(JSON.parse(asked.stdout).programs.map((p: { name: string }) => p.name).sort()).toEqual(['flaky-job', 'web', 'worker']);
    await run.signal('SIGTERM');
    const { code } = await run.done;
    expect(code).toBe(0);
    expect(run.events.filter((e) => e.event === 'supervisor.error' || e.event === 'supervisor.warning' || e.reason === 'libc_unavailable')).toEqual([]);
    // The web server stopped by its SIGTERM (exit 0), not killed.
    expect(run.events.filter(byEvent('child.exit', 'web'))).toMatchObject([{ code: 0, signal: null }]);
    expect(stackLines(run.stderr())).toEqual([]);
  });

  it('with no writable place for the default socket (no $SUPERVISOR_SOCKET, /run is root\'s), it says so at info level and runs on', async () => {
    // (the suite sets $SUPERVISOR_SOCKET for every run; empty is unset)
    const run = startConstrained(imageRoot(), { SUPERVISOR_SOCKET: '' }, false);
    const unavailable = await run.waitFor(byEvent('control.unavailable'), 60_000);
    expect(unavailable).toMatchObject({ level: 'info', reason: 'no_writable_default' });
    expect(String(unavailable.msg)).toMatch(/SUPERVISOR_SOCKET/);
    await run.waitFor(byEvent('child.running', 'web'), 60_000);
    await run.signal('SIGTERM');
    expect((await run.done).code).toBe(0);
    expect(run.events.filter((e) => e.event === 'supervisor.warning' || e.event === 'supervisor.error' || e.event === 'control.listening' && 'socket' in e)).toEqual([]);
  });
});
