// The pretty log format: one short line a person reads at a glance.
import { describe, expect, it } from 'vitest';
import { formatField, prettyChildLine, prettyEvent } from '../../src/logging/pretty.js';

const T = '2026-01-02T03:04:05.678Z';
const plain = { color: false, verbose: false };

describe('pretty events', () => {
  it('a child event: time, level, program (its pid), message, the fields that matter', () => {
    const line = prettyEvent('info', T, 'child.exit', { program: 'web', pid: 42, code: 0, signal: null, status: 0, uptime_ms: 2900, expected: true, stop_reason: 'shutdown' }, 'web exited with code 0', plain);
    expect(line).toBe('03:04:05.678 INFO  web (42) web exited with code 0 uptime=2.9s stop_reason=shutdown\n');
  });

  it("a supervisor event says supervisor, never the supervisor's pid in parentheses", () => {
    const line = prettyEvent('info', T, 'supervisor.start', { version: '1.0.0', node: 'v20', pid: 7, pid1: false, subreaper: true, mode: 'single', programs: ['x'] }, 'supervisor 1.0.0 starting 1 program(s)', plain);
    expect(line).toBe('03:04:05.678 INFO  supervisor supervisor 1.0.0 starting 1 program(s) mode=single\n');
    const shutdown = prettyEvent('info', T, 'supervisor.shutdown', { reason: 'program_exited', program: 'echo', timeout_ms: 25000 }, 'shutting down (program_exited)', plain);
    expect(shutdown).toBe('03:04:05.678 INFO  supervisor shutting down (program_exited) program=echo\n');
  });

  it('the environment line stays short; at debug every field is there', () => {
    const fields = { cgroup: 'v1', cgroup_path: '/sys/fs/cgroup/memory/x', memory_usage_bytes: 33554432, oom_protected: false, guard: false, programs: { a: { enforce: 'none' } } };
    const short = prettyEvent('info', T, 'supervisor.environment', fields, 'memory: cgroup v1, no container limit, writable', plain);
    expect(short).toBe('03:04:05.678 INFO  supervisor memory: cgroup v1, no container limit, writable\n');
    const all = prettyEvent('info', T, 'supervisor.environment', fields, 'memory: cgroup v1', { color: false, verbose: true });
    expect(all).toBe('03:04:05.678 INFO  supervisor supervisor.environment memory: cgroup v1 cgroup=v1 cgroup_path=/sys/fs/cgroup/memory/x memory_usage=32MiB oom_protected=false guard=false programs={"a":{"enforce":"none"}}\n');
  });

  it('colours only when asked', () => {
    expect(prettyEvent('warn', T, 'child.kill', { program: 'a', pid: 1, reason: 'x' }, 'killing a', { color: true, verbose: false })).toContain('\x1b[33mWARN');
    expect(prettyEvent('warn', T, 'child.kill', { program: 'a', pid: 1, reason: 'x' }, 'killing a', plain)).not.toContain('\x1b');
  });

  it('values: durations and sizes in units, strings quoted only when needed', () => {
    expect(formatField('grace_ms', 5000)).toBe('grace=5s');
    expect(formatField('delay_ms', 90_000)).toBe('delay=1m30s');
    expect(formatField('max_bytes', 96 * 1024 * 1024)).toBe('max=96MiB');
    expect(formatField('reason', 'second SIGTERM')).toBe('reason="second SIGTERM"');
    expect(formatField('error', 'ENOENT')).toBe('error=ENOENT');
  });
});

describe("pretty children's lines (output: json)", () => {
  it('a JSON line shows its message and fields, its level in the level column', () => {
    const line = prettyChildLine('worker', 'stdout', T, '{"level":"info","msg":"processed batch","batch":1,"items":17}', false);
    expect(line).toBe('03:04:05.678 info  worker | processed batch batch=1 items=17\n');
  });

  it("a child's event is shown as child_event, never as the supervisor's", () => {
    expect(prettyChildLine('w', 'stdout', T, '{"event":"supervisor.exit","msg":"m"}', false)).toBe('03:04:05.678       w | m child_event=supervisor.exit\n');
  });

  it('a text line is shown as is; stderr says so', () => {
    expect(prettyChildLine('w', 'stdout', T, 'hello\r', false)).toBe('03:04:05.678       w | hello\n');
    expect(prettyChildLine('w', 'stderr', T, 'oops', false)).toBe('03:04:05.678 stderr w | oops\n');
  });
});
