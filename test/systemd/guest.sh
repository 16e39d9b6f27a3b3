#!/bin/bash
# PID 1 of the systemd-test VM, in the root test/vm/initramfs-init.sh built (the host's root,
# read-only, under a tmpfs overlay): installs vlannet's unit and the test's units into that root,
# then hands PID 1 to systemd. vlannet-test.service runs checks.sh and powers the VM off.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
fail() {
  echo "systemd-test guest: $*" | tee -a "$VLANNET_OUT/results.txt"
  echo 1 > "$VLANNET_OUT/exit-code"
  printf '\0' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
  sleep 10
}
cut -d" " -f1 /proc/uptime > "$VLANNET_OUT/booted-at"
repo=$VLANNET_REPO
etc=/etc/systemd/system

# The program, its config, the unit under test and the test's own units.
rm -f /etc/machine-id && : > /etc/machine-id || fail "cannot reset /etc/machine-id"
printf '#!/bin/sh\nexec /usr/bin/node %s/bin/vlannet.js "$@"\n' "$repo" > /usr/local/bin/vlannet
chmod 755 /usr/local/bin/vlannet
# Its man pages, where `npm install -g` puts them, for the unit's Documentation= (verify checks them).
mkdir -p /usr/local/share/man/man1 /usr/local/share/man/man5
cp "$repo/man/vlannet.1" /usr/local/share/man/man1/ && cp "$repo/man/vlannet.yaml.5" /usr/local/share/man/man5/ || fail "cannot install the man pages"
cp "$repo/test/systemd/vlannet.yaml" /etc/vlannet.yaml
cp "$repo/systemd/vlannet.service" "$etc/vlannet.service" || fail "cannot install the unit"
mkdir -p "$etc/multi-user.target.wants"
for u in vlannet-test-parent.service web.service vlannet-test.service; do
  sed -e "s|@REPO@|$repo|g" -e "s|@OUT@|$VLANNET_OUT|g" "$repo/test/systemd/$u" > "$etc/$u"
done
for u in vlannet.service vlannet-test-parent.service web.service vlannet-test.service; do
  ln -sf "../$u" "$etc/multi-user.target.wants/$u"
done
# Nothing else that could hang or slow a minimal boot: no gettys, no network managers, no timers.
for u in getty@tty1.service serial-getty@ttyS0.service console-getty.service systemd-networkd.service \
  systemd-resolved.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer \
  e2scrub_all.timer fstrim.timer man-db.timer dpkg-db-backup.timer systemd-tmpfiles-clean.timer; do
  ln -sf /dev/null "$etc/$u"
done
exec /lib/systemd/systemd --unit=multi-user.target
