# Shared by the kernel and systemd test harnesses (sourced, not run). Everything about the test VM
# lives here: which kernel, how the initramfs is made, whether KVM works, how a guest is booted.
# test/README.md explains the design and the facts behind it.
#
#   kernel_has_everything      can the running kernel make every link kind? (a throwaway netns)
#   vm_packages                Debian packages the VM needs that this machine lacks (for setup.sh)
#   vm_prepare                 kernel image + initramfs in $VM_CACHE, and the accelerator to use
#   vm_boot OUT TIMEOUT        boot the guest; it runs $OUT/guest.env's VLANNET_STAGE2 as PID 1
#
# The guest is Debian's own kernel (linux-image-amd64) under QEMU, with this machine's root file
# system shared read-only over virtio-9p beneath a tmpfs overlay: it runs the same node, iproute2
# and systemd as the host, writes nothing to the host but the output directory, and has two
# virtio NICs joined on one QEMU hub (renamed wire0 and wire1 inside): a real Ethernet segment.

VM_REPO=${VM_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
VM_CACHE=${VLANNET_VM_CACHE:-$VM_REPO/test-output/vm}
VM_MEM=${VLANNET_VM_MEM:-2G}
VM_CPUS=${VLANNET_VM_CPUS:-$(nproc)}

vm_say() { echo "vm: $*" >&2; }

# Whether this kernel can make every link kind vlannet uses, tried where it cannot hurt.
kernel_has_everything() {
  unshare -n sh -c '
    ip link add vnt-d type dummy &&
    ip link add link vnt-d name vnt-v type vlan id 5 &&
    ip link add link vnt-d name vnt-i type ipvlan mode l2 &&
    ip link add link vnt-d name vnt-m type macvlan mode bridge &&
    ip link add vnt-a type veth peer name vnt-b &&
    [ -d /proc/sys/net/ipv6 ]' >/dev/null 2>&1
}

# The newest Debian kernel whose image and modules are both installed.
vm_kernel_version() {
  local v best=
  for v in $(ls /lib/modules 2>/dev/null | sort -V); do
    [ -f "/boot/vmlinuz-$v" ] && [ -f "/lib/modules/$v/modules.dep" ] && best=$v
  done
  echo "$best"
}

vm_packages() {
  local need=()
  command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
  [ -n "$(vm_kernel_version)" ] || need+=(linux-image-amd64)
  [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx switch_root || need+=(busybox-static)
  command -v cpio >/dev/null 2>&1 || need+=(cpio)
  command -v xz >/dev/null 2>&1 || need+=(xz-utils)
  echo "${need[*]}"
}

# Modules the initramfs loads, in dependency order: the 9p root, the virtio bus under it, overlayfs.
VM_INITRD_MODULES="virtio_pci 9pnet_virtio 9p overlay"

# The uncompressed kernel, for QEMU's PVH entry: it skips the decompressor (~3 s under TCG).
vm_vmlinux() {
  local kver=$1 out=$VM_CACHE/vmlinux-$1 off
  [ -s "$out" ] && { echo "$out"; return; }
  off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "/boot/vmlinuz-$kver" | head -1 | cut -d: -f1)
  [ -n "$off" ] || { vm_say "no XZ payload in /boot/vmlinuz-$kver"; return 1; }
  # xz stops at the end of its stream and complains about the bytes after it: the status is moot.
  tail -c +$((off + 1)) "/boot/vmlinuz-$kver" | xz -dc > "$out.tmp" 2>/dev/null || true
  [ "$(head -c 4 "$out.tmp" | od -An -c | tr -d ' ')" = '177ELF' ] || { vm_say "cannot extract vmlinux from /boot/vmlinuz-$kver"; rm -f "$out.tmp"; return 1; }
  mv "$out.tmp" "$out"
  echo "$out"
}

vm_initramfs() {
  local kver=$1 init=$VM_REPO/test/vm/initramfs-init.sh key out dir m
  key=$( { echo "$kver $VM_INITRD_MODULES"; cat "$init"; } | sha256sum | cut -c1-16)
  out=$VM_CACHE/initramfs-$key.cpio
  [ -s "$out" ] && { echo "$out"; return; }
  dir=$(mktemp -d)
  mkdir -p "$dir"/{bin,dev,proc,sys,lower,upper,newroot,out,modules}
  cp /bin/busybox "$dir/bin/busybox"
  ln -s busybox "$dir/bin/sh"
  for m in $VM_INITRD_MODULES; do
    modprobe -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
  done | awk '!seen[$0]++' | while read -r m; do
    cp "$m" "$dir/modules/"
    basename "$m" >> "$dir/modules/order"
  done
  cp "$init" "$dir/init"
  chmod 755 "$dir/init"
  (cd "$dir" && find . | cpio -o -H newc --quiet) > "$out.tmp"
  rm -rf "$dir"
  mv "$out.tmp" "$out"
  echo "$out"
}

# The CPU TCG emulates: x86-64-v2 (SSE4.2, POPCNT), no AVX. With `-cpu max` glibc and V8 pick
# AVX2/AVX-512 code, which TCG emulates far more slowly: node starts in ~0.7 s instead of ~0.35 s.
VM_TCG_CPU=qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt

# vm_cmd ACCEL [MEM]: the QEMU command line shared by the probe and real boots, in VM_CMD.
vm_cmd() {
  local accel=$1 mem=${2:-$VM_MEM}
  VM_CMD=(qemu-system-x86_64 -machine q35 -smp "$VM_CPUS" -m "$mem"
    -nodefaults -display none -no-reboot -no-user-config
    -kernel "$VM_KERNEL" -initrd "$VM_INITRD"
    -device isa-debug-exit,iobase=0xf4,iosize=0x04)
  # TCG: one host thread per virtual CPU.
  if [ "$accel" = kvm ]; then VM_CMD+=(-accel kvm -cpu host); else VM_CMD+=(-accel tcg,thread=multi -cpu "${VLANNET_VM_CPU:-$VM_TCG_CPU}"); fi
}

# Kernel command line: serial console; no crypto self-tests (~0.7 s of boot under TCG).
VM_APPEND="console=ttyS0 panic=-1 cryptomgr.notests quiet loglevel=4"

# KVM only when a guest really boots on it: /dev/kvm can open and KVM_CREATE_VM succeed while the
# guest then dies ("KVM internal error ... emulation failure") or hangs, as on nested hosts.
# The answer is kept per boot of this machine.
vm_accel() {
  if [ -n "${VLANNET_VM_ACCEL:-}" ]; then echo "$VLANNET_VM_ACCEL"; return; fi
  local boot memo status
  boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)
  memo=$VM_CACHE/accel-$boot
  [ -s "$memo" ] && { cat "$memo"; return; }
  if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    vm_cmd kvm 512M
    status=0
    timeout 10 "${VM_CMD[@]}" -serial none -append "panic=-1 quiet VLANNET_PROBE=1" </dev/null >/dev/null 2>&1 || status=$?
    # The probe's init writes 0x10 to the exit port: QEMU exits with (0x10 << 1) | 1.
    if [ "$status" = 33 ]; then echo kvm > "$memo"; else echo tcg > "$memo"; fi
    [ "$status" = 33 ] || vm_say "KVM is present but a guest does not boot on it (probe status $status): using TCG"
  else
    echo tcg > "$memo"
  fi
  cat "$memo"
}

