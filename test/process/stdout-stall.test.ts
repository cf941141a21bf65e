// Stdout stalls: the supervisor's stdout is a real pipe (a FIFO, as container
// runtimes give) whose reader stops reading, as Docker's blocking log driver
// does when it falls behind. Supervision must go on (restarts, the memory
// watchdog, SIGTERM), `output: json` children get backpressure instead of
// growing PID 1's memory, and once the reader catches up one
// supervisor.log_dropped line says how many of the supervisor's own lines were
// lost, with every line whole. A child's own `event`/`level` never show up as
// the supervisor's.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { byEvent, FIXTURES, hostDescendantsOf, killAllRuns, procState, startInit, tempDir, writeConfig } from '../helpers/init.js';
import { lines, sleep, until, within } from './support.js';

afterEach(killAllRuns);

const MiB = 1024 * 1024;
/** write(2)'s number in /proc/PID/syscall. */
const SYS_WRITE = process.arch === 'arm64' ? 64 : 1;

/** A json program that prints this line (a child trying to pass for the supervisor) many times, then sleeps. */
const FORGED = '{"level":60,"event":"supervisor.exit","code":0}';
/** The same on stderr, claiming an OOM kill of another program. */
const FORGED_ERR = '{"level":"fatal","event":"child.oom_killed","program":"web","msg":"forged"}';
const spamProgram = (count: number) => `
  spam:
    command: ${JSON.stringify(['sh', '-c', `i=0; while [ $i -lt ${count} ]; do echo '${FORGED}'; i=$((i+1)); done; exec sleep 1000`])}
    output: json
    start_secs: 0`;

/** Programs that exit at once and are restarted after 10 ms, forever; each start appends a line to `file`. */
const crashers = (n: number, file: string) =>
  Array.from(
    { length: n },
    (_, i) => `
  crasher${i}:
    command: ["sh", "-c", "echo start >> ${file}; exit 1"]
    start_secs: 0
    backoff: { initial: 10ms, factor: 1, max: 10ms }
    crash_loop: { max_restarts: 1000000, window: 1s }`,
  ).join('');

/** The host pid of the supervisor's descendant whose command line contains `marker`. */
function descendantWith(supervisorPid: number, marker: string): number | undefined {
  return hostDescendantsOf(supervisorPid).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
    } catch {
      return false;
    }
  });
}

/** True while `pid` sleeps inside write(2): nobody is reading what it writes. */
function blockedInWrite(pid: number): boolean {
  try {
    return procState(pid) === 'S' && readFileSync(`/proc/${pid}/syscall`, 'utf8').split(' ')[0] === String(SYS_WRITE);
  } catch {
    return false;
  }
}

/** Waits until `pid` was seen blocked in write(2) on `samples` samples in a row (a stalled pipe, not a busy one). */
async function untilBlockedInWrite(pid: number, samples = 5): Promise<void> {
  let inARow = 0;
  await until(() => (inARow = blockedInWrite(pid) ? inARow + 1 : 0) >= samples, `pid ${pid} blocked in write(2)`, 60_000, 100);
}

function vmRssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
  return Number(kb) * 1024;
}

