import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatPath, formatProblem } from '../../src/config/errors.js';
import { findConfigPath, loadConfigFile, parseConfigText } from '../../src/config/load.js';

/** The formatted problems of a config text that must fail. */
function problems(text: string): string[] {
  try {
    parseConfigText(text, 'supervisor.yaml');
  } catch (error) {
    if (error instanceof ConfigError) return error.format();
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfigText', () => {
  it('returns the validated config and an origin that locates paths', () => {
    const text = 'programs:\n  web:\n    command: node server.js\n    restart: never\n';
    const { config, origin } = parseConfigText(text, 'x.yaml');
    expect(config.programs.web).toEqual({ command: 'node server.js', restart: 'never' });
    expect(origin.file).toBe('x.yaml');
    expect(origin.locate(['programs', 'web', 'restart'])).toEqual({ line: 4, col: 14 });
    expect(origin.locate(['programs', 'web', 'restart'], 'key')).toEqual({ line: 4, col: 5 });
    // A path that does not exist points at the key of its nearest parent.
    expect(origin.locate(['programs', 'web', 'depends_on', 0])).toEqual({ line: 2, col: 3 });
    expect(origin.locate(['nothing', 'here'])).toEqual({ line: 1, col: 1 });
  });

  it('points an unknown key at the key itself, with a suggestion', () => {
    expect(problems('programs:\n  web:\n    command: [node, server.js]\n    restat: always\n')).toEqual([
      'supervisor.yaml:4:5: programs.web.restat: unknown key "restat" (did you mean "restart"?)',
    ]);
  });

  it('points a wrong type at the value', () => {
    expect(problems('programs:\n  web:\n    command: x\n    process_group: "no"\n')).toEqual([
      'supervisor.yaml:4:20: programs.web.process_group: expected true or false, got "no"',
    ]);
    expect(problems('programs:\n  web:\n    command: x\n    priority: high\n')).toEqual([
      'supervisor.yaml:4:15: programs.web.priority: expected a number, got "high"',
    ]);
  });

  it('explains a bad duration', () => {
    expect(problems('programs:\n  web:\n    command: x\n    stop_grace: 10 seconds\n')).toEqual([
      'supervisor.yaml:4:17: programs.web.stop_grace: expected a duration like 500ms, 30s, 2m (a bare number means seconds), got "10 seconds"',
    ]);
  });

  it('reports every problem at once, in file order', () => {
    const text = [
      'version: 2',
      'shutdown_timeout: soon',
      'log: { level: verbose }',
      'defaults:',
      '  command: x',
      'programs:',
      '  web:',
      '    command: [node, [5]]',
      '    restart: alway',
      '    stop_signal: TREM',
      '    backoff: { factor: 0.5 }',
      '    on_exit: { action: stop }',
      '    on_fatal: maybe',
      '    env: { A: [1] }',
      '  "b@d":',
      '    command: x',
      '  worker:',
      '    shell: true',
      '  empty:',
      '',
    ].join('\n');
    expect(problems(text)).toEqual([
      'supervisor.yaml:1:10: version: expected 1 (the only version so far), got 2',
      'supervisor.yaml:2:19: shutdown_timeout: expected a duration like 500ms, 30s, 2m (a bare number means seconds), got "soon"',
      'supervisor.yaml:3:15: log.level: expected one of trace, debug, info, warn, error, fatal, got "verbose"',
      'supervisor.yaml:5:3: defaults.command: "command" cannot be set in defaults, only in a program',
      'supervisor.yaml:8:21: programs.web.command[1]: expected a string, got a list',
      'supervisor.yaml:9:14: programs.web.restart: expected one of always, on-failure, never, got "alway" (did you mean "always"?)',
      'supervisor.yaml:10:18: programs.web.stop_signal: expected a signal name like SIGTERM, TERM or sigterm, got "TREM" (did you mean "SIGTERM"?)',
      'supervisor.yaml:11:24: programs.web.backoff.factor: expected a number >= 1, got 0.5',
      'supervisor.yaml:12:24: programs.web.on_exit.action: expected one of continue, shutdown, got "stop"',
      'supervisor.yaml:13:15: programs.web.on_fatal: expected continue, shutdown, or {action: shutdown, exit_code: N}, got "maybe"',
      'supervisor.yaml:14:15: programs.web.env.A: expected a string, number or boolean, got a list',
      'supervisor.yaml:15:3: programs["b@d"]: expected a program name: letters, digits, _ . - and not starting with _ . -, got "b@d"',
      'supervisor.yaml:17:3: programs.worker.command: missing required field',
      'supervisor.yaml:19:3: programs.empty: expected a mapping, got null',
    ]);
  });

  it('reports several unknown keys separately', () => {
    expect(problems('programs:\n  web:\n    command: x\n    foo: 1\n    bar: 2\n')).toEqual([
      'supervisor.yaml:4:5: programs.web.foo: unknown key "foo"',
      'supervisor.yaml:5:5: programs.web.bar: unknown key "bar"',
    ]);
  });

  it('requires at least one program', () => {
    expect(problems('programs: {}\n')).toEqual(['supervisor.yaml:1:11: programs: expected at least one program']);
    expect(problems('version: 1\n')).toEqual(['supervisor.yaml:1:1: programs: missing required field']);
    expect(problems('')).toEqual(['supervisor.yaml:1:1: the file is empty (expected a mapping with a programs: section)']);
    expect(problems('- a\n- b\n')).toEqual(['supervisor.yaml:1:1: expected a mapping, got a list']);
  });

  it('turns YAML syntax errors into problems with line:col', () => {
    expect(problems('programs:\n  web:\n    command: [node\n  x: : y\n')).toEqual([
      'supervisor.yaml:4:3: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
      'supervisor.yaml:4:6: YAML syntax error: Nested mappings are not allowed in compact mappings',
    ]);
    expect(problems('programs:\n  a: {command: x}\n  a: {command: y}\n')).toEqual([
      'supervisor.yaml:3:3: YAML syntax error: Map keys must be unique',
    ]);
    expect(problems('programs:\n\tweb: {}\n')[0]).toMatch(/^supervisor\.yaml:2:1: YAML syntax error: /);
  });

  it('follows aliases', () => {
    const text = 'x-common: &common\n  restart: nope\nprograms:\n  web:\n    command: x\n    restart: *common\n';
    // x-common is itself an unknown key; the alias value is a mapping, not a policy.
    expect(problems(text)).toEqual([
      'supervisor.yaml:1:1: x-common: unknown key "x-common"',
      'supervisor.yaml:6:14: programs.web.restart: expected one of always, on-failure, never, got a mapping',
    ]);
  });

  it('accepts one anchor used hundreds of times (the yaml package alone stops at 100)', () => {
    let text = 'defaults:\n  env: &env {A: "1", B: "2"}\nprograms:\n';
    for (let i = 0; i < 500; i++) text += `  p${i}: {command: [/bin/true], env: *env}\n`;
    const { config } = parseConfigText(text, 'big.yaml');
    expect(Object.keys(config.programs)).toHaveLength(500);
    expect(config.programs.p499!.env).toEqual({ A: '1', B: '2' });
  });

  it('turns an alias bomb into a config problem at the alias that passes the limit', () => {
    const levels = 'abcdefghi'.split('');
    let text = 'x: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
    for (let i = 1; i < levels.length; i++) text += `${levels[i]}: &${levels[i]} [${Array(9).fill(`*${levels[i - 1]}`).join(',')}]\n`;
    text += 'programs:\n  web: {command: x}\n';
    const found = problems(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^supervisor\.yaml:7:8: YAML aliases expand to more than 1,000,000 nodes \(an alias bomb\?\): \*f$/);
  });

  it('supports << merge keys, own keys winning, and locates merged-in values where they are written', () => {
    const text = [
      'programs:',
      '  base: &base',
      '    command: [/bin/true]',
      '    restart: on-failure',
      '    stop_grace: 2s',
      '  web:',
      '    <<: *base',
      '    command: [node, server.js]',
      '  bad:',
      '    <<: *base',
      '    stop_grace: forever',
      '',
    ].join('\n');
    expect(problems(text)).toEqual([
      'supervisor.yaml:11:17: programs.bad.stop_grace: expected a duration like 500ms, 30s, 2m (a bare number means seconds), got "forever"',
    ]);
    const { config, origin } = parseConfigText(text.replace('forever', '3s'), 'x.yaml');
    expect(config.programs.web).toEqual({ command: ['node', 'server.js'], restart: 'on-failure', stop_grace: 2000 });
    expect(config.programs.bad!.stop_grace).toBe(3000);
    // web's restart comes from base: its location is where base writes it.
    expect(origin.locate(['programs', 'web', 'restart'])).toEqual({ line: 4, col: 14 });
  });
});