vm_prepare() {
  command -v qemu-system-x86_64 >/dev/null || { vm_say "qemu-system-x86_64 is missing: run scripts/setup.sh tests"; return 1; }
  local kver
  kver=$(vm_kernel_version)
  [ -n "$kver" ] || { vm_say "no Debian kernel image with modules in /boot and /lib/modules: run scripts/setup.sh tests"; return 1; }
  mkdir -p "$VM_CACHE"
  VM_KVER=$kver
  VM_KERNEL=$(vm_vmlinux "$kver") || return 1
  VM_INITRD=$(vm_initramfs "$kver") || return 1
  VM_ACCEL=$(vm_accel)
}

# vm_boot OUT TIMEOUT [QEMU ARGS…]: boot the guest, console to stdout. $OUT/guest.env tells the
# initramfs what to run (VLANNET_STAGE2, as PID 1 in the guest's root) and where the repository and
# OUT are on the host (the same paths inside). The exit status is QEMU's; results are files in OUT.
vm_boot() {
  local out=$1 timeout_s=$2
  shift 2
  vm_cmd "$VM_ACCEL"
  timeout --kill-after=15 "$timeout_s" "${VM_CMD[@]}" -serial stdio -append "$VM_APPEND" \
    -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
    -virtfs "local,path=$out,mount_tag=out,security_model=none,multidevs=remap" \
    "$@" < /dev/null 2> >(grep -v 'hub 0 is not connected to host network' >&2)
}

# QEMU arguments for the wire: two virtio NICs on one hub (test/kernel/wire.sh names them by MAC).
VM_WIRE=(-netdev hubport,id=w0,hubid=0 -device virtio-net-pci,netdev=w0,mac=52:54:00:12:34:01
  -netdev hubport,id=w1,hubid=0 -device virtio-net-pci,netdev=w1,mac=52:54:00:12:34:02)
