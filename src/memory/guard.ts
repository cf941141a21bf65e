// The container guard: keeps the container's working set away from its limit,
// where the kernel would OOM-kill (under Kubernetes' oom.group, the whole
// container, PID 1 included). A fast path reads only the container's own
// counters (memory.current or usage_in_bytes, inactive_file, PSI) — cheap
// and never a walk of /proc — on a period that shortens when the working set
// is near or growing; it predicts where usage will be by the time a stop can
// take effect and acts early enough. Per-program usage (tree walks) is asked
// of the host only when the container is near its limit or a victim must be
// chosen. Decisions are policy.ts's; this module reads, schedules and acts.
import { join } from 'node:path';
import type { EventSink } from '../logging/events.js';
import { readContainerMemory, type ContainerMemory } from './cgroup.js';
import type { MemoryEnvironment } from './environment.js';
import { readQuiet } from './files.js';
import { parseCount, parseFlatKeyed, parsePsi } from './parse.js';
import {
  assessGuard, BurstTracker, chooseGuardVictim, growthRate, guardGraceMs, guardLimits, GROWTH_WINDOW_MS, pushPoint, stallPercent,
  type CappedGrowth, type GuardAssessment, type GuardCandidate, type GuardLimits, type UsagePoint,
} from './policy.js';

/** What the guard reads on its fast path. */
export interface ContainerCounters {
  usageBytes: number;
  /** usage − inactive_file: the kubelet's working set. */
  workingSetBytes: number;
  /** PSI `full` total (µs); undefined without PSI. */
  fullStallUs?: number;
}

/** The container's counters, read cheaply: two or three small files, no /proc. Null when usage cannot be read. */
export function readContainerCounters(env: MemoryEnvironment): ContainerCounters | null {
  if (env.cgroup === 'none' || env.path === null) return null;
  const dir = env.path;
  const usageText = readQuiet(join(dir, env.cgroup === 'v2' ? 'memory.current' : 'memory.usage_in_bytes'));
  if (usageText === null) return null;
  let usageBytes: number;
  try {
    usageBytes = parseCount(usageText);
  } catch {
    return null;
  }
  const stat = parseFlatKeyed(readQuiet(join(dir, 'memory.stat')) ?? '');
  const inactive = (env.cgroup === 'v1' ? stat['total_inactive_file'] : undefined) ?? stat['inactive_file'] ?? 0;
  const out: ContainerCounters = { usageBytes, workingSetBytes: Math.max(0, usageBytes - inactive) };
  if (env.cgroup === 'v2' && env.psi) {
    const psi = parsePsi(readQuiet(join(dir, 'memory.pressure')) ?? '');
    if (psi?.full) out.fullStallUs = psi.full.total;
  }
  return out;
}

/** A program the guard may stop, with its usage (the host's: leaf count or tree sample). */
export interface GuardProgram extends GuardCandidate {
  pid: number;
  stopGraceMs: number;
}

/** What the guard needs from the memory manager. */
export interface GuardHost {
  /**
   * Programs that may be stopped now, with their usage: a program's last sample when it
   * is at most `maxAgeMs` old, else measured now (this is where trees are walked).
   */
  candidates(maxAgeMs: number): GuardProgram[];
  /** Keeps the per-program samples fresh while the container is near (forensics); may walk trees. */
  refreshSamples(): void;
  /**
   * The running programs whose own cap ends their growth (not those already being stopped),
   * from their last samples: no reads. Their growth beyond the cap is not predicted.
   */
  capped(): CappedGrowth[];
  /** The usual forensics of a program, for the event. */
  forensics(program: string, pid: number, container: ContainerMemory | null): Record<string, unknown>;
  /** Stops the program for a restart with this grace (memory stop bookkeeping included). */
  stop(program: string, graceMs: number): void;
  /** The program's main pid while it runs. */
  runningPid(program: string): number | undefined;
  /** Every process of the program: its tree and those it owns that left it (setsid, double fork). */
  processesOf(program: string, pid: number): number[];
}

/** What one round read, as assessGuard takes it. */
type Reading = { usedBytes: number; rateBytesPerS: number; fullStallPct: number | null; capped: CappedGrowth[]; stepBytes: number };

export interface GuardOptions {
  env: MemoryEnvironment;
  limitBytes: number;
  thresholdBytes: number;
  pollMs: number;
  events: EventSink;
  host: GuardHost;
  now?: () => number;
  read?: () => ContainerCounters | null;
  /** SIGKILLs a process; false when it is gone. */
  kill?: (pid: number) => boolean;
}

