#!/bin/sh
# /init of the test VM's initramfs (busybox; test/vm/lib.sh builds it). Debian's kernel has 9p,
# virtio and overlayfs as modules, so this loads them, then builds the guest's root:
#   - the host's / over virtio-9p (tag hostroot), read-only, as the lower layer of an overlay whose
#     writable layer is a tmpfs: the guest runs the host's programs and writes nothing back;
#   - the output directory (tag out), read-write, at its host path: the only way out of the guest;
#   - its own /run, /tmp and /var/tmp (tmpfs), so /run/netns starts empty and nothing crawls the
#     host's /tmp; the repository stays visible at its path even when it lives under one of them;
#   - no /.dockerenv (a container's root has one; systemd would then ignore the command line).
# Then it hands PID 1 to $VLANNET_STAGE2 (from out/guest.env) in that root.
export PATH=/bin
/bin/busybox --install -s /bin
mount -t devtmpfs dev /dev

# One byte to QEMU's isa-debug-exit port ends the VM at once: QEMU exits with (byte << 1) | 1.
exit_vm() {
  printf "\\$(printf %o "$1")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
  poweroff -f
}
fail() {
  echo "vm init: $*" >&2
  [ -d /out ] && echo "vm init: $*" >> /out/init-failed
  exit_vm 1
}
# The accelerator probe (test/vm/lib.sh) only asks whether a guest gets this far.
[ -n "${VLANNET_PROBE:-}" ] && exit_vm 16

mount -t proc proc /proc
mount -t sysfs sysfs /sys
while read -r m; do insmod "/modules/$m" || fail "cannot load $m"; done < /modules/order

p9=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o "$p9,ro,cache=loose" hostroot /lower || fail "cannot mount the host's root over 9p"
mount -t 9p -o "$p9" out /out || fail "cannot mount the output directory over 9p"
[ -f /out/guest.env ] || fail "the output directory has no guest.env"
. /out/guest.env
[ -n "${VLANNET_REPO:-}" ] && [ -n "${VLANNET_OUT:-}" ] && [ -n "${VLANNET_STAGE2:-}" ] ||
  fail "guest.env must set VLANNET_REPO, VLANNET_OUT and VLANNET_STAGE2"
export VLANNET_REPO VLANNET_OUT VLANNET_STAGE2

mount -t tmpfs -o mode=755 tmpfs /upper || fail "cannot mount the overlay's tmpfs"
mkdir -p /upper/data /upper/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work /newroot ||
  fail "cannot mount the overlay root"
r=/newroot
rm -f "$r/.dockerenv"

mkdir -p /stash
mount --bind "$r$VLANNET_REPO" /stash || fail "no repository at $VLANNET_REPO"
for d in /run /tmp /var/tmp; do
  mount -t tmpfs -o mode=1777 tmpfs "$r$d" || fail "cannot mount tmpfs on $d"
done
chmod 755 "$r/run"
mkdir -p "$r$VLANNET_REPO" && mount --move /stash "$r$VLANNET_REPO" || fail "cannot place the repository"
mkdir -p "$r$VLANNET_OUT" && mount --move /out "$r$VLANNET_OUT" || fail "cannot place the output directory"

for d in dev proc sys; do mount --move "/$d" "$r/$d"; done
mkdir -p "$r/dev/pts" "$r/dev/shm"
mount -t devpts devpts "$r/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$r/dev/shm"
exec switch_root "$r" /bin/bash "$VLANNET_STAGE2"
