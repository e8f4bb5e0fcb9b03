# shellcheck shell=bash
# Helpers for the integration tests (tests/integration/test_*.sh). Source it:
#
#   . "$(dirname "$0")/lib.sh"
#   require_root
#   tb_up 3 --ipv6-only 3          # fleet; removed again when the test exits
#   node_ssh 1 'cat $FWFLEET_SYSROOT/sys/class/dmi/id/product_serial'
#
# Environment (from ctest): FWFLEET (controller binary), FWFLEET_ENGINE,
# FWFLEET_SRC (source dir; default: two levels up from here), FWFLEET_BUILD.
# TB_KEEP=1 leaves the fleet in place when the test exits (for debugging;
# remove it with scripts/testbed.sh down DIR).
#
# After tb_up the variables of DIR/nodes.env are set: TB_DIR, TB_PREFIX,
# TB_NS, TB_N, NODE_NS_<i>, NODE_V4_<i> (empty for ipv6-only nodes),
# NODE_V6_<i>, NODE_ADDR_<i> (v4, or v6 for ipv6-only), NODE_ROOT_<i>,
# NODE_SERIAL_<i>, NODE_PROFILE_<i>, NODE_SSHD_PID_<i>, TB_KEY, TB_KNOWN_HOSTS.

set -euo pipefail

: "${FWFLEET_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export FWFLEET_SRC
TESTBED=$FWFLEET_SRC/scripts/testbed.sh
TEST_NAME=$(basename "$0" .sh)
TB_DIR=
_TB_TMPDIRS=()
_TB_ON_EXIT=()

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

pass() {
	echo "ok: $*"
}

# assert_eq EXPECTED ACTUAL [MSG]
assert_eq() {
	local msg=${3:-values differ}
	if [ "$1" != "$2" ]; then
		fail "$msg: expected '$1', got '$2'"
	fi
}

# make_repo DIR COMPONENT_DIR...: a repository of those components, signed
# with $SCRATCH/key.
make_repo() {
	local dir=$1 c
	shift
	"$FWFLEET" repo init "$dir" >/dev/null || fail "repo init $dir"
	for c in "$@"; do
		"$FWFLEET" repo add "$dir" "$c" >/dev/null || fail "repo add $c"
	done
	"$FWFLEET" repo index "$dir" >/dev/null || fail "repo index $dir"
	"$FWFLEET" repo sign "$dir" --key "$SCRATCH/key" >/dev/null || fail "repo sign $dir"
}

# tamper FILE OFFSET: change the byte at OFFSET to another value.
tamper() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	[ -n "$b" ] || fail "tamper: $1 has no byte at $2"
	# shellcheck disable=SC2059
	printf "\\$(printf '%03o' $(((b + 1) % 256)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# assert_contains HAYSTACK NEEDLE [MSG]   (fixed string, grep -F)
assert_contains() {
	local msg=${3:-missing text}
	if ! grep -qF -- "$2" <<<"$1"; then
		fail "$msg: '$2' not found in: $1"
	fi
}

# assert_not_contains HAYSTACK NEEDLE [MSG]
assert_not_contains() {
	local msg=${3:-unexpected text}
	if grep -qF -- "$2" <<<"$1"; then
		fail "$msg: '$2' found in: $1"
	fi
}

require_root() {
	[ "$(id -u)" -eq 0 ] || fail "$TEST_NAME must run as root (it creates network namespaces)"
}

# wait_until SECONDS CMD... : run CMD every 0.1 s until it succeeds; fail
# after SECONDS.
wait_until() {
	local secs=$1 k
	shift
	for ((k = 0; k < secs * 10; k++)); do
		"$@" && return 0
		sleep 0.1
	done
	fail "timed out after ${secs}s waiting for: $*"
}

# tb_on_exit CMD: run CMD (a string, eval'd) when the test exits, before the
# fleet is removed.
tb_on_exit() {
	_TB_ON_EXIT+=("$1")
	_tb_arm_traps
}

_tb_arm_traps() {
	trap tb_down EXIT
	trap 'tb_down; exit 130' INT
	trap 'tb_down; exit 143' TERM
}

