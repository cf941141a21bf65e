// Memory decisions, pure: whether a program's sampled usage crossed its high
// or max mark (watchdog), which program the container guard stops when the
// whole container nears its limit, and whether a SIGKILL was the kernel's OOM
// killer (the OOM watch's report) or something else.

export interface CapMarks {
  maxBytes?: number;
  highBytes?: number;
}

export type WatchdogVerdict = 'ok' | 'high' | 'max';

/**
 * Compares a usage sample with the caps. `wasHigh` is whether the previous
 * sample was already above high, so that a warning is given once per crossing,
 * not on every sample.
 */
export function watchdogVerdict(usageBytes: number, caps: CapMarks, wasHigh: boolean): { verdict: WatchdogVerdict; aboveHigh: boolean } {
  if (caps.maxBytes !== undefined && usageBytes >= caps.maxBytes) return { verdict: 'max', aboveHigh: true };
  const aboveHigh = caps.highBytes !== undefined && usageBytes >= caps.highBytes;
  return { verdict: aboveHigh && !wasHigh ? 'high' : 'ok', aboveHigh };
}

export interface GuardCandidate {
  program: string;
  usageBytes: number;
  /** The program's own cap, if it has one. */
  maxBytes?: number;
}

/**
 * The program most over its share of the container. A program over its own cap goes
 * first (it broke its promise). Otherwise its share is its cap, or, without a cap, an
 * equal part of what the caps and the memory no program accounts for (`containerUsedBytes`
 * minus the candidates' usage: the supervisor, page cache) leave of the limit — nothing
 * left means the uncapped programs are what does not fit; when the caps alone add up to
 * the limit or more, an equal split of the limit among all candidates. Highest usage ÷
 * share wins; ties go to the bigger user. Undefined when nobody uses anything.
 */
export function chooseGuardVictim(candidates: readonly GuardCandidate[], containerLimitBytes: number, containerUsedBytes?: number): GuardCandidate | undefined {
  const uncapped = candidates.filter((c) => c.maxBytes === undefined).length;
  const capSum = candidates.reduce((sum, c) => sum + (c.maxBytes ?? 0), 0);
  const accounted = candidates.reduce((sum, c) => sum + Math.max(0, c.usageBytes), 0);
  const unaccounted = containerUsedBytes === undefined ? 0 : Math.max(0, containerUsedBytes - accounted);
  const left = capSum >= containerLimitBytes ? containerLimitBytes / Math.max(1, candidates.length) : Math.max(1, containerLimitBytes - capSum - unaccounted);
  const equalShare = left / Math.max(1, uncapped);
  let best: { c: GuardCandidate; overCap: boolean; score: number } | undefined;
  for (const c of candidates) {
    if (c.usageBytes <= 0) continue;
    const overCap = c.maxBytes !== undefined && c.usageBytes >= c.maxBytes;
    const score = c.usageBytes / Math.max(1, c.maxBytes ?? equalShare);
    const better =
      !best ||
      (overCap && !best.overCap) ||
      (overCap === best.overCap && (score > best.score || (score === best.score && c.usageBytes > best.c.usageBytes)));
    if (better) best = { c, overCap, score };
  }
  return best?.c;
}

/** True when the container's usage has reached the guard's threshold (a fraction of the limit). */
export function guardTriggered(usageBytes: number, limitBytes: number | null, threshold: number): boolean {
  return limitBytes !== null && limitBytes > 0 && usageBytes >= limitBytes * threshold;
}

export interface KillEvidence {
  /** The OOM watch reported this process as a victim of an OOM kill (an oom_kill counter went up and it vanished then). */
  oomReported?: boolean;
}

export type KillVerdict = { kind: 'oom_killed' } | { kind: 'killed_without_oom_evidence' } | { kind: 'not_killed' };

/**
 * Classifies how a program's main process ended. Only a SIGKILL can be an OOM kill,
 * and only the counters can say it was one (whose limit was hit is the OOM watch's
 * call, see oom-watch.ts): without that evidence we say so, we do not guess.
 */
export function classifyKill(signal: NodeJS.Signals | null, evidence: KillEvidence): KillVerdict {
  if (signal !== 'SIGKILL') return { kind: 'not_killed' };
  return evidence.oomReported ? { kind: 'oom_killed' } : { kind: 'killed_without_oom_evidence' };
}

// ---- container guard: how often to look, when to act ----------------------
//
// The guard reads the container's own counters (working set, PSI) on a fast
// path and predicts where the working set will be by the time a stop could
// take effect. Pure functions of those readings; guard.ts does the reading.

/** How far back a growth rate looks (the container's and each capped program's). */
export const GROWTH_WINDOW_MS = 1000;

