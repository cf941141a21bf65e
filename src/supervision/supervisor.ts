// The supervisor: runs a plan. It owns one lifecycle state machine per program,
// feeds it inputs one at a time through a single queue (tini's "one loop", in
// event-loop form), carries out the effects (spawn, signal, timers), starts
// programs when their dependencies are up, and runs the shutdown: dependents
// first, then every leftover descendant, then exit with the documented code.
import type { ProgramPlan, SupervisorPlan } from '../plan/types.js';
import type { EventSink } from '../logging/events.js';
import type { ChildExit, ChildHandle, OutputSinks, SpawnCallbacks } from '../process/spawn.js';
import { ALIVE_PHASES, followedBySigcont, initialState, transition, type LifecycleInput, type Phase, type ProgramState, type TimerName } from './lifecycle.js';
import { conditionFailed, conditionMet, type DependencyView } from './dependency.js';
import { decideExitCode, type ShutdownCause } from './exit-code.js';
import type { KillRoundResult } from '../process/kill-tree.js';
import { runFinalKill, type FinalKillHandle } from './shutdown-kill.js';

export interface ProcessOps {
  spawn(plan: ProgramPlan, sinks: OutputSinks, cb: SpawnCallbacks): ChildHandle | undefined;
  /** Every process below the supervisor. */
  descendants(): number[];
  /** kill(2); false when the process is gone. */
  kill(pid: number, signal: NodeJS.Signals): boolean;
  /** One round of the final kill: SIGSTOP sweeps over every descendant until all are stopped, then SIGKILL (src/process/kill-tree.ts). */
  killRound(): KillRoundResult;
  /** SIGKILL each program's cgroup leaf at once (cgroup v2 cgroup.kill); the leaves killed. */
  killCgroups?(): string[];
  /** Ask the orphan reaper for a sweep. */
  reapNow(): void;
  /** The processes a program's ended runs left behind that are alive now (process/ownership.ts); absent: none known. */
  leftovers?(program: string): number[];
}

/**
 * Observers of a program's processes, called at the edges of a spawn and an
 * exit (the memory manager: cgroup leaf and oom_score_adj around the fork, OOM
 * evidence before the exit is handled). A hook's error is logged, never fatal.
 */
export interface SupervisorHooks {
  beforeSpawn?(plan: ProgramPlan): void;
  afterSpawn?(plan: ProgramPlan, pid: number | undefined): void;
  /** The child exited; called before the lifecycle handles the exit. `stopping`: the supervisor had asked it to stop. */
  childExited?(plan: ProgramPlan, pid: number, exit: ChildExit, stopping: boolean): void;
  /** The program will not run again. */
  programEnded?(plan: ProgramPlan): void;
  /** The program's lifecycle phase changed (the health monitor stops probing a program being stopped). */
  phaseChanged?(plan: ProgramPlan, phase: Phase): void;
  /** A shutdown began: nothing may be restarted or probed any more. */
  shutdownBegan?(): void;
  /** Everything is gone; the supervisor exits with `code` right after. */
  finished?(code: number): void;
}

export interface SupervisorDeps {
  events: EventSink;
  hooks?: SupervisorHooks;
  /** Whether a program's readiness probe has passed (depends_on condition `healthy`); absent: never. */
  isReady?(name: string): boolean;
  sinks: OutputSinks;
  ops: ProcessOps;
  now(): number;
  /** Called once, when everything is gone: flush logs and exit the process. */
  exit(code: number): void;
}

export interface SupervisorOptions {
  /** tini -e: exit codes to report as 0. */
  remapToZero: ReadonlySet<number>;
}

interface Runtime {
  plan: ProgramPlan;
  state: ProgramState;
  child?: ChildHandle;
  timers: Map<TimerName, NodeJS.Timeout>;
  /** A dependency failed for good: this program will never start. */
  blocked: boolean;
  /** Polls until the last run's leftovers are gone. */
  leftoverPoll?: NodeJS.Timeout;
  /** The leftovers told to stop (their stop signal sent) that may still be alive, and when their stop_grace ends. */
  leftoversTold: Set<number>;
  leftoversDeadline?: number;
  /** Stopped by the operator (`supervisor stop`): stays down, and the supervisor stays up, until started again. */
  held: boolean;
  /** `supervisor restart` of a running program: start it again once its stop is over. */
  restartAfterStop: boolean;
}

