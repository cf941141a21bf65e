// Restart arithmetic, pure: the exponential backoff delay (with its reset after
// a stable run) and the crash-loop window that turns a program fatal.
import type { BackoffPlan, CrashLoopPlan } from '../plan/types.js';

export interface BackoffDecision {
  /** Wait this long before the next start. */
  delayMs: number;
  /** The delay to use after that, should the next run fail too. */
  nextDelayMs: number;
}

/**
 * The delay before restarting a run that lasted `uptimeMs`. A run that stayed
 * up for `resetAfterMs` or more was stable: the backoff starts over.
 */
export function backoffDelay(plan: BackoffPlan, currentDelayMs: number, uptimeMs: number): BackoffDecision {
  const delayMs = uptimeMs >= plan.resetAfterMs ? plan.initialMs : Math.min(currentDelayMs, plan.maxMs);
  return { delayMs, nextDelayMs: Math.min(plan.maxMs, Math.max(delayMs * plan.factor, plan.initialMs)) };
}

/** Restart times still inside the crash-loop window at `now`. */
export function recentRestarts(times: readonly number[], plan: CrashLoopPlan, now: number): number[] {
  return times.filter((t) => now - t < plan.windowMs);
}

/** True when one more restart would exceed `maxRestarts` inside the window. */
export function isCrashLoop(recent: readonly number[], plan: CrashLoopPlan): boolean {
  return recent.length >= plan.maxRestarts;
}
