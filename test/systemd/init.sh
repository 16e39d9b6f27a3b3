#!/bin/bash
# PID 1 of the systemd-test VM (User-mode Linux, host root on hostfs). Builds a private root — an
# overlay of / with its writable layer in tmpfs, so nothing is written to the host except the
# output directory — installs vlannet's unit and the test units into it, then hands PID 1 over to
# systemd in that root. See /work/shared/KERNEL-TESTING.md ("systemd as PID 1").
set -u
mount -t proc proc /proc
mount -t sysfs sysfs /sys
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
fail() { echo "systemd-test init: $*" >&2; echo o > /proc/sysrq-trigger; sleep 10; }
[ -d "${VLANNET_OUT:-}" ] || fail "VLANNET_OUT is not a directory"
cd "$VLANNET_OUT" || fail "cannot enter $VLANNET_OUT"
. ./guest.env
# Staging for the modprobe root and the overlay, in a tmpfs of the guest's own: on /run, or on
# /mnt when the output directory is under /run. Never on a prefix of the output directory, whose
# path must stay reachable (CI clones may live under /tmp).
case $VLANNET_OUT/ in /run/*) stage=/mnt;; *) stage=/run;; esac
mount -t tmpfs -o size=64M tmpfs "$stage" || fail "tmpfs $stage"
mkdir -p $stage/modroot/lib/modules
ln -s "/usr/lib/uml/modules/$(uname -r)" "$stage/modroot/lib/modules/$(uname -r)"
modprobe -d $stage/modroot overlay || fail "overlay module"
root=$stage/root
mkdir -p $stage/upper "$root"
mount -t tmpfs -o size=512M tmpfs $stage/upper || fail "overlay tmpfs"
mkdir -p $stage/upper/data $stage/upper/work
mount -t overlay overlay -o lowerdir=/,upperdir=$stage/upper/data,workdir=$stage/upper/work "$root" || fail "overlay root"
# Cover hostfs's views of the host's /proc, /sys, /dev, /run, /tmp before systemd looks at them.
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount -t devtmpfs devtmpfs "$root/dev" || mount -t tmpfs tmpfs "$root/dev"
for d in /run /tmp /var/tmp; do
  mount -t tmpfs tmpfs "$root$d" || fail "tmpfs $d"
done
# Inside the guest the repo, the output directory and the modprobe root live under /opt/vlannet:
# systemd-tmpfiles empties /tmp at boot (tmp.conf's D line), which would hide a repo cloned under
# /tmp and, through a bind mount there, delete the host's results.
g=/opt/vlannet
mkdir -p "$root$g/repo" "$root$g/out" "$root$g/modroot/lib/modules"
ln -s "/usr/lib/uml/modules/$(uname -r)" "$root$g/modroot/lib/modules/$(uname -r)"
mount --bind . "$root$g/out" || fail "bind the output directory"
mount --bind "$VLANNET_REPO" "$root$g/repo" && mount -o remount,bind,ro "$root$g/repo" || fail "bind the repo"
VLANNET_REPO=$g/repo VLANNET_OUT=$g/out

# The program, its config, the unit under test and the test's own units.
etc=$root/etc/systemd/system
rm -f "$root/etc/machine-id"; : > "$root/etc/machine-id"
printf '#!/bin/sh\nexec /usr/bin/node %s/bin/vlannet.js "$@"\n' "$VLANNET_REPO" > "$root/usr/local/bin/vlannet"
chmod 755 "$root/usr/local/bin/vlannet"
cp "$root$VLANNET_REPO/test/systemd/vlannet.yaml" "$root/etc/vlannet.yaml"
cp "$root$VLANNET_REPO/systemd/vlannet.service" "$etc/vlannet.service"
for u in vlannet-test-parent.service web.service vlannet-test.service; do
  sed -e "s|@REPO@|$VLANNET_REPO|g" -e "s|@OUT@|$VLANNET_OUT|g" "$root$VLANNET_REPO/test/systemd/$u" > "$etc/$u"
done
mkdir -p "$etc/multi-user.target.wants"
for u in vlannet.service vlannet-test-parent.service web.service vlannet-test.service; do
  ln -sf "../$u" "$etc/multi-user.target.wants/$u"
done
# Nothing else that could hang a minimal boot: no getty on a console UML does not have.
for u in getty@tty1.service serial-getty@ttyS0.service console-getty.service systemd-networkd.service systemd-resolved.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer; do
  ln -sf /dev/null "$etc/$u"
done
date +%s.%N > "$root$VLANNET_OUT/booted-at"
exec chroot "$root" /lib/systemd/systemd --unit=multi-user.target
