#!/bin/bash
# fwfleet deploy on namespace nodes with the fixture repository: each node
# gets the components its hardware calls for; installers "flash" by
# editing the node's sysfs tree, so a later inventory shows the new
# versions and a second deploy has nothing to do (exit 3). A failing
# installer fails its component only; a payload changed after indexing is
# refused before its installer runs; a download cut mid-way resumes with
# the right hash; Ctrl-C lets the running installer finish and skips the
# rest. After every run, nothing is left on any node.
. "$(dirname "$0")/lib.sh"
require_root

: "${FWFLEET:?set FWFLEET to the fwfleet binary}"
tb_up 4 --ipv6-only 3
tb_session
FIX=$FWFLEET_SRC/tests/fixtures
"$FWFLEET" repo keygen "$SCRATCH/key" >/dev/null || fail "repo keygen"
DEP=(--known-hosts "$TB_KNOWN_HOSTS" --pubkey "$SCRATCH/key.pub")
ALL=(-n "$TB_DIR/nodes.ini")
ONE=(-t node1 -i "$TB_KEY")

# result JOB NODE COMPONENT: the component's outcome in the job's report.
last_report() { "$FWFLEET" report last --format json; }
outcome() {
	jq -r --arg n "$2" --arg c "$3" '.nodes[] | select(.name == $n) |
		.components[] | select(.id == $c) | .outcome' "$1"
}
# reason REPORT NODE COMPONENT: why the plan skipped it ("" if installed).
reason() {
	jq -r --arg n "$2" --arg c "$3" '.nodes[] | select(.name == $n) |
		.components[] | select(.id == $c and .action == "skip") |
		.reason' "$1"
}

# deploy OUT_PREFIX ARGS...: runs a deploy, keeps its output and report.
deploy() {
	local out=$1
	shift
	RC=0
	fw deploy "$@" >"$out.out" 2>"$out.err" || RC=$?
	last_report >"$out.json" || fail "no report after $out"
}