/** One reading of the container's working set. */
export interface UsagePoint {
  at: number;
  bytes: number;
}

/** Adds a reading and drops those older than `windowMs`, keeping at least two (a rate needs a span). */
export function pushPoint(points: UsagePoint[], point: UsagePoint, windowMs: number): void {
  points.push(point);
  while (points.length > 2 && point.at - points[0]!.at > windowMs) points.shift();
}

/**
 * Growth of the working set in bytes per second: the slope from the oldest
 * point inside `windowMs` to the newest, never below 0 (a shrinking container
 * is not a threat). 0 with fewer than two points or less than `minSpanMs`
 * between them (one sample's jitter is not a trend).
 */
export function growthRate(points: readonly UsagePoint[], windowMs: number, minSpanMs = 100): number {
  const last = points[points.length - 1];
  if (!last) return 0;
  const first = points.find((p) => last.at - p.at <= windowMs);
  if (!first || last.at - first.at < minSpanMs) return 0;
  return Math.max(0, ((last.bytes - first.bytes) * 1000) / (last.at - first.at));
}

/** How long a burst of the working set is remembered as one that can come again. */
export const STEP_MEMORY_MS = 10_000;
/** A rise (or fall) at most this much beyond the steady growth is jitter, not a step. */
export const MIN_STEP_BYTES = 4 * 1048576;

/**
 * A sudden rise between two readings: how much more the working set rose than its
 * growth before it explains (`rateBeforeBytesPerS` over the gap), or 0 when that is
 * jitter (below MIN_STEP_BYTES).
 */
export function stepAbove(prev: UsagePoint | undefined, next: UsagePoint, rateBeforeBytesPerS: number): number {
  if (!prev || next.at <= prev.at) return 0;
  const excess = next.bytes - prev.bytes - (Math.max(0, rateBeforeBytesPerS) * (next.at - prev.at)) / 1000;
  return excess >= MIN_STEP_BYTES ? excess : 0;
}

/** A rise and a fall this close together (ms), of sizes within BURST_MATCH of each other, make a burst. */
export const BURST_MAX_MS = 2000;
const BURST_MATCH = 0.5;

/**
 * Bursts of the working set: a program that allocates a lump at once, holds it, frees
 * it, and does it again (40 MiB for 200 ms every second). A burst is a sudden rise
 * (stepAbove) followed within BURST_MAX_MS by a sudden fall of about the same size; a
 * leak never falls, and a stopped leaker's fall is much bigger than its last rise. The
 * largest burst of the last STEP_MEMORY_MS may come again on top of the working set
 * without it; `liveBytes` is a rise of that size still up now (the burst, probably),
 * so that it is not counted twice. Only readings: the growth rate is left alone.
 */
export class BurstTracker {
  private prev?: UsagePoint;
  /** Sudden rises not yet matched by a fall, newest last. */
  private rises: UsagePoint[] = [];
  /** Bursts seen (a rise and its fall), for the allowance. */
  private bursts: UsagePoint[] = [];

  /** One reading, with the growth rate before it. */
  add(point: UsagePoint, rateBeforeBytesPerS: number): void {
    const prev = this.prev;
    this.prev = point;
    while (this.rises.length > 0 && point.at - this.rises[0]!.at > BURST_MAX_MS) this.rises.shift();
    while (this.bursts.length > 0 && point.at - this.bursts[0]!.at > STEP_MEMORY_MS) this.bursts.shift();
    if (!prev) return;
    const rise = stepAbove(prev, point, rateBeforeBytesPerS);
    if (rise > 0) {
      this.rises.push({ at: point.at, bytes: rise });
      return;
    }
    const fall = prev.bytes - point.bytes;
    if (fall < MIN_STEP_BYTES) return;
    let i = this.rises.length - 1;
    while (i >= 0 && Math.abs(this.rises[i]!.bytes - fall) > BURST_MATCH * this.rises[i]!.bytes) i--;
    if (i >= 0) {
      this.bursts.push({ at: point.at, bytes: this.rises[i]!.bytes });
      this.rises.splice(i, 1);
    }
  }

  /** The largest burst of the last STEP_MEMORY_MS (0: none seen). */
  get burstBytes(): number {
    return Math.max(0, ...this.bursts.map((b) => b.bytes));
  }

  /** A rise still up of about a known burst's size: that burst, up now. */
  get liveBytes(): number {
    const size = this.burstBytes;
    if (size === 0) return 0;
    const up = [...this.rises].reverse().find((r) => Math.abs(r.bytes - size) <= BURST_MATCH * size);
    return up ? Math.min(up.bytes, size) : 0;
  }
}

