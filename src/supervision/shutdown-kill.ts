// The last step of a shutdown that has to force: repeats kill rounds (cgroup.kill
// on the programs' leaves where the kernel has it, then SIGSTOP sweeps and SIGKILL
// over every descendant, src/process/kill-tree.ts) until a round finds nothing
// alive, or until FINAL_KILL_BOUND_MS have passed. Then it reports what it did, and
// what was left, in one summary. Rounds after the first run on timers so the
// orphan reaper and libuv can collect the dead in between.
import type { KillRoundResult } from '../process/kill-tree.js';

/** How long the final kill keeps trying before the supervisor exits anyway. */
export const FINAL_KILL_BOUND_MS = 5000;
/** Pause between rounds: lets the killed finish dying and the reaper run. */
export const FINAL_KILL_PAUSE_MS = 10;

export interface FinalKillDeps {
  /** One stop-then-kill round over every descendant. */
  round(): KillRoundResult;
  /** SIGKILL every program's cgroup leaf at once (cgroup v2 cgroup.kill); the leaves it killed. */
  killCgroups?(): string[];
  now(): number;
}

export interface FinalKillStart {
  /** Processes alive at the first round (all got SIGKILL). */
  count: number;
  /** Leaves killed with cgroup.kill. */
  cgroups: string[];
}

export interface FinalKillSummary {
  rounds: number;
  sweeps: number;
  /** Distinct pids that got SIGKILL. */
  killed: number;
  /** Pids still alive at the last round when the bound ran out; empty on success. */
  left: number[];
  /** Every round's SIGKILL reached a set of processes that were all stopped. */
  converged: boolean;
  elapsedMs: number;
}

export interface FinalKillHandle {
  readonly running: boolean;
  /** Nothing is left (the caller saw no descendant): stop, and report success now. */
  complete(): void;
}

/**
 * Runs the final kill. `onStart` is called after the first round when anything
 * was alive (or a leaf was killed); `onDone` once, at the end (success or bound).
 */
export function runFinalKill(
  deps: FinalKillDeps,
  onStart: (s: FinalKillStart) => void,
  onDone: (s: FinalKillSummary) => void,
  boundMs = FINAL_KILL_BOUND_MS,
): FinalKillHandle {
  const startedAt = deps.now();
  const killed = new Set<number>();
  let rounds = 0;
  let sweeps = 0;
  let converged = true;
  let running = true;
  let timer: NodeJS.Timeout | undefined;

  const cgroups = deps.killCgroups?.() ?? [];
  const done = (left: number[]) => {
    clearTimeout(timer);
    timer = undefined;
    running = false;
    onDone({ rounds, sweeps, killed: killed.size, left, converged, elapsedMs: deps.now() - startedAt });
  };
  const step = () => {
    timer = undefined;
    const r = deps.round();
    rounds++;
    sweeps += r.sweeps;
    if (r.killed.length > 0) converged &&= r.converged;
    for (const pid of r.killed) killed.add(pid);
    if (rounds === 1 && (r.killed.length > 0 || cgroups.length > 0)) onStart({ count: r.killed.length, cgroups });
    if (r.killed.length === 0 || deps.now() - startedAt >= boundMs) {
      done(r.killed);
      return;
    }
    timer = setTimeout(step, FINAL_KILL_PAUSE_MS);
  };
  step();
  return {
    get running() {
      return running;
    },
    complete() {
      if (running) done([]);
    },
  };
}
