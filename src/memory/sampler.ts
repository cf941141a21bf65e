// Samples the memory of a program's processes (every process it owns: the main
// pid, its descendants, and those that left the tree, see process/ownership.ts),
// not only the main pid as pm2 does. Two readings per process:
//   /proc/PID/status        RSS split into anon / file / shmem, virtual size (forensics);
//   /proc/PID/smaps_rollup  the proportional set size (PSS) of each kind: a page
//                           shared by N processes counts 1/N in each, so the Node
//                           binary mapped by the supervisor and by every program is
//                           not counted in full in each of them.
// The status counters are exact at the moment they are read; a smaps_rollup walk
// is not: the kernel lets go of the process's mmap lock when a writer waits (Linux
// ≥ 5.10) and resumes after the last mapping it finished, so the pages of mappings
// that came or changed meanwhile go uncounted. A program that maps memory as it
// grows (any allocator, 50 MiB/s) lost up to 111 of its 185 MiB from the walk in
// the cgroup v2 VM (Debian's 6.1). So the walk only measures sharing, RSS − PSS of
// each kind among the pages it saw, and a process's shares are its status counters
// minus that: the PSS when the walk is whole, an upper bound when it is torn (fewer
// pages seen, less sharing found).
// From these, what a leaf cgroup would charge for the same processes:
//   charged = Pss_Anon + Pss_File + Pss_Shmem   (tracks a leaf's memory.current)
//   pinned  = Pss_Anon + Pss_Shmem              (what the kernel cannot reclaim
//             without swap: a leaf at its memory.max drops file pages first and
//             OOM-kills only when this reaches the limit)
// Without smaps_rollup (Linux < 4.14) or its Pss_* lines (< 5.9) the status RSS
// figures stand in: charged = RSS, pinned = RssAnon + RssShmem.
//
// Cost: status is a few counters (tens of µs), smaps_rollup walks the page tables
// (≈ 30 µs per MiB resident: 15 ms for a 512 MiB process). So a TreeMeter reads
// status every round and smaps_rollup only once per PSS_INTERVAL_MS, or at once
// when the cheap estimate comes near the threshold a decision depends on: a stop
// is always decided on a fresh PSS reading. Between two readings the estimate is
// the status figures minus the sharing discount (RSS − PSS) of the last reading;
// RSS ≥ PSS, so status alone is an upper bound.
import { readFileSync } from 'node:fs';
import { descendantsOf } from '../process/tree.js';
import { parseProcStatus, parseSmapsRollup, type ProcStatus, type SmapsRollup } from './parse.js';

/** The status figures of several processes added up. */
export interface StatusSum {
  /** When it was taken (ms, the caller's clock). */
  at: number;
  processes: number;
  rssBytes: number;
  anonBytes: number;
  fileBytes: number;
  shmemBytes: number;
  /** Sum of the processes' virtual sizes (far above RSS with overcommit). */
  vmBytes: number;
  swapBytes: number;
}

export interface TreeSample extends StatusSum {
  /** Age of the PSS figures (0: read in this round; status-based estimate otherwise). */
  pssAgeMs: number;
  pssAnonBytes: number;
  pssFileBytes: number;
  pssShmemBytes: number;
  /** What a leaf cgroup would charge: anon + shmem + the fair share of file pages. */
  chargedBytes: number;
  /** What the kernel could not reclaim (anon + shmem shares): the watchdog's verdict compares this with `max`. */
  pinnedBytes: number;
}

const KB = 1024;

/** Adds up the status of several processes (zombies and vanished ones count as 0). */
export function sumStatuses(statuses: readonly ProcStatus[], at: number): StatusSum {
  const s: StatusSum = { at, processes: 0, rssBytes: 0, anonBytes: 0, fileBytes: 0, shmemBytes: 0, vmBytes: 0, swapBytes: 0 };
  for (const st of statuses) {
    s.processes++;
    s.rssBytes += (st.vmRssKb ?? 0) * KB;
    s.anonBytes += (st.rssAnonKb ?? 0) * KB;
    s.fileBytes += (st.rssFileKb ?? 0) * KB;
    s.shmemBytes += (st.rssShmemKb ?? 0) * KB;
    s.vmBytes += (st.vmSizeKb ?? 0) * KB;
    s.swapBytes += (st.vmSwapKb ?? 0) * KB;
  }
  return s;
}

/**
 * One process's proportional shares: its status counters minus the sharing the walk
 * found (see the header: a torn walk cannot lower them). Anonymous memory has its own
 * RSS in the walk; file and shmem share one (Rss − Anonymous), whose discount goes to
 * file pages first, as far as the walk's file PSS explains, and the rest to shmem. From
 * the status alone when smaps_rollup has no Pss_* lines (Linux < 5.9).
 */
export function processShares(status: ProcStatus, rollup: SmapsRollup | undefined): { anon: number; file: number; shmem: number } {
  const anon = (status.rssAnonKb ?? 0) * KB;
  const file = (status.rssFileKb ?? 0) * KB;
  const shmem = (status.rssShmemKb ?? 0) * KB;
  if (!rollup || rollup.pssAnon === undefined || rollup.file === undefined || rollup.shmem === undefined) return { anon, file, shmem };
  const anonDiscount = Math.max(0, rollup.anon - rollup.pssAnon);
  const otherDiscount = Math.max(0, rollup.rss - rollup.anon - rollup.file - rollup.shmem);
  const fileDiscount = Math.min(otherDiscount, Math.max(0, file - rollup.file));
  const shmemDiscount = Math.min(otherDiscount - fileDiscount, Math.max(0, shmem - rollup.shmem));
  return { anon: Math.max(0, anon - anonDiscount), file: file - fileDiscount, shmem: shmem - shmemDiscount };
}

