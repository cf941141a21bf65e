// The few libc calls Node does not offer, through koffi: waitpid on one pid (to
// reap orphans without touching libuv's children), prctl to become a child
// subreaper, prlimit to cap a child's memory (enforce: rlimit), and
// pthread_sigmask to keep the fault signals off the main thread. Loading can fail on an exotic platform: callers get `null` and a
// reason, and the supervisor runs degraded instead of dying.
import koffi from 'koffi';
import { decodeWaitStatus, type WaitStatus } from './wait-status.js';

const WNOHANG = 1;
const PR_SET_CHILD_SUBREAPER = 36;
export const RLIMIT = { data: 2, as: 9 } as const;

export interface Libc {
  /** Reaps `pid` if it is a zombie child. Returns its status, or null if it is still running or not ours. */
  reap(pid: number): WaitStatus | null;
  /** prctl(PR_SET_CHILD_SUBREAPER, 1); returns the errno on failure, 0 on success. */
  setChildSubreaper(): number;
  /** prlimit(pid, resource, {cur: bytes, max: bytes}); returns the errno on failure, 0 on success. */
  setMemoryRlimit(pid: number, resource: keyof typeof RLIMIT, bytes: number): number;
  /** pthread_sigmask(SIG_BLOCK) for the calling (main) thread only; returns the errno on failure, 0 on success. */
  blockSignalsOnThisThread(signals: readonly number[]): number;
}

const SIG_BLOCK = 0;
/** sizeof(sigset_t) in glibc and musl (1024 bits); sigemptyset fills in what the libc uses. */
const SIGSET_BYTES = 128;

function load(): Libc {
  const lib = koffi.load(null as unknown as string);
  const waitpid = lib.func('int waitpid(int pid, _Out_ int *status, int options)');
  const prctl = lib.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)');
  koffi.struct('rlimit', { cur: 'uint64_t', max: 'uint64_t' }); // registers the type name used below
  const prlimit = lib.func('int prlimit(int pid, int resource, const rlimit *newLimit, _Out_ rlimit *oldLimit)');
  const sigemptyset = lib.func('int sigemptyset(_Inout_ uint8_t *set)');
  const sigaddset = lib.func('int sigaddset(_Inout_ uint8_t *set, int sig)');
  const pthreadSigmask = lib.func('int pthread_sigmask(int how, const uint8_t *set, _Out_ uint8_t *old)');
  return {
    reap(pid) {
      const status = [0];
      const r = waitpid(pid, status, WNOHANG) as number;
      // 0: still running; -1 (ECHILD): not our child or already reaped.
      return r === pid ? decodeWaitStatus(status[0]!) : null;
    },
    setChildSubreaper() {
      return (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) as number) === 0 ? 0 : koffi.errno();
    },
    setMemoryRlimit(pid, resource, bytes) {
      return (prlimit(pid, RLIMIT[resource], { cur: bytes, max: bytes }, null) as number) === 0 ? 0 : koffi.errno();
    },
    blockSignalsOnThisThread(signals) {
      const set = Buffer.alloc(SIGSET_BYTES);
      sigemptyset(set);
      for (const sig of signals) if ((sigaddset(set, sig) as number) !== 0) return koffi.errno();
      // pthread_sigmask returns the error number itself, not -1.
      return pthreadSigmask(SIG_BLOCK, set, null) as number;
    },
  };
}

let cached: { libc: Libc | null; error?: string } | undefined;

export function libc(): { libc: Libc | null; error?: string } {
  if (!cached) {
    try {
      cached = { libc: load() };
    } catch (e) {
      cached = { libc: null, error: e instanceof Error ? e.message : String(e) };
    }
  }
  return cached;
}
