#!/bin/bash
# fwfleet diag and fwfleet-engine diag against a running deploy. Two nodes
# run an installer that takes a while; meanwhile:
#   `fwfleet diag` (mutual TLS, a diag certificate) shows each engine's
#   version, build, mode, pid, state, job and component phase, work
#   directory, session, certificate and when the controller was last seen,
#   as JSON and for people; a controller with another CA is refused with
#   a message that says so, and the engine notes the refusal;
#   `fwfleet-engine diag` on the node (the local socket) finds the same
#   engine; a user who is not root is refused, even one who can reach the
#   socket.
# Then the controller is killed with SIGKILL, and diag is polled while the
# engines are orphaned: they still clean up within their idle timeout, and
# nothing is left (diag.sock included). Last, diag against a node with no
# engine fails fast and says so.
. "$(dirname "$0")/lib.sh"
require_root

: "${FWFLEET:?set FWFLEET to the fwfleet binary}"
: "${FWFLEET_ENGINE:?set FWFLEET_ENGINE to the fwfleet-engine binary}"
tb_up 2
node_firewall 2 nft
tb_session
FIX=$FWFLEET_SRC/tests/fixtures
IDLE=4
VERSION=$("$FWFLEET_ENGINE" version | awk '{ print $2 }')
"$FWFLEET" repo keygen "$SCRATCH/key" >/dev/null || fail "repo keygen"

# The slow fixture, slower: its installer takes 25 s.
cp -r "$FIX/deploy/slow-1.0" "$SCRATCH/slow"
sed -i 's/SLOW_SECONDS:-3/SLOW_SECONDS:-25/' "$SCRATCH/slow/install.sh"
"$FWFLEET" repo init "$SCRATCH/repo" >/dev/null || fail "repo init"
"$FWFLEET" repo add "$SCRATCH/repo" "$SCRATCH/slow/" >/dev/null || fail "repo add"
"$FWFLEET" repo index "$SCRATCH/repo" >/dev/null || fail "repo index"
"$FWFLEET" repo sign "$SCRATCH/repo" --key "$SCRATCH/key" >/dev/null || fail "repo sign"
rm -rf "$NODE_ROOT_1/var/lib/slow-agent" "$NODE_ROOT_2/var/lib/slow-agent"

ip netns exec "$TB_NS" "$FWFLEET" deploy -n "$TB_DIR/nodes.ini" \
	--known-hosts "$TB_KNOWN_HOSTS" --pubkey "$SCRATCH/key.pub" \
	--idle-timeout "$IDLE" --open-firewall -r "$SCRATCH/repo" \
	>"$SCRATCH/d.out" 2>"$SCRATCH/d.err" &
DPID=$!
tb_on_exit "kill -KILL $DPID 2>/dev/null"
both_installing() { [ "$(grep -c 'slow-agent 1.0: installing' "$SCRATCH/d.err")" -ge 2 ]; }
wait_until 30 both_installing
JOB=$(ls "$FWFLEET_STATE_DIR/jobs")
[ -n "$JOB" ] || fail "no job directory"

# 1. fwfleet diag --json: one object per node.
fw diag -n "$TB_DIR/nodes.ini" --json >"$SCRATCH/diag.json" 2>"$SCRATCH/diag.err" ||
	fail "fwfleet diag --json: $(cat "$SCRATCH/diag.err")"
jqd() { jq -r "$@" "$SCRATCH/diag.json"; }
assert_eq 2 "$(jqd length)" "one object per node"
for i in 1 2; do
	o=".[$((i - 1))]"
	addr=$(_node_var "$i" ADDR)
	assert_eq "node$i" "$(jqd "$o.node")" "node name"
	assert_eq "$addr" "$(jqd "$o.address")" "address"
	assert_eq true "$(jqd "$o.ok")" "node$i answered"
	assert_eq "$VERSION" "$(jqd "$o.version")" "version"
	assert_eq ephemeral "$(jqd "$o.mode")" "mode"
	assert_eq "installing slow-agent" "$(jqd "$o.state")" "state"
	assert_eq "$JOB" "$(jqd "$o.job_id")" "job id"
	assert_eq "slow-agent 1.0 installing" \
		"$(jqd "$o.components[0] | \"\(.id) \(.version) \(.phase)\"")" "component"
	[ "$(jqd "$o.components[0].bytes_total")" -gt 0 ] || fail "no staged bytes"
	sid=$(jqd "$o.session_id")
	wd=$(jqd "$o.workdir")
	assert_eq "/tmp/fwfleet-$sid-$((i - 1))" "$wd" "work directory"
	[ -d "$wd" ] && [ -S "$wd/diag.sock" ] || fail "no $wd/diag.sock"
	pid=$(jqd "$o.pid")
	assert_eq "$wd/fwfleet-engine" "$(readlink "/proc/$pid/exe")" "pid $pid is the engine"
	assert_eq 62286 "$(jqd "$o.port")" "control port"
	assert_eq "$IDLE" "$(jqd "$o.idle_timeout_s")" "idle timeout"
	assert_eq "node$i" "$(jqd "$o.node_name")" "node name of the engine"
	assert_contains "$(jqd "$o.build")" "sha256 $(sha256sum "$wd/fwfleet-engine" | cut -d' ' -f1)"
	assert_contains "$(jqd "$o.cert_subject")" "fwfleet-engine $addr"
	e=$(jqd "$o.cert_expires_in_s")
	[ "$e" -gt 3600 ] && [ "$e" -le 86400 ] || fail "certificate expiry in $e s"
	a=$(jqd "$o.last_seen_ago_s")
	[ "$a" -ge 0 ] && [ "$a" -lt 60 ] || fail "controller last seen $a s ago"
	[ "$(jqd "$o.uptime_s")" -lt 120 ] || fail "uptime"
