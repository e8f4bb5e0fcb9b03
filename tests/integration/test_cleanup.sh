#!/bin/bash
# Nothing outlives a session, even when things go wrong. Two nodes with
# firewalls (nftables, iptables), every run with --open-firewall, and
# after each case every node's processes, sockets, work directories and
# full rule set are compared with what they were before:
#   a failing installer and Ctrl-C; the controller killed with SIGKILL
#   (the engine's watchdog cleans up; a later `fwfleet cleanup` removes
#   the controller host's rule); the network to a node cut and restored
#   (short: the run goes on; long: the node fails, and the watchdog cleans
#   up); the engine killed mid-session (the controller says so and cleans
#   up over SSH); leftovers planted as if by crashed sessions (swept by
#   the next run's connect, and by `fwfleet cleanup`).
. "$(dirname "$0")/lib.sh"
require_root

: "${FWFLEET:?set FWFLEET to the fwfleet binary}"
tb_up 2
node_firewall 1 nft
node_firewall 2 iptables
ctl_firewall
tb_session
ctl_snapshot
FIX=$FWFLEET_SRC/tests/fixtures
"$FWFLEET" repo keygen "$SCRATCH/key" >/dev/null || fail "repo keygen"
make_repo "$SCRATCH/fail" "$FIX"/deploy/fails-hpe-1.0/ "$FIX"/deploy/after-1.0/
make_repo "$SCRATCH/slow" "$FIX"/deploy/slow-1.0/ "$FIX"/deploy/after-1.0/
OPTS=(-n "$TB_DIR/nodes.ini" --known-hosts "$TB_KNOWN_HOSTS" --open-firewall
	--pubkey "$SCRATCH/key.pub" --connect-timeout 3)
reset_nodes() { rm -rf "$NODE_ROOT_1"/var/lib/{slow-agent,zz-after} "$NODE_ROOT_2"/var/lib/{slow-agent,zz-after}; }

# start_deploy OUT ARGS...: a deploy of the slow repository in the
# background (PID in DPID), returning once both nodes run its installer.
start_deploy() {
	local out=$1
	shift
	reset_nodes
	ip netns exec "$TB_NS" "$FWFLEET" deploy "${OPTS[@]}" -r "$SCRATCH/slow" "$@" \
		>"$out.out" 2>"$out.err" &
	DPID=$!
	wait_until 30 grep -q "^node1: slow-agent 1.0: installing" "$out.err"
	wait_until 30 grep -q "^node2: slow-agent 1.0: installing" "$out.err"
}

# engine_pid I: the pid of the engine serving node I (by its work directory).
engine_pid() {
	local p
	for p in $(pgrep -x fwfleet-engine); do
		[[ $(readlink "/proc/$p/exe" 2>/dev/null) == /tmp/fwfleet-*-$(($1 - 1))/fwfleet-engine ]] &&
			{ echo "$p"; return 0; }
	done
	return 0
}

# 1. Success with a failing component, and Ctrl-C.
rc=0
fw deploy "${OPTS[@]}" -r "$SCRATCH/fail" >"$SCRATCH/f.out" 2>&1 || rc=$?
assert_eq 253 "$rc" "a failed component ($(tail -3 "$SCRATCH/f.out"))"
check_clean "failing installer"
ctl_clean "failing installer"
start_deploy "$SCRATCH/c"
kill -INT "$DPID"
rc=0
wait "$DPID" || rc=$?
assert_eq 255 "$rc" "exit status after Ctrl-C"
check_clean "Ctrl-C"
ctl_clean "Ctrl-C"
pass "failure and Ctrl-C: rule sets, files and processes as before"

# 2. The controller killed with SIGKILL mid-deploy: the engines finish
#    their installer, then their watchdog closes the rules, removes the
#    work directory and exits within the idle timeout. The controller
#    host's rule stays until `fwfleet cleanup`, which knows the run died.
start_deploy "$SCRATCH/k" --idle-timeout 4
kill -KILL "$DPID"
wait "$DPID" 2>/dev/null || true
ls "$FWFLEET_STATE_DIR"/sessions/ >/dev/null || fail "no session record"
for ((k = 0; k < 150; k++)); do	# slow installer (3 s) + idle timeout 4 s: bounded 15 s
	[ -z "$(live_engines)" ] && [ -z "$(new_workdirs)" ] && break
	sleep 0.1
done
check_clean "controller killed" --wait
ruleset_of "$TB_NS" >"$SCRATCH/ctl.killed"
grep -q 'fwfleet:' "$SCRATCH/ctl.killed" || fail "the killed controller's own rule is not there to sweep"
out=$(fw cleanup -n "$TB_DIR/nodes.ini" --known-hosts "$TB_KNOWN_HOSTS" 2>&1) ||
	fail "fwfleet cleanup: $out"
assert_contains "$out" "removed 1 firewall rule"
ctl_clean "cleanup after SIGKILL"
check_clean "cleanup after SIGKILL"
pass "controller killed: the engines' watchdogs cleaned the nodes; cleanup swept the controller's rule"

