#!/bin/bash
# fwfleet inventory with each way of logging in: a password (from the
# environment or a 0600 --password-file; a 0644 one is refused), a key as a
# non-root user with --sudo (NOPASSWD sudo, and sudo that wants the SSH
# password, fed through sudo -S), ssh-agent; a non-root user without --sudo
# is refused with advice. The password is never printed, even with -vv, and
# nothing is left on the nodes after any run. Last, testbed.sh down removes
# the test users and their sudoers file.
# SC2154: tb_tmpdir assigns its variable.
# shellcheck disable=SC2154
. "$(dirname "$0")/lib.sh"
require_root

: "${FWFLEET:?set FWFLEET to the fwfleet binary}"
tb_up 2 --test-user
tb_session

[ -n "$TB_USER" ] && [ -n "$TB_PUSER" ] || fail "tb_up --test-user set no TB_USER/TB_PUSER"
for f in "$TB_USER_PASSWORD_FILE" "$TB_PUSER_PASSWORD_FILE"; do
	assert_eq 600 "$(stat -c %a "$f")" "mode of $f"
done
PW=$(cat "$TB_USER_PASSWORD_FILE")
PPW=$(cat "$TB_PUSER_PASSWORD_FILE")
[ ${#PW} -ge 16 ] && [ ${#PPW} -ge 16 ] || fail "test user passwords too short"
sudoers=/etc/sudoers.d/$TB_USER
assert_eq 440 "$(stat -c %a "$sudoers")" "mode of $sudoers"


KH=(--known-hosts "$TB_KNOWN_HOSTS")
A1=$NODE_ADDR_1
A2=$NODE_ADDR_2

# run NAME [VAR=VALUE...] -- ARGS...: fwfleet ARGS in the controller
# namespace, with the variables set in its environment (not on a command
# line); output (both streams) in $SCRATCH/NAME.out, exit status in RC.
run() {
	local name=$1
	shift
	local -a vars=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
	[ $# -gt 0 ] || fail "run $name: no --"
	shift
	RC=0
	(
		for v in "${vars[@]}"; do export "${v?}"; done
		exec ip netns exec "$TB_NS" "$FWFLEET" "$@"
	) >"$SCRATCH/$name.out" 2>&1 </dev/null || RC=$?
	OUT=$(cat "$SCRATCH/$name.out")
}

# expect_ok NAME NODE...: the run succeeded and each node (index) returned
# its own inventory (its serial: the engine saw its simulated hardware).
expect_ok() {
	local name=$1 i a s
	shift
	assert_eq 0 "$RC" "$name: exit status (output: $OUT)"
	for i in "$@"; do
		a=NODE_ADDR_$i
		s=NODE_SERIAL_$i
		assert_contains "$OUT" "${!a}: ok" "$name"
		assert_contains "$OUT" "serial ${!s}" "$name"
	done
}

# The passwords never appear in what fwfleet prints.
no_password() {
	assert_not_contains "$OUT" "$PW" "$1: the test user's password was printed"
	assert_not_contains "$OUT" "$PPW" "$1: the sudo user's password was printed"
}

# ------------------------------------------------ a. password, --sudo
# No key anywhere: no -i, no agent, an empty HOME.
run pw-env "FWFLEET_SSH_PASSWORD=$PW" -- inventory -t "$A1,$A2" -u "$TB_USER" --sudo "${KH[@]}"
expect_ok "password from FWFLEET_SSH_PASSWORD" 1 2
no_password "password from FWFLEET_SSH_PASSWORD"
check_clean "password from the environment" --wait
pass "password auth as $TB_USER (FWFLEET_SSH_PASSWORD) with --sudo"

run pw-env-vv "FWFLEET_SSH_PASSWORD=$PW" -- -vv inventory -t "$A1" -u "$TB_USER" --sudo "${KH[@]}"
expect_ok "password from FWFLEET_SSH_PASSWORD, -vv" 1
no_password "password from FWFLEET_SSH_PASSWORD, -vv"
check_clean "password from the environment, -vv" --wait
pass "password auth with -vv: the password is not printed"

run pw-file -- inventory -t "$A2" -u "$TB_USER" --sudo --password-file "$TB_USER_PASSWORD_FILE" "${KH[@]}"
expect_ok "--password-file" 2
no_password "--password-file"
check_clean "--password-file" --wait
pass "password auth as $TB_USER (--password-file, 0600) with --sudo"

install -m 644 "$TB_USER_PASSWORD_FILE" "$SCRATCH/pw644"
run pw-644 -- inventory -t "$A1" -u "$TB_USER" --sudo --password-file "$SCRATCH/pw644" "${KH[@]}"
assert_eq 254 "$RC" "exit status with a 0644 password file (output: $OUT)"
assert_contains "$OUT" "chmod" "refusal of a 0644 password file"
assert_contains "$OUT" "$SCRATCH/pw644" "refusal names the file"
no_password "0644 password file"
check_clean "0644 password file" --wait
pass "a 0644 --password-file is refused with advice to chmod"

# ------------------------------------------- b. key, NOPASSWD sudo user
run key-sudo -- inventory -t "$A1,$A2" -u "$TB_USER" -i "$TB_KEY" --sudo "${KH[@]}"
expect_ok "key as $TB_USER with --sudo" 1 2
check_clean "key as $TB_USER with --sudo" --wait
pass "key auth as $TB_USER with --sudo (NOPASSWD)"

run key-nosudo -- inventory -t "$A1" -u "$TB_USER" -i "$TB_KEY" "${KH[@]}"
assert_eq 255 "$RC" "exit status of a non-root user without --sudo (output: $OUT)"
assert_contains "$OUT" "$A1: failed:" "non-root user without --sudo"
assert_contains "$OUT" "--sudo" "non-root user without --sudo"
check_clean "non-root user without --sudo" --wait
pass "a non-root user without --sudo is refused with advice to add --sudo"

# ------------------------------- c. sudo that asks for the password (sudo -S)
run psudo-pw "FWFLEET_SSH_PASSWORD=$PPW" -- inventory -t "$A1,$A2" -u "$TB_PUSER" --sudo "${KH[@]}"
expect_ok "password as $TB_PUSER with --sudo" 1 2
no_password "password as $TB_PUSER with --sudo"
check_clean "password as $TB_PUSER with --sudo" --wait
pass "password auth as $TB_PUSER, sudo fed the password (sudo -S)"

run psudo-key-vv -- -vv inventory -t "$A2" -u "$TB_PUSER" -i "$TB_KEY" \
	--password-file "$TB_PUSER_PASSWORD_FILE" --sudo "${KH[@]}"
expect_ok "key as $TB_PUSER, sudo password from --password-file, -vv" 2
no_password "key as $TB_PUSER, sudo password from --password-file, -vv"
check_clean "key as $TB_PUSER with a sudo password, -vv" --wait
pass "key auth as $TB_PUSER, sudo password from --password-file, -vv: not printed"

# Without the password, sudo cannot run: that node fails, nothing remains.
run psudo-nopw -- inventory -t "$A1" -u "$TB_PUSER" -i "$TB_KEY" --sudo "${KH[@]}"
assert_eq 255 "$RC" "exit status of sudo without its password (output: $OUT)"
assert_contains "$OUT" "$A1: failed:" "sudo without its password"
assert_contains "$OUT" "password" "sudo without its password"
check_clean "sudo without its password" --wait
pass "sudo that wants a password fails the node when none is given"

# A wrong sudo password fails once, clearly, before any data is sent (sudo
# must not read the engine as further password attempts).
install -m 600 /dev/null "$SCRATCH/wrongpw"
echo "not-the-password" >"$SCRATCH/wrongpw"
run psudo-wrongpw -- inventory -t "$A1" -u "$TB_PUSER" -i "$TB_KEY" --sudo \
	--password-file "$SCRATCH/wrongpw" "${KH[@]}"
assert_eq 255 "$RC" "exit status with a wrong sudo password (output: $OUT)"
assert_contains "$OUT" "$A1: failed: sudo refused the password for $TB_PUSER"
assert_not_contains "$OUT" "try again" "sudo asked again"
assert_not_contains "$OUT" "not-the-password" "the wrong password was printed"
check_clean "wrong sudo password" --wait
pass "a wrong sudo password fails the node once, before the engine is sent"

# ------------------------------------------------------------ d. ssh-agent
AGENT_SOCK=$SCRATCH/agent.sock
ssh-agent -D -a "$AGENT_SOCK" >/dev/null 2>&1 </dev/null &
AGENT_PID=$!
tb_on_exit "kill $AGENT_PID 2>/dev/null; wait $AGENT_PID 2>/dev/null"
wait_until 5 test -S "$AGENT_SOCK"
SSH_AUTH_SOCK=$AGENT_SOCK ssh-add -q "$TB_KEY" 2>/dev/null || fail "ssh-add"
SSH_AUTH_SOCK=$AGENT_SOCK ssh-add -l >/dev/null || fail "the agent holds no key"

# Without the agent there is no way in: the success below is the agent's.
run no-agent -- inventory -t "$A1" "${KH[@]}"
assert_eq 255 "$RC" "exit status with no key, agent or password (output: $OUT)"
assert_contains "$OUT" "authentication as root failed"
check_clean "no key, no agent" --wait

run agent "SSH_AUTH_SOCK=$AGENT_SOCK" -- inventory -t "$A1,$A2" "${KH[@]}"
expect_ok "root through ssh-agent" 1 2
check_clean "root through ssh-agent" --wait
pass "key from ssh-agent as root (no -i, empty HOME)"

run agent-user "SSH_AUTH_SOCK=$AGENT_SOCK" -- inventory -t "$A2" -u "$TB_USER" --sudo "${KH[@]}"
expect_ok "$TB_USER through ssh-agent with --sudo" 2
check_clean "$TB_USER through ssh-agent" --wait
pass "key from ssh-agent as $TB_USER with --sudo"

kill "$AGENT_PID" 2>/dev/null || true
wait "$AGENT_PID" 2>/dev/null || true

check_clean "all runs" --wait

# ---------------------------- down removes the test users and their sudoers
"$TESTBED" down "$TB_DIR" || fail "testbed down"
for u in "$TB_USER" "$TB_PUSER"; do
	getent passwd "$u" >/dev/null && fail "user $u left after down"
	getent group "$u" >/dev/null && fail "group $u left after down"
	[ ! -e "/run/sudo/ts/$u" ] || fail "sudo timestamp of $u left after down"
done
[ ! -e "$sudoers" ] || fail "$sudoers left after down"
[ ! -e "$TB_DIR" ] || fail "$TB_DIR left after down"
"$TESTBED" down "$TB_DIR" || fail "second down"
pass "down removes the test users and their sudoers file, and may run twice"

echo "PASS: $TEST_NAME"
