#!/bin/bash
# Persistent agents on namespace nodes (their own supervisor: no systemd on
# a test tree): install, list, inventory straight over mutual TLS without
# SSH, certificate renewal, revocation, a foreign CA refused, the
# supervisor restarting a killed agent, upgrade, and remove leaving each
# node's tree, processes, sockets and rules exactly as before.
. "$(dirname "$0")/lib.sh"
require_root

: "${FWFLEET:?set FWFLEET to the fwfleet binary}"
tb_up 2
tb_session
# tree I: node I's root, every path with its type and mode.
tree() { (cd "$(_node_var "$1" ROOT)" && find . -printf '%p %y %m\n' | sort); }
for i in 1 2; do tree "$i" >"$SCRATCH/tree.before.$i"; done
# trees_as_before WHAT: every node's tree is as it was before the test.
trees_as_before() {
	for i in 1 2; do
		tree "$i" >"$SCRATCH/tree.after.$i"
		diff -u "$SCRATCH/tree.before.$i" "$SCRATCH/tree.after.$i" ||
			fail "node$i's tree differs after $1"
	done
}
KH=(--known-hosts "$TB_KNOWN_HOSTS")
ALL=(-n "$TB_DIR/nodes.ini" "${KH[@]}")
# No SSH at all: no known host keys, so an SSH attempt would fail.
NOSSH=(-n "$TB_DIR/nodes.ini" --known-hosts /dev/null --connect-timeout 3
	--renew-within 0)
agent_file() { echo "$(_node_var "$1" ROOT)/var/lib/fwfleet/$2"; }
serial() { openssl x509 -noout -serial -in "$(agent_file "$1" agent.crt)"; }

# 1. Install and list.
out=$(fw agent install "${ALL[@]}" --cert-lifetime 3600 2>&1) || fail "agent install: $out"
assert_contains "$out" "node1: agent running on port 62286"
assert_contains "$out" "node2: agent running on port 62286"
[ "$(stat -c %a "$(agent_file 1 agent.key)")" = 600 ] || fail "agent.key is not 0600"
out=$(fw agent list "${ALL[@]}" 2>&1) || fail "agent list: $out"
assert_contains "$out" "node1: agent"
assert_contains "$out" "running (pid"
assert_contains "$out" "CN=fwfleet-agent node2"
pass "agents installed and running under their supervisor"

# 2. Inventory through the agents: mutual TLS only, SSH not even possible.
out=$(fw inventory "${NOSSH[@]}" --via agent --json 2>"$SCRATCH/inv.err") ||
	fail "inventory --via agent: $(cat "$SCRATCH/inv.err")"
for i in 1 2; do
	assert_eq "FWF000$i" "$(jq -r --arg n "node$i" '.nodes[] | select(.name == $n) |
		.inventory.system.serial' <<<"$out")" "node$i's inventory via its agent"
done
out=$(fw inventory "${NOSSH[@]}" 2>&1) || fail "inventory --via auto: $out"
assert_contains "$out" "node1: ok"
pass "inventory went straight to the agents (no SSH), explicitly and by default"

# 2b. Deploy through the agents: payloads and status over mutual TLS, no
#     SSH; the agent keeps none of the session's files.
"$FWFLEET" repo keygen "$SCRATCH/key" >/dev/null || fail "repo keygen"
make_repo "$SCRATCH/repo" "$FWFLEET_SRC/tests/fixtures/deploy/after-1.0/"
out=$(fw deploy "${NOSSH[@]}" --via agent -r "$SCRATCH/repo" --pubkey "$SCRATCH/key.pub" 2>&1) ||
	fail "deploy --via agent: $out"
for i in 1 2; do
	root=NODE_ROOT_$i
	[ -f "${!root}/var/lib/zz-after/version" ] || fail "node$i: zz-after did not install via its agent"
	[ -z "$(ls -A "$(agent_file "$i" fwfleet-run)" 2>/dev/null)" ] ||
		fail "node$i: the agent kept staged files"
	rm -rf "${!root}/var/lib/zz-after"
