#!/bin/busybox sh
# init.sh — PID 1 of the test VM's initramfs (copied to /init by vm.mjs).
# Loads the 9p modules, mounts the host's root read-only at /mnt with proc, sysfs,
# devtmpfs, cgroup2, a tmpfs /tmp, the writable share at /mnt/run/vm and the checkout
# at its host path (read-only, its own share), then chroots
# into it, runs /run/vm/script with a time limit, writes stdout, stderr and the exit
# code to the share and powers off. cgroup2 gets the options systemd uses on a
# Kubernetes node (nsdelegate, memory_recursiveprot).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/null >/dev/console 2>&1

say() { echo "vm-init: $*"; }
die() { say "FATAL: $*"; poweroff -f; }

# Modules in dependency order; a module whose dependency is not up yet is retried.
left=$(cat /modules/order)
for pass in 1 2 3 4; do
  again=
  for m in $left; do
    insmod "/modules/$m.ko" 2>/dev/null || again="$again $m"
  done
  left=$again
  [ -z "$left" ] && break
done
[ -z "$left" ] || die "could not insmod:$left"

r=/mnt
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot $r ||
  die "cannot mount the host root over 9p"
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 $r/sys/fs/cgroup || die "cannot mount cgroup2"
mount -t devtmpfs devtmpfs $r/dev
mount -t devpts devpts $r/dev/pts 2>/dev/null
mkdir -p $r/dev/shm && mount -t tmpfs -o mode=1777 tmpfs $r/dev/shm
mount -t tmpfs -o mode=1777 tmpfs $r/tmp
mount -t tmpfs -o mode=755 tmpfs $r/run
mkdir -p $r/run/vm
mount -t 9p -o trans=virtio,version=9p2000.L,rw vmshare $r/run/vm || die "cannot mount the share"
s=$r/run/vm
. $s/params # sets TIMEOUT_S and REPO_DIR
mkdir -p $s/out
# The checkout at its host path, even where a tmpfs above hides it (a clone in /tmp).
mkdir -p "$r$REPO_DIR" 2>/dev/null
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 repo "$r$REPO_DIR" || die "cannot mount the checkout"


say "running script (time limit ${TIMEOUT_S}s)"
chroot $r /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/tmp LANG=C.UTF-8 VM_SHARE=/run/vm VM_OUT=/run/vm/out \
  /run/vm/script >$s/stdout 2>$s/stderr &
pid=$!
# On timeout kill everything but init; the script's wait then returns 137.
(sleep "$TIMEOUT_S"; echo timeout >$s/timedout; kill -KILL -1) &
watchdog=$!
wait $pid
code=$?
kill $watchdog 2>/dev/null
echo $code >$s/exit
say "script exited with $code"
sync
poweroff -f
