// The output sink against a real pipe (a FIFO) whose reader does not read: the
// writer never blocks, the supervisor's own lines wait in a buffer of bounded
// size and are then dropped and counted, a child's output is told to wait, and
// once the reader drains the pipe one report gives the count and every line
// read is whole and in order.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENT_BUFFER_BYTES, OUTPUT_HIGH_WATER_BYTES, sinkFor } from '../../src/logging/sink.js';
import { tempDir } from '../helpers/init.js';
import { until } from './support.js';

const opened: number[] = [];
afterEach(() => {
  for (const fd of opened.splice(0)) closeSync(fd);
});

/** A FIFO with its read end (non-blocking, never read unless asked) and a write end. */
function fifo(): { readFd: number; writeFd: number } {
  const path = join(tempDir('sv-sink-'), 'out.fifo');
  execFileSync('mkfifo', [path]);
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeFd = openSync(path, constants.O_WRONLY);
  opened.push(readFd, writeFd);
  return { readFd, writeFd };
}

/** Reads what is in the pipe now. */
function drain(fd: number): string {
  const buf = Buffer.alloc(1 << 20);
  let out = '';
  for (;;) {
    try {
      const n = readSync(fd, buf);
      if (n === 0) return out;
      out += buf.toString('utf8', 0, n);
    } catch {
      return out; // EAGAIN: empty for now
    }
  }
}

const line = (i: number) => JSON.stringify({ event: 'test.line', i, pad: 'x'.repeat(100) }) + '\n';

describe('sink on a pipe nobody reads', () => {
  it('own lines: never blocks, at most EVENT_BUFFER_BYTES wait, the rest is dropped and reported once the reader caught up', async () => {
    const { readFd, writeFd } = fifo();
    const sink = sinkFor(writeFd);
    expect(sink.mode).toBe('nonblocking');
    const reports: number[] = [];
    sink.onDropsReported((n) => {
      reports.push(n);
      sink.writeEvent(JSON.stringify({ event: 'supervisor.log_dropped', dropped: n }) + '\n');
    });
    // 20,000 lines of ~130 bytes (2.6 MB) into a 64 KiB pipe: returns at once.
    const total = 20_000;
    for (let i = 0; i < total; i++) sink.writeEvent(line(i));
    expect(sink.dropped).toBeGreaterThan(0);
    const kept = total - sink.dropped;
    // What was kept fits the pipe plus the buffer.
    expect(kept * line(0).length).toBeLessThanOrEqual(64 * 1024 + EVENT_BUFFER_BYTES + line(0).length);
    expect(reports).toEqual([]);

    let text = '';
    await until(() => {
      text += drain(readFd);
      return reports.length > 0 && text.endsWith('\n') && text.includes('log_dropped');
    }, 'the drop report');
    const objs = text.trimEnd().split('\n').map((l) => JSON.parse(l) as { event: string; i?: number; dropped?: number });
    expect(reports).toEqual([sink.dropped]);
    // Every line whole, in order; the first lines were kept, the report comes last.
    const kept_ = objs.filter((o) => o.event === 'test.line').map((o) => o.i!);
    expect(kept_).toEqual(Array.from({ length: kept }, (_, i) => i));
    expect(objs.at(-1)).toEqual({ event: 'supervisor.log_dropped', dropped: total - kept });
    expect(sink.failures).toBe(0);
  });

  it('child output: always taken, but past the high-water mark the caller is told to wait until the reader caught up', async () => {
    const { readFd, writeFd } = fifo();
    const sink = sinkFor(writeFd);
    const chunk = line(0).repeat(100); // ~13 KB of framed lines
    let writes = 0;
    while (sink.writeOutput(chunk)) writes++;
    // It said "wait" once the pipe was full and the queue passed the mark, not before. (The
    // pipe's 64 KiB are 16 pages, and it is written in pieces of whole lines of at most 4 KiB
    // so no other writer can cut them: a page holds whole pieces only, so the pipe is "full"
    // before 64 KiB — here at about 54 KiB; at least half of it, whatever the line lengths.)
    expect((writes + 1) * chunk.length).toBeGreaterThan(32 * 1024 + OUTPUT_HIGH_WATER_BYTES);
    expect(writes * chunk.length).toBeLessThan(64 * 1024 + OUTPUT_HIGH_WATER_BYTES + chunk.length);
    let resumed = false;
    sink.onWritable(() => (resumed = true));
    expect(resumed).toBe(false);
    let read = 0;
    await until(() => {
      read += Buffer.byteLength(drain(readFd));
      return resumed;
    }, 'onWritable');
    // Nothing was lost.
    await until(() => (read += Buffer.byteLength(drain(readFd))) >= (writes + 1) * chunk.length, 'every byte');
    expect(read).toBe((writes + 1) * chunk.length);
  });

  it('a regular file is written synchronously and completely', async () => {
    const path = join(tempDir('sv-sink-'), 'out.log');
    const fd = openSync(path, 'w');
    opened.push(fd);
    const sink = sinkFor(fd);
    expect(sink.mode).toBe('sync');
    for (let i = 0; i < 1000; i++) sink.writeEvent(line(i));
    expect(readFileSync(path, 'utf8')).toBe(Array.from({ length: 1000 }, (_, i) => line(i)).join(''));
  });
});
