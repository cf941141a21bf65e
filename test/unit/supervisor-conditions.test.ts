// The supervisor loop with fake processes: depends_on conditions decide when a
// dependent starts (healthy waits for the readiness the health monitor reports),
// and the hooks the health monitor relies on (phaseChanged, shutdownBegan).
import { describe, expect, it } from 'vitest';
import { Supervisor, type ProcessOps, type SupervisorHooks } from '../../src/supervision/supervisor.js';
import type { ProgramPlan } from '../../src/plan/types.js';
import type { SpawnCallbacks } from '../../src/process/spawn.js';
import { nullSink } from '../../src/logging/sink.js';
import { programPlan, supervisorPlan } from '../helpers/plan.js';

function harness(programs: ProgramPlan[], hooks: SupervisorHooks = {}) {
  const spawned: string[] = [];
  const callbacks = new Map<string, SpawnCallbacks>();
  const ready = new Set<string>();
  let pid = 100;
  const ops: ProcessOps = {
    spawn(plan, _sinks, cb) {
      spawned.push(plan.name);
      callbacks.set(plan.name, cb);
      return { pid: pid++, signal: () => true };
    },
    descendants: () => [],
    kill: () => false,
    killRound: () => ({ sweeps: 1, converged: true, killed: [] }),
    reapNow: () => {},
  };
  const sup = new Supervisor(supervisorPlan(programs), { remapToZero: new Set() }, {
    events: { emit: () => {} },
    hooks,
    isReady: (name) => ready.has(name),
    sinks: { stdout: nullSink(), stderr: nullSink() },
    ops,
    now: () => Date.now(),
    exit: () => {},
  });
  return { sup, spawned, ready, exit: (name: string, code: number) => callbacks.get(name)!.onExit({ code, signal: null }) };
}

describe('depends_on conditions in the supervisor', () => {
  it('healthy: the dependent starts only once its dependency is reported ready', () => {
    const db = programPlan({ name: 'db', startSecsMs: 0 });
    const web = programPlan({ name: 'web', startSecsMs: 0, startAfter: ['db'], startConditions: { db: 'healthy' } });
    const h = harness([db, web]);
    h.sup.start();
    expect(h.spawned).toEqual(['db']);
    expect(h.sup.phases().db).toBe('running');
    h.sup.dependenciesChanged();
    expect(h.spawned).toEqual(['db']);
    h.ready.add('db');
    h.sup.dependenciesChanged();
    expect(h.spawned).toEqual(['db', 'web']);
    h.sup.requestShutdown('SIGTERM');
  });

  it('completed_successfully waits for the exit 0; the list form (running) does not', () => {
    const migrate = programPlan({ name: 'migrate', startSecsMs: 0, restart: 'never' });
    const app = programPlan({ name: 'app', startSecsMs: 0, startAfter: ['migrate'], startConditions: { migrate: 'completed_successfully' } });
    const side = programPlan({ name: 'side', startSecsMs: 0, startAfter: ['migrate'] });
    const h = harness([migrate, app, side]);
    h.sup.start();
    expect(h.spawned).toEqual(['migrate', 'side']);
    h.exit('migrate', 0);
    expect(h.spawned).toEqual(['migrate', 'side', 'app']);
    h.sup.requestShutdown('SIGTERM');
  });

  it('tells its hooks about phase changes (stopping) and the beginning of a shutdown', () => {
    const phases: string[] = [];
    let shutdowns = 0;
    const h = harness([programPlan({ name: 'a', startSecsMs: 0 })], {
      phaseChanged: (plan, phase) => phases.push(`${plan.name}:${phase}`),
      shutdownBegan: () => shutdowns++,
    });
    h.sup.start();
    h.sup.stopForRestart('a', 'unhealthy');
    expect(phases).toEqual(['a:starting', 'a:running', 'a:stopping']);
    expect(shutdowns).toBe(0);
    h.sup.requestShutdown('SIGTERM');
    expect(shutdowns).toBe(1);
  });
});
