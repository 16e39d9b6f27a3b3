#!/usr/bin/env bash
# Runs the kernel suite (dist/test/kernel/*.test.js) on a kernel that has every feature vlannet
# uses: macvlan, ipvlan, 802.1q, dummy, veth, bridge, IPv6. Never touches this machine's network.
#
#   scripts/kernel-test.sh [PATTERN]     PATTERN: a regular expression for file names, e.g. `cli`
#                                        or `adapter|smoke`
#
# - direct: when the running kernel can make ipvlan, vlan and dummy links (tried in a throwaway
#   network namespace), the suite runs here in a private namespace: `unshare -m -n`, tmpfs on /run
#   and /tmp, lo up, and a veth pair wire0/wire1 as the wire (test/kernel/wire.sh). The suite's
#   files run in parallel shards, one per CPU, each in a namespace of its own (test/kernel/suite.sh).
# - vm: otherwise Debian's own kernel under QEMU (test/vm/lib.sh; scripts/setup.sh tests
#   installs it): KVM when a probe boot works on it, else TCG. The wire is two virtio NICs on one
#   QEMU hub. test/kernel/guest.sh runs the suite there. test/README.md has the details.
#
# Output: test-output/kernel-<time>-<pid>/{output.log,exit-code,timing} (git-ignored), streamed to
# the terminal as each file ends. Exit code: the suite's; 1 when no result was written; 124 on timeout.
#
# Environment: VLANNET_KERNEL_TEST=direct|vm forces a mode; VLANNET_KERNEL_TEST_TIMEOUT (seconds,
# default 2400); VLANNET_NO_BUILD=1 skips the build; VLANNET_KERNEL_TEST_COMMAND='…' runs that
# bash command instead of the suite (to try things out on the full-featured kernel; it runs from
# the repository, its exit code is the harness's). test/vm/lib.sh reads VLANNET_VM_ACCEL,
# VLANNET_VM_MEM and VLANNET_VM_CPUS.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
# The caller's pattern, for top-level *.test.js files only (not source maps or support modules).
pattern=${1:+"^(?=[^/]*(?:$1))[^/]*\.test\.js\$"}
timeout_s=${VLANNET_KERNEL_TEST_TIMEOUT:-2400}
# shellcheck source=../test/vm/lib.sh
. test/vm/lib.sh

say() { echo "kernel-test: $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

[ "$(id -u)" = 0 ] || { say "needs root (network namespaces; the VM shares the whole root file system)"; exit 1; }
case $repo in *[[:space:]]*) say "the repository path must not contain whitespace: $repo"; exit 1;; esac

if [ "${VLANNET_NO_BUILD:-}" != 1 ]; then
  # tsc emits even when files someone else is editing do not type-check; count, do not stop.
  # The bundle bin/vlannet.js runs is rebuilt too, so the tests run the program users run.
  errors=$(npm run --silent build 2>&1 | grep -c 'error TS' || true)
  [ "$errors" = 0 ] || say "tsc reported $errors type error(s); running what it emitted"
fi
[ -d dist/test/kernel ] || { say "dist/test/kernel does not exist: nothing to run (build first)"; exit 1; }

mode=${VLANNET_KERNEL_TEST:-}
if [ -z "$mode" ]; then
  if kernel_has_everything; then mode=direct; else mode=vm; fi
fi

out="$repo/test-output/kernel-$(date +%Y%m%d-%H%M%S)-$$"
mkdir -p "$out"
started=$(now)

run_direct() {
  say "running in a private namespace on this kernel ($(uname -r)); output in ${out#"$repo"/}"
  local status=0
  VLANNET_OUT=$out timeout --kill-after=15 "$timeout_s" unshare -m -n --propagation private bash -c '
    set -e
    mount -t tmpfs tmpfs /run && mkdir /run/netns
    case $2/ in /tmp/*) ;; *) mount -t tmpfs tmpfs /tmp;; esac
    ip link set lo up
    . test/kernel/wire.sh
    make_wire
    echo 0 > "$2/booted-at"
    set +e -o pipefail
    . test/kernel/suite.sh
    if [ -n "$3" ]; then bash -c "$3"; else run_kernel_suite "$1" "$(nproc)"; fi 2>&1 | tee "$2/output.log"
    echo $? > "$2/exit-code"' kernel-test "$pattern" "$out" "${VLANNET_KERNEL_TEST_COMMAND:-}" || status=$?
  [ "$status" = 124 ] && { say "TIMEOUT: the suite did not finish in ${timeout_s}s"; exit 124; }
  return 0
}

run_vm() {
  vm_prepare || exit 1
  say "this kernel ($(uname -r)) lacks ipvlan/8021q/dummy: booting Debian's $VM_KVER under QEMU ($VM_ACCEL, $VM_CPUS CPUs); output in ${out#"$repo"/}"
  printf 'VLANNET_REPO=%q\nVLANNET_OUT=%q\nVLANNET_STAGE2=%q\nVLANNET_PATTERN=%q\nVLANNET_COMMAND=%q\n' \
    "$repo" "$out" "$repo/test/kernel/guest.sh" "$pattern" "${VLANNET_KERNEL_TEST_COMMAND:-}" > "$out/guest.env"
  local status=0
  vm_boot "$out" "$timeout_s" "${VM_WIRE[@]}" | tee "$out/console.log" || status=$?
  [ "$status" = 124 ] && { say "TIMEOUT: the VM did not finish in ${timeout_s}s"; exit 124; }
  return 0
}

"run_$mode"
ended=$(now)

if [ ! -s "$out/exit-code" ]; then
  say "FAILED: no result was written (the $mode run died before the suite ended); see ${out#"$repo"/}"
  exit 1
fi
code=$(cat "$out/exit-code")
{
  echo "mode $mode${VM_ACCEL:+ ($VM_ACCEL)}"
  [ -f "$out/booted-at" ] && echo "boot $(cat "$out/booted-at") s (guest uptime when the suite starts)"
  echo "total $(elapsed "$started" "$ended") s"
} > "$out/timing"
say "$(tr '\n' ' ' < "$out/timing")— suite exit code $code"
exit "$code"