describe('stdout is a pipe nobody reads', () => {
  it('restarts go on, the watchdog still stops a hog; once read again: one log_dropped with the count, every line whole', async () => {
    const dir = tempDir();
    const crasherStarts = join(dir, 'crasher.starts');
    const hogStarts = join(dir, 'hog.starts');
    const config = writeConfig(`
shutdown_timeout: 10s
programs:${crashers(6, crasherStarts)}${spamProgram(50_000)}
  hog:
    command: ["sh", "-c", "echo start >> ${hogStarts}; exec node ${FIXTURES}/hog.mjs 50"]
    memory: { max: 96Mi, enforce: watchdog, stop_grace: 1s }
    start_secs: 0
    backoff: { initial: 100ms, factor: 1 }
    crash_loop: { max_restarts: 1000, window: 1s }
`);
    const run = startInit(['-c', config], { stdio: 'fifo' });
    run.stdoutReader.pause();
    const sup = await run.supervisorPid();

    // The spam fills the pipe within moments; then the json child waits on its own writes.
    const spam = await until(() => descendantWith(sup, 'supervisor.exit'), 'the spam program');
    await untilBlockedInWrite(spam);
    // The json child is held back only once the pipe is full. From here on, enough restarts that
    // their events (5 lines, 700+ bytes per restart) overflow the 256 KiB event buffer: they had
    // to be dropped, not waited for.
    const startsWhenFull = lines(crasherStarts).length;
    await until(() => lines(crasherStarts).length >= startsWhenFull + 600, '600 more crasher starts', 120_000);
    // The hog never exits by itself: each new start means the watchdog stopped it at its cap.
    await until(() => lines(hogStarts).length >= 3, 'the watchdog stopping the hog twice', 60_000);
    expect(blockedInWrite(spam), 'the json child is still held back').toBe(true);
    expect(vmRssBytes(sup)).toBeLessThan(200 * MiB);

    run.stdoutReader.resume();
    const dropped = await run.waitFor(byEvent('supervisor.log_dropped'), 60_000);
    expect(dropped).toMatchObject({ level: 'warn', dropped: expect.any(Number) });
    expect(dropped.dropped as number).toBeGreaterThan(0);
    // Restarts went on during the stall: the drop was the supervisor's lines, never its work.
    await run.waitFor((e) => e.event === 'child.spawn' && (e.restarts as number) > 100, 60_000);

    await run.signal('SIGTERM');
    const { code } = await within(run.done, 60_000, 'supervisor exit');
    expect(code).toBe(0);
    // Every line is whole JSON (the helper keeps unparsable lines as {raw}), and the child's lines
    // kept their event/level under child_event/child_level: only the supervisor wrote `event`.
    expect(run.events.filter((e) => 'raw' in e)).toEqual([]);
    const framed = run.events.filter((e) => e.program === 'spam' && e.stream === 'stdout');
    expect(framed.length).toBeGreaterThan(1000);
    for (const e of framed) expect(e).toMatchObject({ child_event: 'supervisor.exit', child_level: 60, code: 0 });
    expect(framed.filter((e) => 'event' in e || 'level' in e)).toEqual([]);
    expect(run.events.filter(byEvent('supervisor.exit'))).toEqual([expect.objectContaining({ code: 0, reason: 'signal' })]);
  }, 240_000);

  it('a reader that keeps falling behind: an inherit child\'s lines and the supervisor\'s never split each other', async () => {
    const dir = tempDir();
    const N = 20_000;
    const config = writeConfig(`
programs:${crashers(2, join(dir, 'starts'))}${spamProgram(20_000)}
  plain:
    command: ["python3", "-c", "import os, time\\nfor i in range(${N}): os.write(1, b'plain-line-%06d\\\\n' % i)\\nos.write(1, b'plain-done\\\\n')\\ntime.sleep(1000)"]
    start_secs: 0
`);
    const run = startInit(['-c', config], { stdio: 'fifo' });
    // The reader stops and starts: the pipe fills, the supervisor queues, then writes what
    // it queued while the plain child writes its own lines into the same pipe (one write(2)
    // per line, as a careful program does: Python's print() may write a line's end apart).
    const plainDone = () => run.events.some((e) => e.raw === 'plain-done');
    for (let i = 0; i < 200 && !plainDone(); i++) {
      run.stdoutReader.pause();
      await sleep(60);
      run.stdoutReader.resume();
      await sleep(15);
    }
    await until(plainDone, 'the plain child to print all its lines', 60_000);
    await run.signal('SIGTERM');
    expect((await within(run.done, 60_000, 'supervisor exit')).code).toBe(0);
    // Every line is a whole JSON object (the supervisor's, or a framed child line) or one
    // whole line of the plain child: a line cut by another writer's would be neither.
    const raw = run.events.filter((e) => 'raw' in e).map((e) => String(e.raw));
    expect(raw.filter((l) => !/^plain-(line-\d{6}|done)$/.test(l))).toEqual([]);
    expect(new Set(raw).size).toBe(N + 1);
    expect(run.events.filter((e) => e.program === 'spam').length).toBeGreaterThan(1000);
  }, 240_000);

  it('a json child flooding a pipe that is read as fast as it can: every line arrives, nothing waits forever', async () => {
    const N = 100_000;
    const config = writeConfig(`
programs:
  talker:
    command: ["node", "${FIXTURES}/chatty.mjs", "${N}"]
    output: json
    restart: never
    on_exit: shutdown
`);
    const run = startInit(['-c', config], { stdio: 'fifo' });
    const { code } = await within(run.done, 120_000, 'the supervisor to exit once the talker is done');
    expect(code).toBe(0);
    const framed = run.events.filter((e) => e.program === 'talker');
    expect(framed.filter((e) => e.stream === 'stdout')).toHaveLength(N);
    // Its stderr lines are framed onto the supervisor's stderr.
    expect(run.stderr().split('\n').filter((l) => l.includes('"program":"talker","stream":"stderr"'))).toHaveLength(N);
  }, 180_000);

  it('SIGTERM ends the supervisor within shutdown_timeout while the pipe stays full, and a held-back json child costs PID 1 no memory', async () => {
    const dir = tempDir();
    const crasherStarts = join(dir, 'crasher.starts');
    const config = writeConfig(`
shutdown_timeout: 5s
programs:${crashers(1, crasherStarts)}${spamProgram(10_000_000)}
`);
    const run = startInit(['-c', config], { stdio: 'fifo' });
    run.stdoutReader.pause();
    const sup = await run.supervisorPid();
    const spam = await until(() => descendantWith(sup, 'supervisor.exit'), 'the spam program');
    await untilBlockedInWrite(spam);
    const rssBefore = vmRssBytes(sup);
    // The child would print ~500 MB if PID 1 kept reading it; held back, it stays blocked.
    const startsBefore = lines(crasherStarts).length;
    await until(() => lines(crasherStarts).length >= startsBefore + 20, '20 more crasher starts');
    await sleep(1000);
    expect(blockedInWrite(spam)).toBe(true);
    expect(vmRssBytes(sup) - rssBefore).toBeLessThan(64 * MiB);

    await run.signal('SIGTERM');
    // Before the fix PID 1 sat in write(2) on the full pipe and never saw the signal.
    const { code } = await within(run.exited, 30_000, 'supervisor exit with stdout still unread');
    expect(code).toBe(0);
    run.stdoutReader.resume();
    await within(run.done, 30_000, 'stdout read to the end');
    expect(run.events.filter((e) => 'raw' in e)).toEqual([]);
  }, 120_000);
});

