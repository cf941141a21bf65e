// The first hour of a new user (issue 13), as a test: the README's quick start
// on a terminal (the bundled example, a request to its web program, Ctrl-C),
// single-command mode, and `validate` on a broken file. It fails on any line a
// person would stumble over: a stack trace, a warning on a normal start, raw
// JSON on a terminal in pretty mode, events out of order.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLE, FIXTURES, ROOT, runInit, tempDir } from '../helpers/init.js';
import { stackLines } from './support.js';

interface PtyResult {
  output: string;
  status: number | null;
  timed_out: boolean;
  waited_for: string | null;
  http: Array<{ status?: number; body?: string; error?: string }>;
}
type Step = { wait: string; timeout?: number; anywhere?: boolean } | { send: string } | { http: string };

function onPty(steps: Step[], argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<PtyResult> {
  return new Promise((res, rej) =>
    execFile('python3', [join(FIXTURES, 'pty-run.py'), JSON.stringify(steps), '--', ...argv], { timeout: 120_000, env }, (err, stdout, stderr) => {
      if (err) return rej(new Error(`pty-run failed: ${err.message}\n${stderr}`));
      res(JSON.parse(stdout) as PtyResult);
    }),
  );
}

/** The terminal's lines as a person sees them: no colours, no carriage returns. */
const screenLines = (output: string) =>
  output
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\[[0-9;]*m/g, '')
    .split(/\r?\n/)
    .map((l) => l.replace(/\r/g, ''))
    .filter((l) => l.trim() !== '');

/** A supervisor line of the pretty format: time, level, who, what. */
const PRETTY_EVENT = /^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) /;

/** What a person stumbles over, one message per offending line. */
function stumbles(lines: string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    if (/^\s+at /.test(line)) out.push(`stack trace: ${line}`);
    if (/^\S+ (WARN |ERROR|FATAL)/.test(line)) out.push(`warning on a normal run: ${line}`);
    if (/^\s*[{[]/.test(line) || line.includes('"event":') || line.includes('{"')) out.push(`raw JSON on a terminal: ${line}`);
    if (PRETTY_EVENT.test(line) && line.length > 160) out.push(`a line too long to read at a glance (${line.length} chars): ${line}`);
  }
  return out;
}

/** Asserts that each of `texts` appears on the screen after the one before it. */
function expectInOrder(lines: string[], texts: string[]): void {
  let from = 0;
  for (const text of texts) {
    const at = lines.findIndex((l, i) => i >= from && l.includes(text));
    expect(at, `"${text}" after line ${from}, in:\n${lines.join('\n')}`).toBeGreaterThanOrEqual(0);
    from = at + 1;
  }
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.on('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => res(port));
    });
  });
}

const CTRL_C = '\u0003';
const supervisor = (...args: string[]) => [process.execPath, BUNDLE, ...args];