describe('loadConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'config-load-'));

  it('reads and validates a file, naming it in problems', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'programs:\n  web:\n    command: x\n    restart: 1\n');
    expect(() => loadConfigFile(file)).toThrow(`${file}:4:14: programs.web.restart: expected one of always, on-failure, never, got 1`);
  });

  it('loads the bundled example', () => {
    const { config } = loadConfigFile(new URL('../../examples/supervisor.yaml', import.meta.url).pathname);
    expect(Object.keys(config.programs)).toEqual(['web', 'worker', 'flaky-job']);
  });

  it('reports a missing or unreadable file in one line', () => {
    const missing = join(dir, 'missing.yaml');
    expect(() => loadConfigFile(missing)).toThrow(new ConfigError([{ file: missing, message: `cannot read ${missing}: ENOENT` }]));
    try {
      loadConfigFile(missing);
    } catch (error) {
      expect((error as ConfigError).message).toBe(`cannot read ${missing}: ENOENT`);
      expect((error as ConfigError).format()).toEqual([`cannot read ${missing}: ENOENT`]);
    }
    expect(() => loadConfigFile(dir)).toThrow(`${dir} is a directory, not a config file: give the file itself (e.g. ${join(dir, "supervisor.yaml")})`);
  });
});

describe('findConfigPath', () => {
  const exists = (...paths: string[]) => (path: string) => paths.includes(path);

  it('prefers --config, then $SUPERVISOR_CONFIG, then ./supervisor.yaml, then /etc/supervisor.yaml', () => {
    const all = exists('/app/cli.yaml', '/app/env.yaml', '/app/supervisor.yaml', '/etc/supervisor.yaml');
    const env = { SUPERVISOR_CONFIG: 'env.yaml' };
    expect(findConfigPath('cli.yaml', env, { cwd: '/app', exists: all })).toBe('/app/cli.yaml');
    expect(findConfigPath(undefined, env, { cwd: '/app', exists: all })).toBe('/app/env.yaml');
    expect(findConfigPath(undefined, {}, { cwd: '/app', exists: all })).toBe('/app/supervisor.yaml');
    expect(findConfigPath(undefined, {}, { cwd: '/srv', exists: all })).toBe('/etc/supervisor.yaml');
    expect(findConfigPath(undefined, { SUPERVISOR_CONFIG: '' }, { cwd: '/srv', exists: all })).toBe('/etc/supervisor.yaml');
    expect(findConfigPath(undefined, {}, { cwd: '/srv', exists: exists() })).toBeUndefined();
  });

  it('treats an explicit path that does not exist as an error, not a fallthrough', () => {
    const fallback = exists('/app/supervisor.yaml', '/etc/supervisor.yaml');
    expect(() => findConfigPath('/nope.yaml', {}, { cwd: '/app', exists: fallback })).toThrow(
      'config file /nope.yaml (from --config) does not exist',
    );
    expect(() => findConfigPath(undefined, { SUPERVISOR_CONFIG: 'nope.yaml' }, { cwd: '/app', exists: fallback })).toThrow(
      new ConfigError([{ file: '/app/nope.yaml', message: 'config file /app/nope.yaml (from $SUPERVISOR_CONFIG) does not exist' }]),
    );
  });
});

describe('problem formatting', () => {
  it('formats paths with indexes and quoted odd keys', () => {
    expect(formatPath(['programs', 'web', 'restart'])).toBe('programs.web.restart');
    expect(formatPath(['programs', 'web', 'depends_on', 2])).toBe('programs.web.depends_on[2]');
    expect(formatPath(['programs', 'api.v2', 'env', 'A B'])).toBe('programs["api.v2"].env["A B"]');
    expect(formatPath([])).toBe('');
  });

  it('leaves out what a problem does not have', () => {
    expect(formatProblem({ file: 'f.yaml', line: 3, col: 7, path: 'programs.web', message: 'm' })).toBe('f.yaml:3:7: programs.web: m');
    expect(formatProblem({ file: 'f.yaml', line: 3, col: 7, message: 'm' })).toBe('f.yaml:3:7: m');
    expect(formatProblem({ file: '<config>', path: 'programs.web.user', message: 'm' })).toBe('<config>: programs.web.user: m');
    expect(formatProblem({ file: 'f.yaml', message: 'cannot read f.yaml: EACCES' })).toBe('cannot read f.yaml: EACCES');
  });
});
