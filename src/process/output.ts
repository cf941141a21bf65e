// Frames a child's output line by line as JSON (`output: json`): each line
// becomes one object carrying the program name and stream. A line that is
// already a JSON object keeps its own fields (the supervisor's `program` and
// `stream` are added and win on a clash) instead of being nested as a string,
// except the fields that mark the supervisor's own lines: a child's `event` and
// `level` are kept as `child_event` and `child_level`, so a child can never
// pass for the supervisor. While stdout's reader is behind, the child's pipe is
// not read (backpressure: the child blocks on its own writes).
import type { Readable } from 'node:stream';
import type { Sink } from '../logging/sink.js';

export type StreamName = 'stdout' | 'stderr';

/** Longest line kept whole; longer output is cut into pieces of this size. */
export const MAX_LINE_BYTES = 64 * 1024;

/** Turns one line of a child's output into what is written (JSON by default; the pretty format's own on request). */
export type LineFramer = (program: string, stream: StreamName, line: string, time: string) => string;

export function frameLine(program: string, stream: StreamName, line: string, time: string): string {
  const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (trimmed.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
        return JSON.stringify({ time, ...withoutReservedFields(parsed as Record<string, unknown>), program, stream }) + '\n';
      }
    } catch {
      // not JSON after all: frame it as text
    }
  }
  return JSON.stringify({ time, program, stream, msg: trimmed }) + '\n';
}

/** The supervisor's own fields, each with the key a child's value is kept under. */
export const RESERVED_FIELDS = { event: 'child_event', level: 'child_level' } as const;

/** A child's JSON object with its `event` and `level` moved to `child_event` and `child_level`. */
function withoutReservedFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out = { ...fields };
  for (const [key, renamed] of Object.entries(RESERVED_FIELDS)) {
    if (!Object.hasOwn(out, key)) continue;
    const value = out[key];
    delete out[key];
    out[renamed] = value;
  }
  return out;
}

/** Splits a byte stream into lines; keeps the unfinished tail for the next chunk. */
export class LineSplitter {
  private tail = '';

  push(chunk: string): string[] {
    const text = this.tail + chunk;
    const lines = text.split('\n');
    this.tail = lines.pop() ?? '';
    while (this.tail.length > MAX_LINE_BYTES) {
      lines.push(this.tail.slice(0, MAX_LINE_BYTES));
      this.tail = this.tail.slice(MAX_LINE_BYTES);
    }
    return lines;
  }

  /** The last line when the stream ends without a newline. */
  end(): string[] {
    const rest = this.tail;
    this.tail = '';
    return rest.length > 0 ? [rest] : [];
  }
}

/** `output: inherit` lines that pass through the supervisor (a log probe reads them): written as they came. */
export const rawLine: LineFramer = (_program, _stream, line) => `${line}\n`;

export function pipeFramedLines(source: Readable, program: string, stream: StreamName, sink: Sink, frame: LineFramer = frameLine, onLine?: (line: string) => void): void {
  const splitter = new LineSplitter();
  const emit = (lines: string[]) => {
    if (lines.length === 0) return;
    const time = new Date().toISOString();
    let out = '';
    for (const line of lines) out += frame(program, stream, line, time);
    const written = sink.writeOutput(out);
    // After the write: what a line made happen (child.ready) is logged after the line.
    if (onLine) for (const line of lines) onLine(line);
    if (!written) {
      // The reader is behind: stop reading this child until it caught up
      // (Node stops reading the pipe once its own small buffer is full).
      source.pause();
      sink.onWritable(() => source.resume());
    }
  };
  source.setEncoding('utf8');
  source.on('data', (chunk: string) => emit(splitter.push(chunk)));
  source.on('end', () => emit(splitter.end()));
  source.on('error', () => emit(splitter.end()));
}
