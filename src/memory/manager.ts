// The memory manager: gives each program its memory cap and watches it. At
// start it learns the container (cgroup version, limit, writable or not) and
// picks each program's enforcement; around each spawn it puts the child in its
// own cgroup leaf and sets its oom_score_adj / rlimit; on a timer it samples
// every program's process tree (watchdog, high-water warnings) and the
// container's total (guard); on each exit it looks for OOM evidence, so no
// OOM kill is silent. It acts on the supervisor only through `stopForRestart`.
import type { EventSink } from '../logging/events.js';
import type { ProgramPlan, SizeSpec, SupervisorMemoryPlan, SupervisorPlan } from '../plan/types.js';
import type { ChildExit } from '../process/spawn.js';
import type { SupervisorHooks } from '../supervision/supervisor.js';
import { SUPERVISOR_DEFAULTS, PROGRAM_DEFAULTS } from '../config/defaults.js';
import { libc } from '../sys/libc.js';
import { createCgroupDriver, readContainerMemory, type CgroupDriver, type CgroupLeaf, type ContainerMemory, type MemoryEvents } from './cgroup.js';
import type { MemoryEnvironment } from './environment.js';
import { readOomScoreAdj, writeOomScoreAdj } from './oom-score.js';
import { chooseGuardVictim, classifyKill, guardTriggered, watchdogVerdict } from './policy.js';
import { TreeMeter, type TreeSample } from './sampler.js';
import { descendantsOf } from '../process/tree.js';

export type Enforcement = 'cgroup' | 'watchdog' | 'rlimit' | 'none';

export interface MemoryControl {
  /** Stop a program and restart it per policy (a failed run). */
  stopForRestart(name: string, reason: string, graceMs: number): void;
  /** Stop a program for good and turn it fatal (memory.oom_loop). */
  giveUp(name: string, reason: string, graceMs: number): void;
  /** Main pids of the programs alive now. */
  runningPids(): Map<string, number>;
  /** Whether a memory stop may act on it now (running, not already stopping, no shutdown). */
  isStoppable(name: string): boolean;
  /** Re-reads which processes each program owns (process/ownership.ts); once per sampling round. */
  refreshProcesses?(): void;
  /** Every process a program owns, also those that left its tree (setsid, re-parented to PID 1). */
  processesOf?(name: string): number[];
}

interface ProgramMemory {
  plan: ProgramPlan;
  enforcement: Enforcement;
  maxBytes?: number;
  highBytes?: number;
  oomScoreAdj: number;
  stopGraceMs: number;
  leaf?: CgroupLeaf;
  /** Leaf counters when the current run started. */
  leafBaseline?: MemoryEvents;
  pid?: number;
  last?: TreeSample;
  meter: TreeMeter;
  peakRssBytes: number;
  aboveHigh: boolean;
  /** We asked it to stop for memory; its exit is explained already. */
  stoppingForMemory: boolean;
  /** Times of its OOM kills and memory stops, for memory.oom_loop. */
  memoryEvents: number[];
}

/** Bytes of a size spec; a percentage needs the container's limit. */
export function resolveSize(spec: SizeSpec | undefined, limitBytes: number | null): number | undefined | 'no-limit' {
  if (spec === undefined) return undefined;
  if ('bytes' in spec) return spec.bytes;
  if (limitBytes === null) return 'no-limit';
  return Math.floor((limitBytes * spec.percent) / 100);
}

/** The enforcement a program gets: what it asked for, with `auto` = cgroup when possible, else watchdog. */
export function chooseEnforcement(plan: ProgramPlan, cgroupUsable: boolean): Enforcement {
  const m = plan.memory;
  if (!m || (m.max === undefined && m.high === undefined)) return 'none';
  if (m.enforce === 'auto') return cgroupUsable ? 'cgroup' : 'watchdog';
  return m.enforce;
}

function mb(bytes: number | null | undefined): number | null {
  return bytes === null || bytes === undefined ? null : Math.round((bytes / 1048576) * 10) / 10;
}

