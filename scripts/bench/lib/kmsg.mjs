// The kernel's own time of an OOM kill, on the driver's clock. /dev/kmsg records
// carry the kernel's timestamp (µs, local_clock); to put it on CLOCK_MONOTONIC,
// the driver writes one calibration line to /dev/kmsg between two readings of
// its clock and reads back the timestamp the kernel gave it. Then it finds the
// "Killed process <pid>" record of the OOM killer. Needs root; returns undefined otherwise.
import { closeSync, openSync, readSync, writeSync, constants } from 'node:fs';
import { nowNs } from './clock.mjs';

function records(fd) {
  const out = [];
  const buf = Buffer.alloc(16384);
  for (;;) {
    let n;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      if (e.code === 'EPIPE') continue; // overwritten records: go on with the next one
      if (e.code === 'EAGAIN') return out;
      throw e;
    }
    const s = buf.toString('utf8', 0, n);
    const semi = s.indexOf(';');
    const head = s.slice(0, semi).split(',');
    out.push({ us: Number(head[2]), msg: s.slice(semi + 1).split('\n')[0] });
  }
}

/** Opens /dev/kmsg past every existing record and calibrates its clock; undefined when it cannot. */
export function openKmsg() {
  let fd;
  try {
    fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
    records(fd); // skip what is there
    const tag = `pid1-bench: clock calibration ${process.pid}-${Date.now()}`;
    const w = openSync('/dev/kmsg', 'w');
    const t0 = nowNs();
    writeSync(w, `${tag}\n`);
    const t1 = nowNs();
    closeSync(w);
    const mine = records(fd).find((r) => r.msg.includes(tag));
    if (!mine) throw new Error('calibration line not found');
    const offsetNs = mine.us * 1000 - (t0 + t1) / 2;
    return {
      offsetNs,
      uncertaintyNs: (t1 - t0) / 2 + 1000,
      /** CLOCK_MONOTONIC ns of the OOM killer's "Killed process PID" record, if one arrived since. */
      oomKillTime(pid) {
        const r = records(fd).find((x) => new RegExp(`Killed process ${pid}\\b`).test(x.msg));
        return r ? r.us * 1000 - offsetNs : undefined;
      },
      close: () => closeSync(fd),
    };
  } catch {
    if (fd !== undefined) closeSync(fd);
    return undefined;
  }
}
