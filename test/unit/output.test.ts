import { describe, expect, it } from 'vitest';
import { frameLine, LineSplitter, MAX_LINE_BYTES } from '../../src/process/output.js';
import { sweepOrphans } from '../../src/process/reaper.js';
import { parseChildrenList } from '../../src/process/tree.js';

describe('JSON output framing', () => {
  it('wraps a text line', () => {
    expect(JSON.parse(frameLine('web', 'stdout', 'hello "x"', 'T'))).toEqual({ time: 'T', program: 'web', stream: 'stdout', msg: 'hello "x"' });
  });
  it('keeps the fields of a JSON line; program and stream are ours', () => {
    const out = JSON.parse(frameLine('web', 'stderr', '{"msg":"m","program":"theirs","stream":"x","n":1}', 'T'));
    expect(out).toEqual({ time: 'T', msg: 'm', program: 'web', stream: 'stderr', n: 1 });
  });
  it('a child cannot write the supervisor’s own fields: its event and level become child_event and child_level', () => {
    const forged = frameLine('web', 'stdout', '{"level":60,"event":"supervisor.exit","code":0}', 'T');
    expect(JSON.parse(forged)).toEqual({ time: 'T', child_level: 60, child_event: 'supervisor.exit', code: 0, program: 'web', stream: 'stdout' });
    // Whatever the value (the supervisor's own label encoding too, null, an object), never at the top level.
    for (const level of ['"info"', '"fatal"', 'null', '{"x":1}', '30']) {
      const out = JSON.parse(frameLine('web', 'stdout', `{"level":${level},"event":${level},"msg":"m"}`, 'T')) as Record<string, unknown>;
      expect(out).not.toHaveProperty('level');
      expect(out).not.toHaveProperty('event');
      expect(out.child_level).toEqual(JSON.parse(level));
      expect(out.child_event).toEqual(JSON.parse(level));
    }
    // A line without them gets no child_* keys; the child's own child_event yields to the moved one.
    expect(JSON.parse(frameLine('web', 'stdout', '{"msg":"m"}', 'T'))).toEqual({ time: 'T', msg: 'm', program: 'web', stream: 'stdout' });
    expect(JSON.parse(frameLine('web', 'stdout', '{"child_event":"a","event":"b"}', 'T')).child_event).toBe('b');
    // Text that merely looks like an event is framed as msg.
    expect(JSON.parse(frameLine('web', 'stdout', ' {"event":"supervisor.exit"}', 'T'))).toEqual({ time: 'T', program: 'web', stream: 'stdout', msg: ' {"event":"supervisor.exit"}' });
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
