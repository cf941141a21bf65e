// The final kill's round (SIGSTOP sweeps, then SIGKILL) against a simulated
// process table, including a "pid hopper" that forks and exits between the
// kill loop's own reads of /proc.
import { describe, expect, it } from 'vitest';
import { groupPolicy, killRound, parseStat, type KillRoundOptions, type TreeAccess } from '../../src/process/kill-tree.js';

interface Proc {
  ppid: number;
  state: 'R' | 'S' | 'D' | 'T' | 'Z';
  pgid: number;
  hopper: boolean;
}

const ROOT = 1;

/** A process table where a hopper takes one step (fork, or exit once it has forked) every `hopEvery` calls of the kill loop. */
class World {
  readonly procs = new Map<number, Proc>();
  readonly sent: Array<[number, NodeJS.Signals]> = [];
  private nextPid = 100;
  private calls = 0;
  constructor(private readonly hopEvery = 0) {}

  /** ppid → children, in the order they became its children (as /proc lists them). */
  private readonly kids = new Map<number, Set<number>>();

  private adopt(ppid: number, pid: number): void {
    if (!this.kids.has(ppid)) this.kids.set(ppid, new Set());
    this.kids.get(ppid)!.add(pid);
  }

  add(ppid: number, over: Partial<Proc> = {}): number {
    const pid = this.nextPid++;
    const parent = this.procs.get(ppid);
    this.procs.set(pid, { ppid, state: 'S', pgid: over.pgid ?? parent?.pgid ?? 0, hopper: false, ...over });
    this.adopt(ppid, pid);
    return pid;
  }

  startHopper(pgid: number): number {
    const pid = this.add(ROOT, { state: 'R', hopper: true, pgid });
    this.hoppers.add(pid);
    return pid;
  }

  /** Processes that are neither dead nor zombies. */
  alive(): number[] {
    return [...this.procs].filter(([, p]) => p.state !== 'Z').map(([pid]) => pid);
  }

  private readonly hoppers = new Set<number>();

  private exit(pid: number): void {
    const p = this.procs.get(pid)!;
    p.state = 'Z';
    this.hoppers.delete(pid);
    // Orphans go to the reaper, at the end of its list.
    for (const c of this.kids.get(pid) ?? []) {
      this.procs.get(c)!.ppid = ROOT;
      this.adopt(ROOT, c);
    }
    this.kids.delete(pid);
  }

  private hop(): void {
    for (const pid of [...this.hoppers]) {
      const p = this.procs.get(pid)!;
      if (p.state !== 'R') continue;
      const hasChild = [...(this.kids.get(pid) ?? [])].some((c) => this.procs.get(c)!.state !== 'Z');
      if (hasChild) this.exit(pid);
      else this.hoppers.add(this.add(pid, { state: 'R', hopper: true }));
    }
  }

  private tick(): void {
    this.calls++;
    if (this.hopEvery > 0 && this.calls % this.hopEvery === 0) this.hop();
  }

  readonly access: TreeAccess = {
    children: (pid) => {
      this.tick();
      return [...(this.kids.get(pid) ?? [])].filter((c) => this.procs.get(c)!.ppid === pid);
    },
    stat: (pid) => {
      this.tick();
      const p = this.procs.get(pid);
      return p && { state: p.state, pgid: p.pgid };
    },
    kill: (target, signal) => {
      this.tick();
      this.sent.push([target, signal]);
      const targets = target < 0 ? [...this.procs].filter(([, p]) => p.pgid === -target).map(([pid]) => pid) : [target];
      for (const pid of targets) {
        const p = this.procs.get(pid);
        if (!p || p.state === 'Z') continue;
        if (signal === 'SIGKILL') this.exit(pid);
        else if (signal === 'SIGSTOP' && p.state !== 'D') p.state = 'T';
      }
      return targets.length > 0;
    },
    now: () => this.calls,
  };
}

const options = (over: Partial<KillRoundOptions> = {}): KillRoundOptions => ({
  root: ROOT,
  mayKillGroup: () => false,
  maxSweeps: 1000,
  maxMs: 1_000_000,
  ...over,
});

/** Kill rounds until one finds nothing alive (what the supervisor's final kill does). */
function killAll(w: World, opts: KillRoundOptions, maxRounds = 20) {
  const rounds = [];
  for (let i = 0; i < maxRounds; i++) {
    const r = killRound(w.access, opts);
    rounds.push(r);
    if (r.killed.length === 0) break;
  }
  return rounds;
}

