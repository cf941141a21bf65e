// Reads the process tree from /proc: the direct children of a process (every
// thread's `children` file, since an orphan is re-parented to whichever thread
// of the reaper the kernel picks) and all its descendants.
import { readdirSync, readFileSync } from 'node:fs';

/** Parses a /proc/<pid>/task/<tid>/children file: space-separated pids. */
export function parseChildrenList(text: string): number[] {
  const out: number[] = [];
  for (const word of text.split(' ')) {
    const n = Number.parseInt(word, 10);
    if (n > 0) out.push(n);
  }
  return out;
}

export function childrenOf(pid: number, procRoot = '/proc'): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`${procRoot}/${pid}/task`);
  } catch {
    return [];
  }
  const children = new Set<number>();
  for (const tid of tids) {
    try {
      for (const c of parseChildrenList(readFileSync(`${procRoot}/${pid}/task/${tid}/children`, 'latin1'))) children.add(c);
    } catch {
      // the thread ended meanwhile
    }
  }
  return [...children];
}

/** Every process below `pid`, parents before their children. */
export function descendantsOf(pid: number, procRoot = '/proc'): number[] {
  const out: number[] = [];
  const queue = childrenOf(pid, procRoot);
  const seen = new Set<number>();
  while (queue.length > 0) {
    const p = queue.shift()!;
    if (seen.has(p)) continue;
    seen.add(p);
    out.push(p);
    queue.push(...childrenOf(p, procRoot));
  }
  return out;
}
