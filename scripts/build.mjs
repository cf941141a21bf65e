#!/usr/bin/env node
// Builds dist/: the entry dist/supervisor.mjs, the chunks it imports on demand
// (dist/chunks/*.mjs), and the koffi native binaries they load
// (dist/koffi/<triplet>/koffi.node, linux x64 and arm64, glibc and musl), so that copying dist/ alone into an image
// is enough: no node_modules at run time.
//
// Why chunks (docs/benchmarks.md, "Start-up and footprint"): the entry is a few
// kB that Node compiles at once, so its signal listeners exist within
// milliseconds; it then turns on V8's compile cache and imports the rest, which
// the cache then serves compiled. What only some commands need (config files:
// zod and yaml; the JSON Schema generator; the pretty printer; yargs' help
// layout) is loaded only when they run.
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { koffiBinaries } from './lib/koffi-binaries.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const require = createRequire(import.meta.url);
const pkg = require('../package.json');

// No `rm -rf dist`: a supervisor or test starting from dist/ during a rebuild must
// never find a file missing or half-written. Chunks carry a hash of their content
// in their name, so a new build adds files beside the old ones, and the entry
// (whose imports name them) is renamed over the old one last.
mkdirSync(dist, { recursive: true });
const bundle = join(dist, 'supervisor.mjs');
const staging = join(dist, `.build.${process.pid}.tmp`);

// koffi's own loader looks its binary up by a dynamic path that a bundle cannot
// follow. `import koffi from 'koffi'` gets scripts/lib/koffi-loader.mjs instead,
// which opens the binary shipped in dist/koffi at koffi's first use.
const koffiBeside = {
  name: 'koffi-beside-bundle',
  setup(b) {
    b.onResolve({ filter: /^koffi$/ }, () => ({ path: join(root, 'scripts/lib/koffi-loader.mjs') }));
  },
};

// Modules whose whole interface is functions called only off the run path:
// importing them gets a stand-in whose functions evaluate the real module on
// their first call (esbuild turns the require() into a call of the bundled
// module's lazy initialiser). string-width and cliui lay out yargs' --help
// (string-width compiles Unicode-property regexps worth tens of ms at import).
const DEFERRED = {
  'string-width': ['default'],
  cliui: ['default'],
};
const deferUntilCalled = {
  name: 'defer-until-called',
  setup(b) {
    const filter = new RegExp(`^(${Object.keys(DEFERRED).join('|')})$`);
    // (The stand-in's own require() is resolved as usual, to the real module.)
    b.onResolve({ filter }, (a) => (a.namespace === 'deferred' ? undefined : { path: a.path, namespace: 'deferred', pluginData: a.resolveDir }));
    b.onLoad({ filter: /.*/, namespace: 'deferred' }, (a) => ({
      loader: 'js',
      resolveDir: a.pluginData,
      contents: [
        `let real;`,
        `const load = () => (real ??= require(${JSON.stringify(a.path)}));`,
        ...DEFERRED[a.path].map((name) =>
          name === 'default'
            ? `export default function (...args) { const m = load(); return (m.default ?? m)(...args); }`
            : `export function ${name}(...args) { return load().${name}(...args); }`,
        ),
      ].join('\n'),
    }));
  },
};

// yargs' factory calls `.version()` with no argument on every instance, which
// guesses the version by walking up from the current directory (the bundle is not
// under node_modules) reading each directory for a package.json: ~10 ms at every
// start, and it reads the user's working directory. The supervisor sets its own
// version (`.version(VERSION)`), so the guess is dropped from the factory. The
// build fails if yargs' source no longer has the call where expected.
const YARGS_GUESS = 'yargs.help();\n        yargs.version();\n        return yargs;';
const noVersionGuess = {
  name: 'yargs-no-version-guess',
  setup(b) {
    b.onLoad({ filter: /[\\/]yargs[\\/]build[\\/]lib[\\/]yargs-factory\.js$/ }, async (a) => {
      const source = await readFile(a.path, 'utf8');
      if (source.split(YARGS_GUESS).length !== 2) throw new Error(`${a.path}: the factory's yargs.version() call was not found (yargs changed: review scripts/build.mjs)`);
      return { loader: 'js', contents: source.replace(YARGS_GUESS, 'yargs.help();\n        return yargs;') };
    });
  },
};

