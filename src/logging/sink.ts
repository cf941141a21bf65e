// The output sinks: one per file descriptor (stdout, stderr), shared by the
// supervisor's own log lines and the children's framed output, so lines keep
// their order and never interleave mid-line.
//
// PID 1 never waits for the log reader. fd 1's open file description is shared
// with every `output: inherit` child and must stay blocking for them, so a pipe
// or terminal is reopened through /proc/self/fd/N as a private, non-blocking
// description and written through a libuv stream (epoll, never the threadpool).
// While the reader is behind, the supervisor's own lines wait in a bounded
// buffer and are dropped (counted, then reported once it caught up); a child's
// framed output gets backpressure instead (its pipe is not read). A file, a
// socket, or a pipe that cannot be reopened is written synchronously as before.
// A closed pipe (EPIPE: the log collector went away) never takes PID 1 down:
// write errors are counted, not thrown.
import { closeSync, constants, fstatSync, openSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { isatty, WriteStream } from 'node:tty';

/** The supervisor's own log lines waiting for the reader, at most: past it they are dropped (and counted). */
export const EVENT_BUFFER_BYTES = 256 * 1024;
/** Pending output past which a child's framed output waits: its pipe is not read until the reader caught up. */
export const OUTPUT_HIGH_WATER_BYTES = 64 * 1024;
/** How long the exit waits for pending lines to be read. */
export const EXIT_FLUSH_MS = 1000;

export interface Sink {
  /** One of the supervisor's own log lines: never blocks; dropped (and counted) while the buffer is full. */
  writeEvent(line: string): void;
  /** A child's framed lines: always queued; false means stop reading the child until `onWritable`. */
  writeOutput(text: string): boolean;
  /** Calls `cb` once the pending output is below the high-water mark again (at once if it is). */
  onWritable(cb: () => void): void;
  /** Calls `report` with the number of dropped lines each time the reader caught up after drops. */
  onDropsReported(report: (dropped: number) => void): void;
  /** Waits until everything queued is written, at most `timeoutMs`. */
  flush(timeoutMs: number): Promise<void>;
  /** Writes that failed (e.g. EPIPE) since start. */
  readonly failures: number;
  /** Lines dropped since start because the reader was behind. */
  readonly dropped: number;
  /** 'nonblocking' (a private non-blocking description), or 'sync' (blocking writes to the fd itself). */
  readonly mode: 'nonblocking' | 'sync';
}

type WritableStream = Socket | WriteStream;

interface PrivateStream {
  /** The private description's fd (the stream's own). */
  fd: number;
  stream: WritableStream;
}

/**
 * A private, non-blocking open file description of the pipe or terminal on
 * `fd`, wrapped in a libuv stream; undefined for anything else (regular files
 * never block, sockets cannot be reopened) or when the reopen fails.
 */
function openPrivateStream(fd: number): PrivateStream | undefined {
  let tty: boolean;
  try {
    tty = isatty(fd);
    if (!tty && !fstatSync(fd).isFIFO()) return undefined;
  } catch {
    return undefined;
  }
  let own: number;
  try {
    own = openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return undefined; // no /proc, no permission, or a pipe with no reader (ENXIO)
  }
  try {
    if (!tty) return { fd: own, stream: new Socket({ fd: own, readable: false, writable: true }) };
    const stream = new WriteStream(own);
    // Node makes terminal writes blocking; on this private description they must not be.
    (stream as unknown as { _handle?: { setBlocking?: (b: boolean) => number } })._handle?.setBlocking?.(false);
    return { fd: own, stream };
  } catch {
    closeSync(own);
    return undefined;
  }
}

class FdSink implements Sink {
  failures = 0;
  dropped = 0;
  readonly mode: 'nonblocking' | 'sync';
  private readonly stream: WritableStream | undefined;
  /** The private description's fd, written directly while nothing is queued (the fast path). */
  private readonly ownFd: number = -1;
  private broken = false;
  /** Bytes of the supervisor's own lines queued and not yet written. */
  private eventBytes = 0;
  private unreported = 0;
  private report: ((dropped: number) => void) | undefined;
  private waiting: Array<() => void> = [];

  constructor(private readonly fd: number) {
    const own = openPrivateStream(fd);
    this.stream = own?.stream;
    if (own) this.ownFd = own.fd;
    this.mode = this.stream ? 'nonblocking' : 'sync';
    if (this.stream) {
      this.stream.on('error', () => {
        // EPIPE and friends: nothing more can be written here; never throw.
        this.failures++;
        this.broken = true;
        this.release();
      });
      // Node emits 'drain' before it runs the last batch's write callbacks (which give the
      // event buffer its bytes back): report on the next tick, or the report itself would
      // find the buffer still full and be dropped.
      this.stream.on('drain', () => process.nextTick(() => this.caughtUp()));
    }
  }

  private pending(): number {
    return this.stream && !this.broken ? this.stream.writableLength : 0;
  }

  writeEvent(line: string): void {
    const stream = this.stream;
    if (!stream || this.broken) return this.send(line);
    const bytes = Buffer.byteLength(line);
    if (this.eventBytes + bytes > EVENT_BUFFER_BYTES) {
      this.dropped++;
      this.unreported++;
      return;
    }
    const rest = this.writeNow(line);
    if (rest === undefined) return;
    // Counted apart from children's output, so a chatty child never crowds out the supervisor's lines.
    this.eventBytes += rest.length;
    stream.write(rest, () => (this.eventBytes -= rest.length));
  }

  /**
   * While nothing is queued, writes straight to the non-blocking fd (no stream
   * machinery per line); returns what the pipe did not take, to be queued, or
   * undefined when all was written (or the write failed for good).
   */
  private writeNow(text: string): Buffer | undefined {
    const buf = Buffer.from(text);
    if (this.stream!.writableLength > 0) return buf; // keep the order: behind what is queued
    let written = 0;
    try {
      written = writeSync(this.ownFd, buf);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') {
        this.failures++;
        this.broken = true; // EPIPE: the reader is gone for good
        this.release();
        return undefined;
      }
    }
    return written === buf.length ? undefined : buf.subarray(written);
  }

  writeOutput(text: string): boolean {
    this.send(text);
    return this.pending() < OUTPUT_HIGH_WATER_BYTES;
  }

  onWritable(cb: () => void): void {
    if (this.pending() < OUTPUT_HIGH_WATER_BYTES) cb();
    else this.waiting.push(cb);
  }

  onDropsReported(report: (dropped: number) => void): void {
    this.report = report;
  }

  flush(timeoutMs: number): Promise<void> {
    if (this.pending() === 0) return Promise.resolve();
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve) => {
      const timer = setInterval(() => {
        if (this.pending() > 0 && Date.now() < deadline) return;
        clearInterval(timer);
        resolve();
      }, 10);
    });
  }

  private send(text: string): void {
    if (this.broken) {
      this.failures++;
      return;
    }
    if (this.stream) {
      // What the pipe does not take now is queued in order; libuv writes it when the pipe is writable.
      const rest = this.writeNow(text);
      if (rest !== undefined) this.stream.write(rest);
      return;
    }
    try {
      const buf = Buffer.from(text);
      for (let off = 0; off < buf.length; ) off += writeSync(this.fd, buf, off);
    } catch {
      this.failures++;
    }
  }

  /** Everything queued was written: report drops first (in order), then let the children go on. */
  private caughtUp(): void {
    if (this.unreported > 0 && this.report) {
      const n = this.unreported;
      this.unreported = 0;
      this.report(n);
    }
    this.release();
  }

  private release(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const cb of waiting) cb();
  }
}