# tb_tmpdir VAR: make a scratch directory, removed when the test exits,
# and store its path in VAR.
tb_tmpdir() {
	local _d
	_d=$(mktemp -d "/tmp/fwf-$TEST_NAME.XXXXXX")
	_TB_TMPDIRS+=("$_d")
	_tb_arm_traps
	printf -v "$1" '%s' "$_d"
}

# A prefix for the namespaces (≤ 6 chars of [a-z0-9]) from the test name,
# unique among the namespaces present now.
_tb_prefix() {
	local base salt p k
	base=$(tr -cd 'a-z0-9' <<<"${TEST_NAME#test_}")
	base=${base:0:2}
	[ -n "$base" ] || base=t
	for ((k = 0; k < 50; k++)); do
		salt=$(printf '%s.%s.%s' "$TEST_NAME" "$$" "$k" | cksum | cut -d' ' -f1)
		p=$base$(printf '%04x' $((salt % 65536)))
		if ! ip netns list 2>/dev/null | awk '{print $1}' | grep -qE "^${p}(c|n[0-9]+)$"; then
			echo "$p"
			return 0
		fi
	done
	fail "no free namespace prefix"
}

# tb_up N [testbed options...]: bring up a fleet of N nodes (prefix
# TB_PREFIX if set, else derived from the test name), removed on exit.
tb_up() {
	local n=$1
	shift
	[ -z "$TB_DIR" ] || fail "tb_up: a fleet is up already ($TB_DIR)"
	if [ -z "${TB_PREFIX:-}" ]; then
		TB_PREFIX=$(_tb_prefix) || exit 1
	fi
	TB_DIR=$(mktemp -d "/tmp/fwf-$TEST_NAME.tb.XXXXXX")
	_tb_arm_traps
	"$TESTBED" up "$n" "$TB_DIR" --prefix "$TB_PREFIX" "$@" ||
		fail "testbed up $n failed"
	# shellcheck disable=SC1091
	. "$TB_DIR/nodes.env"
}

# tb_down: remove the fleet (idempotent); also runs the tb_on_exit hooks
# and removes the tb_tmpdir directories.
tb_down() {
	local rc=$? d c
	for c in "${_TB_ON_EXIT[@]}"; do
		eval "$c" || true
	done
	_TB_ON_EXIT=()
	if [ -n "$TB_DIR" ]; then
		if [ "${TB_KEEP:-0}" = 1 ]; then
			echo "TB_KEEP=1: fleet left in $TB_DIR; remove it with: $TESTBED down $TB_DIR" >&2
		else
			"$TESTBED" down "$TB_DIR" || echo "warning: testbed down $TB_DIR failed" >&2
		fi
	fi
	for d in "${_TB_TMPDIRS[@]}"; do
		rm -rf "$d"
	done
	_TB_TMPDIRS=()
_TB_ON_EXIT=()
	return $rc
}

# tb_exec CMD...: run CMD in the controller namespace.
tb_exec() {
	ip netns exec "$TB_NS" "$@"
}

_node_var() {
	local v=NODE_${2}_$1
	[ -n "${!v+x}" ] || fail "no node $1 in this fleet"
	echo "${!v}"
}

# node_exec I CMD...: run CMD in node I's namespace, with FWFLEET_SYSROOT
# set as in the node's ssh sessions.
node_exec() {
	local i=$1 ns root
	shift
	ns=$(_node_var "$i" NS)
	root=$(_node_var "$i" ROOT)
	ip netns exec "$ns" env FWFLEET_SYSROOT="$root" "$@"
}

# The OpenSSH client options for the fleet.
tb_ssh_opts() {
	printf '%s\n' -F /dev/null -i "$TB_KEY" -o IdentitiesOnly=yes \
		-o UserKnownHostsFile="$TB_KNOWN_HOSTS" -o GlobalKnownHostsFile=/dev/null \
		-o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=5 \
		-o LogLevel=ERROR
}

# tb_ssh ADDR CMD: ssh as root to ADDR from the controller namespace.
tb_ssh() {
	local addr=$1 opts
	shift
	mapfile -t opts < <(tb_ssh_opts)
	tb_exec ssh "${opts[@]}" "root@$addr" "$@"
}

# node_ssh I CMD: ssh to node I's main address (IPv4, or IPv6 if ipv6-only).
node_ssh() {
	local i=$1
	shift
	tb_ssh "$(_node_var "$i" ADDR)" "$@"
}

