// An OCI runtime spec (config.json) for runc that reproduces what containerd's CRI
// plugin and the kubelet give one container of an ordinary pod on a cgroup v2 node
// with `resources.limits.memory` set: memory.max = the limit, memory.swap.max 0
// (runc's `swap` is memory + swap), memory.oom.group 1 through the spec's `unified`
// map (as the kubelet does since 1.28), the cgroup fs mounted read-only (an
// unprivileged pod), containerd's default capability set (no CAP_SYS_RESOURCE,
// no CAP_SYS_ADMIN), no_new_privs (`allowPrivilegeEscalation: false`), new pid,
// mount, ipc, uts, network and cgroup namespaces, and containerd's masked and
// read-only /proc paths. `privileged: true` gives what containerd gives a pod with
// `securityContext.privileged: true` instead: every capability, no masked or read-only
// /proc paths, /sys and the cgroup fs mounted read-write, no no_new_privs (Kubernetes
// refuses allowPrivilegeEscalation: false beside privileged). `uid`/`gid` are
// `runAsUser`/`runAsGroup`. Used inside the cgroup v2 VM: test/vm/runc.test.ts (the
// rootfs a bind of the guest's root, the host's, read-only) and test/vm/sea-image.test.ts
// (the rootfs a Python image without Node).

/** containerd's default capabilities (oci.defaultUnixCaps / CRI's default set). */
export const DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Every capability of the guest's kernel (6.1): what a privileged container gets. */
export const ALL_CAPS = [
  ...DEFAULT_CAPS, 'CAP_DAC_READ_SEARCH', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT',
  'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_LEASE', 'CAP_AUDIT_CONTROL',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

const MASKED = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
const READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * @param {{ args: string[], env?: string[], cwd?: string, uid?: number, gid?: number,
 *   memoryBytes: number, cgroupsPath: string, binds?: {source: string, destination: string}[],
 *   cgroupWritable?: boolean, privileged?: boolean }} o
 */
export function podSpec(o) {
  const root = (o.uid ?? 0) === 0;
  const priv = o.privileged === true;
  const bounding = priv ? ALL_CAPS : DEFAULT_CAPS;
  const caps = root ? bounding : [];
  const cgroupRw = priv || o.cgroupWritable === true;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: o.uid ?? 0, gid: o.gid ?? 0 },
      args: o.args,
      env: o.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      cwd: o.cwd ?? '/',
      // containerd: the bounding set is the default set for every user; the rest only for root.
      capabilities: { bounding, effective: caps, permitted: caps, inheritable: [], ambient: [] },
      noNewPrivileges: !priv,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'pod',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', priv ? 'rw' : 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', cgroupRw ? 'rw' : 'ro'] },
      // An emptyDir at /tmp, as a pod with a read-only root would mount.
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=65536k'] },
      ...(o.binds ?? []).map((b) => ({ destination: b.destination, type: 'bind', source: b.source, options: ['rbind', 'rw'] })),
    ],
    linux: {
      namespaces: ['pid', 'ipc', 'uts', 'mount', 'network', 'cgroup'].map((type) => ({ type })),
      cgroupsPath: o.cgroupsPath,
      resources: {
        memory: { limit: o.memoryBytes, swap: o.memoryBytes },
        unified: { 'memory.oom.group': '1' },
      },
      maskedPaths: priv ? [] : MASKED,
      readonlyPaths: priv ? [] : READONLY,
    },
  };
}
