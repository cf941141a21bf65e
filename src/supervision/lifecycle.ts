// The lifecycle of one program as an explicit state machine, pure:
// (state, input, plan, now) → (next state, effects, events). The supervisor
// feeds it what happened (spawned, exited, a timer fired, a stop was asked)
// and carries out the effects (spawn, signal, timers); nothing here touches
// the OS, so every rule is unit-tested.
//
//   stopped ──start──▶ starting ──start_secs──▶ running
//      │                │  ▲                       │
//      │        exit/fail  └──backoff elapsed──┐   │ exit
//      │                ▼                      │   ▼
//      │             (restart?) ──yes──▶ backoff ◀─┘
//      │                │ no    └─crash loop──▶ fatal
//      ▼                ▼
//   exited ◀──────── exited        running/starting ──stop──▶ stopping ──exit──▶ exited | backoff
//
// Leftovers (plan.leftovers = stop, like systemd's KillMode=control-group): when a
// run ends outside a shutdown, what it left behind gets the stop signal, SIGKILL
// after stop_grace, and the next run starts only once they are gone (backoff
// elapsed and `leftovers_gone`, in either order).
import type { ProgramPlan } from '../plan/types.js';
import { exitCodeForSignal } from '../process/signals.js';
import { backoffDelay, isCrashLoop, recentRestarts } from './backoff.js';

export type Phase = 'stopped' | 'starting' | 'running' | 'backoff' | 'stopping' | 'exited' | 'fatal';

/** Why a program is being stopped. `restart: true` stops count as a failed run (memory caps use this). */
export interface StopIntent {
  reason: string;
  restart: boolean;
  /** Send this instead of the program's stop_signal (single-command mode relays the signal received). */
  signal?: NodeJS.Signals;
  /** Use this grace instead of the program's stop_grace (a memory stop is short). */
  graceMs?: number;
  /** The program turns fatal once this run has ended (memory.oom_loop uses this). */
  giveUp?: boolean;
  /** Part of the supervisor's shutdown, which stops every leftover process itself. */
  shutdown?: boolean;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** code, or 128+signal: what a shell (and Kubernetes) would report. */
  status: number;
  uptimeMs: number;
}

export interface ProgramState {
  phase: Phase;
  pid?: number;
  /** When the current run was spawned (ms). */
  startedAt?: number;
  /** Restarts so far (not counting the first start). */
  restarts: number;
  /** Times of the restarts inside the crash-loop window. */
  restartTimes: number[];
  /** Backoff delay for the next restart. */
  nextDelayMs: number;
  stopIntent?: StopIntent;
  lastExit?: ExitInfo;
  /** Transient spawn failures (EAGAIN, EMFILE, ENOMEM) of the current start, retried before the restart policy applies. */
  spawnRetries?: number;
  /** The backoff under way is a spawn retry (not a restart). */
  retryingSpawn?: boolean;
  /** The last run's leftovers are being stopped; no new run until they are gone. */
  awaitingLeftovers?: boolean;
  /** The next run is due (the backoff elapsed, or a start was asked) while leftovers are still there: it starts as soon as they are gone. */
  restartDue?: boolean;
}

/**
 * Transient spawn failures are retried after 100 ms, 200 ms, ... 3.2 s (6 tries, ~6 s
 * in all) whatever the restart policy — `restart: never` and single-command mode too,
 * since the program never ran. They do not count as restarts. Past the last retry the
 * failure is an ordinary failed run.
 */
export const SPAWN_RETRY = { attempts: 6, initialMs: 100, factor: 2 } as const;

export type LifecycleInput =
  | { type: 'start' }
  | { type: 'spawned'; pid: number }
  | { type: 'spawn_failed'; exitCode: number; code: string; message: string; transient?: boolean }
  | { type: 'start_secs_elapsed' }
  | { type: 'exited'; code: number | null; signal: NodeJS.Signals | null }
  | { type: 'backoff_elapsed' }
  | { type: 'stop'; intent: StopIntent }
  | { type: 'grace_elapsed' }
  | { type: 'kill'; reason: string }
  | { type: 'leftovers_grace_elapsed' }
  /** Nothing the last run left is alive any more (also when it left nothing). */
  | { type: 'leftovers_gone' }
  /** An ended program (exited or fatal) may start again: asked by the operator (`supervisor start`). */
  | { type: 'revive' };

export type TimerName = 'start_secs' | 'backoff' | 'grace' | 'leftovers_grace';

export type Effect =
  | { type: 'spawn' }
  | { type: 'signal'; signal: NodeJS.Signals }
  | { type: 'set_timer'; timer: TimerName; ms: number }
  | { type: 'clear_timers' }
  /** Signal every process the ended run left behind, then report `leftovers_gone` once none is alive. */
  | { type: 'signal_leftovers'; signal: NodeJS.Signals }
  /** The program will not run again: the supervisor applies on_exit / on_fatal. */
  | { type: 'ended'; how: 'exited' | 'fatal' | 'stopped' };

