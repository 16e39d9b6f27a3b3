#!/usr/bin/env bash
# Tests systemd/vlannet.service under a real systemd: boots User-mode Linux with systemd as PID 1
# (init.sh builds a private overlay root and installs the units), where checks.sh verifies that
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
say() { echo "systemd-test: $*" >&2; }
[ "$(id -u)" = 0 ] || { say "needs root"; exit 1; }
command -v linux.uml >/dev/null || { say "User-mode Linux is missing: run scripts/setup.sh --kernel"; exit 1; }
[ "${VLANNET_NO_BUILD:-}" = 1 ] || npm run --silent build >/dev/null 2>&1 || say "the build reported errors; using what it emitted"
out="$repo/test-output/systemd-$(date +%Y%m%d-%H%M%S)-$$"
mkdir -p "$out/uml"
printf 'VLANNET_REPO=%q\n' "$repo" > "$out/guest.env"
started=$(date +%s.%N)
set +e
timeout --kill-after=15 "${VLANNET_SYSTEMD_TEST_TIMEOUT:-300}" linux.uml \
  mem=1024M root=/dev/root rootfstype=hostfs rootflags=/ rw \
  "init=$repo/test/systemd/init.sh" "VLANNET_OUT=$out" \
  "uml_dir=$out/uml" umid=vlannet-systemd-test con=null con0=null,fd:1 ssl=null quiet \
  < /dev/null > "$out/console.log" 2>&1
status=$?
set -e
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
