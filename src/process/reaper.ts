// Reaps orphaned descendants that were re-parented to us, without ever touching
// a child that child_process spawned: libuv reaps those itself with
// waitpid(pid) and loses their exit event forever if anyone else reaps them
// first. So we never call waitpid(-1); we list our children
// from /proc and call waitpid(pid, WNOHANG) on each pid that is not libuv's.
import type { WaitStatus } from '../sys/wait-status.js';
import { childrenOf } from './tree.js';

export interface ReapedZombie extends WaitStatus {
  pid: number;
}

export interface ReaperDeps {
  /** Pids spawned through child_process and not yet reported exited. */
  isSpawnedChild(pid: number): boolean;
  /** waitpid(pid, WNOHANG): the status if it was a zombie, else null. */
  reap(pid: number): WaitStatus | null;
  /** Our direct children. */
  children(): number[];
}

/** One sweep: reap every zombie child that is not libuv's. */
export function sweepOrphans(deps: ReaperDeps): ReapedZombie[] {
  const reaped: ReapedZombie[] = [];
  for (const pid of deps.children()) {
    if (deps.isSpawnedChild(pid)) continue;
    const status = deps.reap(pid);
    if (status) reaped.push({ pid, ...status });
  }
  return reaped;
}

export interface Reaper {
  /** Sweep now (coalesced: several requests in one tick run one sweep). */
  request(): void;
  stop(): void;
  /** Total orphans reaped since start. */
  readonly count: number;
}

/**
 * Sweeps on every SIGCHLD (signals coalesce, so each sweep scans everything)
 * and on a periodic backstop timer.
 */
export function startReaper(
  deps: Omit<ReaperDeps, 'children'>,
  onReaped: (z: ReapedZombie) => void,
  intervalMs = 1000,
): Reaper {
  let pending = false;
  let count = 0;
  const self = process.pid;
  const sweep = () => {
    pending = false;
    // A burst of exits can leave more zombies than one listing shows while
    // they are still dying: keep sweeping while a sweep finds something.
    for (;;) {
      const reaped = sweepOrphans({ ...deps, children: () => childrenOf(self) });
      for (const z of reaped) onReaped(z);
      count += reaped.length;
      if (reaped.length === 0) break;
    }
  };
  const request = () => {
    if (pending) return;
    pending = true;
    setImmediate(sweep);
  };
  const onSigchld = () => request();
  process.on('SIGCHLD', onSigchld);
  const timer = setInterval(request, intervalMs);
  timer.unref();
  request();
  return {
    request,
    stop() {
      process.off('SIGCHLD', onSigchld);
      clearInterval(timer);
    },
    get count() {
      return count;
    },
  };
}
