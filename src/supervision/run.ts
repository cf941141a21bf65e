// Runs a plan as a real init: wires the Supervisor to the OS (child_process,
// /proc, koffi's waitpid and prctl, signal handlers, the orphan reaper) and
// keeps PID 1 alive through its own bugs (an internal error is logged, the
// children stay supervised).
import { onExit } from 'signal-exit';
import { signals as signalExitSignals } from 'signal-exit/signals';
import { constants } from 'node:os';
import type { SupervisorPlan } from '../plan/types.js';
import type { EventSink } from '../logging/events.js';
import { makeStdioBlocking, stderr, stdout } from '../logging/sink.js';
import { FORWARDED_SIGNALS, SHUTDOWN_SIGNALS, signalName } from '../process/signals.js';
import { isSpawnedChild, startChild } from '../process/spawn.js';
import { descendantsOf } from '../process/tree.js';
import { ProcessOwnership } from '../process/ownership.js';
import { startReaper } from '../process/reaper.js';
import { libc } from '../sys/libc.js';
import { detectMemoryEnvironment } from '../memory/environment.js';
import { MemoryManager } from '../memory/manager.js';
import { TerminationSummary, writeTerminationMessage } from '../logging/termination.js';
import { Supervisor, type SupervisorHooks } from './supervisor.js';

declare const __SUPERVISOR_VERSION__: string;
export const VERSION = typeof __SUPERVISOR_VERSION__ === 'string' ? __SUPERVISOR_VERSION__ : '0.0.0-dev';

export interface RunOptions {
  remapToZero: ReadonlySet<number>;
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
  const events = new TerminationSummary(logger);
  makeStdioBlocking();
  const sinks = { stdout: stdout(), stderr: stderr() };
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

  // Which program owns which process, also after a process leaves its tree.
  const ownership = new ProcessOwnership();
  const leftovers = (name: string) => {
    ownership.refresh();
    return ownership.leftoversOf(name).map((o) => o.pid);
  };
  // A daemon that double-forks between two looks is still caught by its group or session;
  // this backstop keeps the picture fresh when no memory sampling runs.
  setInterval(() => {
    try {
      ownership.refresh();
    } catch (e) {
      events.emit('supervisor.error', errorFields(e), 'reading the process table failed');
    }
  }, 1000).unref();

  // The memory manager acts on the supervisor only through this narrow control.
  let supervisor: Supervisor | undefined;
  const memory = new MemoryManager(plan, detectMemoryEnvironment(), events, {
    stopForRestart: (name, reason, graceMs) => supervisor?.stopForRestart(name, reason, graceMs),
    giveUp: (name, reason, graceMs) => supervisor?.giveUp(name, reason, graceMs),
    runningPids: () => supervisor?.runningPids() ?? new Map(),
    isStoppable: (name) => supervisor?.isStoppable(name) ?? false,
    refreshProcesses: () => ownership.refresh(),
    processesOf: (name) => ownership.pidsOf(name),
  });
  const hooks: SupervisorHooks = {
    beforeSpawn: (p) => memory.beforeSpawn(p),
    afterSpawn(p, pid) {
      if (pid !== undefined) ownership.adopt(p.name, pid);
      memory.afterSpawn(p, pid);
    },
    childExited(p, pid, exit, stopping) {
      ownership.mainExited(p.name, pid);
      memory.childExited(p, pid, exit, stopping);
    },
    programEnded: (p) => memory.programEnded(p),
    finished(code) {
      memory.finished();
      writeTerminationMessage(events.text(code), plan.terminationLog);
    },
  };

  supervisor = new Supervisor(plan, { remapToZero: options.remapToZero }, {
    events,
    hooks,
    sinks,
    now: () => Date.now(),
    ops: {
      spawn: startChild,
      descendants: () => descendantsOf(process.pid),
      kill: killPid,
      reapNow: () => reaper?.request(),
      leftovers,
    },
    exit(code) {
      reaper?.stop();
      sinks.stdout.flush();
      sinks.stderr.flush();
      process.exit(code);
    },
  });

  // PID 1 must not die of its own bug: log it and keep supervising.
  process.on('uncaughtException', (e) => events.emit('supervisor.error', errorFields(e), 'internal error (supervisor keeps running)'));
  process.on('unhandledRejection', (e) => events.emit('supervisor.error', errorFields(e), 'internal error (supervisor keeps running)'));

  for (const sig of SHUTDOWN_SIGNALS) {
    process.on(sig, () => {
      events.emit('supervisor.signal', { signal: sig }, `received ${sig}`);
      supervisor.requestShutdown(sig);
    });
  }
  for (const sig of FORWARDED_SIGNALS) {
    try {
      process.on(sig, () => supervisor.forward(sig));
    } catch {
      // a signal this platform does not have
    }
  }

  // signal-exit treats a signal it listens to as fatal when it is the only
  // listener, and would then run the cleanup below (SIGKILL every child). PID 1
  // must not die of a stray SIGABRT/SIGTRAP/SIGSYS, nor of SIGPOLL/SIGIOT, the
  // aliases of SIGIO/SIGABRT: listen to each of them too (log and ignore).
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
  supervisor.start();
  return supervisor;
}
