// Output: `output: json` frames each child line with program and stream (a JSON
// line keeps its fields), and a log collector that closes stdout (EPIPE) never
// takes the supervisor down.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { byEvent, FIXTURES, killAllRuns, startInit, writeConfig, type InitOptions } from '../helpers/init.js';
import { stackLines, within } from './support.js';

afterEach(killAllRuns);

/** Starts the supervisor with its stdout a pipe whose read end is closed at once. */
function startWithClosedStdout(args: string[], options: InitOptions) {
  const run = startInit(args, options);
  run.proc.stdout!.destroy();
  return run;
}

describe('stdout closed by the log collector (EPIPE)', () => {
  it('single-command mode: still exits with the child’s code (5), as PID 1 and not', async () => {
    const runs = [false, true].map((pid1) => startWithClosedStdout(['--', 'sh', '-c', 'sleep 1; exit 5'], { pid1 }));
    const results = await Promise.all(runs.map((r) => within(r.done, 60_000, 'supervisor exit')));
    for (const [i, r] of runs.entries()) {
      expect(results[i]).toEqual({ code: 5, signal: null });
      expect(stackLines(r.stderr())).toEqual([]);
      expect(r.stderr()).not.toMatch(/EPIPE|internal error/);
    }
  });

  it('single-command mode, its log (stderr) closed: still exits with the child’s code (5), as PID 1 and not', async () => {
    const runs = [false, true].map((pid1) => {
      const run = startInit(['--log-level', 'debug', '--', 'sh', '-c', 'sleep 1; exit 5'], { pid1 });
      run.proc.stderr!.destroy();
      return run;
    });
    const results = await Promise.all(runs.map((r) => within(r.done, 60_000, 'supervisor exit')));
    for (const [i, r] of runs.entries()) {
      expect(results[i]).toEqual({ code: 5, signal: null });
      // The log never moves to stdout, which is the command's alone.
      expect(r.stdout()).toBe('');
    }
  });

  it('config mode, output: json, a chatty child: still exits with the child’s code (5)', async () => {
    const config = writeConfig(`
programs:
  chatty:
    command: ${JSON.stringify([process.execPath, join(FIXTURES, 'chatty.mjs'), '20000', '5'])}
    output: json
    restart: never
    start_secs: 0
    on_exit: shutdown
`);
    const run = startWithClosedStdout(['-c', config], { pid1: true });
    const { code, signal } = await within(run.done, 60_000, 'supervisor exit');
    expect({ code, signal }).toEqual({ code: 5, signal: null });
    // stderr is still open: the child's stderr lines arrive there, framed, and nothing else.
    const errLines = run.stderr().split('\n').filter(Boolean);
    expect(errLines).toHaveLength(20000);
    expect(errLines.every((l) => /^\{.*"program":"chatty","stream":"stderr"/.test(l))).toBe(true);
    expect(stackLines(run.stderr())).toEqual([]);
  });
});

describe('output: json', () => {
  it('frames each child line with program and stream; a JSON line keeps its own fields', async () => {
    const config = writeConfig(`
programs:
  lines:
    command: ${JSON.stringify([process.execPath, join(FIXTURES, 'output-lines.mjs')])}
    output: json
    restart: never
    start_secs: 0
    on_exit: shutdown
`);
    const run = startInit(['-c', config]);
    const { code } = await within(run.done, 60_000, 'supervisor exit');
    expect(code).toBe(0);
    const framed = run.events.filter((e) => e.event === undefined);
    expect(framed.every((e) => typeof e.time === 'string')).toBe(true);
    expect(framed.map(({ time: _t, ...rest }) => rest)).toEqual([
      { program: 'lines', stream: 'stdout', msg: 'hello plain text' },
      // The child's level is kept as child_level: `level` and `event` are the supervisor's.
      { child_level: 'warn', msg: 'from child', n: 42, nested: { ok: true }, program: 'lines', stream: 'stdout' },
      // The supervisor's program and stream win over the child's.
      { msg: 'clash', program: 'lines', stream: 'stdout' },
      { program: 'lines', stream: 'stdout', msg: '{not json' },
    ]);
    const errLines = run.stderr().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(errLines.map(({ time: _t, ...rest }) => rest)).toEqual([{ program: 'lines', stream: 'stderr', msg: 'oops on stderr' }]);
    expect(run.events.find(byEvent('child.exit', 'lines'))).toMatchObject({ code: 0 });
  });
});

describe('stdout stays blocking', () => {
  // Once anything touches process.stdout (yargs does) Node opens a piped fd 1 as
  // a non-blocking stream; the supervisor's synchronous log writes then met
  // EAGAIN and slept 100 ms each time (output: json ran ~12x slower through a
  // pipe). A child with an inherited stdout hid it (libuv makes a child's stdio
  // blocking, for the shared file description too), so the programs here all use json.
  it('the supervisor writes to a blocking fd 1 when every program is framed (output: json)', async () => {
    const config = writeConfig(`
programs:
  framed:
    command: ["sh", "-c", "echo started; exec sleep 1000"]
    output: json
    start_secs: 0
`);
    for (const pid1 of [false, true]) {
      const run = startInit(['-c', config], { pid1 });
      await run.waitFor((e) => e.msg === 'started' && e.program === 'framed');
      const fdinfo = readFileSync(`/proc/${await run.supervisorPid()}/fdinfo/1`, 'utf8');
      const flags = Number.parseInt(/flags:\s+(\d+)/.exec(fdinfo)![1]!, 8);
      expect(flags & 0o4000, `fd 1 flags ${flags.toString(8)}`).toBe(0);
      await run.signal('SIGTERM');
      expect((await run.done).code).toBe(0);
    }
  });
});
