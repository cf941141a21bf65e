// The pure probe logic: Kubernetes' thresholds, startup gating, and what each
// result changes; and the depends_on conditions.
import { describe, expect, it } from 'vitest';
import type { HealthPlan, ProbePlan } from '../../src/plan/types.js';
import { applyResult, downState, firstDelay, freshState, logMatched, nextDelay, periodicRoles, type HealthState, type ProbeRole } from '../../src/health/probe-state.js';
import { conditionFailed, conditionMet, type DependencyView } from '../../src/supervision/dependency.js';

const probe = (over: Partial<ProbePlan> = {}): ProbePlan => ({
  check: { kind: 'tcp', host: '127.0.0.1', port: 1 },
  initialDelayMs: 0,
  periodMs: 10_000,
  timeoutMs: 1000,
  failureThreshold: 3,
  successThreshold: 1,
  ...over,
});

/** Feeds results in order; returns the change types per result and the final state. */
function feed(health: HealthPlan, role: ProbeRole, results: boolean[], state: HealthState = freshState(health)) {
  const changes: string[][] = [];
  for (const ok of results) {
    const t = applyResult(state, role, health[role]!, ok);
    state = t.state;
    changes.push(t.changes.map((c) => c.type));
  }
  return { state, changes };
}

describe('initial states (Kubernetes)', () => {
  it('a new run is not ready, not started, and live until a liveness probe fails', () => {
    expect(freshState({ readiness: probe(), liveness: probe(), startup: probe() })).toMatchObject({ ready: false, live: true, started: false });
    expect(freshState({ liveness: probe() })).toMatchObject({ ready: null, live: true, started: null });
    expect(downState({ readiness: probe(), liveness: probe() })).toMatchObject({ ready: false, live: false, started: null });
    expect(downState(undefined)).toMatchObject({ ready: null, live: null, started: null });
  });
});

describe('readiness', () => {
  it('ready after success_threshold consecutive successes; not ready after failure_threshold consecutive failures', () => {
    const health = { readiness: probe({ successThreshold: 2, failureThreshold: 3 }) };
    const { changes, state } = feed(health, 'readiness', [true, false, true, true, true, false, false, true, false, false, false, false]);
    expect(changes).toEqual([[], [], [], ['ready'], [], [], [], [], [], [], ['not_ready'], []]);
    expect(state.ready).toBe(false);
  });

  it('failures before the first success change nothing (it was never ready)', () => {
    expect(feed({ readiness: probe({ failureThreshold: 1 }) }, 'readiness', [false, false]).changes).toEqual([[], []]);
  });

  it('a log match makes it ready once', () => {
    const state = freshState({ readiness: probe({ check: { kind: 'log', pattern: 'x' } }) });
    const once = logMatched(state);
    expect(once.changes).toEqual([{ type: 'ready' }]);
    expect(logMatched(once.state).changes).toEqual([]);
  });
});

describe('liveness and startup', () => {
  it('liveness: failure_threshold consecutive failures ask for a restart; a success in between resets the count', () => {
    const health = { liveness: probe({ failureThreshold: 2 }) };
    const { changes, state } = feed(health, 'liveness', [false, true, false, false]);
    expect(changes).toEqual([[], [], [], ['unhealthy']]);
    expect(state.live).toBe(false);
    const t = applyResult(freshState(health), 'liveness', health.liveness, false);
    expect(applyResult(t.state, 'liveness', health.liveness, false).changes).toEqual([{ type: 'unhealthy', role: 'liveness', failures: 2 }]);
  });

  it('startup: one success starts the program; failure_threshold failures ask for a restart', () => {
    const health = { startup: probe({ failureThreshold: 3 }), liveness: probe() };
    expect(feed(health, 'startup', [false, false, true]).changes).toEqual([[], [], ['started']]);
    expect(feed(health, 'startup', [false, false, false]).changes).toEqual([[], [], ['unhealthy']]);
  });

  it('the startup probe gates liveness and readiness until it succeeds; a log readiness probe is never periodic', () => {
    const health: HealthPlan = { startup: probe(), liveness: probe(), readiness: probe() };
    const state = freshState(health);
    expect(periodicRoles(health, state)).toEqual(['startup']);
    const started = applyResult(state, 'startup', health.startup!, true).state;
    expect(periodicRoles(health, started)).toEqual(['liveness', 'readiness']);
    const logOnly: HealthPlan = { readiness: probe({ check: { kind: 'log', pattern: 'x' } }) };
    expect(periodicRoles(logOnly, freshState(logOnly))).toEqual([]);
  });
});

