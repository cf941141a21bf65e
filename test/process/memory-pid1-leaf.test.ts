// memory-pid1-leaf.test.ts — PID 1 is never inside a cgroup with a limit it could
// hit, on the host's real cgroup v1 kernel. The memory manager makes a program's leaf
// with no limit, steps in for the fork, steps out, and only then writes the cap. With
// caps the kernel cannot apply (1 byte, 64 KiB: below what the child already holds,
// v1 answers EBUSY) the child is killed and reported, never left uncapped, and the
// process standing in for PID 1 (this test's own process: it is the one that steps
// into the leaf) is never in a capped cgroup and survives. Manager level, because
// config validation may refuse such caps; the run-time path must hold regardless.
// Then, as PID 1: a program whose leaf is at its limit when it is restarted.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventFields, EventName, EventSink } from '../../src/logging/events.js';
import { createCgroupDriver } from '../../src/memory/cgroup.js';
import { detectMemoryEnvironment } from '../../src/memory/environment.js';
import { MemoryManager } from '../../src/memory/manager.js';
import type { ProgramPlan } from '../../src/plan/types.js';
import { byEvent, FIXTURES, hostDescendantsOf, killAllRuns, startInit, tempDir, writeConfig } from '../helpers/init.js';
import { programPlan, supervisorPlan } from '../helpers/plan.js';
import { until } from './support.js';

const MiB = 1024 * 1024;
const env = detectMemoryEnvironment();
const usable = env.cgroup === 'v1' && env.writable;
/** v1's "no limit". */
const V1_UNLIMITED = '9223372036854771712';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterEach(killAllRuns);

function ownMemoryCgroup(): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l))!;
  return join('/sys/fs/cgroup/memory', line.slice(line.lastIndexOf(':') + 1));
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

interface Logged {
  event: EventName;
  fields: EventFields;
}

function manager(program: ProgramPlan): { mm: MemoryManager; events: Logged[] } {
  const events: Logged[] = [];
  const sink: EventSink = { emit: (event, fields) => events.push({ event, fields }) };
  const mm = new MemoryManager(supervisorPlan([program], { memory: { pollIntervalMs: 60_000, guard: { enabled: false, threshold: { percent: 95 } }, oomScoreAdj: -1000 } }), env, sink, {
    stopForRestart: () => undefined,
    giveUp: () => undefined,
    runningPids: () => new Map(),
    isStoppable: () => true,
  });
  return { mm, events };
}

