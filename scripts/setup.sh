#!/usr/bin/env bash
# Installs from nothing what vlannet, its demo and its tests need, then builds. Idempotent and
# quiet when everything is already there.
#   scripts/setup.sh            npm packages, then the build
#   scripts/setup.sh demo       also the Debian packages the demo runs: iproute2, ping
#   scripts/setup.sh tests      also those of the test tiers: bash-completion, tcpdump, kmod,
#                               systemd, and the test VM's (QEMU, Debian's stock kernel, busybox,
#                               cpio, xz; see test/vm/lib.sh)
#   scripts/setup.sh packages   the tests' Debian packages only (no npm, no build)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-}

debian_packages() {
  local need=()
  command -v ip >/dev/null 2>&1 && command -v bridge >/dev/null 2>&1 || need+=(iproute2)
  command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
  command -v unshare >/dev/null 2>&1 || need+=(util-linux)
  if [ "$what" != demo ]; then
    # The unit suite drives the completion script under bash as a user's shell would.
    [ -f /usr/share/bash-completion/bash_completion ] || need+=(bash-completion)
    command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
    command -v modprobe >/dev/null 2>&1 || need+=(kmod)
    [ -x /lib/systemd/systemd ] || need+=(systemd)
    # The VM: for the kernel suite when this kernel lacks a link kind, and always for the systemd suite.
    # shellcheck source=../test/vm/lib.sh
    . test/vm/lib.sh
    local vm
    read -r -a vm <<< "$(vm_packages)"
    need+=(${vm[@]+"${vm[@]}"})
  fi
  [ ${#need[@]} -gt 0 ] || return 0
  command -v apt-get >/dev/null 2>&1 || {
    echo "setup: needs these Debian packages, and this machine has no apt-get to install them: ${need[*]}" >&2
    return 1
  }
  echo "setup: installing Debian packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

case $what in
  ''|demo|tests|packages) ;;
  *) echo "usage: scripts/setup.sh [demo|tests|packages]" >&2; exit 1 ;;
esac
[ -z "$what" ] || debian_packages
[ "$what" != packages ] || exit 0

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
# tsc (dist/src, the tests) and the command-line bundle bin/vlannet.js runs (dist/vlannet).
npm run --silent build
