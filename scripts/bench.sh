#!/usr/bin/env bash
# npm run bench: build, then vlannet against the best iproute2 script, N = 10, 100, 1000, each
# repetition in a fresh private mount + network namespace (never the host's interfaces).
# Extra arguments go to the benchmark, e.g. `npm run bench -- --sizes 10,100 --reps 3`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench: needs root (namespaces)" >&2; exit 1; }
npx tsc -p tsconfig.json >/dev/null || echo "bench: tsc reported errors (it still emits); continuing" >&2
exec node dist/test/bench/main.js "$@"
