// The decision logic of a program's probes, pure: counts consecutive results
// against Kubernetes' thresholds and says what changed — ready / not ready,
// started, or unhealthy (liveness or startup failed past its threshold: the
// program must be restarted). The startup probe gates the other two, as in
// Kubernetes. Nothing here runs a probe or sets a timer (see monitor.ts).
import type { HealthPlan, ProbePlan } from '../plan/types.js';

export type ProbeRole = 'readiness' | 'liveness' | 'startup';
export const PROBE_ROLES: readonly ProbeRole[] = ['startup', 'liveness', 'readiness'];

/** One probe's outcome, as the OS edge (check.ts) reports it. */
export interface ProbeResult {
  ok: boolean;
  /** Why it failed: `timeout`, an errno code, `status 503`, `exit 1`, `signal SIGKILL`. */
  error?: string;
  /** The end of what the probe printed (exec) or answered (http), trimmed. */
  output?: string;
  durationMs: number;
}

/** Consecutive results of one probe in the current run. */
export interface Counter {
  successes: number;
  failures: number;
}

export interface HealthState {
  /** null: no startup probe. */
  started: boolean | null;
  /** null: no readiness probe. */
  ready: boolean | null;
  /** null: no liveness probe. */
  live: boolean | null;
  counters: Partial<Record<ProbeRole, Counter>>;
}

export type Change =
  | { type: 'started' }
  | { type: 'ready' }
  | { type: 'not_ready'; failures: number }
  /** Liveness or startup failed past failure_threshold: restart the program. */
  | { type: 'unhealthy'; role: 'liveness' | 'startup'; failures: number };

/**
 * A new run (the program was spawned): not started, not ready, live until a
 * liveness probe says otherwise — Kubernetes' initial states.
 */
export function freshState(health: HealthPlan): HealthState {
  return {
    started: health.startup ? false : null,
    ready: health.readiness ? false : null,
    live: health.liveness ? true : null,
    counters: {},
  };
}

/** The state of a program that is not running: not ready, not live, not started. */
export function downState(health: HealthPlan | undefined): HealthState {
  return {
    started: health?.startup ? false : null,
    ready: health?.readiness ? false : null,
    live: health?.liveness ? false : null,
    counters: {},
  };
}

/**
 * The probes that run periodically now: only the startup probe until it has
 * succeeded, then liveness and readiness. A log readiness probe is not periodic
 * (it watches the output), so it is never listed.
 */
export function periodicRoles(health: HealthPlan, state: HealthState): ProbeRole[] {
  if (health.startup && state.started !== true) return ['startup'];
  const roles: ProbeRole[] = [];
  if (health.liveness) roles.push('liveness');
  if (health.readiness && health.readiness.check.kind !== 'log') roles.push('readiness');
  return roles;
}

/** Counts one result of `role`'s probe and says what changed. */
export function applyResult(state: HealthState, role: ProbeRole, probe: ProbePlan, ok: boolean): { state: HealthState; changes: Change[] } {
  const before = state.counters[role] ?? { successes: 0, failures: 0 };
  const counter: Counter = ok ? { successes: before.successes + 1, failures: 0 } : { successes: 0, failures: before.failures + 1 };
  const next: HealthState = { ...state, counters: { ...state.counters, [role]: counter } };
  const passed = ok && counter.successes >= probe.successThreshold;
  const failed = !ok && counter.failures >= probe.failureThreshold;
  const changes: Change[] = [];
  switch (role) {
    case 'startup':
      if (passed && state.started !== true) {
        next.started = true;
        changes.push({ type: 'started' });
      } else if (failed) changes.push({ type: 'unhealthy', role, failures: counter.failures });
      break;
    case 'liveness':
      if (passed) next.live = true;
      else if (failed) {
        next.live = false;
        changes.push({ type: 'unhealthy', role, failures: counter.failures });
      }
      break;
    case 'readiness':
      if (passed && state.ready !== true) {
        next.ready = true;
        changes.push({ type: 'ready' });
      } else if (failed && state.ready === true) {
        next.ready = false;
        changes.push({ type: 'not_ready', failures: counter.failures });
      }
      break;
  }
  return { state: next, changes };
}

/** A log readiness probe saw a matching line: ready for the rest of this run. */
export function logMatched(state: HealthState): { state: HealthState; changes: Change[] } {
  if (state.ready === true) return { state, changes: [] };
  return { state: { ...state, ready: true }, changes: [{ type: 'ready' }] };
}

/** When the next probe of a series starts: `period` after the last one started, at once if it took longer. */
export function nextDelay(periodMs: number, lastDurationMs: number): number {
  return Math.max(0, periodMs - lastDurationMs);
}

/** Delay before the first probe of a role: its initial_delay counted from the spawn, whatever waited before (the startup probe). */
export function firstDelay(initialDelayMs: number, spawnedAt: number, now: number): number {
  return Math.max(0, spawnedAt + initialDelayMs - now);
}
