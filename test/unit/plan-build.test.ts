import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfigText } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { buildPlan, buildSingleCommandPlan, type BuildPlanOptions } from '../../src/plan/build.js';
import { mergeDefaults } from '../../src/plan/merge.js';
import { shellMessage } from '../../src/plan/shell-check.js';
import type { SupervisorPlan } from '../../src/plan/types.js';
import { parseGroup, parsePasswd, type UserDb } from '../../src/plan/users.js';

const userDb: UserDb = {
  passwd: parsePasswd('root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:App:/home/app:/bin/sh\n'),
  groups: parseGroup('root:x:0:\napp:x:1001:\nstaff:x:50:app\n'),
  passwdFile: '/etc/passwd',
  groupFile: '/etc/group',
};

const EXAMPLE = readFileSync(new URL('../../examples/supervisor.yaml', import.meta.url), 'utf8');

const ENV = { PATH: '/usr/bin:/bin', HOME: '/root', USER: 'root', LOGNAME: 'root', UNSET: undefined };

function plan(yaml: string, options: BuildPlanOptions = {}): SupervisorPlan {
  return buildPlan(parseConfigText(yaml, '/app/supervisor.yaml'), { env: ENV, userDb, ...options });
}

function problems(yaml: string, options: BuildPlanOptions = {}): string[] {
  try {
    plan(yaml, options);
  } catch (error) {
    if (error instanceof ConfigError) return error.format();
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('buildPlan', () => {
  it('fills in every built-in default', () => {
    expect(plan('programs:\n  web:\n    command: node server.js\n')).toEqual({
      programs: [
        {
          name: 'web',
          argv: ['node', 'server.js'],
          env: { PATH: '/usr/bin:/bin', HOME: '/root', USER: 'root', LOGNAME: 'root' },
          envKeys: [],
          restart: 'always',
          backoff: { initialMs: 1000, factor: 2, maxMs: 30_000, resetAfterMs: 60_000 },
          startSecsMs: 1000,
          crashLoop: { maxRestarts: 5, windowMs: 60_000 },
          stopSignal: 'SIGTERM',
          stopGraceMs: 10_000,
          processGroup: true,
          leftovers: 'stop',
          startAfter: [],
          output: 'inherit',
          stdin: 'ignore',
          onExit: { action: 'continue' },
          onFatal: { action: 'shutdown' },
          memory: { enforce: 'auto', rlimit: 'data', oomScoreAdj: 1000, stopGraceMs: 2000 },
        },
      ],
      log: { level: 'info', format: 'auto' },
      shutdownTimeoutMs: 25_000,
      memory: { pollIntervalMs: 250, guard: { enabled: 'auto', threshold: { percent: 95 } }, oomScoreAdj: -1000 },
      singleCommand: false,
      source: '/app/supervisor.yaml',
    } satisfies SupervisorPlan);
  });

  it('converts every field it is given', () => {
    const yaml = `
shutdown_timeout: 20
log: { level: debug, format: json }
programs:
  web:
    command: ["node", "server.js"]
    cwd: /srv
    restart: on-failure
    backoff: { initial: 500ms, factor: 1.5, max: 1m, reset_after: 2m }
    start_secs: 0
    crash_loop: { max_restarts: 2, window: 10s }
    stop_signal: int
    stop_grace: 3s
    process_group: false
    output: json
    on_exit: { action: shutdown, exit_code: 3 }
    on_fatal: { action: continue }
`;
    const result = plan(yaml);
    expect(result.shutdownTimeoutMs).toBe(20_000);
    expect(result.log).toEqual({ level: 'debug', format: 'json' });
    expect(result.programs[0]).toMatchObject({
      argv: ['node', 'server.js'],
      cwd: '/srv',
      restart: 'on-failure',
      backoff: { initialMs: 500, factor: 1.5, maxMs: 60_000, resetAfterMs: 120_000 },
      startSecsMs: 0,
      crashLoop: { maxRestarts: 2, windowMs: 10_000 },
      stopSignal: 'SIGINT',
      stopGraceMs: 3000,
      processGroup: false,
      output: 'json',
      onExit: { action: 'shutdown', exitCode: 3 },
      onFatal: { action: 'continue' },
    });
  });

  it('applies defaults unless the program sets the field; sections merge field by field', () => {
    const yaml = `
defaults:
  restart: on-failure
  stop_grace: 5s
  backoff: { initial: 2s, max: 1m }
  crash_loop: { window: 30s }
  env: { A: from-defaults, B: from-defaults }
  on_exit: { action: shutdown, exit_code: 4 }
  priority: 50
programs:
  web:
    command: web
    restart: always
    backoff: { initial: 100ms }
    env: { B: from-web, C: from-web }
    on_exit: continue
  worker:
    command: worker
`;
    const [web, worker] = plan(yaml).programs;
    expect(web).toMatchObject({
      restart: 'always',
      stopGraceMs: 5000,
      backoff: { initialMs: 100, factor: 2, maxMs: 60_000, resetAfterMs: 60_000 },
      crashLoop: { maxRestarts: 5, windowMs: 30_000 },
      envKeys: ['A', 'B', 'C'],
      onExit: { action: 'continue' },
    });
    expect(web!.env).toMatchObject({ A: 'from-defaults', B: 'from-web', C: 'from-web' });
    expect(worker).toMatchObject({
      restart: 'on-failure',
      backoff: { initialMs: 2000, maxMs: 60_000 },
      envKeys: ['A', 'B'],
      onExit: { action: 'shutdown', exitCode: 4 },
    });
  });

  it('mergeDefaults keeps the program’s own values and does not touch its input', () => {
    const config = configSchema.parse({
      defaults: { backoff: { factor: 3 }, output: 'json' },
      programs: { web: { command: 'x', backoff: { max: 5 } } },
    });
    const merged = mergeDefaults(config.defaults, config.programs.web!);
    expect(merged).toEqual({ command: 'x', backoff: { factor: 3, max: 5000 }, output: 'json' });
    expect(config.programs.web).toEqual({ command: 'x', backoff: { max: 5000 } });
  });

  it('merges env over the supervisor’s environment and lists only the config’s keys', () => {
    const [web] = plan('programs:\n  web:\n    command: x\n    env: { PATH: /opt/bin, PORT: 8080, DEBUG: false }\n').programs;
    expect(web!.env).toEqual({ PATH: '/opt/bin', HOME: '/root', USER: 'root', LOGNAME: 'root', PORT: '8080', DEBUG: 'false' });
    expect(web!.envKeys).toEqual(['PATH', 'PORT', 'DEBUG']);
  });

  it('splits string commands and runs shell commands with /bin/sh -c', () => {
    const yaml = `
programs:
  a: { command: "python -c 'print(1)' \\"two words\\"" }
  b: { command: "echo $HOME | tr a-z A-Z", shell: true }
  c: { command: [sh, -c, "exit 0"] }
`;
    const argv = Object.fromEntries(plan(yaml).programs.map((p) => [p.name, p.argv]));
    expect(argv).toEqual({
      a: ['python', '-c', 'print(1)', 'two words'],
      b: ['/bin/sh', '-c', 'echo $HOME | tr a-z A-Z'],
      c: ['sh', '-c', 'exit 0'],
    });
  });

  it('reports commands it cannot use', () => {
    const yaml = `
programs:
  a: { command: "echo 'oops" }
  b: { command: [echo, hi], shell: true }
  c: { command: "''" }
`;
    expect(problems(yaml)).toEqual([
      "/app/supervisor.yaml:3:17: programs.a.command: cannot split command into words: unterminated single quote at character 6",
      '/app/supervisor.yaml:4:17: programs.b.command: with shell: true, command must be a string (the script for /bin/sh -c)',
      '/app/supervisor.yaml:5:17: programs.c.command: command has no program to run',
    ]);
  });

  it('resolves relative cwd against the config file’s directory', () => {
    const yaml = 'programs:\n  a: { command: x, cwd: data }\n  b: { command: x, cwd: ../srv }\n  c: { command: x, cwd: /abs }\n';
    expect(plan(yaml).programs.map((p) => p.cwd)).toEqual(['/app/data', '/srv', '/abs']);
    const config = configSchema.parse({ programs: { a: { command: 'x', cwd: 'data' } } });
    expect(buildPlan(config, { env: {}, cwd: '/work' }).programs[0]!.cwd).toBe('/work/data');
    expect(buildPlan(config, { env: {}, source: 'conf/s.yaml', cwd: '/work' }).programs[0]!.cwd).toBe('/work/conf/data');
  });

  it('resolves users and groups, and sets HOME, USER, LOGNAME unless env does', () => {
    const yaml = `
programs:
  a: { command: x, user: app }
  b: { command: x, user: app, group: staff, env: { HOME: /data } }
  c: { command: x, user: 1234, group: 1234 }
  d: { command: x, group: staff }
`;
    const byName = Object.fromEntries(plan(yaml).programs.map((p) => [p.name, p]));
    expect(byName.a).toMatchObject({ uid: 1000, gid: 1001, user: 'app' });
    expect(byName.a!.env).toMatchObject({ HOME: '/home/app', USER: 'app', LOGNAME: 'app' });
    expect(byName.b).toMatchObject({ uid: 1000, gid: 50 });
    expect(byName.b!.env).toMatchObject({ HOME: '/data', USER: 'app', LOGNAME: 'app' });
    expect(byName.c).toMatchObject({ uid: 1234, gid: 1234, user: '1234' });
    expect(byName.c!.env).toEqual({ PATH: '/usr/bin:/bin', HOME: '/' });
    expect(byName.d).toMatchObject({ gid: 50 });
    expect(byName.d).not.toHaveProperty('uid');
    expect(byName.d!.env.USER).toBe('root');
  });

  it('reports unknown users and groups at the field that named them', () => {
    const yaml = `
defaults:
  group: nogroup
programs:
  web:
    command: x
    user: nobody
  worker:
    command: x
    user: 4242
    group: 0
`;
    expect(problems(yaml)).toEqual([
      '/app/supervisor.yaml:3:10: defaults.group: group "nogroup" not found in /etc/group',
      '/app/supervisor.yaml:7:11: programs.web.user: user "nobody" not found in /etc/passwd',
    ]);
  });

  it('only reads the user database when some program needs it', () => {
    let reads = 0;
    const counting = () => (reads++, userDb);
    plan('programs:\n  a: { command: x }\n', { userDb: counting });
    expect(reads).toBe(0);
    plan('programs:\n  a: { command: x, user: app }\n  b: { command: x, user: root }\n', { userDb: counting });
    expect(reads).toBe(1);
  });

  it('orders programs and fills in startAfter', () => {
    const yaml = `
programs:
  web: { command: x, depends_on: [api] }
  api: { command: x, depends_on: [db] }
  db: { command: x, priority: 10 }
  metrics: { command: x, priority: 200 }
  cron: { command: x }
`;
    const result = plan(yaml);
    expect(result.programs.map((p) => p.name)).toEqual(['db', 'api', 'cron', 'web', 'metrics']);
    expect(Object.fromEntries(result.programs.map((p) => [p.name, p.startAfter]))).toEqual({
      db: [],
      api: ['db'],
      cron: [],
      web: ['api'],
      metrics: [],
    });
  });

  it('reports unknown dependencies and cycles with file:line:col', () => {
    const yaml = `
programs:
  web:
    command: x
    depends_on: [api, dbb]
  api:
    command: x
    depends_on:
      - web
  db: { command: x }
`;
    expect(problems(yaml)).toEqual([
      '/app/supervisor.yaml:5:23: programs.web.depends_on[1]: unknown program "dbb" (did you mean "db"?)',
      '/app/supervisor.yaml:9:9: programs.api.depends_on[0]: dependency cycle: api → web → api',
    ]);
  });

  it('reports a backoff that starts above its maximum', () => {
    expect(problems('defaults:\n  backoff: { max: 1s }\nprograms:\n  web: { command: x, backoff: { initial: 5s } }\n')).toEqual([
      '/app/supervisor.yaml:4:42: programs.web.backoff.initial: backoff.initial (5s) is longer than backoff.max (1s)',
    ]);
  });

  it('reports memory.high above memory.max (both sizes), also when one comes from defaults', () => {
    expect(problems('programs:\n  web:\n    command: x\n    memory: { max: 64Mi, high: 128Mi }\n')).toEqual([
      '/app/supervisor.yaml:4:32: programs.web.memory.high: memory.high (134217728 bytes) is above memory.max (67108864 bytes): it could never be crossed',
    ]);
    expect(problems('defaults:\n  memory: { high: 1Gi }\nprograms:\n  web: { command: x, memory: { max: 64Mi } }\n')).toHaveLength(1);
    // Equal, or one of them a percentage (resolved at start), is fine.
    expect(() => plan('programs:\n  web: { command: x, memory: { max: 64Mi, high: 64Mi } }\n')).not.toThrow();
    expect(() => plan('programs:\n  web: { command: x, memory: { max: 10%, high: 1Gi } }\n')).not.toThrow();
  });

  it('checks shell: true scripts with /bin/sh -n (nothing runs) and reports a syntax error at the command', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-check-'));
    const marker = join(dir, 'ran');
    const yaml = `
programs:
  ok: { command: "touch ${marker}; if true; then echo; fi", shell: true }
  bad: { command: "touch ${marker}; if true; then echo", shell: true }
  quote: { command: "echo 'oops", shell: true }
`;
    const found = problems(yaml);
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/^\/app\/supervisor\.yaml:4:19: programs\.bad\.command: \/bin\/sh -n finds a syntax error in the script: .*(end of file|unexpected)/i);
    expect(found[1]).toMatch(/^\/app\/supervisor\.yaml:5:21: programs\.quote\.command: \/bin\/sh -n finds a syntax error in the script: .*(unterminated|EOF|quote)/i);
    expect(existsSync(marker)).toBe(false);
    // The checker is an option (a machine without /bin/sh skips it).
    expect(() => plan(yaml, { checkShell: () => undefined })).not.toThrow();
  });

  it('strips the shell\'s prefix from its message', () => {
    expect(shellMessage('/bin/sh: 1: Syntax error: "then" unexpected\n')).toBe('Syntax error: "then" unexpected');
    expect(shellMessage("/bin/sh: -c: line 1: syntax error near unexpected token `then'\n")).toBe("syntax error near unexpected token `then'");
    expect(shellMessage('sh: syntax error: unterminated quoted string\n')).toBe('syntax error: unterminated quoted string');
  });

  it('names the field without a position when the config did not come from a file', () => {
    const config = configSchema.parse({ programs: { web: { command: 'x', depends_on: ['nope'] } } });
    expect(() => buildPlan(config, { env: {} })).toThrow(
      new ConfigError([{ file: '<config>', path: 'programs.web.depends_on[0]', message: 'unknown program "nope"' }]),
    );
  });

  it('builds the bundled example', () => {
    const result = buildPlan(parseConfigText(EXAMPLE, '/repo/examples/supervisor.yaml'), { env: ENV });
    expect(result.programs.map((p) => [p.name, p.startAfter])).toEqual([
      ['web', []],
      ['flaky-job', []],
      ['worker', ['web']],
    ]);
    expect(result.programs.every((p) => p.cwd === '/repo/examples')).toBe(true);
  });
});

