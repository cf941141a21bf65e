// The OOM watch's decisions, pure: which program a container-level kill hit (from the
// programs' processes before and after), how many processes a counter delta means,
// whether a leaf's own limit was hit; and the watch itself over fake counters: one
// report per increase, victims named, a group kill's double count not reported as
// two kills, every victim of one container kill reported (no baseline stolen by the
// first), and the termination message naming each kind of stop.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { CgroupLeaf, MemoryEvents } from '../../src/memory/cgroup.js';
import { attributeContainerKills, killsFromDelta, leafLimitHit, OomWatch, statIsLive, type OomReport, type PidSets, type ProcInfo, type WatchedProgram } from '../../src/memory/oom-watch.js';
import { TerminationSummary } from '../../src/logging/termination.js';

const proc = (pid: number, main = false, comm = 'worker'): ProcInfo => ({ pid, comm, main });
const sets = (o: Record<string, ProcInfo[]>): PidSets => new Map(Object.entries(o).map(([k, v]) => [k, new Map(v.map((p) => [p.pid, p]))]));
const after = (o: Record<string, number[]>) => new Map(Object.entries(o).map(([k, v]) => [k, new Set(v)]));
const ev = (o: Partial<MemoryEvents> = {}): MemoryEvents => ({ oom_kill: 0, oom: 0, max: 0, high: 0, oom_group_kill: 0, ...o });

describe('attributeContainerKills', () => {
  const before = sets({ web: [proc(10, true), proc(11)], jobs: [proc(20, true), proc(21)] });

  it('one program lost exactly as many processes as were killed: exact', () => {
    expect(attributeContainerKills(1, before, after({ web: [10, 11], jobs: [20] }))).toEqual([
      { program: 'jobs', attribution: 'exact', victims: [proc(21)], candidates: ['jobs'] },
    ]);
  });

  it('every victim of one kill across programs: one attribution each', () => {
    const r = attributeContainerKills(2, before, after({ web: [11], jobs: [21] }));
    expect(r.map((a) => [a.program, a.attribution, a.victims.map((v) => v.pid)])).toEqual([
      ['web', 'exact', [10]],
      ['jobs', 'exact', [20]],
    ]);
  });

  it('only one program lost processes, but more than were killed: named, marked as only candidate', () => {
    expect(attributeContainerKills(2, before, after({ web: [10], jobs: [20, 21] }))[0]).toMatchObject({ program: 'web', attribution: 'only_candidate', candidates: ['web'] });
  });

  it('several programs lost processes and the counts differ: program null, the candidates listed', () => {
    expect(attributeContainerKills(1, before, after({ web: [10], jobs: [20] }))).toEqual([
      { program: null, attribution: 'unknown', victims: [proc(11), proc(21)], candidates: ['web', 'jobs'] },
    ]);
  });

  it('nobody seen vanishing: unknown, no candidates; excluded pids (exited on their own) are not victims', () => {
    expect(attributeContainerKills(1, before, after({ web: [10, 11], jobs: [20, 21] }))).toEqual([{ program: null, attribution: 'unknown', victims: [], candidates: [] }]);
    expect(attributeContainerKills(1, before, after({ web: [10], jobs: [20] }), new Set([11]))[0]).toMatchObject({ program: 'jobs', attribution: 'exact' });
  });
});

describe('counter arithmetic', () => {
  it('a group kill counts its victim twice in oom_kill: processes = oom_kill − oom_group_kill', () => {
    expect(killsFromDelta({ oom_kill: 2, oom_group_kill: 1, oom: 1, max: 3 })).toBe(1);
    expect(killsFromDelta({ oom_kill: 5, oom_group_kill: 1, oom: 1, max: 0 })).toBe(4);
    expect(killsFromDelta({ oom_kill: 1, oom_group_kill: 0, oom: 1, max: 0 })).toBe(1);
    expect(killsFromDelta({ oom_kill: 0, oom_group_kill: 0, oom: 0, max: 0 })).toBe(0);
  });

  it("the leaf's own limit: v2 oom/max counters; v1 its peak at the limit", () => {
    const none = { oom_kill: 1, oom_group_kill: 0, oom: 0, max: 0 };
    expect(leafLimitHit('v2', { ...none, oom: 1 }, null, 100)).toBe(true);
    expect(leafLimitHit('v2', none, 100, 100)).toBe(false);
    expect(leafLimitHit('v1', none, 100 << 20, 100 << 20)).toBe(true);
    expect(leafLimitHit('v1', none, 40 << 20, 100 << 20)).toBe(false);
  });
});

