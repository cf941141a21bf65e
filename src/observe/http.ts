// The read-only HTTP listener for Kubernetes probes and Prometheus: /livez,
// /readyz, /startupz (200 or 503 with a plain-text line saying what failed),
// /status (JSON) and /metrics. GET and HEAD only: nothing here changes state.
// Imported (a chunk of its own) only when `http.listen` is configured.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { runCheck, type CheckName, type LoopHealth, type SupervisorStatus } from '../control/status.js';
import type { Metrics, MetricsSource } from './metrics.js';

export interface HttpSource extends MetricsSource {
  loop(): LoopHealth;
}

export interface HttpListener {
  /** The address actually bound (port 0 picks one). */
  address: string;
  close(): void;
}

const CHECKS: Record<string, CheckName> = { '/livez': 'live', '/readyz': 'ready', '/startupz': 'startup' };

function send(res: ServerResponse, code: number, type: string, body: string, head: boolean): void {
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}

export async function startHttp(listen: { host: string; port: number }, src: HttpSource): Promise<HttpListener> {
  let metrics: Promise<Metrics> | undefined;
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'read-only: GET or HEAD\n', false);
    }
    const path = (req.url ?? '/').split('?')[0]!;
    const check = CHECKS[path];
    if (check) {
      const r = runCheck(check, src.status(), src.loop());
      return send(res, r.ok ? 200 : 503, 'text/plain; charset=utf-8', `${r.reason}\n`, head);
    }
    if (path === '/status') {
      const s: SupervisorStatus = src.status();
      return send(res, 200, 'application/json', `${JSON.stringify(s)}\n`, head);
    }
    if (path === '/metrics') {
      metrics ??= import('./metrics.js').then((m) => m.createMetrics(src));
      const m = await metrics;
      return send(res, 200, m.contentType, await m.render(), head);
    }
    return send(res, 404, 'text/plain; charset=utf-8', 'not found: try /livez, /readyz, /startupz, /status or /metrics\n', head);
  };
  const server = createServer((req, res) => {
    handler(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `internal error: ${e instanceof Error ? e.message : String(e)}\n`, false);
      else res.destroy();
    });
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  // Probes come every few seconds; a client that holds a connection open must not pin memory.
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => {});
  server.unref();
  const a = server.address();
  const address = a && typeof a === 'object' ? `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : `${listen.host}:${listen.port}`;
  return {
    address,
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}
