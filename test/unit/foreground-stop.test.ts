// When the terminal's Ctrl-Z counts as a stop of the command's job although the
// command itself cannot stop: it sits in vfork (D) while its vfork child was
// stopped before the exec (T). The real-terminal case is test/process/terminal.test.ts.
import { describe, expect, it } from 'vitest';
import type { ProcStat } from '../../src/process/kill-tree.js';
import { stoppedVforkChild } from '../../src/process/foreground.js';

function tree(stats: Record<number, ProcStat>, children: Record<number, number[]>) {
  return [(pid: number) => stats[pid], (pid: number) => children[pid] ?? []] as const;
}

describe('stoppedVforkChild', () => {
  it('finds the stopped child of a command blocked in vfork, in the command’s group', () => {
    expect(stoppedVforkChild(10, ...tree({ 10: { state: 'D', pgid: 10 }, 11: { state: 'T', pgid: 10 } }, { 10: [11] }))).toBe(11);
  });

  it('ignores a command that is not blocked (it can stop and report the stop itself)', () => {
    expect(stoppedVforkChild(10, ...tree({ 10: { state: 'S', pgid: 10 }, 11: { state: 'T', pgid: 10 } }, { 10: [11] }))).toBeUndefined();
  });

  it('ignores a child that runs, or that was stopped in a group of its own (not the terminal’s stop of the job)', () => {
    expect(stoppedVforkChild(10, ...tree({ 10: { state: 'D', pgid: 10 }, 11: { state: 'R', pgid: 10 } }, { 10: [11] }))).toBeUndefined();
    expect(stoppedVforkChild(10, ...tree({ 10: { state: 'D', pgid: 10 }, 11: { state: 'T', pgid: 11 } }, { 10: [11] }))).toBeUndefined();
  });

  it('is undefined when the command is gone', () => {
    expect(stoppedVforkChild(10, ...tree({}, {}))).toBeUndefined();
  });
});