/** A fact worth a log line; the supervisor adds program name and pid. */
export interface LifecycleEvent {
  event: 'child.spawn' | 'child.spawn_failed' | 'child.running' | 'child.exit' | 'child.backoff' | 'child.restart' | 'child.fatal' | 'child.stop' | 'child.kill';
  fields: Record<string, unknown>;
  msg: string;
}

export interface Transition {
  state: ProgramState;
  effects: Effect[];
  events: LifecycleEvent[];
}

export const ALIVE_PHASES: ReadonlySet<Phase> = new Set(['starting', 'running', 'stopping']);

export function initialState(plan: ProgramPlan): ProgramState {
  return { phase: 'stopped', restarts: 0, restartTimes: [], nextDelayMs: plan.backoff.initialMs };
}

export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal) return exitCodeForSignal(signal);
  return code ?? 0;
}

function giveUpEvent(plan: ProgramPlan, state: ProgramState, intent: StopIntent): LifecycleEvent {
  return { event: 'child.fatal', fields: { restarts: state.restarts, reason: intent.reason }, msg: `${plan.name}: giving up (${intent.reason})` };
}

/**
 * The stop signal, then SIGCONT (as systemd and runit do): a program that was
 * stopped (SIGSTOP, a debugger, a job-control stop) wakes up and handles its
 * stop signal itself instead of waiting for SIGKILL; a running one just sees a
 * SIGCONT. A relayed signal (single-command mode) goes alone, as tini and
 * dumb-init relay it.
 */
export function stopSignalEffects(signal: NodeJS.Signals, relayed: boolean): Effect[] {
  const effects: Effect[] = [{ type: 'signal', signal }];
  if (!relayed && followedBySigcont(signal)) effects.push({ type: 'signal', signal: 'SIGCONT' });
  return effects;
}

/** Whether a stop signal is followed by SIGCONT (all but SIGCONT itself, SIGKILL and SIGSTOP): a program's and its leftovers'. */
export function followedBySigcont(signal: NodeJS.Signals): boolean {
  return signal !== 'SIGCONT' && signal !== 'SIGKILL' && signal !== 'SIGSTOP';
}

function same(state: ProgramState): Transition {
  return { state, effects: [], events: [] };
}

/** A run ended outside a shutdown: its leftovers get the stop signal now and SIGKILL after stop_grace. */
function stopLeftovers(plan: ProgramPlan, t: Transition): Transition {
  if (plan.leftovers === 'keep') return t;
  return {
    state: { ...t.state, awaitingLeftovers: true, restartDue: false },
    effects: [...t.effects, { type: 'signal_leftovers', signal: plan.stopSignal }, { type: 'set_timer', timer: 'leftovers_grace', ms: plan.stopGraceMs }],
    events: t.events,
  };
}

function restartNow(state: ProgramState, plan: ProgramPlan): Transition {
  return {
    state: { ...state, phase: 'starting', restarts: state.restarts + 1, restartDue: false },
    effects: [{ type: 'spawn' }],
    events: [{ event: 'child.restart', fields: { restarts: state.restarts + 1 }, msg: `restarting ${plan.name}` }],
  };
}

/**
 * A run ended (exit or failed spawn) without a shutdown asking for it:
 * restart per policy with backoff, or turn fatal on a crash loop, or end.
 */
function afterRun(state: ProgramState, plan: ProgramPlan, exit: ExitInfo, failed: boolean, now: number, events: LifecycleEvent[]): Transition {
  return stopLeftovers(plan, nextRun(state, plan, exit, failed, now, events));
}

function nextRun(state: ProgramState, plan: ProgramPlan, exit: ExitInfo, failed: boolean, now: number, events: LifecycleEvent[]): Transition {
  const base: ProgramState = { ...state, pid: undefined, startedAt: undefined, stopIntent: undefined, lastExit: exit };
  const restart = plan.restart === 'always' || (plan.restart === 'on-failure' && failed);
  if (!restart) {
    return { state: { ...base, phase: 'exited' }, effects: [{ type: 'clear_timers' }, { type: 'ended', how: 'exited' }], events };
  }
  const recent = recentRestarts(state.restartTimes, plan.crashLoop, now);
  if (isCrashLoop(recent, plan.crashLoop)) {
    events.push({
      event: 'child.fatal',
      fields: { restarts: state.restarts, max_restarts: plan.crashLoop.maxRestarts, window_ms: plan.crashLoop.windowMs, last_status: exit.status },
      msg: `${plan.name} restarted ${recent.length} time${recent.length === 1 ? '' : 's'} in ${plan.crashLoop.windowMs} ms: giving up`,
    });
    return { state: { ...base, phase: 'fatal', restartTimes: recent }, effects: [{ type: 'clear_timers' }, { type: 'ended', how: 'fatal' }], events };
  }
  const { delayMs, nextDelayMs } = backoffDelay(plan.backoff, state.nextDelayMs, exit.uptimeMs);
  events.push({
    event: 'child.backoff',
    fields: { delay_ms: delayMs, restarts: state.restarts, recent_restarts: recent.length + 1, last_status: exit.status },
    msg: `${plan.name} restarts in ${delayMs} ms`,
  });
  return {
    state: { ...base, phase: 'backoff', restartTimes: [...recent, now], nextDelayMs },
    effects: [{ type: 'clear_timers' }, { type: 'set_timer', timer: 'backoff', ms: delayMs }],
    events,
  };
}

