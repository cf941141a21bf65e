// Signals the caller left ignored or blocked are not passed on to the command
// (README, "Two differences from tini and dumb-init"): Node resets every
// disposition and the signal mask at its start-up, so the command starts with
// default dispositions and nothing blocked, as PID 1 and not. The caller here is
// a python wrapper that ignores SIGHUP and blocks SIGUSR1, then execs.
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { killAllRuns, runInit } from '../helpers/init.js';

afterEach(killAllRuns);

const CALLER = [
  'python3',
  '-c',
  'import os, signal, sys; signal.signal(signal.SIGHUP, signal.SIG_IGN); signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1]); os.execvp(sys.argv[1], sys.argv[1:])',
];
const HUP = 1n << 0n; // signal n is bit n-1
const USR1 = 1n << 9n;

/** SigIgn and SigBlk of /proc/self/status as printed by `cat`, as bit masks. */
function masks(status: string): { ignored: bigint; blocked: bigint } {
  const field = (name: string) => BigInt(`0x${new RegExp(`^${name}:\\s*([0-9a-f]+)`, 'm').exec(status)![1]}`);
  return { ignored: field('SigIgn'), blocked: field('SigBlk') };
}

describe('signals the caller left ignored or blocked', () => {
  it('the wrapper really starts its command with SIGHUP ignored and SIGUSR1 blocked (without the supervisor)', () => {
    const m = masks(execFileSync(CALLER[0]!, [...CALLER.slice(1), 'cat', '/proc/self/status'], { encoding: 'utf8' }));
    expect(m.ignored & HUP).toBe(HUP);
    expect(m.blocked & USR1).toBe(USR1);
  });

  for (const pid1 of [true, false]) {
    it(`single-command mode${pid1 ? ' as PID 1' : ', not PID 1'}: the command starts with nothing ignored and nothing blocked`, async () => {
      const r = await runInit(['--log-format', 'json', '--', 'cat', '/proc/self/status'], { pid1, node: [...CALLER, process.execPath] });
      expect(r.code).toBe(0);
      expect(masks(r.stdout)).toEqual({ ignored: 0n, blocked: 0n });
    });
  }
});
