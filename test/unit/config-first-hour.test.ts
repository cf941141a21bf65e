// What a new user types into supervisor.yaml in the first hour, and what they are told.
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/cli/plan-source.js';
import { parseConfigText } from '../../src/config/load.js';
import { editDistance } from '../../src/config/suggest.js';
import { buildPlan } from '../../src/plan/build.js';

async function problems(yaml: string): Promise<string[]> {
  const file = join(mkdtempSync(join(tmpdir(), 'first-hour-')), 'supervisor.yaml');
  writeFileSync(file, yaml);
  const result = await validateConfig(file, { PATH: '/usr/bin:/bin' });
  return result.ok ? [] : result.problems.map((line) => line.slice(file.length));
}

describe('config: the first hour', () => {
  it('scalars in an argv list become strings, as in env', async () => {
    const loaded = parseConfigText('programs:\n  nap: { command: [sleep, 5, true, 1.5] }\n', 'x.yaml');
    expect(buildPlan(loaded, { env: {} }).programs[0]!.argv).toEqual(['sleep', '5', 'true', '1.5']);
    expect(await problems('programs:\n  nap: { command: [sleep, 5] }\n')).toEqual([]);
  });

  it('an empty command list says a program must be named', async () => {
    expect(await problems('programs:\n  a: { command: [] }\n')).toEqual([':2:17: programs.a.command: must name a program to run, got an empty list']);
  });

  it('a list item that is no scalar is still refused', async () => {
    expect(await problems('programs:\n  a: { command: [sleep, {n: 5}] }\n')).toEqual([':2:25: programs.a.command[1]: expected a string, got a mapping']);
  });

  it('a misspelt log key gets a did-you-mean, swapped letters included', async () => {
    expect(await problems('log:\n  levle: debug\nprograms:\n  a: { command: x }\n')).toEqual([':2:3: log.levle: unknown key "levle" (did you mean "level"?)']);
    expect(await problems('log:\n  fromat: json\nprograms:\n  a: { command: x }\n')).toEqual([':2:3: log.fromat: unknown key "fromat" (did you mean "format"?)']);
    expect(editDistance('levle', 'level')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('every example config in examples/ validates as shipped (the README points new users at them)', async () => {
    const dir = resolve(import.meta.dirname, '../../examples');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.sort()).toEqual(['health.yaml', 'memory.yaml', 'supervisor.yaml']);
    for (const f of files) {
      // They run from their own directory (relative paths to the example programs), with node on PATH.
      const result = await validateConfig(join(dir, f), { PATH: process.env.PATH ?? '/usr/bin:/bin' });
      expect(result.ok ? [] : result.problems, f).toEqual([]);
    }
  });
});