/** Stall percentage between two PSI `total` readings (microseconds) taken `elapsedMs` apart; null without both. */
export function stallPercent(prevTotalUs: number | undefined, totalUs: number | undefined, elapsedMs: number): number | null {
  if (prevTotalUs === undefined || totalUs === undefined || elapsedMs <= 0) return null;
  return Math.min(100, Math.max(0, ((totalUs - prevTotalUs) / 1000 / elapsedMs) * 100));
}

export interface GuardLimits {
  limitBytes: number;
  /** memory.guard.threshold in bytes: stop a program before the working set gets here. */
  thresholdBytes: number;
  /** The working set must never come this close to the limit: when it would within the reaction time, the stop is a SIGKILL. */
  headroomBytes: number;
  /** Time from deciding to stop a program to its memory being free (tick, signal, exit, unmap). */
  reactionMs: number;
  /** Period when nothing is near (memory.poll_interval). */
  slowTickMs: number;
  /** Period when the working set is near the threshold or growing towards it. */
  fastTickMs: number;
  /** Container PSI `full` stall percentage that counts as a reason to act (with usedBytes ≥ pressureFloorBytes). */
  pressureFullPct: number;
  pressureFloorBytes: number;
}

/** The guard's defaults around a limit and threshold (see the README's container guard paragraph). */
export function guardLimits(limitBytes: number, thresholdBytes: number, slowTickMs: number): GuardLimits {
  const MiB = 1048576;
  return {
    limitBytes,
    thresholdBytes,
    // 8 MiB, but never more than the gap between threshold and limit.
    headroomBytes: Math.max(0, Math.min(8 * MiB, limitBytes - thresholdBytes)),
    reactionMs: 400,
    slowTickMs,
    fastTickMs: Math.min(slowTickMs, 25),
    pressureFullPct: 20,
    pressureFloorBytes: thresholdBytes * 0.9,
  };
}

export interface GuardReading {
  usedBytes: number;
  /** growthRate() of the working set. */
  rateBytesPerS: number;
  /** Container PSI `full` stall percentage since the previous reading; null without PSI. */
  fullStallPct: number | null;
  /** The running programs whose own cap stops their growth (none: the growth is unbounded). */
  capped?: readonly CappedGrowth[];
  /** The largest burst of the last STEP_MEMORY_MS (BurstTracker): it may come again on top of the working set without it. */
  stepBytes?: number;
  /** A burst up now (part of usedBytes). */
  liveStepBytes?: number;
}

/** A running program with a cap of its own: how far it can still grow, and how fast it grew lately. */
export interface CappedGrowth {
  /** Its cap minus its usage at its last sample, ≥ 0. */
  roomBytes: number;
  /** growthRate() of its own usage. */
  rateBytesPerS: number;
}

/**
 * How much the working set can grow in `horizonMs` at `rateBytesPerS`, knowing that a
 * capped program's share of that growth ends at its cap: each capped program counts
 * its own recent growth, at most its room under the cap; the rest of the container's
 * growth (uncapped programs, page cache, the supervisor) counts in full. Never more
 * than the plain `rate × horizon`.
 */
export function boundedGrowth(rateBytesPerS: number, capped: readonly CappedGrowth[], horizonMs: number): number {
  const plain = (rateBytesPerS * horizonMs) / 1000;
  if (capped.length === 0 || plain <= 0) return Math.max(0, plain);
  let cappedRate = 0;
  let cappedGrowth = 0;
  for (const c of capped) {
    const rate = Math.max(0, c.rateBytesPerS);
    cappedRate += rate;
    cappedGrowth += Math.min((rate * horizonMs) / 1000, Math.max(0, c.roomBytes));
  }
  const otherGrowth = (Math.max(0, rateBytesPerS - cappedRate) * horizonMs) / 1000;
  return Math.min(plain, otherGrowth + cappedGrowth);
}

export type GuardAction = 'none' | 'stop' | 'kill';
export type GuardCause = 'threshold' | 'predicted' | 'step' | 'pressure' | 'headroom';

export interface GuardAssessment {
  /** stop = the victim's stop signal and its grace; kill = SIGKILL now (the limit is closer than the grace). */
  action: GuardAction;
  cause?: GuardCause;
  /** Where the working set can be after reactionMs: the current growth (boundedGrowth: capped programs stop at their caps) plus a recent step. */
  projectedBytes: number;
  /** ms until the working set reaches limit − headroom at the current growth; Infinity when not growing. */
  msToHeadroom: number;
  /** Near: tick fast and keep the per-program samples fresh. */
  near: boolean;
  nextTickMs: number;
}

