import { describe, expect, it } from 'vitest';
import { decideExitCode } from '../../src/supervision/exit-code.js';
import { decodeWaitStatus } from '../../src/sys/wait-status.js';

const none = new Set<number>();

describe('exit code rules', () => {
  it('single-command mode passes the child status through, whatever the cause', () => {
    expect(decideExitCode({ kind: 'signal', signal: 'SIGTERM' }, { singleCommandStatus: 143, remapToZero: none })).toBe(143);
    expect(decideExitCode({ kind: 'program_exited', program: 'x', status: 3 }, { singleCommandStatus: 3, remapToZero: none })).toBe(3);
  });
  it('config mode: a requested shutdown is 0', () => {
    expect(decideExitCode({ kind: 'signal', signal: 'SIGTERM' }, { remapToZero: none })).toBe(0);
  });
  it('config mode: a failure shutdown carries the failure', () => {
    expect(decideExitCode({ kind: 'program_fatal', program: 'x', status: 2 }, { remapToZero: none })).toBe(2);
    expect(decideExitCode({ kind: 'program_fatal', program: 'x', status: 0 }, { remapToZero: none })).toBe(1);
    expect(decideExitCode({ kind: 'program_fatal', program: 'x', status: 2, exitCode: 9 }, { remapToZero: none })).toBe(9);
    expect(decideExitCode({ kind: 'program_exited', program: 'x', status: 137 }, { remapToZero: none })).toBe(137);
    expect(decideExitCode({ kind: 'all_exited', status: 4 }, { remapToZero: none })).toBe(4);
  });
  it('-e remaps codes to 0', () => {
    expect(decideExitCode({ kind: 'signal', signal: 'SIGTERM' }, { singleCommandStatus: 143, remapToZero: new Set([143]) })).toBe(0);
  });
});

describe('waitpid status decoding', () => {
  it('decodes exits and signals', () => {
    expect(decodeWaitStatus(0)).toEqual({ code: 0, signal: null });
    expect(decodeWaitStatus(3 << 8)).toEqual({ code: 3, signal: null });
    expect(decodeWaitStatus(9)).toEqual({ code: null, signal: 9 });
    expect(decodeWaitStatus(0x80 | 11)).toEqual({ code: null, signal: 11 }); // core dumped
  });
});
