// File-system edge for the memory modules: reads and writes cgroup interface files
// and turns EACCES/EROFS/ENOENT/EBUSY … into errors that name the file and the
// errno, so the caller can log them and decide to fall back to the watchdog.
import { closeSync, constants, mkdirSync, openSync, readFileSync, rmdirSync, writeSync } from 'node:fs';

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOENT: 'no such file',
  EBUSY: 'busy',
  EINVAL: 'invalid argument',
  ENOTSUP: 'not supported',
  EOPNOTSUPP: 'not supported',
  ENOSPC: 'no space (too many cgroups or descendants)',
  ESRCH: 'no such process',
  EEXIST: 'already exists',
  ENOTDIR: 'not a directory',
  ENOTEMPTY: 'not empty',
};

/** An error from a cgroup or /proc file, with the file and the errno code. */
export class CgroupFileError extends Error {
  readonly code: string;
  readonly file: string;
  constructor(action: string, file: string, cause: unknown) {
    const code = errnoCode(cause);
    const reason = REASONS[code] ?? (cause instanceof Error ? cause.message : String(cause));
    super(`cannot ${action} ${file}: ${code} (${reason})`, { cause });
    this.name = 'CgroupFileError';
    this.code = code;
    this.file = file;
  }
}

export function errnoCode(e: unknown): string {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : 'EIO';
}

export function readText(file: string): string {
  try {
    return readFileSync(file, 'latin1');
  } catch (e) {
    throw new CgroupFileError('read', file, e);
  }
}

/** The file's text, or null if it does not exist (other errors throw). */
export function readOptional(file: string): string | null {
  try {
    return readFileSync(file, 'latin1');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw new CgroupFileError('read', file, e);
  }
}

/** The file's text, or null on any error (for probing). */
export function readQuiet(file: string): string | null {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return null;
  }
}

/**
 * One write() of `value` to an existing interface file: O_WRONLY, never creating it
 * (write-only files such as cgroup.kill refuse O_RDWR).
 */
export function writeValue(file: string, value: string | number): void {
  const what = `write ${JSON.stringify(String(value))} to`;
  let fd: number;
  try {
    fd = openSync(file, constants.O_WRONLY);
  } catch (e) {
    throw new CgroupFileError(what, file, e);
  }
  try {
    const buf = Buffer.from(String(value), 'latin1');
    const n = writeSync(fd, buf);
    if (n !== buf.length) throw Object.assign(new Error(`short write (${n} of ${buf.length} bytes)`), { code: 'EIO' });
  } catch (e) {
    throw new CgroupFileError(what, file, e);
  } finally {
    closeSync(fd);
  }
}

/** mkdir that accepts an existing directory. */
export function ensureDir(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw new CgroupFileError('create cgroup', dir, e);
  }
}

export function removeDir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch (e) {
    throw new CgroupFileError('remove cgroup', dir, e);
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the thread for `ms` (short retries only). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
