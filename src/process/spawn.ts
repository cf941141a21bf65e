// Starts one program's process with child_process and reports what happens to
// it (spawned, failed to spawn, exited) through callbacks. Keeps the registry
// of pids that libuv owns, which the orphan reaper must leave alone.
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import type { ProgramPlan } from '../plan/types.js';
import type { Sink } from '../logging/sink.js';
import { pipeFramedLines, rawLine, type LineFramer } from './output.js';
import { classifySpawnError, type SpawnFailure } from './spawn-failure.js';

export { failureExitCode, type SpawnFailure } from './spawn-failure.js';
import { PROGRAM_ENV } from './ownership.js';

/** Pids spawned by child_process whose exit libuv has not reported yet. */
const spawnedPids = new Set<number>();

export function isSpawnedChild(pid: number): boolean {
  return spawnedPids.has(pid);
}

/** Registers a process child_process spawned outside startChild (a probe), until libuv reports its exit. */
export function trackSpawnedChild(child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined) return;
  spawnedPids.add(pid);
  child.once('exit', () => spawnedPids.delete(pid));
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildHandle {
  pid: number;
  /** Spawned with `gate`: closes the supervisor's end of the gate (fd 3 in the child), letting it go on. */
  openGate?(): void;
  /** Sends a signal to the child, or to its whole process group. False if it was already gone. */
  signal(sig: NodeJS.Signals, toGroup: boolean): boolean;
}

export interface SpawnCallbacks {
  onExit(exit: ChildExit): void;
  onSpawnFailed(failure: SpawnFailure): void;
}

export interface OutputSinks {
  stdout: Sink;
  stderr: Sink;
  /** How `output: json` lines are written (default: JSON records, frameLine). */
  frame?: LineFramer;
}

function describeFailure(plan: ProgramPlan, err: NodeJS.ErrnoException): SpawnFailure {
  // Never err.message: Node's text can quote argv, env values and the cwd.
  return classifySpawnError(plan.argv[0] ?? '', err);
}

/**
 * Spawns the program. Returns the handle, or undefined when the spawn failed
 * (then `onSpawnFailed` is called on a later tick, never synchronously).
 */
export interface StartOptions {
  /** Hold the child at a gate (fd 3) until openGate (the terminal shim). */
  gate?: boolean;
  /** Each line of the child's output (a log readiness probe): an `inherit` child's output then passes through the supervisor, unchanged. */
  onLine?: (line: string) => void;
}

export function startChild(plan: ProgramPlan, sinks: OutputSinks, cb: SpawnCallbacks, options: StartOptions = {}): ChildHandle | undefined {
  // libuv reports a missing cwd as ENOENT, indistinguishable from a missing
  // command: check it first so the message names the right culprit.
  if (plan.cwd !== undefined) {
    let ok = false;
    try {
      ok = statSync(plan.cwd).isDirectory();
    } catch {
      ok = false;
    }
    if (!ok) {
      const failure: SpawnFailure = { code: 'ENOENT', message: `working directory does not exist: ${plan.cwd}`, exitCode: 127, transient: false };
      setImmediate(() => cb.onSpawnFailed(failure));
      return undefined;
    }
  }

  const json = plan.output === 'json';
  const piped = json || options.onLine !== undefined;
  let child: ChildProcess;
  try {
    child = spawn(plan.argv[0]!, plan.argv.slice(1), {
      cwd: plan.cwd,
      // The mark that keeps a process its program's after it leaves the tree (process/ownership.ts).
      env: { ...plan.env, [PROGRAM_ENV]: plan.name },
      uid: plan.uid,
      gid: plan.gid,
      detached: plan.processGroup,
      stdio: [plan.stdin, piped ? 'pipe' : 'inherit', piped ? 'pipe' : 'inherit', ...(options.gate ? (['pipe'] as const) : [])],
      windowsHide: true,
    });
  } catch (e) {
    // Synchronous failures: EPERM for uid/gid without privilege, EINVAL...
    const failure = describeFailure(plan, e as NodeJS.ErrnoException);
    setImmediate(() => cb.onSpawnFailed(failure));
    return undefined;
  }
  const pid = child.pid;
  if (pid === undefined) {
    child.once('error', (err) => cb.onSpawnFailed(describeFailure(plan, err)));
    return undefined;
  }
  spawnedPids.add(pid);
  let exited = false;
  // After a successful spawn, 'error' only means a failed kill(); exit is what counts.
  child.on('error', () => {});
  child.once('exit', (code, signal) => {
    exited = true;
    spawnedPids.delete(pid);
    cb.onExit({ code, signal });
  });
  if (piped) {
    const frame = json ? sinks.frame : rawLine;
    pipeFramedLines(child.stdout!, plan.name, 'stdout', sinks.stdout, frame, options.onLine);
    pipeFramedLines(child.stderr!, plan.name, 'stderr', sinks.stderr, frame, options.onLine);
  }
  const gate = options.gate ? (child.stdio[3] as { destroy(): void } | null | undefined) : undefined;
  return {
    pid,
    openGate: gate ? () => gate.destroy() : undefined,
    signal(sig, toGroup) {
      // Once reaped, the pid may belong to someone else: never signal it again.
      if (exited) return false;
      try {
        process.kill(toGroup ? -pid : pid, sig);
        return true;
      } catch {
        return false;
      }
    },
  };
}
