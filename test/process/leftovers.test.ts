// What a program's run leaves behind when its main process ends (README
// `leftovers`): by default every process it left is stopped before the next run
// starts, so a restarting program that backgrounds a job does not pile up
// processes, nor the supervisor file descriptors (the pipes of `output: json`).
// With `leftovers: keep` they are left alone.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BUNDLE, byEvent, hostDescendantsOf, killAllRuns, procState, startInit, tempDir, writeConfig } from '../helpers/init.js';
import { until } from './support.js';

afterEach(killAllRuns);

const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const aliveUnder = (pid: number) => hostDescendantsOf(pid).filter((p) => procState(p) !== 'Z' && procState(p) !== undefined);

function config(extra: string, command = 'sh -c "sleep 1000 & exit 1"'): string {
  return writeConfig(`
log: { format: json }
programs:
  leaky:
    command: ${command}
    output: json
    stop_grace: 1s
    backoff: { initial: 100ms, factor: 1, max: 100ms }
    crash_loop: { max_restarts: 1000, window: 60s }
${extra}
`);
}

describe('leftovers of an ended run', () => {
  it('default: after 20 restarts of `sh -c "sleep 1000 & exit 1"` no sleep is left and the supervisor holds no more fds than after the first', async () => {
    const run = startInit(['-c', config('')]);
    const sv = await run.supervisorPid();
    await run.waitForCount(byEvent('child.restart', 'leaky'), 2, 60_000);
    const fdsEarly = fdCount(sv);
    const stops = await run.waitForCount(byEvent('child.leftovers', 'leaky'), 21, 120_000);
    // Each run left its one sleep, and each was told to stop with the program's stop signal.
    for (const s of stops.slice(0, 20)) {
      expect(s.count).toBe(1);
      expect(s.signal).toBe('SIGTERM');
    }
    // Every restart waited for the last run's sleep to be gone: at most the current run's
    // sleep (and its shell) are alive, never an accumulation.
    expect(aliveUnder(sv).length).toBeLessThanOrEqual(2);
    // No fd growth: the pipes of dead runs were closed (a leak is 2 per restart).
    expect(fdCount(sv)).toBeLessThanOrEqual(fdsEarly + 2);
    await run.signal('SIGTERM');
    expect((await run.exited).code).toBe(0);
  });

  it('leftovers: keep leaves them running (the old behaviour, for programs that start daemons on purpose)', async () => {
    const run = startInit(['-c', config('    leftovers: keep')]);
    const sv = await run.supervisorPid();
    await run.waitForCount(byEvent('child.restart', 'leaky'), 5, 60_000);
    // Five runs ended, each left its sleep: they are all still there.
    await until(() => aliveUnder(sv).length >= 5 || undefined, 'the kept sleeps', 30_000);
    expect(run.events.filter(byEvent('child.leftovers'))).toHaveLength(0);
    await run.signal('SIGTERM');
    expect((await run.exited).code).toBe(0);
  });

  it('a leftover that ignores the stop signal is SIGKILLed after stop_grace, and the restart waits for it', async () => {
    const run = startInit(['-c', config('', `sh -c "trap '' TERM; sleep 1000 & exit 1"`)]);
    const sv = await run.supervisorPid();
    const kill = await run.waitFor((e) => byEvent('child.leftovers', 'leaky')(e) && e.signal === 'SIGKILL', 60_000);
    const idx = run.events.indexOf(kill);
    const term = run.events.findIndex(byEvent('child.leftovers', 'leaky'));
    expect(term).toBeLessThan(idx);
    // No restart between the stop signal and the SIGKILL: the next run waited for them.
    expect(run.events.slice(term, idx).filter(byEvent('child.spawn', 'leaky'))).toHaveLength(0);
    await run.waitForCount(byEvent('child.spawn', 'leaky'), 3, 60_000);
    expect(aliveUnder(sv).length).toBeLessThanOrEqual(3);
    await run.signal('SIGTERM');
    expect((await run.exited).code).toBe(0);
  });

  it('`supervisor stop NAME` stops what the run left too (a setsid daemon); `start` runs it again once they are gone', async () => {
    const socket = join(tempDir('sv-left-'), 'control.sock');
    const run = startInit([
      '-c',
      writeConfig(`
control: { socket: ${socket} }
programs:
  daemonish:
    command: sh -c "setsid sleep 1000 & exec sleep 1001"
    start_secs: 0
`),
    ]);
    const sv = await run.supervisorPid();
    await run.waitFor((e) => e.event === 'control.listening');
    await run.waitFor(byEvent('child.running', 'daemonish'));
    await until(() => aliveUnder(sv).length === 2 || undefined, 'the program and its daemon', 30_000);
    const ctl = (...args: string[]) => spawnSync(process.execPath, [BUNDLE, ...args], { env: { ...process.env, SUPERVISOR_SOCKET: socket }, encoding: 'utf8' });
    expect(ctl('stop', 'daemonish').status).toBe(0);
    const left = await run.waitFor(byEvent('child.leftovers', 'daemonish'), 30_000);
    expect(left).toMatchObject({ count: 1, signal: 'SIGTERM' });
    // The daemon left the program's group and session; stopped all the same, nothing is left.
    await until(() => aliveUnder(sv).length === 0 || undefined, 'nothing left', 30_000);
    expect(ctl('start', 'daemonish').status).toBe(0);
    await run.waitForCount(byEvent('child.spawn', 'daemonish'), 2, 30_000);
    await run.signal('SIGTERM');
    expect((await run.exited).code).toBe(0);
  });
});
