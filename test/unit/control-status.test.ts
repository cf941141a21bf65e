// The status snapshot and the live/ready/startup checks made from it, the
// control protocol's parsing and http.listen's format.
import { describe, expect, it } from 'vitest';
import { buildStatus, checkLive, checkReady, checkStartup, phaseReadiness, type ReadinessSource } from '../../src/control/status.js';
import type { ProgramView } from '../../src/supervision/supervisor.js';
import { parseRequest } from '../../src/control/protocol.js';
import { parseListen } from '../../src/config/schema.js';
import { statusTable } from '../../src/control/client.js';

const view = (over: Partial<ProgramView>): ProgramView => ({ name: 'web', phase: 'running', pid: 10, restarts: 0, startedAt: 0, blocked: false, held: false, critical: false, stopping: false, ...over });
const self = { pid: 1, version: 'x', startedAt: 0, now: 5000, shuttingDown: false, lagMs: 3 };
const status = (views: ProgramView[], health: ReadinessSource = phaseReadiness, over = {}) => buildStatus(views, health, () => undefined, { ...self, ...over });

describe('checks', () => {
  it('ready: the critical programs only, else every program; says which are not and why', () => {
    const views = [view({ name: 'web', critical: true }), view({ name: 'worker', phase: 'backoff', pid: undefined })];
    expect(checkReady(status(views))).toEqual({ ok: true, reason: 'ready: web' });
    const none = views.map((v) => ({ ...v, critical: false }));
    expect(checkReady(status(none))).toEqual({ ok: false, reason: 'not ready: worker backoff' });
    expect(checkReady(status([view({ held: true, phase: 'exited', lastExit: { code: null, signal: 'SIGTERM', status: 143, uptimeMs: 1 } })]))).toEqual({
      ok: false,
      reason: 'not ready: web stopped by the operator',
    });
    expect(checkReady(status([view({})], phaseReadiness, { shuttingDown: true }))).toEqual({ ok: false, reason: 'not ready: the supervisor is shutting down' });
  });

  it('a job that completed successfully (exited 0 for good) does not hold readiness; one that failed does', () => {
    const exit = (status: number) => ({ code: status, signal: null, status, uptimeMs: 1 });
    const job = (status: number) => view({ name: 'migrate', phase: 'exited', pid: undefined, lastExit: exit(status) });
    expect(checkReady(status([view({}), job(0)])).ok).toBe(true);
    expect(checkReady(status([view({}), job(1)]))).toEqual({ ok: false, reason: 'not ready: migrate exited (status 1)' });
  });

  it('ready follows a readiness probe when the program has one; null means no probe', () => {
    const probe = (ready: boolean | null): ReadinessSource => ({ healthOf: () => ({ ready, live: null, started: null }) });
    expect(checkReady(status([view({})], probe(false)))).toEqual({ ok: false, reason: 'not ready: web failing its readiness probe' });
    expect(checkReady(status([view({})], probe(true))).ok).toBe(true);
    expect(checkReady(status([view({ phase: 'starting' })], probe(true))).ok).toBe(false);
    expect(checkReady(status([view({})], probe(null))).ok).toBe(true);
  });

  it('live fails past the lag threshold only; startup waits for start_secs once', () => {
    const s = status([view({ phase: 'starting' })]);
    expect(checkLive(s, { lagMs: 10, thresholdMs: 5000 }).ok).toBe(true);
    expect(checkLive(s, { lagMs: 6000, thresholdMs: 5000 })).toEqual({ ok: false, reason: 'not live: event-loop lag 6000 ms (threshold 5000 ms)' });
    expect(checkStartup(s)).toEqual({ ok: false, reason: 'not started: web starting' });
    expect(checkStartup(status([view({ phase: 'backoff', restarts: 2 })])).ok).toBe(true);
  });

  it('the status carries pid, memory and the last exit; the table shows them', () => {
    const s = buildStatus([view({ lastExit: { code: 1, signal: null, status: 1, uptimeMs: 20 } })], phaseReadiness, () => ({ usedBytes: 1048576, capBytes: 4194304 }), self);
    expect(s.programs[0]).toMatchObject({ pid: 10, uptime_ms: 5000, memory: { used_bytes: 1048576, cap_bytes: 4194304 }, last_exit: { code: 1, status: 1 } });
    expect(statusTable(s).split('\n')[1]).toMatch(/^web +running +10 +yes +0 +5s +1\.0Mi\/4\.0Mi +code 1$/);
  });
});

describe('protocol and config', () => {
  it('parses requests and refuses malformed ones with a message', () => {
    expect(parseRequest('{"cmd":"stop","program":"web"}')).toEqual({ cmd: 'stop', program: 'web' });
    expect(parseRequest('{"cmd":"probe","check":"ready"}')).toEqual({ cmd: 'probe', check: 'ready' });
    expect(parseRequest('{"cmd":"probe","check":"x"}')).toBe('probe: expected live, ready or startup');
    expect(parseRequest('{"cmd":"reboot"}')).toBe('unknown command "reboot"');
    expect(parseRequest('nope')).toBe('malformed request (expected one JSON line)');
  });

  it('http.listen: HOST:PORT and [v6]:PORT', () => {
    expect(parseListen('0.0.0.0:9090')).toEqual({ host: '0.0.0.0', port: 9090 });
    expect(parseListen('[::]:9090')).toEqual({ host: '::', port: 9090 });
    expect(parseListen(':9090')).toEqual({ host: '0.0.0.0', port: 9090 });
    for (const bad of ['9090', 'localhost', 'a:b', 'h:70000', '[::]']) expect(parseListen(bad)).toBeUndefined();
  });
});

describe('control socket path', () => {
  it('config, then $SUPERVISOR_SOCKET, then the default only for PID 1 in config mode; clients look in the same places', async () => {
    const { serverSocketPath, clientSocketPaths, DEFAULT_SOCKET } = await import('../../src/control/socket-path.js');
    const pid1 = { pid1: true, singleCommand: false };
    expect(serverSocketPath(null, { SUPERVISOR_SOCKET: '/x.sock' }, pid1)).toBeNull();
    expect(serverSocketPath('/c.sock', { SUPERVISOR_SOCKET: '/x.sock' }, pid1)).toBe('/c.sock');
    expect(serverSocketPath(undefined, { SUPERVISOR_SOCKET: '/x.sock' }, { pid1: false, singleCommand: true })).toBe('/x.sock');
    expect(serverSocketPath(undefined, {}, { pid1: false, singleCommand: false })).toBeNull();
    expect(serverSocketPath(undefined, {}, { pid1: true, singleCommand: true })).toBeNull();
    expect(clientSocketPaths('/f.sock', { SUPERVISOR_SOCKET: '/x.sock' })).toEqual(['/f.sock']);
    expect(clientSocketPaths(undefined, { XDG_RUNTIME_DIR: '/run/user/1000' })).toEqual([DEFAULT_SOCKET, '/run/user/1000/supervisor.sock']);
  });
});