describe('kill-tree: one round', () => {
  it('stops every process, confirms with a sweep that sends nothing, then SIGKILLs them all', () => {
    const w = new World();
    const a = w.add(ROOT);
    const b = w.add(a);
    const c = w.add(a);
    const d = w.add(b);
    const r = killRound(w.access, options());
    expect(r).toEqual({ sweeps: 2, converged: true, killed: [a, b, c, d] });
    // Every process got SIGSTOP before any SIGKILL.
    const firstKill = w.sent.findIndex(([, s]) => s === 'SIGKILL');
    expect(w.sent.slice(0, firstKill).map(([pid, s]) => `${pid} ${s}`)).toEqual([a, b, c, d].map((p) => `${p} SIGSTOP`));
    expect(w.alive()).toEqual([]);
    expect(killRound(w.access, options())).toEqual({ sweeps: 1, converged: true, killed: [] });
  });

  it('leaves zombies alone and does not count them', () => {
    const w = new World();
    const z = w.add(ROOT, { state: 'Z' });
    const a = w.add(ROOT);
    const r = killRound(w.access, options());
    expect(r.killed).toEqual([a]);
    expect(w.sent.filter(([pid]) => pid === z)).toEqual([]);
  });

  it('a process stuck in D state: SIGKILL after maxSweeps all the same, not converged', () => {
    const w = new World();
    const d = w.add(ROOT, { state: 'D' });
    const r = killRound(w.access, options({ maxSweeps: 5 }));
    expect(r).toEqual({ sweeps: 5, converged: false, killed: [d] });
    expect(w.alive()).toEqual([]);
  });

  it('a round cut short by its time bound still SIGKILLs everything its sweeps stopped (none is left stopped and alive)', () => {
    for (let maxMs = 1; maxMs <= 60; maxMs++) {
      const w = new World();
      const a = w.add(ROOT);
      const b = w.add(a);
      w.add(a);
      w.add(b);
      const r = killRound(w.access, options({ maxMs }));
      const stopped = [...w.procs].filter(([, p]) => p.state === 'T').map(([pid]) => pid);
      expect({ maxMs, stopped }).toEqual({ maxMs, stopped: [] });
      expect(r.killed.length).toBeGreaterThan(0);
    }
  });

  it('never signals a process group the policy refuses (the supervisor’s own)', () => {
    const w = new World();
    w.add(ROOT, { pgid: 1 });
    w.add(ROOT, { pgid: 7 });
    const seen: number[] = [];
    killRound(w.access, options({ mayKillGroup: (g) => (seen.push(g), g !== 1) }));
    expect(w.sent.filter(([t]) => t < 0).map(([t, s]) => `${t} ${s}`)).toEqual(['-7 SIGSTOP', '-7 SIGKILL']);
  });
});

describe('kill-tree: a pid hopper', () => {
  const hopper = (w: World) => w.startHopper(555);

  it('the model hopper really hops: left alone it keeps changing pid and never ends', () => {
    const w = new World(1);
    const first = hopper(w);
    for (let i = 0; i < 40; i++) w.access.stat(first);
    expect(w.procs.get(first)!.state).toBe('Z');
    expect(w.alive().length).toBeGreaterThan(0);
    for (const pid of w.alive()) expect(pid).toBeGreaterThan(first + 10);
  });

  // A real fork costs far more than a /proc read and a kill(2): a hopper steps every tens of reads at most.
  for (const every of [5, 10, 50]) {
    it(`per-process stops catch a hopper that takes a step every ${every} reads of /proc (zombies piling up meanwhile)`, () => {
      const w = new World(every);
      hopper(w);
      const rounds = killAll(w, options({ maxMs: 2000 }));
      expect(rounds.at(-1)!.killed).toEqual([]);
      expect(w.alive()).toEqual([]);
    });
  }

  for (const every of [2, 4]) {
    it(`with its process group allowed (PID 1), a hopper that steps every ${every} reads is caught in the first round`, () => {
      const w = new World(every);
      hopper(w);
      const rounds = killAll(w, options({ mayKillGroup: (g) => g === 555, maxMs: 2000 }));
      expect(rounds.at(-1)!.killed).toEqual([]);
      expect(rounds[0]!.converged).toBe(true);
      expect(w.alive()).toEqual([]);
    });
  }
});

describe('kill-tree: group policy and /proc parsing', () => {
  it('PID 1 may signal any group but its own; otherwise only a group whose leader it met', () => {
    const pid1 = groupPolicy(true, 0, 1);
    expect([pid1(0, new Set()), pid1(1, new Set()), pid1(42, new Set())]).toEqual([false, false, true]);
    const sub = groupPolicy(false, 300, 400);
    expect([sub(300, new Set([300])), sub(400, new Set([400])), sub(42, new Set()), sub(42, new Set([42]))]).toEqual([false, false, false, true]);
  });

  it('parses state and pgid out of a stat line whose name holds spaces and parentheses', () => {
    expect(parseStat('42 (we) ird) T 1 77 77 0 -1 4194560')).toEqual({ state: 'T', pgid: 77 });
    expect(parseStat('garbage')).toBeUndefined();
  });
});