export function transition(state: ProgramState, input: LifecycleInput, plan: ProgramPlan, now: number): Transition {
  switch (input.type) {
    case 'start':
      if (state.phase !== 'stopped') return same(state);
      if (state.awaitingLeftovers) return same({ ...state, restartDue: true });
      return { state: { ...state, phase: 'starting' }, effects: [{ type: 'spawn' }], events: [] };

    case 'backoff_elapsed':
      if (state.phase !== 'backoff') return same(state);
      if (state.retryingSpawn) {
        return { state: { ...state, phase: 'starting', retryingSpawn: false }, effects: [{ type: 'spawn' }], events: [] };
      }
      if (state.awaitingLeftovers) return same({ ...state, restartDue: true });
      return restartNow(state, plan);

    case 'leftovers_gone': {
      if (!state.awaitingLeftovers) return same(state);
      const cleared: ProgramState = { ...state, awaitingLeftovers: false };
      if (state.phase === 'backoff' && state.restartDue) return restartNow(cleared, plan);
      if (state.phase === 'stopped' && state.restartDue) return { state: { ...cleared, phase: 'starting', restartDue: false }, effects: [{ type: 'spawn' }], events: [] };
      return same({ ...cleared, restartDue: false });
    }

    case 'leftovers_grace_elapsed':
      if (!state.awaitingLeftovers) return same(state);
      return { state, effects: [{ type: 'signal_leftovers', signal: 'SIGKILL' }], events: [] };

    case 'spawned': {
      if (state.phase !== 'starting') return same(state);
      const events: LifecycleEvent[] = [
        { event: 'child.spawn', fields: { pid: input.pid, restarts: state.restarts }, msg: `started ${plan.name}` },
      ];
      const next: ProgramState = { ...state, pid: input.pid, startedAt: now, spawnRetries: 0 };
      if (plan.startSecsMs <= 0) {
        events.push({ event: 'child.running', fields: { pid: input.pid }, msg: `${plan.name} is running` });
        return { state: { ...next, phase: 'running' }, effects: [], events };
      }
      return { state: next, effects: [{ type: 'set_timer', timer: 'start_secs', ms: plan.startSecsMs }], events };
    }

    case 'start_secs_elapsed':
      if (state.phase !== 'starting') return same(state);
      return {
        state: { ...state, phase: 'running' },
        effects: [],
        events: [{ event: 'child.running', fields: { pid: state.pid, start_secs_ms: plan.startSecsMs }, msg: `${plan.name} is running` }],
      };

    case 'spawn_failed': {
      if (state.phase !== 'starting' && state.phase !== 'stopping') return same(state);
      const exit: ExitInfo = { code: input.exitCode, signal: null, status: input.exitCode, uptimeMs: 0 };
      const fields = { error: input.code, exit_code: input.exitCode, reason: input.message };
      const retries = state.spawnRetries ?? 0;
      if (input.transient === true && state.stopIntent === undefined && retries < SPAWN_RETRY.attempts) {
        const delayMs = SPAWN_RETRY.initialMs * SPAWN_RETRY.factor ** retries;
        return {
          state: { ...state, phase: 'backoff', pid: undefined, spawnRetries: retries + 1, retryingSpawn: true },
          effects: [{ type: 'clear_timers' }, { type: 'set_timer', timer: 'backoff', ms: delayMs }],
          events: [
            {
              event: 'child.spawn_failed',
              fields: { ...fields, retry: retries + 1, retry_in_ms: delayMs },
              msg: `${input.message} (retry ${retries + 1} of ${SPAWN_RETRY.attempts} in ${delayMs} ms)`,
            },
          ],
        };
      }
      state = { ...state, spawnRetries: 0, retryingSpawn: false };
      const events: LifecycleEvent[] = [{ event: 'child.spawn_failed', fields, msg: input.message }];
      if (state.stopIntent && !state.stopIntent.restart) {
        return { state: { ...state, phase: 'exited', pid: undefined, stopIntent: undefined, lastExit: exit }, effects: [{ type: 'clear_timers' }, { type: 'ended', how: 'stopped' }], events };
      }
      // Nothing ran, so nothing was left behind: no leftovers to wait for.
      return nextRun(state, plan, exit, true, now, events);
    }

    case 'exited': {
      if (!ALIVE_PHASES.has(state.phase)) return same(state);
      const uptimeMs = state.startedAt === undefined ? 0 : now - state.startedAt;
      const exit: ExitInfo = { code: input.code, signal: input.signal, status: exitStatus(input.code, input.signal), uptimeMs };
      const intent = state.stopIntent;
      const events: LifecycleEvent[] = [
        {
          event: 'child.exit',
          fields: {
            pid: state.pid,
            code: input.code,
            signal: input.signal,
            status: exit.status,
            uptime_ms: uptimeMs,
            expected: intent !== undefined,
            ...(intent ? { stop_reason: intent.reason } : {}),
          },
          msg: `${plan.name} exited with ${input.signal ?? `code ${input.code}`}`,
        },
      ];
      if (intent?.giveUp) {
        events.push(giveUpEvent(plan, state, intent));
        return stopLeftovers(plan, {
          state: { ...state, phase: 'fatal', pid: undefined, startedAt: undefined, stopIntent: undefined, lastExit: exit },
          effects: [{ type: 'clear_timers' }, { type: 'ended', how: 'fatal' }],
          events,
        });
      }
      if (intent && !intent.restart) {
        const stopped: Transition = {
          state: { ...state, phase: 'exited', pid: undefined, startedAt: undefined, stopIntent: undefined, lastExit: exit },
          effects: [{ type: 'clear_timers' }, { type: 'ended', how: 'stopped' }],
          events,
        };
        // An operator's stop ends the whole run; a shutdown stops what is left itself.
        return intent.shutdown ? stopped : stopLeftovers(plan, stopped);
      }
      const failed = intent !== undefined || exit.status !== 0;
      return afterRun(state, plan, exit, failed, now, events);
    }

    case 'stop': {
      if (state.phase === 'stopped' || state.phase === 'backoff') {
        if (input.intent.restart) return same(state);
        if (input.intent.giveUp) {
          return {
            state: { ...state, phase: 'fatal', stopIntent: undefined },
            effects: [{ type: 'clear_timers' }, { type: 'ended', how: 'fatal' }],
            events: [giveUpEvent(plan, state, input.intent)],
          };
        }
        return { state: { ...state, phase: 'exited', stopIntent: undefined }, effects: [{ type: 'clear_timers' }, { type: 'ended', how: 'stopped' }], events: [] };
      }
      if (state.phase !== 'starting' && state.phase !== 'running') {
        // Already stopping: a shutdown overrides a pending restart-stop.
        if (state.phase === 'stopping' && state.stopIntent?.restart && !input.intent.restart) {
          return same({ ...state, stopIntent: input.intent });
        }
        return same(state);
      }
      const signal = input.intent.signal ?? plan.stopSignal;
      const graceMs = input.intent.graceMs ?? plan.stopGraceMs;
      return {
        state: { ...state, phase: 'stopping', stopIntent: input.intent },
        effects: [{ type: 'clear_timers' }, ...stopSignalEffects(signal, input.intent.signal !== undefined), { type: 'set_timer', timer: 'grace', ms: graceMs }],
        events: [
          { event: 'child.stop', fields: { pid: state.pid, signal, reason: input.intent.reason, grace_ms: graceMs }, msg: `stopping ${plan.name} with ${signal}` },
        ],
      };
    }

    case 'grace_elapsed':
      if (state.phase !== 'stopping') return same(state);
      return {
        state,
        effects: [{ type: 'signal', signal: 'SIGKILL' }],
        events: [{ event: 'child.kill', fields: { pid: state.pid, reason: 'stop_grace_expired' }, msg: `${plan.name} still running after its stop grace: SIGKILL` }],
      };

    case 'revive':
      if (state.phase !== 'exited' && state.phase !== 'fatal') return same(state);
      // A fresh crash-loop window and backoff; restarts keep counting.
      return { state: { ...state, phase: 'stopped', restartTimes: [], nextDelayMs: plan.backoff.initialMs, stopIntent: undefined }, effects: [], events: [] };

    case 'kill':
      if (!ALIVE_PHASES.has(state.phase)) return same(state);
      return {
        // A kill is final: whatever stop was under way, this run does not restart.
        state: {
          ...state,
          phase: 'stopping',
          stopIntent: state.stopIntent && !state.stopIntent.restart ? state.stopIntent : { reason: input.reason, restart: false },
        },
        effects: [{ type: 'signal', signal: 'SIGKILL' }],
        events: [{ event: 'child.kill', fields: { pid: state.pid, reason: input.reason }, msg: `SIGKILL to ${plan.name} (${input.reason})` }],
      };
  }
}
