#!/usr/bin/env bash
# Runs inside the private namespaces made by scripts/demo.sh; do not run it directly.
set -euo pipefail
[ "${1:-}" = "" ] || { echo "usage: npm run demo" >&2; exit 1; }
if [ "$(readlink /proc/self/ns/net)" = "$(readlink /proc/1/ns/net)" ]; then
  echo "demo-sandbox.sh must run in a private network namespace (use npm run demo)" >&2; exit 1
fi
mount -t tmpfs vlannet-demo /run            # private /run: /run/netns and /run/vlannet live and die here
mkdir -p /run/netns
ip link set lo up
ip link add eth0 type veth peer name eth0-peer
ip link set eth0 up; ip link set eth0-peer up
vlannet() { node bin/vlannet.js "$@"; }
step() { printf '\n\033[1m$ vlannet %s\033[0m\n' "$*"; vlannet "$@"; }

config=/run/vlannet-demo.yaml
cp examples/demo.yaml "$config"
ip link add eth1 type veth peer name eth1-peer && ip link set eth1 up && ip link set eth1-peer up
if ip link add ipvlan-probe link eth1 type ipvlan mode l2 2>/dev/null; then
  ip link del ipvlan-probe
  # One config file: the macvlan demo plus the ipvlan network and its endpoints.
  node --input-type=module -e "
    import fs from 'node:fs'; import YAML from 'yaml';
    const a = YAML.parse(fs.readFileSync('examples/demo.yaml', 'utf8'));
    const b = YAML.parse(fs.readFileSync('examples/demo-ipvlan.yaml', 'utf8'));
    Object.assign(a.networks, b.networks); Object.assign(a.endpoints, b.endpoints);
    fs.writeFileSync('$config', YAML.stringify(a));"
  echo "(this kernel has ipvlan: the demo includes examples/demo-ipvlan.yaml)"
else
  echo "(this kernel has no ipvlan: the demo runs the macvlan network only)"
fi

step validate -f "$config"
step plan -f "$config"
step apply -f "$config"
first_v4() { ip -n "$1" -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1 | head -1; }
first_v6() { ip -n "$1" -6 -o addr show dev eth0 scope global | awk '{print $4}' | cut -d/ -f1 | head -1; }
printf '\n\033[1m$ ip netns exec demo-a ping demo-b\033[0m\n'
ip netns exec demo-a ping -c 2 -W 2 "$(first_v4 demo-b)"
ip netns exec demo-a ping -c 2 -W 2 "$(first_v6 demo-b)"
if grep -q ipvlan "$config"; then
  printf '\n\033[1m$ ip netns exec demo-ipvlan-a ping demo-ipvlan-b\033[0m\n'
  ip netns exec demo-ipvlan-a ping -c 2 -W 2 "$(first_v4 demo-ipvlan-b)"
fi
printf '\n\033[1m$ vlannet plan -f %s --detailed-exitcode   # converged: no changes, exit 0\033[0m\n' "$config"
vlannet plan -f "$config" --detailed-exitcode
step show
step destroy
printf '\n\033[1m$ ip netns list   # nothing left\033[0m\n'
ip netns list
echo "demo: OK"
