#!/usr/bin/env node
// `npm run bench`: builds the bundle, installs the peers (tini, dumb-init,
// supervisord, pm2-runtime), runs every suite (suites/*.mjs) against them, prints
// one table per suite, writes the figures as JSON to bench-results/, and with
// --write-docs regenerates docs/benchmarks.md and its SVG chart. Exits non-zero
// only when a measurement itself crashed, never because of a figure.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { verifyClock } from './lib/clock.mjs';
import { ROOT } from './lib/fixtures.mjs';
import { parseOptions, USAGE } from './lib/options.mjs';
import { buildBundle, ensurePeers } from './lib/peers.mjs';
import { killAll, killAllSync } from './lib/pid1.mjs';
import { enterCgroupSandbox } from '../lib/cgroup-sandbox.mjs';
import { cleanupTemp } from './lib/tmp.mjs';
import { writeDocs } from './report/docs.mjs';
import { renderText } from './report/table.mjs';

const opts = parseOptions(process.argv.slice(2));
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}
const log = (m) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}`);

if (opts.docsFrom) {
  const results = JSON.parse(readFileSync(resolve(opts.docsFrom), 'utf8'));
  log(`writing docs from ${opts.docsFrom}: ${writeDocs(results).join(', ')}`);
  process.exit(0);
}

// Every init runs in a memory cgroup of the bench's own, removed at the end with
// whatever the inits left in it (leaf cgroups of a supervisor that was SIGKILLed).
const sandbox = enterCgroupSandbox('bench');
process.on('exit', () => {
  killAllSync();
  sandbox.cleanup();
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAllSync();
    sandbox.cleanup();
    cleanupTemp();
    process.exit(130);
  });
}

/** The commit measured, and whether src/ had uncommitted edits when the bundle was built. */
function gitState() {
  const git = (...a) => spawnSync('git', a, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  return { commit: git('rev-parse', '--short', 'HEAD'), srcDirty: git('status', '--porcelain', '--', 'src', 'package.json', 'scripts/build.mjs') !== '' };
}

const started = Date.now();
if (opts.build) {
  log('npm run build');
  buildBundle({ log });
}
const peers = ensurePeers({ install: opts.install, log });
for (const [name, p] of Object.entries(peers)) if (!p.available) log(`SKIPPING ${name}: ${p.note}`);
const clock = await verifyClock();
if (!clock.ok) log(`WARNING: the child's CLOCK_MONOTONIC reading was not between the driver's: ${JSON.stringify(clock.samples)}`);

const results = {
  meta: {
    date: new Date().toISOString(),
    mode: opts.quick ? 'quick' : 'full',
    command: `npm run bench${opts.quick ? ' -- --quick' : ''}`,
    machine: {
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      kernel: os.release(),
      node: process.version,
    },
    git: gitState(),
    peers,
    clock,
    params: opts.params,
  },
  suites: {},
};
let failed = 0;
for (const name of opts.only) {
  log(`suite ${name}`);
  const t = Date.now();
  const mod = await import(`./suites/${name}.mjs`);
  try {
    const r = await mod.run({ p: opts.params, peers, log, quick: opts.quick });
    r.seconds = Math.round((Date.now() - t) / 100) / 10;
    results.suites[name] = r;
    console.log(`\n${renderText(r)}\n  (${r.seconds} s)`);
  } catch (e) {
    failed++;
    results.suites[name] = { title: name, error: e.stack ?? String(e), rows: [], columns: [] };
    log(`suite ${name} CRASHED: ${e.stack ?? e}`);
  } finally {
    await killAll();
  }
}
results.meta.seconds = Math.round((Date.now() - started) / 1000);
cleanupTemp();

const outDir = resolve(ROOT, opts.out);
mkdirSync(outDir, { recursive: true });
const stamp = results.meta.date.replace(/[:.]/g, '-');
const file = join(outDir, `${stamp}-${results.meta.mode}.json`);
writeFileSync(file, `${JSON.stringify(results, null, 1)}\n`);
writeFileSync(join(outDir, `latest-${results.meta.mode}.json`), `${JSON.stringify(results, null, 1)}\n`);
log(`results: ${file} (${results.meta.seconds} s in all)`);
if (opts.writeDocs) log(`docs: ${writeDocs(results).join(', ')}`);
if (failed > 0) log(`${failed} suite(s) crashed`);
// Timers of abandoned races (time-outs that were not needed) must not keep us waiting.
process.exit(failed > 0 ? 1 : 0);