done
# Node 2 filters input: its engine holds the rules that open its port.
assert_eq 0 "$(jqd '.[0].firewall_rules | length')" "node1 has no firewall to open"
[ "$(jqd '.[1].firewall_rules | length')" -ge 1 ] || fail "node2's engine holds no rule"
assert_contains "$(jqd '.[1].firewall_rules[0]')" "tcp dport 62286 accept"
SID=$(jqd '.[0].session_id')
WD1=$(jqd '.[0].workdir')
PID1=$(jqd '.[0].pid')
pass "fwfleet diag --json: version, mode, pid, state, job, component, work dir, cert, last seen, rules"

# 2. For people: the same, aligned.
out=$(fw diag "$NODE_ADDR_1" -t "$NODE_ADDR_2") || fail "fwfleet diag: $out"
assert_contains "$out" "$NODE_ADDR_1"$'\n'"  version:"
assert_contains "$out" "$NODE_ADDR_2"$'\n'"  version:"
for want in "version:         $VERSION" "mode:            ephemeral" \
	"pid:             $PID1" "state:           installing slow-agent" \
	"job:             $JOB" "session:         $SID" "work dir:        $WD1" \
	"slow-agent 1.0: installing, 0%" "cert subject:    CN=fwfleet-engine" \
	"cert expires:" "controller seen:" " s ago)" "firewall rules:  0"; do
	assert_contains "$out" "$want"
done
pass "fwfleet diag: human output"

# 3. A controller with another CA is refused, says so, and the engine
#    keeps a note of it; so is a name the engine's certificate lacks (it
#    was deployed to by address).
mkdir -p "$SCRATCH/other"
FWFLEET_STATE_DIR=$SCRATCH/other "$FWFLEET" pki init >/dev/null || fail "pki init (other)"
rc=0
out=$(FWFLEET_STATE_DIR=$SCRATCH/other fw diag -t "$NODE_ADDR_1" 2>&1) || rc=$?
assert_eq 255 "$rc" "diag with another CA"
assert_contains "$out" "not signed by this controller's CA"
fw diag -t "$NODE_ADDR_1" --json >"$SCRATCH/diag2.json" || fail "diag after the refusal"
jq -e '.[0].recent_errors | map(.message) |
	any(test("refused a control connection from .*"))' "$SCRATCH/diag2.json" >/dev/null ||
	fail "the refusal is not among the recent errors: $(jq -c '.[0].recent_errors' "$SCRATCH/diag2.json")"
jq -e '.[0].recent_errors[0].time_unix > 0' "$SCRATCH/diag2.json" >/dev/null || fail "error without a time"
rc=0
out=$(fw diag node1 2>&1) || rc=$?
assert_eq 255 "$rc" "diag by a name the certificate does not hold"
assert_contains "$out" "certificate does not name this address"
pass "another CA, another name: refused with a message; the engine noted it"

# 4. fwfleet-engine diag on the node: the same engine, through its socket.
node_exec 1 "$FWFLEET_ENGINE" diag --json >"$SCRATCH/local.json" 2>"$SCRATCH/local.err" ||
	fail "fwfleet-engine diag: $(cat "$SCRATCH/local.err")"
loc() { jq -r --arg w "$WD1" ".[] | select(.workdir == \$w) | $1" "$SCRATCH/local.json"; }
assert_eq "$WD1/diag.sock" "$(loc .address)" "found by its socket"
assert_eq "$PID1" "$(loc .pid)" "same engine (pid)"
assert_eq "$SID" "$(loc .session_id)" "same session"
assert_eq ephemeral "$(loc .mode)" "mode"
assert_eq installing "$(loc '.components[0].phase')" "component phase"
out=$(node_exec 1 "$FWFLEET_ENGINE" diag --socket "$WD1/diag.sock") || fail "fwfleet-engine diag --socket: $out"
assert_contains "$out" "$WD1/diag.sock"
assert_contains "$out" "pid:             $PID1"
assert_contains "$out" "state:           installing slow-agent"
pass "fwfleet-engine diag finds the same engine"

