// The koffi native binaries every build ships in dist/koffi/<triplet>/koffi.node:
// linux x64 and arm64, each for glibc and musl, whatever machine builds. npm
// installs only the host's platform package (@koromix/koffi-linux-<arch>, an
// optional dependency of koffi); the others are fetched once from the npm
// registry with `npm pack` at the version of the installed koffi, checked
// against the integrity package-lock.json records for them, and kept in
// .cache/koffi/<version>/ (later builds need no network).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** The architectures every dist/ carries binaries for. */
export const KOFFI_ARCHES = ['x64', 'arm64'];

/** The installed platform package's directory, when npm installed it at `version`. */
function installed(root, name, version) {
  try {
    const pkgJson = createRequire(join(root, 'package.json')).resolve(`${name}/package.json`);
    return JSON.parse(readFileSync(pkgJson, 'utf8')).version === version ? join(pkgJson, '..') : undefined;
  } catch {
    return undefined;
  }
}

/** The lockfile's `sha512-...` integrity for package `name`, or undefined. */
function lockedIntegrity(root, name, version) {
  try {
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
    const entry = lock.packages?.[`node_modules/${name}`];
    return entry?.version === version ? entry.integrity : undefined;
  } catch {
    return undefined;
  }
}

/** `npm pack` of name@version into .cache/koffi/<version>/<arch>/ (the package's files). */
function fetchInto(root, name, version, dir) {
  const integrity = lockedIntegrity(root, name, version);
  if (!integrity?.startsWith('sha512-')) throw new Error(`package-lock.json records no sha512 integrity for ${name}@${version}`);
  const tmp = mkdtempSync(join(root, '.cache', 'koffi', '.fetch-'));
  try {
    try {
      execFileSync('npm', ['pack', '--silent', `${name}@${version}`], { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      throw new Error(`cannot fetch ${name}@${version} from the npm registry (needed once, then cached in .cache/koffi): ${String(e.stderr ?? e.message).trim()}`);
    }
    const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack ${name}@${version} wrote no tarball`);
    const digest = `sha512-${createHash('sha512').update(readFileSync(join(tmp, tgz))).digest('base64')}`;
    if (digest !== integrity) throw new Error(`${name}@${version}: the registry's tarball does not match package-lock.json's integrity`);
    execFileSync('tar', ['-xzf', tgz, 'package'], { cwd: tmp });
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(tmp, 'package'), dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Every koffi.node to ship: `{ triplet, file }` with triplet the directory name
 * the loader looks for (linux_x64, musl_x64, linux_arm64, musl_arm64).
 */
export function koffiBinaries(root) {
  // koffi's package does not export its package.json: read the installed one.
  const version = JSON.parse(readFileSync(join(root, 'node_modules', 'koffi', 'package.json'), 'utf8')).version;
  const out = [];
  for (const arch of KOFFI_ARCHES) {
    const name = `@koromix/koffi-linux-${arch}`;
    let dir = installed(root, name, version);
    if (!dir) {
      dir = join(root, '.cache', 'koffi', version, `linux-${arch}`);
      if (!existsSync(join(dir, 'package.json'))) {
        mkdirSync(join(root, '.cache', 'koffi', version), { recursive: true });
        fetchInto(root, name, version, dir);
      }
    }
    const found = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'koffi.node')))
      .map((e) => ({ triplet: e.name, file: join(dir, e.name, 'koffi.node') }));
    for (const libc of ['linux', 'musl']) {
      if (!found.some((f) => f.triplet === `${libc}_${arch}`)) throw new Error(`${name}@${version} has no ${libc}_${arch}/koffi.node (in ${dir})`);
    }
    out.push(...found);
  }
  return out;
}
