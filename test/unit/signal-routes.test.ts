// Which signal does what (src/process/signals.ts), and the supervisor's side of
// it with fake processes: a shutdown asked before start() starts nothing (exit
// 128+signal in single-command mode, 0 in config mode); a second SIGTERM is
// relayed in single-command mode and SIGKILLs everything in config mode.
import { describe, expect, it } from 'vitest';
import { EARLY_SIGNALS, SELF_SIGNALS, signalRoute } from '../../src/process/signals.js';
import { decideExitCode } from '../../src/supervision/exit-code.js';
import { Supervisor } from '../../src/supervision/supervisor.js';
import { programPlan, supervisorPlan } from '../helpers/plan.js';
import { nullSink } from '../../src/logging/sink.js';

describe('signal routes', () => {
  it('SIGTERM/SIGINT shut down in both modes', () => {
    for (const single of [true, false]) for (const sig of ['SIGTERM', 'SIGINT'] as const) expect(signalRoute(sig, single)).toBe('shutdown');
  });
  it('self signals: relayed in single-command mode, ignored in config mode', () => {
    for (const sig of SELF_SIGNALS) {
      expect(signalRoute(sig, true)).toBe('forward');
      expect(signalRoute(sig, false)).toBe('ignore');
    }
  });
  it('job-control stops suspend the supervisor in single-command mode only', () => {
    for (const sig of ['SIGTSTP', 'SIGTTIN', 'SIGTTOU'] as const) {
      expect(signalRoute(sig, true)).toBe('suspend');
      expect(signalRoute(sig, false)).toBe('forward');
    }
  });
  it('the early listeners leave out the signals that need the main thread blocked first', () => {
    for (const sig of ['SIGSEGV', 'SIGBUS', 'SIGFPE', 'SIGILL', 'SIGPIPE'] as const) expect(EARLY_SIGNALS).not.toContain(sig);
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGTSTP', 'SIGABRT'] as const) expect(EARLY_SIGNALS).toContain(sig);
  });
});

describe('exit code of a shutdown asked before the command started', () => {
  it('single-command mode: 128+signal; config mode: 0', () => {
    expect(decideExitCode({ kind: 'signal', signal: 'SIGTERM' }, { singleCommand: true, remapToZero: new Set() })).toBe(143);
    expect(decideExitCode({ kind: 'signal', signal: 'SIGINT' }, { singleCommand: true, remapToZero: new Set() })).toBe(130);
    expect(decideExitCode({ kind: 'signal', signal: 'SIGTERM' }, { singleCommand: false, remapToZero: new Set() })).toBe(0);
  });
});

function harness(singleCommand: boolean) {
  const spawned: string[] = [];
  const signals: NodeJS.Signals[] = [];
  const killed: NodeJS.Signals[] = [];
  let exitCode: number | undefined;
  const sup = new Supervisor(supervisorPlan([programPlan({ name: 'app', startSecsMs: 0, processGroup: false })], { singleCommand }), { remapToZero: new Set() }, {
    events: { emit() {} },
    sinks: { stdout: nullSink(), stderr: nullSink() },
    ops: {
      spawn(plan) {
        spawned.push(plan.name);
        return { pid: 100, signal: (sig) => (sig === 'SIGKILL' ? killed.push(sig) : signals.push(sig), true) };
      },
      descendants: () => [],
      kill: () => true,
      killRound: () => ({ sweeps: 1, converged: true, killed: [] }),
      reapNow: () => {},
    },
    now: () => 0,
    exit: (code) => (exitCode = code),
  });
  return { sup, spawned, signals, killed, exitCode: () => exitCode };
}

describe('Supervisor and shutdown signals', () => {
  for (const [single, code] of [[true, 143], [false, 0]] as const) {
    it(`${single ? 'single-command' : 'config'} mode: a SIGTERM before start() starts nothing and exits ${code}`, () => {
      const h = harness(single);
      h.sup.requestShutdown('SIGTERM');
      h.sup.start();
      expect(h.spawned).toEqual([]);
      expect(h.exitCode()).toBe(code);
    });
  }

  it('single-command mode: every SIGTERM/SIGINT is relayed to the running command, none SIGKILLs it', () => {
    const h = harness(true);
    h.sup.start();
    for (const sig of ['SIGTERM', 'SIGTERM', 'SIGINT'] as const) h.sup.requestShutdown(sig);
    expect(h.signals).toEqual(['SIGTERM', 'SIGTERM', 'SIGINT']);
    expect(h.killed).toEqual([]);
  });

  it('config mode: a second SIGTERM SIGKILLs the program', () => {
    const h = harness(false);
    h.sup.start();
    h.sup.requestShutdown('SIGTERM');
    h.sup.requestShutdown('SIGTERM');
    // The stop signal is followed by SIGCONT in config mode (a stopped program wakes up to handle it).
    expect(h.signals).toEqual(['SIGTERM', 'SIGCONT']);
    expect(h.killed).toEqual(['SIGKILL']);
  });
});
