// vm.mjs — the cgroup v2 VM bench: boots a Debian kernel under qemu (TCG) with the
// host's root shared read-only over 9p, runs one script inside as root and returns
// its stdout, stderr and exit code. Kernel and initramfs are built on first use and
// cached under <repo>/.cache/vm/. See scripts/vm/README.md.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync,
  renameSync, rmSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The checkout; the guest sees it at the same path. */
export const REPO = join(HERE, '..', '..');
export const CACHE_DIR = join(REPO, '.cache', 'vm');
/** Guest-side helper that makes a Kubernetes-style container (see k8s-container.sh). */
export const K8S_CONTAINER = join(HERE, 'k8s-container.sh');
/** Where the guest sees the writable share, and the folder whose files come back. */
export const GUEST_SHARE = '/run/vm';
export const GUEST_OUT = '/run/vm/out';
/** The supervisor bundle that later tests run as a container's PID 1. */
export const SUPERVISOR_BUNDLE = join(REPO, 'dist', 'supervisor.mjs');

const INIT_SCRIPT = join(HERE, 'init.sh');
const BUSYBOX = '/bin/busybox';
const MEMORY_MB = 1024;
const KERNEL_ARGS = 'console=ttyS0 cgroup_no_v1=all panic=-1 loglevel=4';
// 9p over virtio, in load order (each needs the ones before it).
const MODULES = [
  'drivers/virtio/virtio_ring', 'drivers/virtio/virtio', 'drivers/virtio/virtio_pci_legacy_dev',
  'drivers/virtio/virtio_pci_modern_dev', 'drivers/virtio/virtio_pci', 'fs/netfs/netfs',
  'fs/fscache/fscache', 'net/9p/9pnet', 'net/9p/9pnet_virtio', 'fs/9p/9p',
];

export class VmError extends Error {}

function run(cmd, args, what, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr || r.stdout).trim().split('\n').pop();
    throw new VmError(`vm bench: ${what} failed (${cmd} ${args.join(' ')}): ${why}`);
  }
  return r.stdout;
}

const installed = (pkgs) =>
  spawnSync('dpkg-query', ['-W', '-f=${db:Status-Status}\n', ...pkgs], { encoding: 'utf8' })
    .stdout?.split('\n').filter((s) => s === 'installed').length === pkgs.length;

let aptUpdated = false;
function aptUpdate() {
  if (!aptUpdated) run('apt-get', ['update'], 'apt-get update');
  aptUpdated = true;
}

function ensureHostPackages() {
  const pkgs = ['qemu-system-x86', 'busybox-static'];
  if (installed(pkgs)) return;
  const install = () => run('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs],
    'installing qemu-system-x86 and busybox-static');
  try { install(); } catch { aptUpdate(); install(); }
}

/** Name of the versioned kernel package linux-image-amd64 points at. */
function kernelPackage() {
  const find = () => {
    const r = spawnSync('apt-cache', ['depends', 'linux-image-amd64'], { encoding: 'utf8' });
    return r.stdout?.match(/Depends: (linux-image-\S+-amd64)/)?.[1];
  };
  let pkg = find();
  if (!pkg) { aptUpdate(); pkg = find(); }
  if (!pkg) throw new VmError('vm bench: apt-cache finds no linux-image-amd64 dependency');
  return pkg;
}