# ruleset_of NS: the namespace's full firewall rule set, as the operator
# would list it: nft list ruleset, iptables-save and ip6tables-save of both
# the nf_tables and the legacy backend; counters and time stamps dropped.
ruleset_of() {
	local ns=$1 t
	echo "# nft list ruleset"
	ip netns exec "$ns" nft list ruleset 2>&1 |
		sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/'
	for t in iptables-nft-save ip6tables-nft-save iptables-legacy-save ip6tables-legacy-save; do
		echo "# $t"
		ip netns exec "$ns" "$t" 2>&1 | sed -E -e '/^#/d' \
			-e 's/\[[0-9]+:[0-9]+\]/[0:0]/'
	done
}

# node_firewall I nft|iptables|legacy: node I drops every incoming packet
# but SSH (port 22), loopback and replies, with the named tool; what a
# locked-down production server does.
node_firewall() {
	local ns
	ns=$(_node_var "$1" NS)
	case $2 in
	nft)
		ip netns exec "$ns" nft -f - <<-'EOF'
		table inet hostfw {
			chain input {
				type filter hook input priority filter; policy drop;
				ct state established,related accept
				iif lo accept
				tcp dport 22 accept
				meta l4proto ipv6-icmp accept
			}
		}
		EOF
		;;
	iptables | legacy)
		local v4=iptables-nft v6=ip6tables-nft
		[ "$2" = legacy ] && { v4=iptables-legacy; v6=ip6tables-legacy; }
		for t in "$v4" "$v6"; do
			ip netns exec "$ns" "$t" -w -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
			ip netns exec "$ns" "$t" -w -A INPUT -i lo -j ACCEPT
			ip netns exec "$ns" "$t" -w -A INPUT -p tcp --dport 22 -j ACCEPT
		done
		ip netns exec "$ns" "$v6" -w -A INPUT -p ipv6-icmp -j ACCEPT
		ip netns exec "$ns" "$v4" -w -P INPUT DROP
		ip netns exec "$ns" "$v6" -w -P INPUT DROP
		;;
	*) fail "node_firewall: unknown kind $2" ;;
	esac
}

# ctl_firewall: the controller's namespace drops incoming connections
# (replies to its own still come in); ctl_snapshot / ctl_clean WHAT
# compare its rule set with what it was.
ctl_firewall() {
	ip netns exec "$TB_NS" nft -f - <<-'EOF' || fail "controller firewall"
	table inet ctlfw {
		chain input {
			type filter hook input priority filter; policy drop;
			ct state established,related accept
			iif lo accept
			meta l4proto ipv6-icmp accept
		}
	}
	EOF
}
ctl_snapshot() { ruleset_of "$TB_NS" >"$SCRATCH/ctl.before"; }
ctl_clean() {
	ruleset_of "$TB_NS" >"$SCRATCH/ctl.after"
	diff -u "$SCRATCH/ctl.before" "$SCRATCH/ctl.after" ||
		fail "the controller's rule set differs ($1)"
}

# snapshot_node I FILE: node I's listening sockets, the processes running
# in its namespace and its firewall rule set, normalized and sorted, so
# that two snapshots (before/after) can be compared with diff.
snapshot_node() {
	local i=$1 file=$2 ns pid cmd
	ns=$(_node_var "$i" NS)
	{
		ruleset_of "$ns"
		echo "# listening sockets"
		ip netns exec "$ns" ss -Hlntup | awk '{ print $1, $2, $5, $6, $7 }' | sort
		echo "# processes"
		for pid in $(ip netns pids "$ns"); do
			cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
			[ -n "$cmd" ] || continue # zombie or kernel thread
			echo "$(cat "/proc/$pid/comm" 2>/dev/null): ${cmd% }"
		done | sort
	} >"$file"
}

# Test users (tb_up N --test-user): TB_USER may sudo without a password,
# TB_PUSER must give its password to sudo; TB_USER_PASSWORD_FILE and
# TB_PUSER_PASSWORD_FILE (0600) hold their SSH passwords. All empty
# without --test-user.

