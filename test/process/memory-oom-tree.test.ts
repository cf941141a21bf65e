// memory-oom-tree.test.ts — an OOM kill anywhere in a program's tree is reported, on
// the host's real cgroup v1 kernel with the supervisor as PID 1: the victim need not
// be the main process. A wrapper shell that does not exec (its python is killed, the
// shell lives on) and a master that re-forks its OOM-killed worker each get one
// child.oom_killed per kill naming the victim, and are not restarted (their main
// process did not die). The leaf's oom_kill counter is polled on the sampling tick
// (v1 offers an eventfd, which Node cannot read without a blocking thread).
import { afterEach, describe, expect, it } from 'vitest';
import { detectMemoryEnvironment } from '../../src/memory/environment.js';
import { byEvent, FIXTURES, killAllRuns, startInit, writeConfig } from '../helpers/init.js';
import { until } from './support.js';

const MiB = 1024 * 1024;
const env = detectMemoryEnvironment();
const usable = env.cgroup === 'v1' && env.writable;

afterEach(killAllRuns);

describe.skipIf(!usable)('OOM kills anywhere in a program tree (cgroup v1 host, PID 1)', () => {
  it('a wrapper shell that does not exec: its python is OOM-killed in the leaf, reported as such, the shell lives on and is not restarted', async () => {
    const config = writeConfig(`
programs:
  wrapped:
    command: ["sh", "-c", "python3 ${FIXTURES}/oom-alloc.py 1; echo died $?; sleep 1000"]
    memory: { max: 100Mi, enforce: cgroup }
`);
    // A real pipe, as container runtimes give: a child's line and the supervisor's never split each other (on a socketpair they can).
    const run = startInit(['-c', config], { stdio: 'fifo' });
    const spawn = await run.waitFor(byEvent('child.spawn', 'wrapped'));
    const kill = await run.waitFor(byEvent('child.oom_killed', 'wrapped'), 60_000);
    expect(kill).toMatchObject({ evidence: 'leaf', main_killed: false, oom_kills: 1, pid: spawn.pid, max_bytes: 100 * MiB });
    const victims = kill.victims as Array<{ pid: number; comm: string; main: boolean }>;
    expect(victims).toHaveLength(1);
    expect(victims[0]).toMatchObject({ comm: 'python3', main: false });
    expect(victims[0]!.pid).not.toBe(spawn.pid);
    // The python printed its pid: the victim is that process.
    const allocating = run.stdout().split('\n').find((l) => l.startsWith('allocating '));
    expect(Number(allocating?.split(' ')[1])).toBe(victims[0]!.pid);
    expect((kill.leaf_events_delta as Record<string, number>).oom_kill).toBeGreaterThanOrEqual(1);
    expect((kill.leaf as { peak_bytes: number }).peak_bytes).toBeGreaterThan(90 * MiB);
    expect((kill.sample as { processes: number } | null)?.processes).toBeGreaterThanOrEqual(2);
    await until(() => run.stdout().includes('died 137'), 'the shell to go on after its python was killed', 30_000);
    // One event, no restart: the main process (the shell) did not die.
    expect(run.events.filter(byEvent('child.oom_killed'))).toHaveLength(1);
    expect(run.events.filter(byEvent('child.spawn', 'wrapped'))).toHaveLength(1);
    expect(run.events.filter(byEvent('child.exit', 'wrapped'))).toHaveLength(0);
    await run.signal('SIGTERM');
    expect((await run.done).code).toBe(0);
    expect(run.events.filter(byEvent('child.killed'))).toHaveLength(0);
  });

  it('a master whose worker is OOM-killed and re-forked by the master itself: each kill reported, the master is not restarted', async () => {
    const config = writeConfig(`
programs:
  master:
    command: ["python3", "${FIXTURES}/oom-master.py", "3"]
    memory: { max: 100Mi, enforce: cgroup }
  steady:
    command: ["sleep", "1000"]
`);
    // A real pipe, as container runtimes give: a child's line and the supervisor's never split each other (on a socketpair they can).
    const run = startInit(['-c', config], { stdio: 'fifo' });
    const spawn = await run.waitFor(byEvent('child.spawn', 'master'));
    await until(() => run.stdout().includes('master done'), 'the master to see its worker die three times', 90_000);
    const died = run.stdout().split('\n').filter((l) => l.startsWith('worker '));
    expect(died).toHaveLength(3);
    for (const l of died) expect(l).toMatch(/died -9$/);
    const workerPids = died.map((l) => Number(l.split(' ')[1]));
    const kills = await run.waitForCount(byEvent('child.oom_killed', 'master'), 3, 30_000);
    expect(kills).toHaveLength(3);
    for (const k of kills) {
      expect(k).toMatchObject({ evidence: 'leaf', main_killed: false, oom_kills: 1, pid: spawn.pid });
      const [v] = k.victims as Array<{ pid: number; main: boolean }>;
      expect(v!.main).toBe(false);
    }
    expect(kills.map((k) => (k.victims as Array<{ pid: number }>)[0]!.pid).sort()).toEqual([...workerPids].sort());
    expect(run.events.filter(byEvent('child.spawn', 'master'))).toHaveLength(1);
    expect(run.events.filter(byEvent('child.exit', 'master'))).toHaveLength(0);
    expect(run.events.filter(byEvent('child.oom_killed', 'steady'))).toHaveLength(0);
    await run.signal('SIGTERM');
    expect((await run.done).code).toBe(0);
  });
});
