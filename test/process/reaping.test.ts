// Orphaned grandchildren are reaped (as PID 1 and as a child subreaper), and
// reaping them never steals the exit of a child that child_process spawned.
import { afterEach, describe, expect, it } from 'vitest';
import { byEvent, killAllRuns, startInit, writeConfig, zombiesUnder, type InitRun, type LogEvent } from '../helpers/init.js';
import { until } from './support.js';

afterEach(killAllRuns);

const ORPHANS = 1000;
// Each inner sh starts a background sleep and exits at once: the sleep is
// re-parented to the nearest reaper (the supervisor) and dies there soon after.
const MAKE_ORPHANS = `i=0; while [ $i -lt ${ORPHANS} ]; do sh -c "sleep 0.01 &"; i=$((i+1)); done; echo '{"fixture":"orphans-made"}'; exec sleep 1000`;

async function orphansAreReaped(run: InitRun) {
  await run.waitFor((e) => e.fixture === 'orphans-made', 120_000);
  const reaped = await run.waitForCount(byEvent('zombie.reaped'), ORPHANS, 60_000);
  const pid = await run.supervisorPid();
  await until(() => zombiesUnder(pid).length === 0, `no zombie left under the supervisor (now: ${zombiesUnder(pid).join(' ')})`, 30_000);
  expect(new Set(reaped.map((e) => e.pid)).size).toBe(reaped.length);
  // sleep exits 0 (or is killed by nothing): every reaped orphan reports its status.
  expect(reaped.filter((e) => e.code !== 0)).toEqual([]);
  // The program itself is still running; then a normal shutdown.
  expect(run.events.filter(byEvent('child.exit'))).toEqual([]);
  await run.signal('SIGTERM');
  const { code } = await run.done;
  expect(code).toBe(143); // single-command mode: sleep's death by the relayed SIGTERM
  expect(run.events.filter(byEvent('supervisor.error'))).toEqual([]);
}

describe('orphan reaping', () => {
  it(`as PID 1: ${ORPHANS} orphaned grandchildren leave no zombie`, async () => {
    const run = startInit(['--log-level', 'debug', '--', 'sh', '-c', MAKE_ORPHANS]);
    expect(await run.waitFor(byEvent('supervisor.start'))).toMatchObject({ pid: 1, pid1: true, subreaper: false });
    await orphansAreReaped(run);
  });

  it(`not PID 1 (child subreaper): ${ORPHANS} orphaned grandchildren leave no zombie`, async () => {
    const run = startInit(['--log-level', 'debug', '--', 'sh', '-c', MAKE_ORPHANS], { pid1: false });
    expect(await run.waitFor(byEvent('supervisor.start'))).toMatchObject({ pid1: false, subreaper: true });
    await orphansAreReaped(run);
  });

  it("a churning program's exits are never lost while orphans are being reaped", async () => {
    const config = writeConfig(`
programs:
  churn:
    command: ["/bin/true"]
    restart: always
    start_secs: 0
    backoff: { initial: 10ms, factor: 1, max: 10ms }
    crash_loop: { max_restarts: 1000000, window: 1h }
  orphans:
    command: 'while :; do sh -c "sleep 0.01 &"; done'
    shell: true
    start_secs: 0
`);
    const run = startInit(['-c', config, '--log-level', 'debug']);
    await run.waitForCount(byEvent('child.exit', 'churn'), 200, 120_000);
    // Orphans really were being reaped meanwhile.
    expect(run.events.filter(byEvent('zombie.reaped')).length).toBeGreaterThan(0);
    await run.signal('SIGTERM');
    const { code } = await run.done;
    expect(code).toBe(0);

    // spawn(pid) and exit(pid) strictly alternate: every run of churn ended exactly once.
    const seq = run.events.filter((e: LogEvent) => e.program === 'churn' && (e.event === 'child.spawn' || e.event === 'child.exit'));
    const broken: string[] = [];
    for (let i = 0; i < seq.length; i += 2) {
      const [spawn, exit] = [seq[i]!, seq[i + 1]];
      if (spawn.event !== 'child.spawn' || exit?.event !== 'child.exit' || exit.pid !== spawn.pid) broken.push(`#${i}: ${JSON.stringify(spawn)} then ${JSON.stringify(exit)}`);
    }
    expect(broken).toEqual([]);
    expect(seq.length).toBeGreaterThanOrEqual(400);
    // Every churn run exited 0 on its own, except possibly the last one, stopped by the shutdown.
    const unexpected = seq.filter((e) => e.event === 'child.exit' && !(e.code === 0 && e.expected === false) && !(e.expected === true && e.stop_reason === 'shutdown'));
    expect(unexpected).toEqual([]);
    expect(run.events.filter(byEvent('child.fatal'))).toEqual([]);
    expect(run.events.filter(byEvent('supervisor.error'))).toEqual([]);
  });
});
