import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extendOwnership, parseProcStat, ProcessOwnership, programFromEnviron, type ProcStat } from '../../src/process/ownership.js';

const SUP = 1;
const proc = (pid: number, ppid: number, pgrp = pid, session = pgrp, startTime = 1000 + pid): ProcStat => ({ pid, ppid, pgrp, session, startTime, state: 'S' });
const own = (m: Map<string, Map<number, number>>, program: string) => [...(m.get(program)?.keys() ?? [])].sort((a, b) => a - b);
const none = new Map<string, Map<number, number>>();
const ownGroups = new Set([0, SUP]);

describe('process ownership', () => {
  it('parses /proc/PID/stat, also with spaces and parentheses in the name', () => {
    const text = '4242 (my (odd) name) S 1 4240 4240 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 3133440 359 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0';
    expect(parseProcStat(text)).toEqual({ pid: 4242, ppid: 1, pgrp: 4240, session: 4240, startTime: 98765, state: 'S' });
    expect(parseProcStat('garbage')).toBeUndefined();
  });

  it('reads the program mark from a NUL-separated environment', () => {
    expect(programFromEnviron('PATH=/bin\0SUPERVISOR_PROGRAM=web\0HOME=/')).toBe('web');
    expect(programFromEnviron('PATH=/bin\0')).toBeUndefined();
  });

  it('a main pid owns its descendants', () => {
    const procs = [proc(10, SUP), proc(11, 10, 10), proc(12, 11, 10), proc(20, SUP), proc(21, 20, 20)];
    const o = extendOwnership(none, new Map([['a', 10], ['b', 20]]), procs, ownGroups);
    expect(own(o, 'a')).toEqual([10, 11, 12]);
    expect(own(o, 'b')).toEqual([20, 21]);
  });

  it('a process once owned stays owned after re-parenting to PID 1, and so do its children', () => {
    const before = extendOwnership(none, new Map([['a', 10]]), [proc(10, SUP), proc(11, 10, 11, 11)], ownGroups);
    // 11 called setsid and its parent exited: re-parented to the supervisor, then forked 12.
    const after = extendOwnership(before, new Map(), [proc(11, SUP, 11, 11), proc(12, 11, 11, 11)], ownGroups);
    expect(own(after, 'a')).toEqual([11, 12]);
  });

  it('a reused pid (other start time) is not the owned process', () => {
    const before = extendOwnership(none, new Map([['a', 10]]), [proc(10, SUP), proc(11, 10, 11, 11)], ownGroups);
    const after = extendOwnership(before, new Map(), [proc(11, SUP, 11, 11, 99_999)], ownGroups);
    expect(own(after, 'a')).toEqual([]);
  });

  it('a process never seen before is owned through the group or session of an owned process, even a dead one', () => {
    const before = extendOwnership(none, new Map([['a', 10]]), [proc(10, SUP)], ownGroups);
    // The main (10) exited; `sleep &` it had started was re-parented before any look.
    const after = extendOwnership(before, new Map(), [proc(15, SUP, 10, 10)], ownGroups);
    expect(own(after, 'a')).toEqual([15]);
  });

  it('the supervisor\'s own group or session owns nothing (process_group: false)', () => {
    const o = extendOwnership(none, new Map([['a', 10]]), [proc(10, SUP, SUP, SUP), proc(30, SUP, SUP, SUP)], ownGroups);
    expect(own(o, 'a')).toEqual([10]);
  });

  it('the environment mark claims what no parent or group explains', () => {
    const procs = [proc(10, SUP), proc(40, SUP, 39, 39), proc(50, SUP, 49, 49)];
    const marks = new Map([[40, 'a']]);
    const o = extendOwnership(none, new Map([['a', 10]]), procs, ownGroups, (p) => marks.get(p.pid));
    expect(own(o, 'a')).toEqual([10, 40]);
    // A mark naming no known program is ignored.
    const o2 = extendOwnership(none, new Map([['a', 10]]), procs, ownGroups, () => 'unknown');
    expect(own(o2, 'a')).toEqual([10]);
  });

  it('a parent\'s claim wins over an environment mark', () => {
    const procs = [proc(10, SUP), proc(20, SUP), proc(21, 20, 20)];
    const o = extendOwnership(none, new Map([['a', 10], ['b', 20]]), procs, ownGroups, () => 'a');
    expect(own(o, 'b')).toEqual([20, 21]);
  });

  it('what may be signalled now leaves out an owned process that ended or whose pid was reused since the last refresh', () => {
    const root = mkdtempSync(join(tmpdir(), 'fake-proc-'));
    const stat = (pid: number, ppid: number, state: string, start: number) => {
      mkdirSync(join(root, String(pid)), { recursive: true });
      writeFileSync(join(root, String(pid), 'stat'), `${pid} (x) ${state} ${ppid} ${pid} ${pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${start}`);
    };
    stat(1, 0, 'S', 1);
    stat(10, 1, 'S', 500);
    stat(11, 1, 'S', 501);
    stat(12, 1, 'S', 502);
    const o = new ProcessOwnership(1, root);
    for (const pid of [10, 11, 12]) o.adopt('a', pid);
    expect(o.livePidsOf('a').sort()).toEqual([10, 11, 12]);
    stat(11, 1, 'S', 9999); // ended, and its pid went to another process
    stat(12, 1, 'Z', 502); // a zombie
    expect(o.pidsOf('a').sort()).toEqual([10, 11, 12]);
    expect(o.livePidsOf('a')).toEqual([10]);
  });
});
