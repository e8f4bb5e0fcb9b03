#!/bin/bash
# The controller's CLI without a fleet: every subcommand has --help; bad
# parameters exit 254; `version` names the engine's sha256, which matches
# what `engine extract` writes and the engine built alongside; the extracted
# engine runs; `ports` shows the configured ports; `pki init` keeps an
# existing CA.
. "$(dirname "$0")/lib.sh"

: "${FWFLEET:?set FWFLEET to the fwfleet binary}"
: "${FWFLEET_BUILD:?set FWFLEET_BUILD to the build directory}"
tb_tmpdir SCRATCH
export FWFLEET_STATE_DIR=$SCRATCH/state

for cmd in "inventory" "pki init" "engine extract" "ports" "version" \
	"repo init" "repo add" "repo index" "repo list" "repo verify" \
	"repo sign" "repo keygen" "plan" "deploy" "jobs" "report" \
	"cleanup" "agent" "diag" "pki revoke"; do
	# shellcheck disable=SC2086
	out=$("$FWFLEET" $cmd --help) || fail "'$cmd --help' failed"
	assert_contains "$out" "usage: fwfleet $cmd"
done
out=$("$FWFLEET" --help)
for cmd in inventory "pki init" "engine extract" ports version \
	"repo init" "repo sign" plan deploy jobs report cleanup agent diag \
	"pki revoke"; do
	assert_contains "$out" "$cmd"
done
# Options that do not go together, and bad values, are refused at once.
for bad in "--open-firewall --tunnel" "--via sometimes" "--tunnel --via agent"; do
	rc=0
	# shellcheck disable=SC2086
	"$FWFLEET" inventory -t node1 $bad 2>/dev/null || rc=$?
	assert_eq 254 "$rc" "inventory $bad"
done
rc=0; "$FWFLEET" agent install -t node1 --require-signed 2>/dev/null || rc=$?
assert_eq 254 "$rc" "--require-signed without --pubkey"
rc=0; "$FWFLEET" agent frob -t node1 2>/dev/null || rc=$?
assert_eq 254 "$rc" "agent with an unknown verb"
pass "every subcommand has --help, listed in fwfleet --help"

rc=0; "$FWFLEET" frobnicate 2>/dev/null || rc=$?
assert_eq 254 "$rc" "unknown command"
rc=0; "$FWFLEET" inventory 2>"$SCRATCH/err" || rc=$?
assert_eq 254 "$rc" "inventory without nodes"
assert_contains "$(cat "$SCRATCH/err")" "-n FILE or -t LIST"
rc=0; "$FWFLEET" inventory -t node1 --parallel 0 2>/dev/null || rc=$?
assert_eq 254 "$rc" "--parallel 0"
printf '[web\nnode1\n' >"$SCRATCH/bad.ini"
rc=0; "$FWFLEET" inventory -n "$SCRATCH/bad.ini" 2>"$SCRATCH/err" || rc=$?
assert_eq 254 "$rc" "bad inventory file"
assert_contains "$(cat "$SCRATCH/err")" "bad.ini:1"
rc=0; "$FWFLEET" inventory -t node1 2>"$SCRATCH/err" || rc=$?
assert_eq 255 "$rc" "inventory without a CA"
assert_contains "$(cat "$SCRATCH/err")" "fwfleet pki init"
rc=0; "$FWFLEET" deploy -t node1 2>"$SCRATCH/err" || rc=$?
assert_eq 254 "$rc" "deploy without --repo"
assert_contains "$(cat "$SCRATCH/err")" "--repo DIR is required"
rc=0; "$FWFLEET" deploy -t node1 -r "$SCRATCH/no-such-repo" 2>"$SCRATCH/err" || rc=$?
assert_eq 254 "$rc" "deploy with a missing repository"
rc=0; "$FWFLEET" report no-such-job 2>/dev/null || rc=$?
[ "$rc" != 0 ] || fail "report of a missing job succeeded"
pass "bad parameters exit 254; a missing CA says to run pki init"

"$FWFLEET" pki init >/dev/null || fail "pki init"
sum1=$(sha256sum "$FWFLEET_STATE_DIR/pki/ca.crt")
"$FWFLEET" pki init >"$SCRATCH/out" || fail "second pki init"
assert_contains "$(cat "$SCRATCH/out")" "already exists"
assert_eq "$sum1" "$(sha256sum "$FWFLEET_STATE_DIR/pki/ca.crt")" "CA kept"
"$FWFLEET" pki init --force >/dev/null || fail "pki init --force"
[ "$sum1" != "$(sha256sum "$FWFLEET_STATE_DIR/pki/ca.crt")" ] || fail "--force kept the CA"
pass "pki init keeps an existing CA; --force replaces it"

ver=$("$FWFLEET" version)
assert_contains "$ver" "fwfleet 0."
sha=$(awk '/^fwfleet-engine/ { print $NF }' <<<"$ver")
[ ${#sha} -eq 64 ] || fail "no engine sha256 in: $ver"
out=$("$FWFLEET" engine extract "$SCRATCH")
assert_eq "$sha  $SCRATCH/fwfleet-engine-linux-x86_64" "$out" "extract output"
assert_eq "$sha" "$(sha256sum <"$SCRATCH/fwfleet-engine-linux-x86_64" | cut -d' ' -f1)" "extracted sha256"
assert_eq "$sha" "$(sha256sum <"$FWFLEET_BUILD/engine.stripped" | cut -d' ' -f1)" "embedded = built"
file "$SCRATCH/fwfleet-engine-linux-x86_64" 2>/dev/null | grep -q "statically linked" ||
	ldd "$SCRATCH/fwfleet-engine-linux-x86_64" 2>&1 | grep -q "not a dynamic executable" ||
	fail "the extracted engine is not statically linked"
assert_contains "$("$SCRATCH/fwfleet-engine-linux-x86_64" version)" "fwfleet-engine 0."
rc=0; "$FWFLEET" engine extract "$SCRATCH/missing/dir" 2>"$SCRATCH/err" || rc=$?
assert_eq 255 "$rc" "extract into a missing directory"
assert_contains "$(cat "$SCRATCH/err")" "cannot write"
pass "version names the engine's sha256; extract writes that engine; it is static and runs"

out=$("$FWFLEET" ports --engine-port 62300 --port 8443)
assert_contains "$out" "22/tcp"
assert_contains "$out" "62300/tcp (or next free)"
assert_contains "$out" "8443/tcp"
assert_contains "$("$FWFLEET" ports)" "63002/tcp"
pass "ports shows the configured ports"
