// Runs the built bundle (dist/supervisor.mjs) for real: as PID 1 of a new PID
// namespace (`unshare --pid --fork --mount-proc`) or as a plain process, and
// collects its JSON log lines. Signals are sent to the supervisor's host pid,
// the way `docker kill` / the kubelet reach a container's PID 1.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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
  /** Parsed JSON lines from stdout (supervisor events and framed child output). */
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
}

export interface InitOptions {
  /** Run as PID 1 of a new PID namespace (default true). */
  pid1?: boolean;
  env?: Record<string, string>;
  cwd?: string;
  /** stdout handling: 'pipe' (default) collects events. */
  stdio?: 'pipe';
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

export function startInit(args: string[], options: InitOptions = {}): InitRun {
  const pid1 = options.pid1 ?? true;
  const argv = pid1 ? ['unshare', '--pid', '--fork', '--mount-proc', process.execPath, BUNDLE, ...args] : [process.execPath, BUNDLE, ...args];
  const proc = spawn(argv[0]!, argv.slice(1), {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, SUPERVISOR_CONFIG: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: LogEvent[] = [];
  let out = '';
  let err = '';
  let tail = '';
  const waiters = new Set<() => void>();
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (chunk: string) => {
    out += chunk;
    const lines = (tail + chunk).split('\n');
    tail = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        events.push(JSON.parse(line) as LogEvent);
      } catch {
        events.push({ raw: line });
      }
    }
    for (const w of waiters) w();
  });
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    proc.on('exit', (code, signal) => {
      for (const w of waiters) w();
      res({ code, signal });
    }),
  );
  let exitedFlag = false;
  void exited.then(() => (exitedFlag = true));

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

  const supervisorPid = async (): Promise<number> => {
    if (!pid1) return proc.pid!;
    // unshare --fork: the supervisor is unshare's only child.
    for (let i = 0; i < 500; i++) {
      try {
        const kids = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8').trim();
        if (kids) return Number(kids.split(' ')[0]);
      } catch {
        // not there yet
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('supervisor pid not found');
  };

  return {
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
  };
}

/** Runs to completion; returns exit status and events. */
export async function runInit(args: string[], options: InitOptions = {}, timeoutMs = 60_000) {
  const run = startInit(args, options);
  const timer = setTimeout(() => run.proc.kill('SIGKILL'), timeoutMs);
  const status = await run.exited;
  clearTimeout(timer);
  return { ...status, events: run.events, stdout: run.stdout(), stderr: run.stderr() };
}

export const byEvent = (name: string, program?: string) => (e: LogEvent) => e.event === name && (program === undefined || e.program === program);