# 5. Not root: refused, whether the directory keeps the user out or the
#    user can reach the socket anyway (CAP_DAC_OVERRIDE): SO_PEERCRED.
cp "$FWFLEET_ENGINE" "$SCRATCH/engine-copy" && chmod 755 "$SCRATCH" "$SCRATCH/engine-copy"
rc=0
out=$(node_exec 1 setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$SCRATCH/engine-copy" diag --socket "$WD1/diag.sock" 2>&1) || rc=$?
assert_eq 1 "$rc" "exit status for nobody ($out)"
assert_contains "$out" "run as root"
rc=0
out=$(node_exec 1 setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=+dac_override --ambient-caps=+dac_override \
	"$SCRATCH/engine-copy" diag --socket "$WD1/diag.sock" 2>&1) || rc=$?
assert_eq 1 "$rc" "exit status for nobody with CAP_DAC_OVERRIDE ($out)"
assert_contains "$out" "answers root only"
rm -f "$SCRATCH/engine-copy"
chmod 700 "$SCRATCH"
pass "a user who is not root is refused by the local socket"

# 6. The controller killed: diag polled every 0.5 s does not keep the
#    orphaned engines alive. Once the installer is done, each engine exits
#    within its idle timeout; what the controller was last seen stays.
kill -KILL "$DPID"
wait "$DPID" 2>/dev/null || true
seen=$(jqd '.[0].last_seen_unix')
t_done=
t_gone=
for ((k = 0; k < 160; k++)); do # installer (25 s) + idle timeout: bounded 80 s
	now=$(date +%s.%N)
	if ! fw diag -t "$NODE_ADDR_1" --json --connect-timeout 1 >"$SCRATCH/poll.json" 2>/dev/null; then
		t_gone=$now
		break
	fi
	state=$(jq -r '.[0].state' "$SCRATCH/poll.json")
	s=$(jq -r '.[0].last_seen_unix' "$SCRATCH/poll.json")
	[ "$s" -le "$((seen + 2))" ] || fail "a diag connection moved last_seen ($seen -> $s)"
	if [ -z "$t_done" ] && [ "$state" != "installing slow-agent" ]; then
		t_done=$now
		assert_eq done "$(jq -r '.[0].components[0].phase' "$SCRATCH/poll.json")" "phase after the installer"
		assert_eq 100 "$(jq -r '.[0].components[0].percent' "$SCRATCH/poll.json")" "percent when done"
	fi
	sleep 0.5
done
[ -n "$t_done" ] || fail "never saw the installer end"
[ -n "$t_gone" ] || fail "the orphaned engine is still running after 80 s of diag"
late=$(awk -v a="$t_gone" -v b="$t_done" 'BEGIN { printf "%.1f", a - b }')
awk -v l="$late" -v i="$IDLE" 'BEGIN { exit !(l < i + 3) }' ||
	fail "the engine outlived its idle timeout by polling: gone $late s after its installer"
check_clean "controller killed, diag polled" --wait
[ ! -e "$WD1" ] || fail "$WD1 left"
pass "orphaned engines exited ${late} s after their installer (idle timeout $IDLE s) while diag polled"

# 7. No engine: fails fast and says so; a firewall that drops the port
#    is told apart; bad parameters are 254.
start=$(date +%s)
rc=0
out=$(fw diag -t "$NODE_ADDR_1" 2>&1) || rc=$?
assert_eq 255 "$rc" "diag without an engine"
assert_contains "$out" "no engine or agent answers on $NODE_ADDR_1 ports 62286-62349 (connection refused): none is running there"
[ $(($(date +%s) - start)) -le 5 ] || fail "diag without an engine took $(($(date +%s) - start)) s"
rc=0
out=$(fw diag -t "$NODE_ADDR_2" --connect-timeout 1 --json 2>&1 >/dev/null) || rc=$?
assert_eq 255 "$rc" "diag through a firewall that drops the port"
assert_contains "$out" "$NODE_ADDR_2: no answer from $NODE_ADDR_2 port 62286 within 1 s: the node is down, or a firewall drops the port"
rc=0
fw diag --json >/dev/null 2>&1 || rc=$?
assert_eq 254 "$rc" "diag without nodes"
rc=0
out=$(node_exec 1 "$FWFLEET_ENGINE" diag --remote-dir "$SCRATCH" 2>&1) || rc=$?
assert_eq 1 "$rc" "fwfleet-engine diag with no engine"
assert_contains "$out" "no engine runs here"
check_clean "after the failing cases"
pass "diag against a node without an engine fails fast with the reason"
