#!/usr/bin/env bash
# npm run bench: build, then vlannet against the best iproute2 script, N = 10, 100, 1000, each
# repetition in a fresh private mount + network namespace (never the host's interfaces).
# Extra arguments go to the benchmark, e.g. `npm run bench -- --sizes 10,100 --reps 3`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench: needs root (namespaces)" >&2; exit 1; }
# The bundle too: bin/vlannet.js falls back to tsc's slower module graph when the bundle is stale.
npm run --silent build >/dev/null || echo "bench: the build reported errors (tsc still emits); continuing" >&2
exec node dist/test/bench/main.js "$@"