export class MemoryManager implements SupervisorHooks {
  private readonly programs = new Map<string, ProgramMemory>();
  private readonly settings: SupervisorMemoryPlan;
  private driver?: CgroupDriver;
  private timer?: NodeJS.Timeout;
  private containerEvents?: MemoryEvents;
  private lastContainer?: ContainerMemory | null;
  private selfOomScoreAdj = 0;
  private guardEnabled = false;
  private guardThresholdBytes?: number;
  /** The program the guard last stopped; no new guard action until it is gone. */
  private guardVictim?: string;
  private lastTickError = -Infinity;

  constructor(
    plan: SupervisorPlan,
    private readonly env: MemoryEnvironment,
    private readonly events: EventSink,
    private readonly control: MemoryControl,
    private readonly now: () => number = Date.now,
  ) {
    this.settings = plan.memory ?? SUPERVISOR_DEFAULTS.memory;
    for (const p of plan.programs) {
      const m = p.memory ?? PROGRAM_DEFAULTS.memory;
      this.programs.set(p.name, { plan: p, enforcement: 'none', oomScoreAdj: m.oomScoreAdj, stopGraceMs: m.stopGraceMs, peakRssBytes: 0, aboveHigh: false, stoppingForMemory: false, memoryEvents: [], meter: new TreeMeter() });
    }
  }

