// A memory cgroup of its own for a test or benchmark run (cgroup v1 hosts, as root):
// the calling process moves into `<its memory cgroup>/<label>-<pid>`, so every
// supervisor it starts makes its leaf cgroups in there, and `cleanup()` removes the
// whole subtree afterwards — killing whatever is left in it first — even when the
// runs were SIGKILLed and had no chance to remove their leaves themselves. Where
// the memory cgroup is not v1 or not writable, it does nothing.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const V1_ROOT = '/sys/fs/cgroup/memory';

function ownMemoryCgroup() {
  try {
    const line = readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
    return line ? join(V1_ROOT, line.slice(line.lastIndexOf(':') + 1)) : undefined;
  } catch {
    return undefined;
  }
}

function pidsIn(dir) {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Kills everything in `dir` and below, then removes the directories bottom-up (retrying while killed tasks exit). */
export function removeCgroupTree(dir) {
  let children = [];
  try {
    children = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
  } catch {
    return;
  }
  for (const child of children) removeCgroupTree(child);
  for (let attempt = 0; attempt < 100; attempt++) {
    for (const pid of pidsIn(dir)) {
      if (pid === process.pid) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      if (e.code === 'ENOENT') return;
      if (e.code !== 'EBUSY') throw e;
    }
    sleep(20);
  }
}

/** Makes a fresh, empty memory cgroup `<ours>/<label>-<pid>` for others to enter; undefined where that cannot be done. */
export function makeCgroupSandbox(label) {
  const parent = ownMemoryCgroup();
  if (!parent || !existsSync(join(parent, 'cgroup.procs'))) return undefined;
  const path = join(parent, `${label}-${process.pid}`);
  try {
    mkdirSync(path);
    return path;
  } catch {
    return undefined;
  }
}

/**
 * Moves this process into a fresh memory cgroup under its own. Returns `{ path, cleanup }`;
 * `cleanup()` moves it back and removes the sandbox with everything in it.
 */
export function enterCgroupSandbox(label) {
  const parent = ownMemoryCgroup();
  const noop = { path: undefined, cleanup() {} };
  const path = makeCgroupSandbox(label);
  if (!parent || !path) return noop;
  try {
    writeFileSync(join(path, 'cgroup.procs'), String(process.pid));
  } catch {
    try {
      rmdirSync(path);
    } catch {
      // never made
    }
    return noop;
  }
  let done = false;
  return {
    path,
    cleanup() {
      if (done) return;
      done = true;
      try {
        writeFileSync(join(parent, 'cgroup.procs'), String(process.pid));
      } catch {
        // stay; the removal below then fails with EBUSY and says so
      }
      removeCgroupTree(path);
    },
  };
}