describe('timing', () => {
  it('the next probe starts a period after the last one started, at once if it took longer', () => {
    expect(nextDelay(10_000, 300)).toBe(9700);
    expect(nextDelay(1000, 1500)).toBe(0);
  });

  it('initial_delay counts from the spawn, whatever came before', () => {
    expect(firstDelay(5000, 1000, 1000)).toBe(5000);
    expect(firstDelay(5000, 1000, 4000)).toBe(2000);
    expect(firstDelay(5000, 1000, 9000)).toBe(0);
  });
});

describe('depends_on conditions', () => {
  const view = (over: Partial<DependencyView>): DependencyView => ({ phase: 'stopped', hasProcess: false, blocked: false, ready: false, held: false, ...over });

  it('a dependency the operator stopped neither completed nor failed: its dependents wait', () => {
    for (const condition of ['started', 'running', 'healthy', 'completed_successfully'] as const) {
      const held = view({ phase: 'exited', lastExitStatus: 0, held: true });
      expect(conditionMet(condition, held)).toBe(false);
      expect(conditionFailed(condition, held)).toBe(false);
      expect(conditionFailed(condition, view({ phase: 'exited', lastExitStatus: 143, held: true }))).toBe(false);
    }
  });

  it('started: a live process, or exited 0 for good', () => {
    expect(conditionMet('started', view({ phase: 'starting', hasProcess: true }))).toBe(true);
    expect(conditionMet('started', view({ phase: 'starting' }))).toBe(false);
    expect(conditionMet('started', view({ phase: 'backoff' }))).toBe(false);
    expect(conditionMet('started', view({ phase: 'exited', lastExitStatus: 0 }))).toBe(true);
  });

  it('running: past start_secs, or exited 0 for good', () => {
    expect(conditionMet('running', view({ phase: 'starting', hasProcess: true }))).toBe(false);
    expect(conditionMet('running', view({ phase: 'running', hasProcess: true }))).toBe(true);
    expect(conditionMet('running', view({ phase: 'exited', lastExitStatus: 0 }))).toBe(true);
  });

  it('healthy: its readiness passed while it runs; a program that ended can never be healthy', () => {
    expect(conditionMet('healthy', view({ phase: 'running', hasProcess: true }))).toBe(false);
    expect(conditionMet('healthy', view({ phase: 'starting', hasProcess: true, ready: true }))).toBe(true);
    expect(conditionMet('healthy', view({ phase: 'stopping', hasProcess: true, ready: true }))).toBe(false);
    expect(conditionFailed('healthy', view({ phase: 'exited', lastExitStatus: 0 }))).toBe(true);
  });

  it('completed_successfully: exited 0 for good; a non-zero end, fatal or blocked fails every condition', () => {
    expect(conditionMet('completed_successfully', view({ phase: 'running', hasProcess: true }))).toBe(false);
    expect(conditionMet('completed_successfully', view({ phase: 'exited', lastExitStatus: 0 }))).toBe(true);
    for (const c of ['started', 'running', 'healthy', 'completed_successfully'] as const) {
      expect(conditionFailed(c, view({ phase: 'exited', lastExitStatus: 1 }))).toBe(true);
      expect(conditionFailed(c, view({ phase: 'fatal' }))).toBe(true);
      expect(conditionFailed(c, view({ blocked: true }))).toBe(true);
      expect(conditionFailed(c, view({ phase: 'backoff' }))).toBe(false);
    }
  });
});
