// No signal is lost at start-up: a SIGTERM sent to PID 1 at any moment after
// Node's own start-up (measured from when the bundle's first statement has put
// its listeners in place, src/cli/entry.ts) ends in a shutdown, and when it
// came before the programs started, none of them is started. Before Node's own
// start-up nothing can catch it (README, "Signals").
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { byEvent, killAllRuns, startInit, tempDir, writeConfig, type InitRun } from '../helpers/init.js';
import { pool, sleep, until, within } from './support.js';

afterEach(killAllRuns);

const SIGHUP_BIT = 1n << 0n;
const SIGQUIT_BIT = 1n << 2n;

/** True once the process catches SIGHUP and SIGQUIT, which Node itself leaves alone: the early listeners are in. */
function earlyListenersIn(pid: number): boolean {
  try {
    const cgt = BigInt('0x' + /SigCgt:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
    return (cgt & SIGHUP_BIT) !== 0n && (cgt & SIGQUIT_BIT) !== 0n;
  } catch {
    return false;
  }
}

async function sigtermAfterStartup(run: InitRun, delayMs: number): Promise<void> {
  const pid = await run.supervisorPid();
  await until(() => earlyListenersIn(pid), 'the early signal listeners', 60_000, 1);
  if (delayMs > 0) await sleep(delayMs);
  process.kill(pid, 'SIGTERM');
}

/** The shutdown outcome every run must end in, whenever the signal came. */
function expectShutdown(run: InitRun, code: number | null, marker: string, expectedCode: number) {
  const names = run.events.map((e) => e.event);
  const signalAt = names.indexOf('supervisor.signal');
  expect(signalAt, 'the SIGTERM was seen').toBeGreaterThanOrEqual(0);
  expect(run.events[signalAt]).toMatchObject({ signal: 'SIGTERM' });
  expect(run.events.find(byEvent('supervisor.shutdown'))).toMatchObject({ reason: 'signal', signal: 'SIGTERM' });
  expect(run.events.find(byEvent('supervisor.exit'))).toMatchObject({ code: expectedCode, reason: 'signal' });
  expect(code).toBe(expectedCode);
  // Nothing is started once the shutdown was asked for.
  expect(names.slice(signalAt).filter((n) => n === 'child.spawn')).toEqual([]);
  const spawned = names.includes('child.spawn');
  // A program that was not spawned never ran. One that was may have met the SIGTERM
  // before its first command (the shell dies of it before the echo): then that is how it ended.
  if (!spawned) expect(existsSync(marker)).toBe(false);
  else if (!existsSync(marker)) expect(run.events.find(byEvent('child.exit'))).toMatchObject({ signal: 'SIGTERM' });
}

const DELAYS = [0, 10, 30, 60, 100, 200, 400];

describe('a SIGTERM during start-up is never lost', () => {
  const cases = DELAYS.flatMap((delay) => (['single', 'config'] as const).map((mode) => ({ delay, mode })));

  it(`ends in a shutdown at every delay after Node's start-up (${DELAYS.join(', ')} ms), single-command and config mode`, { timeout: 300_000 }, async () => {
    const outcomes = await pool(cases, 2, async ({ delay, mode }) => {
      const dir = tempDir();
      const marker = join(dir, 'started');
      const script = `echo started > ${marker}; exec sleep 120`;
      const args = mode === 'single' ? ['--log-level', 'info', '--', '/bin/sh', '-c', script] : ['-c', writeConfig(`programs:\n  app: { command: ${JSON.stringify(script)}, shell: true }\n`, dir)];
      const run = startInit(args);
      await sigtermAfterStartup(run, delay);
      const { code } = await within(run.done, 60_000, `exit after SIGTERM at ${delay} ms (${mode})`);
      // A program killed by the relayed SIGTERM (single) gives 143, as does one never started; config mode: 0.
      expectShutdown(run, code, marker, mode === 'single' ? 143 : 0);
      return run.events.some(byEvent('child.spawn')) ? 'started' : 'not started';
    });
    // Which runs caught the programs before they started depends on the load; all of them shut down.
    expect(outcomes).toHaveLength(cases.length);
  });

  it('config mode: a SIGTERM while the config is still being read ends the run, no program started, exit 0', async () => {
    const dir = tempDir();
    const fifo = join(dir, 'supervisor.yaml');
    execFileSync('mkfifo', [fifo]);
    const marker = join(dir, 'started');
    const run = startInit(['-c', fifo]);
    // The supervisor blocks reading the FIFO: the signal surely comes before any program could start.
    await sigtermAfterStartup(run, 0);
    writeFileSync(fifo, `programs:\n  app: { command: ${JSON.stringify(`echo started > ${marker}; exec sleep 120`)}, shell: true }\n`);
    const { code } = await within(run.done, 60_000, 'exit after an early SIGTERM');
    expectShutdown(run, code, marker, 0);
    expect(run.events.filter(byEvent('child.spawn'))).toEqual([]);
    expect(run.events.find(byEvent('supervisor.start'))).toMatchObject({ pid1: true, mode: 'config' });
  });
});
