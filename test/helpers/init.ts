// Runs the built bundle (dist/supervisor.mjs) for real: as PID 1 of a new PID
// namespace (`unshare --pid --fork --mount-proc`) or as a plain process, and
// collects its JSON log lines. Signals are sent to the supervisor's host pid,
// the way `docker kill` / the kubelet reach a container's PID 1.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BUNDLE = join(ROOT, 'dist/supervisor.mjs');
export const FIXTURES = join(ROOT, 'test/fixtures');

export interface LogEvent {
  event?: string;
  program?: string;
  [k: string]: unknown;
}

export interface InitRun {
  proc: ChildProcess;
  /**
   * Parsed JSON lines of the supervisor's log: stdout in config mode (events and
   * framed child output), stderr in single-command mode (its events; stdout is the command's).
   */
  events: LogEvent[];
  stdout(): string;
  stderr(): string;
  /** The supervisor's pid as seen from the host. */
  supervisorPid(): Promise<number>;
  signal(sig: NodeJS.Signals): Promise<void>;
  /** Resolves with the first event matching, or rejects after timeoutMs. */
  waitFor(pred: (e: LogEvent) => boolean, timeoutMs?: number, what?: string): Promise<LogEvent>;
  /** Resolves when `count` events match. */
  waitForCount(pred: (e: LogEvent) => boolean, count: number, timeoutMs?: number): Promise<LogEvent[]>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Like `exited`, but also waits until stdout and stderr were read to the end (so `events` is complete). */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Whether this run is PID 1 of its own PID namespace. */
  pid1: boolean;
  /** The stream stdout is read from (pause() it to stop reading). */
  stdoutReader: Readable;
}

export interface InitOptions {
  /** Run as PID 1 of a new PID namespace (default true). */
  pid1?: boolean;
  env?: Record<string, string>;
  cwd?: string;
  /**
   * stdout handling: 'pipe' (default) collects events through Node's stdio pipe
   * (a socketpair); 'fifo' does the same through a real pipe (a FIFO, what
   * container runtimes give), read through `InitRun.stdoutReader`.
   */
  stdio?: 'pipe' | 'fifo';
  /** Start inside this cgroup directory (written to its cgroup.procs before exec) instead of the suite's sandbox. */
  cgroup?: string;
  /**
   * Where the supervisor's log lines are read from. Default: stderr in
   * single-command mode (args hold `--`), else stdout. In single-command mode
   * the command's own JSON lines on stdout (fixtures' `ready` lines) are
   * collected too; a supervisor event found on stdout is collected only as
   * `{ misplaced_on_stdout }`, so no wait for it can succeed.
   */
  events?: 'stdout' | 'stderr';
  /** The bundle to run (default dist/supervisor.mjs), e.g. in a copy of dist/. */
  bundle?: string;
  /** The command that runs the bundle (default: this Node), e.g. an emulator and another Node. */
  node?: string[];
}

/** A FIFO's read end (non-blocking, as a stream) and a write end to hand to a child. */
function fifoPipe(): { reader: Socket; writeFd: number } {
  const path = join(tempDir('sv-fifo-'), 'stdout.fifo');
  execFileSync('mkfifo', [path]);
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeFd = openSync(path, constants.O_WRONLY);
  return { reader: new Socket({ fd: readFd, readable: true, writable: false }), writeFd };
}