/** A leaf whose counters and pids the test sets. */
function fakeLeaf(name: string): CgroupLeaf & { events: MemoryEvents; procs: number[] } {
  const leaf = {
    path: `/nonexistent/${name}`,
    name,
    notes: [],
    events: ev(),
    procs: [] as number[],
    readEvents: () => ({ ...leaf.events }),
    readUsage: () => ({ currentBytes: 0, peakBytes: null, stat: {} }),
    pids: () => [...leaf.procs],
    setLimits: () => [],
    remove: () => ({ removed: true, killed: [], busyRetries: 0 }),
  };
  return leaf;
}

function harness(programs: WatchedProgram[], trees: Record<string, number[]>, snapshotIncludes?: (p: WatchedProgram) => boolean) {
  let container = ev();
  const reports: OomReport[] = [];
  let t = 0;
  const comms: number[] = [];
  const exiting = new Set<number>();
  const watch = new OomWatch({
    version: 'v2',
    programs: () => programs,
    containerEvents: () => container,
    processesOf: (p) => (p.leaf ? p.leaf.pids() : trees[p.name] ?? []),
    isLive: (pid) => !exiting.has(pid),
    snapshotIncludes,
    comm: (pid) => {
      comms.push(pid);
      return `c${pid}`;
    },
    report: (r) => reports.push(r),
    now: () => t,
  });
  watch.start();
  return {
    watch,
    reports,
    comms,
    exiting,
    setContainer: (e: Partial<MemoryEvents>) => (container = ev(e)),
    advance: (ms: number) => (t += ms),
  };
}

/** A program "app" (main pid 100) in a fake leaf holding `procs`, watched and sampled once. */
function watchedLeaf(procs: number[], o: { maxBytes?: number; path?: string } = {}) {
  const leaf = Object.assign(fakeLeaf('app'), o.path === undefined ? {} : { path: o.path });
  leaf.procs = procs;
  const h = harness([{ name: 'app', mainPid: 100, leaf, maxBytes: o.maxBytes ?? 1 << 20 }], {});
  h.watch.leafStarted('app', leaf);
  h.watch.snapshot();
  return { leaf, h };
}

