#!/bin/bash
# fwfleet inventory over real sshd on namespace nodes: each node returns its
# own inventory (one reached over IPv6 only); nothing is left on any node;
# a changed or unknown host key, a wrong password and an unreachable node
# fail clearly while the other nodes succeed; Ctrl-C cleans up.
. "$(dirname "$0")/lib.sh"
require_root

: "${FWFLEET:?set FWFLEET to the fwfleet binary}"
tb_up 4 --ipv6-only 3
tb_session
[ "$(stat -c %a "$FWFLEET_STATE_DIR/pki/ca.key")" = 600 ] || fail "ca.key is not 0600"

KH=(--known-hosts "$TB_KNOWN_HOSTS")

# 1. Four nodes, node 3 IPv6-only: each returns its own inventory.
rc=0
fw inventory -n "$TB_DIR/nodes.ini" "${KH[@]}" --json >"$SCRATCH/inv.json" \
	2>"$SCRATCH/inv.err" || rc=$?
assert_eq 0 "$rc" "inventory exit status (stderr: $(cat "$SCRATCH/inv.err"))"
for i in 1 2 3 4; do
	jq -e --arg n "node$i" \
		'.nodes[] | select(.name == $n) | .status == "ok"' \
		"$SCRATCH/inv.json" >/dev/null || fail "node$i not ok"
	serial=$(jq -r --arg n "node$i" \
		'.nodes[] | select(.name == $n) | .inventory.system.serial' "$SCRATCH/inv.json")
	want=NODE_SERIAL_$i
	assert_eq "${!want}" "$serial" "node$i serial"
	host=$(jq -r --arg n "node$i" \
		'.nodes[] | select(.name == $n) | .inventory.os.hostname' "$SCRATCH/inv.json")
	assert_eq "node$i" "$host" "node$i hostname"
done
addr3=$(jq -r '.nodes[] | select(.name == "node3") | .address' "$SCRATCH/inv.json")
assert_contains "$addr3" "[2001:db8:f00d::" "node3 reached over IPv6"
[ -z "$NODE_V4_3" ] || fail "node3 should have no IPv4 address"
# Different hardware on different nodes, read from each node's own tree.
p1=$(jq -r '.nodes[0].inventory.system.product' "$SCRATCH/inv.json")
p2=$(jq -r '.nodes[1].inventory.system.product' "$SCRATCH/inv.json")
[ "$p1" != "$p2" ] || fail "node1 and node2 report the same product ($p1)"
nics=$(jq '[.nodes[].inventory.nics[]] | length' "$SCRATCH/inv.json")
[ "$nics" -ge 4 ] || fail "expected NICs with firmware versions, got $nics"
jq -e '.summary.ok == 4 and .summary.failed == 0' "$SCRATCH/inv.json" >/dev/null ||
	fail "summary counts"
pass "4 nodes (one IPv6-only) returned their own inventories"
check_clean "inventory"
pass "nothing left behind after a successful inventory"

# 2. Human output: a summary per node and one status line each.
fw inventory -n "$TB_DIR/nodes.ini" "${KH[@]}" >"$SCRATCH/inv.txt" 2>&1 ||
	fail "text inventory failed: $(cat "$SCRATCH/inv.txt")"
out=$(cat "$SCRATCH/inv.txt")
for i in 1 2 3 4; do assert_contains "$out" "node$i: ok"; done
assert_contains "$out" "serial FWF0002"
assert_contains "$out" "BIOS"
pass "text summary and status lines"

# 3. A changed host key fails that node only, even with
#    --accept-new-host-keys; the others succeed.
ssh-keygen -q -t ed25519 -N '' -f "$SCRATCH/otherkey"
other=$(cut -d' ' -f1,2 "$SCRATCH/otherkey.pub")
sed "s|^$NODE_V4_2 .*|$NODE_V4_2 $other|" "$TB_KNOWN_HOSTS" >"$SCRATCH/kh.changed"
rc=0
fw inventory -n "$TB_DIR/nodes.ini" --known-hosts "$SCRATCH/kh.changed" \
	--accept-new-host-keys >"$SCRATCH/changed.txt" 2>&1 || rc=$?
