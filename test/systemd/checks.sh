#!/bin/bash
# The checks, run by vlannet-test.service inside the VM under systemd. Writes results.txt
# (PASS/FAIL lines with timings), journal.txt, security.txt and exit-code to $VLANNET_OUT.
set -u
out=$VLANNET_OUT
results=$out/results.txt
: > "$results"
failed=0
pass() { echo "PASS $*" | tee -a "$results"; }
fail() { echo "FAIL $*" | tee -a "$results"; failed=1; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi; }
ms() { date +%s%3N; }
wait_for() { # wait_for SECONDS CMD…: poll every 20 ms
  local until=$(( $(ms) + $1 * 1000 )); shift
  while ! "$@" >/dev/null 2>&1; do [ "$(ms)" -gt "$until" ] && return 1; sleep 0.02; done
}
vlannet() { /usr/local/bin/vlannet "$@"; }
echo "systemd $(systemctl --version | head -1 | cut -d' ' -f2), kernel $(uname -r)" >> "$results"

# 1. Active only after the first reconcile: the apply is logged before systemd's "Started".
check "vlannet.service is active" systemctl is-active --quiet vlannet
applied=$(journalctl -o short-monotonic --no-pager -u vlannet | grep -m1 'applied revision' | sed 's/^\[ *\([0-9.]*\)\].*/\1/')
started=$(journalctl -o short-monotonic --no-pager | grep -m1 'Started vlannet.service\|Started vlannet:' | sed 's/^\[ *\([0-9.]*\)\].*/\1/')
if [ -n "$applied" ] && [ -n "$started" ] && awk -v a="$applied" -v s="$started" 'BEGIN { exit !(a <= s) }'; then
  pass "READY after the first reconcile (applied at ${applied}s, active at ${started}s)"
else
  fail "READY after the first reconcile (applied '${applied}', started '${started}')"
fi
check "STATUS= is set" sh -c "systemctl show -p StatusText --value vlannet | grep -q converged"

# 2. A unit in the namespace, reachable from another endpoint.
check "web.service is active" systemctl is-active --quiet web
pid=$(systemctl show -p MainPID --value web)
if [ "$(ip netns identify "$pid")" = web ]; then pass "web.service runs in namespace web"; else fail "web.service runs in namespace web (it is in '$(ip netns identify "$pid")')"; fi
if wait_for 10 ip netns exec client node -e "require('http').get('http://192.168.60.10:8080', (r) => { let b=''; r.on('data', (d) => b += d); r.on('end', () => process.exit(b.includes('hello from web') ? 0 : 1)); }).on('error', () => process.exit(1))"; then
  pass "web is reachable from the client endpoint"
else
  fail "web is reachable from the client endpoint"
fi

# 3. systemctl reload applies an edited file.
printf '  extra:\n    network: sdnet\n    ipv4: 192.168.60.12\n' >> /etc/vlannet.yaml
t0=$(ms)
systemctl reload vlannet
if wait_for 10 sh -c 'ip -n extra -br addr show dev eth0 | grep -q 192.168.60.12'; then
  pass "systemctl reload applies the edited file ($(( $(ms) - t0 )) ms)"
else
  fail "systemctl reload applies the edited file"
fi
check "the reload is logged" sh -c "journalctl -u vlannet --no-pager | grep -q 'reload requested'"
check "active after reload" systemctl is-active --quiet vlannet

# 4. systemctl restart executes zero actions.
t0=$(ms)
systemctl restart vlannet
check "active after restart ($(( $(ms) - t0 )) ms)" systemctl is-active --quiet vlannet
inv=$(systemctl show -p InvocationID --value vlannet)
journalctl --no-pager _SYSTEMD_INVOCATION_ID="$inv" -o cat > "$out/restart.log"
if grep -q 'ready:' "$out/restart.log" && ! grep -Eq '^(create|update|delete|replace) ' "$out/restart.log"; then
  pass "restart executes zero actions"
else
  fail "restart executes zero actions (see restart.log)"
fi
check "web survives the vlannet restart" ip netns exec client node -e "require('http').get('http://192.168.60.10:8080', (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"

# 5. vlannet status through the root-only socket.
vlannet status > "$out/status.txt" 2>&1
status_exit=$?
check "vlannet status: running, converged, empty plan" sh -c "grep -q 'daemon: *running' '$out/status.txt' && grep -q 'no changes' '$out/status.txt'"
check "vlannet status exits 0: running and converged (it was $status_exit)" test "$status_exit" -eq 0
check "man vlannet and man vlannet.yaml, as the unit's Documentation= names them" sh -c "man -w vlannet && man -w 5 vlannet.yaml"

# 5b. With the unit's capabilities the daemon sees the processes in its namespaces: an edit that
# removes the endpoint of the namespace web.service runs in is refused, naming the process.
cp /etc/vlannet.yaml /tmp/vlannet.yaml.keep
sed -i '/^  web:/,+2d' /etc/vlannet.yaml
systemctl reload vlannet
if wait_for 30 sh -c "journalctl -u vlannet --no-pager | grep -q 'still uses that namespace'"; then
  pass "removing web's endpoint is refused while web.service runs in its namespace"
else
  fail "removing web's endpoint is refused while web.service runs in its namespace ($(journalctl -u vlannet --no-pager -n 3 -o cat | tr '\n' ' '))"
