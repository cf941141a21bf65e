// Turns supervisor events into log lines: pino JSON (one object per line, with
// `event` first-class) on stdout, or pino-pretty output for humans on a TTY.
// Lines go to the stdout sink, which never blocks (it drops and counts when the
// reader is behind, reported as supervisor.log_dropped once it caught up).
import { isatty } from 'node:tty';
import pino from 'pino';
import { prettyFactory } from 'pino-pretty';
import type { LogFormat, LogLevel } from '../plan/types.js';
import { EVENT_LEVELS, type EventFields, type EventName, type EventSink } from './events.js';
import { stdout, type Sink } from './sink.js';

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
}

export function resolveFormat(format: LogFormat, isTTY: boolean): 'json' | 'pretty' {
  if (format === 'auto') return isTTY ? 'pretty' : 'json';
  return format;
}

export function createLogger(options: LoggerOptions, sink: Sink = stdout()): EventSink & { logger: pino.Logger } {
  // Never touch process.stdout here: for a pipe, Node makes fd 1 non-blocking,
  // which every child inheriting it would then see too (EAGAIN on write).
  const stdoutIsTTY = isatty(1);
  const format = resolveFormat(options.format, stdoutIsTTY);
  const toText =
    format === 'pretty'
      ? prettyFactory({
          colorize: stdoutIsTTY,
          // One line per event: "[time] LEVEL event: message {other fields}".
          singleLine: true,
          ignore: 'hostname,event',
          messageFormat: '{event}: {msg}',
          translateTime: 'HH:MM:ss.l',
        })
      : (line: string) => line;
  const stream = { write: (line: string) => sink.writeEvent(toText(line)) };
  const logger = pino(
    {
      level: options.level,
      base: undefined, // no pid/hostname on every line: the pid is always 1
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  const emit = (event: EventName, fields: EventFields, msg: string) => {
    logger[EVENT_LEVELS[event]]({ event, ...fields }, msg);
  };
  sink.onDropsReported((dropped) => emit('supervisor.log_dropped', { dropped }, `${dropped} log line(s) dropped while stdout was not read`));
  return { logger, emit };
}
