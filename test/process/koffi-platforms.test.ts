// dist/ runs on any linux x64 or arm64 machine, glibc or musl: every build ships
// koffi's four binaries. Where none fits (another architecture, a damaged copy),
// what needs no libc still works (version, validate), PID 1 refuses to start with
// one line and exit 70 (it could not reap orphans), and a supervisor that is not
// PID 1 runs degraded with a libc_unavailable warning (its orphans go to the real init).
import { cpSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { byEvent, killAllRuns, ROOT, runInit, startInit, tempDir, writeConfig } from '../helpers/init.js';
import { stackLines } from './support.js';

afterEach(killAllRuns);

const DIST = join(ROOT, 'dist');
/** ELF e_machine of each architecture's binaries. */
const MACHINE = { x64: 62, arm64: 183 } as const;

/** A copy of dist/ whose koffi/ directory holds only what `prepare` leaves there. */
function distCopy(prepare: (koffiDir: string) => void): string {
  const dir = join(tempDir('sv-dist-'), 'dist');
  cpSync(DIST, dir, { recursive: true });
  rmSync(join(dir, 'koffi'), { recursive: true, force: true });
  mkdirSync(join(dir, 'koffi'));
  prepare(join(dir, 'koffi'));
  return join(dir, 'supervisor.mjs');
}

const TWO_PROGRAMS = `
programs:
  a: { command: ["sleep", "1000"] }
  b: { command: ["sleep", "1000"] }
`;

describe('koffi binaries in dist/', () => {
  it('ships linux x64 and arm64 binaries, glibc and musl, each an ELF object of its architecture', () => {
    for (const arch of ['x64', 'arm64'] as const) {
      for (const libc of ['linux', 'musl']) {
        const elf = readFileSync(join(DIST, 'koffi', `${libc}_${arch}`, 'koffi.node'));
        expect(elf.subarray(0, 4).toString('latin1'), `${libc}_${arch}`).toBe('\x7fELF');
        expect(elf.readUInt16LE(18), `${libc}_${arch} e_machine`).toBe(MACHINE[arch]);
      }
    }
  });
});

describe('no koffi binary for this machine', () => {
  it('version and validate still work', async () => {
    const bundle = distCopy(() => {});
    const version = await runInit(['--version'], { pid1: false, bundle });
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const valid = await runInit(['validate', '-c', writeConfig(TWO_PROGRAMS)], { pid1: false, bundle });
    expect(valid.code).toBe(0);
    expect(valid.stdout).toMatch(/: ok \(2 programs\)/);
  });

  it('as PID 1: exit 70 with one line naming the missing binary, nothing started', async () => {
    const bundle = distCopy(() => {});
    const r = await runInit(['-c', writeConfig(TWO_PROGRAMS)], { bundle });
    expect(r.code).toBe(70);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^supervisor: koffi's native binary for linux ${process.arch} is missing: no linux_${process.arch}/koffi.node or musl_${process.arch}/koffi.node in .*/koffi/; as PID 1`));
    expect(stackLines(r.stderr)).toEqual([]);
    expect(r.events.filter(byEvent('child.spawn'))).toEqual([]);
  });

  it('as PID 1, single-command mode, a binary that does not load (another architecture): exit 70, one line', async () => {
    const other = process.arch === 'x64' ? 'arm64' : 'x64';
    const bundle = distCopy((koffi) => {
      for (const libc of ['linux', 'musl']) {
        mkdirSync(join(koffi, `${libc}_${process.arch}`));
        cpSync(join(DIST, 'koffi', `${libc}_${other}`, 'koffi.node'), join(koffi, `${libc}_${process.arch}`, 'koffi.node'));
      }
    });
    const marker = join(tempDir(), 'ran');
    const r = await runInit(['--', 'sh', '-c', `touch ${marker}`], { bundle });
    expect(r.code).toBe(70);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^supervisor: koffi's native binary for linux ${process.arch} cannot be loaded: .*linux_${process.arch}/koffi.node does not load \\(.*\\); .*musl_${process.arch}/koffi.node does not load`));
    expect(() => readFileSync(marker)).toThrow();
  });

  it('not PID 1: runs degraded (libc_unavailable warning), two programs run, SIGTERM ends it with 0', async () => {
    const bundle = distCopy(() => {});
    const run = startInit(['-c', writeConfig(TWO_PROGRAMS)], { pid1: false, bundle });
    const warning = await run.waitFor((e) => e.event === 'supervisor.warning' && e.reason === 'libc_unavailable');
    expect(String(warning.error)).toContain(`koffi's native binary for linux ${process.arch} is missing`);
    expect(await run.waitFor(byEvent('supervisor.start'))).toMatchObject({ pid1: false, subreaper: expect.stringMatching(/^unavailable: /) });
    await run.waitForCount(byEvent('child.running'), 2);
    await run.signal('SIGTERM');
    const { code } = await run.done;
    expect(code).toBe(0);
    expect(run.events.filter(byEvent('child.exit')).map((e) => e.program).sort()).toEqual(['a', 'b']);
    expect(run.events.filter(byEvent('supervisor.error'))).toEqual([]);
    expect(stackLines(run.stderr())).toEqual([]);
  });

  it('the full dist/ as PID 1 loads its binary: no libc warning', async () => {
    const r = await runInit(['--log-level', 'info', '--', 'true']);
    expect(r.code).toBe(0);
    expect(r.events.find(byEvent('supervisor.start'))).toMatchObject({ pid1: true });
    expect(r.events.filter((e) => e.reason === 'libc_unavailable')).toEqual([]);
  });
});
