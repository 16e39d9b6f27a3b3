#!/bin/bash
# Stage 2 of the kernel-test VM, inside the private root built by init.sh: load every module the
# kernel suite needs, run the suite, record its output and exit code in the output directory,
# power off. scripts/kernel-test.sh reads the exit code back; the VM's own exit status means nothing.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root npm_config_cache=/tmp/npm-cache TMPDIR=/tmp
out=$VLANNET_OUT
date +%s.%N > "$out/booted-at"

poweroff() {
  sync
  echo o > /proc/sysrq-trigger
  sleep 10
}

# guest.env (written by the harness): VLANNET_REPO, VLANNET_PATTERN, VLANNET_COMMAND.
# shellcheck source=/dev/null
. "$out/guest.env"

# ipv6 first: ipvlan needs its symbols. Each one is required; a missing module fails the run.
for m in ipv6 dummy veth macvlan ipvlan 8021q bridge; do
  if ! modprobe -d /tmp/modroot "$m"; then
    echo "vlannet-uml: cannot load module $m" | tee -a "$out/output.log"
    echo 1 > "$out/exit-code"
    poweroff
  fi
done
ip link set lo up

cd "$VLANNET_REPO" || { echo 1 > "$out/exit-code"; poweroff; }
set -o pipefail
if [ -n "${VLANNET_COMMAND:-}" ]; then
  echo "vlannet-uml: kernel $(uname -r), running: $VLANNET_COMMAND"
  bash -c "$VLANNET_COMMAND" 2>&1 | tee "$out/output.log"
else
  echo "vlannet-uml: kernel $(uname -r), running: node node_modules/uvu/bin.js dist/test/kernel ${VLANNET_PATTERN}"
  node node_modules/uvu/bin.js dist/test/kernel ${VLANNET_PATTERN:+"$VLANNET_PATTERN"} 2>&1 | tee "$out/output.log"
fi
echo "$?" > "$out/exit-code.tmp" && mv "$out/exit-code.tmp" "$out/exit-code"
poweroff
