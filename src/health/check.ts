// The OS edge of the probes: runs one exec, http or tcp check and reports
// success or failure with a short reason. An exec check runs in its own process
// group and is SIGKILLed as a group at its timeout (and its leftovers when it
// exits), so a probe never leaves a process behind; libuv reaps the probe itself
// (its pid is registered so the orphan reaper leaves it alone), the reaper
// collects the rest of its group.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import type { ProbeCheck, ProgramPlan } from '../plan/types.js';
import { trackSpawnedChild } from '../process/spawn.js';
import type { ProbeResult } from './probe-state.js';

/** The most of a probe's output kept (its end): the probe's last words, for child.unhealthy. */
export const OUTPUT_KEEP_CHARS = 512;

export interface RunningCheck {
  result: Promise<ProbeResult>;
  /** Abandon the check now (a stop or a shutdown began): kills an exec probe's group. */
  cancel(): void;
}

/** The last OUTPUT_KEEP_CHARS of `text`, whitespace trimmed; undefined when empty. */
export function trimOutput(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  return trimmed.length > OUTPUT_KEEP_CHARS ? `…${trimmed.slice(-OUTPUT_KEEP_CHARS)}` : trimmed;
}

export function runCheck(check: Exclude<ProbeCheck, { kind: 'log' }>, program: ProgramPlan, timeoutMs: number, now: () => number = Date.now): RunningCheck {
  switch (check.kind) {
    case 'exec':
      return execCheck(check.argv, program, timeoutMs, now);
    case 'http':
      return httpCheck(check.url, timeoutMs, now);
    case 'tcp':
      return tcpCheck(check.host, check.port, timeoutMs, now);
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // the group is gone
  }
}

function execCheck(argv: string[], program: ProgramPlan, timeoutMs: number, now: () => number): RunningCheck {
  const started = now();
  let output = '';
  let timedOut = false;
  let cancelled = false;
  let cancel = () => {};
  const result = new Promise<ProbeResult>((resolve) => {
    const done = (ok: boolean, error?: string) => resolve({ ok, ...(error ? { error } : {}), ...optional('output', trimOutput(output)), durationMs: now() - started });
    let child;
    try {
      child = spawn(argv[0]!, argv.slice(1), {
        cwd: program.cwd,
        env: program.env,
        uid: program.uid,
        gid: program.gid,
        detached: true, // its own process group: killed whole at the timeout
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (e) {
      done(false, (e as NodeJS.ErrnoException).code ?? 'spawn failed');
      return;
    }
    const pid = child.pid;
    if (pid === undefined) {
      // Never err.message: Node's text can quote argv.
      child.once('error', (err: NodeJS.ErrnoException) => done(false, err.code ?? 'spawn failed'));
      return;
    }
    trackSpawnedChild(child);
    child.on('error', () => {});
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-OUTPUT_KEEP_CHARS * 2);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(pid);
    }, timeoutMs);
    cancel = () => {
      cancelled = true;
      killGroup(pid);
    };
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // Whatever it left in its group goes with it; grandchildren holding the pipes must not keep them open.
      killGroup(pid);
      child.stdout!.destroy();
      child.stderr!.destroy();
      if (timedOut) done(false, 'timeout');
      else if (cancelled) done(false, 'cancelled');
      else if (signal) done(false, `signal ${signal}`);
      else done(code === 0, code === 0 ? undefined : `exit ${code}`);
    });
  });
  return { result, cancel: () => cancel() };
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

function httpCheck(url: string, timeoutMs: number, now: () => number): RunningCheck {
  const started = now();
  let abort = () => {};
  const result = new Promise<ProbeResult>((resolve) => {
    let settled = false;
    const done = (ok: boolean, error?: string, output?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ok, ...(error ? { error } : {}), ...optional('output', output === undefined ? undefined : trimOutput(output)), durationMs: now() - started });
    };
    const timer = setTimeout(() => {
      done(false, 'timeout');
      abort();
    }, timeoutMs);
    const secure = url.startsWith('https:');
    // Loaded on first use: a supervisor without http probes never pays for it.
    void (secure ? import('node:https') : import('node:http')).then((mod) => {
      if (settled) return;
      // As Kubernetes: an https probe does not verify the certificate. No keep-alive: nothing lingers between probes.
      const req = mod.get(url, { agent: false, headers: { 'user-agent': 'supervisor-probe', connection: 'close' }, ...(secure ? { rejectUnauthorized: false } : {}) }, (res) => {
        const status = res.statusCode ?? 0;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < OUTPUT_KEEP_CHARS) body += chunk;
          else res.destroy();
        });
        const finish = () => done(status >= 200 && status < 400, status >= 200 && status < 400 ? undefined : `status ${status}`, body);
        res.on('end', finish);
        res.on('close', finish);
        res.on('error', finish);
      });
      req.on('error', (err: NodeJS.ErrnoException) => done(false, err.code ?? 'error'));
      abort = () => req.destroy();
    }, () => done(false, 'http unavailable'));
  });
  return { result, cancel: () => abort() };
}

function tcpCheck(host: string, port: number, timeoutMs: number, now: () => number): RunningCheck {
  const started = now();
  let cancel = () => {};
  const result = new Promise<ProbeResult>((resolve) => {
    const socket = connect({ host, port });
    let settled = false;
    const done = (ok: boolean, error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ok, ...(error ? { error } : {}), durationMs: now() - started });
    };
    const timer = setTimeout(() => done(false, 'timeout'), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', (err: NodeJS.ErrnoException) => done(false, err.code ?? 'error'));
    cancel = () => done(false, 'cancelled');
  });
  return { result, cancel: () => cancel() };
}
