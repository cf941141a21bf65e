// Starts an init for a measurement: as PID 1 of a new PID namespace
// (`unshare --pid --fork --mount-proc --kill-child`, the way a container runtime
// starts an entrypoint) or as a plain process. Drains its stdout/stderr (JSON
// lines are parsed and kept with their arrival time, for the supervisor's
// events), finds its host pid, and kills it and everything below it.
// unshare's own exit status is not used (util-linux 2.38.1 sometimes exits 1
// instead of the child's status): the end of a run is the end of the process tree.
import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { join } from 'node:path';
import { openFifo } from './channel.mjs';
import { nowNs, sleep } from './clock.mjs';
import { childrenOf, descendantsOf } from './proc.mjs';
import { tempDir } from './tmp.mjs';

const live = new Set();

/**
 * @param {object} o
 * @param {string[]} o.argv the init's command line
 * @param {boolean} [o.pid1=true]
 * @param {Record<string,string>} [o.env] added to the driver's environment
 * @param {(chunk: Buffer, at: number) => void} [o.onStdout] raw stdout (then lines are not parsed)
 * @param {boolean} [o.keepOutput=true] keep stdout/stderr text (off for throughput runs)
 * @param {string} [o.dir] scratch dir for the stdout/stderr FIFOs
 * stdout and stderr are FIFOs (real pipes, as a container runtime gives; supervisord
 * cannot open /dev/stdout on the socketpair Node's stdio 'pipe' would be: ENXIO).
 */
export function launch(o) {
  const pid1 = o.pid1 ?? true;
  const argv = pid1 ? ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child', '--', ...o.argv] : o.argv;
  const dir = o.dir ?? tempDir();
  const out = openFifo(join(dir, 'init-stdout.fifo'));
  const err = openFifo(join(dir, 'init-stderr.fifo'));
  const outFd = out.writeFd();
  const errFd = err.writeFd();
  const t0 = nowNs();
  const proc = spawn(argv[0], argv.slice(1), {
    cwd: o.cwd,
    env: { ...process.env, SUPERVISOR_CONFIG: '', ...o.env },
    stdio: ['ignore', outFd, errFd],
  });
  closeSync(outFd);
  closeSync(errFd);
  proc.stdout = out.sock;
  proc.stderr = err.sock;
  const run = {
    proc,
    pid1,
    t0,
    lines: [],
    stdout: '',
    stderr: '',
    exitedAt: undefined,
    waiters: new Set(),
  };
  const keep = o.keepOutput ?? true;
  let tail = '';
  if (o.onStdout) {
    proc.stdout.on('data', (chunk) => o.onStdout(chunk, nowNs()));
  } else {
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk) => {
      const at = nowNs();
      if (keep && run.stdout.length < 4 << 20) run.stdout += chunk;
      const parts = (tail + chunk).split('\n');
      tail = parts.pop();
      for (const text of parts) {
        if (!text.trim()) continue;
        let obj;
        if (text.startsWith('{')) {
          try {
            obj = JSON.parse(text);
          } catch {
            // not JSON
          }
        }
        run.lines.push({ text, obj, at });
      }
      for (const w of run.waiters) w();
    });
  }
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (c) => {
    if (keep && run.stderr.length < 1 << 20) run.stderr += c;
  });
  proc.on('error', (e) => (run.error = e));
  run.exited = new Promise((resolve) =>
    proc.on('exit', (code, signal) => {
      run.exitedAt = nowNs();
      // Whatever is still in the pipes arrives within a tick; then close our ends.
      setTimeout(() => {
        out.sock.destroy();
        err.sock.destroy();
      }, 50);
      live.delete(run);
      for (const w of run.waiters) w();
      resolve({ code, signal, at: run.exitedAt });
    }),
  );
  live.add(run);

  let host;
  /** The init's own pid on the host (unshare's only child when pid1). */
  run.hostPid = async (timeoutMs = 10_000) => {
    if (!pid1) return proc.pid;
    if (host !== undefined) return host;
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const kids = childrenOf(proc.pid);
      if (kids.length > 0) return (host = kids[0]);
      if (run.exitedAt !== undefined) break;
      await sleep(1);
    }
    throw new Error(`init did not start: ${argv.join(' ')}\n${run.stderr}`);
  };

  /** Resolves with the first stdout line whose JSON object matches pred (or text, if no JSON). */
  run.waitLine = (pred, timeoutMs = 10_000, what = 'line') =>
    new Promise((resolve, reject) => {
      const check = () => {
        const hit = run.lines.find((l) => pred(l.obj ?? {}, l.text));
        if (hit) {
          done();
          resolve(hit);
        } else if (run.exitedAt !== undefined) {
          done();
          reject(new Error(`init exited before ${what}\nstdout: ${run.stdout.slice(-2000)}\nstderr: ${run.stderr.slice(-2000)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\nstdout: ${run.stdout.slice(-2000)}\nstderr: ${run.stderr.slice(-2000)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        run.waiters.delete(check);
      };
      run.waiters.add(check);
      check();
    });

  run.signal = async (sig) => process.kill(await run.hostPid(), sig);

  /** SIGKILL the init and everything under it; resolves when unshare (or the init) has exited. */
  run.kill = async () => {
    if (run.exitedAt === undefined) {
      const root = pid1 ? childrenOf(proc.pid)[0] : proc.pid;
      const victims = root === undefined ? [] : pid1 ? [root] : [...descendantsOf(root), root];
      for (const p of victims) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone
        }
      }
      try {
        proc.kill('SIGKILL');
      } catch {
        // gone
      }
    }
    await run.exited;
  };
  return run;
}

/** Kills every run still alive (on errors and at exit). */
export async function killAll() {
  await Promise.all([...live].map((r) => r.kill()));
}

/** Synchronous last resort for process 'exit'. */
export function killAllSync() {
  for (const r of live) {
    const kids = r.pid1 ? childrenOf(r.proc.pid) : descendantsOf(r.proc.pid);
    for (const p of kids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    try {
      r.proc.kill('SIGKILL');
    } catch {
      // gone
    }
  }
}