describe.skipIf(!usable)('PID 1 never sits in a capped cgroup (cgroup v1 host, manager level)', () => {
  for (const [label, maxBytes, argv] of [
    ['max: 1 byte', 1, ['sleep', '1000']],
    ['max: 64 KiB', 64 * 1024, ['python3', '-c', 'import time; time.sleep(1000)']],
  ] as const) {
    it(`${label}: the leaf has no limit while the supervisor is inside for the fork; the cap cannot be applied, so the child is killed and reported; the supervisor survives and the leaf goes`, async () => {
      const program = programPlan({
        name: `tiny-${process.pid}-${maxBytes}`,
        argv: [...argv],
        memory: { max: { bytes: maxBytes }, enforce: 'cgroup', rlimit: 'data', oomScoreAdj: 1000, stopGraceMs: 100 },
      });
      const { mm, events } = manager(program);
      const home = ownMemoryCgroup();
      mm.start();
      try {
        mm.beforeSpawn(program);
        // Inside the leaf now, as PID 1 is for the fork: the leaf must have no limit.
        const inside = ownMemoryCgroup();
        const leafPath = join(env.path!, program.name);
        expect(inside).toBe(leafPath);
        expect(readFileSync(join(leafPath, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(V1_UNLIMITED);
        const child = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
        children.push(child);
        mm.afterSpawn(program, child.pid);
        // Back home before any limit exists.
        expect(ownMemoryCgroup()).toBe(home);

        const ex = await exited(child);
        expect(ex.signal).toBe('SIGKILL');
        const stop = events.find((e) => e.event === 'child.memory_cap_exceeded');
        expect(stop?.fields).toMatchObject({ program: program.name, pid: child.pid, reason: 'cap_below_usage', max_bytes: maxBytes });
        expect(stop!.fields.error).toMatch(/memory\.limit_in_bytes: EBUSY/);
        expect(stop!.fields.usage_bytes as number).toBeGreaterThan(maxBytes);
        mm.childExited(program, child.pid!, { code: null, signal: 'SIGKILL' } as never, false);
        // Explained by the supervisor itself: not a mystery kill, not an OOM kill.
        expect(events.filter((e) => e.event === 'child.killed' || e.event === 'child.oom_killed')).toEqual([]);
        mm.programEnded(program);
        expect(existsSync(leafPath)).toBe(false);
      } finally {
        mm.finished();
      }
      expect(ownMemoryCgroup()).toBe(home);
    });
  }

  it('a cap the kernel can apply is in place right after the spawn, with the child inside the leaf', async () => {
    const program = programPlan({
      name: `ok-${process.pid}`,
      argv: ['sleep', '1000'],
      memory: { max: { bytes: 32 * MiB }, enforce: 'cgroup', rlimit: 'data', oomScoreAdj: 1000, stopGraceMs: 100 },
    });
    const { mm, events } = manager(program);
    mm.start();
    try {
      mm.beforeSpawn(program);
      const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
      children.push(child);
      mm.afterSpawn(program, child.pid);
      const leafPath = join(env.path!, program.name);
      expect(readFileSync(join(leafPath, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(32 * MiB));
      expect(readFileSync(join(leafPath, 'cgroup.procs'), 'utf8').trim()).toBe(String(child.pid));
      expect(readFileSync(`/proc/${child.pid}/oom_score_adj`, 'utf8').trim()).toBe('1000');
      expect(events.filter((e) => e.fields.program === program.name && (e.event === 'supervisor.warning' || e.event === 'child.memory_cap_exceeded'))).toEqual([]);
      child.kill('SIGKILL');
      await exited(child);
      mm.programEnded(program);
      expect(existsSync(leafPath)).toBe(false);
    } finally {
      mm.finished();
    }
  });

  it('a leaf that cannot be removed is reused with its limits lifted before anyone steps in', async () => {
    // A kill that does nothing stands for a process the supervisor cannot kill (one in
    // another PID namespace, or stuck in the kernel): rmdir stays EBUSY and the leaf is reused.
    const driver = createCgroupDriver(env, { kill: () => undefined, removeRetryMs: 200 });
    const name = `reused-${process.pid}`;
    const first = driver.createLeaf(name, { maxBytes: 48 * MiB });
    const holder = spawn('sh', ['-c', `echo $$ > ${first.path}/cgroup.procs && exec python3 ${FIXTURES}/fill-leaf.py 2`], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(holder);
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        holder.stdout!.on('data', (b: Buffer) => {
          buf += b.toString();
          if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
        });
        holder.once('exit', () => reject(new Error(`holder exited: ${buf}`)));
      });
      const [, , usage, limit] = line.split(' ').map(Number);
      expect(limit).toBe(48 * MiB);
      expect(usage).toBeGreaterThan(44 * MiB); // at its limit
      const again = driver.createLeaf(name);
      expect(again.path).toBe(first.path);
      expect(again.notes.join(' ')).toMatch(/reusing .*could not remove it: .*EBUSY/);
      expect(again.pids()).toEqual([holder.pid]);
      expect(readFileSync(join(again.path, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(V1_UNLIMITED);
    } finally {
      holder.kill('SIGKILL');
      await exited(holder);
      createCgroupDriver(env).createLeaf(name).remove();
    }
    expect(existsSync(join(env.path!, name))).toBe(false);
  });
});

describe.skipIf(!usable)('PID 1 and a leaf at its limit (cgroup v1 host, supervisor as PID 1)', () => {
  it('a program whose leaf is at its limit when it is restarted: PID 1 survives, the old run is gone before the new one, no leaf is left behind', async () => {
    const dir = tempDir();
    const name = `full-${process.pid}`;
    const config = writeConfig(`
programs:
  ${name}:
    command: ["sh", "-c", "python3 ${FIXTURES}/fill-leaf.py 2 & while [ ! -e ${dir}/go ]; do sleep 0.05; done; rm -f ${dir}/go; exit 1"]
    memory: { max: 48Mi, enforce: cgroup }
    backoff: { initial: 100ms, factor: 1 }
    crash_loop: { max_restarts: 100 }
`, dir);
    const run = startInit(['-c', config]);
    const full = () => run.stdout().split('\n').filter((l) => l.startsWith('full '));
    await until(() => full().length >= 1, 'the first run to fill its leaf', 60_000);
    const [, firstPid, usage] = full()[0]!.split(' ').map(Number);
    expect(usage).toBeGreaterThan(44 * MiB);
    const sup = await run.supervisorPid();
    const pythons = () => hostDescendantsOf(sup).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/comm`, 'utf8').trim().startsWith('python3');
      } catch {
        return false;
      }
    });
    expect(pythons()).toHaveLength(1);
    // The main exits while its child holds the leaf at its limit: a restart.
    (await import('node:fs')).writeFileSync(`${dir}/go`, '');
    await run.waitForCount(byEvent('child.spawn', name), 2, 60_000);
    await until(() => full().length >= 2, 'the second run to fill its leaf', 60_000);
    const [, secondPid] = full()[1]!.split(' ').map(Number);
    expect(secondPid).not.toBe(firstPid);
    // The first run's filler did not survive into the second run.
    expect(pythons()).toHaveLength(1);
    await run.signal('SIGTERM');
    const { code } = await run.done;
    expect(code).toBe(0);
    expect(run.events.filter(byEvent('supervisor.error'))).toEqual([]);
    expect(run.events.filter(byEvent('supervisor.exit'))).toHaveLength(1);
    expect(existsSync(join(env.path!, name))).toBe(false);
  });
});
