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

let stdoutSink: Sink | undefined;
let stderrSink: Sink | undefined;

export function stdout(): Sink {
  return (stdoutSink ??= new FdSink(1));
}

export function stderr(): Sink {
  return (stderrSink ??= new FdSink(2));
}
