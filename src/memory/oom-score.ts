// Reads and writes /proc/<pid>/oom_score_adj (-1000 … 1000; -1000 = never chosen by
// the OOM killer) for ourselves and others, returning a result with the errno
// instead of throwing: lowering it needs CAP_SYS_RESOURCE, which containers often lack.
import { readFileSync } from 'node:fs';
import { errnoCode, writeValue } from './files.js';

export const OOM_SCORE_ADJ_MIN = -1000;
export const OOM_SCORE_ADJ_MAX = 1000;

export type OomScoreResult<T> =
  | ({ ok: true } & T)
  | { ok: false; /** errno code (EACCES, ENOENT, ESRCH …) or EINVAL for a bad value. */ code: string; message: string };

const file = (pid: number | 'self', procRoot: string) => `${procRoot}/${pid}/oom_score_adj`;

/** The current oom_score_adj of `pid` (or 'self'). */
export function readOomScoreAdj(pid: number | 'self' = 'self', procRoot = '/proc'): OomScoreResult<{ value: number }> {
  const f = file(pid, procRoot);
  let text: string;
  try {
    text = readFileSync(f, 'latin1');
  } catch (e) {
    const code = errnoCode(e);
    return { ok: false, code, message: `cannot read ${f}: ${code}` };
  }
  const value = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(value)) return { ok: false, code: 'EINVAL', message: `unexpected content in ${f}: ${JSON.stringify(text.trim())}` };
  return { ok: true, value };
}

/**
 * Sets oom_score_adj of `pid` (or 'self'). Values outside -1000…1000 are refused
 * without writing. A process's children inherit the value at fork.
 */
export function writeOomScoreAdj(pid: number | 'self', value: number, procRoot = '/proc'): OomScoreResult<{ value: number }> {
  const f = file(pid, procRoot);
  if (!Number.isInteger(value) || value < OOM_SCORE_ADJ_MIN || value > OOM_SCORE_ADJ_MAX) {
    return { ok: false, code: 'EINVAL', message: `oom_score_adj must be an integer from -1000 to 1000, got ${value}` };
  }
  try {
    writeValue(f, value);
  } catch (e) {
    const code = errnoCode(e);
    return { ok: false, code, message: e instanceof Error ? e.message : `cannot write ${f}: ${code}` };
  }
  return { ok: true, value };
}

/** /proc/<pid>/oom_score: the kernel's current badness score (0 … 2000), or null. */
export function readOomScore(pid: number | 'self' = 'self', procRoot = '/proc'): number | null {
  try {
    const n = Number.parseInt(readFileSync(`${procRoot}/${pid}/oom_score`, 'latin1').trim(), 10);
    return Number.isInteger(n) ? n : null;
  } catch {
    return null;
  }
}
