#!/bin/bash
# Stage 1 of the kernel-test VM: PID 1 of User-mode Linux, booted by scripts/kernel-test.sh with
# the host's root file system on hostfs. Until this script has mounted the guest's own /proc and
# /sys, those paths ARE the host's (hostfs passes them through), so nothing may run before that.
#
# hostfs is the host's real file system, read-write. To keep the guest from writing to it, build a
# private root: an overlay of / (hostfs, read-only lower) with its writable layer in a tmpfs, and
# bind only the harness's output directory (VLANNET_OUT, from the kernel command line) into it
# read-write. Then continue in guest.sh inside that root.
set -u
mount -t proc proc /proc
mount -t sysfs sysfs /sys
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

fail() {
  echo "vlannet-uml init: $*" >&2
  echo "o" > /proc/sysrq-trigger
  sleep 10
}

[ -d "${VLANNET_OUT:-}" ] || fail "VLANNET_OUT is not a directory: '${VLANNET_OUT:-}'"
# Hold the output directory by the working directory: the tmpfs below may cover its path.
cd "$VLANNET_OUT" || fail "cannot enter $VLANNET_OUT"

# Modules come from the host's /usr/lib/uml/modules through a modprobe root in tmpfs.
# Staging for the modprobe root and the overlay, in a tmpfs of the guest's own: on /run, or on
# /mnt when the output directory is under /run. Never on a prefix of the output directory, whose
# path must stay reachable (CI clones may live under /tmp).
case $VLANNET_OUT/ in /run/*) stage=/mnt;; *) stage=/run;; esac
mount -t tmpfs -o size=64M tmpfs "$stage" || fail "cannot mount tmpfs on $stage"
mods=$stage/modroot
mkdir -p "$mods/lib/modules"
ln -s "/usr/lib/uml/modules/$(uname -r)" "$mods/lib/modules/$(uname -r)"
modprobe -d "$mods" overlay || fail "cannot load the overlay module"

root=$stage/root
mkdir -p $stage/upper $stage/work "$root"
# The overlay's writable layer must be a tmpfs of its own size: node and the tests write there.
mount -t tmpfs -o size=512M tmpfs $stage/upper || fail "cannot mount the overlay's tmpfs"
mkdir -p $stage/upper/data $stage/upper/work
mount -t overlay overlay -o lowerdir=/,upperdir=$stage/upper/data,workdir=$stage/upper/work "$root" \
  || fail "cannot mount the overlay root"

# Inside the overlay, /proc, /sys and /dev are hostfs's views of the host: cover them first.
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount -t devtmpfs devtmpfs "$root/dev" || mount -t tmpfs tmpfs "$root/dev"
mkdir -p "$root/dev/pts" "$root/dev/shm"
ln -sfn /proc/self/fd "$root/dev/fd"
for i in 0:stdin 1:stdout 2:stderr; do ln -sfn "/proc/self/fd/${i%%:*}" "$root/dev/${i#*:}"; done
mount -t devpts devpts "$root/dev/pts"
mount -t tmpfs tmpfs "$root/dev/shm"
# Fresh /run (so /run/netns and vlannet's lock start empty), /tmp and /var/tmp — except where the
# output directory lives (the overlay keeps writes there private anyway).
for d in /run /tmp /var/tmp; do
  case $VLANNET_OUT/ in "$d"/*) continue;; esac
  mount -t tmpfs tmpfs "$root$d" || fail "cannot mount tmpfs on $d"
done
mkdir -p "$root/tmp/modroot/lib/modules"
ln -s "/usr/lib/uml/modules/$(uname -r)" "$root/tmp/modroot/lib/modules/$(uname -r)"
# The one place the guest writes to the host.
mount --bind . "$root$VLANNET_OUT" || fail "cannot bind the output directory"

exec chroot "$root" /bin/bash "$(dirname "$0")/guest.sh"
