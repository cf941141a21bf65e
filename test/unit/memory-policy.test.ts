import { describe, expect, it } from 'vitest';
import { chooseGuardVictim, classifyKill, guardTriggered, watchdogVerdict } from '../../src/memory/policy.js';
import { chooseEnforcement, resolveSize } from '../../src/memory/manager.js';
import { sumStatuses } from '../../src/memory/sampler.js';
import { parseProcStatus } from '../../src/memory/parse.js';
import { programPlan } from '../helpers/plan.js';

const MiB = 1024 * 1024;

describe('watchdog verdict', () => {
  it('max wins; high is reported once per crossing', () => {
    const caps = { maxBytes: 100 * MiB, highBytes: 80 * MiB };
    expect(watchdogVerdict(50 * MiB, caps, false)).toEqual({ verdict: 'ok', aboveHigh: false });
    expect(watchdogVerdict(85 * MiB, caps, false)).toEqual({ verdict: 'high', aboveHigh: true });
    expect(watchdogVerdict(90 * MiB, caps, true)).toEqual({ verdict: 'ok', aboveHigh: true });
    expect(watchdogVerdict(70 * MiB, caps, true)).toEqual({ verdict: 'ok', aboveHigh: false });
    expect(watchdogVerdict(85 * MiB, caps, false).verdict).toBe('high'); // re-armed after dropping below
    expect(watchdogVerdict(100 * MiB, caps, true).verdict).toBe('max');
  });
  it('no caps, no verdict', () => {
    expect(watchdogVerdict(1e12, {}, false).verdict).toBe('ok');
  });
});

describe('container guard', () => {
  it('triggers at the threshold only with a limit', () => {
    expect(guardTriggered(95, 100, 0.95)).toBe(true);
    expect(guardTriggered(94, 100, 0.95)).toBe(false);
    expect(guardTriggered(1e12, null, 0.95)).toBe(false);
  });
  it('stops the program most over its share: usage over its cap, or over an equal split', () => {
    const victim = chooseGuardVictim(
      [
        { program: 'big-but-allowed', usageBytes: 150 * MiB, maxBytes: 200 * MiB }, // 0.75 of its cap
        { program: 'small-over', usageBytes: 60 * MiB, maxBytes: 50 * MiB }, // 1.2 of its cap
        { program: 'uncapped', usageBytes: 40 * MiB }, // share 256 MiB / 1 → 0.16
      ],
      256 * MiB,
    );
    expect(victim?.program).toBe('small-over');
  });
  it('splits the limit among uncapped programs; ties go to the bigger user', () => {
    expect(chooseGuardVictim([{ program: 'a', usageBytes: 100 }, { program: 'b', usageBytes: 300 }], 1000)?.program).toBe('b');
    expect(chooseGuardVictim([{ program: 'a', usageBytes: 100, maxBytes: 100 }, { program: 'b', usageBytes: 200, maxBytes: 200 }], 1000)?.program).toBe('b');
    expect(chooseGuardVictim([{ program: 'idle', usageBytes: 0 }], 1000)).toBeUndefined();
  });
});

describe('kill classification', () => {
  it('only SIGKILL can be an OOM kill; evidence decides, leaf first', () => {
    expect(classifyKill('SIGTERM', { oomReported: true })).toEqual({ kind: 'not_killed' });
    expect(classifyKill(null, {})).toEqual({ kind: 'not_killed' });
    expect(classifyKill('SIGKILL', { oomReported: true })).toEqual({ kind: 'oom_killed' });
    expect(classifyKill('SIGKILL', { oomReported: false })).toEqual({ kind: 'killed_without_oom_evidence' });
    expect(classifyKill('SIGKILL', {})).toEqual({ kind: 'killed_without_oom_evidence' });
  });
});

describe('caps and enforcement', () => {
  it('resolves sizes and percentages of the container limit', () => {
    expect(resolveSize(undefined, 100)).toBeUndefined();
    expect(resolveSize({ bytes: 5 }, null)).toBe(5);
    expect(resolveSize({ percent: 50 }, 256 * MiB)).toBe(128 * MiB);
    expect(resolveSize({ percent: 50 }, null)).toBe('no-limit');
  });
  it('auto picks cgroup when the cgroup fs is writable, else the watchdog; no cap, no enforcement', () => {
    const capped = programPlan({ memory: { max: { bytes: MiB }, enforce: 'auto', rlimit: 'data', oomScoreAdj: 1000, stopGraceMs: 1000 } });
    expect(chooseEnforcement(capped, true)).toBe('cgroup');
    expect(chooseEnforcement(capped, false)).toBe('watchdog');
    expect(chooseEnforcement(programPlan({ memory: { ...capped.memory!, enforce: 'rlimit' } }), true)).toBe('rlimit');
    expect(chooseEnforcement(programPlan({ memory: { ...capped.memory!, max: undefined } }), true)).toBe('none');
    expect(chooseEnforcement(programPlan(), true)).toBe('none');
  });
});

describe('process tree sample', () => {
  it('adds up RSS split and virtual size of the processes, in bytes', () => {
    const a = parseProcStatus('Name:\tpython3\nState:\tS (sleeping)\nVmSize:\t  100 kB\nVmRSS:\t   40 kB\nRssAnon:\t   30 kB\nRssFile:\t    8 kB\nRssShmem:\t    2 kB\nVmSwap:\t0 kB\n');
    const zombie = parseProcStatus('Name:\tsh\nState:\tZ (zombie)\n');
    expect(sumStatuses([a, a, zombie], 7)).toEqual({ at: 7, processes: 3, rssBytes: 80 * 1024, anonBytes: 60 * 1024, fileBytes: 16 * 1024, shmemBytes: 4 * 1024, vmBytes: 200 * 1024, swapBytes: 0 });
  });
});
