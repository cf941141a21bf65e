#!/bin/sh
# k8s-container.sh — runs a command as PID 1 of a container made the way the kubelet
# and runc make one on a cgroup v2 node. Run as root inside the VM bench.
#
#   k8s-container.sh [--memory 256M] [--oom-group 1|0] [--rw] [--name NAME]
#                    [--report FILE] [--pidfile FILE] -- COMMAND [ARG...]
#
# The container: cgroup /sys/fs/cgroup/kubepods/pod-NAME/ctr with memory.max (default
# 256M), memory.swap.max=0 and memory.oom.group=1 (the kubelet's value since 1.28);
# new PID, mount and cgroup namespaces, a fresh /proc, and /sys/fs/cgroup remounted to
# show only the container's own cgroup: read-only (an ordinary pod, the default) or
# writable with --rw (a privileged pod or a delegated cgroup: the workload may create
# child cgroups). Like the container runtime's shim, this script stays outside the
# container's cgroup and waits for it.
#
# After the workload ends it prints (or writes to FILE) one key=value per line:
#   exit=<status of PID 1; 128+signal if killed>
#   low= high= max= oom= oom_kill= oom_group_kill=   (the cgroup's memory.events,
#                                                      hierarchical: counts child cgroups too)
#   local_low= ... local_oom_group_kill=              (memory.events.local: the container
#                                                      cgroup's own counters only)
#   peak=<memory.peak, bytes>                         (when the kernel has it)
# removes the cgroup, and exits with the workload's status. --pidfile FILE receives
# the container PID 1's pid as seen from outside, to signal it (as the kubelet does).
set -eu

die() { echo "k8s-container: $*" >&2; exit 125; }
# The container is started in three internal stages, each this script again:
# --stage-fork runs in the new mount namespace, outside the new PID namespace (like
# the runtime's shim): it starts --stage-enter, which becomes the namespace's PID 1, and
# waits for it. (unshare --fork would do this, but util-linux 2.38 exits 1 instead of
# 137 when the child dies of SIGKILL.) Its first fork must be PID 1: no $(...) before.
if [ "${1-}" = --stage-fork ]; then
  self=$2 pidfile=$3
  shift 3
  # An `&` job would get /dev/null as stdin: keep ours on fd 3. The shell's own
  # "Killed" notice goes to /dev/null, the workload's stderr stays ours (fd 4).
  exec 3<&0 4>&2 2>/dev/null
  "$self" --stage-enter "$self" "$@" <&3 2>&4 3<&- 4>&- &
  pid=$!
  exec 3<&- 4>&-
  if [ -n "$pidfile" ]; then echo $pid >"$pidfile"; fi
  wait $pid
  exit $? # 128+signal if PID 1 was killed
fi
# --stage-enter, PID 1: move into the container cgroup (0 = this process), then into
# a new cgroup namespace rooted there.
if [ "${1-}" = --stage-enter ]; then
  self=$2
  echo 0 >"$3/cgroup.procs"
  mode=$4
  shift 4
  exec unshare --cgroup "$self" --stage-mount "$mode" "$@"
fi
# --stage-mount: a /proc for the new PID namespace and cgroup2 as the container sees
# it, then become the workload.
if [ "${1-}" = --stage-mount ]; then
  mode=$2
  shift 2
  mount -t proc -o nosuid,nodev,noexec proc /proc
  umount /sys/fs/cgroup
  mount -t cgroup2 -o "$mode,nosuid,nodev,noexec" cgroup2 /sys/fs/cgroup
  exec "$@"
fi

memory=256M oomgroup=1 mode=ro name=ctr-$$ report= pidfile=
while [ $# -gt 0 ]; do
  case $1 in
    --memory) memory=$2; shift 2 ;;
    --oom-group) oomgroup=$2; shift 2 ;;
    --rw) mode=rw; shift ;;
    --ro) mode=ro; shift ;;
    --name) name=$2; shift 2 ;;
    --report) report=$2; shift 2 ;;
    --pidfile) pidfile=$2; shift 2 ;;
    --) shift; break ;;
    *) die "unknown option $1" ;;
  esac
done
[ $# -gt 0 ] || die "no command given"
self=$(readlink -f "$0")
root=/sys/fs/cgroup
[ -f $root/cgroup.controllers ] || die "no cgroup v2 at $root"
grep -qw memory $root/cgroup.controllers || die "memory controller not available at $root"

# kubepods/pod-NAME/ctr, with +memory (and +pids) enabled on the way down. The parents
# hold no processes ("no internal processes" rule; the root cgroup is exempt).
enable() { echo "+memory +pids" >"$1/cgroup.subtree_control"; }
pod=$root/kubepods/pod-$name
ctr=$pod/ctr
[ -e "$pod" ] && die "$pod already exists"
enable $root
mkdir -p $root/kubepods
enable $root/kubepods
mkdir "$pod"
enable "$pod"
mkdir "$ctr"
echo "$memory" >"$ctr/memory.max"
[ -f "$ctr/memory.swap.max" ] && echo 0 >"$ctr/memory.swap.max"
echo "$oomgroup" >"$ctr/memory.oom.group"

set +e
unshare --pid --mount --propagation private \
  "$self" --stage-fork "$self" "$pidfile" "$ctr" "$mode" "$@"
status=$?
set -e

summary() {
  echo "exit=$status"
  sed 's/ /=/' "$ctr/memory.events"
  if [ -f "$ctr/memory.events.local" ]; then sed 's/^/local_/; s/ /=/' "$ctr/memory.events.local"; fi
  if [ -f "$ctr/memory.peak" ]; then echo "peak=$(cat "$ctr/memory.peak")"; fi
}
if [ -n "$report" ]; then summary >"$report"; else summary; fi

# PID 1 is gone, so the kernel has killed the rest of the namespace. Remove the cgroup
# and any children the workload made, deepest first (retry while tasks finish exiting).
for i in $(seq 50); do
  find "$pod" -depth -type d -exec rmdir {} + 2>/dev/null && break
  sleep 0.1
done
[ -e "$pod" ] && echo "k8s-container: could not remove $pod" >&2
exit $status
