#!/usr/bin/env bash
# The test fleet itself (scripts/testbed.sh and lib.sh): addresses, sshd per
# node reachable over both families, per-node sysroot and serial, status and
# exec, refusal of a second fleet with the same prefix, cleanup after a
# failed up, and a down that leaves nothing behind and may run twice.
# SC2016: remote commands are expanded by the node's shell; SC2154: tb_tmpdir
# assigns its variable; SC2046: word splitting intended.
# shellcheck disable=SC2016,SC2154,SC2046
. "$(dirname "$0")/lib.sh"
require_root

# Hardware profiles: the fixtures, or a minimal one if there are none yet.
hw_opts=()
if ! compgen -G "$FWFLEET_SRC/tests/fixtures/hw/*/" >/dev/null; then
	tb_tmpdir hw
	mkdir -p "$hw/mini/sys/class/dmi/id"
	echo "Mini Board" >"$hw/mini/sys/class/dmi/id/product_name"
	ln -s product_name "$hw/mini/sys/class/dmi/id/board_name"
	hw_opts=(--hw-dir "$hw")
	hw_dir=$hw
else
	hw_dir=$FWFLEET_SRC/tests/fixtures/hw
fi

pid_is_sshd() {
	local st cmd
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ] || return 1
	cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
	[[ $cmd == *sshd* ]]
}

ns_of_prefix() {
	ip netns list | awk '{print $1}' | grep -E "^$1(c|n[0-9]+)$" || true
}

# ------------------------------------------------------------------ up
tb_up 3 --ipv6-only 3 "${hw_opts[@]}"
pass "testbed up 3 (prefix $TB_PREFIX, dir $TB_DIR)"

assert_eq 3 "$TB_N" "TB_N"
assert_eq "${TB_PREFIX}c" "$TB_NS" "controller namespace"
for i in 1 2 3; do
	assert_eq "${TB_PREFIX}n$i" "$(_node_var $i NS)" "namespace of node$i"
	ip netns list | grep -q "^${TB_PREFIX}n$i\b" || fail "namespace ${TB_PREFIX}n$i missing"
done
assert_eq 198.18.0.11 "$NODE_V4_1" "node1 IPv4"
assert_eq 198.18.0.12 "$NODE_V4_2" "node2 IPv4"
assert_eq "" "$NODE_V4_3" "node3 IPv4 (ipv6-only)"
assert_eq 2001:db8:f00d::11 "$NODE_V6_1" "node1 IPv6"
assert_eq 2001:db8:f00d::13 "$NODE_V6_3" "node3 IPv6"

# controller side
br=$(tb_exec ip -o addr show dev "${TB_PREFIX}br")
assert_contains "$br" "198.18.0.1/16" "bridge IPv4"
assert_contains "$br" "2001:db8:f00d::1/64" "bridge IPv6"
assert_eq 0 "$(tb_exec cat /proc/sys/net/ipv6/conf/all/disable_ipv6)" "IPv6 in controller ns"
for i in 1 2 3; do
	tb_exec ip link show "${TB_PREFIX}v$i" | grep -q "master ${TB_PREFIX}br" ||
		fail "veth ${TB_PREFIX}v$i not on the bridge"
done

# client-side files
ini=$(cat "$TB_DIR/nodes.ini")
assert_contains "$ini" "[fleet]" "nodes.ini"
assert_contains "$ini" "node1 ansible_host=198.18.0.11" "nodes.ini"
assert_contains "$ini" "node3 ansible_host=2001:db8:f00d::13" "nodes.ini"
assert_contains "$ini" "[fleet:vars]" "nodes.ini"
assert_contains "$ini" "ansible_user=root" "nodes.ini"
assert_contains "$ini" "ansible_ssh_private_key_file=$TB_DIR/id_ed25519" "nodes.ini"
assert_eq "198.18.0.11 198.18.0.12 2001:db8:f00d::13" "$(echo $(cat "$TB_DIR/nodes.txt"))" "nodes.txt"
kh=$(cat "$TB_DIR/known_hosts")
# one line per address, and one per node name (see /etc/netns hosts below)
assert_eq 8 "$(grep -c . <<<"$kh")" "known_hosts lines"
for i in 1 2 3; do
	grep -q "^node$i ssh-ed25519 " <<<"$kh" || fail "no known_hosts line for node$i"