  /** Detects, decides, protects PID 1, logs `supervisor.environment`, starts the sampling timer. */
  start(): void {
    const env = this.env;
    const warnings: string[] = [];

    // PID 1 protects itself first: -1000 means the OOM killer never picks it.
    const want = this.settings.oomScoreAdj;
    const wrote = writeOomScoreAdj('self', want);
    const current = readOomScoreAdj('self');
    this.selfOomScoreAdj = current.ok ? current.value : 0;
    if (!wrote.ok) warnings.push(`could not set the supervisor's oom_score_adj to ${want} (${wrote.code}); it stays ${this.selfOomScoreAdj}`);

    // Resolve caps; set up the cgroup driver if any program needs it.
    const cgroupUsable = env.cgroup !== 'none' && env.writable;
    let capSum = 0;
    for (const pm of this.programs.values()) {
      const m = pm.plan.memory;
      const max = resolveSize(m?.max, env.limitBytes);
      const high = resolveSize(m?.high, env.limitBytes);
      if (max === 'no-limit' || high === 'no-limit') warnings.push(`${pm.plan.name}: a percentage cap needs a container memory limit, and there is none: cap ignored`);
      if (typeof max === 'number') pm.maxBytes = max;
      if (typeof high === 'number') pm.highBytes = high;
      if (pm.maxBytes !== undefined) capSum += pm.maxBytes;
      pm.enforcement = pm.maxBytes === undefined && pm.highBytes === undefined ? 'none' : chooseEnforcement(pm.plan, cgroupUsable);
      if (pm.enforcement === 'cgroup' && !cgroupUsable) {
        warnings.push(`${pm.plan.name}: enforce: cgroup, but the cgroup fs is ${env.cgroup === 'none' ? 'missing' : 'read-only'}: using the watchdog`);
        pm.enforcement = 'watchdog';
      }
      if (pm.enforcement === 'rlimit' && pm.maxBytes === undefined) pm.enforcement = 'watchdog';
      if (pm.oomScoreAdj < this.selfOomScoreAdj) pm.oomScoreAdj = this.selfOomScoreAdj;
    }
    if (env.limitBytes !== null && capSum > env.limitBytes) {
      warnings.push(`the programs' caps add up to ${mb(capSum)} MiB, more than the container's limit of ${mb(env.limitBytes)} MiB: the container guard is the only protection past it`);
    }
    let prepared: unknown;
    if ([...this.programs.values()].some((pm) => pm.enforcement === 'cgroup')) {
      try {
        this.driver = createCgroupDriver(env);
        prepared = this.driver.prepare();
      } catch (e) {
        warnings.push(`cannot use cgroups (${e instanceof Error ? e.message : String(e)}): using the watchdog`);
        this.driver = undefined;
        for (const pm of this.programs.values()) if (pm.enforcement === 'cgroup') pm.enforcement = 'watchdog';
      }
    }

    const guard = this.settings.guard;
    this.guardEnabled = guard.enabled === true || (guard.enabled === 'auto' && env.limitBytes !== null);
    const threshold = resolveSize(guard.threshold, env.limitBytes);
    if (typeof threshold === 'number') this.guardThresholdBytes = threshold;
    if (this.guardEnabled && this.guardThresholdBytes === undefined) {
      this.guardEnabled = false;
      if (guard.enabled === true) warnings.push('memory.guard is on but the container has no memory limit to guard');
    }
    this.lastContainer = this.readContainer();
    this.containerEvents = this.lastContainer?.events;

    this.events.emit(
      'supervisor.environment',
      {
        cgroup: env.cgroup,
        cgroup_path: env.path,
        cgroup_writable: env.writable,
        ...(env.writable ? {} : { cgroup_writable_reason: env.writableReason }),
        memory_limit_bytes: env.limitBytes,
        memory_usage_bytes: env.usageBytes,
        oom_group: env.oomGroup,
        swap_available: env.swap.available,
        swap_limit_bytes: env.swap.limitBytes,
        psi: env.psi,
        oom_score_adj: this.selfOomScoreAdj,
        oom_protected: this.selfOomScoreAdj === -1000,
        guard: this.guardEnabled ? { threshold_bytes: this.guardThresholdBytes, poll_ms: this.settings.pollIntervalMs } : false,
        programs: Object.fromEntries(
          [...this.programs.values()].map((pm) => [pm.plan.name, { enforce: pm.enforcement, max_bytes: pm.maxBytes ?? null, high_bytes: pm.highBytes ?? null, oom_score_adj: pm.oomScoreAdj }]),
        ),
        ...(prepared ? { cgroup_setup: prepared } : {}),
      },
      `memory: cgroup ${env.cgroup}${env.limitBytes === null ? ', no container limit' : `, container limit ${mb(env.limitBytes)} MiB`}${env.writable ? ', writable' : ', read-only'}`,
    );
    for (const w of warnings) this.events.emit('supervisor.warning', { reason: 'memory', detail: w }, w);

    const needsTimer = this.guardEnabled || [...this.programs.values()].some((pm) => pm.enforcement !== 'none');
    if (needsTimer) {
      this.timer = setInterval(() => this.tick(), this.settings.pollIntervalMs);
      this.timer.unref();
    }
  }

  private readContainer(): ContainerMemory | null {
    try {
      return readContainerMemory(this.env);
    } catch {
      return null;
    }
  }

  // ---- hooks around the supervisor's spawns and exits ----------------------

  beforeSpawn(plan: ProgramPlan): void {
    const pm = this.programs.get(plan.name);
    if (!pm || pm.enforcement !== 'cgroup' || !this.driver) return;
    pm.leaf = undefined;
    try {
      pm.leaf = this.driver.createLeaf(plan.name, { maxBytes: pm.maxBytes, highBytes: pm.highBytes, swapMaxBytes: 0, oomGroup: true });
      pm.leafBaseline = pm.leaf.readEvents();
    } catch (e) {
      // No leaf, no kernel cap: the watchdog takes over rather than leaving the program uncapped.
      pm.enforcement = 'watchdog';
      const detail = `${plan.name}: cannot make its cgroup (${e instanceof Error ? e.message : String(e)}): using the watchdog`;
      this.events.emit('supervisor.warning', { reason: 'memory', program: plan.name, detail }, detail);
      return;
    }
    // Fork inside the leaf: the supervisor steps into it for the synchronous
    // fork+exec of child_process.spawn, so the child is charged to the leaf
    // from its first page, with no shell shim (works in distroless images).
    this.driver.movePid(process.pid, pm.leaf.path);
  }

