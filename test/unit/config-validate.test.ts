import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/cli/plan-source.js';
import { salvageConfig } from '../../src/config/salvage.js';

async function validate(yaml: string): Promise<{ file: string; problems: string[] }> {
  const file = join(mkdtempSync(join(tmpdir(), 'validate-')), 'supervisor.yaml');
  writeFileSync(file, yaml);
  const result = await validateConfig(file, { PATH: '/usr/bin:/bin' });
  return { file, problems: result.ok ? [] : result.problems.map((line) => line.slice(file.length)) };
}

describe('validate reports every problem of a file in one run', () => {
  it('schema problems do not hide dependency, shell and cap problems in the parts that validated', async () => {
    const { problems } = await validate(`
defaults:
  stop_grace: soon
programs:
  a:
    command: x
    restart: sometimes
    depends_on: [b, nope]
  b:
    command: "if true; then echo"
    shell: true
    priority: high
  c:
    command: 5
    depends_on: [d]
  d:
    command: x
    depends_on: [c]
    memory: { max: 64Mi, high: 1Gi, enforce: kernel }
`);
    expect(problems).toEqual([
      ':3:15: defaults.stop_grace: expected a duration like 500ms, 30s, 2m (a bare number means seconds), got "soon"',
      ':7:14: programs.a.restart: expected one of always, on-failure, never, got "sometimes"',
      ':8:21: programs.a.depends_on[1]: unknown program "nope"',
      expect.stringMatching(/^:10:14: programs\.b\.command: \/bin\/sh -n finds a syntax error in the script: /),
      ':12:15: programs.b.priority: expected a number, got "high"',
      ':14:14: programs.c.command: expected a list of strings (argv) or a string, got 5',
      ':15:18: programs.c.depends_on[0]: dependency cycle: c → d → c',
      ':19:32: programs.d.memory.high: memory.high (1073741824 bytes) is above memory.max (67108864 bytes): it could never be crossed',
      ':19:46: programs.d.memory.enforce: expected one of auto, cgroup, watchdog, rlimit, got "kernel"',
    ]);
  });

  it('a valid file still validates, and a file without a programs mapping reports just the schema', async () => {
    expect((await validate('programs:\n  web: { command: x }\n')).problems).toEqual([]);
    expect((await validate('programs: [a, b]\nlog: { level: loud }\n')).problems).toEqual([
      ':1:11: programs: expected a mapping, got a list',
      ':2:15: log.level: expected one of trace, debug, info, warn, error, fatal, got "loud"',
    ]);
  });

  it('salvageConfig keeps what validated and stands in for a bad command', () => {
    const raw = { shutdown_timeout: 'x', programs: { a: { command: 5, depends_on: ['b'], restart: 'never' }, b: 'nonsense' } };
    expect(salvageConfig(raw, [['shutdown_timeout'], ['programs', 'a', 'command'], ['programs', 'b']])).toEqual({
      programs: { a: { command: 'true', depends_on: ['b'], restart: 'never' }, b: { command: 'true' } },
    });
    expect(salvageConfig('not a mapping', [[]])).toBeUndefined();
  });
});