export function tempDir(prefix = 'sv-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes a supervisor.yaml into a fresh temp dir; returns its path. */
export function writeConfig(yaml: string, dir = tempDir()): string {
  const file = join(dir, 'supervisor.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** Runs started by startInit whose process has not exited yet (see killAllRuns). */
const liveRuns = new Set<InitRun>();

export function startInit(args: string[], options: InitOptions = {}): InitRun {
  const pid1 = options.pid1 ?? true;
  const bundle = options.bundle ?? BUNDLE;
  const node = options.node ?? [process.execPath];
  const init = pid1 ? ['unshare', '--pid', '--fork', '--mount-proc', ...node, bundle, ...args] : [...node, bundle, ...args];
  // Inside the given cgroup, or the suite's own memory cgroup (cgroup-sandbox.setup.ts), so
  // leaf cgroups a SIGKILLed supervisor could not remove are removed at the end of the run.
  const argv = options.cgroup
    ? ['/bin/sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', options.cgroup, ...init]
    : process.env.SV_TEST_CGROUP
      ? ['/bin/sh', '-c', 'echo $$ > "$0/cgroup.procs" 2>/dev/null; exec "$@"', process.env.SV_TEST_CGROUP, ...init]
      : init;
  const fifo = options.stdio === 'fifo' ? fifoPipe() : undefined;
  const proc = spawn(argv[0]!, argv.slice(1), {
    cwd: options.cwd ?? ROOT,
    // A control socket of its own per run (PID 1's default, /run/supervisor.sock, is the host's here).
    env: { ...process.env, SUPERVISOR_CONFIG: '', SUPERVISOR_SOCKET: join(tempDir('sv-sock-'), 'supervisor.sock'), ...options.env },
    stdio: ['ignore', fifo ? fifo.writeFd : 'pipe', 'pipe'],
  });
  if (fifo) closeSync(fifo.writeFd);
  const stdoutReader: Readable = fifo ? fifo.reader : proc.stdout!;
  stdoutReader.on('error', () => {});
  const events: LogEvent[] = [];
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const eventsFrom = options.events ?? (args.includes('--') ? 'stderr' : 'stdout');
  const lineReader = (fromCommand: boolean) => {
    let tail = '';
    return (chunk: string) => {
      const lines = (tail + chunk).split('\n');
      tail = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        let parsed: LogEvent;
        try {
          parsed = JSON.parse(line) as LogEvent;
        } catch {
          if (!fromCommand) events.push({ raw: line });
          continue;
        }
        const supervisorLine = typeof parsed.event === 'string' && typeof parsed.level === 'string';
        events.push(fromCommand && supervisorLine ? { misplaced_on_stdout: line } : parsed);
      }
      for (const w of waiters) w();
    };
  };
  const parseStdout = lineReader(eventsFrom === 'stderr');
  const parseStderr = eventsFrom === 'stderr' ? lineReader(false) : undefined;
  stdoutReader.setEncoding('utf8');
  stdoutReader.on('data', (chunk: string) => {
    out += chunk;
    parseStdout(chunk);
  });
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (chunk: string) => {
    err += chunk;
    parseStderr?.(chunk);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    proc.on('exit', (code, signal) => {
      for (const w of waiters) w();
      res({ code, signal });
    }),
  );
  // stdout may still hold lines when 'exit' fires: waiters give up only once it
  // was read to the end (a leftover process holding the pipe just means a timeout).
  const streamEnded = (s: NodeJS.ReadableStream & { readableEnded?: boolean; destroyed?: boolean }) =>
    new Promise<void>((res) => {
      if (s.readableEnded || s.destroyed) return res();
      s.once('end', () => res());
      s.once('close', () => res());
    });
  // A process left behind that still holds the pipes must not hang the test: give up waiting 10 s after the exit.
  const outputRead = Promise.all([streamEnded(stdoutReader), streamEnded(proc.stderr!)]);
  const done = exited.then((status) =>
    Promise.race([outputRead, new Promise<void>((r) => setTimeout(r, 10_000).unref())]).then(() => status),
  );
  let exitedFlag = false;
  void done.then(() => {
    exitedFlag = true;
    for (const w of waiters) w();
  });

  const waitForCount = (pred: (e: LogEvent) => boolean, count: number, timeoutMs = 30_000) =>
    new Promise<LogEvent[]>((res, rej) => {
      const check = () => {
        const hits = events.filter(pred);
        if (hits.length >= count) {
          cleanup();
          res(hits);
          return true;
        }
        if (exitedFlag) {
          cleanup();
          rej(new Error(`supervisor exited before ${count} matching events; got ${hits.length}\nstdout:\n${out}\nstderr:\n${err}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        rej(new Error(`timed out after ${timeoutMs} ms waiting for ${count} events; got ${events.filter(pred).length}\nstdout:\n${out}\nstderr:\n${err}`));
      }, timeoutMs);
      const waiter = () => void check();
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(waiter);
      };
      if (!check()) waiters.add(waiter);
    });

  let hostPid: number | undefined;
  const supervisorPid = async (): Promise<number> => {
    if (!pid1) return proc.pid!;
    if (hostPid !== undefined) return hostPid;
    // unshare --fork: the supervisor is unshare's only child.
    for (let i = 0; i < 500; i++) {
      try {
        const kids = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8').trim();
        if (kids) return (hostPid = Number(kids.split(' ')[0]));
      } catch {
        // not there yet
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('supervisor pid not found');
  };

  const run: InitRun = {
    proc,
    events,
    stdout: () => out,
    stderr: () => err,
    supervisorPid,
    async signal(sig) {
      process.kill(await supervisorPid(), sig);
    },
    waitFor: (pred, timeoutMs, _what) => waitForCount(pred, 1, timeoutMs).then((hits) => hits[0]!),
    waitForCount,
    exited,
    done,
    pid1,
    stdoutReader,
  };
  liveRuns.add(run);
  void exited.then(() => liveRuns.delete(run));
  return run;
}

// ---- /proc, seen from the host ----------------------------------------------

/** Direct children of `pid` (every thread's children file). */
export function hostChildrenOf(pid: number): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out = new Set<number>();
  for (const tid of tids) {
    try {
      for (const w of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) if (w) out.add(Number(w));
    } catch {
      // thread gone
    }
  }
  return [...out];
}

/** Every process below `pid` (host pids), parents first. */
export function hostDescendantsOf(pid: number): number[] {
  const out: number[] = [];
  const seen = new Set<number>();
  const queue = hostChildrenOf(pid);
  while (queue.length > 0) {
    const p = queue.shift()!;
    if (seen.has(p)) continue;
    seen.add(p);
    out.push(p);
    queue.push(...hostChildrenOf(p));
  }
  return out;
}

/** The state letter of /proc/<pid>/stat (R, S, Z...), or undefined when the process is gone. */
export function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** Zombies among the descendants of `pid`. */
export function zombiesUnder(pid: number): number[] {
  return hostDescendantsOf(pid).filter((p) => procState(p) === 'Z');
}

// ---- cleanup ----------------------------------------------------------------

/**
 * SIGKILLs a run and everything it started. As PID 1, killing the supervisor
 * kills its whole PID namespace; otherwise its descendants are killed first
 * (they would be re-parented away once it is gone).
 */
export async function killRun(run: InitRun): Promise<void> {
  if (run.proc.exitCode === null && run.proc.signalCode === null) {
    let pid: number | undefined;
    try {
      pid = run.pid1 ? await Promise.race([run.supervisorPid(), new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000))]) : run.proc.pid;
    } catch {
      pid = undefined;
    }
    const victims = pid === undefined ? [] : run.pid1 ? [pid] : [...hostDescendantsOf(pid), pid];
    for (const p of victims) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    if (run.pid1) run.proc.kill('SIGKILL');
  }
  await run.exited;
}

/** For afterEach: kills every run that is still going. */
export async function killAllRuns(): Promise<void> {
  await Promise.all([...liveRuns].map((run) => killRun(run)));
}

/** Runs to completion; returns exit status and events. */
export async function runInit(args: string[], options: InitOptions = {}, timeoutMs = 60_000) {
  const run = startInit(args, options);
  const timer = setTimeout(() => void killRun(run), timeoutMs);
  const status = await run.done;
  clearTimeout(timer);
  return { ...status, events: run.events, stdout: run.stdout(), stderr: run.stderr() };
}

export const byEvent = (name: string, program?: string) => (e: LogEvent) => e.event === name && (program === undefined || e.program === program);
