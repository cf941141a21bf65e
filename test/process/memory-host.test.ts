// Memory caps against the real kernel on the host (cgroup v1 here): a hog in its
// own leaf cgroup is OOM-killed by the kernel at its cap and reported as
// child.oom_killed, the watchdog stops a steadily growing hog at its cap, and
// in both cases the sibling program and PID 1 are untouched.
import { afterEach, describe, expect, it } from 'vitest';
import { byEvent, FIXTURES, killAllRuns, startInit, writeConfig, type LogEvent } from '../helpers/init.js';
import { detectMemoryEnvironment } from '../../src/memory/environment.js';

const MiB = 1024 * 1024;
const env = detectMemoryEnvironment();
const cgroupWritable = env.cgroup !== 'none' && env.writable;

afterEach(killAllRuns);

function pidsOf(events: LogEvent[], program: string): number[] {
  return events.filter(byEvent('child.spawn', program)).map((e) => e.pid as number);
}

describe('memory caps on the host kernel', () => {
  it.runIf(cgroupWritable)('cgroup enforcement: the kernel kills the hog at its cap, the event says so, it restarts; sibling and PID 1 untouched', async () => {
    const config = writeConfig(`
programs:
  steady:
    command: ["sleep", "1000"]
  hog:
    command: ["node", "${FIXTURES}/hog.mjs", "200"]
    memory: { max: 96Mi, enforce: cgroup }
    backoff: { initial: 100ms, factor: 1 }
    crash_loop: { max_restarts: 100 }
`);
    const run = startInit(['-c', config]);
    const env = await run.waitFor(byEvent('supervisor.environment'));
    expect((env.programs as Record<string, { enforce: string }>).hog!.enforce).toBe('cgroup');
    const kills = await run.waitForCount(byEvent('child.oom_killed', 'hog'), 3, 60_000);
    for (const k of kills) {
      expect(k.evidence).toBe('leaf');
      expect(k.oom_kills).toBe(1);
      expect(k.main_killed).toBe(true);
      expect(k.victims).toEqual([expect.objectContaining({ main: true })]);
      expect(k.max_bytes).toBe(96 * MiB);
      expect((k.leaf as { peak_bytes: number }).peak_bytes).toBeGreaterThan(90 * MiB);
    }
    // Each kill is followed by a restart of the hog.
    await run.waitForCount(byEvent('child.spawn', 'hog'), 4, 60_000);
    // The sibling kept its one pid, and the supervisor is still here.
    expect(pidsOf(run.events, 'steady')).toHaveLength(1);
    expect(run.events.filter(byEvent('child.exit', 'steady'))).toHaveLength(0);
    await run.signal('SIGTERM');
    expect((await run.exited).code).toBe(0);
  });

  it('watchdog enforcement: a steadily growing hog is stopped at its cap with the overshoot reported; sibling and PID 1 untouched', async () => {
    const config = writeConfig(`
programs:
  steady:
    command: ["sleep", "1000"]
  hog:
    command: ["node", "${FIXTURES}/hog.mjs", "100"]
    memory: { max: 128Mi, high: 96Mi, enforce: watchdog, stop_grace: 1s }
    backoff: { initial: 100ms, factor: 1 }
    crash_loop: { max_restarts: 100 }
`);
    const run = startInit(['-c', config]);
    const stops = await run.waitForCount(byEvent('child.memory_cap_exceeded', 'hog'), 2, 60_000);
    for (const s of stops) {
      expect(s.max_bytes).toBe(128 * MiB);
      expect(s.usage_bytes as number).toBeGreaterThanOrEqual(128 * MiB);
      expect(s.overshoot_bytes).toBe((s.usage_bytes as number) - 128 * MiB);
      const sample = s.sample as Record<string, number>;
      // The watchdog counts what a leaf could not reclaim: the PSS of anon and shmem (sampler.ts).
      expect(sample.pss_anon_bytes! + sample.pss_shmem_bytes!).toBe(s.usage_bytes);
      expect(sample.anon_bytes).toBeGreaterThan(64 * MiB);
      expect(sample.processes).toBe(1);
    }
    // A high-water warning came before the first stop.
    const firstHigh = run.events.findIndex(byEvent('child.memory_high', 'hog'));
    const firstStop = run.events.findIndex(byEvent('child.memory_cap_exceeded', 'hog'));
    expect(firstHigh).toBeGreaterThanOrEqual(0);
    expect(firstHigh).toBeLessThan(firstStop);
    // The stop was a memory stop, restarted per policy; not reported as a mystery kill.
    const exits = run.events.filter((e) => byEvent('child.exit', 'hog')(e) && e.stop_reason === 'memory_cap');
    expect(exits.length).toBeGreaterThanOrEqual(1);
    await run.waitForCount(byEvent('child.spawn', 'hog'), 3, 60_000);
    expect(run.events.filter(byEvent('child.killed', 'hog'))).toHaveLength(0);
    expect(pidsOf(run.events, 'steady')).toHaveLength(1);
    await run.signal('SIGTERM');
    expect((await run.exited).code).toBe(0);
  });

  it.runIf(cgroupWritable)('memory.oom_loop: past max_events OOM kills in the window the program turns fatal and on_fatal shuts the container down', async () => {
    const dir = (await import('../helpers/init.js')).tempDir();
    const termlog = `${dir}/termination-log`;
    const config = writeConfig(`
termination_log: ${termlog}
programs:
  steady:
    command: ["sleep", "1000"]
  hog:
    command: ["node", "${FIXTURES}/hog.mjs", "200"]
    memory: { max: 96Mi, enforce: cgroup, oom_loop: { max_events: 2, window: 10m } }
    backoff: { initial: 100ms, factor: 1 }
    crash_loop: { max_restarts: 100 }
    on_fatal: { action: shutdown, exit_code: 7 }
`, dir);
    const run = startInit(['-c', config]);
    const { code } = await run.done;
    expect(code).toBe(7);
    expect(run.events.filter(byEvent('child.oom_killed', 'hog'))).toHaveLength(3);
    expect(run.events.find(byEvent('child.fatal', 'hog'))).toMatchObject({ reason: 'oom_loop' });
    expect(run.events.find(byEvent('supervisor.shutdown'))).toMatchObject({ reason: 'program_fatal', program: 'hog' });
    const { readFileSync } = await import('node:fs');
    const message = readFileSync(termlog, 'utf8');
    expect(message).toContain('supervisor exit code 7: program hog turned fatal (too many OOM kills or memory stops (memory.oom_loop))');
    expect(message).toContain('hog: 3 OOM kills, fatal (too many OOM kills or memory stops (memory.oom_loop))');
    expect(message).not.toContain('crash loop');
  });

  it('a SIGKILL from outside with no OOM evidence is reported as such, not guessed', async () => {
    const config = writeConfig(`
programs:
  victim:
    command: ["sleep", "1000"]
    memory: { max: 512Mi, enforce: watchdog }
    restart: never
    on_exit: continue
  steady:
    command: ["sleep", "1000"]
`);
    const run = startInit(['-c', config]);
    const spawn = await run.waitFor(byEvent('child.spawn', 'victim'));
    const { hostDescendantsOf } = await import('../helpers/init.js');
    // Find the victim's host pid: the sleep under the supervisor that is not 'steady'.
    await run.waitFor(byEvent('child.spawn', 'steady'));
    const sup = await run.supervisorPid();
    const { readFileSync } = await import('node:fs');
    const nsPidOf = (hostPid: number) => Number(/NSpid:\s+\d+\s+(\d+)/.exec(readFileSync(`/proc/${hostPid}/status`, 'utf8'))?.[1]);
    const hostPid = hostDescendantsOf(sup).find((p) => nsPidOf(p) === spawn.pid)!;
    process.kill(hostPid, 'SIGKILL');
    const killed = await run.waitFor(byEvent('child.killed', 'victim'));
    expect(killed.container_oom_kills).toBe(0);
    expect(run.events.filter(byEvent('child.oom_killed'))).toHaveLength(0);
    await run.signal('SIGTERM');
    expect((await run.exited).code).toBe(0);
  });
});
