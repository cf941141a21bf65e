// memory-cgroup-v1.test.ts — the cgroup v1 driver against the real kernel of a v1 host:
// a leaf with a 64 MiB cap under our own memory cgroup, a hog started inside it is
// SIGKILLed by the kernel's OOM killer, the leaf's oom_kill counter goes 0 → ≥ 1, and
// remove() deletes the leaf. Every cgroup made here is removed even when a test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createCgroupDriver, enterCgroupArgv, readContainerMemory, type CgroupDriver } from '../../src/memory/cgroup.js';
import { detectMemoryEnvironment } from '../../src/memory/environment.js';
import { CgroupFileError } from '../../src/memory/files.js';
import { readOomScoreAdj, writeOomScoreAdj } from '../../src/memory/oom-score.js';

const MiB = 1024 * 1024;
const env = detectMemoryEnvironment();
const usable = env.cgroup === 'v1' && env.writable;
const prefix = `memtest-${process.pid}-`;
let seq = 0;
const leafName = () => `${prefix}${seq++}`;

// The hog prints its cgroup, waits for a line on stdin, then allocates and touches 8 MiB at a time.
const HOG = [
  'import sys',
  'print([l for l in open("/proc/self/cgroup") if ":memory:" in l][0].strip(), flush=True)',
  'sys.stdin.readline()',
  'b = []',
  'while True: b.append(b"x" * (8 << 20))',
].join('\n');

const children: ChildProcess[] = [];
let driver: CgroupDriver | undefined;

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) resolve(buf.slice(0, i));
    });
    child.once('exit', () => reject(new Error(`exited before printing; stdout ${JSON.stringify(buf)}`)));
  });
}

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  driver?.cleanup();
});

afterAll(() => {
  // Whatever a failed test left behind.
  if (!usable || !env.path) return;
  for (const name of readdirSync(env.path)) {
    if (!name.startsWith(prefix)) continue;
    const dir = join(env.path, name);
    for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
    try {
      rmdirSync(dir);
    } catch {
      // reported by the tests
    }
  }
});

