# Runs the kernel suite's files (sourced by scripts/kernel-test.sh in direct mode and by
# test/kernel/guest.sh in the VM). Files run in SHARDS parallel shards: a vlannet or iproute2
# process mostly keeps one CPU busy, and in the VM under TCG each costs 0.05–2 s, so one file at a
# time would leave the other CPUs idle. Each shard is a namespace of its own (network, and mounts
# for its /run/netns), so shards never see each other's links, namespaces, locks or daemons.
# Shard 0 stays in the caller's namespace, which holds the wire (wire0/wire1): files that need it
# (wire*.test.js) run there. The others are taken from one queue, the longest first; each file's
# output is printed whole when it ends.
#
#   run_kernel_suite PATTERN SHARDS    PATTERN: a PCRE for file names ('' = all); exit: 0 if all passed

# Expected cost of a file relative to the others (measured under TCG), for longest-first order.
kernel_suite_weight() {
  case $1 in
    safety*) echo 10 ;; daemon*) echo 9 ;; cli-examples*) echo 8 ;; wire*) echo 6 ;; adapter.test*) echo 5 ;;
    cli-converge*|cli-drift*|cli-connectivity*) echo 4 ;; *) echo 1 ;;
  esac
}

run_kernel_suite() {
  local pattern=$1 shards=$2 dir=dist/test/kernel work f
  work=$(mktemp -d)
  : > "$work/queue"
  : > "$work/wire"
  for f in $(cd "$dir" && ls -- *.test.js | grep -P -- "${pattern:-.}"); do
    case $f in
      wire*) echo "$f" >> "$work/wire" ;;
      *) echo "$(kernel_suite_weight "$f") $f" >> "$work/queue" ;;
    esac
  done
  sort -rn "$work/queue" | cut -d' ' -f2 > "$work/queue.sorted"
  mv "$work/queue.sorted" "$work/queue"
  echo 0 > "$work/next"
  [ "$shards" -ge 1 ] 2>/dev/null || shards=1

  local pids=() s
  for s in $(seq 0 $((shards - 1))); do
    if [ "$s" = 0 ]; then
      kernel_suite_shard "$work" 0 &
    else
      unshare -m -n --propagation private bash -c '
        set -e
        mount -t tmpfs tmpfs /run && mkdir /run/netns
        ip link set lo up
        . test/kernel/suite.sh
        kernel_suite_shard "$1" "$2"' shard "$work" "$s" &
    fi
    pids+=($!)
  done
  local status=0 p
  for p in "${pids[@]}"; do wait "$p" || status=1; done
  rm -rf "$work"
  return $status
}

# kernel_suite_shard WORK N: run this shard's files (the wire's, on shard 0) then take from the queue.
kernel_suite_shard() {
  local work=$1 shard=$2 status=0 f i
  if [ "$shard" = 0 ]; then
    while read -r f; do kernel_suite_file "$work" "$f" || status=1; done < "$work/wire"
  fi
  while :; do
    # Take the next file: a counter under a lock shared by every shard.
    i=$(flock "$work/next" bash -c 'i=$(cat "$1"); echo $((i + 1)) > "$1"; echo "$i"' take "$work/next")
    f=$(sed -n "$((i + 1))p" "$work/queue")
    [ -n "$f" ] || break
    kernel_suite_file "$work" "$f" || status=1
  done
  return $status
}

# A file's output goes to LOGS/FILE.log as it runs (LOGS: $VLANNET_OUT/files when the harness
# gives an output directory, so a file that hangs can be watched from outside), then whole to stdout.
kernel_suite_file() {
  local work=$1 f=$2 logs=${VLANNET_OUT:+$VLANNET_OUT/files} status=0
  logs=${logs:-$work/files}
  mkdir -p "$logs"
  echo "started $(date +%T)" > "$logs/$f.log"
  node node_modules/uvu/bin.js dist/test/kernel "^${f//./\\.}\$" >> "$logs/$f.log" 2>&1 || status=$?
  flock "$work/next" cat "$logs/$f.log"
  return $status
}
