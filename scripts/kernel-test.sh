#!/usr/bin/env bash
# Runs the kernel suite (dist/test/kernel/*.test.js) on a kernel that has every feature vlannet
# uses: macvlan, ipvlan, 802.1q, dummy, veth, IPv6. Never touches this machine's own network.
#
#   scripts/kernel-test.sh [PATTERN]     PATTERN: uvu's file pattern, e.g. `cli` or `adapter|smoke`
#
# - When the running kernel can create ipvlan, vlan and dummy links (tried in a throwaway network
#   namespace), the suite runs here inside a private namespace: `unshare -m -n`, tmpfs on /run
#   and /tmp, lo up.
# - Otherwise it boots User-mode Linux (`scripts/setup.sh --kernel` installs it) with the host's
#   root on hostfs and test/kernel/uml/init.sh as init, which keeps every guest write in a tmpfs
#   except the output directory. See /work/shared/KERNEL-TESTING.md for the facts behind this.
#
# Output: test-output/kernel-<time>-<pid>/{output.log,exit-code,timing} (git-ignored), streamed to
# the terminal as it runs. Exit code: the suite's; 1 when no result was written; 124 on timeout.
#
# Environment: VLANNET_KERNEL_TEST=direct|uml forces a mode; VLANNET_KERNEL_TEST_TIMEOUT (seconds,
# default 900); VLANNET_KERNEL_TEST_MEM (default 1024M); VLANNET_NO_BUILD=1 skips the build;
# VLANNET_KERNEL_TEST_COMMAND='…' runs that bash command instead of the suite (to try things out
# on the full-featured kernel; it runs from the repository, its exit code is the harness's).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
# uvu tests its pattern against every file under the directory (source maps and support modules
# too): keep the caller's pattern, but only for top-level *.test.js files.
pattern=${1:+"^(?=[^/]*(?:$1))[^/]*\.test\.js\$"}
timeout_s=${VLANNET_KERNEL_TEST_TIMEOUT:-900}
mem=${VLANNET_KERNEL_TEST_MEM:-1024M}

say() { echo "kernel-test: $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

[ "$(id -u)" = 0 ] || { say "needs root (network namespaces, and UML's hostfs must read everything)"; exit 1; }
case $repo in *[[:space:]]*) say "the repository path must not contain whitespace: $repo"; exit 1;; esac

if [ "${VLANNET_NO_BUILD:-}" != 1 ]; then
  # tsc emits even when files someone else is editing do not type-check; count, do not stop.
  # The bundle bin/vlannet.js runs is rebuilt too, so the tests run the program users run.
  errors=$(npm run --silent build 2>&1 | grep -c 'error TS' || true)
  [ "$errors" = 0 ] || say "tsc reported $errors type error(s); running what it emitted"
fi
[ -d dist/test/kernel ] || { say "dist/test/kernel does not exist: nothing to run (build first)"; exit 1; }

# Whether this kernel can make every link kind, tried where it cannot hurt: a throwaway namespace.
kernel_has_everything() {
  unshare -n sh -c '
    ip link add vnt-d type dummy &&
    ip link add link vnt-d name vnt-v type vlan id 5 &&
    ip link add link vnt-d name vnt-i type ipvlan mode l2 &&
    ip link add link vnt-d name vnt-m type macvlan mode bridge &&
    ip link add vnt-a type veth peer name vnt-b &&
    [ -d /proc/sys/net/ipv6 ]' >/dev/null 2>&1
}

mode=${VLANNET_KERNEL_TEST:-}
if [ -z "$mode" ]; then
  if kernel_has_everything; then mode=direct; else mode=uml; fi
fi

out="$repo/test-output/kernel-$(date +%Y%m%d-%H%M%S)-$$"
mkdir -p "$out"
started=$(now)

run_direct() {
  say "running in a private namespace on this kernel ($(uname -r)); output in ${out#"$repo"/}"
  set +e
  timeout --kill-after=15 "$timeout_s" unshare -m -n --propagation private bash -c '
    set -e
    mount -t tmpfs tmpfs /run && mkdir /run/netns
    case $2/ in /tmp/*) ;; *) mount -t tmpfs tmpfs /tmp;; esac
    ip link set lo up
    set +e -o pipefail
    if [ -n "$3" ]; then bash -c "$3"; else node node_modules/uvu/bin.js dist/test/kernel ${1:+"$1"}; fi 2>&1 | tee "$2/output.log"
    echo $? > "$2/exit-code"' kernel-test "$pattern" "$out" "${VLANNET_KERNEL_TEST_COMMAND:-}"
  status=$?
  set -e
  [ "$status" = 124 ] && { say "TIMEOUT: the suite did not finish in ${timeout_s}s"; exit 124; }
  return 0
}

run_uml() {
  command -v linux.uml >/dev/null || { say "User-mode Linux is missing: run scripts/setup.sh --kernel"; exit 1; }
  say "this kernel ($(uname -r)) lacks ipvlan/8021q/dummy: booting User-mode Linux; output in ${out#"$repo"/}"
  printf 'VLANNET_REPO=%q\nVLANNET_PATTERN=%q\nVLANNET_COMMAND=%q\n' "$repo" "$pattern" "${VLANNET_KERNEL_TEST_COMMAND:-}" > "$out/guest.env"
  mkdir -p "$out/uml"
  set +e
  # con0 on fd 1 streams the guest's console (the suite's output) here; stdin is never read.
  timeout --kill-after=15 "$timeout_s" linux.uml \
    "mem=$mem" root=/dev/root rootfstype=hostfs rootflags=/ rw \
    "init=$repo/test/kernel/uml/init.sh" "VLANNET_OUT=$out" \
    "uml_dir=$out/uml" umid=vlannet-kernel-test con=null con0=null,fd:1 ssl=null quiet \
    < /dev/null
  status=$?
  set -e
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
  echo "mode $mode"
  [ -f "$out/booted-at" ] && echo "boot $(elapsed "$started" "$(cat "$out/booted-at")") s"
  echo "total $(elapsed "$started" "$ended") s"
} > "$out/timing"
say "$(tr '\n' ' ' < "$out/timing")— suite exit code $code"
exit "$code"
