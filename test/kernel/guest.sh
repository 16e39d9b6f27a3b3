#!/bin/bash
# PID 1 of the kernel-test VM, in the root test/vm/initramfs-init.sh built: loads the modules the
# suite needs, names the two NICs of the VM's wire, runs the suite (test/kernel/suite.sh), writes
# its output and exit code into the output directory and ends the VM. scripts/kernel-test.sh reads
# the exit code back.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root npm_config_cache=/tmp/npm-cache TMPDIR=/tmp
out=$VLANNET_OUT
cut -d" " -f1 /proc/uptime > "$out/booted-at"
. "$out/guest.env"

end_vm() {
  sync
  printf '\0' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
  echo o > /proc/sysrq-trigger
  sleep 10
}
give_up() {
  echo "kernel-test guest: $*" | tee -a "$out/output.log"
  echo 1 > "$out/exit-code"
  end_vm
}

# Each module is required; one that is missing fails the run rather than skipping tests.
modprobe -a dummy veth macvlan ipvlan 8021q bridge virtio_net || give_up "cannot load the modules"
ip link set lo up
. "$VLANNET_REPO/test/kernel/wire.sh"
name_wire || give_up "the VM's two NICs did not appear"

cd "$VLANNET_REPO" || give_up "no repository at $VLANNET_REPO"
set -o pipefail
if [ -n "${VLANNET_COMMAND:-}" ]; then
  echo "kernel-test guest: kernel $(uname -r), running: $VLANNET_COMMAND"
  bash -c "$VLANNET_COMMAND" 2>&1 | tee "$out/output.log"
else
  echo "kernel-test guest: kernel $(uname -r), running the suite in $(nproc) shards${VLANNET_PATTERN:+ (files matching $VLANNET_PATTERN)}"
  . test/kernel/suite.sh
  run_kernel_suite "${VLANNET_PATTERN:-}" "$(nproc)" 2>&1 | tee "$out/output.log"
fi
echo "$?" > "$out/exit-code.tmp" && mv "$out/exit-code.tmp" "$out/exit-code"
end_vm