  afterSpawn(plan: ProgramPlan, pid: number | undefined): void {
    const pm = this.programs.get(plan.name);
    if (!pm) return;
    if (pm.leaf && this.driver) this.stepOutOfLeaf(this.driver);
    pm.pid = pid;
    pm.last = undefined;
    pm.meter = new TreeMeter();
    pm.peakRssBytes = 0;
    pm.aboveHigh = false;
    pm.stoppingForMemory = false;
    if (pid === undefined) return;
    const r = writeOomScoreAdj(pid, pm.oomScoreAdj);
    if (!r.ok) this.events.emit('supervisor.warning', { reason: 'oom_score_adj', program: plan.name, pid, detail: r.message }, `cannot set oom_score_adj of ${plan.name}`);
    if (pm.enforcement === 'rlimit' && pm.maxBytes !== undefined) {
      const sys = libc().libc;
      const errno = sys ? sys.setMemoryRlimit(pid, plan.memory?.rlimit ?? 'data', pm.maxBytes) : -1;
      if (errno !== 0) this.events.emit('supervisor.warning', { reason: 'rlimit', program: plan.name, pid, errno }, `cannot set the memory rlimit of ${plan.name}`);
    }
  }

  /** Back to the supervisor's own cgroup; staying in a program's leaf would put PID 1 in its OOM group. */
  private stepOutOfLeaf(driver: CgroupDriver): void {
    for (let attempt = 1; ; attempt++) {
      try {
        driver.movePid(process.pid, driver.selfPath);
        return;
      } catch (e) {
        if (attempt >= 3) {
          this.events.emit('supervisor.error', { error: e instanceof Error ? e.message : String(e) }, 'cannot move the supervisor back to its own cgroup');
          return;
        }
      }
    }
  }

  childExited(plan: ProgramPlan, pid: number, exit: ChildExit, stopping: boolean): void {
    const pm = this.programs.get(plan.name);
    if (!pm) return;
    pm.pid = undefined;
    if (this.guardVictim === plan.name) this.guardVictim = undefined;
    const explained = pm.stoppingForMemory;
    pm.stoppingForMemory = false;
    if (exit.signal !== 'SIGKILL') return;

    const leafEvents = pm.leaf?.readEvents();
    const leafOomKills = leafEvents && pm.leafBaseline ? leafEvents.oom_kill - pm.leafBaseline.oom_kill : undefined;
    const container = this.readContainer();
    const containerOomKills = container && this.containerEvents ? container.events.oom_kill - this.containerEvents.oom_kill : undefined;
    if (container) this.containerEvents = container.events;
    pm.leafBaseline = leafEvents;

    const verdict = classifyKill(exit.signal, { leafOomKills, containerOomKills });
    const forensics = this.forensics(pm, pid, container, { leaf_oom_kills: leafOomKills ?? null, container_oom_kills: containerOomKills ?? null, leaf_events: leafEvents ?? null });
    if (verdict.kind === 'oom_killed') {
      this.events.emit('child.oom_killed', { ...forensics, evidence: verdict.source }, `${plan.name} was killed by the kernel's OOM killer (${verdict.source} oom_kill counter)`);
      this.countMemoryEvent(pm);
    } else if (verdict.kind === 'killed_without_oom_evidence' && !explained && !stopping) {
      this.events.emit('child.killed', forensics, `${plan.name} was killed by SIGKILL from outside, with no OOM evidence`);
    }
  }

  /** memory.oom_loop: past max_events OOM kills or stops inside the window, the program turns fatal. */
  private countMemoryEvent(pm: ProgramMemory): void {
    const loop = pm.plan.memory?.oomLoop;
    if (!loop) return;
    const now = this.now();
    pm.memoryEvents = [...pm.memoryEvents.filter((t) => now - t < loop.windowMs), now];
    if (pm.memoryEvents.length > loop.maxEvents) this.control.giveUp(pm.plan.name, 'oom_loop', pm.stopGraceMs);
  }

