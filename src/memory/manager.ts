// The memory manager: gives each program its memory cap and watches it. At
// start it learns the container (cgroup version, limit, writable or not) and
// picks each program's enforcement; around each spawn it puts the child in its
// own cgroup leaf and sets its oom_score_adj / rlimit; on a timer it samples
// the process tree of every program that has a cap (watchdog, high-water
// warnings); the container guard (guard.ts) watches the container's total and
// asks for the uncapped programs' trees only when it is near the limit; the OOM
// watch (oom-watch.ts) reports every OOM kill in a program's tree, so no OOM
// kill is silent. It acts on the supervisor only through `stopForRestart`.
import type { EventSink } from '../logging/events.js';
import type { ProgramPlan, SizeSpec, SupervisorMemoryPlan, SupervisorPlan } from '../plan/types.js';
import type { ChildExit } from '../process/spawn.js';
import type { SupervisorHooks } from '../supervision/supervisor.js';
import { SUPERVISOR_DEFAULTS, PROGRAM_DEFAULTS } from '../config/defaults.js';
import { libc } from '../sys/libc.js';
import { createCgroupDriver, readContainerMemory, type CgroupDriver, type CgroupLeaf, type ContainerMemory, type MemoryEvents, type MemoryUsage } from './cgroup.js';
import type { MemoryEnvironment } from './environment.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { descendantsOf } from '../process/tree.js';
import { errnoCode } from './files.js';
import { readOomScoreAdj, writeOomScoreAdj } from './oom-score.js';
import { isLive, OomWatch, type OomReport, type WatchedProgram } from './oom-watch.js';
import { readV1Events } from './cgroup-v1.js';
import { readV2Events } from './cgroup-v2.js';
import { ContainerGuard, readContainerCounters, type GuardHost, type GuardProgram } from './guard.js';
import { classifyKill, growthRate, GROWTH_WINDOW_MS, nearLimit, pushPoint, watchdogVerdict, type CappedGrowth, type UsagePoint } from './policy.js';
import { LeafPressure } from './pressure.js';
import { TreeMeter, type TreeSample } from './sampler.js';

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
  pid?: number;
  last?: TreeSample;
  /** The last sample taken while the tree was alive (a dying process samples as 0). */
  lastAlive?: TreeSample;
  /** The leaf's usage at the last sample (read after a kill it would show the emptied leaf). */
  lastLeafUsage?: MemoryUsage;
  /** The supervisor is inside this program's leaf for the fork. */
  steppedIn?: boolean;
  meter: TreeMeter;
  peakRssBytes: number;
  aboveHigh: boolean;
  /** We asked it to stop for memory; its exit is explained already. */
  stoppingForMemory: boolean;
  /** Times of its OOM kills and memory stops, for memory.oom_loop. */
  memoryEvents: number[];
  /** PSI of its leaf (cgroup v2), for child.memory_pressure. */
  pressure?: { leaf: CgroupLeaf; watch: LeafPressure };
  /** Its usage at the samples of the last second of this run (pid), for its growth rate (the guard's forecast). */
  usage?: { pid: number; points: UsagePoint[] };
}

