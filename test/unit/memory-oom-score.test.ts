// memory-oom-score.test.ts — oom_score_adj read/write against a fake /proc, and
// against this process's real one (reading only).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readOomScore, readOomScoreAdj, writeOomScoreAdj } from '../../src/memory/oom-score.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function fakeProc(pids: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'memoom-'));
  roots.push(root);
  for (const [pid, adj] of Object.entries(pids)) {
    mkdirSync(join(root, pid));
    writeFileSync(join(root, pid, 'oom_score_adj'), adj);
    writeFileSync(join(root, pid, 'oom_score'), '667\n');
  }
  return root;
}

describe('oom_score_adj', () => {
  it('reads self and a pid', () => {
    const proc = fakeProc({ self: '0\n', '42': '-1000\n' });
    expect(readOomScoreAdj('self', proc)).toEqual({ ok: true, value: 0 });
    expect(readOomScoreAdj(42, proc)).toEqual({ ok: true, value: -1000 });
    expect(readOomScore(42, proc)).toBe(667);
  });

  it('writes a value in range', () => {
    const proc = fakeProc({ '42': '0\n' });
    expect(writeOomScoreAdj(42, 500, proc)).toEqual({ ok: true, value: 500 });
    expect(readFileSync(join(proc, '42', 'oom_score_adj'), 'utf8')).toBe('500');
  });

  it('refuses values out of range without writing', () => {
    const proc = fakeProc({ '42': '0\n' });
    expect(writeOomScoreAdj(42, -1001, proc)).toMatchObject({ ok: false, code: 'EINVAL' });
    expect(writeOomScoreAdj(42, 1.5, proc)).toMatchObject({ ok: false, code: 'EINVAL' });
    expect(readFileSync(join(proc, '42', 'oom_score_adj'), 'utf8')).toBe('0\n');
  });

  it('a missing process is ENOENT, not a throw', () => {
    const proc = fakeProc({});
    expect(readOomScoreAdj(7, proc)).toMatchObject({ ok: false, code: 'ENOENT' });
    expect(writeOomScoreAdj(7, 0, proc)).toMatchObject({ ok: false, code: 'ENOENT', message: expect.stringContaining(`${proc}/7/oom_score_adj`) });
    expect(readOomScore(7, proc)).toBeNull();
  });

  it('garbage content is EINVAL', () => {
    expect(readOomScoreAdj(1, fakeProc({ '1': 'x\n' }))).toMatchObject({ ok: false, code: 'EINVAL' });
  });

  it('reads this process for real', () => {
    const r = readOomScoreAdj();
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value).toBeGreaterThanOrEqual(-1000);
  });
});
