// Frames a child's output line by line as JSON (`output: json`): each line
// becomes one object carrying the program name and stream. A line that is
// already a JSON object keeps its own fields (the supervisor's `program` and
// `stream` are added and win on a clash) instead of being nested as a string.
import type { Readable } from 'node:stream';
import type { Sink } from '../logging/sink.js';

export type StreamName = 'stdout' | 'stderr';

/** Longest line kept whole; longer output is cut into pieces of this size. */
export const MAX_LINE_BYTES = 64 * 1024;

export function frameLine(program: string, stream: StreamName, line: string, time: string): string {
  const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (trimmed.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
        return JSON.stringify({ time, ...parsed, program, stream }) + '\n';
      }
    } catch {
      // not JSON after all: frame it as text
    }
  }
  return JSON.stringify({ time, program, stream, msg: trimmed }) + '\n';
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

export function pipeFramedLines(source: Readable, program: string, stream: StreamName, sink: Sink): void {
  const splitter = new LineSplitter();
  const emit = (lines: string[]) => {
    if (lines.length === 0) return;
    const time = new Date().toISOString();
    let out = '';
    for (const line of lines) out += frameLine(program, stream, line, time);
    sink.write(out);
  };
  source.setEncoding('utf8');
  source.on('data', (chunk: string) => emit(splitter.push(chunk)));
  source.on('end', () => emit(splitter.end()));
  source.on('error', () => emit(splitter.end()));
}
