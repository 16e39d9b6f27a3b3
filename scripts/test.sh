#!/usr/bin/env bash
# `npm test`: installs from nothing what the tests need, builds, then runs every suite:
#   lint     Biome: the formatter and the linter, as configured in biome.json (a second)
#   unit     the pure core, the executor and the daemon loop on an in-memory kernel (seconds)
#   kernel   every claim about kernel behaviour, on a real kernel with every module: the running
#            one when it can make every link kind, else Debian's own kernel under QEMU, with a real
#            wire between two NICs (scripts/kernel-test.sh)
#   systemd  the unit file under a real systemd booted as PID 1 in the same VM (test/systemd/run.sh)
# Usage: npm test [-- lint|unit|kernel|systemd ...]   (default: all four)
# The last line counts each suite's tests; a suite that could not run counts as failed, never skipped.
set -uo pipefail
cd "$(dirname "$0")/.."

suites=("$@"); [ ${#suites[@]} -gt 0 ] || suites=(lint unit kernel systemd)
for s in "${suites[@]}"; do
  case "$s" in lint|unit|kernel|systemd) ;; *) echo "unknown suite $s (lint, unit, kernel, systemd)" >&2; exit 1 ;; esac
done
packages=ok
if [[ " ${suites[*]} " =~ \ (unit|kernel|systemd)\  ]]; then
  bash scripts/setup.sh packages || packages="its Debian packages could not be installed (see above)"
fi
bash scripts/setup.sh || exit 1

passed=0; failed=0; failures=(); counts=()
tally() {  # tally NAME PASSED FAILED
  passed=$((passed + $2)); failed=$((failed + $3)); counts+=("$1 $2/$(($2 + $3))")
}
uvu_counts() {  # uvu's "Total: N" / "Passed: N" summary lines of a log: "PASSED FAILED"
  sed 's/\x1b\[[0-9;]*m//g' "$1" | awk '/^ *Total: +[0-9]+/ {tot += $2} /^ *Passed: +[0-9]+/ {pas += $2} END {print pas+0, tot-pas}'
}
lint_counts() {  # Biome's check counts as one test: passed when it checked files and found no error
  local plain; plain=$(sed 's/\x1b\[[0-9;]*m//g' "$1")
  if grep -q '^Checked [0-9]* files' <<< "$plain" && ! grep -qE 'Found [0-9]+ errors?' <<< "$plain"; then echo "1 0"; else echo "0 1"; fi
}
systemd_counts() {  # checks.sh's PASS/FAIL lines
  echo "$(grep -c '^PASS' "$1") $(grep -c '^FAIL' "$1")"
}
run_suite() {  # run_suite NAME COUNTER COMMAND…
  local name=$1 counter=$2 log c
  shift 2
  echo "=== $name tests ==="
  if [ "$packages" != ok ] && [ "$name" != unit ] && [ "$name" != lint ]; then
    echo "$name: cannot run: $packages"
    failures+=("$name"); tally "$name" 0 1
    return
  fi
  log=$(mktemp)
  if "$@" 2>&1 | tee "$log"; [ "${PIPESTATUS[0]}" -eq 0 ]; then :; else failures+=("$name"); fi
  read -r -a c <<< "$("$counter" "$log")"
  # A suite that failed without a failing test (it could not start, or died) counts one failure.
  if [[ " ${failures[*]} " == *" $name "* ]] && [ "${c[1]}" -eq 0 ]; then c[1]=1; fi
  tally "$name" "${c[0]}" "${c[1]}"
  rm -f "$log"
}
for s in "${suites[@]}"; do
  case "$s" in
    lint) run_suite lint lint_counts node node_modules/@biomejs/biome/bin/biome ci --colors=off . ;;
    unit) run_suite unit uvu_counts node node_modules/uvu/bin.js dist/test/unit '\.test\.js$' --no-color ;;
    kernel) run_suite kernel uvu_counts env VLANNET_NO_BUILD=1 bash scripts/kernel-test.sh ;;  # setup.sh built
    systemd) run_suite systemd systemd_counts env VLANNET_NO_BUILD=1 bash test/systemd/run.sh ;;
  esac
done
[ ${#failures[@]} -eq 0 ] || echo "FAILED suites: ${failures[*]}"
echo "$passed passed, $failed failed ($(IFS=,; echo "${counts[*]}" | sed 's/,/, /g') passed)"
[ ${#failures[@]} -eq 0 ]