/** What the guard should do now, from one reading of the container. */
export function assessGuard(r: GuardReading, l: GuardLimits): GuardAssessment {
  const growth = boundedGrowth(r.rateBytesPerS, r.capped ?? [], l.reactionMs);
  const growthBytes = r.usedBytes + growth;
  // A step seen lately may come again within the reaction time, on top of the baseline (the
  // working set without the steps up now): it counts towards a stop and towards watching
  // closely, not towards a SIGKILL, which the growth alone decides.
  const step = Math.max(0, r.stepBytes ?? 0);
  const baselineBytes = r.usedBytes - Math.max(0, r.liveStepBytes ?? 0);
  const withStepBytes = baselineBytes + growth + step;
  const projectedBytes = Math.max(growthBytes, withStepBytes);
  const headroomMark = l.limitBytes - l.headroomBytes;
  const msToHeadroom = r.usedBytes >= headroomMark ? 0 : r.rateBytesPerS > 0 ? ((headroomMark - r.usedBytes) * 1000) / r.rateBytesPerS : Infinity;
  // Near: the threshold is within one slow tick plus a reaction at this growth (plus a step), or usage is past 90 % of it.
  // (Near and the time to the headroom take the growth unbounded: caps bound the prediction, not the watch.)
  const nearProjection = Math.max(r.usedBytes, baselineBytes + step) + (r.rateBytesPerS * (l.slowTickMs + l.reactionMs)) / 1000;
  const near = nearProjection >= l.thresholdBytes || r.usedBytes >= l.thresholdBytes * 0.9;
  const nextTickMs = near ? l.fastTickMs : l.slowTickMs;
  const base = { projectedBytes, msToHeadroom, near, nextTickMs };
  if (growthBytes >= headroomMark) return { ...base, action: 'kill', cause: 'headroom' };
  if (r.usedBytes >= l.thresholdBytes) return { ...base, action: 'stop', cause: 'threshold' };
  if (growthBytes >= l.thresholdBytes) return { ...base, action: 'stop', cause: 'predicted' };
  if (withStepBytes >= l.thresholdBytes) return { ...base, action: 'stop', cause: 'step' };
  if (r.fullStallPct !== null && r.fullStallPct >= l.pressureFullPct && r.usedBytes >= l.pressureFloorBytes) return { ...base, action: 'stop', cause: 'pressure' };
  return { ...base, action: 'none' };
}

/**
 * The grace a guard stop gives: the program's stop_grace, shortened to the
 * time the container has left before the headroom at the current growth
 * (half of it, to leave the kill time to act), 0 when that is already gone.
 */
export function guardGraceMs(stopGraceMs: number, a: Pick<GuardAssessment, 'action' | 'msToHeadroom'>): number {
  if (a.action === 'kill') return 0;
  if (!Number.isFinite(a.msToHeadroom)) return stopGraceMs;
  return Math.max(0, Math.min(stopGraceMs, Math.floor(a.msToHeadroom / 2)));
}

// ---- a program's leaf under memory pressure -------------------------------

export interface LeafPressureMarks {
  /** `some` stall percentage over the last window that counts as thrashing. */
  somePct: number;
  /** Below this the episode is over and the event re-arms. */
  rearmPct: number;
  /** Usage must be at least this fraction of the leaf's high (else its max). */
  nearFraction: number;
}

export const LEAF_PRESSURE: LeafPressureMarks = { somePct: 10, rearmPct: 2, nearFraction: 0.9 };

/**
 * Whether a program's leaf is thrashing near its mark: reported once per
 * episode (`wasReported` true until the stall falls below rearmPct).
 */
export function leafPressureVerdict(
  stallPct: number | null,
  usageBytes: number,
  caps: CapMarks,
  wasReported: boolean,
  marks: LeafPressureMarks = LEAF_PRESSURE,
): { report: boolean; reported: boolean } {
  if (stallPct === null) return { report: false, reported: wasReported };
  if (stallPct < marks.rearmPct) return { report: false, reported: false };
  const mark = caps.highBytes ?? caps.maxBytes;
  const near = mark !== undefined && usageBytes >= mark * marks.nearFraction;
  if (!wasReported && near && stallPct >= marks.somePct) return { report: true, reported: true };
  return { report: false, reported: wasReported };
}

/**
 * Whether the container's working set is at 80 % of its limit now, or will be by the
 * next round if it grows as much again as since the previous one (no guard's forecast).
 */
export function nearLimit(workingSetBytes: number, previousBytes: number | undefined, limitBytes: number): boolean {
  const growth = previousBytes === undefined ? 0 : Math.max(0, workingSetBytes - previousBytes);
  return workingSetBytes + growth >= limitBytes * 0.8;
}
