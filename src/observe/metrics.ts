// /metrics in the Prometheus text format, with prom-client. Every value is read
// at scrape time (collect callbacks) from the status snapshot, the event
// counters and the process itself: nothing is sampled between scrapes. This
// module and prom-client are imported on the first scrape only.
import { Counter, Gauge, Registry } from 'prom-client';
import type { SupervisorStatus } from '../control/status.js';
import type { EventCounters } from './counters.js';

export interface MetricsSource {
  status(): SupervisorStatus;
  counters: EventCounters;
  /** The supervisor's own log lines dropped since start (stdout and stderr). */
  droppedLogLines(): number;
  /** Event-loop lag, ms (worst over the recent window). */
  lagMs(): number;
}

const PHASES = ['stopped', 'starting', 'running', 'backoff', 'stopping', 'exited', 'fatal'] as const;
const PROBES = ['ready', 'live', 'started'] as const;

export interface Metrics {
  contentType: string;
  render(): Promise<string>;
}

export function createMetrics(src: MetricsSource): Metrics {
  const registry = new Registry();
  let snapshot: SupervisorStatus | undefined;
  // One status per scrape, read by the first collector that needs it.
  const status = () => (snapshot ??= src.status());
  const registers = [registry];

  new Gauge({
    name: 'supervisor_program_state',
    help: 'Lifecycle phase of each program: 1 for its current phase, 0 for the others.',
    labelNames: ['program', 'state'],
    registers,
    collect() {
      this.reset();
      for (const p of status().programs) for (const ph of PHASES) this.set({ program: p.name, state: ph }, p.phase === ph ? 1 : 0);
    },
  });
  new Gauge({
    name: 'supervisor_program_ready',
    help: 'Whether the program counts as ready (/readyz): 1 ready, 0 not.',
    labelNames: ['program', 'critical'],
    registers,
    collect() {
      this.reset();
      for (const p of status().programs) this.set({ program: p.name, critical: String(p.critical) }, p.ready ? 1 : 0);
    },
  });
  new Gauge({
    name: 'supervisor_program_probe_success',
    help: "The program's last probe result per probe kind (1 passed, 0 failed); absent when the program has no such probe.",
    labelNames: ['program', 'probe'],
    registers,
    collect() {
      this.reset();
      for (const p of status().programs) for (const k of PROBES) if (p.probes[k] !== null) this.set({ program: p.name, probe: k }, p.probes[k] ? 1 : 0);
    },
  });
  new Counter({
    name: 'supervisor_program_restarts_total',
    help: 'Restarts of each program by the supervisor (not counting its first start).',
    labelNames: ['program'],
    registers,
    collect() {
      this.reset();
      for (const p of status().programs) this.inc({ program: p.name }, p.restarts);
    },
  });
  new Counter({
    name: 'supervisor_program_exits_total',
    help: 'Exits of each program by exit status (code, or 128+signal number).',
    labelNames: ['program', 'status'],
    registers,
    collect() {
      this.reset();
      for (const [program, byStatus] of src.counters.exits) for (const [st, n] of byStatus) this.inc({ program, status: st }, n);
    },
  });
  new Counter({
    name: 'supervisor_program_oom_kills_total',
    help: "Kills by the kernel's OOM killer, by program (program=\"\" when it could not be tied to one).",
    labelNames: ['program'],
    registers,
    collect() {
      this.reset();
      for (const p of status().programs) this.inc({ program: p.name }, src.counters.oomKills.get(p.name) ?? 0);
      const unknown = src.counters.oomKills.get('');
      if (unknown) this.inc({ program: '' }, unknown);
    },
  });
  new Counter({
    name: 'supervisor_program_memory_stops_total',
    help: 'Stops for memory by program and reason: cap (over its memory.max) or guard (the container guard).',
    labelNames: ['program', 'reason'],
    registers,
    collect() {
      this.reset();
      for (const p of status().programs) {
        const by = src.counters.memoryStops.get(p.name);
        for (const reason of ['cap', 'guard']) this.inc({ program: p.name, reason }, by?.get(reason) ?? 0);
      }
    },
  });
  new Gauge({
    name: 'supervisor_program_memory_bytes',
    help: "Memory each program uses at the memory manager's last sample (cgroup leaf usage, else the RSS of its process tree); absent when not sampled.",
    labelNames: ['program'],
    registers,
    collect() {
      this.reset();
      for (const p of status().programs) if (p.memory.used_bytes !== null) this.set({ program: p.name }, p.memory.used_bytes);
    },
  });
  new Gauge({
    name: 'supervisor_program_memory_cap_bytes',
    help: "Each program's memory cap (memory.max); absent for a program without one.",
    labelNames: ['program'],
    registers,
    collect() {
      this.reset();
      for (const p of status().programs) if (p.memory.cap_bytes !== null) this.set({ program: p.name }, p.memory.cap_bytes);
    },
  });
  new Counter({
    name: 'supervisor_orphans_reaped_total',
    help: 'Orphaned processes (not programs) the supervisor reaped.',
    registers,
    collect() {
      this.reset();
      this.inc(src.counters.orphansReaped);
    },
  });
  new Counter({
    name: 'supervisor_log_lines_dropped_total',
    help: "The supervisor's own log lines dropped while its stdout/stderr was not read.",
    registers,
    collect() {
      this.reset();
      this.inc(src.droppedLogLines());
    },
  });
  new Gauge({
    name: 'supervisor_event_loop_lag_seconds',
    help: "The supervisor's event-loop lag: the worst delay of a 500 ms timer over the last 10 s.",
    registers,
    collect() {
      this.set(src.lagMs() / 1000);
    },
  });
  new Gauge({
    name: 'process_resident_memory_bytes',
    help: "The supervisor's own resident set size.",
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Counter({
    name: 'process_cpu_seconds_total',
    help: "The supervisor's own CPU time, user and system.",
    registers,
    collect() {
      const u = process.cpuUsage();
      this.reset();
      this.inc((u.user + u.system) / 1e6);
    },
  });
  new Gauge({
    name: 'process_start_time_seconds',
    help: 'When the supervisor started, seconds since the epoch.',
    registers,
    collect() {
      const s = status();
      this.set(Math.round((Date.now() - s.uptime_ms) / 1000));
    },
  });

  return {
    contentType: registry.contentType,
    async render() {
      snapshot = undefined;
      try {
        return await registry.metrics();
      } finally {
        snapshot = undefined;
      }
    },
  };
}
