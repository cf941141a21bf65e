// Debian packages the tests, the VM bench and the arm64 suite need on the host,
// installed only when the command they bring is missing (CI runs as root on a fresh
// machine; the VM guest runs the host's binaries): `apt-get install
// --no-install-recommends`, after one `apt-get update` if the first try fails.
import { execFileSync, spawnSync } from 'node:child_process';

/** The command's path on PATH, or undefined. */
export function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout?.trim() || undefined;
}

function aptGet(args) {
  try {
    execFileSync('apt-get', args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 900_000, maxBuffer: 64 << 20 });
  } catch (e) {
    const err = /** @type {{ stderr?: string, message: string }} */ (e);
    throw new Error(`apt-get ${args.join(' ')} failed: ${(err.stderr || err.message).trim().split('\n').slice(-3).join(' | ')}`);
  }
}

/** Installs the package of each `[package, command]` pair whose command is missing. */
export function ensureCommands(pairs) {
  const missing = pairs.filter(([, cmd]) => !which(cmd)).map(([pkg]) => pkg);
  if (missing.length === 0) return;
  const install = ['install', '-y', '--no-install-recommends', ...missing];
  try {
    aptGet(install);
  } catch {
    aptGet(['update']);
    aptGet(install);
  }
  for (const [pkg, cmd] of pairs) if (!which(cmd)) throw new Error(`${cmd} not found after installing ${pkg}`);
}
