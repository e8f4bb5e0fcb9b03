#!/bin/bash
# fwfleet repo and plan: a signed repository built from tests/fixtures/repo
# (repo init, add, index, keygen, sign, verify, list), then `plan` against
# four nodes with different hardware: each node gets its own actions, in
# dependency order, and the reasons for what it skips. A tampered payload
# is named and refused (254) before any node is touched; --rewrite,
# --downgrade, --component and --kind change the outcome; nothing to do
# exits 3; a failed node 255. After the fixture installers "flash" a node,
# its next plan has nothing to do.
. "$(dirname "$0")/lib.sh"
require_root

: "${FWFLEET:?set FWFLEET to the fwfleet binary}"
tb_up 4
tb_session
R=$SCRATCH/repo
KEY=$SCRATCH/keys/repo.key
FIXTURES=$FWFLEET_SRC/tests/fixtures/repo

# 1. Build, sign and verify the repository.
"$FWFLEET" repo init "$R" >/dev/null || fail "repo init"
n=0
for d in "$FIXTURES"/*/; do
	out=$("$FWFLEET" repo add "$R" "$d" 2>&1) || fail "repo add $d: $out"
	n=$((n + 1))
done
[ "$n" -ge 10 ] || fail "only $n fixture components"
out=$("$FWFLEET" repo index "$R" --chunk-size 2048) || fail "repo index: $out"
assert_contains "$out" "sign it"
mkdir -m 700 "$SCRATCH/keys"
"$FWFLEET" repo keygen "$KEY" >/dev/null || fail "repo keygen"
assert_eq 600 "$(stat -c %a "$KEY")" "private key mode"
rc=0; "$FWFLEET" repo keygen "$KEY" 2>/dev/null || rc=$?
assert_eq 254 "$rc" "keygen over an existing key"
"$FWFLEET" repo sign "$R" --key "$KEY" >/dev/null || fail "repo sign"
out=$("$FWFLEET" repo verify "$R" --pubkey "$KEY.pub" 2>&1) || fail "repo verify: $out"
assert_contains "$out" "ok: $n components"
assert_contains "$out" "signed with the pinned key"
assert_not_contains "$out" "WARNING"
out=$("$FWFLEET" repo verify "$R" 2>&1) || fail "repo verify with repo.pub: $out"
assert_contains "$out" "WARNING: no --pubkey"
openssl pkeyutl -verify -pubin -inkey "$R/repo.pub" -rawin -in "$R/index.json" \
	-sigfile "$R/index.json.sig" >/dev/null || fail "openssl does not verify the signature"
cmp -s "$R/repo.pub" "$KEY.pub" || fail "repo.pub is not the key's public half"
if grep -rlq "PRIVATE KEY" "$R"; then fail "a private key is in the repository"; fi
jq -e '.components | length == '"$n"' and all(.[]; .files | all(.[];
	.chunk_size == 2048 and (.chunk_sha256 | length) == ((.size + 2047) / 2048 | floor)))' \
	"$R/index.json" >/dev/null || fail "index.json chunk lists"
out=$("$FWFLEET" repo list "$R") || fail "repo list"
assert_contains "$out" "hpe-nvme-mzxl5           HPK2"
assert_contains "$(echo "$out" | grep ixgbe-82599-nvm)" "firmware"
"$FWFLEET" repo list "$R" --json | jq -e '.components | length == '"$n" >/dev/null ||
	fail "repo list --json"
out=$("$FWFLEET" repo index "$R" --chunk-size 2048) || fail "second repo index"
assert_contains "$out" "up to date"
[ -f "$R/index.json.sig" ] || fail "an unchanged index lost its signature"
pass "repository of $n components built, signed and verified"

# 2. Plan against four nodes: each gets what its hardware needs.
# Engines work in a directory of this test's own, checked empty at the end.
mkdir -m 755 "$SCRATCH/remote"
KH=(--known-hosts "$TB_KNOWN_HOSTS" --remote-dir "$SCRATCH/remote")
PLAN=(plan -n "$TB_DIR/nodes.ini" "${KH[@]}" --repo "$R" --pubkey "$KEY.pub")
declare -A WANT=(
	[dell-r740]="intel-p4610-fw VDV1DP25"
	[hpe-dl380-gen10]="bios-u30 2.90, hpe-nvme-mzxl5 HPK2, hpe-nvme-mzxl5 HPK3, i40e-driver 2.24.6, i40e-nvm 8.80"
	[lenovo-sr650]=""
	[supermicro-x11]="i40e-driver 2.24.6, ixgbe-82599-nvm 0x80000835"
)
# node_of PROFILE: the node that has it
node_of() {
	local i v
	for i in 1 2 3 4; do
		v=NODE_PROFILE_$i
		[ "${!v}" = "$1" ] && { echo "node$i"; return; }
	done
	fail "no node with profile $1"
}
DELL=$(node_of dell-r740)
HPE=$(node_of hpe-dl380-gen10)
LENOVO=$(node_of lenovo-sr650)
SMC=$(node_of supermicro-x11)
# installs NODE FILE: "id version, ..." in plan order
installs() {
	jq -r --arg n "$1" '.nodes[] | select(.name == $n) |
		[.install[] | "\(.id) \(.version)"] | join(", ")' "$2"
}
# item NODE FILE ID FIELD: a field of the node's install or skip entry
item() {
	jq -r --arg n "$1" --arg id "$3" --arg f "$4" '.nodes[] |
		select(.name == $n) | (.install + .skip)[] | select(.id == $id) |
		.[$f] // "null"' "$2" | head -n1
}

rc=0
fw "${PLAN[@]}" --json >"$SCRATCH/plan.json" 2>"$SCRATCH/plan.err" || rc=$?
assert_eq 0 "$rc" "plan exit status (stderr: $(cat "$SCRATCH/plan.err"))"
J=$SCRATCH/plan.json
for i in 1 2 3 4; do
	v=NODE_PROFILE_$i
	assert_eq "${WANT[${!v}]}" "$(installs "node$i" "$J")" "node$i (${!v}) installs"
done
assert_eq "U30 v2.80" "$(item "$HPE" "$J" bios-u30 installed)" "BIOS installed"
assert_eq "upgrade" "$(item "$HPE" "$J" bios-u30 reason)" "BIOS reason"
assert_eq true "$(item "$HPE" "$J" bios-u30 reboot_required)" "BIOS reboot"
assert_eq "8.70" "$(item "$HPE" "$J" i40e-nvm installed)" "NIC firmware installed"
assert_eq "stepping stone to HPK3" "$(jq -r --arg n "$HPE" '.nodes[] |
	select(.name == $n) | .install[1].reason' "$J")" "stepping stone"
assert_eq "installed version unknown" "$(item "$HPE" "$J" i40e-driver reason)"
assert_eq "already current (installed 16.35.2000)" "$(item "$DELL" "$J" mlx5-fw reason)"
assert_eq "not applicable (OS rhel; the component is for debian)" \
	"$(item "$DELL" "$J" i40e-driver reason)"
assert_eq "older than installed (installed EDA7602Q > EDA7502Q)" \
	"$(item "$LENOVO" "$J" samsung-pm983-fw reason)"
assert_eq "unmet dependency: needs lenovo-xcc ≥ 8.00 (not in the repository)" \
	"$(item "$LENOVO" "$J" lenovo-sr650-uefi reason)"
assert_eq "0x800006e1" "$(item "$SMC" "$J" ixgbe-82599-nvm installed)"
assert_eq "not applicable (no matching device)" "$(item "$SMC" "$J" i40e-nvm reason)"
jq -e '.summary == {"nodes": 4, "failed": 0, "with_installs": 3, "installs": 8}
	and .repository.signed and .repository.pinned' "$J" >/dev/null ||
	fail "summary: $(jq -c '.summary, .repository' "$J")"
jq -e 'all(.nodes[]; [.install[].id, .skip[].id] | unique | length == 9)' "$J" >/dev/null ||
	fail "every component is accounted for on every node"
assert_not_contains "$(cat "$SCRATCH/plan.err")" "WARNING"
pass "each node gets its own actions, in order, with reasons"

out=$(fw "${PLAN[@]}" 2>&1) || fail "text plan: $out"
assert_contains "$out" "$LENOVO: nothing to do"
assert_contains "$out" "$HPE: 5 to install"
assert_contains "$out" "install  bios-u30"
assert_contains "$out" "U30 v2.80 -> 2.90"
assert_contains "$out" "stepping stone to HPK3"
assert_contains "$out" "skip     samsung-pm983-fw"
out=$(fw plan -t "$HPE" -i "$TB_KEY" "${KH[@]}" --repo "$R" 2>&1) ||
	fail "plan trusting repo.pub: $out"
assert_contains "$out" "WARNING: no --pubkey"
pass "text output; a warning when only the repository's own key is used"

# 3. Options change the outcome.
rc=0; fw "${PLAN[@]}" --json --rewrite >"$SCRATCH/rw.json" 2>/dev/null || rc=$?
assert_eq 0 "$rc" "--rewrite"
assert_eq "intel-p4610-fw VDV1DP25, mlx5-fw 16.35.2000" "$(installs "$DELL" "$SCRATCH/rw.json")"
assert_eq "rewrite (same version)" "$(item "$DELL" "$SCRATCH/rw.json" mlx5-fw reason)"
assert_eq "" "$(installs "$LENOVO" "$SCRATCH/rw.json")" "--rewrite is no downgrade"
rc=0; fw "${PLAN[@]}" --component samsung-pm983-fw >"$SCRATCH/c.txt" 2>&1 || rc=$?
assert_eq 3 "$rc" "only an older component: nothing to do"
for i in 1 2 3 4; do assert_contains "$(cat "$SCRATCH/c.txt")" "node$i: nothing to do"; done
rc=0; fw "${PLAN[@]}" --json --component samsung-pm983-fw --downgrade \
	>"$SCRATCH/dg.json" 2>/dev/null || rc=$?
assert_eq 0 "$rc" "--downgrade"
assert_eq "samsung-pm983-fw EDA7502Q" "$(installs "$LENOVO" "$SCRATCH/dg.json")"
assert_eq "downgrade" "$(item "$LENOVO" "$SCRATCH/dg.json" samsung-pm983-fw reason)"
jq -e '.summary.with_installs == 1 and all(.nodes[]; (.skip + .install | length) == 1)' \
	"$SCRATCH/dg.json" >/dev/null || fail "--component limits every node to it"
rc=0; fw "${PLAN[@]}" --json --kind driver >"$SCRATCH/drv.json" 2>/dev/null || rc=$?
assert_eq 0 "$rc" "--kind driver"
assert_eq "i40e-driver 2.24.6" "$(installs "$HPE" "$SCRATCH/drv.json")"
assert_eq "i40e-driver 2.24.6" "$(installs "$SMC" "$SCRATCH/drv.json")"
assert_eq "" "$(installs "$DELL" "$SCRATCH/drv.json")"
rc=0; fw "${PLAN[@]}" --json --kind firmware -c i40e-nvm >"$SCRATCH/fw.json" 2>/dev/null || rc=$?
assert_eq 3 "$rc" "i40e-nvm alone cannot go"
assert_eq "unmet dependency: needs bios-u30 ≥ 2.90 (installed U30 v2.80; bios-u30 is not selected)" \
	"$(item "$HPE" "$SCRATCH/fw.json" i40e-nvm reason)"
rc=0; fw "${PLAN[@]}" --kind software >/dev/null 2>&1 || rc=$?
assert_eq 3 "$rc" "--kind software: nothing in the repository"
rc=0; fw plan -t "$LENOVO" -i "$TB_KEY" "${KH[@]}" --repo "$R" --pubkey "$KEY.pub" \
	>"$SCRATCH/l.txt" 2>&1 || rc=$?
assert_eq 3 "$rc" "a node with nothing to do"
assert_contains "$(cat "$SCRATCH/l.txt")" "$LENOVO: nothing to do"
pass "--rewrite, --downgrade, --component and --kind; exit 3 with nothing to do"

# 4. Bad parameters: 254, before any node is reached.
for args in "--component nosuch" "--kind bios" "--component Bad/Id" "--frobnicate"; do
	rc=0
	# shellcheck disable=SC2086
	fw "${PLAN[@]}" $args >"$SCRATCH/bad.txt" 2>&1 || rc=$?
	assert_eq 254 "$rc" "plan $args"
done
assert_contains "$(cat "$SCRATCH/bad.txt")" "see --help"
rc=0; fw plan -n "$TB_DIR/nodes.ini" "${KH[@]}" 2>"$SCRATCH/bad.txt" || rc=$?
assert_eq 254 "$rc" "plan without --repo"
assert_contains "$(cat "$SCRATCH/bad.txt")" "--repo DIR is required"
rc=0; fw plan --repo "$R" 2>"$SCRATCH/bad.txt" || rc=$?
assert_eq 254 "$rc" "plan without nodes"
pass "bad parameters exit 254"

# 5. A changed payload is named, and plan refuses the repository.
T=$SCRATCH/tampered
cp -a "$R" "$T"
P=$T/components/i40e-nvm/8.80/nvm-8.80.bin
tamper "$P" 3000
rc=0; "$FWFLEET" repo verify "$T" --pubkey "$KEY.pub" >"$SCRATCH/v.txt" 2>&1 || rc=$?
assert_eq 254 "$rc" "verify of a tampered repository"
assert_contains "$(cat "$SCRATCH/v.txt")" "components/i40e-nvm/8.80/nvm-8.80.bin: sha256 mismatch (index "
assert_contains "$(cat "$SCRATCH/v.txt")" "failed verification (1 problem)"
before=$(wc -l <"$TB_DIR/node1/sshd.log")
rc=0; fw plan -n "$TB_DIR/nodes.ini" "${KH[@]}" --repo "$T" --pubkey "$KEY.pub" \
	>"$SCRATCH/p.txt" 2>&1 || rc=$?
assert_eq 254 "$rc" "plan with a tampered payload"
assert_contains "$(cat "$SCRATCH/p.txt")" "components/i40e-nvm/8.80/nvm-8.80.bin: sha256 mismatch"
assert_contains "$(cat "$SCRATCH/p.txt")" "nothing was done"
assert_eq "$before" "$(wc -l <"$TB_DIR/node1/sshd.log")" "no node was contacted"
# An index changed after signing, and a key that is not the pinned one.
cp -a "$R" "$T.2"
sed -i 's/"version": "8.80"/"version": "8.81"/' "$T.2/index.json"
rc=0; fw "${PLAN[@]/$R/$T.2}" >"$SCRATCH/p.txt" 2>&1 || rc=$?
assert_eq 254 "$rc" "plan with a changed index"
assert_contains "$(cat "$SCRATCH/p.txt")" "index.json.sig: the signature does not verify"
"$FWFLEET" repo keygen "$SCRATCH/keys/other" >/dev/null
rc=0; fw plan -n "$TB_DIR/nodes.ini" "${KH[@]}" --repo "$R" \
	--pubkey "$SCRATCH/keys/other.pub" >"$SCRATCH/p.txt" 2>&1 || rc=$?
assert_eq 254 "$rc" "plan with another pinned key"
assert_contains "$(cat "$SCRATCH/p.txt")" "does not verify with the pinned key"
rm "$T.2/index.json.sig"
rc=0; fw "${PLAN[@]/$R/$T.2}" >"$SCRATCH/p.txt" 2>&1 || rc=$?
assert_eq 254 "$rc" "plan with an unsigned index"
assert_contains "$(cat "$SCRATCH/p.txt")" "the index is not signed"
pass "tampered payload, changed index and wrong key refused with 254"

# 6. A node that fails: 255; the others are still planned.
rc=0
fw plan -t "$NODE_V4_1,198.18.0.250" -i "$TB_KEY" "${KH[@]}" --repo "$R" \
	--pubkey "$KEY.pub" --connect-timeout 2 >"$SCRATCH/f.txt" 2>&1 || rc=$?
assert_eq 255 "$rc" "plan with an unreachable node"
assert_contains "$(cat "$SCRATCH/f.txt")" "198.18.0.250: failed:"
assert_contains "$(cat "$SCRATCH/f.txt")" "$NODE_V4_1: 1 to install"
pass "a failed node exits 255, the others are planned"

# 7. Flash node by node as a deploy would (the fixture installers, in plan
#    order, on the node's tree): the next plan has nothing to do.
for i in 1 2 3 4; do
	while read -r id version; do
		[ -n "$id" ] || continue
		d=$R/components/$id/$version
		mapfile -t argv < <(jq -r '.installer.command[]' "$d/component.json")
		rc=0
		(cd "$d" && node_exec "$i" "${argv[@]}" >/dev/null 2>&1) || rc=$?
		case $(jq -r '.return_codes | if type == "string" then . else "custom" end' \
			"$d/component.json"):$rc in
		hp-linux:0 | hp-linux:1 | hp-linux-multi:0 | rpm:0 | custom:0 | custom:10) ;;
		*) fail "node$i: installer of $id $version exited $rc" ;;
		esac
	done < <(jq -r --arg n "node$i" '.nodes[] | select(.name == $n) |
		.install[] | "\(.id) \(.version)"' "$J")
done
rc=0; fw "${PLAN[@]}" --json >"$SCRATCH/after.json" 2>"$SCRATCH/after.err" || rc=$?
assert_eq 3 "$rc" "plan after flashing (stderr: $(cat "$SCRATCH/after.err"))"
assert_eq "already current (installed U30 v2.90)" "$(item "$HPE" "$SCRATCH/after.json" bios-u30 reason)"
assert_eq "already current (installed HPK3)" "$(item "$HPE" "$SCRATCH/after.json" hpe-nvme-mzxl5 reason)"
assert_eq "already current (installed 2.24.6)" "$(item "$SMC" "$SCRATCH/after.json" i40e-driver reason)"
pass "after the installers ran, every node is current (exit 3)"

# Nothing of the sessions is left on the host.
left=$(ls -A "$SCRATCH/remote")
[ -z "$left" ] || fail "work directories left behind: $left"
live=$(pgrep -af "^$SCRATCH/remote/" || true)
[ -z "$live" ] || fail "an engine is still running: $live"
pass "nothing left behind"
