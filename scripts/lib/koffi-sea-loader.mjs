// What `import koffi from 'koffi'` becomes in the single executable
// (scripts/build-sea.mjs): the executable carries koffi's binaries for its
// architecture as SEA assets (koffi/linux_<arch>.node, koffi/musl_<arch>.node).
// A shared object can only be loaded from a file, so at koffi's first use the
// binary is written to a fresh private directory, loaded with process.dlopen and
// deleted at once (the mapping stays; nothing is left behind). The directory is
// the first that works of $TMPDIR, /tmp, /dev/shm, /run: with a read-only root
// filesystem mount an emptyDir (or a tmpfs without noexec) at /tmp. Like the
// plain bundle's loader it loads nothing before that first use, and its error
// is one line naming what is missing.
import { getRawAsset } from 'node:sea';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

let native;
let failure;

function oneLine(text) {
  return String(text).split('\n')[0].trim();
}

/** Writes `bytes` into a new directory under `dir`, loads it, deletes it. */
function loadFrom(dir, bytes) {
  const tmp = mkdtempSync(join(dir, 'supervisor-koffi-'));
  try {
    const file = join(tmp, 'koffi.node');
    writeFileSync(file, bytes, { mode: 0o500 });
    const module = { exports: {} };
    process.dlopen(module, file);
    return module.exports;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function loadNative() {
  if (native) return native;
  if (failure) throw failure;
  const what = `koffi's native binary for ${process.platform} ${process.arch}`;
  const triplets = ['linux_' + process.arch, 'musl_' + process.arch];
  const dirs = [...new Set([process.env.TMPDIR, '/tmp', '/dev/shm', '/run'].filter(Boolean))];
  const tried = [];
  let found = false;
  for (const triplet of triplets) {
    let bytes;
    try {
      bytes = new Uint8Array(getRawAsset(`koffi/${triplet}.node`));
    } catch {
      continue; // not in this executable
    }
    found = true;
    for (const dir of dirs) {
      try {
        return (native = loadFrom(dir, bytes));
      } catch (e) {
        const code = e instanceof Error ? e.code : undefined;
        tried.push(`${triplet} in ${dir}: ${code && code.startsWith('E') && !code.startsWith('ERR_') ? code : oneLine(e instanceof Error ? e.message : e)}`);
      }
    }
  }
  failure = new Error(
    found
      ? `${what} cannot be loaded from a temporary file (${tried.join('; ')}): give the supervisor a writable /tmp that allows exec (an emptyDir) or set TMPDIR`
      : `${what} is missing: this executable carries none (${triplets.join(', ')}); use the executable built for this architecture`,
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