describe('the first hour', () => {
  it('npm run example on a terminal: readable lines in order, a request answered, Ctrl-C stops it in order, nothing to stumble over', async () => {
    // The bundled example as the README runs it, on a free port (8080 may be taken) and
    // with the flaky job told to succeed, so what it shows does not depend on chance.
    const port = await freePort();
    const probePort = await freePort();
    const dir = tempDir('sv-first-hour-');
    const example = readFileSync(join(ROOT, 'examples/supervisor.yaml'), 'utf8');
    const config = example
      .replaceAll('8080', String(port))
      .replace('0.0.0.0:9090', `127.0.0.1:${probePort}`)
      .replace('cwd: .', `cwd: ${JSON.stringify(join(ROOT, 'examples'))}`);
    expect(config).not.toBe(example);
    writeFileSync(join(dir, 'supervisor.yaml'), config);
    const r = await onPty(
      [
        { wait: `web: listening on http://localhost:${port}` },
        { wait: 'worker started' },
        { http: `http://127.0.0.1:${port}/first-hour` },
        // The example's probe endpoints: web's readiness probe passed, so the pod would be ready.
        { wait: 'web is ready', anywhere: true },
        { http: `http://127.0.0.1:${probePort}/readyz` },
        { wait: 'GET /first-hour' },
        { wait: 'processed batch' },
        // flaky-job runs beside the others: its exit may come before or after any of the above.
        { wait: 'flaky-job exited with code 0', anywhere: true },
        { send: CTRL_C },
        { wait: 'exiting with code 0' },
      ],
      supervisor('-c', join(dir, 'supervisor.yaml')),
      { ...process.env, FAILURE_RATE: '0', SUPERVISOR_CONFIG: '' },
    );
    const lines = screenLines(r.output);
    const screen = `${lines.join('\n')}\nhttp: ${JSON.stringify(r.http)}${r.waited_for === null ? '' : `\ntimed out waiting for: ${r.waited_for}`}`;
    expect(r.timed_out, screen).toBe(false);
    expect(r.status, screen).toBe(0);
    expect(r.http, screen).toEqual([
      { status: 200, body: expect.stringContaining('hello from supervisor example') },
      { status: 200, body: expect.stringContaining('ready: web') },
    ]);
    expect(stumbles(lines), screen).toEqual([]);
    // The pretty format: a program's lines carry its pid, the supervisor's own say so.
    expect(lines.find((l) => l.includes('started web')), screen).toMatch(/ INFO {2}web \(\d+\) started web$/);
    expect(lines.find((l) => l.includes('starting 3 program(s)')), screen).toMatch(/ INFO {2}supervisor supervisor \S+ starting 3 program\(s\)/);
    // Events in the order they happened. web starts first; worker waits for it (depends_on);
    // worker's framed lines come after its start; Ctrl-C stops worker, then web. (Not
    // asserted: web's own first line against "started web" — an `output: inherit` program
    // writes to the terminal itself, and nothing orders that against the supervisor's line.)
    expectInOrder(lines, ['starting 3 program(s)', 'started web', 'web is running', 'started worker', 'worker | worker started', 'worker | processed batch']);
    expectInOrder(lines, ['received SIGINT', 'stopping worker', 'worker exited with code 0', 'stopping web', 'web exited with code 0', 'exiting with code 0']);
    expectInOrder(lines, ['stopping worker', 'worker | worker stopping']);
  });

  it('single-command mode: stdout is the command’s output only; the supervisor is quiet when all is well', async () => {
    const piped = await runInit(['--', 'sh', '-c', 'echo out; echo err >&2; exit 3'], { pid1: false });
    expect(piped.code).toBe(3);
    expect(piped.stdout).toBe('out\n');
    expect(piped.stderr).toBe('err\n');
    // On a terminal: exactly the command's line.
    const tty = await onPty([], supervisor('--', 'echo', 'hello'));
    expect(tty.timed_out).toBe(false);
    expect(tty.status).toBe(0);
    expect(screenLines(tty.output)).toEqual(['hello']);
    // Asked for more, on a terminal: readable lines, the spawn before the command's output
    // (the command starts through the foreground shim, which execs it only once the
    // supervisor has written child.spawn: not a race). Three runs: any one out of order fails.
    for (let run = 0; run < 3; run++) {
      const info = await onPty([], supervisor('--log-level', 'info', '--log-format', 'pretty', '--', 'echo', 'hello'));
      const lines = screenLines(info.output);
      expect(stumbles(lines), lines.join('\n')).toEqual([]);
      expectInOrder(lines, ['starting 1 program(s)', 'started echo', 'hello', 'echo exited with code 0', 'exiting with code 0']);
      expect(lines.filter((l) => l === 'hello')).toHaveLength(1);
      expect(lines.find((l) => l.includes('started echo'))).toMatch(/ INFO {2}echo \(\d+\) started echo$/);
    }
  });

  it('validate on a broken file: one line per problem with its place and a hint, exit 2; a directory is one line', async () => {
    const dir = tempDir('sv-first-hour-');
    const file = join(dir, 'supervisor.yaml');
    writeFileSync(file, 'log:\n  levle: debug\nprograms:\n  web:\n    comand: node web.mjs\n    restart: alwys\n  nap:\n    command: [sleep, 5]\n  none:\n    command: []\n');
    const r = await runInit(['validate', '-c', file], { pid1: false });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(stackLines(r.stderr)).toEqual([]);
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      `${file}:2:3: log.levle: unknown key "levle" (did you mean "level"?)`,
      `${file}:4:3: programs.web.command: missing required field`,
      `${file}:5:5: programs.web.comand: unknown key "comand" (did you mean "command"?)`,
      `${file}:6:14: programs.web.restart: expected one of always, on-failure, never, got "alwys" (did you mean "always"?)`,
      `${file}:10:14: programs.none.command: must name a program to run, got an empty list`,
    ]);
    const sub = join(dir, 'conf.d');
    mkdirSync(sub);
    const d = await runInit(['validate', '-c', sub], { pid1: false });
    expect(d.code).toBe(2);
    expect(d.stderr).toBe(`${sub} is a directory, not a config file: give the file itself (e.g. ${join(sub, 'supervisor.yaml')})\n`);
    // -g belongs to single-command mode: with a config it is an error, not ignored.
    const g = await runInit(['-g', '-c', join(ROOT, 'examples/supervisor.yaml')], { pid1: false });
    expect(g.code).toBe(2);
    expect(g.stderr).toMatch(/^supervisor: -g\/--process-group is for single-command mode/);
    expect(g.stdout).toBe('');
  });
});
