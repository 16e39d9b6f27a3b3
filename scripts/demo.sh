#!/usr/bin/env bash
# vlannet's main job on a safe embedded default. Installs what is missing, then, in a private
# mount + network namespace that vanishes when the script ends, builds a veth pair standing in for
# the host's eth0, and runs validate → plan → apply → ping → plan (empty) → show → destroy on
# examples/demo.yaml (plus examples/demo-ipvlan.yaml when the kernel has ipvlan).
# The host's interfaces, addresses, routes and /run are never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh demo
exec unshare --mount --net --propagation private bash scripts/demo-sandbox.sh
