// /metrics values from what happened: the event counters (exits by status, OOM kills,
// memory stops by reason, orphans reaped), the dropped log lines and the status snapshot
// (memory used against the cap), rendered by prom-client as a scrape would see them.
import { describe, expect, it } from 'vitest';
import type { ProgramStatus, SupervisorStatus } from '../../src/control/status.js';
import { EventCounters } from '../../src/observe/counters.js';
import { createMetrics } from '../../src/observe/metrics.js';

const MiB = 1024 * 1024;

function program(name: string, over: Partial<ProgramStatus> = {}): ProgramStatus {
  return {
    name,
    phase: 'running',
    pid: 10,
    restarts: 0,
    critical: false,
    ready: true,
    live: true,
    started: true,
    probes: { ready: null, live: null, started: null },
    held: false,
    blocked: false,
    uptime_ms: 1000,
    memory: { used_bytes: null, cap_bytes: null },
    last_exit: null,
    ...over,
  };
}

/** The sample lines of one metric, as `labels value`. */
function samples(text: string, metric: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${metric}{`) || l.startsWith(`${metric} `))
    .map((l) => l.slice(metric.length).trim())
    .sort();
}

describe('/metrics', () => {
  it('counts exits, OOM kills, memory stops (a guard escalation is not a second stop), orphans, dropped lines; memory against the cap', async () => {
    const counters = new EventCounters();
    const sink = counters.tap({ emit: () => undefined });
    sink.emit('child.exit', { program: 'worker', status: 137 }, '');
    sink.emit('child.exit', { program: 'worker', status: 137 }, '');
    sink.emit('child.exit', { program: 'worker', status: 0 }, '');
    sink.emit('child.oom_killed', { program: 'worker' }, '');
    sink.emit('child.oom_killed', { program: null }, '');
    sink.emit('child.memory_cap_exceeded', { program: 'worker' }, '');
    sink.emit('container.memory_guard', { program: 'leaker', action: 'stop' }, '');
    sink.emit('container.memory_guard', { program: 'leaker', action: 'kill' }, '');
    for (let i = 0; i < 3; i++) sink.emit('zombie.reaped', { pid: 100 + i }, '');
    const status: SupervisorStatus = {
      pid: 1,
      version: 'test',
      uptime_ms: 5000,
      shutting_down: false,
      event_loop_lag_ms: 2,
      programs: [program('worker', { memory: { used_bytes: 40 * MiB, cap_bytes: 64 * MiB }, restarts: 2 }), program('leaker')],
    };
    const metrics = createMetrics({ status: () => status, counters, droppedLogLines: () => 7, lagMs: () => 2 });
    const text = await metrics.render();

    expect(samples(text, 'supervisor_program_exits_total')).toEqual(['{program="worker",status="0"} 1', '{program="worker",status="137"} 2']);
    // Every program has its series from the start (0 until something happens).
    expect(samples(text, 'supervisor_program_oom_kills_total')).toEqual(['{program=""} 1', '{program="leaker"} 0', '{program="worker"} 1']);
    expect(samples(text, 'supervisor_program_memory_stops_total')).toEqual([
      '{program="leaker",reason="cap"} 0',
      '{program="leaker",reason="guard"} 1',
      '{program="worker",reason="cap"} 1',
      '{program="worker",reason="guard"} 0',
    ]);
    expect(samples(text, 'supervisor_orphans_reaped_total')).toEqual(['3']);
    expect(samples(text, 'supervisor_log_lines_dropped_total')).toEqual(['7']);
    expect(samples(text, 'supervisor_program_memory_bytes')).toEqual([`{program="worker"} ${40 * MiB}`]);
    expect(samples(text, 'supervisor_program_memory_cap_bytes')).toEqual([`{program="worker"} ${64 * MiB}`]);
    expect(samples(text, 'supervisor_program_restarts_total')).toContain('{program="worker"} 2');
    expect(samples(text, 'supervisor_event_loop_lag_seconds')).toEqual(['0.002']);
    // A second scrape counts nothing twice.
    const again = await metrics.render();
    expect(samples(again, 'supervisor_orphans_reaped_total')).toEqual(['3']);
    expect(samples(again, 'supervisor_log_lines_dropped_total')).toEqual(['7']);
  });
});
