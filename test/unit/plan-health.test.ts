// health probes and depends_on conditions: from supervisor.yaml to the plan,
// with Kubernetes' defaults, and the problems validation reports (file:line:col).
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfigText } from '../../src/config/load.js';
import { buildPlan } from '../../src/plan/build.js';
import type { SupervisorPlan } from '../../src/plan/types.js';

const FILE = '/app/supervisor.yaml';

function plan(yaml: string): SupervisorPlan {
  return buildPlan(parseConfigText(yaml, FILE), { env: {} });
}

function problems(yaml: string): string[] {
  try {
    plan(yaml);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.path}: ${p.message}`);
    throw e;
  }
}

describe('health probes in the plan', () => {
  it("fills in Kubernetes' defaults and converts units", () => {
    const p = plan(`
programs:
  web:
    command: x
    health:
      readiness: { http: "http://127.0.0.1:8080/ready", period: 2s, success_threshold: 2 }
      liveness: { exec: "pg_isready -q", timeout: 500ms, failure_threshold: 5, initial_delay: 3 }
      startup: { tcp: "[::1]:5432" }
`).programs[0]!;
    expect(p.health).toEqual({
      readiness: { check: { kind: 'http', url: 'http://127.0.0.1:8080/ready' }, initialDelayMs: 0, periodMs: 2000, timeoutMs: 1000, failureThreshold: 3, successThreshold: 2 },
      liveness: { check: { kind: 'exec', argv: ['pg_isready', '-q'] }, initialDelayMs: 3000, periodMs: 10_000, timeoutMs: 500, failureThreshold: 5, successThreshold: 1 },
      startup: { check: { kind: 'tcp', host: '::1', port: 5432 }, initialDelayMs: 0, periodMs: 10_000, timeoutMs: 1000, failureThreshold: 3, successThreshold: 1 },
    });
  });

  it('takes a tcp port alone (127.0.0.1) and a log pattern for readiness', () => {
    const p = plan('programs:\n  a: { command: x, health: { readiness: { log: "listening on \\\\d+" }, liveness: { tcp: 80 } } }\n').programs[0]!;
    expect(p.health?.readiness?.check).toEqual({ kind: 'log', pattern: 'listening on \\d+' });
    expect(p.health?.liveness?.check).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 80 });
  });

  it('has no health at all when none is configured', () => {
    expect(plan('programs:\n  a: { command: x }\n').programs[0]!.health).toBeUndefined();
  });

  it('rejects a log probe for liveness or startup, success_threshold above 1 there, zero or two checks, and bad targets', () => {
    expect(
      problems(`
programs:
  a:
    command: x
    health:
      liveness: { log: ready }
      startup: { exec: [x], success_threshold: 2 }
      readiness: { period: 1s }
  b:
    command: x
    health:
      readiness: { tcp: "host:70000", failure_threshold: 0 }
      liveness: { http: "ftp://x/", exec: y }
      startup: { log: "(" }
`),
    ).toEqual([
      `${FILE}:6:24: programs.a.health.liveness.log: a log probe can only be a readiness probe (a liveness probe needs exec, http or tcp)`,
      `${FILE}:7:48: programs.a.health.startup.success_threshold: must be 1 for a startup probe (as in Kubernetes)`,
      `${FILE}:8:18: programs.a.health.readiness: expected one check: exec, http, tcp or log`,
      `${FILE}:12:25: programs.b.health.readiness.tcp: expected host:port like 127.0.0.1:5432, or a port number`,
      `${FILE}:12:58: programs.b.health.readiness.failure_threshold: expected a whole number >= 1, got 0`,
      `${FILE}:13:17: programs.b.health.liveness: expected one check, got exec and http`,
      `${FILE}:13:25: programs.b.health.liveness.http: expected an http:// or https:// URL, got \"ftp://x/\"`,
      `${FILE}:14:23: programs.b.health.startup.log: expected a regular expression (JavaScript syntax)`,
      `${FILE}:14:23: programs.b.health.startup.log: a log probe can only be a readiness probe (a startup probe needs exec, http or tcp)`,
    ]);
  });
});

describe('depends_on conditions', () => {
  it('the list form means running; the map form sets a condition per dependency', () => {
    const p = plan(`
programs:
  db: { command: x, health: { readiness: { tcp: 5432 } } }
  migrate: { command: x, restart: never }
  cache: { command: x }
  web:
    command: x
    depends_on:
      db: { condition: healthy }
      migrate: { condition: completed_successfully }
      cache: {}
  worker: { command: x, depends_on: [cache] }
`);
    const web = p.programs.find((x) => x.name === 'web')!;
    expect(web.startAfter.sort()).toEqual(['cache', 'db', 'migrate']);
    expect(web.startConditions).toEqual({ db: 'healthy', migrate: 'completed_successfully', cache: 'running' });
    expect(p.programs.find((x) => x.name === 'worker')!.startConditions).toBeUndefined();
    expect(p.programs.map((x) => x.name).indexOf('web')).toBeGreaterThan(p.programs.map((x) => x.name).indexOf('db'));
  });

  it('rejects healthy on a dependency without a readiness probe, an unknown condition and an unknown name, at file:line:col', () => {
    expect(
      problems(`
programs:
  db: { command: x, health: { liveness: { tcp: 5432 } } }
  web:
    command: x
    depends_on:
      db: { condition: healthy }
`),
    ).toEqual([`${FILE}:7:24: programs.web.depends_on.db.condition: condition healthy needs a readiness probe on "db" (health.readiness), and it has none`]);
    expect(problems('programs:\n  db: { command: x }\n  web: { command: x, depends_on: { db: { condition: ready } } }\n')).toEqual([
      `${FILE}:3:53: programs.web.depends_on.db.condition: expected one of started, running, healthy, completed_successfully, got "ready"`,
    ]);
    expect(problems('programs:\n  db: { command: x }\n  web: { command: x, depends_on: { dbb: {} } }\n')).toEqual([
      `${FILE}:3:41: programs.web.depends_on.dbb: unknown program "dbb" (did you mean "db"?)`,
    ]);
  });
});