/** Kernel image and the needed modules, unpacked once into CACHE_DIR/<package>/. */
function ensureKernel(pkg) {
  const dir = join(CACHE_DIR, pkg);
  if (existsSync(join(dir, 'vmlinuz'))) return dir;
  mkdirSync(CACHE_DIR, { recursive: true });
  const work = mkdtempSync(join(CACHE_DIR, 'tmp-'));
  try {
    const dl = () => run('apt-get', ['download', '-o', 'APT::Sandbox::User=root', pkg],
      `apt-get download ${pkg}`, work);
    try { dl(); } catch { aptUpdate(); dl(); }
    const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
    if (!deb) throw new VmError(`vm bench: apt-get download ${pkg} produced no .deb`);
    const x = join(work, 'x');
    run('dpkg', ['-x', join(work, deb), x], `unpacking ${deb}`);
    const out = join(work, 'out');
    mkdirSync(join(out, 'modules'), { recursive: true });
    const vmlinuz = readdirSync(join(x, 'boot')).find((f) => f.startsWith('vmlinuz-'));
    if (!vmlinuz) throw new VmError(`vm bench: no boot/vmlinuz-* in ${deb}`);
    copyFileSync(join(x, 'boot', vmlinuz), join(out, 'vmlinuz'));
    const [release] = readdirSync(join(x, 'lib', 'modules'));
    writeFileSync(join(out, 'release'), `${release}\n`);
    for (const m of MODULES) {
      const base = join(x, 'lib', 'modules', release, 'kernel', m);
      const name = m.split('/').pop();
      if (existsSync(`${base}.ko`)) copyFileSync(`${base}.ko`, join(out, 'modules', `${name}.ko`));
      else if (existsSync(`${base}.ko.xz`)) {
        writeFileSync(join(out, 'modules', `${name}.ko`),
          execFileSync('xz', ['-dc', `${base}.ko.xz`], { maxBuffer: 256 << 20 }));
      } else throw new VmError(`vm bench: module ${m}.ko missing from ${deb}`);
    }
    try { renameSync(out, dir); } catch (e) {
      if (!existsSync(join(dir, 'vmlinuz'))) throw e; // else another run just unpacked it
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return dir;
}

/** A newc cpio with busybox, the modules and init.sh as /init; keyed by its inputs. */
function ensureInitramfs(kdir) {
  const init = readFileSync(INIT_SCRIPT);
  const hash = createHash('sha256').update(init).update(readFileSync(BUSYBOX))
    .update(MODULES.join(',')).digest('hex').slice(0, 12);
  const file = join(kdir, `initramfs-${hash}.cpio`);
  if (existsSync(file)) return file;
  const stage = mkdtempSync(join(CACHE_DIR, 'tmp-initramfs-'));
  try {
    for (const d of ['bin', 'dev', 'proc', 'sys', 'mnt', 'modules']) mkdirSync(join(stage, d));
    copyFileSync(BUSYBOX, join(stage, 'bin', 'busybox'));
    chmodSync(join(stage, 'bin', 'busybox'), 0o755);
    writeFileSync(join(stage, 'init'), init, { mode: 0o755 });
    for (const m of MODULES) {
      const name = `${m.split('/').pop()}.ko`;
      copyFileSync(join(kdir, 'modules', name), join(stage, 'modules', name));
    }
    writeFileSync(join(stage, 'modules', 'order'), MODULES.map((m) => m.split('/').pop()).join('\n') + '\n');
    const tmp = `${file}.${process.pid}`;
    run('sh', ['-c', `cd '${stage}' && find . | '${BUSYBOX}' cpio -o -H newc > '${tmp}'`], 'building the initramfs');
    renameSync(tmp, file);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  return file;
}

let prepared;
/**
 * Installs qemu and busybox if missing, fetches and unpacks the kernel, builds the
 * initramfs; cached. Throws a VmError with a one-line reason when something is missing.
 * @returns {{kernel: string, initramfs: string, release: string}}
 */
export function prepareVm() {
  if (prepared) return prepared;
  ensureHostPackages();
  const kdir = ensureKernel(kernelPackage());
  prepared = {
    kernel: join(kdir, 'vmlinuz'),
    initramfs: ensureInitramfs(kdir),
    release: readFileSync(join(kdir, 'release'), 'utf8').trim(),
  };
  return prepared;
}

const readIf = (f) => (existsSync(f) ? readFileSync(f, 'utf8') : undefined);

/** VM_DUMP=dir: every run's $VM_OUT files are also written there, for a look afterwards. */
function dumpIfAsked(files) {
  const dir = process.env.VM_DUMP;
  if (dir) {
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
  }
  return files;
}

function readOut(dir) {
  const files = {};
  const walk = (d, rel) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p, r);
      else if (e.isFile()) files[r] = readFileSync(p, 'utf8');
    }
  };
  if (existsSync(dir)) walk(dir, '');
  return files;
}

/**
 * Boots the VM, runs `script` (text; a shebang picks the interpreter, default /bin/sh)
 * as root inside it, powers off.
 * Inside: the host root is / (read-only), /tmp is a tmpfs, cgroup2 is at /sys/fs/cgroup;
 * files the script writes under $VM_OUT come back in `files`.
 * @param {string} script
 * @param {{timeoutMs?: number, memoryMb?: number, keepDir?: boolean}} [opts]
 * @returns {Promise<{code: number, stdout: string, stderr: string, files: Record<string,string>,
 *   console: string, wallMs: number, timedOut: boolean}>}
 */
