#!/usr/bin/env bash
# `npm test`: installs from nothing what the tests need, builds, then runs every suite:
#   unit     the pure core, the executor and the daemon loop on an in-memory kernel (seconds)
#   kernel   every claim about kernel behaviour, on a real kernel with every module: User-mode
#            Linux unless the running kernel has ipvlan, 8021q and dummy (scripts/kernel-test.sh)
#   systemd  the unit file under a real systemd booted as PID 1 inside User-mode Linux
# Usage: npm test [-- unit|kernel|systemd ...]   (default: all three)
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --kernel || exit 1

suites=("$@"); [ ${#suites[@]} -gt 0 ] || suites=(unit kernel systemd)
passed=0; failed=0; failures=()
count() {  # add uvu's "Total: N" / "Passed: N" summary lines of a log to the totals
  local t
  t=$(sed 's/\x1b\[[0-9;]*m//g' "$1" | awk '/^ *Total: +[0-9]+/ {tot += $2} /^ *Passed: +[0-9]+/ {pas += $2} END {print pas+0, tot-pas}')
  passed=$((passed + ${t% *})); failed=$((failed + ${t#* }))
}
run_suite() {
  local name=$1; shift
  local log; log=$(mktemp)
  echo "=== $name tests ==="
  if "$@" 2>&1 | tee "$log"; [ "${PIPESTATUS[0]}" -eq 0 ]; then :; else failures+=("$name"); fi
  count "$log"; rm -f "$log"
}
for s in "${suites[@]}"; do
  case "$s" in
    unit) run_suite unit node node_modules/uvu/bin.js dist/test/unit '\.test\.js$' --no-color ;;
    kernel) run_suite kernel env VLANNET_NO_BUILD=1 bash scripts/kernel-test.sh ;;  # setup.sh built
    systemd) run_suite systemd env VLANNET_NO_BUILD=1 bash test/systemd/run.sh ;;
    *) echo "unknown suite $s (unit, kernel, systemd)" >&2; exit 1 ;;
  esac
done
if [ ${#failures[@]} -gt 0 ]; then
  echo "FAILED suites: ${failures[*]}"
  [ "$failed" -gt 0 ] || failed=${#failures[@]}
fi
echo "$passed passed, $failed failed"
[ ${#failures[@]} -eq 0 ]
