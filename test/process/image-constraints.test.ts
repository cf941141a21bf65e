// What Dockerfile.example and examples/kubernetes promise about the image: the
// supervisor runs the example config as PID 1 as an ordinary user (uid 1000, no
// capabilities), with no_new_privs and a read-only root filesystem, and stops it
// with exit 0 on SIGTERM. The image's layout is rebuilt in a temp dir (dist/ and
// examples/, as the Dockerfile copies them); then, inside the run's own mount
// namespace, the root is made read-only (a bind remount: this namespace only) and
// setpriv drops to uid 1000 with no_new_privs before exec'ing Node, which stays PID 1.
import { chmodSync, cpSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { byEvent, killAllRuns, ROOT, startInit, tempDir } from '../helpers/init.js';
import { stackLines } from './support.js';

afterEach(killAllRuns);

describe('the example image, constrained like an admission policy asks', () => {
  it('uid 1000, no capabilities, no_new_privs, read-only root: the example runs as PID 1 and SIGTERM exits 0', async () => {
    const root = tempDir('sv-image-');
    chmodSync(root, 0o755);
    cpSync(join(ROOT, 'dist'), join(root, 'opt/supervisor'), { recursive: true });
    mkdirSync(join(root, 'app'));
    cpSync(join(ROOT, 'examples'), join(root, 'app'), { recursive: true });
    // Node too, as the image has it: the one running the tests may sit where uid 1000 cannot reach.
    mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
    cpSync(process.execPath, join(root, 'usr/local/bin/node'));
    const node = join(root, 'usr/local/bin/node');
    const constrain = [
      'mount -o remount,bind,ro / || exit 99',
      'exec setpriv --reuid=1000 --regid=1000 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs "$0" "$@"',
    ].join('; ');
    // A network namespace of its own, so the example's web server never meets another test's port 8080.
    const run = startInit(['--log-format', 'json'], {
      node: ['/bin/sh', '-c', `exec unshare --net /bin/sh -c '${constrain}' "$0" "$@"`, node],
      bundle: join(root, 'opt/supervisor/supervisor.mjs'),
      cwd: join(root, 'app'),
      env: { SUPERVISOR_CONFIG: join(root, 'app/supervisor.yaml'), PATH: `${dirname(node)}:/usr/bin:/bin` },
    });
    const start = await run.waitFor(byEvent('supervisor.start'), 60_000);
    expect(start).toMatchObject({ pid: 1, pid1: true });
    expect((start.programs as string[]).sort()).toEqual(['flaky-job', 'web', 'worker']);
    // What the kernel says of PID 1: uid 1000, no_new_privs, no capabilities, and a read-only root.
    const status = readFileSync(`/proc/${await run.supervisorPid()}/status`, 'utf8');
    expect(status).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    expect(readFileSync(`/proc/${await run.supervisorPid()}/mountinfo`, 'utf8')).toMatch(/^\S+ \S+ \S+ \S+ \/ ro[, ]/m);
    await run.waitFor(byEvent('child.running', 'web'), 60_000);
    await run.waitFor(byEvent('child.running', 'worker'), 60_000);
    await run.signal('SIGTERM');
    const { code } = await run.done;
    expect(code).toBe(0);
    expect(run.events.filter((e) => e.event === 'supervisor.error' || e.reason === 'libc_unavailable')).toEqual([]);
    // The web server stopped by its SIGTERM (exit 0), not killed.
    expect(run.events.filter(byEvent('child.exit', 'web'))).toMatchObject([{ code: 0, signal: null }]);
    expect(stackLines(run.stderr())).toEqual([]);
  });
});