assert_eq 255 "$rc" "exit status with a failed node"
out=$(cat "$SCRATCH/changed.txt")
assert_contains "$out" "node2: failed: host key for"
assert_contains "$out" "CHANGED"
for i in 1 3 4; do assert_contains "$out" "node$i: ok"; done
grep -q "$other" "$SCRATCH/kh.changed" || fail "the bad key must stay as it was"
pass "changed host key refused on node2 only"

# 4. An unknown host key fails with advice; --accept-new-host-keys records it.
grep -v "^$NODE_V4_1 " "$TB_KNOWN_HOSTS" >"$SCRATCH/kh.unknown"
rc=0
fw inventory -n "$TB_DIR/nodes.ini" --known-hosts "$SCRATCH/kh.unknown" \
	>"$SCRATCH/unknown.txt" 2>&1 || rc=$?
assert_eq 255 "$rc" "exit status with an unknown host key"
out=$(cat "$SCRATCH/unknown.txt")
assert_contains "$out" "node1: failed: unknown host key"
assert_contains "$out" "--accept-new-host-keys"
assert_contains "$out" "node2: ok"
fw inventory -t "$NODE_V4_1" -i "$TB_KEY" --known-hosts "$SCRATCH/kh.unknown" \
	--accept-new-host-keys >/dev/null 2>&1 || fail "--accept-new-host-keys"
grep -q "$NODE_V4_1" "$SCRATCH/kh.unknown" || fail "new host key not recorded"
fw inventory -t "$NODE_V4_1" -i "$TB_KEY" --known-hosts "$SCRATCH/kh.unknown" \
	>/dev/null 2>&1 || fail "the recorded key is not accepted"
pass "unknown host key refused with advice, accepted on request"

# 5. A wrong password (no key) fails that node; the others succeed.
cat >"$SCRATCH/mixed.ini" <<INI
[fleet]
node1 ansible_host=$NODE_V4_1
node4 ansible_host=$NODE_V4_4 ansible_ssh_private_key_file=
[fleet:vars]
ansible_user=root
ansible_ssh_private_key_file=$TB_KEY
INI
rc=0
tb_exec env FWFLEET_SSH_PASSWORD=wrong-password \
	"$FWFLEET" inventory -n "$SCRATCH/mixed.ini" "${KH[@]}" \
	>"$SCRATCH/pw.txt" 2>&1 || rc=$?
assert_eq 255 "$rc" "exit status with a wrong password"
out=$(cat "$SCRATCH/pw.txt")
assert_contains "$out" "node4: failed: authentication as root failed"
assert_contains "$out" "node1: ok"
assert_not_contains "$out" "wrong-password"
pass "wrong password fails node4 only, and is never printed"

# 6. An unreachable node fails within a bounded time; the others succeed.
start=$(date +%s)
rc=0
fw inventory -t "$NODE_V4_1,198.18.0.250,$NODE_V4_2" -i "$TB_KEY" "${KH[@]}" \
	--connect-timeout 2 >"$SCRATCH/unreach.txt" 2>&1 || rc=$?
took=$(($(date +%s) - start))
assert_eq 255 "$rc" "exit status with an unreachable node"
out=$(cat "$SCRATCH/unreach.txt")
assert_contains "$out" "198.18.0.250: failed:"
assert_contains "$out" "$NODE_V4_1: ok"
assert_contains "$out" "$NODE_V4_2: ok"
[ "$took" -le 10 ] || fail "unreachable node took ${took}s (connect timeout 2s)"
pass "unreachable node failed in ${took}s"

# 6b. Host names (resolved in the controller namespace) and a link-local
#     IPv6 address with a zone, bare and bracketed with a port.
out=$(fw inventory -t node1,node3 -i "$TB_KEY" "${KH[@]}" 2>&1) ||
	fail "inventory by host name: $out"
assert_contains "$out" "node1: ok"
assert_contains "$out" "node3: ok"
assert_contains "$out" "serial FWF0003"
ll=''
for ((k = 0; k < 50; k++)); do	# DAD of the link-local address: bounded 5 s
	ll=$(ip -n "$NODE_NS_2" -6 -o addr show dev eth0 scope link |
		awk '!/tentative/ { sub("/.*", "", $4); print $4 }')
	[ -n "$ll" ] && break
	sleep 0.1