fi
check "web's endpoint stays" sh -c 'ip -n web -br addr show dev eth0 | grep -q 192.168.60.10'
cp /tmp/vlannet.yaml.keep /etc/vlannet.yaml
systemctl reload vlannet
check "converged again once the edit is undone" wait_for 30 /usr/local/bin/vlannet status

# 6. The unit file.
if systemd-analyze verify /etc/systemd/system/vlannet.service > "$out/verify.txt" 2>&1 && [ ! -s "$out/verify.txt" ]; then
  pass "systemd-analyze verify vlannet.service"
else
  fail "systemd-analyze verify vlannet.service: $(head -3 "$out/verify.txt" | tr '\n' ' ')"
fi
systemd-analyze security vlannet.service > "$out/security.txt" 2>&1
echo "INFO $(grep 'Overall exposure' "$out/security.txt" | sed 's/→ //')" | tee -a "$results"

# 7. Stopping leaves the networks in place.
systemctl stop web vlannet
check "stop: the networks stay" sh -c 'ip netns list | grep -q "^web" && ip -n web -br addr show dev eth0 | grep -q 192.168.60.10'
vlannet status > "$out/status-stopped.txt" 2>&1
stopped_exit=$?
check "vlannet status exits 3 once the daemon is stopped (it was $stopped_exit)" test "$stopped_exit" -eq 3

# 8. A trial with no daemon running: its reverter is a transient systemd timer, outside the CLI and
# its session. kill -9 of the CLI once the timer is armed; the kernel comes back byte for byte.
world() {
  local ns
  for ns in '' $(ip netns list | cut -d' ' -f1 | sort); do
    echo "== ${ns:-(vlannet)}"
    ip ${ns:+-n "$ns"} -d -j link show
    ip ${ns:+-n "$ns"} -j addr show
    ip ${ns:+-n "$ns"} -4 -j route show table all
    ip ${ns:+-n "$ns"} -6 -j route show table all
  done | sed 's/"operstate":"[A-Z]*"/"operstate":"*"/g'
}
ip netns list | cut -d' ' -f1 | sort > "$out/trial-netns-before.txt"
world > "$out/trial-before.txt"
{ sed 's/192.168.60.11/192.168.60.21/' /etc/vlannet.yaml; printf '  tried:\n    network: sdnet\n'; } > /tmp/tried.yaml
/usr/local/bin/vlannet apply -f /tmp/tried.yaml --confirm-timeout 4s > "$out/trial.txt" 2>&1 &
cli=$!
if wait_for 60 grep -q '"kind":"systemd"' /run/vlannet/trial.json; then
  unit=$(sed -n 's/.*"unit":"\([^"]*\)".*/\1/p' /run/vlannet/trial.json)
  pass "the trial's reverter is a transient systemd timer ($unit.timer)"
  check "$unit.timer is loaded and waiting" sh -c "systemctl list-timers --all --no-pager | grep -q '$unit.timer'"
  kill -9 "$cli"
  if wait_for 60 grep -q '"state":"reverted"' /run/vlannet/trial.json; then
    pass "kill -9 of the CLI: the timer reverted the trial ($(grep -o '"endedBy":"[^"]*"' /run/vlannet/trial.json))"
  else
    fail "kill -9 of the CLI: the timer reverted the trial ($(tr ',' '\n' < /run/vlannet/trial.json | grep -v before | head -12 | tr '\n' ' '))"
  fi
  world > "$out/trial-after.txt"
  if cmp -s "$out/trial-before.txt" "$out/trial-after.txt"; then
    pass "after the revert the kernel is byte-identical to before the trial"
  else
    fail "after the revert the kernel is byte-identical to before the trial (diff trial-before.txt trial-after.txt)"
  fi
  check "the revert is in the journal of $unit.service" sh -c "journalctl --no-pager -u $unit.service | grep -q 'reverted by its reverter'"
else
  fail "the trial's reverter is a transient systemd timer ($(cat "$out/trial.txt" | tail -3 | tr '\n' ' '))"
  kill -9 "$cli" 2>/dev/null
fi

# 9. A trial the daemon holds outlives the daemon: stopped with the trial pending, the record stays
# in /run/vlannet (RuntimeDirectoryPreserve=yes) and the timer armed as the backstop reverts it.
systemctl start vlannet
if wait_for 60 /usr/local/bin/vlannet status; then
  world > "$out/trial2-before.txt"
  /usr/local/bin/vlannet apply -f /tmp/tried.yaml --confirm-timeout 12s > "$out/trial2.txt" 2>&1
  check "the running daemon holds the trial" grep -q "\"daemonPid\":$(systemctl show -p MainPID --value vlannet)," /run/vlannet/trial.json
  systemctl stop vlannet
  check "stopping the daemon keeps the pending trial's record" grep -q '"state":"pending"' /run/vlannet/trial.json
  if wait_for 60 grep -q '"state":"reverted"' /run/vlannet/trial.json; then
    pass "the backstop timer reverted the trial after the daemon stopped ($(grep -o '"endedBy":"[^"]*"' /run/vlannet/trial.json))"
  else
    fail "the backstop timer reverted the trial after the daemon stopped ($(tr ',' '\n' < /run/vlannet/trial.json | grep -v before | head -12 | tr '\n' ' '))"
  fi
  world > "$out/trial2-after.txt"
  check "and the kernel is byte-identical to before that trial" cmp -s "$out/trial2-before.txt" "$out/trial2-after.txt"
else
  fail "the daemon starts again for the trial it holds"
fi

journalctl --no-pager -o short-monotonic > "$out/journal.txt"
echo "$failed" > "$out/exit-code"