describe('buildSingleCommandPlan', () => {
  it('runs one program once, like tini', () => {
    expect(buildSingleCommandPlan(['/usr/local/bin/node', 'server.js'], { env: { PATH: '/bin', X: undefined } })).toEqual({
      programs: [
        {
          name: 'node',
          argv: ['/usr/local/bin/node', 'server.js'],
          env: { PATH: '/bin' },
          envKeys: [],
          restart: 'never',
          backoff: { initialMs: 1000, factor: 2, maxMs: 30_000, resetAfterMs: 60_000 },
          startSecsMs: 0,
          crashLoop: { maxRestarts: 5, windowMs: 60_000 },
          stopSignal: 'SIGTERM',
          stopGraceMs: 10_000,
          processGroup: false,
          leftovers: 'stop',
          startAfter: [],
          output: 'inherit',
          stdin: 'inherit',
          onExit: { action: 'shutdown' },
          onFatal: { action: 'shutdown' },
        },
      ],
      log: { level: 'info', format: 'auto' },
      shutdownTimeoutMs: 25_000,
      singleCommand: true,
    } satisfies SupervisorPlan);
  });

  it('can signal the whole process group (tini -g) and take other options', () => {
    const result = buildSingleCommandPlan(['sh', '-c', 'sleep 1'], {
      env: {},
      processGroup: true,
      stopGraceMs: 2000,
      shutdownTimeoutMs: 5000,
      log: { level: 'debug' },
    });
    expect(result.programs[0]).toMatchObject({ name: 'sh', processGroup: true, stopGraceMs: 2000 });
    expect(result.shutdownTimeoutMs).toBe(5000);
    expect(result.log).toEqual({ level: 'debug', format: 'auto' });
  });

  it('refuses an empty command', () => {
    expect(() => buildSingleCommandPlan([])).toThrow('no command given after --');
  });
});

