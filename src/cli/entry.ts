#!/usr/bin/env node
// The bundle's entry: its first statements catch every shutdown and forwarded
// signal, before the heavy modules (yargs, zod, yaml, pino) are even evaluated.
// A signal sent to a PID-namespace init that has no handler is discarded by the
// kernel, so until these listeners exist a `docker stop` or a pod deletion is
// lost. What arrives is recorded; the supervisor takes the record over when it
// installs its own handlers (src/supervision/run.ts) and acts on it before
// starting any program. Only node: built-ins may be imported statically here.
//
// Then it turns on V8's compile cache and imports the rest of the supervisor,
// which the build puts in separate chunks (scripts/build.mjs) so that the cache
// serves them already compiled.
import module from 'node:module';
import { fileURLToPath } from 'node:url';
import { EARLY_SIGNALS } from '../process/signals.js';
import { FOREGROUND_SHIM_FLAG } from '../process/shim-flag.js';

/** The signals caught since start-up, for the supervisor to take over. */
export interface EarlySignals {
  /**
   * Removes the early listeners and returns what arrived, oldest first. Install
   * your own listeners first: between the two, the signal would be uncaught.
   */
  release(): NodeJS.Signals[];
}

function catchEarly(signals: readonly NodeJS.Signals[]): EarlySignals {
  const arrived: NodeJS.Signals[] = [];
  const listeners = new Map<NodeJS.Signals, () => void>();
  for (const sig of signals) {
    const listener = () => void arrived.push(sig);
    try {
      process.on(sig, listener);
      listeners.set(sig, listener);
    } catch {
      // a signal this platform does not have
    }
  }
  return {
    release() {
      for (const [sig, listener] of listeners) process.off(sig, listener);
      listeners.clear();
      return arrived.splice(0);
    },
  };
}

// The foreground shim (src/process/foreground.ts) only execs the command: it catches nothing.
if (process.argv[2] === FOREGROUND_SHIM_FLAG) {
  const { runForegroundShim } = await import('../process/foreground.js');
  runForegroundShim(process.argv.slice(4));
}
// `supervisor probe live|ready|startup`, as a Kubernetes exec probe runs it every
// few seconds: straight to the control client, without yargs and the supervisor's
// modules (~14 MB less RSS per probe). Any other form goes through the command line.
if (process.argv[2] === 'probe' && process.argv.length === 4 && /^(live|ready|startup)$/.test(process.argv[3]!)) {
  const { runControlCommand } = await import('./control-commands.js');
  process.exit(await runControlCommand('probe', { check: process.argv[3] }));
}
const early = catchEarly(EARLY_SIGNALS);

/**
 * V8's compile cache for the chunks imported from here on (Node >= 22.1):
 * compiled code is read from the directory instead of compiling the chunks
 * again. The cache lives beside the bundle (dist/compile-cache/: the build
 * fills it for the Node that ran it, an image can fill it with one
 * `supervisor schema` at build time) unless NODE_COMPILE_CACHE names another
 * directory; NODE_DISABLE_COMPILE_CACHE=1 turns it off. Node >= 24 keys it by
 * paths relative to the directory, so dist/ can be moved with it. A directory
 * that cannot be created or written (a read-only image) only means compiling as
 * without it: Node never fails an import because of its cache.
 */
const compileCache = module as unknown as {
  enableCompileCache?: (options: string | { directory: string; portable: boolean }) => unknown;
  flushCompileCache?: () => void;
};

declare const __SUPERVISOR_SEA__: boolean | undefined;

function enableCompileCache(): void {
  try {
    if (process.env.NODE_COMPILE_CACHE) return; // Node enabled it itself, there
    // The single executable has no module to import and carries its own code cache.
    if (typeof __SUPERVISOR_SEA__ === 'boolean' && __SUPERVISOR_SEA__) return;
    const directory = fileURLToPath(new URL('./compile-cache/', import.meta.url));
    const major = Number(process.versions.node.split('.')[0]);
    compileCache.enableCompileCache?.(major >= 24 ? { directory, portable: true } : directory);
  } catch {
    // no cache: start-up is slower, nothing else changes
  }
}

enableCompileCache();
// Main's modules are compiled and evaluated only now.
const { runCli } = await import('./main.js');
await runCli(early);
// A PID 1 may never exit normally: write what was compiled now rather than at exit.
try {
  compileCache.flushCompileCache?.();
} catch {
  // nothing to write, or cannot: the next start compiles again
}