/** One program as the control plane sees it (src/control/): a read-only copy. */
export interface ProgramView {
  name: string;
  phase: ProgramState['phase'];
  pid?: number;
  restarts: number;
  /** When the current run was spawned (ms since the epoch). */
  startedAt?: number;
  lastExit?: ProgramState['lastExit'];
  /** Will never start: a dependency failed. */
  blocked: boolean;
  /** Stopped by the operator. */
  held: boolean;
  critical: boolean;
  stopping: boolean;
}

/** The answer to an operator's command (`supervisor stop NAME` …): one line for the user. */
export interface ControlResult {
  ok: boolean;
  message: string;
}

interface Shutdown {
  cause: ShutdownCause;
  /** Signal relayed to programs instead of their stop_signal (single-command mode). */
  relaySignal?: NodeJS.Signals;
  startedAt: number;
  forced: boolean;
  leftoversSignaled: boolean;
  /** The final kill loop, once started. */
  finalKill?: FinalKillHandle;
  /** Wakes pumpShutdown when a program's stop deadline (shutdown_timeout − its stop_grace) comes. */
  budgetTimer?: NodeJS.Timeout;
  /** Starts the final kill when the leftovers' grace is over. */
  leftoverTimer?: NodeJS.Timeout;
  /** When a final kill found nothing alive any more (only zombies can be left). */
  allKilledAt?: number;
}

const TIMER_INPUT: Record<TimerName, LifecycleInput> = {
  start_secs: { type: 'start_secs_elapsed' },
  backoff: { type: 'backoff_elapsed' },
  grace: { type: 'grace_elapsed' },
  leftovers_grace: { type: 'leftovers_grace_elapsed' },
};

/** How long leftover descendants get between SIGTERM and SIGKILL at the end of a shutdown. */
export const LEFTOVER_GRACE_MS = 5000;
const DRAIN_POLL_MS = 50;
/** After a final kill left nothing alive: how long the drain waits for the reaper to collect the zombies. */
const ZOMBIE_WAIT_MS = 2000;

export class Supervisor {
  private readonly runtimes: Runtime[];
  private readonly byName = new Map<string, Runtime>();
  private readonly queue: Array<[Runtime, LifecycleInput]> = [];
  private draining = false;
  private shutdown?: Shutdown;
  private lastEnded?: Runtime;
  private exited = false;
  private shutdownTimer?: NodeJS.Timeout;
  private drainTimer?: NodeJS.Timeout;

  constructor(
    private readonly plan: SupervisorPlan,
    private readonly options: SupervisorOptions,
    private readonly deps: SupervisorDeps,
  ) {
    this.runtimes = plan.programs.map((p) => ({ plan: p, state: initialState(p), timers: new Map(), blocked: false, held: false, restartAfterStop: false, leftoversTold: new Set<number>() }));
    for (const rt of this.runtimes) this.byName.set(rt.plan.name, rt);
  }

  /** Program phases, for tests and status. */
  phases(): Record<string, ProgramState['phase']> {
    return Object.fromEntries(this.runtimes.map((rt) => [rt.plan.name, rt.state.phase]));
  }

  start(): void {
    this.pump();
  }

  /**
   * A shutdown signal (SIGTERM/SIGINT): graceful the first time. Again, config
   * mode SIGKILLs everything; single-command mode relays it to the command each
   * time, like tini (the command decides; its stop_grace still ends in SIGKILL),
   * and SIGKILLs only leftovers once the command is gone. Before start(): no
   * program ever starts.
   */
  requestShutdown(signal: NodeJS.Signals): void {
    if (this.shutdown) {
      if (this.plan.singleCommand && this.runtimes.some((rt) => rt.child && ALIVE_PHASES.has(rt.state.phase))) this.forward(signal);
      else this.forceKill(`second ${signal}`);
      return;
    }
    this.beginShutdown({ kind: 'signal', signal }, this.plan.singleCommand ? signal : undefined);
  }

  /** Relays a signal to every running program (to its process group when it has one). */
  forward(signal: NodeJS.Signals): void {
    for (const rt of this.runtimes) {
      if (!rt.child || !ALIVE_PHASES.has(rt.state.phase)) continue;
      const delivered = rt.child.signal(signal, rt.plan.processGroup);
      this.deps.events.emit(
        'signal.forward',
        { program: rt.plan.name, pid: rt.child.pid, signal, group: rt.plan.processGroup, delivered },
        `forwarded ${signal} to ${rt.plan.name}`,
      );
    }
  }