/**
 * Puts fd 1 and 2 back in blocking mode. Node makes a pipe non-blocking as soon
 * as anything touches process.stdout/stderr (yargs does), and the flag belongs
 * to the open file shared with every child that inherits it: a child writing
 * to a non-blocking stdout gets EAGAIN. (The sinks write through descriptions
 * of their own, so this does not make the supervisor block.)
 */
export function makeStdioBlocking(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const handle = (stream as unknown as { _handle?: { setBlocking?: (b: boolean) => number } })._handle;
    try {
      handle?.setBlocking?.(true);
    } catch {
      // not a pipe or TTY handle (a file is blocking already)
    }
  }
}

/** A sink writing to `fd` (stdout() and stderr() are the two PID 1 uses). */
export function sinkFor(fd: number): Sink {
  return new FdSink(fd);
}

let stdoutSink: Sink | undefined;
let stderrSink: Sink | undefined;

export function stdout(): Sink {
  return (stdoutSink ??= new FdSink(1));
}

export function stderr(): Sink {
  return (stderrSink ??= new FdSink(2));
}

/** A sink that discards everything (tests of the supervisor's logic). */
export function nullSink(): Sink {
  return {
    writeEvent() {},
    writeOutput: () => true,
    onWritable: (cb) => cb(),
    onDropsReported() {},
    flush: () => Promise.resolve(),
    failures: 0,
    dropped: 0,
    mode: 'sync',
  };
}
