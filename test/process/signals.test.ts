// Every signal the supervisor forwards reaches the child (single-command mode) or
// the child's whole process group (config mode, process_group: true); SIGINT and
// SIGTERM are relayed as they are in single-command mode, every time; no signal
// sent from outside but SIGKILL/SIGSTOP ends the supervisor. A recorder fixture
// appends each signal it receives to a file.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { byEvent, FIXTURES, killAllRuns, procState, startInit, tempDir, writeConfig, type InitRun } from '../helpers/init.js';
import { lines, until } from './support.js';

afterEach(killAllRuns);

const RECORDER = join(FIXTURES, 'signal-recorder.mjs');

// FORWARDED_SIGNALS of src/process/signals.ts, except SIGIO (see its own test below).
const FORWARDED = ['SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT', 'SIGALRM', 'SIGVTALRM', 'SIGPROF', 'SIGURG',
  'SIGPWR', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGXCPU', 'SIGXFSZ', 'SIGSTKFLT'] as const;

// SELF_SIGNALS of src/process/signals.ts.
const SELF = ['SIGABRT', 'SIGTRAP', 'SIGSYS', 'SIGPIPE', 'SIGSEGV', 'SIGBUS', 'SIGFPE', 'SIGILL'] as const;

const ready = (tag: string) => (e: Record<string, unknown>) => e.fixture === 'ready' && e.tag === tag;

/** Sends each signal to the supervisor and waits until every tag has recorded it. */
async function sendAndExpect(run: InitRun, out: string, signals: readonly NodeJS.Signals[], tags: string[]) {
  for (const sig of signals) {
    await run.signal(sig);
    await until(() => {
      // A program that died meanwhile fails the test at once.
      const exit = run.events.find(byEvent('child.exit'));
      if (exit) throw new Error(`a program exited after ${sig}: ${JSON.stringify(exit)}; recorded: ${lines(out).join(', ')}`);
      return tags.every((t) => lines(out).includes(`${t} ${sig}`));
    }, `${sig} to reach ${tags.join(', ')} (got ${lines(out).join(', ')})`);
  }
  // Each signal arrived exactly once at each process, nothing else did, and every process is still running.
  expect([...lines(out)].sort()).toEqual(signals.flatMap((sig) => tags.map((t) => `${t} ${sig}`)).sort());
  expect(run.events.filter(byEvent('child.exit'))).toEqual([]);
}

describe('signal forwarding', () => {
  it('single-command mode: every forwarded signal reaches the child', async () => {
    const out = join(tempDir(), 'signals.txt');
    const run = startInit(['--log-level', 'info', '--', process.execPath, RECORDER, '--out', out]);
    await run.waitFor(ready('main'), 30_000);
    await sendAndExpect(run, out, FORWARDED, ['main']);
    expect(new Set(lines(out))).toEqual(new Set(FORWARDED.map((s) => `main ${s}`)));
  });

  it('config mode with process_group: true: every forwarded signal reaches the whole group', async () => {
    const out = join(tempDir(), 'signals.txt');
    const config = writeConfig(`
programs:
  rec:
    command: ${JSON.stringify([process.execPath, RECORDER, '--out', out, '--tag', 'leader', '--member', '--exit-on', 'SIGTERM'])}
    process_group: true
    start_secs: 0
`);
    const run = startInit(['-c', config, '--log-level', 'debug']);
    await Promise.all([run.waitFor(ready('leader'), 30_000), run.waitFor(ready('leader-member'), 30_000)]);
    await sendAndExpect(run, out, FORWARDED, ['leader', 'leader-member']);
    // The log line can arrive after the child recorded the signal: wait for all of them.
    const forwards = await run.waitForCount(byEvent('signal.forward', 'rec'), FORWARDED.length);
    expect(forwards.map((e) => e.signal)).toEqual([...FORWARDED]);
    expect(forwards.every((e) => e.group === true && e.delivered === true)).toBe(true);
    await run.signal('SIGTERM');
    expect((await run.done).code).toBe(0);
  });

  it('single-command mode with -g: forwarded signals and the relayed SIGTERM reach the whole group', async () => {
    const out = join(tempDir(), 'signals.txt');
    const run = startInit(['-g', '--log-level', 'info', '--', process.execPath, RECORDER, '--out', out, '--member', '--exit-on', 'SIGTERM', '--exit-code', '7']);
    await Promise.all([run.waitFor(ready('main')), run.waitFor(ready('main-member'))]);
    await sendAndExpect(run, out, ['SIGHUP', 'SIGUSR1', 'SIGWINCH'], ['main', 'main-member']);
    await run.signal('SIGTERM');
    expect((await run.done).code).toBe(7);
    expect(lines(out).filter((l) => l.endsWith('SIGTERM')).sort()).toEqual(['main SIGTERM', 'main-member SIGTERM']);
  });

  // BUG: signal-exit (used in src/supervision/run.ts for the last-resort onExit)
  // listens on 'SIGPOLL', the same signal number as SIGIO. On SIGIO it finds itself
  // the only 'SIGPOLL' listener, concludes the process is dying, runs the onExit
  // callback (SIGKILL to every descendant) and re-raises, which the supervisor
  // survives: every child is SIGKILLed.
  it('SIGIO is forwarded and does not kill the children (single-command and config mode)', async () => {
    const dir = tempDir();
    const out1 = join(dir, 'single.txt');
    const single = startInit(['--log-level', 'info', '--', process.execPath, RECORDER, '--out', out1]);
    const out2 = join(dir, 'config.txt');
    const config = startInit(['-c', writeConfig(`
programs:
  rec:
    command: ${JSON.stringify([process.execPath, RECORDER, '--out', out2, '--tag', 'leader', '--member'])}
    start_secs: 0
`, dir)]);
    await Promise.all([single.waitFor(ready('main')), config.waitFor(ready('leader')), config.waitFor(ready('leader-member'))]);
    await Promise.all([
      sendAndExpect(single, out1, ['SIGIO', 'SIGHUP'], ['main']),
      sendAndExpect(config, out2, ['SIGIO', 'SIGHUP'], ['leader', 'leader-member']),
    ]);
  });

  // The signals a process normally gets from its own faults. Sent from outside,
  // none may end the supervisor, PID 1 or not (under `docker run --init` or
  // shareProcessNamespace another process is PID 1, and the kernel no longer
  // shields it): single-command mode relays them like tini and dumb-init.
  for (const pid1 of [false, true]) {
    it(`single-command mode${pid1 ? ' as PID 1' : ', not PID 1'}: every self signal sent from outside is relayed to the command; the supervisor survives`, async () => {
      const out = join(tempDir(), 'signals.txt');
      const run = startInit(['--log-level', 'info', '--', process.execPath, RECORDER, '--out', out], { pid1 });
      await run.waitFor(ready('main'), 30_000);
      await sendAndExpect(run, out, [...SELF, 'SIGHUP'], ['main']);
      expect(run.events.filter(byEvent('child.kill'))).toEqual([]);
      expect(run.proc.exitCode).toBe(null);
    });
  }

  it('config mode, not PID 1: self signals sent from outside are logged and ignored; no program is touched', async () => {
    const out = join(tempDir(), 'signals.txt');
    const config = writeConfig(`
programs:
  rec:
    command: ${JSON.stringify([process.execPath, RECORDER, '--out', out, '--tag', 'leader', '--exit-on', 'SIGTERM'])}
    start_secs: 0
`);
    const run = startInit(['-c', config], { pid1: false });
    await run.waitFor(ready('leader'), 30_000);
    for (const sig of SELF) {
      await run.signal(sig);
      await run.waitFor((e) => e.event === 'supervisor.signal' && e.signal === sig && e.action === 'ignored');
    }
    // Still supervising: a forwarded signal arrives, and nothing else did.
    await sendAndExpect(run, out, ['SIGHUP'], ['leader']);
    await run.signal('SIGTERM');
    expect((await run.done).code).toBe(0);
  });

  it('single-command mode: each SIGTERM and SIGINT is relayed, the second ones too (no SIGKILL)', async () => {
    const out = join(tempDir(), 'signals.txt');
    const run = startInit(['--log-level', 'info', '--', process.execPath, RECORDER, '--out', out, '--exit-on', 'SIGUSR2', '--exit-code', '5']);
    await run.waitFor(ready('main'), 30_000);
    const sent: string[] = [];
    for (const sig of ['SIGTERM', 'SIGTERM', 'SIGINT', 'SIGINT'] as const) {
      // One at a time: the command records each before the next is sent (signals of one kind coalesce).
      await run.signal(sig);
      sent.push(`main ${sig}`);
      await until(() => lines(out).length === sent.length, `${sig} #${sent.length} to reach the command (got ${lines(out).join(', ')})`);
    }
    expect(lines(out)).toEqual(sent);
    expect(run.events.filter(byEvent('child.kill'))).toEqual([]);
    expect(run.events.filter(byEvent('child.exit'))).toEqual([]);
    // The command decides: it ends on SIGUSR2, still relayed during the shutdown.
    await run.signal('SIGUSR2');
    expect((await run.done).code).toBe(5);
    expect(lines(out)).toEqual(['main SIGTERM', 'main SIGTERM', 'main SIGINT', 'main SIGINT', 'main SIGUSR2']);
  });

  it('single-command mode, not PID 1: SIGTSTP is relayed and the supervisor stops itself; SIGCONT resumes both', async () => {
    const out = join(tempDir(), 'signals.txt');
    const run = startInit(['--log-level', 'info', '--', process.execPath, RECORDER, '--out', out], { pid1: false });
    await run.waitFor(ready('main'), 30_000);
    const pid = await run.supervisorPid();
    await run.signal('SIGTSTP');
    await until(() => procState(pid) === 'T', 'the supervisor to stop itself');
    await until(() => lines(out).includes('main SIGTSTP'), 'SIGTSTP to reach the command');
    await run.signal('SIGCONT');
    await until(() => lines(out).includes('main SIGCONT'), 'SIGCONT to reach the command');
    expect(procState(pid)).not.toBe('T');
    // Supervising again: the next signal is relayed as usual.
    await run.signal('SIGHUP');
    await until(() => lines(out).includes('main SIGHUP'), 'SIGHUP to reach the command');
    expect(lines(out)).toEqual(['main SIGTSTP', 'main SIGCONT', 'main SIGHUP']);
  });

  for (const [sig, code] of [['SIGINT', 42], ['SIGTERM', 43]] as const) {
    it(`single-command mode: ${sig} is relayed to the child as ${sig}; the supervisor exits with the child's code`, async () => {
      const out = join(tempDir(), 'signals.txt');
      const run = startInit(['--log-level', 'info', '--', process.execPath, RECORDER, '--out', out, '--exit-on', sig, '--exit-code', String(code)]);
      await run.waitFor(ready('main'), 30_000);
      await run.signal(sig);
      const { code: exitCode } = await run.done;
      expect(lines(out)).toEqual([`main ${sig}`]);
      expect(exitCode).toBe(code);
      expect(run.events.find(byEvent('child.stop'))).toMatchObject({ signal: sig });
      expect(run.events.find(byEvent('child.exit'))).toMatchObject({ code, expected: true });
    });
  }
});