export async function runInVm(script, { timeoutMs = 300_000, memoryMb = MEMORY_MB, keepDir = false } = {}) {
  const { kernel, initramfs } = prepareVm();
  const share = mkdtempSync(join(tmpdir(), 'vm-run-'));
  const text = script.startsWith('#!') ? script : `#!/bin/sh\n${script}`;
  writeFileSync(join(share, 'script'), text, { mode: 0o755 });
  writeFileSync(join(share, 'params'), `TIMEOUT_S=${Math.max(1, Math.ceil(timeoutMs / 1000))}\nREPO_DIR='${REPO}'\n`);
  const consoleFile = join(share, 'console.log');
  const args = [
    '-accel', 'tcg', '-cpu', 'max', '-m', String(memoryMb), '-smp', '2',
    '-nographic', '-no-reboot', '-nic', 'none',
    '-kernel', kernel, '-initrd', initramfs, '-append', KERNEL_ARGS,
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-virtfs', `local,path=${share},mount_tag=vmshare,security_model=none`,
    // The checkout again, on its own: a clone under /tmp would be hidden by the guest's tmpfs.
    '-virtfs', `local,path=${REPO},mount_tag=repo,security_model=none,readonly=on`,
  ];
  const started = Date.now();
  // Boot and poweroff cost seconds; the guest enforces timeoutMs on the script itself.
  const hostLimitMs = timeoutMs + 120_000;
  let log = '';
  const { status, killed } = await new Promise((resolve, reject) => {
    const q = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    q.stdout.on('data', (b) => { log += b; });
    q.stderr.on('data', (b) => { log += b; });
    let killed = false;
    const t = setTimeout(() => { killed = true; q.kill('SIGKILL'); }, hostLimitMs);
    q.on('error', (e) => { clearTimeout(t); reject(new VmError(`vm bench: cannot start qemu: ${e.message}`)); });
    q.on('close', (status) => { clearTimeout(t); resolve({ status, killed }); });
  });
  const wallMs = Date.now() - started;
  writeFileSync(consoleFile, log);
  try {
    const exit = readIf(join(share, 'exit'));
    if (exit === undefined) {
      const why = killed ? `did not finish within ${hostLimitMs / 1000}s` : `qemu exited (${status}) without a result`;
      const tail = log.split('\n').slice(-25).join('\n');
      throw new VmError(`vm bench: VM ${why}; kernel console (last lines):\n${tail}`);
    }
    return {
      code: Number(exit.trim()),
      stdout: readIf(join(share, 'stdout')) ?? '',
      stderr: readIf(join(share, 'stderr')) ?? '',
      files: dumpIfAsked(readOut(join(share, 'out'))),
      console: log,
      wallMs,
      timedOut: existsSync(join(share, 'timedout')),
    };
  } finally {
    if (!keepDir) rmSync(share, { recursive: true, force: true });
  }
}

/** Quotes one argument for sh. */
export const shq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/**
 * A shell command line (for a guest script) that runs `argv` as PID 1 of a
 * Kubernetes-style container; see k8s-container.sh for the options.
 * @param {string[]} argv
 * @param {{memory?: string, oomGroup?: 0|1, writable?: boolean, name?: string, report?: string, pidfile?: string}} [o]
 */
export function containerCommand(argv, o = {}) {
  const opts = [];
  if (o.memory) opts.push('--memory', o.memory);
  if (o.oomGroup !== undefined) opts.push('--oom-group', String(o.oomGroup));
  if (o.writable) opts.push('--rw');
  if (o.name) opts.push('--name', o.name);
  if (o.report) opts.push('--report', o.report);
  if (o.pidfile) opts.push('--pidfile', o.pidfile);
  return [K8S_CONTAINER, ...opts, '--', ...argv].map(shq).join(' ');
}

/** Same, with the supervisor bundle (run by the guest's node) as the container's PID 1. */
export const supervisorCommand = (supervisorArgs, o = {}) =>
  containerCommand(['node', SUPERVISOR_BUNDLE, ...supervisorArgs], o);

/** Parses `key=value` lines (k8s-container.sh's report) into numbers where they are numbers. */
export function parseReport(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const m = line.match(/^([\w.]+)=(.*)$/);
    if (m) out[m[1]] = /^-?\d+$/.test(m[2]) ? Number(m[2]) : m[2];
  }
  return out;
}
