// The health monitor and its read API against a real TCP listener (no
// supervisor): status per program, readiness flipping with the listener,
// liveness asking for a restart, and nothing probed once a shutdown began.
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventFields, EventName } from '../../src/logging/events.js';
import { HealthMonitor } from '../../src/health/monitor.js';
import type { ProbePlan } from '../../src/plan/types.js';
import { programPlan, supervisorPlan } from '../helpers/plan.js';

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A listener on a kernel-chosen port that counts connections. */
async function listener(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server = createServer((socket) => {
    count++;
    socket.destroy();
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { port, connections: () => count, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const tcp = (port: number, over: Partial<ProbePlan> = {}): ProbePlan => ({
  check: { kind: 'tcp', host: '127.0.0.1', port },
  initialDelayMs: 0,
  periodMs: 20,
  timeoutMs: 1000,
  failureThreshold: 1,
  successThreshold: 1,
  ...over,
});

function setup(plans: Parameters<typeof supervisorPlan>[0]) {
  const events: Array<{ event: EventName } & EventFields> = [];
  const restarts: string[] = [];
  const readiness: string[] = [];
  let probeable = true;
  const monitor = new HealthMonitor(
    supervisorPlan(plans),
    { emit: (event, fields) => events.push({ event, ...fields }) },
    { isProbeable: () => probeable, restartUnhealthy: (name) => restarts.push(name), readinessChanged: (name) => readiness.push(name) },
  );
  const waitFor = async (pred: () => boolean, what: string) => {
    const deadline = Date.now() + 20_000;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(events)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { monitor, hooks: monitor.hooks(), events, restarts, readiness, waitFor, stopProbing: () => (probeable = false) };
}

describe('HealthMonitor read API', () => {
  it('lists every program; null where a probe is missing; ready once the port accepts, not ready once it refuses', async () => {
    const l = await listener();
    const web = programPlan({ name: 'web', health: { readiness: tcp(l.port) } });
    const plain = programPlan({ name: 'plain' });
    const t = setup([web, plain]);
    expect(t.monitor.status()).toEqual({ web: { ready: false, live: null, started: null }, plain: { ready: null, live: null, started: null } });
    expect(t.monitor.programStatus('nope')).toBeUndefined();
    t.hooks.afterSpawn(web, 4242);
    await t.waitFor(() => t.monitor.isReady('web'), 'ready');
    expect(t.events.filter((e) => e.event === 'child.ready')).toEqual([{ event: 'child.ready', program: 'web', pid: 4242, check: 'tcp' }]);
    expect(t.readiness).toEqual(['web']);
    expect(t.monitor.programStatus('web')).toMatchObject({ ready: true, last_probe: { probe: 'readiness', check: 'tcp', ok: true } });
    await l.close();
    await t.waitFor(() => !t.monitor.isReady('web'), 'not ready');
    expect(t.events.find((e) => e.event === 'child.not_ready')).toMatchObject({ program: 'web', reason: 'probe_failed', error: 'ECONNREFUSED', failures: 1 });
    expect(t.monitor.programStatus('web')!.last_probe).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
    t.hooks.shutdownBegan();
  });

  it('liveness failing past its threshold asks for one restart and stops probing that run', async () => {
    const l = await listener();
    await l.close();
    const web = programPlan({ name: 'web', health: { liveness: tcp(l.port, { failureThreshold: 3 }) } });
    const t = setup([web]);
    t.hooks.afterSpawn(web, 7);
    await t.waitFor(() => t.restarts.length > 0, 'a restart');
    expect(t.events.find((e) => e.event === 'child.unhealthy')).toMatchObject({ program: 'web', pid: 7, probe: 'liveness', check: 'tcp', failures: 3 });
    expect(t.monitor.programStatus('web')).toMatchObject({ live: false });
    const probes = JSON.stringify(t.monitor.programStatus('web')!.last_probe);
    await new Promise((r) => setTimeout(r, 200));
    expect(t.restarts).toEqual(['web']);
    expect(JSON.stringify(t.monitor.programStatus('web')!.last_probe)).toBe(probes);
  });

  it('no probe once a shutdown began, and none when the supervisor says the program is not probeable', async () => {
    const l = await listener();
    const web = programPlan({ name: 'web', health: { readiness: tcp(l.port) } });
    const t = setup([web]);
    t.hooks.afterSpawn(web, 1);
    await t.waitFor(() => l.connections() >= 3, 'three probes');
    t.hooks.shutdownBegan();
    const after = l.connections();
    expect(t.monitor.programStatus('web')).toMatchObject({ ready: false });
    await new Promise((r) => setTimeout(r, 200));
    expect(l.connections()).toBeLessThanOrEqual(after + 1); // at most the one under way
    // A program the supervisor no longer lets be probed (stopping) is not probed either.
    const l2 = await listener();
    const other = programPlan({ name: 'other', health: { readiness: tcp(l2.port) } });
    const t2 = setup([other]);
    t2.stopProbing();
    t2.hooks.afterSpawn(other, 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(l2.connections()).toBe(0);
  });
});
