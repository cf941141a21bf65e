import { describe, expect, it } from 'vitest';
import { frameLine, LineSplitter, MAX_LINE_BYTES } from '../../src/process/output.js';
import { sweepOrphans } from '../../src/process/reaper.js';
import { parseChildrenList } from '../../src/process/tree.js';

describe('JSON output framing', () => {
  it('wraps a text line', () => {
    expect(JSON.parse(frameLine('web', 'stdout', 'hello "x"', 'T'))).toEqual({ time: 'T', program: 'web', stream: 'stdout', msg: 'hello "x"' });
  });
  it('keeps the fields of a JSON line; program and stream are ours', () => {
    const out = JSON.parse(frameLine('web', 'stderr', '{"level":"warn","msg":"m","program":"theirs","n":1}', 'T'));
    expect(out).toEqual({ time: 'T', level: 'warn', msg: 'm', program: 'web', stream: 'stderr', n: 1 });
  });
  it('a JSON array or broken JSON is framed as text', () => {
    expect(JSON.parse(frameLine('a', 'stdout', '{broken', 'T')).msg).toBe('{broken');
    expect(JSON.parse(frameLine('a', 'stdout', '[1]', 'T')).msg).toBe('[1]');
  });
  it('drops a trailing CR', () => {
    expect(JSON.parse(frameLine('a', 'stdout', 'x\r', 'T')).msg).toBe('x');
  });
  it('splits chunks into lines across chunk borders and flushes the tail', () => {
    const s = new LineSplitter();
    expect(s.push('a\nb')).toEqual(['a']);
    expect(s.push('c\n\nd')).toEqual(['bc', '']);
    expect(s.end()).toEqual(['d']);
    expect(s.end()).toEqual([]);
  });
  it('cuts an endless line into bounded pieces', () => {
    const s = new LineSplitter();
    const lines = s.push('x'.repeat(MAX_LINE_BYTES * 2 + 5));
    expect(lines.map((l) => l.length)).toEqual([MAX_LINE_BYTES, MAX_LINE_BYTES]);
    expect(s.end()).toEqual(['xxxxx']);
  });
});

describe('orphan sweep', () => {
  it('reaps only children that child_process did not spawn', () => {
    const asked: number[] = [];
    const reaped = sweepOrphans({
      children: () => [10, 11, 12],
      isSpawnedChild: (pid) => pid === 11,
      reap: (pid) => {
        asked.push(pid);
        return pid === 12 ? { code: 0, signal: null } : null;
      },
    });
    expect(asked).toEqual([10, 12]);
    expect(reaped).toEqual([{ pid: 12, code: 0, signal: null }]);
  });
  it('parses /proc children lists', () => {
    expect(parseChildrenList('12 345 7 ')).toEqual([12, 345, 7]);
    expect(parseChildrenList('')).toEqual([]);
  });
});
