// One measured run of one init: a scratch dir, a FIFO channel for the fixture's
// timestamps, the init's config from its adapter, and the init started as PID 1
// (or not). Everything is torn down by close().
import { createChannel } from './channel.mjs';
import { buildInit } from './inits.mjs';
import { launch } from './pid1.mjs';
import { tempDir } from './tmp.mjs';

/**
 * @param {string} id init column id (see inits.mjs)
 * @param {(chan: string, dir: string) => {name: string, argv: string[]}[]} programs fixture argv builder
 * @param {object} [opts] adapter options plus {pid1, onStdout, keepOutput}
 * @returns {Promise<object|{unsupported: string}>}
 */
export function startSession(id, programs, opts = {}) {
  const dir = tempDir();
  const chan = createChannel(dir);
  const progs = programs(chan.path, dir);
  const built = buildInit(id, progs, opts, dir);
  if (built.unsupported) {
    chan.close();
    return { unsupported: built.unsupported };
  }
  const run = launch({ argv: built.argv, env: built.env, pid1: opts.pid1 ?? true, onStdout: opts.onStdout, keepOutput: opts.keepOutput, cwd: dir, dir });
  return {
    id,
    dir,
    chan,
    run,
    built,
    async close() {
      await run.kill();
      chan.close();
    },
  };
}
