// The health monitor: runs each program's probes (health: in supervisor.yaml)
// while it runs, and turns their results into events and actions — child.ready
// and child.not_ready, and child.unhealthy with a restart when liveness (or
// startup) fails past its threshold. It observes the supervisor through its
// hooks (a spawn, an exit, a stop, a shutdown) and acts on it only through
// HealthControl, as the memory manager does. The counting is pure
// (probe-state.ts); the checks are the OS edge (check.ts). A program without
// probes costs nothing: no timer, no listener.
import type { EventSink } from '../logging/events.js';
import type { ProbePlan, ProgramPlan, SupervisorPlan } from '../plan/types.js';
import type { SupervisorHooks } from '../supervision/supervisor.js';
import { runCheck, type RunningCheck } from './check.js';
import {
  applyResult,
  downState,
  firstDelay,
  freshState,
  logMatched,
  nextDelay,
  periodicRoles,
  type Change,
  type HealthState,
  type ProbeResult,
  type ProbeRole,
} from './probe-state.js';

/** What the monitor may ask of the supervisor. */
export interface HealthControl {
  /** Whether probes may run and act: the program runs (starting or running), is not being stopped, and no shutdown is under way. */
  isProbeable(name: string): boolean;
  /** Liveness or startup failed past its threshold: stop the program and restart it per its policy (a failed run). */
  restartUnhealthy(name: string, reason: string): void;
  /** A program's readiness changed (dependents waiting for `healthy` may start). */
  readinessChanged(name: string): void;
}

/** The last probe of a program, for /status. */
export interface LastProbe {
  probe: ProbeRole;
  check: 'exec' | 'http' | 'tcp' | 'log';
  ok: boolean;
  /** When it ended (ISO 8601). */
  at: string;
  duration_ms: number;
  error?: string;
  output?: string;
}

/** One program's health, the read API for /readyz, /status and `supervisor probe` (null: no such probe). */
export interface ProgramHealthStatus {
  ready: boolean | null;
  live: boolean | null;
  started: boolean | null;
  last_probe?: LastProbe;
}

/**
 * The read API of program health, for /readyz, /startupz, /status and
 * `supervisor probe`: one entry per program of the plan, probes or not.
 */
export interface HealthReader {
  /** Every program's health, by name (a program without probes: all null). */
  status(): Record<string, ProgramHealthStatus>;
  /** One program's health; undefined for a name not in the plan. */
  programStatus(name: string): ProgramHealthStatus | undefined;
  /** Its readiness probe passed in its current run (false without a readiness probe). */
  isReady(name: string): boolean;
}

const NO_PROBES: ProgramHealthStatus = Object.freeze({ ready: null, live: null, started: null });

interface Run {
  pid: number;
  spawnedAt: number;
  timers: Map<ProbeRole, NodeJS.Timeout>;
  inflight: Map<ProbeRole, RunningCheck>;
  /** Set when the run is over (exit, stop, shutdown): late results are dropped. */
  over: boolean;
}

interface Watched {
  plan: ProgramPlan;
  state: HealthState;
  run?: Run;
  last?: LastProbe;
}

export class HealthMonitor implements HealthReader {
  private readonly programs = new Map<string, Watched>();
  /** Every program of the plan, in start order. */
  private readonly names: string[];
  private shuttingDown = false;

  constructor(
    plan: SupervisorPlan,
    private readonly events: EventSink,
    private readonly control: HealthControl,
    private readonly now: () => number = Date.now,
  ) {
    this.names = plan.programs.map((p) => p.name);
    for (const p of plan.programs) if (p.health) this.programs.set(p.name, { plan: p, state: downState(p.health) });
  }

  /** Whether any program has a probe (if not, nothing here ever runs). */
  get active(): boolean {
    return this.programs.size > 0;
  }

  /** Hooks for the supervisor (merge them with the others in run.ts). */
  hooks(): Required<Pick<SupervisorHooks, 'afterSpawn' | 'childExited' | 'phaseChanged' | 'shutdownBegan'>> {
    return {
      afterSpawn: (plan, pid) => pid !== undefined && this.beginRun(plan.name, pid),
      childExited: (plan) => this.endRun(plan.name, 'exited'),
      phaseChanged: (plan, phase) => phase === 'stopping' && this.endRun(plan.name, 'stopping'),
      shutdownBegan: () => {
        this.shuttingDown = true;
        for (const name of this.programs.keys()) this.endRun(name, 'shutdown');
      },
    };
  }

  /** True when the program's readiness probe has passed in its current run. */
  isReady(name: string): boolean {
    return this.programs.get(name)?.state.ready === true;
  }

  status(): Record<string, ProgramHealthStatus> {
    return Object.fromEntries(this.names.map((name) => [name, this.programStatus(name)!]));
  }

  programStatus(name: string): ProgramHealthStatus | undefined {
    const w = this.programs.get(name);
    if (w) return this.statusOf(w);
    return this.names.includes(name) ? { ...NO_PROBES } : undefined;
  }

