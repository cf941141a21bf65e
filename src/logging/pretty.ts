// The `pretty` log format, for a person at a terminal: one short line per
// event — time, who (the program and its pid, or `supervisor`), what happened,
// and the two or three fields that matter for that event (every field at
// `debug` and `trace`). Children's `output: json` lines get the same treatment:
// `program | message key=value`. Pure functions of the event; the JSON format
// does not pass through here.
import type { LogLevel } from '../plan/types.js';
import type { EventFields } from './events.js';

export interface PrettyOptions {
  /** ANSI colours (a terminal, and NO_COLOR unset). */
  color: boolean;
  /** Every field, and the event name, instead of the chosen few (log level debug or trace). */
  verbose: boolean;
}

type Pick = (f: EventFields) => Record<string, unknown>;

/** Keeps the named fields that carry a value (not undefined, null or false). */
const keep =
  (...names: string[]): Pick =>
  (f) => {
    const out: Record<string, unknown> = {};
    for (const n of names) if (f[n] !== undefined && f[n] !== null && f[n] !== false) out[n] = f[n];
    return out;
  };

/** The fields worth a glance, per event; what is already in the message is left out. */
const KEY_FIELDS: Record<string, Pick> = {
  'supervisor.start': keep('mode', 'config'),
  'supervisor.shutdown': keep('program', 'signal'),
  'supervisor.signal': keep('action'),
  'supervisor.exit': keep('shutdown_ms', 'forced'),
  'supervisor.error': keep('error', 'hook'),
  'supervisor.warning': (f) => ({ ...keep('program')(f), ...(f.detail !== undefined && f.detail !== f.msg ? keep('detail')(f) : {}) }),
  'child.spawn_failed': keep('error', 'exit_code', 'retry_in_ms'),
  'child.exit': keep('uptime_ms', 'stop_reason'),
  'child.backoff': keep('recent_restarts', 'last_status'),
  'child.restart': keep('restarts'),
  'child.fatal': keep('restarts', 'last_status'),
  'child.stop': keep('reason', 'grace_ms'),
  'child.kill': keep('reason'),
  'child.ready': keep('check'),
  'child.not_ready': keep('reason', 'error'),
  'child.unhealthy': keep('probe', 'error', 'output'),
  'zombie.reaped': keep('code', 'signal'),
  'descendants.stop': keep('signal', 'grace_ms', 'reason'),
  'descendants.killed': keep('killed', 'left'),
  'supervisor.environment': (f) => (f.guard ? { guard: 'on' } : {}),
  'child.memory_high': keep('usage_bytes', 'high_bytes'),
  'child.memory_pressure': keep('usage_bytes', 'full_stall_pct'),
  'child.memory_cap_exceeded': keep('usage_bytes', 'max_bytes', 'reason'),
  'child.oom_killed': keep('evidence', 'main_killed', 'max_bytes'),
  'child.killed': keep('container_oom_kills'),
  'container.memory_guard': keep('action', 'cause', 'usage_bytes'),
};

/** Fields shown elsewhere on the line (or never). */
const SHOWN_APART = new Set(['level', 'time', 'event', 'msg', 'program', 'pid']);

const LEVEL_COLORS: Record<LogLevel, number> = { trace: 90, debug: 34, info: 32, warn: 33, error: 31, fatal: 35 };

function paint(color: boolean, code: number, text: string): string {
  return color ? `\x1b[${code}m${text}\x1b[39m` : text;
}

/** `12:00:01.234` (UTC, like the JSON's `time`). */
export function clock(iso: string): string {
  return iso.length >= 23 ? iso.slice(11, 23) : iso;
}

function duration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s === 0 ? `${m}m` : `${m}m${s}s`;
}

function size(bytes: number): string {
  if (bytes < 1024 * 1024) return `${bytes}B`;
  return `${Number((bytes / (1024 * 1024)).toFixed(1))}MiB`;
}

