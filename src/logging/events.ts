// The catalogue of supervisor events: the stable `event` names that make up the
// public log interface, with the fields each one carries. Every log line the
// supervisor writes is one of these (README "Event reference" documents them).
import type { LogLevel } from '../plan/types.js';

export interface EventFields {
  /** Program name, on every child.* event (null on a child.oom_killed that cannot be tied to one program). */
  program?: string | null;
  pid?: number;
  [field: string]: unknown;
}

/** Event name → default level. Adding an event means adding it here and in the README. */
export const EVENT_LEVELS = {
  'supervisor.start': 'info',
  'supervisor.signal': 'info',
  'supervisor.shutdown': 'info',
  'supervisor.exit': 'info',
  'supervisor.error': 'error',
  'supervisor.warning': 'warn',
  'supervisor.log_dropped': 'warn',
  'child.spawn': 'info',
  'child.spawn_failed': 'error',
  'child.running': 'info',
  'child.exit': 'info',
  'child.backoff': 'warn',
  'child.restart': 'info',
  'child.fatal': 'error',
  'child.stop': 'info',
  'child.kill': 'warn',
  'child.blocked': 'error',
  'child.leftovers': 'warn',
  'child.ready': 'info',
  'child.not_ready': 'warn',
  'child.unhealthy': 'error',
  'signal.forward': 'debug',
  'zombie.reaped': 'debug',
  'descendants.stop': 'info',
  'descendants.killed': 'warn',
  'supervisor.environment': 'info',
  'child.memory_sample': 'trace',
  'child.memory_high': 'warn',
  'child.memory_pressure': 'warn',
  'child.memory_cap_exceeded': 'error',
  'child.oom_killed': 'error',
  'child.killed': 'warn',
  'container.memory_guard': 'error',
  'control.listening': 'info',
  'control.unavailable': 'info',
  'control.request': 'info',
} as const satisfies Record<string, LogLevel>;

export type EventName = keyof typeof EVENT_LEVELS;

/** Where events go: the logger in production, an array in tests. */
export interface EventSink {
  emit(event: EventName, fields: EventFields, msg: string): void;
}