  /**
   * For a program with a log readiness probe: a function to call with each line
   * of its output (this run's), else undefined (its output is not looked at).
   */
  lineObserver(plan: ProgramPlan): ((line: string) => void) | undefined {
    const probe = plan.health?.readiness;
    if (!probe || probe.check.kind !== 'log') return undefined;
    const pattern = new RegExp(probe.check.pattern);
    let matched = false;
    return (line) => {
      if (matched || !pattern.test(line)) return;
      const w = this.programs.get(plan.name);
      if (!w?.run || w.run.over || this.now() < w.run.spawnedAt + probe.initialDelayMs) return;
      matched = true;
      w.last = { probe: 'readiness', check: 'log', ok: true, at: new Date(this.now()).toISOString(), duration_ms: 0 };
      const next = logMatched(w.state);
      w.state = next.state;
      this.act(w, 'readiness', next.changes, { ok: true, durationMs: 0 });
    };
  }

  private statusOf(w: Watched): ProgramHealthStatus {
    return { ready: w.state.ready, live: w.state.live, started: w.state.started, ...(w.last ? { last_probe: { ...w.last } } : {}) };
  }

  private beginRun(name: string, pid: number): void {
    const w = this.programs.get(name);
    if (!w || this.shuttingDown) return;
    this.endRun(name, 'respawn');
    w.state = freshState(w.plan.health!);
    w.run = { pid, spawnedAt: this.now(), timers: new Map(), inflight: new Map(), over: false };
    this.schedulePeriodic(w);
  }

  /** Starts the series of every periodic probe that should run now and is not scheduled yet. */
  private schedulePeriodic(w: Watched): void {
    const run = w.run!;
    for (const role of periodicRoles(w.plan.health!, w.state)) {
      if (run.timers.has(role) || run.inflight.has(role)) continue;
      const probe = w.plan.health![role]!;
      this.schedule(w, role, firstDelay(probe.initialDelayMs, run.spawnedAt, this.now()));
    }
  }

  private schedule(w: Watched, role: ProbeRole, ms: number): void {
    const run = w.run!;
    clearTimeout(run.timers.get(role));
    run.timers.set(
      role,
      setTimeout(() => {
        run.timers.delete(role);
        this.probe(w, run, role);
      }, ms),
    );
  }

  private probe(w: Watched, run: Run, role: ProbeRole): void {
    if (run.over || !this.control.isProbeable(w.plan.name)) return;
    const probe: ProbePlan = w.plan.health![role]!;
    if (probe.check.kind === 'log') return;
    const check = runCheck(probe.check, w.plan, probe.timeoutMs, this.now);
    run.inflight.set(role, check);
    void check.result.then((result) => {
      run.inflight.delete(role);
      // A stop, an exit or a shutdown came while it ran: its answer no longer matters.
      if (run.over || w.run !== run || !this.control.isProbeable(w.plan.name)) return;
      w.last = {
        probe: role,
        check: probe.check.kind,
        ok: result.ok,
        at: new Date(this.now()).toISOString(),
        duration_ms: result.durationMs,
        ...(result.error ? { error: result.error } : {}),
        ...(result.output ? { output: result.output } : {}),
      };
      const next = applyResult(w.state, role, probe, result.ok);
      w.state = next.state;
      this.act(w, role, next.changes, result);
      if (!run.over && periodicRoles(w.plan.health!, w.state).includes(role)) this.schedule(w, role, nextDelay(probe.periodMs, result.durationMs));
    });
  }

  private act(w: Watched, role: ProbeRole, changes: Change[], result: ProbeResult): void {
    const name = w.plan.name;
    const run = w.run!;
    const check = w.plan.health![role]!.check.kind;
    const why = { ...(result.error ? { error: result.error } : {}), ...(result.output ? { output: result.output } : {}) };
    for (const change of changes) {
      switch (change.type) {
        case 'started':
          this.schedulePeriodic(w);
          break;
        case 'ready':
          this.events.emit('child.ready', { program: name, pid: run.pid, check }, `${name} is ready`);
          this.control.readinessChanged(name);
          break;
        case 'not_ready':
          this.events.emit('child.not_ready', { program: name, pid: run.pid, check, reason: 'probe_failed', failures: change.failures, ...why }, `${name} is not ready`);
          this.control.readinessChanged(name);
          break;
        case 'unhealthy':
          this.events.emit(
            'child.unhealthy',
            { program: name, pid: run.pid, probe: change.role, check, failures: change.failures, ...why },
            `${name} failed its ${change.role} probe ${change.failures} time${change.failures === 1 ? '' : 's'}: restarting it`,
          );
          this.endRun(name, 'unhealthy');
          this.control.restartUnhealthy(name, 'unhealthy');
          return;
      }
    }
  }

  /** The run is over (or is being stopped): no more probes, cancel those under way, and it is no longer ready. */
  private endRun(name: string, why: 'exited' | 'stopping' | 'shutdown' | 'respawn' | 'unhealthy'): void {
    const w = this.programs.get(name);
    const run = w?.run;
    if (!w || !run || run.over) return;
    run.over = true;
    for (const timer of run.timers.values()) clearTimeout(timer);
    run.timers.clear();
    for (const check of run.inflight.values()) check.cancel();
    const wasReady = w.state.ready === true;
    w.state = downState(w.plan.health);
    // A shutdown takes every program down on purpose: no line per program for that.
    if (wasReady && why !== 'shutdown') {
      this.events.emit('child.not_ready', { program: name, pid: run.pid, reason: why }, `${name} is not ready (${why})`);
      this.control.readinessChanged(name);
    }
  }
}
