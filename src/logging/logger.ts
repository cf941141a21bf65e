// Turns supervisor events into log lines: pino JSON (one object per line, with
// `event` first-class), or the `pretty` format for a person (src/logging/pretty.ts).
// Lines go to a sink that never blocks (it drops and counts when the reader is
// behind, reported as supervisor.log_dropped once it caught up): stdout in
// config mode, stderr in single-command mode (stdout is the command's alone).
import { isatty } from 'node:tty';
import pino from 'pino';
import type { LogFormat, LogLevel } from '../plan/types.js';
import { EVENT_LEVELS, type EventFields, type EventName, type EventSink } from './events.js';
import { prettyChildLine, prettyEvent } from './pretty.js';
import { stdout, type Sink } from './sink.js';

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** The file descriptor the sink writes to (decides `auto` and colours). Default 1. */
  fd?: number;
}

/** How a child's `output: json` line is written: the JSON record, or a pretty line. */
export type OutputFormat = 'json' | 'pretty';

export interface Logger extends EventSink {
  /** The format in effect, for children's framed output. */
  format: OutputFormat;
  /** Whether colours are on (a terminal, NO_COLOR unset). */
  color: boolean;
}

const LEVEL_RANK: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

export function resolveFormat(format: LogFormat, isTTY: boolean): OutputFormat {
  if (format === 'auto') return isTTY ? 'pretty' : 'json';
  return format;
}

/** ANSI colours on a terminal, unless NO_COLOR is set (https://no-color.org). */
export function useColor(isTTY: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  return isTTY && !env.NO_COLOR;
}

export function createLogger(options: LoggerOptions, sink: Sink = stdout()): Logger {
  // isatty only: never touch process.stdout here (for a pipe, Node makes fd 1
  // non-blocking, which every child inheriting it would then see too).
  const isTTY = isatty(options.fd ?? 1);
  const format = resolveFormat(options.format, isTTY);
  const color = useColor(isTTY);
  let emit: (event: EventName, fields: EventFields, msg: string) => void;
  if (format === 'pretty') {
    const threshold = LEVEL_RANK[options.level];
    const verbose = threshold <= LEVEL_RANK.debug;
    emit = (event, fields, msg) => {
      const level = EVENT_LEVELS[event];
      if (LEVEL_RANK[level] < threshold) return;
      sink.writeEvent(prettyEvent(level, new Date().toISOString(), event, fields, msg, { color, verbose }));
    };
  } else {
    const logger = pino(
      {
        level: options.level,
        base: undefined, // no pid/hostname on every line: the pid is always 1
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      },
      { write: (line: string) => sink.writeEvent(line) },
    );
    emit = (event, fields, msg) => logger[EVENT_LEVELS[event]]({ event, ...fields }, msg);
  }
  sink.onDropsReported((dropped) => emit('supervisor.log_dropped', { dropped }, `${dropped} log line(s) dropped while ${options.fd === 2 ? 'stderr' : 'stdout'} was not read`));
  return { emit, format, color };
}

export { prettyChildLine };
