// The control plane against a real PID 1: the HTTP listener (/livez, /readyz,
// /startupz, /status, /metrics checked by promtool), the control socket's
// commands (status, stop, start, restart, signal, probe), its permissions
// against another user, and the client's answer when no supervisor runs.
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { BUNDLE, byEvent, killAllRuns, runInit, startInit, tempDir, writeConfig, type InitRun } from '../helpers/init.js';
import { until } from './support.js';
import { ensureCommands } from '../../scripts/lib/apt.mjs';

afterEach(killAllRuns);

/** Runs the client (`supervisor ARGS`) as another process, optionally as another user. */
function client(args: string[], env: Record<string, string>, asUid?: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const argv = asUid === undefined ? [process.execPath, BUNDLE, ...args] : ['setpriv', '--reuid', String(asUid), '--regid', String(asUid), '--clear-groups', process.execPath, BUNDLE, ...args];
  return new Promise((resolve) => {
    const p = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * One request on a connection of its own, as the kubelet's probes make them: a pooled
 * keep-alive connection that sat idle past the server's keep-alive timeout (while
 * promtool was installed, say) may be closed under a request that reuses it.
 */
function get(base: string, path: string, method = 'GET'): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(base + path, { method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type'] ?? '') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** promtool, installed from Debian's prometheus package when missing (as CI runs as root on a fresh machine). */
function promtool(): string {
  ensureCommands([['prometheus', 'promtool']]);
  return 'promtool';
}

/** The host pid of a child of the supervisor known by its pid inside the namespace. */
/** `promtool check metrics` finds nothing to say about a scrape. */
function promtoolCheck(body: string): void {
  const check = spawnSync(promtool(), ['check', 'metrics'], { input: body, encoding: 'utf8' });
  expect(check.stdout + check.stderr).toBe('');
  expect(check.status).toBe(0);
}

async function hostPidOf(run: InitRun, nsPid: number): Promise<number> {
  const sup = await run.supervisorPid();
  for (const pid of readFileSync(`/proc/${sup}/task/${sup}/children`, 'utf8').trim().split(' ').map(Number)) {
    const ns = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]?.split(/\s+/).map(Number);
    if (ns?.at(-1) === nsPid) return pid;
  }
  throw new Error(`no child with pid ${nsPid} in the namespace`);
}

async function httpBase(run: InitRun): Promise<string> {
  const ev = await run.waitFor((e) => e.event === 'control.listening' && typeof e.http === 'string', 30_000);
  return `http://${ev.http as string}`;
}

describe('HTTP listener', () => {
  it('/readyz flips to 503 while a critical program restarts and back to 200; /livez, /startupz and /status report; /metrics passes promtool', async () => {
    const file = writeConfig(`
http:
  listen: 127.0.0.1:0
programs:
  web:
    command: [sleep, "1000"]
    critical: true
    start_secs: 0.5
    backoff: { initial: 1s }
  side:
    command: [sleep, "1000"]
    start_secs: 60s
`);
    const run = startInit(['-c', file]);
    const base = await httpBase(run);
    const first = await run.waitFor(byEvent('child.running', 'web'));
    // Only the critical program gates readiness (side is still starting for a minute).
    const ready = await get(base, '/readyz');
    expect(ready).toMatchObject({ status: 200, body: 'ready: web\n' });
    expect(ready.type).toMatch(/^text\/plain/);
    expect((await get(base, '/startupz')).status).toBe(200);
    const live = await get(base, '/livez');
    expect(live.status).toBe(200);
    expect(live.body).toMatch(/^live: event-loop lag \d+ ms\n$/);

    const status = JSON.parse((await get(base, '/status')).body);
    expect(status.shutting_down).toBe(false);
    expect(status.programs.map((p: { name: string }) => p.name).sort()).toEqual(['side', 'web']);
    const web = status.programs.find((p: { name: string }) => p.name === 'web');
    expect(web).toMatchObject({ phase: 'running', pid: first.pid, restarts: 0, critical: true, ready: true, last_exit: null });
    expect(status.programs.find((p: { name: string }) => p.name === 'side')).toMatchObject({ phase: 'starting', ready: false, critical: false });

    // The program dies: not ready until it runs again (backoff, then start_secs).
    process.kill(await hostPidOf(run, first.pid as number), 'SIGKILL');
    await run.waitFor(byEvent('child.exit', 'web'));
    const down = await get(base, '/readyz');
    expect(down.status).toBe(503);
    expect(down.body).toMatch(/^not ready: web (backoff|starting)\n$/);
    await run.waitForCount(byEvent('child.running', 'web'), 2);
    expect(await get(base, '/readyz')).toMatchObject({ status: 200, body: 'ready: web\n' });
    const after = JSON.parse((await get(base, '/status')).body).programs.find((p: { name: string }) => p.name === 'web');
    expect(after).toMatchObject({ phase: 'running', restarts: 1, last_exit: { signal: 'SIGKILL', status: 137 } });

    // /metrics: valid exposition format, with what just happened in it.
    const metrics = await get(base, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('supervisor_program_restarts_total{program="web"} 1');
    expect(metrics.body).toContain('supervisor_program_exits_total{program="web",status="137"} 1');
    expect(metrics.body).toContain('supervisor_program_state{program="web",state="running"} 1');
    expect(metrics.body).toContain('supervisor_program_ready{program="side",critical="false"} 0');
    expect(metrics.body).toMatch(/^process_resident_memory_bytes \d+$/m);
    promtoolCheck(metrics.body);

    // Read-only: nothing but GET/HEAD.
    expect((await get(base, '/readyz', 'POST')).status).toBe(405);
    expect((await get(base, '/nope')).status).toBe(404);

    await run.signal('SIGTERM');
    expect((await run.done).code).toBe(0);
  }, 90_000);

  it('a bad http.listen is refused with file:line and exit 2', async () => {
    const file = writeConfig(`programs:\n  a:\n    command: [sleep, "1"]\nhttp:\n  listen: "localhost"\n`);
    const r = await runInit(['validate', '-c', file], { pid1: false });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`${file}:5:11: http.listen: expected HOST:PORT with a port from 0 to 65535 (0: any free port), e.g. "0.0.0.0:9090" or "[::]:9090"`);
  });
});

describe('control socket', () => {
  it('status, stop, start, restart, signal and probe against a running PID 1', async () => {
    const dir = tempDir('sv-ctl-');
    const marker = join(dir, 'usr1');
    const socket = join(dir, 'control.sock');
    const file = writeConfig(`
control:
  socket: ${socket}
programs:
  web:
    command: [sleep, "1000"]
    start_secs: 0.3
  trap:
    command: ["/bin/sh", "-c", "trap 'echo got >> ${marker}' USR1; while :; do sleep 0.1; done"]
    start_secs: 0.3
`);
    const run = startInit(['-c', file]);
    await run.waitFor((e) => e.event === 'control.listening' && e.socket === socket);
    await run.waitFor(byEvent('child.running', 'web'));
    await run.waitFor(byEvent('child.running', 'trap'));
    const env = { SUPERVISOR_SOCKET: socket };
    expect(statSync(socket).mode & 0o777).toBe(0o600);

    const table = await client(['status'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NAME +PHASE +PID +READY +RESTARTS/);
    expect(table.stdout).toMatch(/^web +running +\d+ +yes +0 /m);
    const json = JSON.parse((await client(['status', '--json'], env)).stdout);
    expect(json.programs.map((p: { name: string; phase: string }) => [p.name, p.phase]).sort()).toEqual([
      ['trap', 'running'],
      ['web', 'running'],
    ]);
    expect(await client(['probe', 'ready'], env)).toMatchObject({ code: 0, stdout: 'ready: trap, web\n' });
    expect((await client(['probe', 'live'], env)).code).toBe(0);
    expect((await client(['probe', 'startup'], env)).code).toBe(0);

    // stop: stays down (no restart), the supervisor stays up, readiness fails.
    expect(await client(['stop', 'web'], env)).toMatchObject({ code: 0, stdout: 'stopping web\n' });
    await run.waitFor((e) => e.event === 'child.exit' && e.program === 'web' && e.stop_reason === 'control');
    const held = () => JSON.parse(spawnSync(process.execPath, [BUNDLE, 'status', '--json'], { env: { ...process.env, ...env }, encoding: 'utf8' }).stdout).programs.find((p: { name: string }) => p.name === 'web').held;
    await until(held, 'web held');
    const notReady = await client(['probe', 'ready'], env);
    expect(notReady).toMatchObject({ code: 1, stderr: 'not ready: web stopped by the operator\n' });
    expect(run.events.filter(byEvent('child.spawn', 'web'))).toHaveLength(1);

    // start: runs again.
    expect(await client(['start', 'web'], env)).toMatchObject({ code: 0, stdout: 'starting web\n' });
    await run.waitForCount(byEvent('child.running', 'web'), 2);

    // restart: a new process at once, not counted as a failure.
    const before = run.events.filter(byEvent('child.spawn', 'web')).at(-1)!.pid;
    expect(await client(['restart', 'web'], env)).toMatchObject({ code: 0, stdout: 'restarting web\n' });
    const spawns = await run.waitForCount(byEvent('child.spawn', 'web'), 3);
    expect(spawns.at(-1)!.pid).not.toBe(before);
    expect(run.events.filter(byEvent('child.backoff', 'web'))).toEqual([]);

    // signal: delivered to the program, which handles it.
    expect((await client(['signal', 'trap', 'usr1'], env)).code).toBe(0);
    await until(() => existsSync(marker) && readFileSync(marker, 'utf8').includes('got'), 'the trap to run');

    // Refusals: one line, exit 1.
    expect(await client(['stop', 'nope'], env)).toMatchObject({ code: 1, stderr: 'no program named "nope"\n' });
    expect(await client(['signal', 'web', 'SIGNOPE'], env)).toMatchObject({ code: 1, stderr: 'unknown signal "SIGNOPE"\n' });
    expect(run.events.filter((e) => e.event === 'control.request').map((e) => [e.command, e.program, e.ok])).toEqual([
      ['stop', 'web', true],
      ['start', 'web', true],
      ['restart', 'web', true],
      ['signal', 'trap', true],
      ['stop', 'nope', false],
      ['signal', 'web', false],
    ]);

    await run.signal('SIGTERM');
    expect((await run.done).code).toBe(0);
    expect(existsSync(socket)).toBe(false);
  }, 90_000);

  it('another user is denied by the socket permissions (exit 4)', async () => {
    const dir = tempDir('sv-ctl-');
    chmodSync(dir, 0o755); // only the socket's own mode stands in the way
    const socket = join(dir, 'control.sock');
    const run = startInit(['-c', writeConfig(`control:\n  socket: ${socket}\nprograms:\n  a:\n    command: [sleep, "1000"]\n`)]);
    await run.waitFor((e) => e.event === 'control.listening');
    const denied = await client(['status'], { SUPERVISOR_SOCKET: socket }, 65534);
    expect(denied.code).toBe(4);
    expect(denied.stderr).toBe(`supervisor: permission denied on ${socket}: run this as the supervisor's user\n`);
    expect((await client(['status'], { SUPERVISOR_SOCKET: socket })).code).toBe(0);
  }, 60_000);

  it('with no supervisor running: one line and exit 3', async () => {
    const socket = join(tempDir('sv-ctl-'), 'none.sock');
    for (const args of [['status'], ['probe', 'ready'], ['restart', 'web']]) {
      const r = await client(args, { SUPERVISOR_SOCKET: socket });
      expect(r).toMatchObject({ code: 3, stdout: '', stderr: `supervisor: no supervisor running (nothing listens on ${socket})\n` });
    }
  });
});

describe('with health probes', () => {
  it('/readyz, /status and `supervisor probe ready` follow the readiness probe, not the phase', async () => {
    const dir = tempDir('sv-ctl-health-');
    const flag = join(dir, 'ready');
    const socket = join(dir, 'control.sock');
    const file = writeConfig(`
http:
  listen: 127.0.0.1:0
control:
  socket: ${socket}
programs:
  web:
    command: [sleep, "1000"]
    start_secs: 0.2
    health:
      readiness: { exec: [test, -e, "${flag}"], period: 100ms }
`);
    const run = startInit(['-c', file]);
    const base = await httpBase(run);
    await run.waitFor(byEvent('child.running', 'web'));
    const env = { SUPERVISOR_SOCKET: socket };
    // Running, but its probe fails: not ready, and the reason says which probe.
    const notReady = await get(base, '/readyz');
    expect(notReady.status).toBe(503);
    expect(notReady.body).toContain('web failing its readiness probe');
    const probeNo = await client(['probe', 'ready'], env);
    expect(probeNo.code).toBe(1);
    expect(probeNo.stdout + probeNo.stderr).toContain('web failing its readiness probe');
    // /status counts the probes run so far (a failed one at least, before the flag exists).
    const webStatus = async () => (JSON.parse((await get(base, '/status')).body) as { programs: Array<Record<string, any>> }).programs.find((p) => p['name'] === 'web')!;
    for (let i = 0; ((await webStatus()).probes.counts?.readiness?.failures ?? 0) < 1; i++) {
      if (i > 600) throw new Error('no failed readiness probe counted in /status');
      await new Promise((r) => setTimeout(r, 50));
    }
    // The probe passes: child.ready, then every view agrees.
    execFileSync('touch', [flag]);
    await run.waitFor(byEvent('child.ready', 'web'));
    expect((await get(base, '/readyz')).status).toBe(200);
    expect((await client(['probe', 'ready'], env)).code).toBe(0);
    const status = JSON.parse((await get(base, '/status')).body) as { programs: Array<Record<string, unknown>> };
    expect(status.programs.find((p) => p['name'] === 'web')).toMatchObject({ phase: 'running', ready: true });
    // /metrics counts the probes (failed ones before the flag, passed after) and their time.
    const metrics = (await get(base, '/metrics')).body;
    const value = (line: string) => Number(new RegExp(`^${line.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics)?.[1]);
    expect(value('supervisor_program_probes_total{program="web",probe="ready",result="failure"}')).toBeGreaterThanOrEqual(1);
    expect(value('supervisor_program_probes_total{program="web",probe="ready",result="success"}')).toBeGreaterThanOrEqual(1);
    expect(value('supervisor_program_probe_duration_seconds_total{program="web",probe="ready"}')).toBeGreaterThan(0);
    expect(value('supervisor_program_probe_last_duration_seconds{program="web",probe="ready"}')).toBeGreaterThan(0);
    expect(metrics).not.toContain('probe="live"');
    promtoolCheck(metrics);
  });
});