/** A container at its limit notifies on every reclaim: it is looked at no more often than this. */
const NEAR_NOTE_MS = 50;

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
  private guard?: ContainerGuard;
  private lastTickError = -Infinity;
  private oomWatch?: OomWatch;
  /** This round's containerNearLimit(), for the OOM watch's snapshot. */
  private containerNear = false;
  /** The container's working set at the last round (no guard): its growth predicts the next round. */
  private lastWorkingSetBytes: number | undefined;
  /** When atContainerLimit() last looked. */
  private lastNearNote = -Infinity;

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

  /** What the last sample saw of a program (status, metrics): usage and cap, when known; no new reads. */
  usageOf(name: string): { usedBytes?: number; capBytes?: number; highBytes?: number; enforcement: Enforcement } | undefined {
    const pm = this.programs.get(name);
    if (!pm) return undefined;
    const used = pm.pid === undefined ? undefined : (pm.lastLeafUsage?.currentBytes ?? (pm.last && pm.last.rssBytes > 0 ? pm.last.rssBytes : undefined));
    return {
      enforcement: pm.enforcement,
      ...(used === undefined ? {} : { usedBytes: used }),
      ...(pm.maxBytes === undefined ? {} : { capBytes: pm.maxBytes }),
      ...(pm.highBytes === undefined ? {} : { highBytes: pm.highBytes }),
    };
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
    // Lowering it needs CAP_SYS_RESOURCE, which an ordinary container lacks: nothing to act on,
    // so that case is only noted in supervisor.environment (oom_score_adj_error); others warn.
    const selfAdjError = wrote.ok ? undefined : wrote.code;
    if (!wrote.ok && wrote.code !== 'EACCES' && wrote.code !== 'EPERM') warnings.push(`could not set the supervisor's oom_score_adj to ${want} (${wrote.code}); it stays ${this.selfOomScoreAdj}`);

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
    const limit = this.lastContainer?.limitBytes ?? env.limitBytes;
    if (this.guardEnabled && this.guardThresholdBytes !== undefined && limit) {
      this.guard = new ContainerGuard({ env, limitBytes: limit, thresholdBytes: this.guardThresholdBytes, pollMs: this.settings.pollIntervalMs, events: this.events, host: this.guardHost(), now: this.now });
    }

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
        ...(selfAdjError === undefined ? {} : { oom_score_adj_error: selfAdjError }),
        guard: this.guard ? { threshold_bytes: this.guardThresholdBytes, headroom_bytes: this.guard.settings.headroomBytes, poll_ms: this.settings.pollIntervalMs, fast_poll_ms: this.guard.settings.fastTickMs } : false,
        programs: Object.fromEntries(
          [...this.programs.values()].map((pm) => [pm.plan.name, { enforce: pm.enforcement, max_bytes: pm.maxBytes ?? null, high_bytes: pm.highBytes ?? null, oom_score_adj: pm.oomScoreAdj }]),
        ),
        ...(prepared ? { cgroup_setup: prepared } : {}),
      },
      `memory: cgroup ${env.cgroup}${env.limitBytes === null ? ', no container limit' : `, container limit ${mb(env.limitBytes)} MiB`}${env.writable ? ', writable' : ', read-only'}`,
    );
    for (const w of warnings) this.events.emit('supervisor.warning', { reason: 'memory', detail: w }, w);

    if (env.cgroup !== 'none' && env.path !== null) {
      const path = env.path;
      this.oomWatch = new OomWatch({
        version: env.cgroup,
        programs: () => [...this.programs.values()].map((pm): WatchedProgram => ({ name: pm.plan.name, mainPid: pm.pid, leaf: pm.leaf, maxBytes: pm.maxBytes })),
        // The "before" snapshot walks a program's tree each round only where that is cheap or
        // needed: a leaf (one file), a capped program (sampled anyway), or every program while
        // the container is near its limit (where a container-wide OOM kill can happen), so the
        // idle cost grows with what needs watching, not with the number of programs.
        snapshotIncludes: (p) => p.leaf !== undefined || p.maxBytes !== undefined || this.containerNear,
        // Between rounds: a container at its limit (memory.events changes) is where its kill comes next.
        containerChanged: () => this.atContainerLimit(),
        // Only the counters file: this runs on every change of memory.events, which a program at its cap changes often.
        containerEvents: () => safe(() => (env.cgroup === 'v2' ? readV2Events(path, { allowMissing: true }) : readV1Events(path))) ?? null,
        containerEventsFile: env.cgroup === 'v2' ? join(path, 'memory.events') : undefined,
        // A leaf lists no zombies; a tree does, until their parent waits: a dead process is gone.
        processesOf: (p) => {
          if (p.leaf) return p.leaf.pids();
          if (p.mainPid === undefined) return [];
          return this.processesOf(p.name, p.mainPid).filter((pid) => isLive(pid));
        },
        comm: (pid) => safe(() => readFileSync(`/proc/${pid}/comm`, 'latin1').trim()) ?? null,
        report: (r) => this.reportOom(r),
        now: this.now,
      });
      this.oomWatch.start();
    }
    this.guard?.start();
    // The guard has its own loop; this one samples capped programs and runs the OOM watch's round.
    if (this.oomWatch !== undefined || [...this.programs.values()].some((pm) => pm.enforcement !== 'none')) {
      this.timer = setInterval(() => this.tick(), this.settings.pollIntervalMs);
      this.timer.unref();
    }
  }

  /**
   * Whether a container-wide OOM kill is possible soon: the guard's last round says it is
   * near, or (no guard) the working set is at 80 % of the limit or will be by the next
   * round if it keeps growing as fast as since the last; never without a limit.
   */
  private containerNearLimit(): boolean {
    if (this.guard) return this.guard.near;
    const limit = this.env.limitBytes;
    if (limit === null) return false;
    const ws = readContainerCounters(this.env)?.workingSetBytes;
    const prev = this.lastWorkingSetBytes;
    this.lastWorkingSetBytes = ws;
    return ws !== undefined && nearLimit(ws, prev, limit);
  }

  /**
   * memory.events of the container changed (v2): when it is near its limit, the uncapped
   * programs' processes and forensics are taken now, not at the next round, which a fast
   * allocator killed by the kernel may never see. At most every NEAR_NOTE_MS: a capped
   * program reclaiming at its own cap changes the container's hierarchical counters too.
   */
  private atContainerLimit(): void {
    // With the guard on, its own rounds keep the "before" and the forensics fresh while near,
    // and nothing here may compete with its fast path (no memory.stat, no /proc walk there).
    if (this.guard) return;
    const now = this.now();
    if (now - this.lastNearNote < NEAR_NOTE_MS || this.env.limitBytes === null) return;
    this.lastNearNote = now;
    const ws = readContainerCounters(this.env)?.workingSetBytes;
    if (ws === undefined || !nearLimit(ws, undefined, this.env.limitBytes)) return;
    if (this.oomWatch?.containerKillPending()) return; // the kill came first: what is left is not the "before"
    this.oomWatch?.noteProcesses();
    this.sampleUncapped(this.control.runningPids());
  }

  /**
   * Fresh forensics of the running programs without a cap (no other loop samples them);
   * none while a container kill is not reported yet: its report carries the sample from
   * before it, not one of the survivors.
   */
  private sampleUncapped(running: Map<string, number>): void {
    if (this.oomWatch?.containerKillPending()) return;
    for (const pm of this.programs.values()) {
      const pid = running.get(pm.plan.name);
      if (pid !== undefined && pid === pm.pid && pm.enforcement === 'none') this.sampleNow(pm, pid, undefined, true);
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

  /**
   * The leaf is made with no limit at all, and the supervisor steps into it only
   * for the fork: PID 1 is never inside a cgroup with a limit it could hit (a tiny
   * cap, or a leaf still full from the last run, would have the kernel OOM-kill
   * PID 1 itself). The limits are written in afterSpawn, once it is back out.
   */
  beforeSpawn(plan: ProgramPlan): void {
    const pm = this.programs.get(plan.name);
    if (!pm) return;
    // The previous run's leaf goes now: report what its counters still hold first.
    this.oomWatch?.leafEnded(plan.name);
    pm.steppedIn = false;
    if (pm.enforcement !== 'cgroup' || !this.driver) {
      if (pm.leaf) pm.leaf.remove();
      pm.leaf = undefined;
      return;
    }
    pm.leaf = undefined;
    try {
      pm.leaf = this.driver.createLeaf(plan.name);
    } catch (e) {
      // No leaf, no kernel cap: the watchdog takes over rather than leaving the program uncapped.
      pm.enforcement = 'watchdog';
      const detail = `${plan.name}: cannot make its cgroup (${e instanceof Error ? e.message : String(e)}): using the watchdog`;
      this.events.emit('supervisor.warning', { reason: 'memory', program: plan.name, detail }, detail);
      return;
    }
    this.oomWatch?.leafStarted(plan.name, pm.leaf);
    // Fork inside the leaf: the supervisor steps into it for the synchronous
    // fork+exec of child_process.spawn, so the child is charged to the leaf
    // from its first page, with no shell shim (works in distroless images).
    try {
      this.driver.movePid(process.pid, pm.leaf.path);
      pm.steppedIn = true;
    } catch (e) {
      const detail = `${plan.name}: cannot fork inside its cgroup (${e instanceof Error ? e.message : String(e)}): the child is moved in after its start`;
      this.events.emit('supervisor.warning', { reason: 'memory', program: plan.name, detail }, detail);
    }
  }

  afterSpawn(plan: ProgramPlan, pid: number | undefined): void {
    const pm = this.programs.get(plan.name);
    if (!pm) return;
    if (pm.steppedIn && this.driver) this.stepOutOfLeaf(this.driver);
    pm.steppedIn = false;
    pm.pid = pid;
    pm.last = undefined;
    pm.lastAlive = undefined;
    pm.lastLeafUsage = undefined;
    pm.meter = new TreeMeter();
    pm.peakRssBytes = 0;
    pm.aboveHigh = false;
    pm.stoppingForMemory = false;
    if (pid === undefined) return;
    const r = writeOomScoreAdj(pid, pm.oomScoreAdj);
    if (!r.ok) this.events.emit('supervisor.warning', { reason: 'oom_score_adj', program: plan.name, pid, detail: r.message }, `cannot set oom_score_adj of ${plan.name}`);
    if (pm.leaf && this.driver) this.capLeaf(pm, pid, this.driver);
    if (pm.enforcement === 'rlimit' && pm.maxBytes !== undefined) {
      const sys = libc().libc;
      const errno = sys ? sys.setMemoryRlimit(pid, plan.memory?.rlimit ?? 'data', pm.maxBytes) : -1;
      if (errno !== 0) this.events.emit('supervisor.warning', { reason: 'rlimit', program: plan.name, pid, errno }, `cannot set the memory rlimit of ${plan.name}`);
    }
  }

  /**
   * Writes the leaf's limits now that the supervisor is out of it. The child ran
   * uncapped from its exec until here (microseconds). If the cap cannot be set it
   * never runs uncapped silently: over the cap already (v1's EBUSY: what the
   * leaf holds cannot be reclaimed below it), it is killed like a watchdog stop
   * and reported; any other failure hands it to the watchdog, with a warning.
   */
  private capLeaf(pm: ProgramMemory, pid: number, driver: CgroupDriver): void {
    const leaf = pm.leaf!;
    try {
      if (!pm.steppedIn && !leaf.pids().includes(pid)) driver.movePid(pid, leaf.path);
      leaf.setLimits({ maxBytes: pm.maxBytes, highBytes: pm.highBytes, swapMaxBytes: 0, oomGroup: pm.plan.memory?.oomGroup ?? false });
      return;
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      if (errnoCode(e) === 'EBUSY' && pm.maxBytes !== undefined) {
        const usage = safe(() => leaf.readUsage());
        pm.lastLeafUsage = usage;
        pm.stoppingForMemory = true;
        this.events.emit(
          'child.memory_cap_exceeded',
          { ...this.forensics(pm, pid, this.lastContainer, {}), usage_bytes: usage?.currentBytes ?? null, reason: 'cap_below_usage', error, grace_ms: 0 },
          `${pm.plan.name} already holds more than its cap of ${mb(pm.maxBytes)} MiB, which the kernel refuses to set: killing it`,
        );
        for (const p of new Set([pid, ...safe(() => leaf.pids()) ?? []])) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            // gone
          }
        }
        this.countMemoryEvent(pm);
        return;
      }
      pm.enforcement = 'watchdog';
      const detail = `${pm.plan.name}: cannot set its cgroup limits (${error}): using the watchdog`;
      this.events.emit('supervisor.warning', { reason: 'memory', program: pm.plan.name, pid, detail }, detail);
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
    this.guard?.exited(plan.name);
    const explained = pm.stoppingForMemory;
    pm.stoppingForMemory = false;
    if (exit.signal !== 'SIGKILL') {
      this.oomWatch?.exitedOnItsOwn(pid);
      return;
    }
    // The OOM watch reports the kill (now, or already did) when a counter explains it.
    const reported = this.oomWatch?.mainKilled(plan.name, pid) ?? false;
    const leafEvents = safe(() => pm.leaf?.readEvents());
    const container = this.readContainer();
    const containerOomKills = container && this.containerEvents ? container.events.oom_kill - this.containerEvents.oom_kill : undefined;
    const verdict = classifyKill(exit.signal, { oomReported: reported });
    if (verdict.kind === 'killed_without_oom_evidence' && !explained && !stopping) {
      const forensics = this.forensics(pm, pid, container, { container_oom_kills: containerOomKills ?? null, leaf_events: leafEvents ?? null });
      this.events.emit('child.killed', forensics, `${plan.name} was killed by SIGKILL from outside, with no OOM evidence`);
    }
  }

  /** One OOM kill the watch found: `child.oom_killed` with the victims and the forensics; counts toward memory.oom_loop. */
  private reportOom(r: OomReport): void {
    this.containerEvents = this.readContainer()?.events ?? this.containerEvents;
    const pm = r.program === null ? undefined : this.programs.get(r.program);
    const fields: Record<string, unknown> = {
      evidence: r.evidence,
      attribution: r.attribution,
      oom_kills: r.oomKills,
      main_killed: r.mainKilled,
      victims: r.victims.map((v) => ({ pid: v.pid, comm: v.comm, main: v.main })),
      ...(r.attribution === 'exact' ? {} : { candidates: r.candidates }),
      ...(r.leafDelta ? { leaf_events_delta: r.leafDelta, leaf_events: r.leafEvents } : {}),
      ...(r.containerDelta ? { container_events_delta: r.containerDelta } : {}),
    };
    const who = r.victims.length === 0 ? 'a process' : r.victims.map((v) => `${v.comm ?? '?'} (pid ${v.pid}${v.main ? ', main' : ''})`).join(', ');
    const limit = r.evidence === 'leaf' ? 'its own cap' : "the container's limit";
    if (!pm) {
      this.events.emit(
        'child.oom_killed',
        { program: null, ...fields, container: containerFields(this.readContainer()) },
        `the kernel's OOM killer killed ${who} at ${limit}; cannot tell which program's (candidates: ${r.candidates.join(', ') || 'none'})`,
      );
      return;
    }
    const pid = pm.pid ?? r.victims.find((v) => v.main)?.pid ?? null;
    this.events.emit(
      'child.oom_killed',
      { ...this.forensics(pm, pid, this.readContainer(), {}), ...fields },
      `${pm.plan.name}: the kernel's OOM killer killed ${who} at ${limit}${r.attribution === 'exact' ? '' : ' (the only program that lost a process then)'}${r.mainKilled ? '' : '; the main process lives on'}`,
    );
    this.countMemoryEvent(pm);
  }

  /** memory.oom_loop: past max_events OOM kills or stops inside the window, the program turns fatal. */
  private countMemoryEvent(pm: ProgramMemory): void {
    const loop = pm.plan.memory?.oomLoop;
    if (!loop) return;
    const now = this.now();
    pm.memoryEvents = [...pm.memoryEvents.filter((t) => now - t < loop.windowMs), now];
    if (pm.memoryEvents.length > loop.maxEvents) this.control.giveUp(pm.plan.name, 'oom_loop', pm.stopGraceMs);
  }

  /** The programs' cgroup leaves that exist now (the shutdown's final kill uses cgroup.kill on them). */
  leafPaths(): string[] {
    return [...this.programs.values()].flatMap((pm) => (pm.leaf ? [pm.leaf.path] : []));
  }

  programEnded(plan: ProgramPlan): void {
    const pm = this.programs.get(plan.name);
    if (!pm?.leaf) return;
    this.oomWatch?.leafEnded(plan.name);
    pm.leaf.remove();
    pm.leaf = undefined;
  }

  finished(): void {
    if (this.timer) clearInterval(this.timer);
    this.oomWatch?.stop();
    this.guard?.stop();
    this.driver?.cleanup();
  }

  // ---- sampling ------------------------------------------------------------

  /** What an engineer needs to answer "who killed my pod". */
  private forensics(pm: ProgramMemory, pid: number | null, container: ContainerMemory | null | undefined, extra: Record<string, unknown>): Record<string, unknown> {
    const s = pm.lastAlive ?? pm.last;
    // The leaf's usage as last sampled (after a kill it reads as emptied); its peak is still true now.
    const usage = pm.lastLeafUsage ?? (pm.leaf ? safe(() => pm.leaf!.readUsage()) : undefined);
    const peakNow = pm.leaf ? safe(() => pm.leaf!.readUsage().peakBytes) : undefined;
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
      ...(usage ? { leaf: { current_bytes: usage.currentBytes, peak_bytes: peakNow ?? usage.peakBytes, stat: usage.stat } } : {}),
      container: containerFields(container),
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

  /**
   * A fresh sample of every process the program owns (its tree, and what left it: see
   * process/ownership.ts), kept as its last (forensics). `decideAtBytes`: the mark a
   * decision is taken at, so the meter reads exact PSS when the estimate comes near it.
   * Under a leaf the kernel's own count decides: no page-table walk for PSS. `quick`:
   * status only (TreeMeter.quick), for a program without a cap, whose figures decide
   * nothing but whom the container guard stops, read while the container is near its limit.
   */
  private sampleNow(pm: ProgramMemory, pid: number, decideAtBytes?: number, quick = false): TreeSample {
    const pids = this.processesOf(pm.plan.name, pid);
    const sample = quick ? pm.meter.quick(pids, this.now()) : pm.meter.measure(pids, this.now(), decideAtBytes, !pm.leaf);
    pm.last = sample;
    if (sample.rssBytes > 0) pm.lastAlive = sample;
    if (pm.leaf) pm.lastLeafUsage = safe(() => pm.leaf!.readUsage()) ?? pm.lastLeafUsage;
    if (sample.rssBytes > pm.peakRssBytes) pm.peakRssBytes = sample.rssBytes;
    return sample;
  }

  /**
   * A program's processes: its tree now, and every process it owns as of the last
   * ownership refresh (those that left the tree: setsid, double fork).
   */
  private processesOf(name: string, mainPid: number): number[] {
    return [...new Set([mainPid, ...descendantsOf(mainPid), ...(this.control.processesOf?.(name) ?? [])])];
  }

  /** One sampling round of the programs with a cap of their own (the guard has its own loop). */
  sample(): void {
    // OOM kills first, against the previous round's processes; then this round's become the "before".
    this.oomWatch?.check();
    const running = this.control.runningPids();
    if (this.oomWatch) {
      this.containerNear = this.containerNearLimit();
      this.oomWatch.snapshot();
      // Near the limit, the uncapped programs' forensics for a container-wide kill (the guard, when on, refreshes them itself).
      if (this.containerNear && !this.guard) this.sampleUncapped(running);
    }
    // Which processes are whose, refreshed once per round, only when a capped program runs.
    let refreshed = false;
    for (const pm of this.programs.values()) {
      const pid = running.get(pm.plan.name);
      if (pid === undefined || pid !== pm.pid || pm.enforcement === 'none') continue;
      if (!refreshed) {
        this.control.refreshProcesses?.();
        refreshed = true;
      }
      const decideAt = Math.min(pm.enforcement === 'watchdog' ? (pm.maxBytes ?? Infinity) : Infinity, pm.highBytes ?? Infinity);
      const sample = this.sampleNow(pm, pid, Number.isFinite(decideAt) ? decideAt : undefined);
      if (pm.stoppingForMemory) continue;
      const usage = this.usageBytes(pm, sample);
      this.noteUsage(pm, pid, usage);
      this.events.emit(
        'child.memory_sample',
        { program: pm.plan.name, pid, enforce: pm.enforcement, usage_bytes: usage, charged_bytes: sample.chargedBytes, pinned_bytes: sample.pinnedBytes, rss_bytes: sample.rssBytes, processes: sample.processes },
        `${pm.plan.name}: ${mb(usage)} MiB`,
      );
      const caps = pm.enforcement === 'watchdog' ? { maxBytes: pm.maxBytes, highBytes: pm.highBytes } : { highBytes: pm.highBytes };
      if (pm.leaf) this.watchPressure(pm, pid, usage);
      const { verdict, aboveHigh } = watchdogVerdict(usage, caps, pm.aboveHigh);
      pm.aboveHigh = aboveHigh;
      if (verdict === 'high') {
        this.events.emit('child.memory_high', { program: pm.plan.name, pid, usage_bytes: usage, high_bytes: pm.highBytes, max_bytes: pm.maxBytes ?? null }, `${pm.plan.name} uses ${mb(usage)} MiB, above its high mark`);
      } else if (verdict === 'max' && pm.maxBytes !== undefined && this.control.isStoppable(pm.plan.name)) {
        pm.stoppingForMemory = true;
        this.events.emit(
          'child.memory_cap_exceeded',
          { ...this.forensics(pm, pid, (this.lastContainer = this.readContainer()), {}), usage_bytes: usage, overshoot_bytes: usage - pm.maxBytes, grace_ms: pm.stopGraceMs },
          `${pm.plan.name} uses ${mb(usage)} MiB, over its cap of ${mb(pm.maxBytes)} MiB: stopping it`,
        );
        this.control.stopForRestart(pm.plan.name, 'memory_cap', pm.stopGraceMs);
        this.countMemoryEvent(pm);
      }
    }
  }

  /** Keeps a second of the program's usage readings (this run's only), for its growth rate. */
  private noteUsage(pm: ProgramMemory, pid: number, usageBytes: number): void {
    if (pm.usage?.pid !== pid) pm.usage = { pid, points: [] };
    pushPoint(pm.usage.points, { at: this.now(), bytes: usageBytes }, this.usageWindowMs());
  }

  /** A program's growth looks back a second, or two of its samples when they are further apart. */
  private usageWindowMs(): number {
    return Math.max(GROWTH_WINDOW_MS, 2 * this.settings.pollIntervalMs + 100);
  }

  /** child.memory_pressure: the program's leaf is thrashing near its high (else max) mark. */
  private watchPressure(pm: ProgramMemory, pid: number, usage: number): void {
    if (this.env.cgroup !== 'v2' || !this.env.psi || !pm.leaf) return;
    if (pm.pressure?.leaf !== pm.leaf) pm.pressure = { leaf: pm.leaf, watch: new LeafPressure(pm.leaf.path) };
    const r = pm.pressure.watch.look(this.now(), usage, { highBytes: pm.highBytes, maxBytes: pm.maxBytes });
    if (!r) return;
    this.events.emit(
      'child.memory_pressure',
      { program: pm.plan.name, pid, usage_bytes: usage, high_bytes: pm.highBytes ?? null, max_bytes: pm.maxBytes ?? null, some_stall_pct: r.somePct, full_stall_pct: r.fullPct, some_avg10: r.avg10 },
      `${pm.plan.name} is stalled ${r.somePct} % of the time reclaiming memory at ${mb(usage)} MiB, near its ${pm.highBytes !== undefined ? 'high mark' : 'cap'}`,
    );
  }

  /** The guard's narrow view of the programs: usage (leaf count, else a tree walk), forensics, stop. */
  private guardHost(): GuardHost {
    const live = () => {
      const running = this.control.runningPids();
      return [...this.programs.values()].filter((pm) => pm.pid !== undefined && running.get(pm.plan.name) === pm.pid && !pm.stoppingForMemory && this.control.isStoppable(pm.plan.name));
    };
    return {
      candidates: (maxAgeMs): GuardProgram[] =>
        live().map((pm) => {
          const recent = pm.last !== undefined && this.now() - pm.last.at <= maxAgeMs ? pm.last : undefined;
          // No page-table walk here: the guard is about to stop someone.
          const sample = recent ?? this.sampleNow(pm, pm.pid!, undefined, true);
          return { program: pm.plan.name, pid: pm.pid!, usageBytes: this.usageBytes(pm, sample), maxBytes: pm.maxBytes, stopGraceMs: pm.stopGraceMs };
        }),
      refreshSamples: () => this.sampleUncapped(this.control.runningPids()),
      capped: (): CappedGrowth[] =>
        live().flatMap((pm) => {
          const points = pm.usage !== undefined && pm.usage.pid === pm.pid ? pm.usage.points : undefined;
          const last = points?.[points.length - 1];
          // Without a cap it enforces, or before its first sample, its growth counts as unbounded.
          if (pm.enforcement === 'none' || pm.maxBytes === undefined || !last) return [];
          return [{ roomBytes: Math.max(0, pm.maxBytes - last.bytes), rateBytesPerS: growthRate(points, this.usageWindowMs()) }];
        }),
      forensics: (program, pid, container) => this.forensics(this.programs.get(program)!, pid, container, {}),
      stop: (program, graceMs) => {
        const pm = this.programs.get(program)!;
        pm.stoppingForMemory = true;
        this.control.stopForRestart(program, 'container_memory_guard', graceMs);
        this.countMemoryEvent(pm);
      },
      runningPid: (program) => {
        const pid = this.control.runningPids().get(program);
        return pid !== undefined && pid === this.programs.get(program)?.pid ? pid : undefined;
      },
      processesOf: (program, pid) => this.processesOf(program, pid),
    };
  }
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

function containerFields(container: ContainerMemory | null | undefined): Record<string, unknown> | null {
  return container
    ? {
        usage_bytes: container.usageBytes,
        working_set_bytes: container.workingSetBytes,
        limit_bytes: container.limitBytes,
        stat: pick(container.stat, ['anon', 'file', 'shmem', 'anon_thp', 'inactive_file']),
      }
    : null;
}

function pick(obj: Record<string, number>, keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k]!;
  return out;
}