describe('a child cannot speak for the supervisor (output: json)', () => {
  it('a child line shaped like a supervisor event keeps its event and level as child_event and child_level', async () => {
    const config = writeConfig(`
programs:
  forger:
    command: ${JSON.stringify(['sh', '-c', `echo '${FORGED}'; echo '${FORGED_ERR}' >&2`])}
    output: json
    restart: never
    start_secs: 0
    on_exit: shutdown
`);
    const run = startInit(['-c', config]);
    const { code } = await within(run.done, 60_000, 'supervisor exit');
    expect(code).toBe(0);
    const framed = run.events.filter((e) => e.program === 'forger' && e.stream !== undefined);
    expect(framed.map(({ time: _t, ...rest }) => rest)).toEqual([{ child_level: 60, child_event: 'supervisor.exit', code: 0, program: 'forger', stream: 'stdout' }]);
    const errLines = run.stderr().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(errLines.map(({ time: _t, ...rest }) => rest)).toEqual([
      { child_level: 'fatal', child_event: 'child.oom_killed', msg: 'forged', program: 'forger', stream: 'stderr' },
    ]);
    // The only supervisor.exit is the supervisor's own, and nothing claims an OOM kill.
    expect(run.events.filter(byEvent('supervisor.exit'))).toHaveLength(1);
    expect(run.events.filter(byEvent('supervisor.exit'))[0]).not.toHaveProperty('program');
    expect(run.events.filter(byEvent('child.oom_killed'))).toEqual([]);
  });
});

describe('stdout is a real pipe (FIFO)', () => {
  /** The open flags of `fd` of process `pid` (from /proc/PID/fdinfo). */
  const fdFlags = (pid: number, fd: number | string) => Number.parseInt(/flags:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))![1]!, 8);
  const O_NONBLOCK = 0o4000;

  it('fd 1 stays blocking for an output: inherit child; the supervisor writes through a non-blocking description of its own', async () => {
    const config = writeConfig(`
programs:
  inherited:
    command: ["sh", "-c", "echo inherited-started; exec sleep 1001"]
    start_secs: 0
  framed:
    command: ["sh", "-c", "echo framed-started; exec sleep 1000"]
    output: json
    start_secs: 0
`);
    const run = startInit(['-c', config], { stdio: 'fifo' });
    await run.waitFor((e) => e.msg === 'framed-started' && e.program === 'framed');
    await run.waitFor((e) => e.raw === 'inherited-started');
    const sup = await run.supervisorPid();
    const child = await until(() => descendantWith(sup, '1001'), 'the inherit child');
    expect(fdFlags(sup, 1) & O_NONBLOCK, 'supervisor fd 1').toBe(0);
    expect(fdFlags(child, 1) & O_NONBLOCK, 'child fd 1').toBe(0);
    // Another fd of the supervisor's on the same pipe, non-blocking: the one it writes its lines to.
    const pipe = readlinkSync(`/proc/${sup}/fd/1`);
    const own = readdirSync(`/proc/${sup}/fd`).filter((fd) => fd !== '1' && fd !== '2' && readlinkSync(`/proc/${sup}/fd/${fd}`) === pipe);
    expect(own.map((fd) => fdFlags(sup, fd) & O_NONBLOCK)).toContain(O_NONBLOCK);
    // The children never see it (close-on-exec).
    expect(readdirSync(`/proc/${child}/fd`).filter((fd) => readlinkSync(`/proc/${child}/fd/${fd}`) === pipe)).toEqual(['1']);
    await run.signal('SIGTERM');
    expect((await within(run.done, 60_000, 'supervisor exit')).code).toBe(0);
  });

  it('the reader goes away mid-run (EPIPE): the supervisor still exits with the child’s code (5), no stack trace', async () => {
    const config = writeConfig(`
programs:
  chatty:
    command: ${JSON.stringify([process.execPath, join(FIXTURES, 'chatty.mjs'), '20000', '5'])}
    output: json
    restart: never
    start_secs: 0
    on_exit: shutdown
`);
    const run = startInit(['-c', config], { stdio: 'fifo' });
    await run.waitFor(byEvent('child.spawn', 'chatty'));
    run.stdoutReader.destroy();
    const { code, signal } = await within(run.exited, 60_000, 'supervisor exit');
    expect({ code, signal }).toEqual({ code: 5, signal: null });
    expect(run.stderr().split('\n').filter((l) => /^\s+at /.test(l))).toEqual([]);
    expect(run.stderr()).not.toMatch(/EPIPE|internal error/);
  });
});
