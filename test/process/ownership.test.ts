// A program's processes stay its own after they leave its tree: a memory hog that
// daemonizes (a middle process in a new session starts it and exits, so it is
// re-parented to PID 1) is still counted in its program's usage by the watchdog,
// stopped at the cap, and gone before the program's next run.
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { byEvent, FIXTURES, killAllRuns, startInit, tempDir, writeConfig } from '../helpers/init.js';
import { until } from './support.js';

const MiB = 1024 * 1024;
afterEach(killAllRuns);

/** Host pids whose command line holds `tag`. */
function pgrep(tag: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', tag], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe('processes that leave the tree', () => {
  it('enforce: watchdog counts a daemonized hog as its program\'s, stops it at the cap, and the daemon is gone before the next run', async () => {
    const tag = `${tempDir('daemon-hog-')}/tag`;
    const config = writeConfig(`
log: { format: json }
programs:
  daemon:
    command: ["node", "${FIXTURES}/daemon-hog.mjs", "${tag}", "60"]
    memory: { max: 100Mi, enforce: watchdog, stop_grace: 1s }
    backoff: { initial: 200ms, factor: 1, max: 200ms }
    crash_loop: { max_restarts: 100, window: 60s }
`);
    const run = startInit(['-c', config]);
    // The hog of the first run is out of the program's tree: its parent is PID 1.
    const ready = await run.waitFor((e) => e.fixture === 'ready' && e.role === 'hog', 30_000);
    expect(ready.pid).toBeGreaterThan(1);
    const stops = await run.waitForCount(byEvent('child.memory_cap_exceeded', 'daemon'), 2, 90_000);
    for (const s of stops) {
      expect(s.max_bytes).toBe(100 * MiB);
      expect(s.usage_bytes as number).toBeGreaterThanOrEqual(100 * MiB);
      // The main process alone holds far less than the cap: the hog was counted.
      const sample = s.sample as Record<string, number>;
      expect(sample.processes).toBeGreaterThanOrEqual(2);
    }
    // The stop signal went to the program's group, which the hog left; the leftover
    // cleanup stopped it before the next run started.
    const leftovers = run.events.filter(byEvent('child.leftovers', 'daemon'));
    expect(leftovers.length).toBeGreaterThanOrEqual(1);
    expect(leftovers[0]!.pids).toContain(ready.pid);
    const firstLeftovers = run.events.indexOf(leftovers[0]!);
    const secondSpawn = run.events.filter(byEvent('child.spawn', 'daemon'))[1]!;
    expect(run.events.indexOf(secondSpawn)).toBeGreaterThan(firstLeftovers);
    // Never more than one hog at a time: main + hog of the current run at most.
    expect(pgrep(tag).length).toBeLessThanOrEqual(2);
    await run.signal('SIGTERM');
    expect((await run.exited).code).toBe(0);
    await until(() => pgrep(tag).length === 0, 'every process of the program to be gone', 10_000);
  });
});
