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
// framed output gets backpressure instead (its pipe is not read). While another
// process writes to the same fd (an `inherit` program: the default), every write(2)
// holds whole lines of at most PIPE_BUF bytes where the lines allow, and a queued
// piece is handed to libuv alone, so the child can never cut a line of the
// supervisor's, nor be cut by one; when nobody else does, a piece is as large as
// what came (one write for a whole batch of a json child's lines). A file, a socket,
// or a pipe that cannot be reopened is written synchronously, in the same pieces.
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
  /**
   * Whether other processes write to this fd too (true until told otherwise): then every
   * write holds whole lines of at most PIPE_BUF bytes, so theirs and ours never cut each other.
   */
  shared: boolean;
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

/**
 * The kernel writes at most this many bytes to a pipe atomically (PIPE_BUF on Linux): a
 * write(2) no longer than this is never split by another writer's, so every write holds
 * whole lines and, where it can, no more than this.
 */
export const ATOMIC_WRITE_BYTES = 4096;

/**
 * `buf` cut into pieces of whole lines of at most `max` bytes each; a line longer than
 * that is a piece of its own (the kernel may split it anyway). Pure; tested.
 */
export function lineChunks(buf: Buffer, max = ATOMIC_WRITE_BYTES): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (buf.length - start > max) {
    const lastNewline = buf.lastIndexOf(0x0a, start + max - 1);
    let end: number;
    if (lastNewline >= start) end = lastNewline + 1;
    else {
      const next = buf.indexOf(0x0a, start + max);
      end = next < 0 ? buf.length : next + 1;
    }
    out.push(buf.subarray(start, end));
    start = end;
  }
  if (start < buf.length) out.push(start === 0 ? buf : buf.subarray(start));
  return out;
}

/** Queued bytes: the supervisor's own line (counted against its buffer) or a child's output. */
interface Piece {
  buf: Buffer;
  event: boolean;
}

class FdSink implements Sink {
  failures = 0;
  dropped = 0;
  shared = true;
  readonly mode: 'nonblocking' | 'sync';
  private readonly stream: WritableStream | undefined;
  /** The private description's fd, written directly while the pipe takes it (the fast path). */
  private readonly ownFd: number = -1;
  private broken = false;
  /** What the pipe has not taken yet, in order; while shared, each piece whole lines of ≤ ATOMIC_WRITE_BYTES where it can. */
  private readonly queue: Piece[] = [];
  private queuedBytes = 0;
  /** Bytes of the supervisor's own lines queued and not yet written. */
  private eventBytes = 0;
  /** The head of the queue is with the stream, which writes it once the pipe is writable. */
  private inFlight = false;
  /** The pipe was full since the queue was last empty: once it is empty again, the reader caught up. */
  private stalled = false;
  private unreported = 0;
  private report: ((dropped: number) => void) | undefined;
  private waiting: Array<() => void> = [];

  constructor(private readonly fd: number) {
    const own = openPrivateStream(fd);
    this.stream = own?.stream;
    if (own) this.ownFd = own.fd;
    this.mode = this.stream ? 'nonblocking' : 'sync';
    this.stream?.on('error', () => {
      // EPIPE and friends: nothing more can be written here; never throw.
      this.failures++;
      this.breakDown();
    });
  }

  private pending(): number {
    return this.stream && !this.broken ? this.queuedBytes : 0;
  }

  writeEvent(line: string): void {
    if (!this.stream || this.broken) return this.send(line, false);
    const bytes = Buffer.byteLength(line);
    if (this.eventBytes + bytes > EVENT_BUFFER_BYTES) {
      this.dropped++;
      this.unreported++;
      return;
    }
    this.send(line, true);
  }

  writeOutput(text: string): boolean {
    this.send(text, false);
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

  private send(text: string, event: boolean): void {
    if (this.broken) {
      this.failures++;
      return;
    }
    const buf = Buffer.from(text);
    const pieces = this.shared ? lineChunks(buf) : [buf];
    if (!this.stream) {
      // A file or a socket: blocking writes, a piece at a time.
      try {
        for (const buf of pieces) for (let off = 0; off < buf.length; ) off += writeSync(this.fd, buf, off);
      } catch {
        this.failures++;
      }
      return;
    }
    for (const buf of pieces) {
      this.queue.push({ buf, event });
      this.queuedBytes += buf.length;
      if (event) this.eventBytes += buf.length;
    }
    this.pump();
  }

  /**
   * Writes the queue's pieces straight to the non-blocking fd while the pipe takes them;
   * when it is full, hands the head piece (alone, so nothing is written with it in one
   * call) to the stream, which writes it once the pipe is writable, and goes on from there.
   */
  private pump(): void {
    while (!this.inFlight && !this.broken && this.queue.length > 0) {
      const head = this.queue[0]!;
      let written = 0;
      try {
        written = writeSync(this.ownFd, head.buf);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') {
          this.failures++;
          this.breakDown(); // EPIPE: the reader is gone for good
          return;
        }
      }
      if (written > 0) this.taken(head, written);
      if (written === head.buf.length) continue;
      // The pipe is full (or took part of a line longer than it writes at once): the stream waits for it.
      const rest = this.queue[0]!;
      this.inFlight = true;
      this.stalled = true;
      this.stream!.write(rest.buf, (err) => {
        this.inFlight = false;
        if (err) return; // the 'error' handler counts it
        this.taken(rest, rest.buf.length);
        this.pump();
      });
      return;
    }
    if (this.stalled && this.queuedBytes === 0) {
      this.stalled = false;
      this.caughtUp();
    }
  }

  /** `n` bytes of the head piece were written. */
  private taken(head: Piece, n: number): void {
    this.queuedBytes -= n;
    if (head.event) this.eventBytes -= n;
    if (n === head.buf.length) this.queue.shift();
    else head.buf = head.buf.subarray(n);
  }

  private breakDown(): void {
    this.broken = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.eventBytes = 0;
    this.release();
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
    shared: false,
  };
}
