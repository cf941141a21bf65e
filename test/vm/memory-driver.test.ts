// memory-driver.test.ts — the cgroup v2 driver on a real v2 kernel (the VM bench), run
// as PID 1 of a Kubernetes-style container (memory.max 256M, memory.oom.group=1):
// writable cgroup2 — prepare() empties the container cgroup into `supervisor/`, a hog
// in a 64 MiB leaf is OOM-killed alone while a sibling leaf and PID 1 live on;
// read-only cgroup2 (an ordinary pod) — detected as not writable, no driver.
import { buildSync } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CACHE_DIR, containerCommand, GUEST_OUT, parseReport, REPO, runInVm, type VmResult } from '../../scripts/vm/vm.mjs';

// Runs inside the container as PID 1 and prints one JSON object.
const CHECK = `
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createCgroupDriver, enterCgroupArgv, readContainerMemory } from './src/memory/cgroup.js';
import { detectMemoryEnvironment } from './src/memory/environment.js';

const MiB = 1 << 20;
const out: Record<string, unknown> = {};
const HOG = 'import sys\\nb = [b"x" * (8 << 20) for _ in range(5)]\\nprint("ready", flush=True)\\nsys.stdin.readline()\\nwhile True: b.append(b"x" * (8 << 20))';
const exited = (c: any) => new Promise((r) => c.once('exit', (code: any, signal: any) => r({ code, signal })));
const env = detectMemoryEnvironment();
out.env = env;
try {
  const driver = createCgroupDriver(env);
  const bystander = spawn('sleep', ['1000'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 100));
  out.bystander = bystander.pid;
  out.prepare = driver.prepare();
  out.rootProcs = readFileSync(join(env.path!, 'cgroup.procs'), 'utf8').trim();
  out.subtreeControl = readFileSync(join(env.path!, 'cgroup.subtree_control'), 'utf8').trim();
  out.selfCgroup = readFileSync('/proc/self/cgroup', 'utf8').trim();
  const other = driver.createLeaf('other', { maxBytes: 32 * MiB, oomGroup: false });
  const [oc, ...oa] = enterCgroupArgv(other.path, ['sleep', '1000']);
  const sibling = spawn(oc!, oa, { stdio: 'ignore' });
  const leaf = driver.createLeaf('hog', { maxBytes: 64 * MiB, highBytes: 60 * MiB, oomGroup: true });
  out.leaf = { path: leaf.path, notes: leaf.notes };
  out.files = Object.fromEntries(['memory.max', 'memory.high', 'memory.swap.max', 'memory.oom.group']
    .map((f) => [f, readFileSync(join(leaf.path, f), 'utf8').trim()]));
  out.eventsBefore = leaf.readEvents();
  const [cmd, ...args] = enterCgroupArgv(leaf.path, ['python3', '-c', HOG]);
  const hog = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const done = exited(hog);
  await new Promise<void>((r) => hog.stdout!.once('data', () => r()));
  out.hogPid = hog.pid;
  out.pidsWhileRunning = leaf.pids();
  out.usageWhileRunning = leaf.readUsage();
  hog.stdin!.write('go\\n');
  out.hogExit = await done;
  out.eventsAfter = leaf.readEvents();
  out.usageAfter = leaf.readUsage();
  out.siblingAlive = sibling.exitCode === null && sibling.signalCode === null;
  out.container = readContainerMemory(env);
  out.remove = leaf.remove();
  out.leafExists = existsSync(leaf.path);
  const siblingDone = exited(sibling);
  out.cleanup = driver.cleanup();
  out.siblingExit = await siblingDone;
  out.dirsLeft = readdirSync(env.path!, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  bystander.kill('SIGKILL');
} catch (e) {
  out.error = (e as Error).message;
}
console.log(JSON.stringify(out));
`;

function bundle(): string {
  const dir = join(CACHE_DIR, '..', 'memory-vm');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'driver-check.mjs');
  buildSync({
    stdin: { contents: CHECK, loader: 'ts', resolveDir: REPO, sourcefile: 'driver-check.ts' },
    bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: file, logLevel: 'warning',
  });
  return file;
}

