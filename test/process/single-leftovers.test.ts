// The deliberate difference from tini and dumb-init (README, "Two differences"):
// in single-command mode, when the command ends on its own, what it left running
// gets a graceful SIGTERM, once, and the supervisor exits with the command's code
// only once none is left (tini and dumb-init exit at once). The leftover here left the
// command's session (setsid) and traps SIGTERM to write a marker, so the marker
// shows it was asked to stop, not SIGKILLed with the namespace.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { byEvent, killAllRuns, runInit, tempDir } from '../helpers/init.js';

afterEach(killAllRuns);

/** The command: starts a leftover in its own session, waits until its trap is set, exits 3. */
function command(dir: string): string[] {
  // (\$\$: the leftover's own pid, not the command's, which would expand it inside the double quotes)
  const leftover = `trap 'echo got-SIGTERM > ${dir}/marker; exit 0' TERM; echo \\$\\$ > ${dir}/pid; touch ${dir}/ready; while :; do sleep 0.1; done`;
  return ['sh', '-c', `setsid sh -c "${leftover}" & while [ ! -e ${dir}/ready ]; do sleep 0.05; done; exit 3`];
}

describe('single-command mode: the command ends on its own, leaving a process behind', () => {
  for (const pid1 of [true, false]) {
    it(`${pid1 ? 'as PID 1' : 'not PID 1'}: the leftover gets SIGTERM and is gone before the supervisor exits with the command's code`, async () => {
      const dir = tempDir();
      const r = await runInit(['--log-format', 'json', '--log-level', 'info', '--', ...command(dir)], { pid1 }, 120_000);
      expect(r.code).toBe(3);
      expect(readFileSync(join(dir, 'marker'), 'utf8').trim()).toBe('got-SIGTERM');
      // Told once, as the command's leftover (child.leftovers), not a second time by the shutdown's drain.
      const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
      const told = r.events.filter(byEvent('child.leftovers'));
      expect(told).toMatchObject([{ signal: 'SIGTERM' }]);
      expect(told[0]!.pids).toContain(pid);
      expect(r.events.filter((e) => (e.event === 'descendants.stop' || e.event === 'child.leftovers') && e.signal === 'SIGTERM')).toHaveLength(1);
      if (!pid1) {
        // Same pid namespace: the leftover's pid must be gone, not handed to the next subreaper.
        expect(existsSync(`/proc/${pid}`)).toBe(false);
      }
    });
  }
});
