// Decodes a raw waitpid(2) status word into an exit code or a signal number
// (the WIFEXITED / WEXITSTATUS / WIFSIGNALED / WTERMSIG macros, in TypeScript).

export interface WaitStatus {
  /** Exit code when the process exited normally, else null. */
  code: number | null;
  /** Signal number when the process was killed by a signal, else null. */
  signal: number | null;
}

export function decodeWaitStatus(status: number): WaitStatus {
  const termsig = status & 0x7f;
  if (termsig === 0) return { code: (status >> 8) & 0xff, signal: null };
  return { code: null, signal: termsig };
}
