// The control socket: a Unix socket (0600, the supervisor's user) that answers
// `supervisor status|start|stop|restart|signal|probe`. Requests that change
// state go to the supervisor's own methods, which feed its queue; nothing here
// touches a program directly. A stale socket of a dead supervisor is replaced;
// a live one is left alone (and this supervisor runs without a socket).
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import type { ControlResult } from '../supervision/supervisor.js';
import { MAX_REQUEST_BYTES, parseRequest, type ControlRequest, type ControlResponse } from './protocol.js';
import type { CheckName, CheckResult, SupervisorStatus } from './status.js';

/** What the socket may ask of the supervisor. */
export interface ControlTarget {
  status(): SupervisorStatus;
  check(name: CheckName): Promise<CheckResult>;
  start(program: string): ControlResult;
  stop(program: string): ControlResult;
  restart(program: string): ControlResult;
  signal(program: string, signal: string): ControlResult;
  /** Each state-changing request, for the log. */
  requested(req: ControlRequest, result: ControlResult): void;
}

export interface ControlServer {
  readonly path: string;
  close(): void;
}

/** True when something answers on the socket (another supervisor). */
function alive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

async function handle(target: ControlTarget, req: ControlRequest): Promise<ControlResponse> {
  switch (req.cmd) {
    case 'status': {
      const status = target.status();
      return { ok: true, message: `${status.programs.length} program(s)`, status };
    }
    case 'probe': {
      const r = await target.check(req.check);
      return { ok: r.ok, message: r.reason };
    }
    default: {
      const result =
        req.cmd === 'signal' ? target.signal(req.program, req.signal) : req.cmd === 'start' ? target.start(req.program) : req.cmd === 'stop' ? target.stop(req.program) : target.restart(req.program);
      target.requested(req, result);
      return result;
    }
  }
}

function serve(target: ControlTarget, conn: Socket): void {
  let buf = '';
  let answered = false;
  conn.setEncoding('utf8');
  conn.on('error', () => {});
  const timer = setTimeout(() => conn.destroy(), 10_000);
  timer.unref();
  const answer = (r: ControlResponse) => {
    if (answered) return;
    answered = true;
    clearTimeout(timer);
    conn.end(`${JSON.stringify(r)}\n`);
  };
  conn.on('data', (chunk: string) => {
    if (answered) return;
    buf += chunk;
    const nl = buf.indexOf('\n');
    if (nl < 0) {
      if (buf.length > MAX_REQUEST_BYTES) answer({ ok: false, message: 'request too long' });
      return;
    }
    const req = parseRequest(buf.slice(0, nl));
    if (typeof req === 'string') return answer({ ok: false, message: req });
    handle(target, req).then(answer, (e: unknown) => answer({ ok: false, message: `internal error: ${e instanceof Error ? e.message : String(e)}` }));
  });
  conn.on('close', () => clearTimeout(timer));
}

/** Opens the socket; resolves with the server, or with a reason it could not. */
export async function startControlServer(path: string, target: ControlTarget): Promise<ControlServer | { error: string }> {
  let existing = false;
  try {
    existing = lstatSync(path) !== undefined;
  } catch {
    // nothing there
  }
  if (existing) {
    if (!lstatSync(path).isSocket()) return { error: `${path} exists and is not a socket` };
    if (await alive(path)) return { error: `${path} is in use by another process` };
    try {
      unlinkSync(path);
    } catch (e) {
      return { error: `cannot remove the stale socket ${path}: ${e instanceof Error ? e.message : String(e)}` };
    }
  }
  const server: Server = createServer({ allowHalfOpen: true }, (conn) => serve(target, conn));
  // Created 0600: no window in which another user could connect. Node binds
  // inside listen() itself, so the umask is back before any child can inherit it.
  const listening = new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const oldMask = process.umask(0o177);
  try {
    server.listen(path);
  } finally {
    process.umask(oldMask);
  }
  try {
    await listening;
  } catch (e) {
    return { error: `cannot listen on ${path}: ${e instanceof Error ? e.message : String(e)}` };
  }
  chmodSync(path, 0o600);
  server.on('error', () => {});
  server.unref();
  return {
    path,
    close() {
      server.close();
      try {
        unlinkSync(path);
      } catch {
        // gone already
      }
    },
  };
}
