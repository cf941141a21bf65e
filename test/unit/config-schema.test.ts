import { describe, expect, it } from 'vitest';
import { normaliseSignal } from '../../src/config/signals.js';
import {
  configSchema,
  END_ACTIONS,
  LOG_FORMATS,
  LOG_LEVELS,
  OUTPUT_MODES,
  RESTART_POLICIES,
  MIN_MEMORY_CAP_BYTES,
  type ConfigInput,
} from '../../src/config/schema.js';
import { parseConfigText } from '../../src/config/load.js';

const minimal = (program: Record<string, unknown> = {}, top: Record<string, unknown> = {}): unknown => ({
  programs: { web: { command: ['node', 'server.js'], ...program } },
  ...top,
});

function issues(input: unknown): Array<{ path: string; code: string }> {
  const result = configSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => ({ path: i.path.join('.'), code: i.code }));
}

describe('config schema', () => {
  it('accepts a minimal config and applies no defaults itself', () => {
    const config = configSchema.parse(minimal());
    expect(config).toEqual({ programs: { web: { command: ['node', 'server.js'] } } });
  });

  it('accepts every documented field', () => {
    const input: ConfigInput = {
      version: 1,
      shutdown_timeout: '25s',
      log: { level: 'debug', format: 'json' },
      defaults: { stop_grace: 5, backoff: { factor: 3 }, env: { A: 1 } },
      programs: {
        db: { command: 'postgres -D /data', priority: 10 },
        web: {
          command: ['node', 'server.js'],
          shell: false,
          env: { KEY: 'value', PORT: 8080, DEBUG: true },
          cwd: '/app',
          user: 'app',
          group: 1000,
          restart: 'on-failure',
          backoff: { initial: '1s', factor: 2, max: '30s', reset_after: '60s' },
          start_secs: '1.5s',
          crash_loop: { max_restarts: 5, window: '1m' },
          stop_signal: 'int',
          stop_grace: '10s',
          process_group: true,
          depends_on: ['db'],
          priority: 100,
          output: 'json',
          on_exit: { action: 'shutdown', exit_code: 3 },
          on_fatal: 'continue',
        },
      },
    };
    const config = configSchema.parse(input);
    expect(config.shutdown_timeout).toBe(25_000);
    expect(config.defaults?.stop_grace).toBe(5000);
    expect(config.defaults?.env).toEqual({ A: '1' });
    const web = config.programs.web!;
    expect(web.env).toEqual({ KEY: 'value', PORT: '8080', DEBUG: 'true' });
    expect(web.backoff).toEqual({ initial: 1000, factor: 2, max: 30_000, reset_after: 60_000 });
    expect(web.start_secs).toBe(1500);
    expect(web.crash_loop).toEqual({ max_restarts: 5, window: 60_000 });
    expect(web.stop_signal).toBe('SIGINT');
    expect(web.on_exit).toEqual({ action: 'shutdown', exit_code: 3 });
    expect(config.programs.db!.command).toBe('postgres -D /data');
  });

  it('rejects unknown keys everywhere', () => {
    expect(issues({ ...(minimal() as object), extra: 1 })).toEqual([{ path: '', code: 'unrecognized_keys' }]);
    expect(issues(minimal({ restat: 'always' }))).toEqual([{ path: 'programs.web', code: 'unrecognized_keys' }]);
    expect(issues(minimal({ backoff: { inital: 1 } }))).toEqual([{ path: 'programs.web.backoff', code: 'unrecognized_keys' }]);
    expect(issues(minimal({ crash_loop: { max: 1 } }))).toEqual([{ path: 'programs.web.crash_loop', code: 'unrecognized_keys' }]);
    expect(issues(minimal({ on_exit: { action: 'shutdown', code: 1 } }))).toEqual([
      { path: 'programs.web.on_exit', code: 'unrecognized_keys' },
    ]);
    expect(issues(minimal({}, { log: { levle: 'info' } }))).toEqual([{ path: 'log', code: 'unrecognized_keys' }]);
    expect(issues(minimal({}, { defaults: { colour: 'red' } }))).toEqual([{ path: 'defaults', code: 'unrecognized_keys' }]);
  });

  it('does not allow command, shell or depends_on in defaults', () => {
    for (const key of ['command', 'shell', 'depends_on']) {
      expect(issues(minimal({}, { defaults: { [key]: [] } }))).toEqual([{ path: 'defaults', code: 'unrecognized_keys' }]);
    }
  });

  it('accepts a memory section and rejects its typos and bad sizes', () => {
    expect(issues(minimal({ memory: { max: '256Mi', high: '50%', enforce: 'watchdog', rlimit: 'as', oom_score_adj: 900, stop_grace: '1s' } }))).toEqual([]);
    expect(issues(minimal({ memory: { limit: '1Gi' } }))).toEqual([{ path: 'programs.web.memory', code: 'unrecognized_keys' }]);
    expect(issues(minimal({ memory: { max: '1 GB' } })).map((i) => i.path)).toEqual(['programs.web.memory.max']);
    expect(issues(minimal({ memory: { max: '150%' } })).map((i) => i.path)).toEqual(['programs.web.memory.max']);
    expect(issues(minimal({ memory: { enforce: 'kernel' } })).map((i) => i.path)).toEqual(['programs.web.memory.enforce']);
    expect(issues(minimal({ memory: { oom_score_adj: 1001 } })).map((i) => i.path)).toEqual(['programs.web.memory.oom_score_adj']);
  });

  it('refuses memory caps below the 4Mi floor (max: 1, max: 64Ki...), in programs and defaults', () => {
    for (const max of [0, 1, 4096, '64Ki', '256Ki', MIN_MEMORY_CAP_BYTES - 1]) {
      expect(issues(minimal({ memory: { max } })), String(max)).toEqual([{ path: 'programs.web.memory.max', code: 'custom' }]);
      expect(issues(minimal({ memory: { high: max } })), String(max)).toEqual([{ path: 'programs.web.memory.high', code: 'custom' }]);
    }
    expect(issues(minimal({}, { defaults: { memory: { max: '64Ki' } } }))).toEqual([{ path: 'defaults.memory.max', code: 'custom' }]);
    for (const max of ['4Mi', MIN_MEMORY_CAP_BYTES, '5M', '1%']) expect(issues(minimal({ memory: { max } })), String(max)).toEqual([]);
    const text = JSON.stringify(minimal({ memory: { max: '64Ki' } }));
    expect(() => parseConfigText(text, 'c.yaml')).toThrow(/programs\.web\.memory\.max: expected at least 4Mi \(4194304 bytes;.*got 65536 bytes/);
  });

  it('refuses a poll_interval of 0', () => {
    expect(issues(minimal({}, { memory: { poll_interval: 0 } }))).toEqual([{ path: 'memory.poll_interval', code: 'custom' }]);
    expect(issues(minimal({}, { memory: { poll_interval: '0ms' } }))).toEqual([{ path: 'memory.poll_interval', code: 'custom' }]);
    expect(issues(minimal({}, { memory: { poll_interval: '1ms' } }))).toEqual([]);
  });

  it('refuses a NUL byte in command, env (name or value) and cwd, naming the field and never the value', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ command: 'run s3cr3t\0x' }, 'programs.web.command'],
      [{ command: ['node', 's3cr3t\0x'] }, 'programs.web.command.1'],
      [{ env: { N: 's3cr3t\0x' } }, 'programs.web.env.N'],
      [{ env: { 'N\0M': 's3cr3t' } }, 'programs.web.env.N\0M'],
      [{ cwd: '/s3cr3t\0x' }, 'programs.web.cwd'],
    ];
    for (const [program, path] of cases) {
      expect(issues(minimal(program)).map((i) => i.path), path).toEqual([path]);
      let message = '';
      try {
        parseConfigText(JSON.stringify(minimal(program)), 'c.yaml');
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message, path).toMatch(/NUL byte/);
      if (!path.includes('\0')) expect(message, path).not.toContain('s3cr3t');
    }
    expect(issues(minimal({}, { defaults: { env: { N: 'a\0b' } } })).map((i) => i.path)).toEqual(['defaults.env.N']);
  });

  it('requires programs, at least one, with valid names and a command', () => {
    expect(issues({})).toEqual([{ path: 'programs', code: 'invalid_type' }]);
    expect(issues({ programs: {} })).toEqual([{ path: 'programs', code: 'custom' }]);
    expect(issues({ programs: { web: {} } })).toEqual([{ path: 'programs.web.command', code: 'invalid_union' }]);
    for (const name of ['_x', '-x', '.x', 'a b', 'a/b', 'ä']) {
      expect(issues({ programs: { [name]: { command: 'x' } } })).toEqual([{ path: `programs.${name}`, code: 'invalid_key' }]);
    }
    for (const name of ['a', 'A1', '0', 'web-1', 'web_1', 'api.v2']) {
      expect(issues({ programs: { [name]: { command: 'x' } } })).toEqual([]);
    }
  });

  it('validates command', () => {
    expect(issues(minimal({ command: [] }))).toEqual([{ path: 'programs.web.command', code: 'too_small' }]);
    expect(issues(minimal({ command: '' }))).toEqual([{ path: 'programs.web.command', code: 'too_small' }]);
    expect(issues(minimal({ command: [''] }))).toEqual([{ path: 'programs.web.command', code: 'custom' }]);
    expect(issues(minimal({ command: 5 }))).toEqual([{ path: 'programs.web.command', code: 'invalid_union' }]);
    expect(issues(minimal({ command: ['node', {}] }))).toEqual([{ path: 'programs.web.command', code: 'invalid_union' }]);
    // Scalars in argv become strings, as in env (issue 13).
    expect(issues(minimal({ command: ['sleep', 5] }))).toEqual([]);
  });

  it('only knows version 1', () => {
    expect(issues(minimal({}, { version: 1 }))).toEqual([]);
    expect(issues(minimal({}, { version: 2 }))).toEqual([{ path: 'version', code: 'invalid_value' }]);
  });

  it.each([
    ['restart', RESTART_POLICIES, ['always', 'on-failure', 'never']],
    ['output', OUTPUT_MODES, ['inherit', 'json']],
  ] as const)('accepts every %s value and nothing else', (field, values, expected) => {
    expect(values).toEqual(expected);
    for (const value of values) expect(issues(minimal({ [field]: value }))).toEqual([]);
    expect(issues(minimal({ [field]: 'sometimes' }))).toEqual([{ path: `programs.web.${field}`, code: 'invalid_value' }]);
  });

  it('accepts every log level and format and nothing else', () => {
    expect(LOG_LEVELS).toEqual(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
    expect(LOG_FORMATS).toEqual(['json', 'pretty', 'auto']);
    for (const level of LOG_LEVELS) expect(issues(minimal({}, { log: { level } }))).toEqual([]);
    for (const format of LOG_FORMATS) expect(issues(minimal({}, { log: { format } }))).toEqual([]);
    expect(issues(minimal({}, { log: { level: 'verbose' } }))).toEqual([{ path: 'log.level', code: 'invalid_value' }]);
    expect(issues(minimal({}, { log: { format: 'text' } }))).toEqual([{ path: 'log.format', code: 'invalid_value' }]);
  });

  it('accepts on_exit / on_fatal as a word or {action, exit_code}', () => {
    expect(END_ACTIONS).toEqual(['continue', 'shutdown']);
    for (const field of ['on_exit', 'on_fatal']) {
      for (const action of END_ACTIONS) {
        expect(configSchema.parse(minimal({ [field]: action })).programs.web).toMatchObject({ [field]: action });
        expect(issues(minimal({ [field]: { action } }))).toEqual([]);
      }
      expect(issues(minimal({ [field]: { action: 'shutdown', exit_code: 0 } }))).toEqual([]);
      expect(issues(minimal({ [field]: { action: 'shutdown', exit_code: 255 } }))).toEqual([]);
      expect(issues(minimal({ [field]: { action: 'shutdown', exit_code: 256 } }))).toEqual([
        { path: `programs.web.${field}.exit_code`, code: 'too_big' },
      ]);
      expect(issues(minimal({ [field]: { action: 'shutdown', exit_code: -1 } }))).toEqual([
        { path: `programs.web.${field}.exit_code`, code: 'too_small' },
      ]);
      expect(issues(minimal({ [field]: { exit_code: 1 } }))).toHaveLength(1);
      expect(issues(minimal({ [field]: 'restart' }))).toEqual([{ path: `programs.web.${field}`, code: 'invalid_union' }]);
    }
  });

  it('converts durations and rejects bad ones', () => {
    const web = configSchema.parse(minimal({ stop_grace: 3, start_secs: '250ms', backoff: { max: '1m30s' } })).programs.web!;
    expect(web.stop_grace).toBe(3000);
    expect(web.start_secs).toBe(250);
    expect(web.backoff?.max).toBe(90_000);
    expect(issues(minimal({ stop_grace: '10 seconds' }))).toEqual([{ path: 'programs.web.stop_grace', code: 'invalid_format' }]);
    expect(issues(minimal({ stop_grace: -1 }))).toEqual([{ path: 'programs.web.stop_grace', code: 'too_small' }]);
    expect(issues(minimal({ stop_grace: true }))).toEqual([{ path: 'programs.web.stop_grace', code: 'invalid_union' }]);
    expect(issues(minimal({ stop_grace: '999h' }))).toEqual([{ path: 'programs.web.stop_grace', code: 'custom' }]);
  });

  it('requires backoff.factor >= 1 and integer crash_loop.max_restarts >= 0', () => {
    expect(issues(minimal({ backoff: { factor: 1 } }))).toEqual([]);
    expect(issues(minimal({ backoff: { factor: 0.9 } }))).toEqual([{ path: 'programs.web.backoff.factor', code: 'too_small' }]);
    expect(issues(minimal({ crash_loop: { max_restarts: 0 } }))).toEqual([]);
    expect(issues(minimal({ crash_loop: { max_restarts: -1 } }))).toEqual([
      { path: 'programs.web.crash_loop.max_restarts', code: 'too_small' },
    ]);
    expect(issues(minimal({ crash_loop: { max_restarts: 1.5 } }))).toEqual([
      { path: 'programs.web.crash_loop.max_restarts', code: 'invalid_type' },
    ]);
  });

  it('normalises stop_signal and rejects unknown signals', () => {
    for (const input of ['TERM', 'SIGTERM', 'sigterm', 'term', 'SigTerm']) {
      expect(configSchema.parse(minimal({ stop_signal: input })).programs.web!.stop_signal).toBe('SIGTERM');
    }
    expect(configSchema.parse(minimal({ stop_signal: 'KILL' })).programs.web!.stop_signal).toBe('SIGKILL');
    expect(configSchema.parse(minimal({ stop_signal: 'sigquit' })).programs.web!.stop_signal).toBe('SIGQUIT');
    expect(issues(minimal({ stop_signal: 'SIGFOO' }))).toEqual([{ path: 'programs.web.stop_signal', code: 'custom' }]);
    expect(issues(minimal({ stop_signal: 15 }))).toEqual([{ path: 'programs.web.stop_signal', code: 'invalid_type' }]);
    expect(normaliseSignal('hup')).toBe('SIGHUP');
    expect(normaliseSignal('SIG')).toBeUndefined();
  });

  it('takes user and group as names or numeric ids', () => {
    expect(issues(minimal({ user: 'app', group: 'staff' }))).toEqual([]);
    expect(issues(minimal({ user: 1000, group: 0 }))).toEqual([]);
    expect(issues(minimal({ user: -1 }))).toHaveLength(1);
    expect(issues(minimal({ user: '' }))).toHaveLength(1);
    expect(issues(minimal({ group: 1.5 }))).toHaveLength(1);
  });

  it('stringifies env values and rejects other types and bad names', () => {
    const web = configSchema.parse(minimal({ env: { S: 'x', N: 1.5, B: false, E: '' } })).programs.web!;
    expect(web.env).toEqual({ S: 'x', N: '1.5', B: 'false', E: '' });
    expect(issues(minimal({ env: { A: null } }))).toEqual([{ path: 'programs.web.env.A', code: 'invalid_union' }]);
    expect(issues(minimal({ env: { A: ['x'] } }))).toEqual([{ path: 'programs.web.env.A', code: 'invalid_union' }]);
    expect(issues(minimal({ env: { 'A=B': 'x' } }))).toEqual([{ path: 'programs.web.env.A=B', code: 'invalid_key' }]);
    expect(issues(minimal({ env: ['A=B'] }))).toEqual([{ path: 'programs.web.env', code: 'invalid_type' }]);
  });

  it('checks the other scalar fields', () => {
    expect(issues(minimal({ shell: 'yes' }))).toEqual([{ path: 'programs.web.shell', code: 'invalid_type' }]);
    expect(issues(minimal({ process_group: 1 }))).toEqual([{ path: 'programs.web.process_group', code: 'invalid_type' }]);
    expect(issues(minimal({ priority: 1.5 }))).toEqual([{ path: 'programs.web.priority', code: 'invalid_type' }]);
    expect(issues(minimal({ priority: -5 }))).toEqual([]);
    expect(issues(minimal({ cwd: '' }))).toEqual([{ path: 'programs.web.cwd', code: 'too_small' }]);
    expect(issues(minimal({ depends_on: 'db' }))).toEqual([{ path: 'programs.web.depends_on', code: 'invalid_union' }]);
  });
});