/** How often, while near, the per-program samples are refreshed (forensics, victim choice). */
const REFRESH_MS = 1000;
/** How far back the loop's lateness counts, and the most it adds to the reaction time. */
const LAG_WINDOW_MS = 5000;
const MAX_LAG_MS = 1000;
/** The container's full reading (limit, events, stat) is refreshed at most this often. */
const FULL_READ_MS = 10_000;
/**
 * A program's sample this recent is good enough to choose a victim by (no walk while the
 * container fills): refreshed every REFRESH_MS while near, a sample is younger than this
 * even when a round comes late.
 */
const CANDIDATE_AGE_MS = 2 * REFRESH_MS;
/** How long a learned reaction time counts, and the most it can be. */
const REACTION_MEMORY_MS = 600_000;
const MAX_LEARNED_REACTION_MS = 1500;

function mb(bytes: number | null | undefined): number | null {
  return bytes === null || bytes === undefined ? null : Math.round((bytes / 1048576) * 10) / 10;
}

interface Victim {
  program: string;
  pid: number;
  killed: boolean;
  usageBytes: number;
}

function killQuiet(pid: number): boolean {
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

export class ContainerGuard {
  private limits: GuardLimits;
  private timer?: NodeJS.Timeout;
  private points: UsagePoint[] = [];
  /** A program's bursts (a lump allocated, held, freed): one may come again on top of a leak. */
  private readonly bursts = new BurstTracker();
  private lastStall?: { at: number; totalUs: number };
  private lastRefresh = -Infinity;
  private lastFull = -Infinity;
  private container: ContainerMemory | null = null;
  /** The program the guard last stopped; no new stop until it is gone, only an escalation to SIGKILL. */
  private victim?: Victim;
  /**
   * A SIGKILL the guard sent, until the working set shows the memory free: the time
   * from the reading that decided it to that drop is how long a stop really takes
   * here (slow or loaded machines take longer than the default reaction time).
   */
  private pendingFree?: { decidedAt: number; freedBelowBytes: number; notYetAt: number };
  private reactions: UsagePoint[] = [];
  private nearNow = false;
  private readonly now: () => number;
  private readonly read: () => ContainerCounters | null;
  private readonly kill: (pid: number) => boolean;
  private lastError = -Infinity;
  /** When the previous round ran and how long the gap before this one was (a stalled loop shows here). */
  private lastRound?: number;
  private gapMs = 0;
  /** Recent lateness of the loop (gap beyond the period asked for), ms: stalls lengthen the reaction time. */
  private lags: UsagePoint[] = [];
  private askedMs = 0;
  /** Rounds and the time they took, for the bench and the tests. */
  readonly stats = { rounds: 0, fastRounds: 0, walks: 0 };

  constructor(private readonly o: GuardOptions) {
    this.limits = guardLimits(o.limitBytes, o.thresholdBytes, o.pollMs);
    this.now = o.now ?? Date.now;
    this.read = o.read ?? (() => readContainerCounters(o.env));
    this.kill = o.kill ?? killQuiet;
  }

  get settings(): GuardLimits {
    return this.limits;
  }

  /** Starts the self-scheduling loop (unref'd: it never keeps the supervisor alive). */
  start(): void {
    this.schedule(0);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** A program's main process exited: if it was the victim, the guard may act again. */
  exited(program: string): void {
    if (this.victim?.program === program) this.victim = undefined;
  }

  /** The last full reading of the container (for other events' forensics). */
  lastContainer(): ContainerMemory | null {
    return this.container;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => this.round(), ms);
    this.timer.unref();
  }

  private round(): void {
    let next = this.limits.slowTickMs;
    try {
      next = this.check().nextTickMs;
    } catch (e) {
      const now = this.now();
      if (now - this.lastError >= 60_000) {
        this.lastError = now;
        this.o.events.emit('supervisor.error', { error: e instanceof Error ? e.message : String(e) }, 'container guard failed');
      }
    }
    if (this.timer !== undefined) this.schedule(next);
  }

  private fullRead(now: number): ContainerMemory | null {
    try {
      this.container = readContainerMemory(this.o.env);
    } catch {
      this.container = null;
    }
    this.lastFull = now;
    if (this.container?.limitBytes) {
      // The limit can change under a running pod (in-place resize).
      const ratio = this.limits.thresholdBytes / this.limits.limitBytes;
      if (this.container.limitBytes !== this.limits.limitBytes) this.limits = guardLimits(this.container.limitBytes, Math.floor(this.container.limitBytes * ratio), this.o.pollMs);
    }
    return this.container;
  }

  /** Whether the last round found the container near its threshold (or growing towards it). */
  get near(): boolean {
    return this.nearNow;
  }

  /** One round of the fast path; returns the assessment (for tests). */
  check(): GuardAssessment {
    const now = this.now();
    this.stats.rounds++;
    this.gapMs = this.lastRound === undefined ? 0 : now - this.lastRound;
    this.lastRound = now;
    if (now - this.lastFull >= FULL_READ_MS) this.fullRead(now);
    const c = this.read();
    if (!c) return { action: 'none', projectedBytes: 0, msToHeadroom: Infinity, near: false, nextTickMs: this.limits.slowTickMs };
    this.bursts.add({ at: now, bytes: c.workingSetBytes }, growthRate(this.points, GROWTH_WINDOW_MS));
    pushPoint(this.points, { at: now, bytes: c.workingSetBytes }, GROWTH_WINDOW_MS);
    let fullStallPct: number | null = null;
    if (c.fullStallUs !== undefined) {
      if (this.lastStall) fullStallPct = stallPercent(this.lastStall.totalUs, c.fullStallUs, now - this.lastStall.at);
      if (!this.lastStall || now - this.lastStall.at >= GROWTH_WINDOW_MS) this.lastStall = { at: now, totalUs: c.fullStallUs };
    }
    const reading = {
      usedBytes: c.workingSetBytes,
      rateBytesPerS: growthRate(this.points, GROWTH_WINDOW_MS),
      fullStallPct,
      capped: this.o.host.capped(),
      stepBytes: this.bursts.burstBytes,
      liveStepBytes: this.bursts.liveBytes,
    };
    this.learnReaction(now, c.workingSetBytes);
    // A loop that runs late (a loaded machine, reclaim) reacts late too: add its recent lateness.
    this.lags.push({ at: now, bytes: Math.max(0, this.gapMs - this.askedMs) });
    while (this.lags.length > 0 && now - this.lags[0]!.at > LAG_WINDOW_MS) this.lags.shift();
    const lagMs = Math.min(MAX_LAG_MS, Math.max(0, ...this.lags.map((l) => l.bytes)));
    const a = assessGuard(reading, { ...this.limits, reactionMs: this.reactionMs() + lagMs });
    this.askedMs = a.nextTickMs;
    this.nearNow = a.near;
    if (a.nextTickMs < this.limits.slowTickMs) this.stats.fastRounds++;

    if (this.victim && this.o.host.runningPid(this.victim.program) !== this.victim.pid) this.victim = undefined;
    if (this.victim) {
      // Still dying: a SIGKILL when the limit is nearer than its grace.
      if (a.action === 'kill' && !this.victim.killed) this.escalate(this.victim, c, reading, a, now);
      return a;
    }
    // Act first: a refresh walks every program's tree, which a deciding round cannot wait for.
    if (a.action !== 'none') this.act(c, reading, a, now);
    else if (a.near && now - this.lastRefresh >= REFRESH_MS) {
      this.lastRefresh = now;
      this.stats.walks++;
      this.o.host.refreshSamples();
    }
    return a;
  }

  /** The reaction time the projection uses: the default, or longer when this machine's stops took longer lately. */
  reactionMs(): number {
    const learned = Math.max(0, ...this.reactions.map((r) => r.bytes));
    return Math.max(this.limits.reactionMs, Math.min(MAX_LEARNED_REACTION_MS, learned));
  }

  /**
   * A SIGKILL's memory shows free in this reading: remember how long it took from the
   * decision, counted to the last reading that did not show it yet (what it surely took).
   */
  private learnReaction(now: number, workingSetBytes: number): void {
    while (this.reactions.length > 0 && now - this.reactions[0]!.at > REACTION_MEMORY_MS) this.reactions.shift();
    const p = this.pendingFree;
    if (!p) return;
    if (workingSetBytes <= p.freedBelowBytes) {
      this.reactions.push({ at: now, bytes: p.notYetAt - p.decidedAt });
      this.pendingFree = undefined;
    } else if (now - p.decidedAt <= MAX_LEARNED_REACTION_MS * 4) {
      p.notYetAt = now;
    } else {
      // Never seen free (the rest of the container grew meanwhile): nothing to learn.
      this.pendingFree = undefined;
    }
  }

  /**
   * Stops the program most over its share. The stop goes first and the event after it:
   * near the limit the full reading and the log line cost time the container may not
   * have (a loaded guest spent hundreds of ms there), so `container.memory_guard`
   * follows the `child.stop` it explains. `decidedAt` is when the deciding reading was taken.
   */
  private act(c: ContainerCounters, reading: Reading, a: GuardAssessment, decidedAt: number): void {
    const candidates = this.o.host.candidates(CANDIDATE_AGE_MS);
    this.stats.walks++;
    this.lastRefresh = this.now();
    const victim = chooseGuardVictim(candidates, this.limits.limitBytes, c.workingSetBytes);
    if (!victim) return;
    const v = candidates.find((x) => x.program === victim.program)!;
    const graceMs = guardGraceMs(v.stopGraceMs, a);
    this.victim = { program: v.program, pid: v.pid, killed: false, usageBytes: v.usageBytes };
    const pids = graceMs === 0 ? this.escalate(this.victim, c, reading, a, decidedAt, true) : [];
    this.o.host.stop(v.program, graceMs);
    const actedMs = this.now() - decidedAt;
    const container = this.fullRead(this.now());
    this.o.events.emit(
      'container.memory_guard',
      {
        ...this.o.host.forensics(v.program, v.pid, container),
        action: 'stop',
        cause: a.cause,
        usage_bytes: v.usageBytes,
        ...this.readingFields(c, reading, a, actedMs),
        candidates: candidates.map((x) => ({ program: x.program, usage_bytes: x.usageBytes, max_bytes: x.maxBytes ?? null })),
        grace_ms: graceMs,
        ...(graceMs === 0 ? { killed_processes: pids.length } : {}),
      },
      `container at ${mb(c.workingSetBytes)} MiB of ${mb(this.limits.limitBytes)} MiB${a.cause === 'predicted' ? `, growing ${mb(reading.rateBytesPerS)} MiB/s` : ''}${a.cause === 'step' ? `, with ${mb(reading.stepBytes)} MiB steps lately` : ''}: ${graceMs === 0 ? 'killed' : 'stopping'} ${v.program}, the program most over its share`,
    );
  }

  /** SIGKILL every process of the victim now: the working set would reach the headroom before its grace ends. Returns the pids signalled. */
  private escalate(v: Victim, c: ContainerCounters, reading: Reading, a: GuardAssessment, decidedAt: number, quiet = false): number[] {
    v.killed = true;
    const pids = this.o.host.processesOf(v.program, v.pid);
    for (const pid of pids) this.kill(pid);
    // Nothing can be free before the SIGKILL went out: the time to send it is surely part of the reaction.
    this.pendingFree = { decidedAt, freedBelowBytes: c.workingSetBytes - v.usageBytes / 2, notYetAt: this.now() };
    if (quiet) return pids;
    this.o.events.emit(
      'container.memory_guard',
      { program: v.program, pid: v.pid, action: 'kill', cause: a.cause, processes: pids.length, ...this.readingFields(c, reading, a, this.now() - decidedAt) },
      `container at ${mb(c.workingSetBytes)} MiB of ${mb(this.limits.limitBytes)} MiB and growing: SIGKILL to ${v.program} before its grace ends`,
    );
    return pids;
  }

  /** The reading behind a decision; `actedMs`: from that reading to the signal. */
  private readingFields(c: ContainerCounters, reading: Reading, a: GuardAssessment, actedMs: number): Record<string, unknown> {
    return {
      container_used_bytes: c.workingSetBytes,
      container_usage_bytes: c.usageBytes,
      growth_bytes_per_s: Math.round(reading.rateBytesPerS),
      step_bytes: Math.round(reading.stepBytes),
      projected_bytes: Math.round(a.projectedBytes),
      threshold_bytes: this.limits.thresholdBytes,
      headroom_bytes: this.limits.headroomBytes,
      limit_bytes: this.limits.limitBytes,
      full_stall_pct: reading.fullStallPct === null ? null : Math.round(reading.fullStallPct * 10) / 10,
      round_gap_ms: this.gapMs,
      reaction_ms: this.reactionMs(),
      acted_ms: actedMs,
    };
  }
}