  programEnded(plan: ProgramPlan): void {
    const pm = this.programs.get(plan.name);
    if (!pm?.leaf) return;
    pm.leaf.remove();
    pm.leaf = undefined;
  }

  finished(): void {
    if (this.timer) clearInterval(this.timer);
    this.driver?.cleanup();
  }

  // ---- sampling ------------------------------------------------------------

  /** What an engineer needs to answer "who killed my pod". */
  private forensics(pm: ProgramMemory, pid: number, container: ContainerMemory | null | undefined, extra: Record<string, unknown>): Record<string, unknown> {
    const s = pm.last;
    const usage = pm.leaf ? safe(() => pm.leaf!.readUsage()) : undefined;
    return {
      program: pm.plan.name,
      pid,
      enforce: pm.enforcement,
      max_bytes: pm.maxBytes ?? null,
      high_bytes: pm.highBytes ?? null,
      sample: s
        ? {
            rss_bytes: s.rssBytes,
            anon_bytes: s.anonBytes,
            file_bytes: s.fileBytes,
            shmem_bytes: s.shmemBytes,
            pss_anon_bytes: s.pssAnonBytes,
            pss_file_bytes: s.pssFileBytes,
            pss_shmem_bytes: s.pssShmemBytes,
            charged_bytes: s.chargedBytes,
            swap_bytes: s.swapBytes,
            vm_bytes: s.vmBytes,
            peak_rss_bytes: pm.peakRssBytes,
            processes: s.processes,
            age_ms: this.now() - s.at,
          }
        : null,
      ...(usage ? { leaf: { current_bytes: usage.currentBytes, peak_bytes: usage.peakBytes, stat: usage.stat } } : {}),
      container: container
        ? {
            usage_bytes: container.usageBytes,
            working_set_bytes: container.workingSetBytes,
            limit_bytes: container.limitBytes,
            stat: pick(container.stat, ['anon', 'file', 'shmem', 'anon_thp', 'inactive_file']),
          }
        : null,
      ...extra,
    };
  }

  /** A sampling round that can never throw into the event loop; a failure is logged once per minute at most. */
  private tick(): void {
    try {
      this.sample();
    } catch (e) {
      const now = this.now();
      if (now - this.lastTickError >= 60_000) {
        this.lastTickError = now;
        this.events.emit('supervisor.error', { error: e instanceof Error ? e.message : String(e) }, 'memory sampling failed');
      }
    }
  }

  /**
   * A program's usage: its leaf's own count under cgroup enforcement (page cache included), else
   * what a leaf could not reclaim of it (PSS of anon + shmem, see sampler.ts), which is what
   * makes the kernel OOM-kill a leaf at the same `max`.
   */
  private usageBytes(pm: ProgramMemory, sample: TreeSample): number {
    return (pm.leaf ? safe(() => pm.leaf!.readUsage().currentBytes) : undefined) ?? sample.pinnedBytes;
  }