describe.skipIf(!usable)(`cgroup v1 driver on this host (${env.cgroup}, ${env.path})`, () => {
  it('detects the v1 memory cgroup of this process, writable', () => {
    const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l))!;
    expect(env.path).toBe(join('/sys/fs/cgroup/memory', line.slice(line.lastIndexOf(':') + 1)));
    expect(env.mount?.point).toBe('/sys/fs/cgroup/memory');
    expect(env.usageBytes).toBeGreaterThan(0);
    expect(env.oomGroup).toBeNull();
  });

  it('caps a leaf at 64 MiB: the kernel OOM-kills the hog, oom_kill goes 0 → ≥ 1, remove() deletes the leaf', async () => {
    driver = createCgroupDriver(env);
    const leaf = driver.createLeaf(leafName(), { maxBytes: 64 * MiB });
    const read = (f: string) => readFileSync(join(leaf.path, f), 'utf8').trim();
    expect(leaf.path).toBe(join(env.path!, leaf.name));
    expect(read('memory.limit_in_bytes')).toBe(String(64 * MiB));
    if (existsSync(join(leaf.path, 'memory.memsw.limit_in_bytes'))) {
      expect(read('memory.memsw.limit_in_bytes')).toBe(String(64 * MiB)); // swap 0
    }
    expect(read('memory.oom_control')).toMatch(/^oom_kill_disable 0$/m);
    expect(leaf.readEvents()).toMatchObject({ oom_kill: 0, oom: 0, max: 0, high: 0, oom_group_kill: 0 });
    const parentBefore = readContainerMemory(env)!.events;

    const [cmd, ...args] = enterCgroupArgv(leaf.path, ['python3', '-c', HOG]);
    const hog = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(hog);
    const done = exited(hog);
    const cgroupLine = await firstLine(hog);
    expect(cgroupLine).toMatch(new RegExp(`:memory:.*/${leaf.name}$`));
    expect(leaf.pids()).toEqual([hog.pid]);

    hog.stdin!.write('go\n');
    const { code, signal } = await done;
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });

    const events = leaf.readEvents();
    expect(events.oom_kill).toBeGreaterThanOrEqual(1);
    // events.max (failcnt + memsw.failcnt) is not asserted: with memsw = limit, 6.18 counts the failed charges nowhere.
    expect(events.under_oom).toBe(0);
    const usage = leaf.readUsage();
    expect(usage.peakBytes).toBeGreaterThan(32 * MiB);
    expect(usage.peakBytes).toBeLessThanOrEqual(64 * MiB);
    expect(leaf.pids()).toEqual([]);
    const parentAfter = readContainerMemory(env)!.events;
    console.log('v1 leaf after OOM:', JSON.stringify({ events, usage }),
      '| our cgroup oom_kill before/after:', parentBefore.oom_kill, parentAfter.oom_kill);

    const r = leaf.remove();
    expect(r).toMatchObject({ removed: true });
    expect(existsSync(leaf.path)).toBe(false);
  });

  it('remove() SIGKILLs processes still in the leaf and retries rmdir while they exit', async () => {
    driver = createCgroupDriver(env);
    const leaf = driver.createLeaf(leafName(), { maxBytes: 32 * MiB, highBytes: 16 * MiB });
    expect(readFileSync(join(leaf.path, 'memory.soft_limit_in_bytes'), 'utf8').trim()).toBe(String(16 * MiB));
    const [cmd, ...args] = enterCgroupArgv(leaf.path, ['sleep', '1000']);
    const sleeper = spawn(cmd!, args, { stdio: 'ignore' });
    children.push(sleeper);
    const done = exited(sleeper);
    for (let i = 0; i < 100 && !leaf.pids().includes(sleeper.pid!); i++) await new Promise((r) => setTimeout(r, 20));
    expect(leaf.pids()).toEqual([sleeper.pid]);

    const r = leaf.remove();
    console.log('v1 remove() with a live process:', JSON.stringify(r));
    expect(r.removed).toBe(true);
    expect(r.killed).toEqual([sleeper.pid]);
    expect(existsSync(leaf.path)).toBe(false);
    expect((await done).signal).toBe('SIGKILL');
  });

  it('reuses a leaf name: the old leaf is emptied and made again with zero counters', async () => {
    driver = createCgroupDriver(env);
    const name = leafName();
    const first = driver.createLeaf(name, { maxBytes: 64 * MiB });
    const [cmd, ...args] = enterCgroupArgv(first.path, ['sleep', '1000']);
    const sleeper = spawn(cmd!, args, { stdio: 'ignore' });
    children.push(sleeper);
    for (let i = 0; i < 100 && first.pids().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const second = driver.createLeaf(name, { maxBytes: 128 * MiB });
    expect(second.path).toBe(first.path);
    expect(second.notes).toEqual([]);
    expect(second.pids()).toEqual([]);
    expect(readFileSync(join(second.path, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(128 * MiB));
    expect((await exited(sleeper)).signal).toBe('SIGKILL');
    expect(driver.cleanup().every((r) => r.removed)).toBe(true);
    expect(existsSync(second.path)).toBe(false);
  });

  it('errors name the file and the errno', () => {
    driver = createCgroupDriver(env);
    expect(() => driver!.createLeaf('memory.stat', {})).toThrow(/memory\.stat is a cgroup interface file/);
    expect(() => driver!.createLeaf('../escape', {})).toThrow(/cannot use "..\/escape" as a cgroup name/);
    const missing = join(env.path!, `${prefix}missing`);
    let err: unknown;
    try {
      driver.movePid(process.pid, missing);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CgroupFileError);
    expect((err as CgroupFileError).code).toBe('ENOENT');
    expect((err as Error).message).toBe(`cannot write "${process.pid}" to ${missing}/cgroup.procs: ENOENT (no such file)`);
  });

  it('reads and writes oom_score_adj of a child', async () => {
    const self = readOomScoreAdj();
    expect(self.ok).toBe(true);
    const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
    children.push(child);
    expect(writeOomScoreAdj(child.pid!, 500)).toEqual({ ok: true, value: 500 });
    expect(readOomScoreAdj(child.pid!)).toEqual({ ok: true, value: 500 });
    expect(writeOomScoreAdj(child.pid!, 1001)).toMatchObject({ ok: false, code: 'EINVAL' });
    child.kill('SIGKILL');
    await exited(child);
    expect(readOomScoreAdj(child.pid!)).toMatchObject({ ok: false, code: 'ENOENT' });
  });
});
