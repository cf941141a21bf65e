// The output sinks: one synchronous writer per file descriptor (stdout, stderr),
// shared by the supervisor's own log lines and the children's framed output so
// lines never interleave mid-line. A closed pipe (EPIPE: the log collector went
// away) must never take PID 1 down: write errors are counted, not thrown.
import pino from 'pino';

export interface Sink {
  write(line: string): void;
  /** Writes that failed (e.g. EPIPE) since start. */
  readonly failures: number;
  flush(): void;
}

class FdSink implements Sink {
  failures = 0;
  private readonly dest: ReturnType<typeof pino.destination>;

  constructor(fd: number) {
    this.dest = pino.destination({ dest: fd, sync: true });
    // sonic-boom reports EPIPE and friends as 'error' events; without a
    // listener they would become an uncaught exception.
    this.dest.on('error', () => {
      this.failures++;
    });
  }

  write(line: string): void {
    try {
      this.dest.write(line);
    } catch {
      this.failures++;
    }
  }

  flush(): void {
    try {
      this.dest.flushSync();
    } catch {
      this.failures++;
    }
  }
}

/**
 * Puts fd 1 and 2 back in blocking mode. Node makes a pipe non-blocking as soon
 * as anything touches process.stdout/stderr (yargs does), and the flag belongs
 * to the open file shared with every child that inherits it: a child writing
 * to a non-blocking stdout gets EAGAIN, and our own sync writes would spin.
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

let stdoutSink: Sink | undefined;
let stderrSink: Sink | undefined;

export function stdout(): Sink {
  return (stdoutSink ??= new FdSink(1));
}

export function stderr(): Sink {
  return (stderrSink ??= new FdSink(2));
}
