// The foreground shim (single-command mode on a terminal) execs the command only
// once the supervisor opened its gate: the command's first output never comes
// before the supervisor's child.spawn line.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLE, tempDir } from '../helpers/init.js';
import { sleep, until } from './support.js';

const pgrpOf = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
};

describe('the foreground shim waits at its gate', () => {
  it('the command runs only after the gate (fd 3) is closed, and does not inherit it', async () => {
    const dir = tempDir();
    const marker = join(dir, 'ran');
    const shim = spawn(process.execPath, [BUNDLE, '--internal-foreground-exec', '--gated', '/bin/sh', '-c', `ls /proc/$$/fd > ${marker}`], {
      stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
    });
    const exited = new Promise<number | null>((res) => shim.on('exit', (code) => res(code)));
    // The shim made its own process group: it is at the gate (the next thing it does).
    await until(() => pgrpOf(shim.pid!) === shim.pid, 'the shim to make its process group');
    // Generous: an open gate would have let the exec through long before.
    await sleep(500);
    expect(existsSync(marker)).toBe(false);
    (shim.stdio[3] as NodeJS.WritableStream & { destroy(): void }).destroy();
    expect(await exited).toBe(0);
    // (Other fds the test runner leaks may be there; the gate's must not.)
    expect(readFileSync(marker, 'utf8').trim().split('\n')).not.toContain('3');
  });
});
