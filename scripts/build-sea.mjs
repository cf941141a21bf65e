#!/usr/bin/env node
// Builds the supervisor as one self-contained executable (Node's single
// executable applications): dist-sea/supervisor-linux-<arch>, a copy of the
// official Node binary (debug symbols stripped) with the whole supervisor
// injected as one ES module and koffi's two binaries for that architecture
// (glibc, musl) as assets (scripts/lib/koffi-sea-loader.mjs loads them). For
// images without Node: `COPY --from=... /supervisor /supervisor`.
//
// Needs Node >= 25.5 (`node --build-sea`, ES module entry): the build takes
// the official Node 26 of the npm registry for the target architecture
// (scripts/node-versions.sh for x64, scripts/arm64/setup.mjs for arm64).
//
//   node scripts/build-sea.mjs [--arch x64|arm64] [--no-code-cache] [--out FILE]
//
// V8's code cache is embedded by default (docs/benchmarks.md, "Single
// executable": it cuts the start-up's compile time); it is built by the Node
// that builds, so only for the build machine's architecture.
import { build } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { koffiBinaries } from './lib/koffi-binaries.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = createRequire(import.meta.url)('../package.json');
const { values: opts } = parseArgs({
  options: {
    arch: { type: 'string', default: process.arch },
    'no-code-cache': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const arch = opts.arch;
if (arch !== 'x64' && arch !== 'arm64') throw new Error(`build-sea: --arch must be x64 or arm64, not ${arch}`);
const out = opts.out ?? join(root, 'dist-sea', `supervisor-linux-${arch}`);
const codeCache = !opts['no-code-cache'] && arch === process.arch;

/** The official Node 26 binary for `arch` (fetched once, cached under .cache/). */
function officialNode() {
  if (arch === 'arm64' && process.arch !== 'arm64') {
    return JSON.parse(execFileSync(process.execPath, [join(root, 'scripts/arm64/setup.mjs'), '26'], { encoding: 'utf8' }).trim().split('\n').pop()).node;
  }
  const bin = execFileSync('bash', [join(root, 'scripts/node-versions.sh'), '26'], { encoding: 'utf8' }).trim();
  return join(bin, 'node');
}

mkdirSync(join(root, 'dist-sea'), { recursive: true });
const work = mkdtempSync(join(root, 'dist-sea', '.build-'));
try {
  // 1. The supervisor as one ES module: no chunks (the executable has no files
  // beside it), koffi from the executable's assets.
  const main = join(work, 'supervisor.mjs');
  await build({
    entryPoints: [join(root, 'src/cli/entry.ts')],
    outfile: main,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    legalComments: 'none',
    define: { __SUPERVISOR_VERSION__: JSON.stringify(pkg.version), __SUPERVISOR_SEA__: 'true' },
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    plugins: [
      {
        name: 'koffi-from-sea-assets',
        setup(b) {
          b.onResolve({ filter: /^koffi$/ }, () => ({ path: join(root, 'scripts/lib/koffi-sea-loader.mjs') }));
        },
      },
    ],
    logLevel: 'warning',
  });

  // 2. The Node binary to inject into, stripped of its symbol table and debug sections (150 -> 117 MB for x64; the dynamic symbols addons link against stay).
  const node = join(work, 'node');
  cpSync(officialNode(), node);
  // (Another architecture's binary needs its binutils, e.g. Debian's binutils-aarch64-linux-gnu; without them it stays whole.)
  const strip = arch === process.arch ? 'strip' : 'aarch64-linux-gnu-strip';
  const stripped = spawnSync(strip, [node], { stdio: 'ignore' }).status === 0;

  // 3. The blob and the executable, by the Node 26 that builds (its version is the binary's).
  const assets = Object.fromEntries(koffiBinaries(root).filter((b) => b.triplet.endsWith(`_${arch}`)).map((b) => [`koffi/${b.triplet}.node`, b.file]));
  const config = join(work, 'sea-config.json');
  writeFileSync(
    config,
    JSON.stringify({
      main,
      mainFormat: 'module',
      executable: node,
      output: join(work, 'supervisor'),
      disableExperimentalSEAWarning: true,
      useCodeCache: codeCache,
      // Node's own options are not read from the command line: every argument is the supervisor's.
      execArgvExtension: 'none',
      assets,
    }),
  );
  const builder = arch === process.arch ? node : officialNodeHost();
  execFileSync(builder, ['--build-sea', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  chmodSync(join(work, 'supervisor'), 0o755);
  mkdirSync(dirname(out), { recursive: true });
  renameSync(join(work, 'supervisor'), out);
  console.log(`built ${out} (${(statSync(out).size / 1e6).toFixed(1)} MB, node ${arch}${stripped ? ', stripped' : ''}${codeCache ? ', code cache' : ''}, ${Object.keys(assets).length} koffi binaries)`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** The host's own official Node 26, which builds an executable for another architecture. */
function officialNodeHost() {
  return join(execFileSync('bash', [join(root, 'scripts/node-versions.sh'), '26'], { encoding: 'utf8' }).trim(), 'node');
}