  /** Stops a program and restarts it per policy, as a failed run (memory caps use this). */
  stopForRestart(name: string, reason: string, graceMs?: number): void {
    const rt = this.byName.get(name);
    if (rt && !this.shutdown) this.send(rt, { type: 'stop', intent: { reason, restart: true, graceMs } });
  }

  /** Stops a program for good and turns it fatal (its on_fatal applies); memory.oom_loop uses this. */
  giveUp(name: string, reason: string, graceMs?: number): void {
    const rt = this.byName.get(name);
    if (rt && !this.shutdown) this.send(rt, { type: 'stop', intent: { reason, restart: false, giveUp: true, graceMs } });
  }

  /** True when a memory stop may act on the program: it runs, is not being stopped, and no shutdown is under way. */
  isStoppable(name: string): boolean {
    const phase = this.byName.get(name)?.state.phase;
    return !this.shutdown && (phase === 'starting' || phase === 'running');
  }

  /** Pids of the programs' main processes that are alive now. */
  runningPids(): Map<string, number> {
    const out = new Map<string, number>();
    for (const rt of this.runtimes) if (rt.child && ALIVE_PHASES.has(rt.state.phase)) out.set(rt.plan.name, rt.child.pid);
    return out;
  }

  /** Every program's state now, in start order (status, probes, metrics). */
  programViews(): ProgramView[] {
    return this.runtimes.map((rt) => ({
      name: rt.plan.name,
      phase: rt.state.phase,
      ...(rt.child && ALIVE_PHASES.has(rt.state.phase) ? { pid: rt.child.pid } : {}),
      restarts: rt.state.restarts,
      ...(rt.state.startedAt === undefined ? {} : { startedAt: rt.state.startedAt }),
      ...(rt.state.lastExit ? { lastExit: { ...rt.state.lastExit } } : {}),
      blocked: rt.blocked,
      held: rt.held,
      critical: rt.plan.critical === true,
      stopping: rt.state.phase === 'stopping' || this.shutdown !== undefined,
    }));
  }

  /** True once a shutdown has begun. */
  isShuttingDown(): boolean {
    return this.shutdown !== undefined;
  }

  // ---- operator commands (src/control/): through the same queue as everything else

  private controlTarget(name: string): Runtime | ControlResult {
    const rt = this.byName.get(name);
    if (!rt) return { ok: false, message: `no program named ${JSON.stringify(name)}` };
    if (this.shutdown) return { ok: false, message: 'the supervisor is shutting down' };
    return rt;
  }

  /** `supervisor stop NAME`: stop it for good (no restart, no on_exit) until `start`. */
  stopProgram(name: string): ControlResult {
    const rt = this.controlTarget(name);
    if (!('plan' in rt)) return rt;
    rt.restartAfterStop = false;
    const phase = rt.state.phase;
    if (phase === 'exited' || phase === 'fatal') {
      rt.held = true;
      return { ok: true, message: `${name} is not running` };
    }
    if (phase === 'stopping') {
      rt.held = true;
      return { ok: true, message: `${name} is already stopping` };
    }
    rt.held = true;
    this.send(rt, { type: 'stop', intent: { reason: 'control', restart: false } });
    return { ok: true, message: phase === 'stopped' || phase === 'backoff' ? `${name} will not start` : `stopping ${name}` };
  }

  /** `supervisor start NAME`: start a program that ended or was stopped. */
  startProgram(name: string): ControlResult {
    const rt = this.controlTarget(name);
    if (!('plan' in rt)) return rt;
    const phase = rt.state.phase;
    if (phase === 'stopping') {
      rt.held = false;
      rt.restartAfterStop = true;
      return { ok: true, message: `${name} starts again once stopped` };
    }
    if (phase !== 'exited' && phase !== 'fatal') return { ok: true, message: `${name} is already ${phase === 'stopped' ? 'waiting for its dependencies' : phase}` };
    rt.held = false;
    rt.blocked = false;
    this.send(rt, { type: 'revive' });
    return { ok: true, message: `starting ${name}` };
  }

