// The client side of `supervisor status|start|stop|restart|signal|probe`: sends
// one request over the control socket and prints the answer (a table, one line,
// or JSON with --json). Exit codes (README "Control commands"): 0 done, 1
// refused or check failed, 3 no supervisor reachable, 4 permission denied.
import { createConnection } from 'node:net';
import type { ControlRequest, ControlResponse } from './protocol.js';
import type { ProgramStatus, SupervisorStatus } from './status.js';
import { clientSocketPaths } from './socket-path.js';

export const EXIT_REFUSED = 1;
export const EXIT_NO_SUPERVISOR = 3;
export const EXIT_DENIED = 4;

export interface ClientOptions {
  socket?: string;
  json: boolean;
  env: NodeJS.ProcessEnv;
  out: (text: string) => void;
  err: (text: string) => void;
}

class Unreachable extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

function ask(path: string, req: ControlRequest, timeoutMs: number): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Unreachable(`the supervisor at ${path} did not answer within ${timeoutMs / 1000} s`, EXIT_REFUSED));
    }, timeoutMs);
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(`${JSON.stringify(req)}\n`));
    conn.on('data', (c: string) => (buf += c));
    conn.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf) as ControlResponse);
      } catch {
        reject(new Unreachable(`the supervisor at ${path} sent no answer`, EXIT_REFUSED));
      }
    });
    conn.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'EACCES' || e.code === 'EPERM') reject(new Unreachable(`permission denied on ${path}: run this as the supervisor's user`, EXIT_DENIED));
      else if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'ENOTSOCK') reject(new Unreachable(`no supervisor running (nothing listens on ${path})`, EXIT_NO_SUPERVISOR));
      else reject(new Unreachable(`cannot reach the supervisor at ${path}: ${e.code ?? e.message}`, EXIT_NO_SUPERVISOR));
    });
  });
}

function mib(bytes: number | null): string {
  return bytes === null ? '-' : `${(bytes / 1048576).toFixed(1)}Mi`;
}

function duration(ms: number | null): string {
  if (ms === null) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function phaseText(p: ProgramStatus): string {
  return p.held ? `${p.phase} (held)` : p.blocked ? `${p.phase} (blocked)` : p.phase;
}

/** The human table of `supervisor status`. */
export function statusTable(s: SupervisorStatus): string {
  const rows = [
    ['NAME', 'PHASE', 'PID', 'READY', 'RESTARTS', 'UPTIME', 'MEMORY', 'LAST EXIT'],
    ...s.programs.map((p) => [
      p.name + (p.critical ? '*' : ''),
      phaseText(p),
      p.pid === null ? '-' : String(p.pid),
      p.ready ? 'yes' : 'no',
      String(p.restarts),
      duration(p.uptime_ms),
      p.memory.cap_bytes === null ? mib(p.memory.used_bytes) : `${mib(p.memory.used_bytes)}/${mib(p.memory.cap_bytes)}`,
      p.last_exit ? (p.last_exit.signal ?? `code ${p.last_exit.code}`) : '-',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
  return `${lines.join('\n')}\nsupervisor pid ${s.pid}, up ${duration(s.uptime_ms)}${s.shutting_down ? ', shutting down' : ''}${s.programs.some((p) => p.critical) ? ' (* critical)' : ''}\n`;
}

/** Runs one command; returns the exit code. */
export async function runControl(req: ControlRequest, o: ClientOptions): Promise<number> {
  const paths = clientSocketPaths(o.socket, o.env);
  let last: Unreachable | undefined;
  for (const path of paths) {
    let res: ControlResponse;
    try {
      res = await ask(path, req, 10_000);
    } catch (e) {
      last = e instanceof Unreachable ? e : new Unreachable(String(e), EXIT_NO_SUPERVISOR);
      // Only "nothing here" moves on to the next place; a denied or silent socket is the answer.
      if (last.exitCode === EXIT_NO_SUPERVISOR) continue;
      break;
    }
    if (o.json) o.out(`${JSON.stringify(res.status ?? { ok: res.ok, message: res.message })}\n`);
    else if (res.status) o.out(statusTable(res.status));
    else (res.ok ? o.out : o.err)(`${res.message}\n`);
    return res.ok ? 0 : EXIT_REFUSED;
  }
  const e = last ?? new Unreachable('no supervisor running', EXIT_NO_SUPERVISOR);
  if (e.exitCode === EXIT_NO_SUPERVISOR && paths.length > 1) e.message = `no supervisor running (nothing listens on ${paths.join(' or ')})`;
  if (o.json) o.out(`${JSON.stringify({ ok: false, message: e.message })}\n`);
  o.err(`supervisor: ${e.message}\n`);
  return e.exitCode;
}
