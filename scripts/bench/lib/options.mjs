// Command-line flags of `npm run bench` and the size of every measurement in
// full and quick mode (quick: a few repetitions of each, for CI to keep the
// suite working in under ~3 minutes; its figures are not meant to be judged).
import { parseArgs } from 'node:util';

export const SUITES = ['startup', 'footprint', 'node', 'signals', 'reaping', 'restart', 'shutdown', 'memcap', 'logs'];

const FULL = {
  startupRounds: 20,
  hyperfineRounds: 5,
  hyperfineRuns: 10,
  timeRuns: 5,
  footprintRounds: 3,
  footprintSettleMs: 3000,
  footprintWindowMs: 10_000,
  nodeRounds: 15,
  nodeIdleRounds: 3,
  nodeIdleSettleMs: 3000,
  signalCount: 200,
  signalRounds: 4,
  orphans: 10_000,
  reapRounds: 2,
  reapTimeoutMs: 150_000,
  restartCount: 30,
  restartLifeMs: 100,
  crashLoopWindowMs: 45_000,
  shutdownRounds: 10,
  stubbornRounds: 2,
  stubbornTimeoutMs: 20_000,
  familyRounds: 2,
  leakRates: [20, 100, 500],
  leakRounds: 5,
  pm2LeakRounds: 2,
  capMiB: 256,
  ceilingMiB: 1024,
  pm2CapWaitMs: 40_000,
  logLines: 500_000,
  logRounds: 3,
};

const QUICK = {
  ...FULL,
  startupRounds: 3,
  hyperfineRounds: 1,
  hyperfineRuns: 5,
  timeRuns: 1,
  footprintRounds: 1,
  footprintSettleMs: 1500,
  footprintWindowMs: 2000,
  nodeRounds: 3,
  nodeIdleRounds: 1,
  nodeIdleSettleMs: 1500,
  signalCount: 20,
  signalRounds: 2,
  orphans: 1000,
  reapRounds: 1,
  reapTimeoutMs: 10_000,
  restartCount: 8,
  crashLoopWindowMs: 10_000,
  shutdownRounds: 2,
  stubbornRounds: 1,
  stubbornTimeoutMs: 13_000,
  familyRounds: 1,
  leakRates: [500],
  leakRounds: 1,
  pm2LeakRounds: 1,
  pm2CapWaitMs: 35_000,
  logLines: 50_000,
  logRounds: 1,
};

export function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      'write-docs': { type: 'boolean', default: false },
      'docs-from': { type: 'string' },
      only: { type: 'string' },
      'no-build': { type: 'boolean', default: false },
      'no-install': { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench-results' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const only = values.only ? values.only.split(',').map((s) => s.trim()) : SUITES;
  for (const s of only) if (!SUITES.includes(s)) throw new Error(`unknown suite ${s}; suites: ${SUITES.join(', ')}`);
  return {
    quick: values.quick,
    writeDocs: values['write-docs'],
    docsFrom: values['docs-from'],
    only,
    build: !values['no-build'],
    install: !values['no-install'],
    out: values.out,
    help: values.help,
    params: values.quick ? QUICK : FULL,
  };
}

export const USAGE = `npm run bench [-- OPTIONS]      benchmark the supervisor against tini, dumb-init, supervisord, pm2-runtime
  --quick              a short run (CI): few repetitions, exits 0 whatever the figures
  --write-docs         also write docs/benchmarks.md and its SVG chart from this run
  --docs-from FILE     only (re)write the docs from a results JSON, measuring nothing
  --only a,b           run only these suites: ${SUITES.join(', ')}
  --no-build           do not run npm run build first
  --no-install         do not install missing peers
  --out DIR            where the results JSON goes (default bench-results/)`;
