#!/bin/bash
# Nodes whose firewall drops everything but SSH, one per kind of firewall
# (nftables, iptables with the nf_tables backend, legacy iptables; node 3
# IPv6-only): without --open-firewall an inventory fails fast and says
# what to do; with it, or with --tunnel, inventory and deploy work, also
# over a link-local address; and afterwards every node's rule set (nft
# list ruleset, iptables-save, ip6tables-save of both backends), its
# processes and sockets are exactly what they were before. The
# controller's own namespace drops incoming connections too: deploy
# opens its HTTPS port there and closes it again.
. "$(dirname "$0")/lib.sh"
require_root

: "${FWFLEET:?set FWFLEET to the fwfleet binary}"
tb_up 3 --ipv6-only 3
node_firewall 1 nft
node_firewall 2 iptables
node_firewall 3 legacy
ctl_firewall
tb_session
ctl_snapshot
KH=(--known-hosts "$TB_KNOWN_HOSTS")
ALL=(-n "$TB_DIR/nodes.ini" "${KH[@]}" --connect-timeout 3)

# 1. Blocked: each node fails within seconds, naming both ways out.
start=$(date +%s)
rc=0
out=$(fw inventory "${ALL[@]}" 2>&1) || rc=$?
took=$(($(date +%s) - start))
assert_eq 255 "$rc" "inventory through closed firewalls"
for i in 1 2 3; do
	line=$(grep "^node$i: failed" <<<"$out") || fail "node$i did not fail: $out"
	assert_contains "$line" "control port 62286 cannot be reached"
	assert_contains "$line" "--open-firewall"
	assert_contains "$line" "--tunnel"
done
[ "$took" -le 20 ] || fail "blocked nodes took ${took}s to fail (connect timeout 3 s)"
check_clean "blocked"
pass "closed firewalls: every node failed in ${took}s, naming --open-firewall and --tunnel"

# 2. --open-firewall: the engine opens its port in whichever firewall the
#    node has, tagged with the session, and closes it again.
out=$(fw -v inventory "${ALL[@]}" --open-firewall --json 2>"$SCRATCH/inv.err") ||
	fail "inventory with --open-firewall: $(cat "$SCRATCH/inv.err")"
for i in 1 2 3; do
	assert_eq "FWF000$i" "$(jq -r --arg n "node$i" '.nodes[] | select(.name == $n) |
		.inventory.system.serial' <<<"$out")" "node$i's inventory"
done
check_clean "--open-firewall"
pass "--open-firewall: nftables, iptables-nft and legacy iptables nodes answered; rule sets unchanged"

# 3. --tunnel: nothing but SSH reaches the nodes.
out=$(fw inventory "${ALL[@]}" --tunnel 2>&1) || fail "inventory with --tunnel: $out"
for i in 1 2 3; do assert_contains "$out" "node$i: ok"; done
check_clean "--tunnel"
pass "--tunnel: every node answered through SSH alone"

# 4. Deploy: payloads and status come back to the controller, through its
#    own opened port or through the tunnel.
"$FWFLEET" repo keygen "$SCRATCH/key" >/dev/null || fail "repo keygen"
"$FWFLEET" repo init "$SCRATCH/repo" >/dev/null
"$FWFLEET" repo add "$SCRATCH/repo" "$FWFLEET_SRC/tests/fixtures/deploy/after-1.0/" >/dev/null
"$FWFLEET" repo index "$SCRATCH/repo" >/dev/null
"$FWFLEET" repo sign "$SCRATCH/repo" --key "$SCRATCH/key" >/dev/null
DEP=(--pubkey "$SCRATCH/key.pub" -r "$SCRATCH/repo")
rm -rf "$NODE_ROOT_1"/var/lib/zz-after "$NODE_ROOT_2"/var/lib/zz-after "$NODE_ROOT_3"/var/lib/zz-after
out=$(fw deploy "${ALL[@]}" "${DEP[@]}" --open-firewall 2>&1) ||
	fail "deploy with --open-firewall: $out"
for i in 1 2 3; do
	root=NODE_ROOT_$i
	[ -f "${!root}/var/lib/zz-after/version" ] || fail "node$i: zz-after did not install"
done
check_clean "deploy --open-firewall"
ctl_clean "deploy --open-firewall"
pass "deploy --open-firewall: the controller's HTTPS port opened and closed again"

rm -rf "$NODE_ROOT_1"/var/lib/zz-after "$NODE_ROOT_2"/var/lib/zz-after "$NODE_ROOT_3"/var/lib/zz-after
out=$(fw deploy "${ALL[@]}" "${DEP[@]}" --tunnel 2>&1) || fail "deploy with --tunnel: $out"
for i in 1 2 3; do
	root=NODE_ROOT_$i
	[ -f "${!root}/var/lib/zz-after/version" ] || fail "node$i: zz-after did not install via the tunnel"
done
check_clean "deploy --tunnel"
ctl_clean "deploy --tunnel"
pass "deploy --tunnel: payloads and status rode inside SSH"

# 5. Link-local: node 1 reached as fe80::...%zone; the engine gives the
#    controller's link-local URL its own zone.
ll=''
for ((k = 0; k < 50; k++)); do	# DAD of the link-local address: bounded 5 s
	ll=$(ip -n "$NODE_NS_1" -6 -o addr show dev eth0 scope link |
		awk '!/tentative/ { sub("/.*", "", $4); print $4 }')
	[ -n "$ll" ] && break
	sleep 0.1
done
[ -n "$ll" ] || fail "node1 has no usable link-local address"
cp "$TB_KNOWN_HOSTS" "$SCRATCH/kh.ll"
rm -rf "$NODE_ROOT_1"/var/lib/zz-after
out=$(fw deploy -t "$ll%${TB_PREFIX}br" -i "$TB_KEY" --known-hosts "$SCRATCH/kh.ll" \
	--accept-new-host-keys "${DEP[@]}" --open-firewall 2>&1) ||
	fail "deploy over link-local: $out"
[ -f "$NODE_ROOT_1/var/lib/zz-after/version" ] || fail "link-local: zz-after did not install"
check_clean "link-local"
ctl_clean "link-local"
pass "deploy to $ll%${TB_PREFIX}br: the engine fetched from a link-local URL with its zone"
