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
 * The program most over its share of the container: usage divided by its cap,
 * or by an equal split of the limit among the candidates that have no cap.
 * Ties go to the bigger user. Undefined when nobody uses anything.
 */
export function chooseGuardVictim(candidates: readonly GuardCandidate[], containerLimitBytes: number): GuardCandidate | undefined {
  const uncapped = candidates.filter((c) => c.maxBytes === undefined).length;
  const equalShare = containerLimitBytes / Math.max(1, uncapped);
  let best: { c: GuardCandidate; score: number } | undefined;
  for (const c of candidates) {
    if (c.usageBytes <= 0) continue;
    const share = c.maxBytes ?? equalShare;
    const score = c.usageBytes / Math.max(1, share);
    if (!best || score > best.score || (score === best.score && c.usageBytes > best.c.usageBytes)) best = { c, score };
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