/** Adds up statuses and proportional shares into one sample. */
export function sumProcesses(procs: ReadonlyArray<{ status: ProcStatus; rollup?: SmapsRollup }>, at: number): TreeSample {
  const base = sumStatuses(procs.map((p) => p.status), at);
  let anon = 0;
  let file = 0;
  let shmem = 0;
  for (const p of procs) {
    const s = processShares(p.status, p.rollup);
    anon += s.anon;
    file += s.file;
    shmem += s.shmem;
  }
  return { ...base, pssAgeMs: 0, pssAnonBytes: anon, pssFileBytes: file, pssShmemBytes: shmem, chargedBytes: anon + file + shmem, pinnedBytes: anon + shmem };
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined; // exited meanwhile, or no such file on this kernel
  }
}

/** These processes, read now (with smaps_rollup unless `pss` is false). */
export function samplePids(pids: readonly number[], at: number, procRoot = '/proc', pss = true): TreeSample {
  const procs: Array<{ status: ProcStatus; rollup?: SmapsRollup }> = [];
  for (const pid of pids) {
    // The walk first, then the counters: the counters are the newer figures of a growing process.
    const rollup = pss ? read(`${procRoot}/${pid}/smaps_rollup`) : undefined;
    const status = read(`${procRoot}/${pid}/status`);
    if (status === undefined) continue;
    procs.push({ status: parseProcStatus(status), rollup: rollup ? parseSmapsRollup(rollup) : undefined });
  }
  return sumProcesses(procs, at);
}

/** How often a TreeMeter reads smaps_rollup when no decision is near. */
export const PSS_INTERVAL_MS = 1000;
/** A fresh PSS reading is taken when the estimate reaches this share of the decision threshold. */
export const PSS_NEAR = 0.9;

interface Discount {
  at: number;
  /** The processes it was read for: another set (a fork, an exit) needs a new reading. */
  pids: string;
  /** RSS − PSS of the last PSS reading: what sharing takes off the status figures. */
  pinned: number;
  charged: number;
  anon: number;
  file: number;
  shmem: number;
}

/** The sharing discount that a PSS reading `exact` shows against its own status figures. */
export function discountOf(exact: TreeSample): Omit<Discount, 'at' | 'pids'> {
  const statusPinned = exact.anonBytes + exact.shmemBytes;
  return {
    pinned: Math.max(0, statusPinned - exact.pinnedBytes),
    charged: Math.max(0, exact.rssBytes - exact.chargedBytes),
    anon: Math.max(0, exact.anonBytes - exact.pssAnonBytes),
    file: Math.max(0, exact.fileBytes - exact.pssFileBytes),
    shmem: Math.max(0, exact.shmemBytes - exact.pssShmemBytes),
  };
}

/** A status-only sample, with PSS figures estimated from the last reading's discount. */
export function estimate(cheap: TreeSample, d: Omit<Discount, 'pids'>): TreeSample {
  const sub = (a: number, b: number) => Math.max(0, a - b);
  return {
    ...cheap,
    pssAgeMs: cheap.at - d.at,
    pssAnonBytes: sub(cheap.anonBytes, d.anon),
    pssFileBytes: sub(cheap.fileBytes, d.file),
    pssShmemBytes: sub(cheap.shmemBytes, d.shmem),
    chargedBytes: sub(cheap.rssBytes, d.charged),
    pinnedBytes: sub(cheap.anonBytes + cheap.shmemBytes, d.pinned),
  };
}

/** One program's meter: status every round, PSS when due or when a decision is near. */
export class TreeMeter {
  private last?: Discount;

  constructor(private readonly procRoot = '/proc') {}

  /**
   * `decideAtBytes`: the smallest pinned-bytes threshold a decision depends on (cap, high mark), if any.
   * `pss: false`: status only (a leaf's own counter decides; the figures are for the forensics).
   */
  measure(pids: readonly number[], at: number, decideAtBytes?: number, pss = true): TreeSample {
    if (!pss) return samplePids(pids, at, this.procRoot, false);
    const key = [...pids].sort((a, b) => a - b).join(',');
    if (this.last && this.last.pids === key && at - this.last.at < PSS_INTERVAL_MS) {
      const est = estimate(samplePids(pids, at, this.procRoot, false), this.last);
      if (decideAtBytes === undefined || est.pinnedBytes < decideAtBytes * PSS_NEAR) return est;
    }
    const exact = samplePids(pids, at, this.procRoot, true);
    this.last = { at, pids: key, ...discountOf(exact) };
    return exact;
  }

  /**
   * Status only, never smaps_rollup (a decision that cannot wait for a page-table walk:
   * the container guard choosing whom to stop); PSS figures estimated from the last
   * reading of the same processes, whatever its age.
   */
  quick(pids: readonly number[], at: number): TreeSample {
    const cheap = samplePids(pids, at, this.procRoot, false);
    const key = [...pids].sort((a, b) => a - b).join(',');
    return this.last && this.last.pids === key ? estimate(cheap, this.last) : cheap;
  }
}

/** The tree rooted at `pid`, read now (without the processes that left it). */
export function sampleTree(pid: number, at: number, procRoot = '/proc'): TreeSample {
  return samplePids([pid, ...descendantsOf(pid, procRoot)], at, procRoot);
}