  /** One sampling round: every program's tree, then the container guard. */
  sample(): void {
    const running = this.control.runningPids();
    const now = this.now();
    this.control.refreshProcesses?.();
    for (const pm of this.programs.values()) {
      const pid = running.get(pm.plan.name);
      if (pid === undefined || pid !== pm.pid) continue;
      const owned = this.control.processesOf?.(pm.plan.name);
      const pids = owned && owned.length > 0 ? owned : [pid, ...descendantsOf(pid)];
      const decideAt = Math.min(pm.enforcement === 'watchdog' ? (pm.maxBytes ?? Infinity) : Infinity, pm.highBytes ?? Infinity);
      // Under a leaf the kernel's own count decides: no page-table walk for PSS (status figures for the forensics).
      const sample = pm.meter.measure(pids, now, Number.isFinite(decideAt) ? decideAt : undefined, !pm.leaf);
      pm.last = sample;
      if (sample.rssBytes > pm.peakRssBytes) pm.peakRssBytes = sample.rssBytes;
      if (pm.enforcement === 'none' || pm.stoppingForMemory) continue;
      const usage = this.usageBytes(pm, sample);
      this.events.emit(
        'child.memory_sample',
        { program: pm.plan.name, pid, enforce: pm.enforcement, usage_bytes: usage, charged_bytes: sample.chargedBytes, pinned_bytes: sample.pinnedBytes, rss_bytes: sample.rssBytes, processes: sample.processes },
        `${pm.plan.name}: ${mb(usage)} MiB`,
      );
      const caps = pm.enforcement === 'watchdog' ? { maxBytes: pm.maxBytes, highBytes: pm.highBytes } : { highBytes: pm.highBytes };
      const { verdict, aboveHigh } = watchdogVerdict(usage, caps, pm.aboveHigh);
      pm.aboveHigh = aboveHigh;
      if (verdict === 'high') {
        this.events.emit('child.memory_high', { program: pm.plan.name, pid, usage_bytes: usage, high_bytes: pm.highBytes, max_bytes: pm.maxBytes ?? null }, `${pm.plan.name} uses ${mb(usage)} MiB, above its high mark`);
      } else if (verdict === 'max' && pm.maxBytes !== undefined && this.control.isStoppable(pm.plan.name)) {
        pm.stoppingForMemory = true;
        this.events.emit(
          'child.memory_cap_exceeded',
          { ...this.forensics(pm, pid, this.lastContainer, {}), usage_bytes: usage, overshoot_bytes: usage - pm.maxBytes, grace_ms: pm.stopGraceMs },
          `${pm.plan.name} uses ${mb(usage)} MiB, over its cap of ${mb(pm.maxBytes)} MiB: stopping it`,
        );
        this.control.stopForRestart(pm.plan.name, 'memory_cap', pm.stopGraceMs);
        this.countMemoryEvent(pm);
      }
    }
    if (this.guardEnabled) this.guard(running);
  }

  private guard(running: Map<string, number>): void {
    const container = this.readContainer();
    this.lastContainer = container;
    if (!container || container.usageBytes === null || this.guardThresholdBytes === undefined) return;
    // The kubelet's working set (usage minus inactive page cache): what cannot simply be reclaimed.
    const used = container.workingSetBytes ?? container.usageBytes;
    if (!guardTriggered(used, this.guardThresholdBytes, 1)) return;
    if (this.guardVictim !== undefined && running.has(this.guardVictim)) return;
    const candidates = [...this.programs.values()]
      .filter((pm) => pm.pid !== undefined && running.get(pm.plan.name) === pm.pid && !pm.stoppingForMemory && pm.last && this.control.isStoppable(pm.plan.name))
      .map((pm) => ({ program: pm.plan.name, usageBytes: this.usageBytes(pm, pm.last!), maxBytes: pm.maxBytes }));
    const victim = chooseGuardVictim(candidates, container.limitBytes ?? this.guardThresholdBytes);
    if (!victim) return;
    const pm = this.programs.get(victim.program)!;
    pm.stoppingForMemory = true;
    this.guardVictim = victim.program;
    this.events.emit(
      'container.memory_guard',
      {
        ...this.forensics(pm, pm.pid!, container, {}),
        usage_bytes: victim.usageBytes,
        container_used_bytes: used,
        threshold_bytes: this.guardThresholdBytes,
        candidates: candidates.map((c) => ({ program: c.program, usage_bytes: c.usageBytes, max_bytes: c.maxBytes ?? null })),
        grace_ms: pm.stopGraceMs,
      },
      `container at ${mb(used)} MiB of ${mb(container.limitBytes)} MiB: stopping ${victim.program}, the program most over its share`,
    );
    this.control.stopForRestart(victim.program, 'container_memory_guard', pm.stopGraceMs);
    this.countMemoryEvent(pm);
  }
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

function pick(obj: Record<string, number>, keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k]!;
  return out;
}
