// The control plane: builds the status snapshot from the supervisor's narrow
// read interface, opens the control socket (src/control/server.ts) and, when
// `http.listen` is set, the read-only HTTP listener (src/observe/, imported
// only then). With neither, it starts nothing: no listener, no timer.
import type { SupervisorPlan } from '../plan/types.js';
import type { EventSink } from '../logging/events.js';
import type { ControlResult, ProgramView } from '../supervision/supervisor.js';
import { normaliseSignal } from '../config/signals.js';
import type { EventCounters } from '../observe/counters.js';
import { buildStatus, runCheck, type MemoryView, type ReadinessSource, type SupervisorStatus } from './status.js';
import { LAG_THRESHOLD_MS, measureLagOnce, startLoopLag, type LoopLag } from './loop-lag.js';
import { missingDefaultSocket, serverSocketPath } from './socket-path.js';
import { startControlServer } from './server.js';

/** What the control plane may see and ask of the supervisor. */
export interface SupervisorControl {
  programViews(): ProgramView[];
  isShuttingDown(): boolean;
  startProgram(name: string): ControlResult;
  stopProgram(name: string): ControlResult;
  restartProgram(name: string): ControlResult;
  signalProgram(name: string, signal: NodeJS.Signals): ControlResult;
}

export interface ControlPlaneDeps {
  plan: SupervisorPlan;
  supervisor: SupervisorControl;
  readiness: ReadinessSource;
  memory(program: string): MemoryView | undefined;
  events: EventSink;
  /** Present when the HTTP listener is on (it feeds /metrics). */
  counters?: EventCounters;
  droppedLogLines(): number;
  version: string;
  pid1: boolean;
  env: NodeJS.ProcessEnv;
}

export interface ControlPlane {
  /** Closes the listeners and removes the socket file. */
  close(): void;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function startControlPlane(d: ControlPlaneDeps): ControlPlane {
  const where = { pid1: d.pid1, singleCommand: d.plan.singleCommand };
  const socketPath = serverSocketPath(d.plan.controlSocket, d.env, where);
  const missing = socketPath === null ? missingDefaultSocket(d.plan.controlSocket, d.env, where) : null;
  // Information, not a warning: the control commands are optional; say how to get them.
  if (missing !== null)
    d.events.emit('control.unavailable', { reason: 'no_writable_default', detail: missing }, `no control socket: ${missing}; set SUPERVISOR_SOCKET (or control.socket) to a writable place for supervisor status|probe`);
  if (socketPath === null && !d.plan.http) return { close() {} };

  const startedAt = Date.now();
  const lag: LoopLag | undefined = d.plan.http ? startLoopLag() : undefined;
  const status = (lagMs = lag?.lagMs() ?? 0): SupervisorStatus =>
    buildStatus(d.supervisor.programViews(), d.readiness, d.memory, {
      pid: process.pid,
      version: d.version,
      startedAt,
      now: Date.now(),
      shuttingDown: d.supervisor.isShuttingDown(),
      lagMs,
    });
  const closers: Array<() => void> = [() => lag?.stop()];
  let closed = false;

  if (socketPath !== null) {
    void startControlServer(socketPath, {
      status: () => status(),
      async check(name) {
        const lagMs = lag?.lagMs() ?? (await measureLagOnce());
        return runCheck(name, status(lagMs), { lagMs, thresholdMs: LAG_THRESHOLD_MS });
      },
      start: (p) => d.supervisor.startProgram(p),
      stop: (p) => d.supervisor.stopProgram(p),
      restart: (p) => d.supervisor.restartProgram(p),
      signal(p, sig) {
        const name = normaliseSignal(sig);
        return name ? d.supervisor.signalProgram(p, name) : { ok: false, message: `unknown signal ${JSON.stringify(sig)}` };
      },
      requested(req, result) {
        d.events.emit(
          'control.request',
          { command: req.cmd, ...('program' in req ? { program: req.program } : {}), ...('signal' in req ? { signal: req.signal } : {}), ok: result.ok },
          `control: ${req.cmd}${'program' in req ? ` ${req.program}` : ''}: ${result.message}`,
        );
      },
    }).then(
      (server) => {
        if ('error' in server) {
          d.events.emit('supervisor.warning', { reason: 'control_socket_unavailable', error: server.error }, `no control socket: ${server.error}`);
          return;
        }
        if (closed) return server.close();
        closers.push(() => server.close());
        d.events.emit('control.listening', { socket: server.path }, `control socket ${server.path}`);
      },
      (e: unknown) => d.events.emit('supervisor.error', { error: message(e) }, 'the control socket failed to start'),
    );
  }

  if (d.plan.http) {
    const listen = d.plan.http;
    const counters = d.counters;
    void import('../observe/http.js')
      .then(({ startHttp }) =>
        startHttp(listen, {
          status: () => status(),
          loop: () => ({ lagMs: lag?.lagMs() ?? 0, thresholdMs: LAG_THRESHOLD_MS }),
          counters: counters!,
          droppedLogLines: d.droppedLogLines,
          lagMs: () => lag?.lagMs() ?? 0,
        }),
      )
      .then(
        (http) => {
          if (closed) return http.close();
          closers.push(() => http.close());
          d.events.emit('control.listening', { http: http.address }, `HTTP listener on ${http.address}`);
        },
        (e: unknown) => d.events.emit('supervisor.error', { error: message(e), listen: `${listen.host}:${listen.port}` }, `the HTTP listener failed to start: ${message(e)}`),
      );
  }

  return {
    close() {
      closed = true;
      for (const c of closers.splice(0)) c();
    },
  };
}