  /** `supervisor restart NAME`: stop (stop_signal, stop_grace) and start again at once; not a failed run. */
  restartProgram(name: string): ControlResult {
    const rt = this.controlTarget(name);
    if (!('plan' in rt)) return rt;
    const phase = rt.state.phase;
    if (phase === 'exited' || phase === 'fatal' || phase === 'stopping') return this.startProgram(name);
    if (phase === 'stopped') return { ok: true, message: `${name} is waiting for its dependencies` };
    rt.held = false;
    if (phase === 'backoff') {
      clearTimeout(rt.timers.get('backoff'));
      rt.timers.delete('backoff');
      this.send(rt, { type: 'backoff_elapsed' });
      return { ok: true, message: `restarting ${name} now` };
    }
    rt.restartAfterStop = true;
    this.send(rt, { type: 'stop', intent: { reason: 'control_restart', restart: false } });
    return { ok: true, message: `restarting ${name}` };
  }

  /** `supervisor signal NAME SIG`: send a signal to a running program (to its group when it has one). */
  signalProgram(name: string, signal: NodeJS.Signals): ControlResult {
    const rt = this.controlTarget(name);
    if (!('plan' in rt)) return rt;
    if (!rt.child || !ALIVE_PHASES.has(rt.state.phase)) return { ok: false, message: `${name} is not running (${rt.state.phase})` };
    const delivered = rt.child.signal(signal, rt.plan.processGroup);
    this.deps.events.emit('signal.forward', { program: name, pid: rt.child.pid, signal, group: rt.plan.processGroup, delivered, source: 'control' }, `sent ${signal} to ${name}`);
    return delivered ? { ok: true, message: `sent ${signal} to ${name} (pid ${rt.child.pid})` } : { ok: false, message: `${name}: the signal could not be delivered` };
  }

  /** Runs a hook; a failing hook is an internal error to log, not a reason to stop supervising. */
  private hook<K extends keyof SupervisorHooks>(name: K, ...args: Parameters<NonNullable<SupervisorHooks[K]>>): void {
    const fn = this.deps.hooks?.[name] as ((...a: unknown[]) => void) | undefined;
    if (!fn) return;
    try {
      fn.apply(this.deps.hooks, args);
    } catch (e) {
      this.deps.events.emit('supervisor.error', { hook: name, error: e instanceof Error ? e.message : String(e) }, `internal error in ${name}`);
    }
  }

  // ---- the loop ------------------------------------------------------------

