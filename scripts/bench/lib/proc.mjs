// Reading processes from the host's /proc: children and descendants (every
// thread's children file), VmRSS/VmHWM, CPU ticks (utime+stime), state, the
// environment (to find a fixture by its BENCH_TAG), and the pid inside a namespace.
import { readdirSync, readFileSync } from 'node:fs';

export const CLK_TCK = 100; // getconf CLK_TCK on Linux x86-64/arm64

export function childrenOf(pid) {
  let tids;
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out = [];
  for (const tid of tids) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1');
      if (s.length === 0) continue;
      for (const w of s.split(' ')) if (w) out.push(Number(w));
    } catch {
      // thread gone
    }
  }
  return out;
}

/** Every process below pid, parents first. */
export function descendantsOf(pid) {
  const out = [];
  const queue = childrenOf(pid);
  const seen = new Set();
  while (queue.length > 0) {
    const p = queue.shift();
    if (seen.has(p)) continue;
    seen.add(p);
    out.push(p);
    queue.push(...childrenOf(p));
  }
  return out;
}

function stat(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const close = s.lastIndexOf(')');
  return { comm: s.slice(s.indexOf('(') + 1, close), rest: s.slice(close + 2).split(' ') };
}

/** R, S, D, Z, T... or undefined when gone. */
export function procState(pid) {
  try {
    return stat(pid).rest[0];
  } catch {
    return undefined;
  }
}

export function alive(pid) {
  const s = procState(pid);
  return s !== undefined && s !== 'Z' && s !== 'X';
}

/** utime + stime in clock ticks (1/100 s), or undefined when gone. */
export function cpuTicks(pid) {
  try {
    const r = stat(pid).rest;
    return Number(r[11]) + Number(r[12]);
  } catch {
    return undefined;
  }
}

/** VmRSS, VmHWM in KiB and NSpid list from /proc/<pid>/status. */
export function status(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'latin1');
    const kb = (k) => {
      const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s);
      return m ? Number(m[1]) : 0;
    };
    const ns = /^NSpid:\s+(.*)$/m.exec(s);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM'), nspid: ns ? ns[1].trim().split(/\s+/).map(Number) : [] };
  } catch {
    return undefined;
  }
}

/** VmRSS in bytes, 0 when gone. */
export function rssBytes(pid) {
  return (status(pid)?.rssKb ?? 0) * 1024;
}

export function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** The descendant of root whose environment holds BENCH_TAG=tag (the fixture, not a wrapper). */
export function findTagged(root, tag) {
  const needle = `\0BENCH_TAG=${tag}\0`;
  for (const p of descendantsOf(root)) {
    try {
      const env = `\0${readFileSync(`/proc/${p}/environ`, 'latin1')}`;
      if (env.includes(needle) && procState(p) !== 'Z') return p;
    } catch {
      // gone
    }
  }
  return undefined;
}