# 1. Each node gets what its hardware calls for.
make_repo "$SCRATCH/repo" "$FIX"/repo/*/
deploy "$SCRATCH/d1" "${DEP[@]}" "${ALL[@]}" -r "$SCRATCH/repo"
assert_eq 1 "$RC" "first deploy: success with a reboot needed ($(cat "$SCRATCH/d1.err"))"
R=$SCRATCH/d1.json
for c in bios-u30 i40e-driver i40e-nvm; do
	o=$(outcome "$R" node2 "$c")
	[[ $o == success* ]] || fail "node2 (HPE) $c: $o"
done
[ "$(outcome "$R" node1 intel-p4610-fw)" = success-reboot-required ] ||
	fail "node1 (Dell) intel-p4610-fw: $(outcome "$R" node1 intel-p4610-fw)"
[ "$(outcome "$R" node4 ixgbe-82599-nvm)" = success ] || fail "node4 (Supermicro) ixgbe-82599-nvm"
assert_contains "$(reason "$R" node3 bios-u30)" "not applicable" "node3 (Lenovo) and the HPE BIOS"
assert_contains "$(reason "$R" node1 i40e-nvm)" "not applicable" "node1 (Dell) and the Intel NIC NVM"
assert_contains "$(cat "$SCRATCH/d1.out")" "node3: ok"
check_clean "first deploy"
pass "each node got the components its hardware calls for"

# The flash shows in a new inventory; the same deploy has nothing to do.
fw inventory -n "$TB_DIR/nodes.ini" --known-hosts "$TB_KNOWN_HOSTS" --json \
	>"$SCRATCH/inv.json" 2>/dev/null || fail "inventory after deploy"
fwv=$(jq -r '.nodes[] | select(.name == "node2") | .inventory.nics[] |
	select(.driver == "i40e") | .firmware_version' "$SCRATCH/inv.json")
assert_contains "$fwv" "8.80" "node2's i40e firmware after the flash"
bios=$(jq -r '.nodes[] | select(.name == "node2") | .inventory.system.bios_version' "$SCRATCH/inv.json")
assert_contains "$bios" "2.90" "node2's BIOS after the flash"
deploy "$SCRATCH/d2" "${DEP[@]}" "${ALL[@]}" -r "$SCRATCH/repo"
assert_eq 3 "$RC" "second deploy: nothing to do ($(cat "$SCRATCH/d2.err"))"
check_clean "second deploy"
pass "a new inventory shows the flashed versions; a second deploy exits 3"

# 2. A failing installer fails its component on its node only; the other
#    nodes, and that node's independent components, go on.
make_repo "$SCRATCH/repo2" "$FIX"/deploy/fails-hpe-1.0/ "$FIX"/deploy/after-1.0/
deploy "$SCRATCH/d3" "${DEP[@]}" "${ALL[@]}" -r "$SCRATCH/repo2"
assert_eq 253 "$RC" "exit status with a failed component"
R=$SCRATCH/d3.json
assert_eq failed "$(outcome "$R" node2 fails-on-hpe)" "node2 fails-on-hpe"
for i in 1 2 3 4; do
	assert_eq success "$(outcome "$R" "node$i" zz-after)" "node$i zz-after"
	root=NODE_ROOT_$i
	[ -f "${!root}/var/lib/zz-after/version" ] || fail "node$i: zz-after did not run"
done
assert_contains "$(reason "$R" node1 fails-on-hpe)" "not applicable" "fails-on-hpe on a Dell"
assert_contains "$(cat "$SCRATCH/d3.out")" "fails-on-hpe"
log=$(cat "$FWFLEET_STATE_DIR"/jobs/"$(jq -r .job.id "$R")"/nodes/node2.log)
assert_contains "$log" "the flash tool reported an error" "node2's log holds the installer output"
check_clean "failing installer"
pass "a failing installer fails only its component; the rest went on"

# 3. A payload changed after indexing is refused before its installer runs.
mkdir -p "$SCRATCH/big"
cp -a "$FIX"/deploy/big-1.0/. "$SCRATCH/big/"
head -c $((6 * 1024 * 1024 + 12345)) /dev/urandom >"$SCRATCH/big/blob.bin"
want=$(sha256sum <"$SCRATCH/big/blob.bin" | cut -d' ' -f1)
make_repo "$SCRATCH/repo3" "$SCRATCH/big/"
blob=$SCRATCH/repo3/components/big-payload/1.0/blob.bin
cp "$blob" "$SCRATCH/blob.good"
tamper "$blob" 3000000
rc=0
"$FWFLEET" repo verify "$SCRATCH/repo3" --pubkey "$SCRATCH/key.pub" >"$SCRATCH/verify.txt" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "repo verify accepted a changed payload"
assert_contains "$(cat "$SCRATCH/verify.txt")" "components/big-payload/1.0/blob.bin"
deploy "$SCRATCH/d4" "${DEP[@]}" "${ONE[@]}" -r "$SCRATCH/repo3"
assert_eq 253 "$RC" "exit status with a changed payload ($(cat "$SCRATCH/d4.err"))"
assert_eq failed "$(outcome "$SCRATCH/d4.json" node1 big-payload)" "node1 big-payload"
assert_contains "$(cat "$SCRATCH/d4.out")" "sha256 mismatch"
[ ! -e "$NODE_ROOT_1/var/lib/big-payload" ] || fail "the installer ran on a changed payload"
check_clean "changed payload"
pass "a payload changed after indexing is refused before its installer runs"

# 4. A download cut mid-way resumes and completes with the right hash:
#    node1 resets its connection to the controller after each 2 MB.
cp "$SCRATCH/blob.good" "$blob"
cut_rule=(OUTPUT -p tcp --dport 63002 -m connbytes --connbytes 2000000:
	--connbytes-dir reply --connbytes-mode bytes -j REJECT --reject-with tcp-reset)
# iptables creates its filter table on first use; the test removes it
# again so that node1's rule set is what it was (check_clean compares).
had_filter=0
ip netns exec "$NODE_NS_1" nft list table ip filter >/dev/null 2>&1 && had_filter=1
ip netns exec "$NODE_NS_1" iptables -A "${cut_rule[@]}" || fail "iptables in node1"
tb_on_exit "ip netns exec '$NODE_NS_1' iptables -D ${cut_rule[*]} 2>/dev/null"
deploy "$SCRATCH/d5" "${DEP[@]}" "${ONE[@]}" -r "$SCRATCH/repo3"
cuts=$(ip netns exec "$NODE_NS_1" iptables -L OUTPUT -v -x -n | awk '/connbytes/ { print $1 }')
ip netns exec "$NODE_NS_1" iptables -D "${cut_rule[@]}"
[ "$had_filter" = 1 ] || ip netns exec "$NODE_NS_1" nft delete table ip filter
assert_eq 0 "$RC" "deploy through a cut connection ($(cat "$SCRATCH/d5.err"))"
[ "${cuts:-0}" -gt 0 ] || fail "the connection was never cut"
assert_eq "$want" "$(cat "$NODE_ROOT_1/var/lib/big-payload/sha256")" "payload hash after resuming"
check_clean "cut download"
pass "a download cut $cuts time(s) resumed and completed with the right hash"

# 5. Ctrl-C during a deploy: the running installer completes, the rest is
#    skipped, nothing is left.
rm -rf "$NODE_ROOT_1/var/lib/slow-agent" "$NODE_ROOT_1/var/lib/zz-after"
make_repo "$SCRATCH/repo5" "$FIX"/deploy/slow-1.0/ "$FIX"/deploy/after-1.0/
ip netns exec "$TB_NS" "$FWFLEET" deploy "${DEP[@]}" "${ONE[@]}" \
	-r "$SCRATCH/repo5" >"$SCRATCH/d6.out" 2>"$SCRATCH/d6.err" &
pid=$!
wait_until 30 grep -q "slow-agent 1.0: installing" "$SCRATCH/d6.err"
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
assert_eq 255 "$rc" "exit status after Ctrl-C"
last_report >"$SCRATCH/d6.json"
assert_eq success "$(outcome "$SCRATCH/d6.json" node1 slow-agent)" "the running installer finished"
[ -f "$NODE_ROOT_1/var/lib/slow-agent/version" ] || fail "slow-agent did not complete"
o=$(outcome "$SCRATCH/d6.json" node1 zz-after)
[ "$o" = cancelled ] || [ "$o" = skipped ] || fail "zz-after after Ctrl-C: $o"
[ ! -e "$NODE_ROOT_1/var/lib/zz-after" ] || fail "zz-after ran after Ctrl-C"
check_clean "Ctrl-C"
pass "Ctrl-C: the running installer finished, the rest was skipped"

# 5b. A second Ctrl-C stops the running installer too (its whole process
#     group: the installer's `sleep` goes with it).
rm -rf "$NODE_ROOT_1/var/lib/slow-agent" "$NODE_ROOT_1/var/lib/zz-after"
ip netns exec "$TB_NS" "$FWFLEET" deploy "${DEP[@]}" "${ONE[@]}" \
	-r "$SCRATCH/repo5" >"$SCRATCH/d6b.out" 2>"$SCRATCH/d6b.err" &
pid=$!
wait_until 30 grep -q "slow-agent 1.0: installing" "$SCRATCH/d6b.err"
kill -INT "$pid"
wait_until 10 grep -q "cancelling" "$SCRATCH/d6b.err"
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
assert_eq 255 "$rc" "exit status after two Ctrl-C"
last_report >"$SCRATCH/d6b.json"
assert_eq cancelled "$(outcome "$SCRATCH/d6b.json" node1 slow-agent)" "the installer was stopped"
[ ! -e "$NODE_ROOT_1/var/lib/slow-agent/version" ] || fail "slow-agent ran to its end"
pgrep -f "sleep ${SLOW_SECONDS:-3}\$" >/dev/null && fail "the installer's sleep survived"
check_clean "two Ctrl-C"
pass "a second Ctrl-C stopped the running installer and its children"

# 6. Reboots: never by default; --reboot if-needed asks the engine when a
#    component needs one (on a test tree, the engine records the request
#    in the node's tree instead of rebooting the host).
marker=$NODE_ROOT_1/run/fwfleet-reboot
rm -f "$marker"
make_repo "$SCRATCH/repo6" "$FIX"/deploy/reboot-1.0/
deploy "$SCRATCH/d7" "${DEP[@]}" "${ONE[@]}" -r "$SCRATCH/repo6"
assert_eq 1 "$RC" "a reboot is needed ($(cat "$SCRATCH/d7.err"))"
[ ! -e "$marker" ] || fail "rebooted without --reboot"
deploy "$SCRATCH/d8" "${DEP[@]}" "${ONE[@]}" -r "$SCRATCH/repo6" \
	--reboot if-needed --reboot-delay 30
assert_eq 1 "$RC" "exit status with --reboot if-needed"
assert_eq 30 "$(cat "$marker" 2>/dev/null)" "the reboot asked for, with its delay"
assert_contains "$(cat "$SCRATCH/d8.err")" "reboot recorded"
rm -f "$marker"
rc=0
fw deploy "${DEP[@]}" "${ONE[@]}" -r "$SCRATCH/repo6" --reboot sometimes >/dev/null 2>&1 || rc=$?
assert_eq 254 "$rc" "a bad --reboot value"
check_clean "reboot"
pass "reboots only when asked (--reboot if-needed), with the given delay"