const { metafile } = await build({
  entryPoints: { supervisor: join(root, 'src/cli/entry.ts') },
  outdir: staging,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  // Minified: the chunks' source text stays in V8's heap for as long as they run
  // (0.7-1 MiB less idle RSS); start-up time is the same. Source maps beside
  // them for readable stack traces: `node --enable-source-maps`.
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  define: { __SUPERVISOR_VERSION__: JSON.stringify(pkg.version) },
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  plugins: [koffiBeside, deferUntilCalled, noVersionGuess],
  logLevel: 'warning',
  metafile: true,
});

try {
  assertRunPathLean(metafile);
} catch (e) {
  rmSync(staging, { recursive: true, force: true });
  throw e;
}

/**
 * What the entry loads before any command runs (its static imports, followed
 * transitively) must not hold the packages only some commands need: twice already an
 * import from src/config put zod on the path of every start (~30 ms). Fails the build.
 */
function assertRunPathLean(meta) {
  const ON_DEMAND = /node_modules\/(zod|yaml|pino-pretty|prom-client)\//;
  const entry = Object.keys(meta.outputs).find((out) => meta.outputs[out].entryPoint?.endsWith('src/cli/entry.ts'));
  const seen = new Set();
  const visit = (out, via) => {
    if (seen.has(out)) return;
    seen.add(out);
    const bad = Object.keys(meta.outputs[out].inputs).find((input) => ON_DEMAND.test(input));
    if (bad) throw new Error(`${bad} is loaded at every start (${via.join(' -> ')}): import it on demand`);
    for (const imp of meta.outputs[out].imports) if (imp.kind === 'import-statement' && meta.outputs[imp.path]) visit(imp.path, [...via, basename(imp.path)]);
  };
  // The entry's own dynamic import of main is the run path too: main's chunk and its static imports.
  const main = meta.outputs[entry].imports.find((imp) => imp.kind === 'dynamic-import' && /\/main-[^/]*\.mjs$/.test(imp.path));
  if (!main) throw new Error('build: the entry no longer imports the main chunk dynamically (review assertRunPathLean)');
  visit(entry, ['supervisor.mjs']);
  visit(main.path, ['supervisor.mjs', basename(main.path)]);
}

// Chunks first (new names, nothing running can be using them), the entry last.
const stagedChunks = join(staging, 'chunks');
const chunks = new Set(readdirSync(stagedChunks));
mkdirSync(join(dist, 'chunks'), { recursive: true });
for (const name of chunks) renameSync(join(stagedChunks, name), join(dist, 'chunks', name));
if (existsSync(join(staging, 'supervisor.mjs.map'))) renameSync(join(staging, 'supervisor.mjs.map'), `${bundle}.map`);
chmodSync(join(staging, 'supervisor.mjs'), 0o755);
renameSync(join(staging, 'supervisor.mjs'), bundle);
rmSync(staging, { recursive: true, force: true });
// Chunks of earlier builds: a supervisor started before this build may still
// import one of them on demand, so only those an hour old go.
for (const name of readdirSync(join(dist, 'chunks'))) {
  const file = join(dist, 'chunks', name);
  if (!chunks.has(name) && Date.now() - statSync(file).mtimeMs > 3600_000) rmSync(file, { force: true });
}

// Ship koffi's binaries for linux x64 and arm64, glibc and musl, whatever the build
// machine (scripts/lib/koffi-binaries.mjs: the ones npm did not install come from
// the registry once, checked against package-lock.json, then from .cache/koffi).
const binaries = koffiBinaries(root);
for (const { triplet, file } of binaries) {
  const target = join(dist, 'koffi', triplet, 'koffi.node');
  mkdirSync(dirname(target), { recursive: true });
  cpSync(file, `${target}.${process.pid}.tmp`);
  renameSync(`${target}.${process.pid}.tmp`, target);
}
const shipped = binaries.length;

// The JSON Schema for editors, generated by the bundle itself from the same
// definition the validator uses (`supervisor schema`).
const schema = execFileSync(process.execPath, [bundle, 'schema'], { encoding: 'utf8' });
writeFileSync(`${bundle}.schema.tmp`, schema);
renameSync(`${bundle}.schema.tmp`, join(dist, 'supervisor.schema.json'));
const size = [...chunks].filter((c) => c.endsWith('.mjs')).reduce((n, c) => n + statSync(join(dist, 'chunks', c)).size, statSync(bundle).size);
console.log(`built ${join('dist', basename(bundle))} + ${[...chunks].filter((c) => c.endsWith('.mjs')).length} chunks (${(size / 1e6).toFixed(2)} MB) + ${shipped} koffi binaries`);