/** One `key=value`; durations and sizes in units a person reads, strings bare unless they need quotes. */
export function formatField(key: string, value: unknown): string {
  if (typeof value === 'number' && Number.isFinite(value)) {
    if (key.endsWith('_ms')) return `${key.slice(0, -3)}=${duration(value)}`;
    if (key.endsWith('_bytes')) return `${key.slice(0, -6)}=${size(value)}`;
  }
  if (typeof value === 'string') return `${key}=${/^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)}`;
  return `${key}=${JSON.stringify(value) ?? String(value)}`;
}

function fieldText(fields: Record<string, unknown>, color: boolean): string {
  const parts = Object.entries(fields).map(([k, v]) => formatField(k, v));
  return parts.length === 0 ? '' : ' ' + paint(color, 90, parts.join(' '));
}

/** Who the line is about: `web (1234)` for a program (its pid), `supervisor` for the supervisor's own events. */
function who(event: string, fields: EventFields): string {
  if (event.startsWith('supervisor.') || fields.program === undefined) return 'supervisor';
  const name = fields.program ?? '?';
  return typeof fields.pid === 'number' ? `${name} (${fields.pid})` : name;
}

/** One supervisor event as a pretty line (with its newline). */
export function prettyEvent(level: LogLevel, time: string, event: string, fields: EventFields, msg: string, options: PrettyOptions): string {
  const { color, verbose } = options;
  let shown: Record<string, unknown>;
  if (verbose) {
    shown = {};
    for (const [k, v] of Object.entries(fields)) if (!SHOWN_APART.has(k) && v !== undefined) shown[k] = v;
    // The supervisor's own pid is a field like any other: the parentheses are only ever a program's pid.
    if (event === 'supervisor.start' && fields.pid !== undefined) shown.pid = fields.pid;
  } else {
    shown = (KEY_FIELDS[event] ?? (() => ({})))({ ...fields, msg });
  }
  const lvl = paint(color, LEVEL_COLORS[level], level.toUpperCase().padEnd(5));
  const name = paint(color, 36, who(event, fields));
  const what = verbose ? `${paint(color, 90, event)} ${msg}` : msg;
  return `${clock(time)} ${lvl} ${name} ${what}${fieldText(shown, color)}\n`;
}

/** Fields of a child's JSON line that are not shown as its fields. */
const CHILD_APART = new Set(['time', 'program', 'stream', 'msg', 'message', 'child_level']);

/**
 * One line of a child's output (`output: json`) as a pretty line:
 * `time level program | message key=value`. A JSON object's `msg` (or
 * `message`) is the message and its other fields follow; `child_level` fills
 * the level column; stderr lines without a level say `stderr` there.
 */
export function prettyChildLine(program: string, stream: 'stdout' | 'stderr', time: string, line: string, color: boolean): string {
  if (line.endsWith('\r')) line = line.slice(0, -1);
  let message = line;
  const fields: Record<string, unknown> = {};
  let level = '';
  const obj = jsonObject(line);
  if (obj) {
    const text = obj.msg ?? obj.message;
    message = text === undefined ? '' : typeof text === 'string' ? text : JSON.stringify(text);
    for (const [k, v] of Object.entries(obj)) if (!CHILD_APART.has(k)) fields[k] = v;
    if (typeof obj.level === 'string' || typeof obj.level === 'number') level = String(obj.level);
    delete fields.level;
    if (typeof obj.event === 'string') {
      // A child's `event` is its own, never the supervisor's: shown as child_event.
      delete fields.event;
      fields.child_event = obj.event;
    }
  }
  if (level === '' && stream === 'stderr') level = 'stderr';
  const lvl = paint(color, 90, level.slice(0, 6).padEnd(5));
  const name = paint(color, 35, `${program} |`);
  const sep = message === '' ? '' : ' ';
  return `${clock(time)} ${lvl} ${name}${sep}${message}${fieldText(fields, color)}\n`;
}

function jsonObject(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
