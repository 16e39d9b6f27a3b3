# The kernel suite's wire (sourced): two links, wire0 and wire1, in the suite's namespace, that are
# the two ends of one Ethernet segment. Tests put vlannet's parent on wire0 and a peer (a router, a
# switch, another host) on wire1, usually after moving wire1 into a namespace of their own.
#   name_wire   in the VM: the two virtio NICs on one QEMU hub (MACs set by test/vm/lib.sh)
#   make_wire   on a capable running kernel: a veth pair
# Both leave the ends up, without addresses, IPv6 duplicate address detection off.

WIRE_MACS="52:54:00:12:34:01 52:54:00:12:34:02"

wire_ready() {
  local end
  for end in wire0 wire1; do
    echo 0 > "/proc/sys/net/ipv6/conf/$end/accept_dad" || return 1
    ip link set "$end" up || return 1
  done
}

name_wire() {
  local i=0 mac dev tries
  for mac in $WIRE_MACS; do
    for tries in $(seq 50); do
      dev=$(ip -o link | awk -v m="$mac" '$0 ~ "link/ether " m { sub(":$", "", $2); print $2; exit }')
      [ -n "$dev" ] && break
      sleep 0.1
    done
    [ -n "$dev" ] || return 1
    ip link set "$dev" name "wire$i" || return 1
    i=$((i + 1))
  done
  wire_ready
}

make_wire() {
  ip link add wire0 type veth peer name wire1 && wire_ready
}