  private send(rt: Runtime, input: LifecycleInput): void {
    this.queue.push([rt, input]);
    if (this.draining) return;
    this.draining = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) this.step(next[0], next[1]);
    } finally {
      this.draining = false;
    }
    this.pump();
  }

  private step(rt: Runtime, input: LifecycleInput): void {
    const t = transition(rt.state, input, rt.plan, this.deps.now());
    const before = rt.state.phase;
    rt.state = t.state;
    for (const e of t.events) this.deps.events.emit(e.event, { program: rt.plan.name, ...e.fields }, e.msg);
    if (t.state.phase !== before) this.hook('phaseChanged', rt.plan, t.state.phase);
    for (const effect of t.effects) {
      switch (effect.type) {
        case 'spawn':
          this.spawn(rt);
          break;
        case 'signal':
          rt.child?.signal(effect.signal, rt.plan.processGroup);
          break;
        case 'set_timer': {
          clearTimeout(rt.timers.get(effect.timer));
          const timer = setTimeout(() => {
            rt.timers.delete(effect.timer);
            this.send(rt, TIMER_INPUT[effect.timer]);
          }, effect.ms);
          rt.timers.set(effect.timer, timer);
          break;
        }
        case 'clear_timers':
          // The run's timers; the previous run's leftovers keep their SIGKILL deadline.
          for (const [name, timer] of rt.timers) {
            if (name === 'leftovers_grace') continue;
            clearTimeout(timer);
            rt.timers.delete(name);
          }
          break;
        case 'signal_leftovers':
          this.signalLeftovers(rt, effect.signal);
          break;
        case 'ended':
          rt.child = undefined;
          this.hook('programEnded', rt.plan);
          if (effect.how !== 'stopped') this.onEnded(rt, effect.how);
          else if (rt.restartAfterStop && !this.shutdown) {
            rt.restartAfterStop = false;
            this.queue.push([rt, { type: 'revive' }]);
          }
          break;
      }
    }
  }

  private spawn(rt: Runtime): void {
    let child: ChildHandle | undefined;
    this.hook('beforeSpawn', rt.plan);
    try {
      child = this.deps.ops.spawn(rt.plan, this.deps.sinks, {
        onExit: (exit) => {
          if (child) this.hook('childExited', rt.plan, child.pid, exit, rt.state.phase === 'stopping');
          this.send(rt, { type: 'exited', code: exit.code, signal: exit.signal });
        },
        onSpawnFailed: (f) => this.send(rt, { type: 'spawn_failed', exitCode: f.exitCode, code: f.code, message: f.message, transient: f.transient }),
      });
    } finally {
      this.hook('afterSpawn', rt.plan, child?.pid);
    }
    if (child) {
      rt.child = child;
      this.queue.unshift([rt, { type: 'spawned', pid: child.pid }]);
    }
  }

  // ---- what an ended run left behind ---------------------------------------

  /** Signals the last run's leftovers and watches until none is alive; then the lifecycle may start the next run. */
  private signalLeftovers(rt: Runtime, signal: NodeJS.Signals): void {
    const pids = this.deps.ops.leftovers?.(rt.plan.name) ?? [];
    if (pids.length === 0) {
      this.queue.push([rt, { type: 'leftovers_gone' }]);
      return;
    }
    this.deps.events.emit(
      'child.leftovers',
      { program: rt.plan.name, count: pids.length, pids, signal, ...(signal === 'SIGKILL' ? {} : { grace_ms: rt.plan.stopGraceMs }) },
      `${rt.plan.name} left ${pids.length} process(es) behind: ${signal}`,
    );
    for (const pid of pids) this.deps.ops.kill(pid, signal);
    // Then SIGCONT, as for a program's own stop: a stopped leftover can act on its signal.
    if (followedBySigcont(signal)) for (const pid of pids) this.deps.ops.kill(pid, 'SIGCONT');
    // A shutdown's drain must not send them a second SIGTERM (some take a second one as "quit now").
    if (signal !== 'SIGKILL') {
      for (const pid of pids) rt.leftoversTold.add(pid);
      rt.leftoversDeadline = this.deps.now() + rt.plan.stopGraceMs;
    }
    if (rt.leftoverPoll) return;
    const poll = () => {
      this.deps.ops.reapNow();
      if ((this.deps.ops.leftovers?.(rt.plan.name) ?? []).length > 0) {
        rt.leftoverPoll = setTimeout(poll, DRAIN_POLL_MS);
        return;
      }
      rt.leftoverPoll = undefined;
      rt.leftoversTold.clear();
      rt.leftoversDeadline = undefined;
      this.send(rt, { type: 'leftovers_gone' });
    };
    rt.leftoverPoll = setTimeout(poll, DRAIN_POLL_MS);
  }

  /** A program will not run again on its own: apply its on_exit / on_fatal. */
  private onEnded(rt: Runtime, how: 'exited' | 'fatal'): void {
    this.lastEnded = rt;
    const status = rt.state.lastExit?.status ?? 0;
    const action = how === 'fatal' ? rt.plan.onFatal : rt.plan.onExit;
    if (action.action !== 'shutdown') return;
    this.beginShutdown({ kind: how === 'fatal' ? 'program_fatal' : 'program_exited', program: rt.plan.name, status, exitCode: action.exitCode });
  }

  // ---- starting ------------------------------------------------------------

  /** What a dependent's condition looks at (src/supervision/dependency.ts decides). */
  private depView(dep: Runtime): DependencyView {
    return {
      phase: dep.state.phase,
      hasProcess: dep.child !== undefined && ALIVE_PHASES.has(dep.state.phase),
      lastExitStatus: dep.state.lastExit?.status,
      blocked: dep.blocked,
      ready: this.deps.isReady?.(dep.plan.name) ?? false,
      held: dep.held,
    };
  }

  /** A dependency's readiness changed: start what was waiting for it (called by the health monitor). */
  dependenciesChanged(): void {
    this.pump();
  }

  /** After every change: start what can start, stop what must stop, and notice the end. */
  private pump(): void {
    if (this.draining || this.exited) return;
    if (this.shutdown) {
      this.pumpShutdown();
      return;
    }
    for (const rt of this.runtimes) {
      if (rt.state.phase !== 'stopped' || rt.blocked) continue;
      const deps = rt.plan.startAfter.map((n) => this.byName.get(n)!).filter(Boolean);
      const condition = (d: Runtime) => rt.plan.startConditions?.[d.plan.name] ?? 'running';
      const failed = deps.find((d) => conditionFailed(condition(d), this.depView(d)));
      if (failed) {
        rt.blocked = true;
        this.deps.events.emit('child.blocked', { program: rt.plan.name, dependency: failed.plan.name, condition: condition(failed) }, `${rt.plan.name} will not start: ${failed.plan.name} failed`);
        continue;
      }
      if (deps.every((d) => conditionMet(condition(d), this.depView(d)))) this.send(rt, { type: 'start' });
    }
    if (this.shutdown) return;
    // A program the operator stopped keeps the supervisor up, waiting for `supervisor start`.
    const done = this.runtimes.every((rt) => !rt.held && (rt.state.phase === 'exited' || rt.state.phase === 'fatal' || rt.blocked));
    if (done) {
      const status = this.lastEnded?.state.lastExit?.status ?? 0;
      this.beginShutdown({ kind: 'all_exited', status });
    }
  }

  // ---- shutdown ------------------------------------------------------------

  private beginShutdown(cause: ShutdownCause, relaySignal?: NodeJS.Signals): void {
    if (this.shutdown) return;
    this.shutdown = { cause, relaySignal, startedAt: this.deps.now(), forced: false, leftoversSignaled: false };
    this.deps.events.emit(
      'supervisor.shutdown',
      { reason: cause.kind, ...('program' in cause ? { program: cause.program } : {}), ...('signal' in cause ? { signal: cause.signal } : {}), timeout_ms: this.plan.shutdownTimeoutMs },
      `shutting down (${cause.kind})`,
    );
    this.shutdownTimer = setTimeout(() => this.forceKill('shutdown_timeout'), this.plan.shutdownTimeoutMs);
    this.hook('shutdownBegan');
    this.pump();
  }

  /**
   * The latest moment a program gets its stop signal: shutdown_timeout minus its
   * own stop_grace after the shutdown began (at once when its grace is longer),
   * so it has its whole grace before shutdown_timeout even when a dependent
   * ignores its own stop signal.
   */
  private stopDeadline(rt: Runtime): number {
    return this.shutdown!.startedAt + Math.max(0, this.plan.shutdownTimeoutMs - rt.plan.stopGraceMs);
  }

  /**
   * Stops every program none of whose dependents is still alive, and any program
   * whose stop deadline has come; ends when all are gone.
   */
  private pumpShutdown(): void {
    const sd = this.shutdown!;
    const live = (rt: Runtime) => rt.state.phase !== 'exited' && rt.state.phase !== 'fatal';
    let nextDeadline = Infinity;
    for (const rt of [...this.runtimes].reverse()) {
      if (!live(rt) || rt.state.phase === 'stopping') continue;
      const dependentAlive = this.runtimes.some((other) => other !== rt && live(other) && other.plan.startAfter.includes(rt.plan.name));
      const deadline = this.stopDeadline(rt);
      if (!dependentAlive) this.send(rt, { type: 'stop', intent: { reason: 'shutdown', restart: false, signal: sd.relaySignal, shutdown: true } });
      else if (this.deps.now() >= deadline) this.send(rt, { type: 'stop', intent: { reason: 'shutdown_budget', restart: false, signal: sd.relaySignal, shutdown: true } });
      else nextDeadline = Math.min(nextDeadline, deadline);
      if (this.exited) return;
    }
    clearTimeout(sd.budgetTimer);
    sd.budgetTimer = undefined;
    if (nextDeadline !== Infinity) sd.budgetTimer = setTimeout(() => this.pump(), Math.max(0, nextDeadline - this.deps.now()));
    if (this.runtimes.some(live)) return;
    this.drainDescendants();
  }

  /**
   * Every program is gone; grandchildren may not be. SIGTERM (then SIGCONT, so a
   * stopped one can act on it) what is left, run the final kill after a grace,
   * and exit only when nothing is left (tini and dumb-init exit at once and leave
   * those to the kernel's SIGKILL).
   */
  private drainDescendants(): void {
    if (this.drainTimer || this.exited) return;
    const sd = this.shutdown!;
    const tick = () => {
      this.drainTimer = undefined;
      if (this.exited) return;
      this.deps.ops.reapNow();
      const left = this.deps.ops.descendants();
      // After a final kill that left nothing alive, what remains are zombies: give the reaper a moment, not forever.
      const onlyZombies = sd.allKilledAt !== undefined && this.deps.now() - sd.allKilledAt >= ZOMBIE_WAIT_MS;
      if (left.length === 0 || onlyZombies) {
        sd.finalKill?.complete();
        this.finish();
        return;
      }
      if (!sd.leftoversSignaled && !sd.forced) {
        sd.leftoversSignaled = true;
        // Those a program's run left and that were already told to stop (child.leftovers) get no
        // second signal, and keep the rest of their program's stop_grace before the final kill.
        const telling = this.runtimes.filter((rt) => rt.leftoversTold.size > 0);
        const told = new Set(telling.flatMap((rt) => [...rt.leftoversTold]));
        const graceMs = Math.max(LEFTOVER_GRACE_MS, ...telling.map((rt) => (rt.leftoversDeadline ?? 0) - this.deps.now()));
        const fresh = left.filter((pid) => !told.has(pid));
        if (fresh.length > 0) {
          this.deps.events.emit('descendants.stop', { count: fresh.length, signal: 'SIGTERM', grace_ms: graceMs }, `stopping ${fresh.length} leftover processes`);
          for (const pid of fresh) this.deps.ops.kill(pid, 'SIGTERM');
          for (const pid of fresh) this.deps.ops.kill(pid, 'SIGCONT');
        }
        sd.leftoverTimer = setTimeout(() => this.startFinalKill('leftover_grace_expired'), graceMs);
      }
      this.drainTimer = setTimeout(tick, DRAIN_POLL_MS);
    };
    tick();
  }

  /**
   * The final kill: cgroup.kill on the programs' leaves, then SIGSTOP sweeps and
   * SIGKILL over every descendant, repeated until nothing is alive or
   * FINAL_KILL_BOUND_MS pass (then the supervisor exits anyway: as PID 1 the
   * kernel kills what is left of the namespace).
   */
  private startFinalKill(reason: string): void {
    const sd = this.shutdown!;
    if (this.exited || sd.finalKill?.running) return;
    sd.allKilledAt = undefined;
    let started = false;
    const ops = this.deps.ops;
    sd.finalKill = runFinalKill(
      { round: () => ops.killRound(), killCgroups: ops.killCgroups ? () => ops.killCgroups!() : undefined, now: () => this.deps.now() },
      (s) => {
        started = true;
        this.deps.events.emit(
          'descendants.stop',
          { count: s.count, signal: 'SIGKILL', reason, ...(s.cgroups.length > 0 ? { cgroups: s.cgroups } : {}) },
          `killing ${s.count} leftover processes`,
        );
      },
      (s) => {
        ops.reapNow();
        if (started) {
          this.deps.events.emit(
            'descendants.killed',
            { reason, rounds: s.rounds, sweeps: s.sweeps, killed: s.killed, converged: s.converged, left: s.left.length, ...(s.left.length > 0 ? { left_pids: s.left } : {}), elapsed_ms: s.elapsedMs },
            s.left.length === 0 ? `killed ${s.killed} processes; none left` : `${s.left.length} processes still alive after ${s.elapsedMs} ms of kill rounds: exiting anyway`,
          );
        }
        if (s.left.length > 0) {
          this.finish();
          return;
        }
        sd.allKilledAt = this.deps.now();
      },
    );
  }

  /** Second signal or shutdown timeout: SIGKILL every program, then the final kill over every descendant. */
  private forceKill(reason: string): void {
    if (!this.shutdown) this.beginShutdown({ kind: 'signal', signal: 'SIGKILL' });
    const sd = this.shutdown!;
    sd.forced = true;
    for (const rt of this.runtimes) this.send(rt, { type: 'kill', reason });
    this.startFinalKill(reason);
  }

  private finish(): void {
    if (this.exited) return;
    this.exited = true;
    clearTimeout(this.shutdownTimer);
    clearTimeout(this.drainTimer);
    const sd = this.shutdown!;
    clearTimeout(sd.budgetTimer);
    clearTimeout(sd.leftoverTimer);
    const single = this.plan.singleCommand ? this.runtimes[0]?.state.lastExit?.status : undefined;
    const code = decideExitCode(sd.cause, { singleCommand: this.plan.singleCommand, singleCommandStatus: single, remapToZero: this.options.remapToZero });
    this.hook('finished', code);
    this.deps.events.emit('supervisor.exit', { code, reason: sd.cause.kind, forced: sd.forced, shutdown_ms: this.deps.now() - sd.startedAt }, `exiting with code ${code}`);
    this.deps.exit(code);
  }
}
