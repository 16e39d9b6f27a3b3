#!/usr/bin/env bash
# Installs from nothing what vlannet and its tests need, then builds. Idempotent and quiet when
# everything is already there. Usage: scripts/setup.sh [--kernel]   (--kernel: also the Debian
# packages the kernel test harness needs: User-mode Linux, kmod, iproute2, ping).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ "${1:-}" = "--kernel" ]; then
  need=()
  command -v linux.uml >/dev/null 2>&1 || need+=(user-mode-linux)
  command -v modprobe >/dev/null 2>&1 || need+=(kmod)
  command -v ip >/dev/null 2>&1 || need+=(iproute2)
  command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
  command -v unshare >/dev/null 2>&1 || need+=(util-linux)
  if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi

# tsc (dist/src, the tests) and the command-line bundle bin/vlannet.js runs (dist/vlannet).
npm run --silent build
