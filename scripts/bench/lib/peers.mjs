// Installs and finds the tools compared: tini, dumb-init and supervisord
// (Debian packages tini, dumb-init, supervisor), pm2-runtime (npm pm2, into
// .cache/bench/pm2, never the project's package.json), and the measuring tools
// hyperfine and /usr/bin/time. A tool that cannot be installed is skipped with
// a note; nothing of theirs is vendored.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './fixtures.mjs';

const PM2_DIR = join(ROOT, '.cache/bench/pm2');
export const PM2_RUNTIME = join(PM2_DIR, 'node_modules/pm2/bin/pm2-runtime');

const APT = {
  tini: { pkg: 'tini', bin: '/usr/bin/tini' },
  'dumb-init': { pkg: 'dumb-init', bin: '/usr/bin/dumb-init' },
  supervisord: { pkg: 'supervisor', bin: '/usr/bin/supervisord' },
  hyperfine: { pkg: 'hyperfine', bin: '/usr/bin/hyperfine' },
  time: { pkg: 'time', bin: '/usr/bin/time' },
};

function run(cmd, args, log) {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 300_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' | ') };
}

function version(cmd, args, re = /(\d+\.\d+(\.\d+)?)/) {
  try {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
    return re.exec(`${r.stdout}${r.stderr}`)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Makes sure every tool is there, installing what is missing.
 * @returns {Record<string, {available: boolean, version?: string, path?: string, note?: string}>}
 */
export function ensurePeers({ install = true, log = console.error } = {}) {
  const missing = Object.entries(APT).filter(([, t]) => !existsSync(t.bin));
  const notes = {};
  if (missing.length > 0 && install) {
    const pkgs = missing.map(([, t]) => t.pkg);
    const args = ['install', '-y', '--no-install-recommends', ...pkgs];
    let r = run('apt-get', args, log);
    if (!r.ok) {
      // The package lists may be missing or stale: update once, then retry.
      run('apt-get', ['update'], log);
      r = run('apt-get', args, log);
    }
    if (!r.ok) for (const [name] of missing) notes[name] = `apt-get install failed: ${r.out}`;
  }
  if (!existsSync(PM2_RUNTIME) && install) {
    mkdirSync(PM2_DIR, { recursive: true });
    const r = run('npm', ['install', '--prefix', PM2_DIR, '--no-audit', '--no-fund', '--no-save', 'pm2'], log);
    if (!r.ok) notes.pm2 = `npm install pm2 failed: ${r.out}`;
  }
  const peers = {};
  for (const [name, t] of Object.entries(APT)) {
    const ok = existsSync(t.bin);
    peers[name] = { available: ok, path: t.bin, note: ok ? undefined : (notes[name] ?? `${t.bin} not installed`) };
  }
  if (peers.tini.available) peers.tini.version = version('tini', ['--version']);
  if (peers['dumb-init'].available) peers['dumb-init'].version = version('dumb-init', ['--version']);
  if (peers.supervisord.available) peers.supervisord.version = version('supervisord', ['--version']);
  if (peers.hyperfine.available) peers.hyperfine.version = version('hyperfine', ['--version']);
  if (peers.time.available) peers.time.version = version('dpkg-query', ['-W', '-f=${Version}', 'time'], /^(\S+)/);
  const pm2ok = existsSync(PM2_RUNTIME);
  peers.pm2 = { available: pm2ok, path: PM2_RUNTIME, note: pm2ok ? undefined : (notes.pm2 ?? 'pm2 not installed') };
  if (pm2ok) peers.pm2.version = JSON.parse(readFileSync(join(PM2_DIR, 'node_modules/pm2/package.json'), 'utf8')).version;
  peers.unshare = { available: true, version: version('unshare', ['--version']) };
  peers.python3 = { available: true, version: version('/usr/bin/python3', ['--version']) };
  return peers;
}

/** Builds dist/supervisor.mjs (`npm run build`), retrying: others may be editing src/ right now. */
export function buildBundle({ log = console.error, tries = 4 } = {}) {
  for (let i = 1; i <= tries; i++) {
    const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
    if (r.status === 0) return;
    log(`npm run build failed (try ${i}/${tries}): ${`${r.stdout}${r.stderr}`.trim().split('\n').slice(-5).join('\n')}`);
    if (i < tries) execFileSync('sleep', ['5']);
  }
  throw new Error('npm run build kept failing');
}
