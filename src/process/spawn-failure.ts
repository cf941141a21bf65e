// What a failed spawn means, pure: the errno, a reason a person can act on, the
// exit code a shell would report, and whether trying again later can help.
// Messages are built from the errno alone, never from Node's error text, which
// can quote the argv, the environment (`options.env['N'] ... Received 'a\0b'`)
// or the cwd.

export interface SpawnFailure {
  /** errno name (ENOENT, EACCES, EMFILE...), or Node's code (ERR_INVALID_ARG_VALUE) for a refused argument. */
  code: string;
  /** One line: what happened, naming the executable (argv[0]) and never any other argv or env value. */
  message: string;
  /** 127 not found, 126 cannot execute, 71 (EX_OSERR) out of a system resource. */
  exitCode: number;
  /** Out of a resource that may come back (processes, file descriptors, memory): worth a retry soon. */
  transient: boolean;
}

/** sysexits.h EX_OSERR: "cannot fork", "cannot create pipe". */
export const EXIT_OS_ERROR = 71;

interface Kind {
  reason: string;
  exitCode: number;
  transient?: boolean;
}

const KINDS: Record<string, Kind> = {
  ENOENT: { reason: 'command not found', exitCode: 127 },
  EACCES: { reason: 'permission denied', exitCode: 126 },
  EPERM: { reason: 'operation not permitted (changing user or group needs root)', exitCode: 126 },
  ENOEXEC: { reason: 'exec format error (not a binary for this machine, or a script without #!)', exitCode: 126 },
  E2BIG: { reason: 'argument list and environment too long for exec', exitCode: 126 },
  ENAMETOOLONG: { reason: 'file name too long', exitCode: 126 },
  ELOOP: { reason: 'too many levels of symbolic links', exitCode: 126 },
  ENOTDIR: { reason: 'a component of the path is not a directory', exitCode: 126 },
  EISDIR: { reason: 'is a directory', exitCode: 126 },
  ETXTBSY: { reason: 'text file busy (the executable is open for writing)', exitCode: 126 },
  EINVAL: { reason: 'invalid argument', exitCode: 126 },
  EAGAIN: { reason: 'out of processes or threads (fork failed)', exitCode: EXIT_OS_ERROR, transient: true },
  EMFILE: { reason: 'the supervisor has too many open files (cannot create the pipes for the child)', exitCode: EXIT_OS_ERROR, transient: true },
  ENFILE: { reason: 'the system has too many open files', exitCode: EXIT_OS_ERROR, transient: true },
  ENOMEM: { reason: 'out of memory (fork failed)', exitCode: EXIT_OS_ERROR, transient: true },
};

/** Exit code a shell would report for this errno: 127 not found, 71 out of a resource, else 126 cannot execute. */
export function failureExitCode(code: string): number {
  return KINDS[code]?.exitCode ?? 126;
}

/** Whether a retry after a short wait may succeed (EAGAIN, EMFILE, ENFILE, ENOMEM). */
export function isTransient(code: string): boolean {
  return KINDS[code]?.transient === true;
}

/**
 * A spawn error (from child_process.spawn's throw or 'error' event) as a
 * SpawnFailure for `executable` (argv[0]). Only the error's `code` is read.
 */
export function classifySpawnError(executable: string, error: { code?: unknown }): SpawnFailure {
  const code = typeof error.code === 'string' && /^[A-Z0-9_]+$/.test(error.code) ? error.code : 'EUNKNOWN';
  const kind = KINDS[code];
  if (kind !== undefined) {
    return { code, message: `${kind.reason}: ${executable}`, exitCode: kind.exitCode, transient: kind.transient === true };
  }
  if (code.startsWith('ERR_')) {
    // Node refused an argument before any syscall (a NUL byte, a bad uid...).
    return { code, message: `cannot execute ${executable}: Node refused a spawn argument (${code})`, exitCode: 126, transient: false };
  }
  return { code, message: `cannot execute ${executable}: ${code}`, exitCode: 126, transient: false };
}