# tb_ssh_as USER ADDR CMD: ssh with the testbed key as USER to ADDR from
# the controller namespace.
tb_ssh_as() {
	local user=$1 addr=$2 opts
	shift 2
	mapfile -t opts < <(tb_ssh_opts)
	tb_exec ssh "${opts[@]}" "$user@$addr" "$@"
}

# user_pids USER: PIDs of the live (not zombie) processes whose real or
# effective uid is USER's, one a line; nothing if USER does not exist.
user_pids() {
	local uid f pid line st r e
	uid=$(id -u "$1" 2>/dev/null) || return 0
	for f in /proc/[0-9]*/status; do
		line=$(grep -m1 '^Uid:' "$f" 2>/dev/null) || continue
		read -r _ r e _ <<<"$line"
		[ "$r" = "$uid" ] || [ "$e" = "$uid" ] || continue
		pid=${f#/proc/}
		pid=${pid%/status}
		st=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		st=${st##*) }
		[ "${st%% *}" = Z ] || echo "$pid"
	done
}

# --- fwfleet sessions on the fleet --------------------------------------

# fw ARGS...: the controller, run in the controller namespace.
fw() {
	tb_exec "$FWFLEET" "$@"
}

# tb_session: after tb_up, a scratch directory (SCRATCH), a state directory
# and an empty HOME for fwfleet (no default keys, no ssh-agent, no
# ~/.ssh/config), the controller's CA, a stamp for "newer than this test"
# (STAMP), and a snapshot of every node to compare with check_clean.
tb_session() {
	local i
	tb_tmpdir SCRATCH
	export FWFLEET_STATE_DIR=$SCRATCH/state
	unset SSH_AUTH_SOCK SSH_AGENT_PID FWFLEET_SSH_PASSWORD
	export HOME=$SCRATCH/home
	mkdir -p "$HOME"
	STAMP=$SCRATCH/stamp
	touch "$STAMP"
	"$FWFLEET" pki init >/dev/null || fail "pki init"
	for ((i = 1; i <= TB_N; i++)); do
		snapshot_node "$i" "$SCRATCH/before.$i"
	done
}

# Work directories in /tmp newer than the start of this test.
new_workdirs() {
	find /tmp -maxdepth 1 -name 'fwfleet-*' -newer "$STAMP" \
		! -name 'fwfleet-chroot-*' 2>/dev/null || true
}

# Live engines started from a work directory in /tmp. Zombies are exited
# processes that this VM's PID 1 has not reaped yet.
live_engines() {
	ps -C fwfleet-engine -o stat=,pid=,args= |
		awk '$1 !~ /^Z/ && $3 ~ /^\/tmp\/fwfleet-/' || true
}

# check_clean WHAT [--wait]: nothing of a session may remain: work
# directories, engines, the test users' processes (with --test-user), and
# each node's sockets and processes, compared with tb_session's snapshot.
# --wait allows what is still settling a moment (5 s for work directories
# and engines, 3 s for processes and nodes): for tests that may run beside
# other fleets on the same host.
check_clean() {
	local what=$1 tries=1 i u k
	[ "${2:-}" = --wait ] && tries=50
	for ((k = 0; k < tries; k++)); do
		[ -z "$(new_workdirs)" ] && [ -z "$(live_engines)" ] && break
		sleep 0.1
	done
	[ -z "$(new_workdirs)" ] || fail "work directories left behind ($what): $(new_workdirs)"
	[ -z "$(live_engines)" ] || fail "an engine process is still running ($what): $(live_engines)"
	[ "$tries" = 1 ] || tries=30
	for u in ${TB_USER:-} ${TB_PUSER:-}; do
		for ((k = 0; k < tries; k++)); do
			[ -z "$(user_pids "$u")" ] && break
			sleep 0.1
		done
		[ -z "$(user_pids "$u")" ] ||
			fail "processes of $u left ($what): $(ps -o pid=,args= -p "$(user_pids "$u" | paste -sd,)")"
	done
	for ((i = 1; i <= TB_N; i++)); do
		for ((k = 0; k < tries; k++)); do
			snapshot_node "$i" "$SCRATCH/after.$i"
			cmp -s "$SCRATCH/before.$i" "$SCRATCH/after.$i" && break
			sleep 0.1
		done
		diff -u "$SCRATCH/before.$i" "$SCRATCH/after.$i" ||
			fail "node $i differs after the run ($what)"
	done
}
