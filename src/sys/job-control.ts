// The libc calls for terminals and job control, through koffi: process groups
// (setpgid, getpgrp), the terminal's foreground group (tcgetpgrp, tcsetpgrp),
// stop reports of a child (waitid WSTOPPED, which never reaps, so libuv still
// gets the exit), and the exec that ends the foreground shim (execvp, with
// signals and stdio made exec-safe first). Loading fails soft: null and a reason.
import koffi from 'koffi';

const SIG_BLOCK = 0;
const SIG_SETMASK = 2;
const SIGSET_BYTES = 128;
const SIGTTOU = 22;
const P_PID = 1;
const WNOHANG = 1;
const WSTOPPED = 2;
const F_SETFD = 2;
/** sizeof(siginfo_t) on Linux; si_pid at 16, si_status at 24 (x86-64 and arm64 alike). */
const SIGINFO_BYTES = 128;

export interface JobControl {
  getpgrp(): number;
  /** The foreground process group of the terminal on `fd`, or -1 when it is not our controlling terminal. */
  foregroundGroup(fd: number): number;
  /** tcsetpgrp with SIGTTOU blocked on this thread (so a background caller is not stopped); 0 or the errno. */
  setForegroundGroup(fd: number, pgid: number): number;
  /** setpgid(0, 0): this process leads a new process group; 0 or the errno. */
  ownProcessGroup(): number;
  /** The signal that stopped child `pid`, once per stop; null when it has not stopped. Never reaps. */
  stopSignal(pid: number): number | null;
  /**
   * Replaces this process with `argv` (PATH lookup): resets SIGPIPE/SIGXFSZ (Node
   * ignores them) and the signal mask, clears close-on-exec on fds 0-2 (Node sets
   * it). Returns the errno only if the exec failed.
   */
  exec(argv: readonly string[]): number;
}

function load(): JobControl {
  const lib = koffi.load(null as unknown as string);
  const getpgrp = lib.func('int getpgrp()');
  const setpgid = lib.func('int setpgid(int pid, int pgid)');
  const tcgetpgrp = lib.func('int tcgetpgrp(int fd)');
  const tcsetpgrp = lib.func('int tcsetpgrp(int fd, int pgrp)');
  const sigemptyset = lib.func('int sigemptyset(_Inout_ uint8_t *set)');
  const sigaddset = lib.func('int sigaddset(_Inout_ uint8_t *set, int sig)');
  const pthreadSigmask = lib.func('int pthread_sigmask(int how, const uint8_t *set, _Out_ uint8_t *old)');
  const waitid = lib.func('int waitid(int idtype, int id, _Out_ uint8_t *info, int options)');
  const signal = lib.func('intptr_t signal(int sig, intptr_t handler)');
  const fcntl = lib.func('int fcntl(int fd, int cmd, ...)');
  const execvp = lib.func('int execvp(const char *file, const char **argv)');
  const sigset = (...signals: number[]) => {
    const set = Buffer.alloc(SIGSET_BYTES);
    sigemptyset(set);
    for (const s of signals) sigaddset(set, s);
    return set;
  };
  return {
    getpgrp: () => getpgrp() as number,
    foregroundGroup: (fd) => tcgetpgrp(fd) as number,
    setForegroundGroup(fd, pgid) {
      const old = Buffer.alloc(SIGSET_BYTES);
      pthreadSigmask(SIG_BLOCK, sigset(SIGTTOU), old);
      const r = tcsetpgrp(fd, pgid) as number;
      const errno = r === 0 ? 0 : koffi.errno();
      pthreadSigmask(SIG_SETMASK, old, null);
      return errno;
    },
    ownProcessGroup: () => ((setpgid(0, 0) as number) === 0 ? 0 : koffi.errno()),
    stopSignal(pid) {
      const info = Buffer.alloc(SIGINFO_BYTES);
      if ((waitid(P_PID, pid, info, WSTOPPED | WNOHANG) as number) !== 0) return null;
      return info.readInt32LE(16) === pid ? info.readInt32LE(24) : null;
    },
    exec(argv) {
      for (const sig of [13, 25]) signal(sig, 0); // SIGPIPE, SIGXFSZ: SIG_DFL
      pthreadSigmask(SIG_SETMASK, sigset(), null);
      for (const fd of [0, 1, 2]) fcntl(fd, F_SETFD, 'int', 0);
      execvp(argv[0]!, [...argv, null]);
      return koffi.errno();
    },
  };
}

let cached: { jobControl: JobControl | null; error?: string } | undefined;

export function jobControl(): { jobControl: JobControl | null; error?: string } {
  if (!cached) {
    try {
      cached = { jobControl: load() };
    } catch (e) {
      cached = { jobControl: null, error: e instanceof Error ? e.message : String(e) };
    }
  }
  return cached;
}