describe('buildPlan: memory', () => {
  it('converts program caps (sizes and percentages), defaults and the supervisor section', () => {
    const result = plan(`
memory: { poll_interval: 100ms, guard: { enabled: false, threshold: 90% }, supervisor_oom_score_adj: -900 }
termination_log: false
defaults:
  memory: { enforce: watchdog, stop_grace: 500ms }
programs:
  web:
    command: node server.js
    memory: { max: 256Mi, high: 200M }
  worker:
    command: node worker.js
    memory: { max: 50%, enforce: cgroup, oom_group: true }
`);
    const byName = Object.fromEntries(result.programs.map((p) => [p.name, p]));
    expect(byName.worker!.memory!.oomGroup).toBe(true);
    expect(byName.web!.memory!.oomGroup).toBeUndefined(); // the default: false
    expect(byName.web!.memory).toEqual({ max: { bytes: 256 * 1024 * 1024 }, high: { bytes: 200_000_000 }, enforce: 'watchdog', rlimit: 'data', oomScoreAdj: 1000, stopGraceMs: 500 });
    expect(byName.worker!.memory).toMatchObject({ max: { percent: 50 }, enforce: 'cgroup', stopGraceMs: 500 });
    expect(result.memory).toEqual({ pollIntervalMs: 100, guard: { enabled: false, threshold: { percent: 90 } }, oomScoreAdj: -900 });
    expect(result.terminationLog).toBeNull();
  });
});