type Json = Record<string, any>;
let vm: Promise<VmResult>;
beforeAll(() => {
  const check = bundle();
  vm = runInVm(`
    set -u
    ${containerCommand(['node', check], { writable: true, memory: '256M', name: 'rw', report: `${GUEST_OUT}/rw.report` })} >${GUEST_OUT}/rw.json
    ${containerCommand(['node', check], { memory: '256M', name: 'ro', report: `${GUEST_OUT}/ro.report` })} >${GUEST_OUT}/ro.json
  `);
  vm.catch(() => {});
});
const result = async (name: string): Promise<{ out: Json; report: Json }> => {
  const r = await vm;
  const text = r.files[`${name}.json`] ?? '';
  if (!text.trim()) throw new Error(`no output from the ${name} container; stderr: ${r.stderr}\n${r.console.slice(-2000)}`);
  return { out: JSON.parse(text), report: parseReport(r.files[`${name}.report`] ?? '') };
};

describe('cgroup v2 driver in a writable Kubernetes-style container', () => {
  it('detects v2 at the namespace root, writable, with the container limit and oom.group', async () => {
    const { out } = await result('rw');
    expect(out['error']).toBeUndefined();
    expect(out['env']).toMatchObject({ cgroup: 'v2', path: '/sys/fs/cgroup', limitBytes: 256 << 20, writable: true, oomGroup: true, psi: true });
  });

  it('prepare() moves PID 1 and the bystander into supervisor/ and enables +memory', async () => {
    const { out } = await result('rw');
    expect(out['prepare']).toMatchObject({ supervisorCgroup: '/sys/fs/cgroup/supervisor' });
    expect([...out['prepare'].moved].sort()).toEqual([1, out['bystander']].sort());
    expect(out['rootProcs']).toBe('');
    expect(out['subtreeControl'].split(' ')).toContain('memory');
    expect(out['selfCgroup']).toBe('0::/supervisor');
  });

  it('the leaf gets its limits; the hog is OOM-killed inside it, alone', async () => {
    const { out, report } = await result('rw');
    expect(out['leaf']).toEqual({ path: '/sys/fs/cgroup/programs/hog', notes: [] });
    expect(out['files']).toEqual({ 'memory.max': String(64 << 20), 'memory.high': String(60 << 20), 'memory.swap.max': '0', 'memory.oom.group': '1' });
    expect(out['eventsBefore']).toMatchObject({ oom_kill: 0, oom: 0, max: 0, high: 0, oom_group_kill: 0 });
    expect(out['pidsWhileRunning']).toEqual([out['hogPid']]);
    expect(out['usageWhileRunning'].currentBytes).toBeGreaterThan(40 << 20);
    expect(out['usageWhileRunning'].stat.anon).toBeGreaterThan(40 << 20);
    expect(out['hogExit']).toEqual({ code: null, signal: 'SIGKILL' });
    expect(out['eventsAfter'].oom_kill).toBeGreaterThanOrEqual(1);
    expect(out['eventsAfter']).toMatchObject({ oom: 1, oom_group_kill: 1 });
    expect(out['usageAfter'].peakBytes).toBe(64 << 20);
    expect(out['siblingAlive']).toBe(true);
    // The container itself: its own counters stay 0; the hierarchical ones include the leaf.
    expect(out['container'].eventsLocal).toMatchObject({ oom_kill: 0, oom_group_kill: 0 });
    expect(out['container'].events.oom_kill).toBeGreaterThanOrEqual(1);
    expect(out['container'].limitBytes).toBe(256 << 20);
    expect(report['exit']).toBe(0); // PID 1 survived despite the container's oom.group=1
  });

  it('remove() and cleanup() leave only the supervisor leaf', async () => {
    const { out } = await result('rw');
    expect(out['remove']).toMatchObject({ removed: true });
    expect(out['leafExists']).toBe(false);
    expect(out['cleanup']).toEqual([expect.objectContaining({ removed: true })]);
    expect(out['siblingExit']).toEqual({ code: null, signal: 'SIGKILL' });
    expect(out['dirsLeft']).toEqual(['supervisor']);
  });
});

describe('cgroup v2 in an ordinary pod (cgroup2 read-only)', () => {
  it('is detected as not writable and no driver is made', async () => {
    const { out, report } = await result('ro');
    expect(out['env']).toMatchObject({ cgroup: 'v2', writable: false, writableReason: 'read-only mount', limitBytes: 256 << 20, oomGroup: true });
    expect(out['error']).toBe('the cgroup v2 hierarchy at /sys/fs/cgroup is not writable (read-only mount): cannot make per-program cgroups');
    expect(report['exit']).toBe(0);
  });
});
