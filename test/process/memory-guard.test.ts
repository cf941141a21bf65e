// memory-guard.test.ts — the container guard on the host kernel (cgroup v1 here): the
// supervisor as PID 1 inside a memory cgroup with a 256 MiB limit (our "container"),
// reading that cgroup's own counters on its fast path; an uncapped leaker is stopped by
// the guard (container.memory_guard, then its exit with stop_reason
// container_memory_guard and a restart) again and again, the sibling is never
// touched, and the kernel never has to OOM-kill anything. The guard's threshold is set
// to 60 % so the kernel's limit is ~100 MiB (5 s of this leak) past it: the test does
// not depend on how fast a loaded machine runs the supervisor.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { detectMemoryEnvironment } from '../../src/memory/environment.js';
import { byEvent, FIXTURES, killAllRuns, startInit, writeConfig, type LogEvent } from '../helpers/init.js';
import { sleep } from './support.js';

const MiB = 1024 * 1024;
const env = detectMemoryEnvironment();
const usable = env.cgroup === 'v1' && env.writable && env.path !== null;
const LIMIT = 256 * MiB;

let cg: string | undefined;

afterEach(async () => {
  await killAllRuns();
  if (!cg) return;
  for (let i = 0; i < 50 && existsSync(cg); i++) {
    for (const pid of readFileSync(join(cg, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
    try {
      rmdirSync(cg);
    } catch {
      await sleep(100);
    }
  }
  cg = undefined;
});

describe.skipIf(!usable)('container guard on the host kernel (cgroup v1)', () => {
  it('stops an uncapped leaker before the container limit, again and again; the sibling and PID 1 are untouched, no OOM kill', { timeout: 180_000 }, async () => {
    cg = join(env.path!, `guardtest-${process.pid}`);
    mkdirSync(cg);
    writeFileSync(join(cg, 'memory.limit_in_bytes'), String(LIMIT));
    const config = writeConfig(`
memory: { guard: { threshold: 60% } }
programs:
  steady:
    command: ["sleep", "1000"]
  leaker:
    command: ["node", "${FIXTURES}/hog.mjs", "20"]
    backoff: { initial: 100ms, factor: 1 }
    crash_loop: { max_restarts: 100 }
`);
    const run = startInit(['-c', config], { cgroup: cg });
    const envEvent = await run.waitFor(byEvent('supervisor.environment'));
    expect(envEvent).toMatchObject({ cgroup: 'v1', memory_limit_bytes: LIMIT, guard: { threshold_bytes: Math.floor(LIMIT * 0.6), headroom_bytes: 8 * MiB } });
    expect((envEvent['programs'] as Record<string, { enforce: string }>)['leaker']!.enforce).toBe('none');

    // Two stops of the leaker, each followed by its exit and a restart.
    const isStop = (e: LogEvent) => e.event === 'container.memory_guard' && e['action'] === 'stop';
    const stops = await run.waitForCount(isStop, 2, 120_000);
    await run.waitForCount(byEvent('child.spawn', 'leaker'), 3, 60_000);
    for (const s of stops) {
      expect(s).toMatchObject({ program: 'leaker', limit_bytes: LIMIT, threshold_bytes: Math.floor(LIMIT * 0.6) });
      expect(['threshold', 'predicted', 'pressure', 'headroom']).toContain(s['cause']);
      // stopped before the container got within the headroom of its limit
      expect(s['container_used_bytes'] as number).toBeLessThan(LIMIT - 8 * MiB);
      expect((s['candidates'] as Array<{ program: string }>).map((c) => c.program).sort()).toEqual(['leaker', 'steady']);
      const exit = await run.waitFor((e) => e.event === 'child.exit' && e.program === 'leaker' && e.pid === s.pid);
      expect(exit).toMatchObject({ stop_reason: 'container_memory_guard', expected: true });
    }
    // Nobody else was stopped; the kernel never had to kill.
    expect(run.events.filter((e) => e.event === 'container.memory_guard').every((e) => e.program === 'leaker')).toBe(true);
    expect(run.events.filter(byEvent('child.spawn', 'steady'))).toHaveLength(1);
    expect(run.events.filter(byEvent('child.oom_killed'))).toEqual([]);
    expect(run.events.filter(byEvent('child.killed'))).toEqual([]);
    expect(/oom_kill (\d+)/.exec(readFileSync(join(cg, 'memory.oom_control'), 'utf8'))?.[1]).toBe('0');

    await run.signal('SIGTERM');
    expect((await run.exited).code).toBe(0);
  });
});
