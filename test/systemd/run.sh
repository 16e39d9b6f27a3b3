#!/usr/bin/env bash
# Tests systemd/vlannet.service under a real systemd: boots the test VM (test/vm/lib.sh: Debian's
# kernel under QEMU, the host's root read-only under a tmpfs overlay) with systemd as PID 1
# (guest.sh installs the units), where checks.sh verifies that
#   - vlannet.service reaches active only after its first reconcile (READY=1 after the apply),
#   - a unit with NetworkNamespacePath=/run/netns/web and After=vlannet.service runs inside the
#     namespace and is reachable from another endpoint,
#   - `systemctl reload vlannet` applies an edited file,
#   - `systemctl restart vlannet` executes zero actions,
#   - `systemd-analyze verify` passes, and records `systemd-analyze security`'s exposure.
# Output: test-output/systemd-<time>-<pid>/{results.txt,journal.txt,security.txt,exit-code}.
# Exit code: 0 when every check passed; 1 otherwise (or when the VM wrote no result); 124 timeout.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
# shellcheck source=../vm/lib.sh
. test/vm/lib.sh
say() { echo "systemd-test: $*" >&2; }
[ "$(id -u)" = 0 ] || { say "needs root"; exit 1; }
[ "${VLANNET_NO_BUILD:-}" = 1 ] || npm run --silent build >/dev/null 2>&1 || say "the build reported errors; using what it emitted"
vm_prepare || exit 1
out="$repo/test-output/systemd-$(date +%Y%m%d-%H%M%S)-$$"
mkdir -p "$out"
printf 'VLANNET_REPO=%q\nVLANNET_OUT=%q\nVLANNET_STAGE2=%q\n' "$repo" "$out" "$repo/test/systemd/guest.sh" > "$out/guest.env"
say "booting systemd in Debian's $VM_KVER under QEMU ($VM_ACCEL); output in ${out#"$repo"/}"
started=$(date +%s.%N)
status=0
vm_boot "$out" "${VLANNET_SYSTEMD_TEST_TIMEOUT:-600}" > "$out/console.log" 2>&1 || status=$?
ended=$(date +%s.%N)
total=$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.1f", b - a }')
[ "$status" = 124 ] && { say "TIMEOUT after ${total}s; see ${out#"$repo"/}/console.log"; exit 124; }
if [ ! -s "$out/exit-code" ]; then
  say "FAILED: the VM wrote no result in ${total}s; see ${out#"$repo"/}/console.log"
  tail -20 "$out/console.log" >&2
  exit 1
fi
cat "$out/results.txt"
code=$(cat "$out/exit-code")
say "total ${total}s; results in ${out#"$repo"/}; exit code $code"
exit "$code"