done
[ -n "$ll" ] || fail "node2 has no usable link-local address"
zone=${TB_PREFIX}br
cp "$TB_KNOWN_HOSTS" "$SCRATCH/kh.ll"
out=$(fw inventory -t "$ll%$zone" -i "$TB_KEY" --known-hosts "$SCRATCH/kh.ll" \
	--accept-new-host-keys --json 2>&1) || fail "link-local inventory: $out"
assert_contains "$out" '"serial": "FWF0002"'
out=$(fw inventory -t "[$ll%$zone]:22" -i "$TB_KEY" --known-hosts "$SCRATCH/kh.ll" 2>&1) ||
	fail "bracketed link-local inventory: $out"
assert_contains "$out" "serial FWF0002"
check_clean "names and link-local"
pass "host names and link-local $ll%$zone (bare and [..]:22)"

# 6c. A full disk on one node: node1's --remote-dir is a 1 MiB tmpfs,
#     mounted in its sshd's mount namespace only, so the engine does not
#     fit there. node1 fails naming the problem, the others go on, and the
#     partial work directory is removed.
mkdir -p "$SCRATCH/small"
in_node1() { nsenter -t "$NODE_SSHD_PID_1" -m -- "$@"; }
in_node1 mount -t tmpfs -o size=1m,mode=0755 fwfleet-test "$SCRATCH/small" ||
	fail "mount a tmpfs on node1"
tb_on_exit "nsenter -t '$NODE_SSHD_PID_1' -m -- umount '$SCRATCH/small' 2>/dev/null"
rc=0
fw inventory -n "$TB_DIR/nodes.ini" "${KH[@]}" --remote-dir "$SCRATCH/small" \
	>"$SCRATCH/full.txt" 2>&1 || rc=$?
assert_eq 255 "$rc" "exit status with a full disk"
out=$(cat "$SCRATCH/full.txt")
assert_contains "$out" "node1: failed: cannot ship the engine"
assert_contains "$out" "No space left on device"
for i in 2 3 4; do assert_contains "$out" "node$i: ok"; done
left=$(in_node1 ls -A "$SCRATCH/small")
[ -z "$left" ] || fail "left in node1's full remote dir: $left"
[ -z "$(ls -A "$SCRATCH/small")" ] || fail "left in the remote dir: $(ls -A "$SCRATCH/small")"
in_node1 umount "$SCRATCH/small"
check_clean "full disk"
pass "a full disk fails that node clearly, the others go on, nothing is left"

# 7. Bad parameters exit 254 with a message.
rc=0
fw inventory -t "[2001:db8::1" "${KH[@]}" >"$SCRATCH/bad.txt" 2>&1 || rc=$?
assert_eq 254 "$rc" "exit status for a bad address"
assert_contains "$(cat "$SCRATCH/bad.txt")" "2001:db8::1"
pass "bad address rejected with 254"

# 8. Ctrl-C mid-run: every node is cleaned up before exit. The signal is
#    sent at growing delays until one lands mid-run (bounded: 6 tries).
interrupted=0
for delay in 0.05 0.1 0.15 0.2 0.3 0.4; do
	# Not through tb_exec: $! must be fwfleet itself, not a subshell.
	ip netns exec "$TB_NS" "$FWFLEET" inventory -n "$TB_DIR/nodes.ini" \
		"${KH[@]}" >"$SCRATCH/int.txt" 2>&1 &
	pid=$!
	sleep "$delay"
	kill -INT "$pid" 2>/dev/null || true
	rc=0
	wait "$pid" || rc=$?
	check_clean "Ctrl-C after ${delay}s"
	if [ "$rc" = 255 ]; then
		assert_contains "$(cat "$SCRATCH/int.txt")" "cancelled by the operator"
		interrupted=1
		break
	fi
	assert_eq 0 "$rc" "exit status of a run that finished before Ctrl-C"
done
[ "$interrupted" = 1 ] || fail "no run was interrupted mid-way; last output: $(cat "$SCRATCH/int.txt")"
pass "Ctrl-C after ${delay}s cancelled the run and left nothing behind"

check_clean "all runs"
