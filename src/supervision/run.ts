// Runs a plan as a real init: wires the Supervisor to the OS (child_process,
// /proc, koffi's waitpid and prctl, signal handlers, the orphan reaper) and
// keeps PID 1 alive through its own bugs (an internal error is logged, the
// children stay supervised).
import { onExit } from 'signal-exit';
import { signals as signalExitSignals } from 'signal-exit/signals';
import { constants } from 'node:os';
import type { SupervisorPlan } from '../plan/types.js';
import type { EventSink } from '../logging/events.js';
import { EXIT_FLUSH_MS, makeStdioBlocking, stderr, stdout } from '../logging/sink.js';
import { BLOCKED_ON_MAIN_THREAD, FORWARDED_SIGNALS, SELF_SIGNALS, SHUTDOWN_SIGNALS, signalName, signalNumber, signalRoute } from '../process/signals.js';
import type { EarlySignals } from '../cli/entry.js';
import { isSpawnedChild, startChild } from '../process/spawn.js';
import type { LineFramer } from '../process/output.js';
import { ForegroundTerminal } from '../process/foreground.js';
import { descendantsOf } from '../process/tree.js';
import { groupPolicy, killRound, procTreeAccess, readStat } from '../process/kill-tree.js';
import { killCgroup } from '../process/cgroup-kill.js';
import { ProcessOwnership } from '../process/ownership.js';
import { startReaper } from '../process/reaper.js';
import { libc } from '../sys/libc.js';
import { detectMemoryEnvironment } from '../memory/environment.js';
import { MemoryManager } from '../memory/manager.js';
import { HealthMonitor } from '../health/monitor.js';
import { TerminationSummary, writeTerminationMessage } from '../logging/termination.js';
import { Supervisor, type SupervisorHooks } from './supervisor.js';
import { startControlPlane, type ControlPlane } from '../control/plane.js';
import { phaseReadiness } from '../control/status.js';
import { EventCounters } from '../observe/counters.js';

declare const __SUPERVISOR_VERSION__: string;
export const VERSION = typeof __SUPERVISOR_VERSION__ === 'string' ? __SUPERVISOR_VERSION__ : '0.0.0-dev';

export interface RunOptions {
  remapToZero: ReadonlySet<number>;
  /** The signals caught before the supervisor loaded (src/cli/entry.ts). */
  early?: EarlySignals;
  /** How `output: json` children's lines are written (default: JSON records). */
  frame?: LineFramer;
}

/** kill(2) that reports a vanished process as false instead of throwing. */
function killPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

function errorFields(e: unknown): Record<string, unknown> {
  return e instanceof Error ? { error: e.message, stack: e.stack } : { error: String(e) };
}

