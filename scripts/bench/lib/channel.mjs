// A FIFO the fixtures write timestamped lines to ("start 123456789"), read by
// the driver without polling: opened O_RDWR|O_NONBLOCK (so it never sees EOF
// when writers come and go) and read through a net.Socket on the event loop.
// Each line is kept with the driver's arrival time (CLOCK_MONOTONIC ns).
import { execFileSync } from 'node:child_process';
import { constants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { nowNs } from './clock.mjs';

/**
 * Makes a FIFO and opens it for reading on the event loop. O_RDWR keeps a writer
 * open, so the driver never reads EOF and a writer's open() never blocks.
 * writeFd() opens a blocking write end, e.g. to hand to a child as its stdout
 * (a real pipe, as container runtimes give: not the socketpair of stdio 'pipe').
 */
export function openFifo(path) {
  execFileSync('mkfifo', [path]);
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  const sock = new Socket({ fd, readable: true, writable: false });
  sock.on('error', () => {});
  return { path, sock, writeFd: () => openSync(path, constants.O_WRONLY) };
}

export function createChannel(dir, name = 'channel') {
  const { path, sock } = openFifo(join(dir, `${name}.fifo`));
  const lines = [];
  const listeners = new Set();
  let tail = '';
  sock.setEncoding('latin1');
  sock.on('data', (chunk) => {
    const at = nowNs();
    const parts = (tail + chunk).split('\n');
    tail = parts.pop();
    for (const text of parts) {
      const words = text.trim().split(/\s+/);
      const line = { text, words, tag: words[0], ts: Number(words[1]), at };
      lines.push(line);
      for (const l of listeners) l(line);
    }
  });

  /** Resolves with the count-th line matching pred (counting lines already there), or rejects after timeoutMs. */
  function waitFor(pred, timeoutMs = 10_000, count = 1) {
    return new Promise((resolve, reject) => {
      let seen = lines.filter(pred);
      if (seen.length >= count) return resolve(seen[count - 1]);
      let n = seen.length;
      const timer = setTimeout(() => {
        listeners.delete(l);
        reject(new Error(`channel ${name}: timed out after ${timeoutMs} ms waiting for line ${count} (got ${n}); last: ${lines.slice(-3).map((x) => x.text).join(' | ')}`));
      }, timeoutMs);
      const l = (line) => {
        if (!pred(line)) return;
        n++;
        if (n >= count) {
          clearTimeout(timer);
          listeners.delete(l);
          resolve(line);
        }
      };
      listeners.add(l);
    });
  }

  return {
    path,
    lines,
    waitFor,
    /** Lines with this tag. */
    tagged: (tag) => lines.filter((l) => l.tag === tag),
    close: () => sock.destroy(),
  };
}
