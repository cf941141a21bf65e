// Scratch directories for runs (configs, FIFOs, pm2 homes) under the system
// temp dir, removed when the suite ends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made = [];

export function tempDir(prefix = 'pid1-bench-') {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export function cleanupTemp() {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}