# 3a. The network to node 1 cut for 3 s mid-deploy: the run goes on.
link=${TB_PREFIX}v1
start_deploy "$SCRATCH/n1" --timeout 30
ip -n "$TB_NS" link set "$link" down
sleep 3
ip -n "$TB_NS" link set "$link" up
rc=0
wait "$DPID" || rc=$?
assert_eq 0 "$rc" "deploy across a 3 s network cut ($(tail -3 "$SCRATCH/n1.err"))"
check_clean "short network cut" --wait
ctl_clean "short network cut"
pass "a 3 s network cut: the deploy went on and left nothing"

# 3b. Cut for good: node 1 fails, its cleanup cannot reach it and says
#     so; once the network is back, its engine's watchdog has cleaned up.
start_deploy "$SCRATCH/n2" --timeout 3 --idle-timeout 5
ip -n "$TB_NS" link set "$link" down
tb_on_exit "ip -n '$TB_NS' link set '$link' up"
rc=0
wait "$DPID" || rc=$?
[ "$rc" != 0 ] || fail "deploy to an unreachable node succeeded"
line=$(grep -h "node1: failed" "$SCRATCH/n2.out" "$SCRATCH/n2.err" | head -1)
assert_contains "$line" "may remain on the node"
assert_contains "$line" "removes them after 5 s without us"
ip -n "$TB_NS" link set "$link" up
for ((k = 0; k < 150; k++)); do	# idle timeout 5 s: bounded 15 s
	[ -z "$(live_engines)" ] && [ -z "$(new_workdirs)" ] && break
	sleep 0.1
done
# The node's sshd still serves the SSH connection the cut killed until
# TCP tells it: the controller's kernel retransmits its FIN with growing
# intervals, and one gets through once the link is back. Bounded: 60 s.
for ((k = 0; k < 120; k++)); do
	snapshot_node 1 "$SCRATCH/after.1"
	cmp -s "$SCRATCH/before.1" "$SCRATCH/after.1" && break
	sleep 0.5
done
check_clean "long network cut" --wait
ctl_clean "long network cut"
pass "a lasting network cut: node1 failed with advice; its engine cleaned up by itself"

# 4. The engine killed mid-session: the controller reports it and removes
#    the work directory and the rules over SSH.
start_deploy "$SCRATCH/e"
p=$(engine_pid 1)
[ -n "$p" ] || fail "no engine for node1"
kill -KILL "$p"
rc=0
wait "$DPID" || rc=$?
[ "$rc" != 0 ] || fail "deploy with a killed engine succeeded"
line=$(grep -h "node1: failed" "$SCRATCH/e.out" "$SCRATCH/e.err" | head -1)
assert_contains "$line" "control channel"
check_clean "engine killed"
ctl_clean "engine killed"
pass "engine killed: reported, and the controller removed its files and rules"

# 5. Leftovers planted as if by crashed sessions: a work directory (old)
#    with a bootstrap file, a running "engine" of a dead run of ours, and
#    tagged rules on both nodes. The next run's connect sweeps them; so
#    does `fwfleet cleanup`.
plant() {
	local old=$1 dead=$2
	mkdir -p "/tmp/fwfleet-$old-0" "/tmp/fwfleet-$dead-1"
	echo secret >"/tmp/fwfleet-$old-0/bootstrap"
	touch -d '1 hour ago' "/tmp/fwfleet-$old-0"
	cp /bin/sleep "/tmp/fwfleet-$dead-1/fwfleet-engine"
	setsid "/tmp/fwfleet-$dead-1/fwfleet-engine" 300 </dev/null >/dev/null 2>&1 &
	PLANTED=$!
	mkdir -p "$FWFLEET_STATE_DIR/sessions"
	echo "999999 1" >"$FWFLEET_STATE_DIR/sessions/$dead"
	ip netns exec "$NODE_NS_1" nft insert rule inet hostfw input tcp dport 62999 \
		accept comment "\"fwfleet:$dead\""
	ip netns exec "$NODE_NS_2" iptables-nft -w -I INPUT -p tcp --dport 62999 \
		-m comment --comment "fwfleet:$dead" -j ACCEPT
	# A rule of a run this controller does not know: cleanup's business.
	[ "${3:-}" = foreign ] && ip netns exec "$NODE_NS_1" nft insert rule inet \
		hostfw input tcp dport 62998 accept comment "\"fwfleet:$old\""
	return 0
}
plant 0123456789abcdef fedcba9876543210
out=$(fw -v inventory -n "$TB_DIR/nodes.ini" --known-hosts "$TB_KNOWN_HOSTS" --open-firewall 2>&1) ||
	fail "inventory over leftovers: $out"
assert_contains "$out" "left by an earlier session"
wait "$PLANTED" 2>/dev/null || true
check_clean "planted leftovers, swept on connect"
pass "leftovers of crashed sessions (directory, engine, rules) were swept on connect"

plant 00000000aaaaaaaa 00000000bbbbbbbb foreign
out=$(fw cleanup -n "$TB_DIR/nodes.ini" --known-hosts "$TB_KNOWN_HOSTS" 2>&1) ||
	fail "fwfleet cleanup: $out"
assert_contains "$out" "removed /tmp/fwfleet-00000000aaaaaaaa-0"
assert_contains "$out" "stopped engine"
wait "$PLANTED" 2>/dev/null || true
check_clean "planted leftovers, fwfleet cleanup"
pass "fwfleet cleanup swept planted leftovers"
