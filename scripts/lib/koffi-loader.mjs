// What `import koffi from 'koffi'` becomes in the bundle (scripts/build.mjs):
// koffi's own loader finds its binary by a dynamic path a bundle cannot follow,
// so this one opens the koffi.node shipped in dist/koffi/<triplet>/ (glibc
// first, then musl). It loads nothing until the first use of a koffi function:
// a dist/ without a binary for this machine still prints its version, validates
// and prints the schema, and the supervisor decides what a missing binary means
// (src/sys/libc.ts callers). The error names what is missing, on one line.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const req = createRequire(import.meta.url);
let native;
let failure;

function oneLine(text) {
  return String(text).split('\n')[0].trim();
}

function loadNative() {
  if (native) return native;
  if (failure) throw failure;
  // The chunk importing this lives in dist/chunks/ (dist/ itself, should it land in the entry).
  const dirs = ['../koffi/', './koffi/'].map((d) => fileURLToPath(new URL(d, import.meta.url)));
  const dir = dirs.find((d) => existsSync(d)) ?? dirs[0];
  const triplets = ['linux_' + process.arch, 'musl_' + process.arch];
  const tried = [];
  for (const triplet of triplets) {
    const file = dir + triplet + '/koffi.node';
    if (!existsSync(file)) continue;
    try {
      return (native = req(file));
    } catch (e) {
      tried.push(`${file} does not load (${oneLine(e instanceof Error ? e.message : e)})`);
    }
  }
  const what = `koffi's native binary for ${process.platform} ${process.arch}`;
  failure = new Error(
    tried.length > 0 ? `${what} cannot be loaded: ${tried.join('; ')}` : `${what} is missing: no ${triplets.map((t) => t + '/koffi.node').join(' or ')} in ${dir}`,
  );
  throw failure;
}

// Every property is looked up on the binary at its first use.
export default new Proxy(
  {},
  {
    get(_, key) {
      const lib = loadNative();
      const value = lib[key];
      return typeof value === 'function' ? value.bind(lib) : value;
    },
  },
);