export function runSupervisor(plan: SupervisorPlan, options: RunOptions, logger: EventSink): Supervisor {
  // /metrics counts some events (src/observe/counters.ts): only when the HTTP listener is on.
  const counters = plan.http ? new EventCounters() : undefined;
  const events = new TerminationSummary(counters ? counters.tap(logger) : logger);
  makeStdioBlocking();
  const sinks = { stdout: stdout(), stderr: stderr(), frame: options.frame };
  // Only `output: inherit` programs write to our stdout and stderr themselves; without
  // them the sinks need not keep their writes to PIPE_BUF (a json child's batch is one write).
  const shared = plan.programs.some((p) => p.output === 'inherit');
  sinks.stdout.shared = shared;
  sinks.stderr.shared = shared;
  const { libc: sys, error: libcError } = libc();
  const isPid1 = process.pid === 1;

  // Not PID 1: become a child subreaper (like tini -s) so orphans come to us.
  let subreaper: boolean | string = false;
  if (!isPid1) {
    if (!sys) subreaper = `unavailable: ${libcError}`;
    else {
      const errno = sys.setChildSubreaper();
      subreaper = errno === 0 ? true : `prctl failed: errno ${errno}`;
    }
  }

  const reaper = sys
    ? startReaper({ isSpawnedChild, reap: (pid) => sys.reap(pid) }, (z) =>
        events.emit('zombie.reaped', { pid: z.pid, code: z.code, signal: z.signal === null ? null : (signalName(z.signal) ?? z.signal) }, `reaped orphan ${z.pid}`),
      )
    : undefined;
  if (!sys) events.emit('supervisor.warning', { reason: 'libc_unavailable', error: libcError }, 'cannot load libc through koffi: orphaned processes will not be reaped');

  // Single-command mode on a terminal we hold: the command gets its own group and the terminal.
  const terminal = ForegroundTerminal.detect(plan.singleCommand, isPid1);
  // Which program owns which process, also after a process leaves its tree.
  const ownership = new ProcessOwnership();
  const leftovers = (name: string) => {
    ownership.refresh();
    return ownership.leftoversOf(name).map((o) => o.pid);
  };
  // Refreshed only when asked (a run's leftovers, each watchdog round): no timer walks the
  // process table at idle. A daemon that double-forks between two looks is still caught by
  // its group, its session or its environment's SUPERVISOR_PROGRAM mark.

  // The memory manager acts on the supervisor only through this narrow control.
  let supervisor: Supervisor | undefined;
  const memory = new MemoryManager(plan, detectMemoryEnvironment(), events, {
    stopForRestart: (name, reason, graceMs) => supervisor?.stopForRestart(name, reason, graceMs),
    giveUp: (name, reason, graceMs) => supervisor?.giveUp(name, reason, graceMs),
    runningPids: () => supervisor?.runningPids() ?? new Map(),
    isStoppable: (name) => supervisor?.isStoppable(name) ?? false,
    refreshProcesses: () => ownership.refresh(),
    // Checked now: the memory manager samples them, and the guard may SIGKILL them.
    processesOf: (name) => ownership.livePidsOf(name),
  });
  // The health monitor (probes) likewise: src/health/monitor.ts. No probes configured: no hooks.
  const health = new HealthMonitor(plan, events, {
    isProbeable: (name) => supervisor?.isStoppable(name) ?? false,
    restartUnhealthy: (name, reason) => supervisor?.stopForRestart(name, reason),
    readinessChanged: () => supervisor?.dependenciesChanged(),
  });
  const probes = health.active ? health.hooks() : undefined;
  const hooks: SupervisorHooks = {
    beforeSpawn: (p) => memory.beforeSpawn(p),
    afterSpawn: (p, pid) => {
      if (pid !== undefined) ownership.adopt(p.name, pid);
      try {
        memory.afterSpawn(p, pid);
      } finally {
        probes?.afterSpawn(p, pid);
      }
    },
    childExited: (p, pid, exit, stopping) => {
      ownership.mainExited(p.name, pid);
      try {
        memory.childExited(p, pid, exit, stopping);
      } finally {
        probes?.childExited(p, pid, exit, stopping);
      }
    },
    programEnded: (p) => memory.programEnded(p),
    ...(probes ? { phaseChanged: probes.phaseChanged, shutdownBegan: probes.shutdownBegan } : {}),
    finished(code) {
      memory.finished();
      control?.close();
      writeTerminationMessage(events.text(code), plan.terminationLog);
    },
  };

  let control: ControlPlane | undefined;

  // The final kill of a shutdown: SIGSTOP sweeps, then SIGKILL (src/process/kill-tree.ts).
  const treeAccess = procTreeAccess();
  const mayKillGroup = groupPolicy(isPid1, readStat(process.pid)?.pgid ?? 0, process.pid);

  supervisor = new Supervisor(plan, { remapToZero: options.remapToZero }, {
    events,
    hooks,
    isReady: (name) => health.isReady(name),
    sinks,
    now: () => Date.now(),
    ops: {
      spawn: terminal
        ? (p, childSinks, cb) => {
            const child = startChild(terminal.plan(p), childSinks, cb, { gate: true });
            if (child) terminal.spawned(child.pid);
            // The supervisor logs child.spawn before this call stack unwinds; then the shim may exec.
            if (child?.openGate) process.nextTick(child.openGate);
            return child;
          }
        : (p, childSinks, cb) => startChild(p, childSinks, cb, { onLine: probes && health.lineObserver(p) }),
      descendants: () => descendantsOf(process.pid),
      kill: killPid,
      killRound: () => killRound(treeAccess, { root: process.pid, mayKillGroup, maxSweeps: 1000, maxMs: 200 }),
      killCgroups: () => memory.leafPaths().filter(killCgroup),
      reapNow: () => reaper?.request(),
      leftovers,
    },
    exit(code) {
      reaper?.stop();
      terminal?.restore();
      // Give a slow log reader a short, bounded time; a stalled one never holds up the exit.
      void Promise.all([sinks.stdout.flush(EXIT_FLUSH_MS), sinks.stderr.flush(EXIT_FLUSH_MS)]).then(() => process.exit(code));
    },
  });

  // PID 1 must not die of its own bug: log it and keep supervising.
  process.on('uncaughtException', (e) => events.emit('supervisor.error', errorFields(e), 'internal error (supervisor keeps running)'));
  process.on('unhandledRejection', (e) => events.emit('supervisor.error', errorFields(e), 'internal error (supervisor keeps running)'));

  // Every signal from outside has a route (src/process/signals.ts): none but
  // SIGKILL and SIGSTOP can end the supervisor. The fault signals and SIGPIPE are
  // caught only once this (main) thread blocks them: a real fault or a broken
  // pipe of our own then stays ours, a kill(2) from outside goes to the listener.
  const mode = plan.singleCommand;
  const blocked = sys ? sys.blockSignalsOnThisThread(BLOCKED_ON_MAIN_THREAD.map(signalNumber)) === 0 : false;
  const onSignal = (sig: NodeJS.Signals) => {
    switch (signalRoute(sig, mode)) {
      case 'shutdown':
        events.emit('supervisor.signal', { signal: sig }, `received ${sig}`);
        supervisor.requestShutdown(sig);
        break;
      case 'forward':
        if (sig === 'SIGCONT') terminal?.continued();
        supervisor.forward(sig);
        break;
      case 'suspend':
        // Like dumb-init: relay, then stop ourselves so the shell that started us
        // sees its job stop (SIGCONT, relayed too, resumes both). PID 1 cannot be
        // stopped by its own signals: there it only relays.
        supervisor.forward(sig);
        if (!isPid1) killPid(process.pid, 'SIGSTOP');
        break;
      case 'ignore':
        events.emit('supervisor.signal', { signal: sig, action: 'ignored' }, `ignored ${sig}`);
        break;
    }
  };
  for (const sig of [...SHUTDOWN_SIGNALS, ...FORWARDED_SIGNALS, ...SELF_SIGNALS]) {
    if (BLOCKED_ON_MAIN_THREAD.includes(sig) && !blocked) continue;
    try {
      process.on(sig, () => onSignal(sig));
    } catch {
      // a signal this platform does not have
    }
  }
  // A command stopped by the terminal (Ctrl-Z) stops us too, for the shell's job control.
  // Our own log lines are now written from a background group: with `stty tostop`
  // a caught SIGTTOU would make each write restart forever, so it is blocked on
  // this thread (the write then proceeds; a SIGTTOU from outside still arrives).
  if (terminal) {
    sys?.blockSignalsOnThisThread([signalNumber('SIGTTOU')]);
    const checkStopped = () => {
      for (const pid of supervisor.runningPids().values()) terminal.childChanged(pid);
    };
    process.on('SIGCHLD', checkStopped);
    // A stop that brings us no SIGCHLD (the command stuck in vfork, its vfork child stopped:
    // ForegroundTerminal.childChanged) is seen by this poll; terminal mode only.
    setInterval(checkStopped, 250).unref();
  }
  // Our listeners are in place: the early ones (src/cli/entry.ts) can go. What
  // they caught is acted on below, before any program starts.
  const early = options.early?.release() ?? [];

  // signal-exit treats a signal it listens to as fatal when it is the only
  // listener, and would then run the cleanup below (SIGKILL every child). Every
  // signal of its list has our listener above, except SIGPOLL/SIGIOT, the
  // aliases of SIGIO/SIGABRT: give those a no-op so it never sees itself alone.
  for (const sig of signalExitSignals as NodeJS.Signals[]) {
    if (process.listenerCount(sig) > 0) continue;
    const num = constants.signals[sig];
    if (num === undefined) continue;
    const aliasHandled = Object.entries(constants.signals).some(([name, n]) => n === num && name !== sig && process.listenerCount(name) > 0);
    try {
      process.on(sig, aliasHandled ? () => {} : () => events.emit('supervisor.signal', { signal: sig, action: 'ignored' }, `ignored ${sig}`));
    } catch {
      // a signal this platform does not have
    }
  }

  // Last resort: if this process ends any other way, take the children with it.
  onExit(() => {
    for (const pid of descendantsOf(process.pid)) killPid(pid, 'SIGKILL');
  }, { alwaysLast: true });

  events.emit(
    'supervisor.start',
    {
      version: VERSION,
      node: process.version,
      pid: process.pid,
      pid1: isPid1,
      subreaper,
      mode: plan.singleCommand ? 'single' : 'config',
      config: plan.source,
      programs: plan.programs.map((p) => p.name),
    },
    `supervisor ${VERSION} starting ${plan.programs.length} program(s)`,
  );
  try {
    memory.start();
  } catch (e) {
    events.emit('supervisor.error', errorFields(e), 'memory management failed to start: programs run without caps');
  }
  // The control socket and the HTTP listener (src/control/, src/observe/): read the supervisor, ask it through its queue.
  try {
    control = startControlPlane({
      plan,
      supervisor,
      // Per-program probe results for /readyz, status and metrics; without probes, the lifecycle phase decides.
      readiness: health.active ? { healthOf: (name) => health.programStatus(name) } : phaseReadiness,
      memory: (name) => memory.usageOf(name),
      events,
      counters,
      droppedLogLines: () => sinks.stdout.dropped + sinks.stderr.dropped,
      version: VERSION,
      pid1: isPid1,
      env: process.env,
    });
  } catch (e) {
    events.emit('supervisor.error', errorFields(e), 'the control plane failed to start: programs run without it');
  }
  // A shutdown asked for during start-up ends the run before any program starts,
  // a job-control stop stops us; other signals had nobody to go to yet.
  for (const sig of early) {
    const route = signalRoute(sig, mode);
    if (route === 'shutdown' || route === 'suspend') onSignal(sig);
    else events.emit('supervisor.signal', { signal: sig, action: 'ignored' }, `ignored ${sig}: no program was running yet`);
  }
  // A signal caught by libuv while we were busy loading (a kernel-level handler
  // writes it to libuv's signal pipe) reaches its listener only when the loop
  // next polls. Two nested immediates guarantee one poll before the start, from
  // whichever phase we are called in; a shutdown asked then stops the start too.
  setImmediate(() => setImmediate(() => supervisor.start()));
  return supervisor;
}