done
# Only status pushes (HTTPS, from the agent) write component-phase events.
pushes=$(cat "$FWFLEET_STATE_DIR"/jobs/*/journal.jsonl | jq -c 'select(.event == "component-phase" and .node == "node1")' | wc -l)
[ "$pushes" -gt 0 ] || fail "no status push from node1's agent reached the journal"
pass "deploy through the agents (no SSH): installed, status pushed, nothing staged left"

# 2c. An agent killed while it installs: its supervisor restarts it, and
#     the cut-short install is reported to the next controller (and in
#     diag) until the component is installed again.
make_repo "$SCRATCH/slow" "$FWFLEET_SRC/tests/fixtures/deploy/slow-1.0/"
ip netns exec "$TB_NS" "$FWFLEET" deploy -t "$NODE_ADDR_1" --known-hosts /dev/null --via agent \
	--renew-within 0 -r "$SCRATCH/slow" --pubkey "$SCRATCH/key.pub" >"$SCRATCH/k.out" 2>"$SCRATCH/k.err" &
dpid=$!
for ((k = 0; k < 300; k++)); do	# bounded: 30 s
	grep -q "slow-agent 1.0: installing" "$SCRATCH/k.err" && break
	sleep 0.1
done
grep -q "slow-agent 1.0: installing" "$SCRATCH/k.err" || fail "no install started: $(cat "$SCRATCH/k.err")"
kill -KILL "$(cat "$(agent_file 1 agent.pid)")"
rc=0
wait "$dpid" || rc=$?
[ "$rc" != 0 ] || fail "a deploy whose agent was killed succeeded"
wait_until 10 ip netns exec "$NODE_NS_1" sh -c "ss -Hltn | grep -q ':62286 '"
out=$(fw -v inventory -t "$NODE_ADDR_1" --known-hosts /dev/null --via agent --renew-within 0 2>&1) ||
	fail "inventory after the agent restarted: $out"
assert_contains "$out" "installing slow-agent 1.0 was interrupted by a restart of the agent"
out=$(fw diag "$NODE_ADDR_1" --json 2>&1) || fail "diag of the restarted agent: $out"
assert_contains "$out" "was interrupted by a restart"
assert_eq persistent "$(jq -r '.[0].mode // .nodes[0].diag.mode // empty' <<<"$out" 2>/dev/null | head -1)" "diag mode"
sleep 4	# the orphaned installer of the killed agent ends (slow: 3 s)
rm -rf "$NODE_ROOT_1/var/lib/slow-agent"
out=$(fw deploy -t "$NODE_ADDR_1" --known-hosts /dev/null --via agent --renew-within 0 \
	-r "$SCRATCH/slow" --pubkey "$SCRATCH/key.pub" 2>&1) || fail "deploy again: $out"
out=$(fw -v inventory -t "$NODE_ADDR_1" --known-hosts /dev/null --via agent --renew-within 0 2>&1) ||
	fail "inventory after the new install: $out"
assert_not_contains "$out" "interrupted"
rm -rf "$NODE_ROOT_1/var/lib/slow-agent"
pass "an install cut short by a restart is reported, until the component is installed again"

# 3. Renewal: a certificate that expires within --renew-within is renewed
#    on contact (new key, CSR signed by the controller), and used at once.
old1=$(serial 1)
oldkey=$(sha256sum <"$(agent_file 1 agent.key)")
out=$(fw -v inventory "${NOSSH[@]}" --via agent --renew-within 7200 2>&1) ||
	fail "inventory with renewal: $out"
assert_contains "$out" "agent certificate renewed"
[ "$(serial 1)" != "$old1" ] || fail "node1's certificate was not replaced"
[ "$(sha256sum <"$(agent_file 1 agent.key)")" != "$oldkey" ] || fail "node1's key was not replaced"
out=$(fw inventory "${NOSSH[@]}" --via agent 2>&1) || fail "inventory after renewal: $out"
pass "certificates renewed over the control channel (new key) and in use"

# 4. Revocation: node2's agent is refused; with --via auto node2 goes by SSH.
fw pki revoke node2 >/dev/null || fail "pki revoke node2"
rc=0
out=$(fw inventory "${NOSSH[@]}" --via agent 2>&1) || rc=$?
assert_eq 255 "$rc" "inventory with a revoked agent"
assert_contains "$(grep 'node2: failed' <<<"$out")" "revoked"
assert_contains "$out" "node1: ok"
out=$(fw inventory "${ALL[@]}" 2>&1) || fail "inventory --via auto with node2 revoked: $out"
assert_contains "$out" "node2: ok"
rc=0
out=$(fw diag "$NODE_ADDR_2" 2>&1) || rc=$?
assert_eq 255 "$rc" "diag of a revoked agent"
assert_contains "$out" "revoked with \`fwfleet pki revoke\`"
pass "a revoked agent is refused (sessions and diag); --via auto reaches that node by SSH"

# 5. An agent accepts only controllers of the CA it enrolled with.
other=$(mktemp -d "$SCRATCH/other.XXXXXX")
FWFLEET_STATE_DIR=$other "$FWFLEET" pki init >/dev/null
rc=0
out=$(ip netns exec "$TB_NS" env FWFLEET_STATE_DIR="$other" "$FWFLEET" inventory \
	-t "$NODE_ADDR_1" --known-hosts /dev/null --via agent --connect-timeout 3 2>&1) || rc=$?
assert_eq 255 "$rc" "another controller's inventory"
assert_contains "$out" "failed"
pass "an agent refuses a controller of another CA"

# 6. The supervisor restarts an agent that dies.
p=$(cat "$(agent_file 1 agent.pid)")
kill -KILL "$p"
wait_until 10 sh -c "[ -s '$(agent_file 1 agent.pid)' ] && [ \"\$(cat '$(agent_file 1 agent.pid)')\" != $p ] &&
	ip netns exec $NODE_NS_1 ss -Hltn | grep -q ':62286 '"
out=$(fw inventory -t "$NODE_ADDR_1" --known-hosts /dev/null --via agent 2>&1) ||
	fail "inventory after the agent was killed: $out"
pass "the supervisor restarted a killed agent"

# 7. Upgrade keeps the identity and restarts.
s1=$(serial 1)
out=$(fw agent upgrade "${ALL[@]}" 2>&1) || fail "agent upgrade: $out"
assert_contains "$out" "node1: agent running"
assert_eq "$s1" "$(serial 1)" "the certificate after upgrade"
pass "upgrade replaced the binary and kept the certificate"

# 8. Remove leaves nothing.
out=$(fw agent remove "${ALL[@]}" 2>&1) || fail "agent remove: $out"
assert_contains "$out" "node1: agent removed"
out=$(fw agent list "${ALL[@]}" 2>&1) || fail "agent list after remove: $out"
assert_contains "$out" "node1: no agent"
check_clean "agent remove"
trees_as_before "agent remove"
pass "remove left every node as it was"

# 9. --require-signed: agents pinned to the repository key K install only
#    what K signed; an index signed by another key, or a changed manifest,
#    is refused before anything is fetched, and nothing runs.
out=$(fw agent install "${ALL[@]}" --require-signed --pubkey "$SCRATCH/key.pub" 2>&1) ||
	fail "agent install --require-signed: $out"
assert_contains "$out" "installing only components signed by the pinned repository key"
out=$(fw deploy "${NOSSH[@]}" --via agent -r "$SCRATCH/repo" --pubkey "$SCRATCH/key.pub" 2>&1) ||
	fail "deploy of a repository the pinned key signed: $out"
[ -f "$NODE_ROOT_1/var/lib/zz-after/version" ] || fail "zz-after did not install on a pinned agent"
rm -rf "$NODE_ROOT_1"/var/lib/zz-after "$NODE_ROOT_2"/var/lib/zz-after
"$FWFLEET" repo keygen "$SCRATCH/other-key" >/dev/null || fail "repo keygen (other)"
cp -a "$SCRATCH/repo" "$SCRATCH/repo-other"
rm -f "$SCRATCH/repo-other/index.json.sig" "$SCRATCH/repo-other/repo.pub"
"$FWFLEET" repo sign "$SCRATCH/repo-other" --key "$SCRATCH/other-key" >/dev/null || fail "repo sign (other)"
rc=0
out=$(fw deploy "${NOSSH[@]}" --via agent -r "$SCRATCH/repo-other" --pubkey "$SCRATCH/other-key.pub" 2>&1) || rc=$?
assert_eq 253 "$rc" "deploy of a repository another key signed"
assert_contains "$out" "not signed by the key pinned when this agent was installed"
[ ! -e "$NODE_ROOT_1/var/lib/zz-after" ] || fail "a component signed by another key was installed"
pass "--require-signed: the pinned key's components install, another key's are refused"
out=$(fw agent remove "${ALL[@]}" 2>&1) || fail "agent remove (2): $out"
check_clean "agent remove after --require-signed"
trees_as_before "the second agent remove"

# 10. Nodes that drop everything but SSH: install says when it cannot
#     reach the agent it started; an agent installed with
#     --open-firewall opens its port each time it starts (rules tagged
#     fwfleet:agent; a killed agent's are replaced, not added to), a
#     session's sweep leaves them, and remove closes them.
node_firewall 1 nft
node_firewall 2 iptables
for i in 1 2; do snapshot_node "$i" "$SCRATCH/before.$i"; done
agent_rules() { ruleset_of "$(_node_var "$1" NS)" | grep -c 'fwfleet:agent' || true; }
out=$(fw agent install "${ALL[@]}" --connect-timeout 3 2>&1) || fail "agent install behind a firewall: $out"
assert_contains "$out" "node1: agent running on port 62286 (its own supervisor); but this controller cannot reach it: $NODE_ADDR_1 port 62286"
assert_contains "$out" "\`fwfleet agent install --open-firewall\` opens the node's"
out=$(fw agent install "${ALL[@]}" --open-firewall 2>&1) || fail "agent install --open-firewall: $out"
assert_contains "$out" "node2: agent running on port 62286 (its own supervisor), its port open in the node's firewall while it runs"
assert_not_contains "$out" "cannot reach"
out=$(fw inventory "${NOSSH[@]}" --via agent 2>&1) || fail "inventory --via agent through the nodes' firewalls: $out"
n1=$(agent_rules 1)
n2=$(agent_rules 2)
[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] || fail "no fwfleet:agent rules ($n1 on node1, $n2 on node2)"
out=$(fw diag "$NODE_ADDR_1" --json 2>&1) || fail "diag through the firewall: $out"
assert_contains "$out" "dport 62286"
p=$(cat "$(agent_file 1 agent.pid)")
kill -KILL "$p"
wait_until 10 sh -c "[ -s '$(agent_file 1 agent.pid)' ] && [ \"\$(cat '$(agent_file 1 agent.pid)')\" != $p ] &&
	ip netns exec $NODE_NS_1 ss -Hltn | grep -q ':62286 '"
assert_eq "$n1" "$(agent_rules 1)" "node1's agent rules after the agent was killed and restarted"
out=$(fw cleanup "${ALL[@]}" --force 2>&1) || fail "fwfleet cleanup --force: $out"
assert_eq "$n2" "$(agent_rules 2)" "node2's agent rules after cleanup --force"
out=$(fw inventory "${NOSSH[@]}" --via agent 2>&1) || fail "inventory --via agent after the restart and cleanup: $out"
out=$(fw agent remove "${ALL[@]}" 2>&1) || fail "agent remove (3): $out"
check_clean "agent remove after --open-firewall"
trees_as_before "the third agent remove"
pass "--open-firewall: the agent's port opens with the agent, survives sweeps, closes on remove"
