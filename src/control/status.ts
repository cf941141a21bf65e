// The status of a running supervisor, and the three Kubernetes-style checks
// (live, ready, startup) made from it. Pure: the control socket, the HTTP
// listener and the metrics all read the same snapshot, built here from the
// supervisor's read-only ProgramView list, a ReadinessSource and the memory
// manager's last samples. Nothing here can change the supervisor's state.
import type { ProgramView } from '../supervision/supervisor.js';

/**
 * Per-program health as the probes see it (src/health/'s monitor): null means
 * "no such probe", and then the program's phase decides. Without any probe
 * configured, `phaseReadiness` stands in.
 */
export interface ProgramHealth {
  ready: boolean | null;
  live: boolean | null;
  started: boolean | null;
}

export interface ReadinessSource {
  /** The program's probe results now; undefined = no probes at all (same as all null). */
  healthOf(program: string): ProgramHealth | undefined;
}

/** No probes: every answer comes from the lifecycle phase. */
export const phaseReadiness: ReadinessSource = { healthOf: () => undefined };

export interface MemoryView {
  usedBytes?: number;
  capBytes?: number;
}

export interface ProgramStatus {
  name: string;
  phase: ProgramView['phase'];
  pid: number | null;
  restarts: number;
  critical: boolean;
  /** Probe-or-phase verdicts (see programReady / programLive / programStarted). */
  ready: boolean;
  live: boolean;
  started: boolean;
  /** The probes' own results (null: no such probe). */
  probes: ProgramHealth;
  held: boolean;
  blocked: boolean;
  uptime_ms: number | null;
  memory: { used_bytes: number | null; cap_bytes: number | null };
  last_exit: { code: number | null; signal: string | null; status: number; uptime_ms: number } | null;
}

export interface LoopHealth {
  /** The event loop's worst lag over the recent window, ms. */
  lagMs: number;
  /** /livez fails at or above this lag. */
  thresholdMs: number;
}

export interface SupervisorStatus {
  pid: number;
  version: string;
  uptime_ms: number;
  shutting_down: boolean;
  event_loop_lag_ms: number;
  programs: ProgramStatus[];
}

export interface CheckResult {
  ok: boolean;
  /** One line: what passed, or what failed. */
  reason: string;
}

const NO_PROBES: ProgramHealth = { ready: null, live: null, started: null };

/**
 * A program is ready when its readiness probe says so, else when it is running (past
 * start_secs) and not being stopped. One that completed successfully (exited 0 for
 * good, like an init job) is ready too: a finished job must not hold the pod unready.
 */
export function programReady(v: ProgramView, h: ProgramHealth): boolean {
  if (v.phase === 'exited' && !v.held && v.lastExit?.status === 0) return true;
  if (v.phase !== 'running' || v.stopping) return false;
  return h.ready ?? true;
}

/** Started: past its startup probe, else past start_secs once (running now, or it ran and ended). */
export function programStarted(v: ProgramView, h: ProgramHealth): boolean {
  if (h.started !== null) return h.started;
  return v.phase === 'running' || v.phase === 'stopping' || v.phase === 'exited' || (v.phase === 'backoff' && v.restarts > 0) || v.held;
}

/** Live: not failing its liveness probe. A program between runs is not dead: the supervisor is on it. */
export function programLive(_v: ProgramView, h: ProgramHealth): boolean {
  return h.live ?? true;
}

export function buildStatus(
  views: readonly ProgramView[],
  health: ReadinessSource,
  memory: (name: string) => MemoryView | undefined,
  self: { pid: number; version: string; startedAt: number; now: number; shuttingDown: boolean; lagMs: number },
): SupervisorStatus {
  return {
    pid: self.pid,
    version: self.version,
    uptime_ms: self.now - self.startedAt,
    shutting_down: self.shuttingDown,
    event_loop_lag_ms: Math.round(self.lagMs * 10) / 10,
    programs: views.map((v) => {
      const h = health.healthOf(v.name) ?? NO_PROBES;
      const m = memory(v.name);
      return {
        name: v.name,
        phase: v.phase,
        pid: v.pid ?? null,
        restarts: v.restarts,
        critical: v.critical,
        ready: programReady(v, h),
        live: programLive(v, h),
        started: programStarted(v, h),
        probes: { ...h },
        held: v.held,
        blocked: v.blocked,
        uptime_ms: v.startedAt !== undefined && v.pid !== undefined ? self.now - v.startedAt : null,
        memory: { used_bytes: m?.usedBytes ?? null, cap_bytes: m?.capBytes ?? null },
        last_exit: v.lastExit ? { code: v.lastExit.code, signal: v.lastExit.signal, status: v.lastExit.status, uptime_ms: v.lastExit.uptimeMs } : null,
      };
    }),
  };
}

/** The programs /readyz waits for: the critical ones, or all when none is critical. */
export function gatedPrograms(s: SupervisorStatus): ProgramStatus[] {
  const critical = s.programs.filter((p) => p.critical);
  return critical.length > 0 ? critical : s.programs;
}

function describe(p: ProgramStatus): string {
  if (p.held) return `${p.name} stopped by the operator`;
  if (p.blocked) return `${p.name} blocked (a dependency failed)`;
  if (p.phase === 'running' && p.probes.ready === false) return `${p.name} failing its readiness probe`;
  if (p.phase === 'exited' || p.phase === 'fatal') return `${p.name} ${p.phase}${p.last_exit ? ` (status ${p.last_exit.status})` : ''}`;
  return `${p.name} ${p.phase}`;
}

/** /readyz: every gated program is ready, and no shutdown is under way. */
export function checkReady(s: SupervisorStatus): CheckResult {
  if (s.shutting_down) return { ok: false, reason: 'not ready: the supervisor is shutting down' };
  const gated = gatedPrograms(s);
  const notReady = gated.filter((p) => !p.ready);
  if (notReady.length > 0) return { ok: false, reason: `not ready: ${notReady.map(describe).join(', ')}` };
  return { ok: true, reason: `ready: ${gated.map((p) => p.name).join(', ')}` };
}

/**
 * /livez: the supervisor's loop answers without a long lag. A program failing
 * its own liveness probe is the supervisor's to restart, not a reason for the
 * kubelet to restart the whole container, so it does not fail this check.
 */
export function checkLive(_s: SupervisorStatus, loop: LoopHealth): CheckResult {
  if (loop.lagMs >= loop.thresholdMs) return { ok: false, reason: `not live: event-loop lag ${Math.round(loop.lagMs)} ms (threshold ${loop.thresholdMs} ms)` };
  return { ok: true, reason: `live: event-loop lag ${Math.round(loop.lagMs)} ms` };
}

/** /startupz: every gated program has started once (past start_secs, or its startup probe). */
export function checkStartup(s: SupervisorStatus): CheckResult {
  const gated = gatedPrograms(s);
  const waiting = gated.filter((p) => !p.started);
  if (waiting.length > 0) return { ok: false, reason: `not started: ${waiting.map(describe).join(', ')}` };
  return { ok: true, reason: `started: ${gated.map((p) => p.name).join(', ')}` };
}

export type CheckName = 'live' | 'ready' | 'startup';

export function runCheck(name: CheckName, s: SupervisorStatus, loop: LoopHealth): CheckResult {
  return name === 'live' ? checkLive(s, loop) : name === 'ready' ? checkReady(s) : checkStartup(s);
}