describe('OomWatch', () => {
  it('leaf: one report per increase naming the non-main victim; the group-kill double count is one kill', () => {
    const { leaf, h } = watchedLeaf([100, 101]);
    leaf.procs = [100];
    leaf.events = ev({ oom_kill: 2, oom_group_kill: 1, oom: 1, max: 4 });
    h.setContainer({ oom_kill: 2, oom_group_kill: 1, oom: 1, max: 4 });
    h.watch.check();
    h.watch.check();
    expect(h.reports).toHaveLength(1);
    expect(h.reports[0]).toMatchObject({ program: 'app', evidence: 'leaf', oomKills: 1, mainKilled: false, victims: [{ pid: 101, comm: 'c101', main: false }] });
    // The leaf's kill is not reported again through the container's hierarchical counters.
    h.advance(1000);
    h.watch.check();
    expect(h.reports).toHaveLength(1);
    // The main process dies later of an unrelated SIGKILL: no counter moved, not an OOM kill.
    leaf.procs = [];
    expect(h.watch.mainKilled('app', 100)).toBe(false);
  });

  it('leaf: a kill whose limit was not the leaf\'s is evidence container; the main process reported once', () => {
    const { leaf, h } = watchedLeaf([100], { maxBytes: 1 << 30 });
    leaf.procs = [];
    // A container-wide group kill: the victim counted twice in its leaf, the group kill and the OOM only at the container.
    leaf.events = ev({ oom_kill: 2 });
    h.setContainer({ oom_kill: 2, oom_group_kill: 1, oom: 1 });
    expect(h.watch.mainKilled('app', 100)).toBe(true);
    expect(h.reports).toHaveLength(1);
    expect(h.reports[0]).toMatchObject({ program: 'app', evidence: 'container', oomKills: 1, mainKilled: true });
    expect(h.watch.mainKilled('app', 100)).toBe(true);
    expect(h.reports).toHaveLength(1);
  });

  it('a leaf kill read by the container before the leaf is never reported as a kill outside the leaves', () => {
    const { leaf, h } = watchedLeaf([100, 101, 102]);
    for (const [n, victim] of [[1, 101], [2, 102]] as const) {
      // The container's hierarchical counter is read after the kill, the leaf's before it.
      h.setContainer({ oom_kill: n, oom: n, max: n });
      h.watch.check();
      leaf.events = ev({ oom_kill: n, oom: n, max: n });
      leaf.procs = leaf.procs.filter((p) => p !== victim);
      h.advance(1000);
      h.watch.check();
      h.advance(1000);
    }
    h.watch.stop();
    expect(h.reports.map((r) => [r.program, r.evidence, r.victims.map((v) => v.pid)])).toEqual([
      ['app', 'leaf', [101]],
      ['app', 'leaf', [102]],
    ]);
  });

  it('v2 leaf: a worker forked after the last sample is noted when memory.events changes (the leaf at its limit) and named when it is killed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oom-note-'));
    try {
      writeFileSync(join(dir, 'memory.events'), 'max 0\n');
      const { leaf, h } = watchedLeaf([100], { path: dir });
      // The master forks worker 102; before any sample, the leaf reaches its limit.
      leaf.procs = [100, 102];
      leaf.events = ev({ max: 3 });
      writeFileSync(join(dir, 'memory.events'), 'max 3\n');
      await vi.waitFor(() => expect(h.comms).toContain(102), { timeout: 5000 });
      // The kernel kills it and the master reaps it; still no sample in between.
      leaf.procs = [100];
      leaf.events = ev({ max: 5, oom: 1, oom_kill: 1 });
      h.watch.check();
      h.watch.stop();
      expect(h.reports.map((r) => [r.program, r.evidence, r.victims])).toEqual([['app', 'leaf', [{ pid: 102, comm: 'c102', main: false }]]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('container: a process noted while the container is at its limit (between snapshots) is named when it is killed', () => {
    const trees: Record<string, number[]> = { a: [10], b: [20] };
    const h = harness([{ name: 'a', mainPid: 10 }, { name: 'b', mainPid: 20 }], trees);
    h.watch.snapshot();
    trees.a = [10, 11]; // a worker starts after the last snapshot …
    h.watch.noteProcesses(); // … the container reaches its limit …
    trees.a = [10]; // … and the kernel kills the worker before the next snapshot
    h.setContainer({ oom_kill: 1, oom: 1 });
    h.watch.check();
    h.watch.stop();
    expect(h.reports).toEqual([expect.objectContaining({ program: 'a', attribution: 'exact', victims: [{ pid: 11, comm: 'c11', main: false }], oomKills: 1 })]);
  });

  it('container: a victim still dying at the next round is named once it is gone, even when that round leaves its program out', () => {
    const trees: Record<string, number[]> = { a: [10, 11] };
    let near = true;
    const h = harness([{ name: 'a', mainPid: 10 }], trees, () => near);
    h.watch.snapshot();
    h.setContainer({ oom_kill: 1, oom: 1 });
    h.watch.check(); // 11 is killed but still exiting: not vanished yet
    expect(h.reports).toHaveLength(0);
    expect(h.watch.containerKillPending()).toBe(true);
    near = false; // its memory is being freed: the container is no longer near its limit
    h.watch.snapshot();
    trees.a = [10];
    h.advance(100);
    h.watch.check();
    h.watch.stop();
    expect(h.reports).toEqual([expect.objectContaining({ program: 'a', attribution: 'exact', victims: [{ pid: 11, comm: 'c11', main: false }] })]);
    expect(h.watch.containerKillPending()).toBe(false);
  });

  it('leaf: a victim still listed in its leaf but already in exit() is named at once', () => {
    const { leaf, h } = watchedLeaf([100, 101]);
    h.exiting.add(101); // killed, freeing its memory: still in cgroup.procs
    leaf.events = ev({ oom_kill: 1, oom: 1, max: 2 });
    h.watch.check();
    h.watch.stop();
    expect(h.reports).toEqual([expect.objectContaining({ program: 'app', evidence: 'leaf', victims: [{ pid: 101, comm: 'c101', main: false }] })]);
  });

  it('container: every victim of one kill is reported, whichever main exit comes first', () => {
    const programs = ['a', 'b', 'c'].map((name, i) => ({ name, mainPid: 10 * (i + 1) }));
    const trees: Record<string, number[]> = { a: [], b: [], c: [] };
    const h = harness(programs, trees);
    h.watch.snapshot();
    h.setContainer({ oom_kill: 4, oom_group_kill: 1, oom: 1 });
    expect(h.watch.mainKilled('b', 20)).toBe(true);
    expect(h.reports.map((r) => [r.program, r.evidence, r.attribution, r.mainKilled])).toEqual([
      ['a', 'container', 'exact', true],
      ['b', 'container', 'exact', true],
      ['c', 'container', 'exact', true],
    ]);
    expect(h.watch.mainKilled('a', 10)).toBe(true);
    expect(h.watch.mainKilled('c', 30)).toBe(true);
    expect(h.reports).toHaveLength(3);
  });

  it('container: a kill whose victim was never sampled waits for it, then says it cannot tell', () => {
    const h = harness([{ name: 'a', mainPid: 10 }], { a: [10] });
    h.watch.snapshot();
    h.setContainer({ oom_kill: 1, oom: 1 });
    h.watch.check();
    expect(h.reports).toHaveLength(0);
    h.advance(600);
    h.watch.check();
    expect(h.reports).toEqual([expect.objectContaining({ program: null, attribution: 'unknown', candidates: [], victims: [], oomKills: 1 })]);
    h.watch.stop();
  });
});

describe('termination message', () => {
  it('names each kind of stop and the real reason a program turned fatal', () => {
    const t = new TerminationSummary({ emit: () => undefined });
    t.emit('child.oom_killed', { program: 'w' }, '');
    t.emit('child.memory_cap_exceeded', { program: 'w' }, '');
    t.emit('container.memory_guard', { program: 'w', action: 'stop' }, '');
    // the same stop, escalated to SIGKILL before its grace ended: not another stop
    t.emit('container.memory_guard', { program: 'w', action: 'kill' }, '');
    t.emit('container.memory_guard', { program: 'w', action: 'stop' }, '');
    t.emit('child.fatal', { program: 'w', reason: 'oom_loop' }, '');
    t.emit('child.fatal', { program: 'x' }, '');
    t.emit('child.oom_killed', { program: null }, '');
    t.emit('supervisor.shutdown', { reason: 'program_fatal', program: 'w' }, '');
    const text = t.text(1);
    expect(text).toContain('program w turned fatal (too many OOM kills or memory stops (memory.oom_loop))');
    expect(text).toContain('w: 1 OOM kill, 1 watchdog cap stop, 2 container-guard stops, fatal (too many OOM kills or memory stops (memory.oom_loop)).');
    expect(text).toContain('x: fatal (crash loop).');
    expect(text).toContain('1 OOM kill not tied to one program.');
  });
});

describe('liveness from /proc/PID/stat', () => {
  const stat = (state: string, flags: number) => `4242 (py (x) 3) ${state} 1 4242 4242 0 -1 ${flags} 0 0 0 0 1 2 0 0 20 0 1 0 12345`;
  it('running and sleeping are live; zombies, dead and exiting (PF_EXITING) are not', () => {
    expect(statIsLive(stat('R', 0x400000))).toBe(true);
    expect(statIsLive(stat('S', 0x400100))).toBe(true);
    expect(statIsLive(stat('Z', 0x400000))).toBe(false);
    expect(statIsLive(stat('X', 0))).toBe(false);
    expect(statIsLive(stat('D', 0x400104))).toBe(false);
  });
});
