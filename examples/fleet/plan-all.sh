#!/usr/bin/env bash
# CI for a fleet repository: validate the config for every host, then plan each host that has a
# snapshot, offline, against its last known kernel state.
#
#   plan-all.sh [DIR]        DIR holds vlannet.yaml and snapshots/HOST.json (default: this script's directory)
#
# snapshots/HOST.json is what `vlannet show --json` printed on HOST (refresh it from the host, e.g. by
# a timer that commits it). A snapshot older than the host's kernel is no failure: the plan is then
# of that older state, and says what applying would change there. snapshots/HOST.labels, when there
# is one, holds the labels HOST's daemon runs with (--label), one KEY=VALUE a line.
#
# Output: a section per host. Exit 0 when the file is valid for every host and every plan could be
# made (changes pending or not), 1 otherwise; every host is planned whatever an earlier one did.
# VLANNET names the command (default: vlannet), e.g. VLANNET="node /path/to/bin/vlannet.js".
set -uo pipefail

dir=${1:-$(dirname "$0")}
config="$dir/vlannet.yaml"
read -r -a vlannet <<<"${VLANNET:-vlannet}"
failed=0

echo "=== validate $config (every host)"
if ! "${vlannet[@]}" validate -f "$config"; then
  failed=1
fi

shopt -s nullglob
snapshots=("$dir"/snapshots/*.json)
if [ "${#snapshots[@]}" -eq 0 ]; then
  echo "(no snapshots in $dir/snapshots: nothing to plan)"
fi
for snapshot in "${snapshots[@]}"; do
  host=$(basename "$snapshot" .json)
  labels=() shown=""
  if [ -f "${snapshot%.json}.labels" ]; then
    while read -r label; do
      case $label in '' | '#'*) ;; *) labels+=(--label "$label") shown+=" $label" ;; esac
    done <"${snapshot%.json}.labels"
  fi
  echo
  echo "=== host $host (planned against ${snapshot#"$dir"/}${shown:+, labels$shown})"
  NO_COLOR=1 "${vlannet[@]}" plan -f "$config" --host "$host" "${labels[@]}" --observed "$snapshot" --detailed-exitcode
  case $? in
    0) echo "--- $host: no changes" ;;
    2) echo "--- $host: changes pending" ;;
    *)
      echo "--- $host: FAILED (see above)"
      failed=1
      ;;
  esac
done

echo
if [ "$failed" -eq 0 ]; then echo "=== all hosts planned"; else echo "=== FAILED"; fi
exit "$failed"