done
# node names resolve in the controller namespace, to each node's address
assert_eq "198.18.0.11" "$(tb_exec getent hosts node1 | awk '{print $1}')" "node1 by name"
assert_eq "2001:db8:f00d::13" "$(tb_exec getent hosts node3 | awk '{print $1}')" "node3 by name"
# sessions on a node get Debian's stock root .bashrc, not this host's
node_ssh 1 'cmp -s /root/.bashrc /usr/share/base-files/dot.bashrc' ||
	fail "node1's sshd does not see the stock root .bashrc"
for a in 198.18.0.11 2001:db8:f00d::11 198.18.0.12 2001:db8:f00d::12 2001:db8:f00d::13; do
	grep -q "^$a ssh-ed25519 AAAA" <<<"$kh" || fail "known_hosts has no key for $a"
done
cmp -s "$TB_DIR/authorized_keys" "$TB_DIR/id_ed25519.pub" || fail "authorized_keys"
pass "addresses, bridge and client files"

# ---------------------------------------------------- ssh to each node
remote='echo $FWFLEET_SYSROOT; cat $FWFLEET_SYSROOT/sys/class/dmi/id/product_serial'
for spec in 1:198.18.0.11 1:2001:db8:f00d::11 2:198.18.0.12 2:2001:db8:f00d::12 3:2001:db8:f00d::13; do
	i=${spec%%:*}
	addr=${spec#*:}
	out=$(tb_ssh "$addr" "$remote") || fail "ssh to node$i at $addr"
	expect=$(printf '%s\nFWF%04d' "$TB_DIR/node$i/root" "$i")
	assert_eq "$expect" "$out" "sysroot and serial of node$i via $addr"
	pass "ssh node$i at $addr: own sysroot and serial"
done
assert_eq "node2" "$(node_ssh 2 'cat $FWFLEET_SYSROOT/proc/sys/kernel/hostname')" "node2 hostname file"

# hardware profile copied with its symlinks (round-robin over profiles)
for i in 1 2 3; do
	prof=$(_node_var $i PROFILE)
	[ -n "$prof" ] || fail "node$i has no hardware profile"
	want=$(cd "$hw_dir/$prof" && find . -type l | sort)
	got=$(cd "$(_node_var $i ROOT)" && find . -type l | sort)
	assert_eq "$want" "$got" "symlinks of profile $prof on node$i"
	want=$(cd "$hw_dir/$prof" && find . | sort)
	got=$(cd "$(_node_var $i ROOT)" && find . | sort)
	assert_eq "" "$(comm -23 <(echo "$want") <(echo "$got"))" "files of profile $prof on node$i"
done
pass "hardware profiles copied"

# node3 is ipv6-only: no IPv4 address, sshd not on 0.0.0.0
assert_eq "" "$(node_exec 3 ip -4 -o addr show dev eth0)" "IPv4 on node3"
snapshot_node 3 "$TB_DIR/snap3"
assert_not_contains "$(cat "$TB_DIR/snap3")" "0.0.0.0:22" "node3 listening on IPv4"
assert_contains "$(cat "$TB_DIR/snap3")" "[::]:22" "node3 listening on IPv6"
if tb_exec timeout 1 bash -c 'exec 3<>/dev/tcp/198.18.0.13/22' 2>/dev/null; then
	fail "something answers on node3's would-be IPv4 address"
fi
pass "node3 is ipv6-only"

# node_exec runs in the node's namespace with its sysroot
assert_eq "$NODE_ROOT_1" "$(node_exec 1 printenv FWFLEET_SYSROOT)" "node_exec env"
assert_contains "$(node_exec 1 ip -o addr show dev eth0)" "198.18.0.11/16" "node_exec namespace"

# ssh sessions leave nothing behind (and snapshot_node is stable)
snapshot_node 1 "$TB_DIR/snap1.before"
node_ssh 1 true
wait_until 5 bash -c "[ \$(ip netns pids ${TB_PREFIX}n1 | wc -l) -le 1 ]"
snapshot_node 1 "$TB_DIR/snap1.after"
diff -u "$TB_DIR/snap1.before" "$TB_DIR/snap1.after" || fail "node1 changed after an ssh session"
assert_contains "$(cat "$TB_DIR/snap1.after")" "sshd" "snapshot lists sshd"
pass "snapshot_node before/after an ssh session"

# ------------------------------------------------------- status, exec
st=$("$TESTBED" status "$TB_DIR") || fail "status reports a problem: $st"
assert_eq 3 "$(grep -c ' alive$' <<<"$st")" "status: alive sshds"
rc=0
"$TESTBED" exec "$TB_DIR" sh -c 'exit 7' || rc=$?
assert_eq 7 "$rc" "exec passes the exit status through"
"$TESTBED" exec "$TB_DIR" ip link show "${TB_PREFIX}br" >/dev/null || fail "exec does not run in the controller ns"
pass "status and exec"

# ---------------------------------------------------- refusals
tb_tmpdir scratch
rc=0
err=$("$TESTBED" up 1 "$scratch/again" --prefix "$TB_PREFIX" 2>&1) || rc=$?
[ $rc -ne 0 ] || fail "up on an existing prefix succeeded"
assert_contains "$err" "testbed.sh down" "refusal message"
[ ! -e "$scratch/again" ] || fail "refused up created its directory"
rc=0
"$TESTBED" up 1 "$TB_DIR" --prefix "${TB_PREFIX:0:5}q" 2>/dev/null || rc=$?
[ $rc -ne 0 ] || fail "up into a directory holding a fleet succeeded"
assert_eq "FWF0001" "$(node_ssh 1 'cat $FWFLEET_SYSROOT/sys/class/dmi/id/product_serial')" \
	"fleet still works after the refusals"
pass "up refuses an existing prefix and an existing fleet directory"

# ------------------------------------------- failed up cleans up after itself
p2=
for c in q r s t u v w x y z; do
	p2=${TB_PREFIX:0:5}$c
	[ -z "$(ns_of_prefix "$p2")" ] && break
done
tb_on_exit "'$TESTBED' down '$scratch/half' >/dev/null 2>&1"
for stage in keys netns links sshd check; do
	rc=0
	TESTBED_FAIL_AFTER=$stage "$TESTBED" up 2 "$scratch/half" --prefix "$p2" "${hw_opts[@]}" \
		>/dev/null 2>&1 || rc=$?
	[ $rc -ne 0 ] || fail "injected failure after $stage: up succeeded"
	assert_eq "" "$(ns_of_prefix "$p2")" "namespaces left after a failed up ($stage)"
	[ ! -e "$scratch/half" ] || fail "directory left after a failed up ($stage)"
	if pgrep -f "$scratch/half/" >/dev/null; then
		fail "processes left after a failed up ($stage)"
	fi
done
pass "a failed up removes what it created"

# down on a half-created fleet
rc=0
TESTBED_NO_CLEANUP=1 TESTBED_FAIL_AFTER=sshd "$TESTBED" up 2 "$scratch/half" --prefix "$p2" \
	"${hw_opts[@]}" >/dev/null 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "injected failure: up succeeded"
[ -n "$(ns_of_prefix "$p2")" ] || fail "TESTBED_NO_CLEANUP left no half-created fleet"
"$TESTBED" down "$scratch/half" || fail "down of a half-created fleet"
assert_eq "" "$(ns_of_prefix "$p2")" "namespaces left by down of a half-created fleet"
[ ! -e "$scratch/half" ] || fail "directory left by down of a half-created fleet"
pgrep -f "$scratch/half/" >/dev/null && fail "sshd left by down of a half-created fleet"
pass "down removes a half-created fleet"

# ------------------------------------------------------------ down
pids=()
for i in 1 2 3; do
	pids+=("$(_node_var $i SSHD_PID)")
	pid_is_sshd "${pids[-1]}" || fail "sshd of node$i (pid ${pids[-1]}) not running before down"
done
# an ssh session still open during down must not keep anything alive
tb_exec bash -c "$(printf '%q ' ssh $(tb_ssh_opts) "root@$NODE_V4_2" 'sleep 300') </dev/null >/dev/null 2>&1 &"
wait_until 10 bash -c "[ \$(ip netns pids ${TB_PREFIX}n2 | wc -l) -ge 2 ]"
session_pids=$(ip netns pids "${TB_PREFIX}n2")

"$TESTBED" down "$TB_DIR" || fail "down"
assert_eq "" "$(ns_of_prefix "$TB_PREFIX")" "namespaces left after down"
for p in "${pids[@]}"; do
	pid_is_sshd "$p" && fail "sshd $p still running after down"
done
for p in $session_pids; do
	pid_is_sshd "$p" && fail "ssh session process $p still running after down"
done
[ ! -e "$TB_DIR" ] || fail "$TB_DIR left after down"
[ ! -e "/etc/netns/${TB_PREFIX}c" ] || fail "/etc/netns/${TB_PREFIX}c left after down"
pass "down removes namespaces, sshds, /etc/netns entries and the directory"

"$TESTBED" down "$TB_DIR" || fail "second down failed"
pass "down twice is fine"
rc=0
"$TESTBED" status "$TB_DIR" >/dev/null 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "status of a removed fleet succeeded"

echo "PASS: $TEST_NAME"
