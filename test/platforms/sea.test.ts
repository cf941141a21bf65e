// The single executable (scripts/build-sea.mjs) in an image without Node: PID 1
// of its own namespace, PATH holding only a shell and a few tools (no node to
// be found), a config with two programs, SIGTERM. koffi comes from the
// executable's own assets: loaded through a temporary file that is deleted at
// once; where no directory allows that, PID 1 exits 70 with one line.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { byEvent, killAllRuns, ROOT, runInit, startInit, tempDir, writeConfig } from '../helpers/init.js';

afterEach(killAllRuns);

const SEA = join(ROOT, 'dist-sea', `supervisor-linux-${process.arch}`);
/** A PATH with a shell and the tools the programs use, and no node. */
let bare: Record<string, string>;

beforeAll(() => {
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-sea.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const bin = join(tempDir('sv-bare-'), 'bin');
  mkdirSync(bin);
  // (unshare starts the PID namespace.)
  for (const tool of ['sh', 'sleep', 'cat', 'touch', 'unshare']) symlinkSync(execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(), join(bin, tool));
  const tmp = tempDir('sv-sea-tmp-');
  bare = { PATH: bin, TMPDIR: tmp };
}, 600_000);

describe('single executable', () => {
  it('as PID 1 with no node on PATH: two programs run, koffi loaded from its assets, nothing left in TMPDIR, SIGTERM exits 0', async () => {
    const dir = tempDir();
    const config = writeConfig(
      `
programs:
  web:
    command: 'if command -v node; then echo node-found > ${dir}/node; fi; touch ${dir}/web; exec sleep 1000'
    shell: true
  worker:
    command: ["sleep", "1000"]
    depends_on: [web]
`,
      dir,
    );
    const run = startInit(['-c', config], { node: [], bundle: SEA, env: bare });
    await run.waitForCount(byEvent('child.running'), 2, 60_000);
    expect(run.events.find(byEvent('supervisor.start'))).toMatchObject({ pid: 1, pid1: true, programs: ['web', 'worker'] });
    expect(existsSync(join(dir, 'web'))).toBe(true);
    expect(existsSync(join(dir, 'node'))).toBe(false);
    expect(readdirSync(bare.TMPDIR!)).toEqual([]);
    await run.signal('SIGTERM');
    const { code } = await run.done;
    expect(code).toBe(0);
    expect(run.events.filter(byEvent('child.exit')).map((e) => e.program)).toEqual(['worker', 'web']);
    expect(run.events.filter((e) => e.reason === 'libc_unavailable' || e.event === 'supervisor.error')).toEqual([]);
  });

  it('version, validate and single-command mode', async () => {
    const version = await runInit(['--version'], { node: [], bundle: SEA, env: bare, pid1: false });
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const valid = await runInit(['validate', '-c', join(ROOT, 'examples/supervisor.yaml')], { node: [], bundle: SEA, env: bare, pid1: false });
    expect(valid.stdout).toMatch(/: ok \(3 programs\)/);
    const single = await runInit(['--', 'sh', '-c', 'echo from-the-command; exit 5'], { node: [], bundle: SEA, env: bare });
    expect(single.code).toBe(5);
    expect(single.stdout).toBe('from-the-command\n');
    expect(single.stderr).toBe('');
  });

  it('as PID 1 where no temporary directory can be written: exit 70, one line naming the directories tried', async () => {
    // Inside the run's own mount namespace (unshare --mount-proc): read-only tmpfs over each candidate.
    // (mount by its full path: the bare PATH's directory is under /tmp, hidden by the first mount;
    // the executable is opened first and run from its fd: a checkout under /tmp is hidden too.)
    const mount = execFileSync('sh', ['-c', 'command -v mount'], { encoding: 'utf8' }).trim();
    const readOnly = `exec 3<"$0"; for d in /tmp /dev/shm /run; do ${mount} -t tmpfs -o ro,size=64k none $d || exit 99; done; exec /proc/self/fd/3 "$@"`;
    const r = await runInit(['--', 'true'], { node: ['/bin/sh', '-c', readOnly], bundle: SEA, env: { PATH: bare.PATH!, TMPDIR: '/tmp' } });
    expect(r.code).toBe(70);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^supervisor: koffi's native binary for linux ${process.arch} cannot be loaded from a temporary file \\(linux_${process.arch} in /tmp: .*EROFS.*/dev/shm.*/run.*\\): give the supervisor a writable /tmp`));
  });
});
