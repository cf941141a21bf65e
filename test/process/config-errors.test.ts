// Bad input never starts anything: `validate` and a normal run both print each
// config problem as `file:line:col: path: message` on stderr and exit 2; a bad
// command line gives one line and exit 2. Never a stack trace.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, afterEach } from 'vitest';
import { byEvent, killAllRuns, ROOT, runInit, startInit, tempDir } from '../helpers/init.js';
import { pool, stackLines, until, within } from './support.js';

afterEach(killAllRuns);

const stderrLines = (s: string) => s.split('\n').filter(Boolean);

interface BadConfig {
  name: string;
  /** Line 3 onwards of the config (after the `programs: web: command:` lines). */
  yaml: (marker: string) => string;
  /** Expected stderr lines: [line:col prefix after the file name, message substring]. */
  problems: Array<[string, string]>;
}

const program = (marker: string) => `programs:\n  web:\n    command: ["sh", "-c", "touch ${marker}"]\n`;

const CASES: BadConfig[] = [
  { name: 'unknown key', yaml: (m) => `${program(m)}    restrat: always\n`, problems: [[':4:5: programs.web.restrat: ', 'unknown key "restrat"']] },
  { name: 'bad duration', yaml: (m) => `${program(m)}    stop_grace: 5 parsecs\n`, problems: [[':4:17: programs.web.stop_grace: ', 'expected a duration']] },
  { name: 'wrong enum', yaml: (m) => `${program(m)}    restart: sometimes\n`, problems: [[':4:14: programs.web.restart: ', 'expected one of always, on-failure, never']] },
  { name: 'YAML syntax error (tab indent)', yaml: (m) => `${program(m)}\trestart: always\n`, problems: [[':4:1: ', 'YAML syntax error']] },
  { name: 'YAML duplicate key', yaml: (m) => `${program(m)}    restart: always\n    restart: never\n`, problems: [[':5:5: ', 'YAML syntax error']] },
  {
    name: 'two problems, in file order',
    yaml: (m) => `${program(m)}    restart: sometimes\n    backoff: { initial: 1s, factr: 2 }\n`,
    problems: [
      [':4:14: programs.web.restart: ', 'expected one of'],
      [':5:29: programs.web.backoff.factr: ', 'unknown key "factr"'],
    ],
  },
  { name: 'memory.max: 1', yaml: (m) => `${program(m)}    memory: { max: 1 }\n`, problems: [[':4:20: programs.web.memory.max: ', 'expected at least 4Mi']] },
  { name: 'memory.max: 64Ki', yaml: (m) => `${program(m)}    memory: { max: 64Ki }\n`, problems: [[':4:20: programs.web.memory.max: ', 'expected at least 4Mi (4194304 bytes; ']] },
  { name: 'memory.high above max', yaml: (m) => `${program(m)}    memory: { max: 64Mi, high: 1Gi }\n`, problems: [[':4:32: programs.web.memory.high: ', 'is above memory.max']] },
  { name: 'poll_interval 0', yaml: (m) => `memory: { poll_interval: 0 }\n${program(m)}`, problems: [[':1:26: memory.poll_interval: ', 'expected a duration above 0']] },
  {
    name: 'NUL in an env value (named, never printed)',
    yaml: (m) => `${program(m)}    env: { N: "se\\0cret" }\n`,
    problems: [[':4:15: programs.web.env.N: ', 'must not contain a NUL byte (exec cannot pass one; the value is not shown)']],
  },
  {
    name: 'shell syntax error (checked with sh -n, nothing runs)',
    yaml: (m) => `programs:\n  web:\n    command: "touch ${m}; if true; then echo"\n    shell: true\n`,
    problems: [[':3:14: programs.web.command: ', '/bin/sh -n finds a syntax error in the script']],
  },
  {
    name: 'alias bomb',
    yaml: (m) =>
      `${program(m)}${'abcdefgh'.split('').map((l, i) => (i === 0 ? `x${l}: &${l} [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n` : `x${l}: &${l} [${Array(9).fill(`*${'abcdefgh'[i - 1]}`).join(',')}]\n`)).join('')}`,
    problems: [[':10:9: ', 'YAML aliases expand to more than 1,000,000 nodes (an alias bomb?)']],
  },
  {
    name: 'a type error does not hide a dependency error',
    yaml: (m) => `${program(m)}    restart: sometimes\n    depends_on: [db]\n`,
    problems: [
      [':4:14: programs.web.restart: ', 'expected one of'],
      [':5:18: programs.web.depends_on[0]: ', 'unknown program "db"'],
    ],
  },
];

describe('invalid configs', () => {
  it('validate and run both print file:line:col: path: message, exit 2, and start nothing', async () => {
    const results = await pool(CASES, 6, async (c) => {
      const dir = tempDir();
      const marker = join(dir, 'program-ran');
      const file = join(dir, 'bad.yaml');
      writeFileSync(file, c.yaml(marker));
      const [validate, run] = await Promise.all([runInit(['validate', '-c', file], { pid1: false }), runInit(['-c', file])]);
      return { c, file, marker, validate, run };
    });
    for (const { c, file, marker, validate, run } of results) {
      const check = (stderr: string, prefix: string) => {
        const got = stderrLines(stderr);
        expect(got, c.name).toHaveLength(c.problems.length);
        c.problems.forEach(([where, message], i) => {
          expect(got[i]!.startsWith(`${prefix}${file}${where}`), `${c.name}: ${got[i]}`).toBe(true);
          expect(got[i], c.name).toContain(message);
        });
        expect(stackLines(stderr), c.name).toEqual([]);
      };
      expect(validate.code, `${c.name}: ${validate.stderr}`).toBe(2);
      check(validate.stderr, '');
      expect(validate.stdout, c.name).toBe('');
      expect(run.code, `${c.name}: ${run.stderr}`).toBe(2);
      check(run.stderr, 'supervisor: ');
      expect(run.stdout, `${c.name}: no event, nothing started`).toBe('');
      expect(existsSync(marker), c.name).toBe(false);
      expect(validate.stderr + run.stderr, `${c.name}: values are never printed`).not.toContain('cret');
    }
    // Two supervisors per case: generous, so a loaded machine cannot fail it.
  }, 600_000);

  it('one anchor used hundreds of times, and << merge keys, validate and run', async () => {
    const dir = tempDir();
    let yaml = `programs:\n  p0: &base\n    command: ["sh", "-c", "echo started-$$P >> ${join(dir, 'ran')}; exec sleep 60"]\n    env: &env { P: "0" }\n    start_secs: 0\n`;
    for (let i = 1; i < 150; i++) yaml += `  p${i}: { <<: *base, env: *env }\n`;
    const file = join(dir, 'big.yaml');
    writeFileSync(file, yaml);
    const validate = await runInit(['validate', '-c', file], { pid1: false });
    expect(validate.stderr).toBe('');
    expect(validate.stdout).toBe(`${file}: ok (150 programs)\n`);
    expect(validate.code).toBe(0);
    const run = startInit(['-c', file]);
    await run.waitForCount(byEvent('child.running'), 150, 60_000);
    // Running (start_secs 0) is the spawn; each shell writes its line a moment later (under load, after a SIGTERM sent at once).
    const ran = () => (existsSync(join(dir, 'ran')) ? readFileSync(join(dir, 'ran'), 'utf8').split('\n').filter(Boolean) : []);
    await until(() => ran().length >= 150 || undefined, 'every program wrote its line', 60_000);
    await run.signal('SIGTERM');
    expect((await within(run.done, 60_000, 'supervisor exit')).code).toBe(0);
    expect(ran()).toHaveLength(150);
  });

  it('validate accepts examples/supervisor.yaml', async () => {
    const r = await runInit(['validate', '-c', join(ROOT, 'examples/supervisor.yaml')], { pid1: false });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/examples\/supervisor\.yaml: ok \(\d+ programs?\)\n$/);
    expect(r.stderr).toBe('');
  });

  it('an unknown flag, or a missing config file, is one line on stderr and exit 2', async () => {
    const dir = tempDir();
    const marker = join(dir, 'ran');
    const [flag, flagWithCommand, missing] = await Promise.all([
      runInit(['--bogus'], { pid1: false }),
      runInit(['--bogus', '--', 'touch', marker]),
      runInit(['-c', join(dir, 'nope.yaml')]),
    ]);
    for (const [r, needle] of [[flag, 'bogus'], [flagWithCommand, 'bogus'], [missing, 'nope.yaml']] as const) {
      const what = `${needle}: stderr=${JSON.stringify(r.stderr)} stdout=${JSON.stringify(r.stdout)}`;
      expect(r.code, what).toBe(2);
      const got = stderrLines(r.stderr);
      expect(got, what).toHaveLength(1);
      expect(got[0]).toMatch(/^supervisor: /);
      expect(got[0]).toContain(needle);
      expect(stackLines(r.stderr)).toEqual([]);
      expect(r.stdout).toBe('');
    }
    expect(existsSync(marker)).toBe(false);
  });
});
