// Samples the memory of a program's whole process tree (the main pid and every
// descendant, not only the main pid as pm2 does) from /proc/<pid>/status: RSS
// split into anon / file / shmem, virtual size, and the peak seen so far.
import { readFileSync } from 'node:fs';
import { descendantsOf } from '../process/tree.js';
import { parseProcStatus, type ProcStatus } from './parse.js';

export interface TreeSample {
  /** When it was taken (ms, the caller's clock). */
  at: number;
  processes: number;
  rssBytes: number;
  anonBytes: number;
  fileBytes: number;
  shmemBytes: number;
  /** Sum of the processes' virtual sizes (far above RSS with overcommit). */
  vmBytes: number;
  swapBytes: number;
}

const KB = 1024;

/** Adds up the status of several processes (zombies and vanished ones count as 0). */
export function sumStatuses(statuses: readonly ProcStatus[], at: number): TreeSample {
  const s: TreeSample = { at, processes: 0, rssBytes: 0, anonBytes: 0, fileBytes: 0, shmemBytes: 0, vmBytes: 0, swapBytes: 0 };
  for (const st of statuses) {
    s.processes++;
    s.rssBytes += (st.vmRssKb ?? 0) * KB;
    s.anonBytes += (st.rssAnonKb ?? 0) * KB;
    s.fileBytes += (st.rssFileKb ?? 0) * KB;
    s.shmemBytes += (st.rssShmemKb ?? 0) * KB;
    s.vmBytes += (st.vmSizeKb ?? 0) * KB;
    s.swapBytes += (st.vmSwapKb ?? 0) * KB;
  }
  return s;
}

function readStatus(pid: number, procRoot: string): ProcStatus | undefined {
  try {
    return parseProcStatus(readFileSync(`${procRoot}/${pid}/status`, 'latin1'));
  } catch {
    return undefined; // exited meanwhile
  }
}

/** The tree rooted at `pid`, read now. */
export function sampleTree(pid: number, at: number, procRoot = '/proc'): TreeSample {
  const statuses: ProcStatus[] = [];
  for (const p of [pid, ...descendantsOf(pid, procRoot)]) {
    const st = readStatus(p, procRoot);
    if (st) statuses.push(st);
  }
  return sumStatuses(statuses, at);
}
