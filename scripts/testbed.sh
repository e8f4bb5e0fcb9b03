#!/usr/bin/env bash
# testbed.sh - a test fleet of Linux "nodes" made of network namespaces.
#
#   testbed.sh up N DIR [--prefix P] [--ipv6-only K]... [--hw-dir D] [--profile NAME]...
#                       [--host-shell-rc] [--test-user]
#   testbed.sh down DIR
#   testbed.sh exec DIR CMD...
#   testbed.sh status DIR
#
# Layout (prefix P, default "fwf", at most 6 characters of [a-z0-9]):
#   namespace ${P}c   the controller: bridge ${P}br with 198.18.0.1/16 and
#                     2001:db8:f00d::1/64, host ends ${P}v$i of the veths
#   namespace ${P}n$i node i (1..N): eth0 with 198.18.$((i/250)).$((i%250+10))/16
#                     and 2001:db8:f00d::<hex(i+16)>/64, lo, its own sshd on
#                     port 22 (ipv6-only nodes: no IPv4 address, sshd on :: only)
#
# State in DIR: nodes.env, nodes.ini, nodes.txt, known_hosts, id_ed25519(.pub),
# authorized_keys, namespaces (what up created; down deletes exactly those),
# node$i/{sshd_config,ssh_host_ed25519_key,sshd.pid,sshd.log,root/}.
#
# Node hardware: the profiles (directories) in --hw-dir (default
# tests/fixtures/hw of this source tree), or only those named by --profile,
# are copied round-robin into node$i/root; sessions on the node see
# FWFLEET_SYSROOT=DIR/node$i/root.
#
# Shell start-up: every SSH exec on a node runs root's login shell, and bash
# reads /root/.bashrc even for non-interactive commands started by sshd. A
# development machine's /root/.bashrc can be heavy (this VM image's runs
# `pyenv init`: about 140 ms of CPU per exec), which a production server's
# is not. So each node's sshd runs in its own mount namespace with Debian's
# stock root .bashrc (/usr/share/base-files/dot.bashrc) bind-mounted over
# /root/.bashrc; --host-shell-rc keeps the host's instead.
#
# Names: DIR/hosts maps node$i to its address and is installed as
# /etc/netns/<controller ns>/hosts, which `ip netns exec` shows as
# /etc/hosts inside the controller namespace, so nodes can be reached by name.
#
# Must run as root. Only 198.18.0.0/16 and 2001:db8:f00d::/64 are used, and
# only inside the namespaces this script creates.
#
# Test users (--test-user): two system users of this host (the nodes share
# its /etc/passwd), both with shell /bin/sh, a home DIR/home-<name> (0700),
# the testbed key in ~/.ssh/authorized_keys and a random password (set with
# chpasswd from stdin; kept in DIR/<user|puser>.password, 0600):
#   fwft<P>  sudo without a password:  ALL=(root) NOPASSWD: ALL
#   fwfp<P>  sudo asks for the password: ALL=(root) ALL
# granted by /etc/sudoers.d/fwft<P> (0440, checked with visudo -cf), which
# also keeps FWFLEET_SYSROOT through sudo (so that root sessions started by
# sudo see the node's hardware) and turns the sudo lecture off. DIR is then
# 0711 so that sshd, reading authorized keys as the user, gets to the homes.
# nodes.env names them: TB_USER, TB_USER_PASSWORD_FILE, TB_PUSER,
# TB_PUSER_PASSWORD_FILE (all empty without --test-user). DIR/test-users
# records what was created; down stops the users' processes (by uid), and
# removes exactly the recorded sudoers file and users (and their sudo
# timestamp files). up refuses if a user or the sudoers file exists already.
#
# For tests of this script: TESTBED_FAIL_AFTER=<stage> makes up fail after
# that stage (keys, users, hw, netns, links, sshd, check); with
# TESTBED_NO_CLEANUP=1 a failing up leaves its half-created fleet for down
# to remove.
set -euo pipefail

PROG=${0##*/}
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SSHD=/usr/sbin/sshd
MAX_NODES=1000
MARKER=.fwfleet-testbed

die() { echo "$PROG: $*" >&2; exit 1; }
warn() { echo "$PROG: $*" >&2; }

usage() {
	sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

node_v4() { echo "198.18.$(($1 / 250)).$(($1 % 250 + 10))"; }
node_v6() { printf '2001:db8:f00d::%x\n' $(($1 + 16)); }

ns_exists() { [ -e "/run/netns/$1" ]; }

# True if PID exists and is not a zombie (PID 1 may be slow to reap).
pid_alive() {
	local st
	[[ $1 =~ ^[0-9]+$ ]] || return 1
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

# True if PID is alive and its command line is an sshd.
is_sshd() {
	local pid=$1 cmd
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmd == *sshd* ]]
}

# Fill NODE_* arrays from DIR/nodes.env, or fall back to the node dirs.
load_env() {
	local dir=$1
	# shellcheck disable=SC1091
	. "$dir/nodes.env"
}

# --------------------------------------------------------------------- down

# Remove everything the fleet in DIR consists of. Never fails because
# something is already gone.
do_down() {
	local dir=$1 pid pids=() ns f i
	if [ ! -e "$dir" ]; then
		return 0
	fi
	[ -d "$dir" ] || die "$dir is not a directory"
	if [ ! -e "$dir/$MARKER" ]; then
		# An empty directory (e.g. from mktemp -d, up refused) is fine.
		if rmdir "$dir" 2>/dev/null; then
			return 0
		fi
		die "$dir does not hold a testbed fleet; not touching it"
	fi

	# 1. the sshd listeners, by the PID in their pidfiles
	for f in "$dir"/node*/sshd.pid; do
		[ -f "$f" ] || continue
		pid=$(head -n1 "$f" 2>/dev/null || true)
		if is_sshd "$pid"; then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
	done

	# 2. whatever else still runs inside the namespaces we created
	#    (ssh sessions, leftovers of tests): those are ours, too.
	local created=()
	if [ -f "$dir/namespaces" ]; then
		mapfile -t created <"$dir/namespaces"
	fi
	for ns in "${created[@]}"; do
		[ -n "$ns" ] && ns_exists "$ns" || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null || true); do
			[ "$pid" = "$$" ] && continue
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		done
	done

	# bounded wait (2 s), then SIGKILL what is left
	local alive k
	for ((k = 0; k < 40; k++)); do
		alive=()
		for pid in "${pids[@]}"; do
			pid_alive "$pid" && alive+=("$pid")
		done
		[ ${#alive[@]} -eq 0 ] && break
		sleep 0.05
	done
	for pid in "${alive[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done

	# 3. the namespaces (deleting them deletes the veths and the bridge)
	for ns in "${created[@]}"; do
		[ -n "$ns" ] && ns_exists "$ns" || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null || true); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || ! ns_exists "$ns" ||
			warn "could not delete namespace $ns"
		# the controller namespace's /etc/hosts (see "Names" above)
		case $ns in *c) rm -rf "/etc/netns/$ns" ;; esac
	done

	# 4. the test users and their sudoers file (--test-user)
	if ! remove_test_users "$dir"; then
		warn "could not remove all test users; $dir keeps the record, run down again"
		return 1
	fi

	# 5. the state directory
	rm -rf "$dir"
	return 0
}

# ------------------------------------------------------------- test users

SUDOERS_DIR=/etc/sudoers.d

# PIDs of live processes whose real or effective uid is $1.
pids_of_uid() {
	local uid=$1 f pid line r e
	for f in /proc/[0-9]*/status; do
		pid=${f#/proc/}
		pid=${pid%/status}
		line=$(grep -m1 '^Uid:' "$f" 2>/dev/null) || continue
		read -r _ r e _ <<<"$line"
		if [ "$r" = "$uid" ] || [ "$e" = "$uid" ]; then
			pid_alive "$pid" && echo "$pid"
		fi
	done
}

# Removes what DIR/test-users records: the sudoers file first (no more
# rights), then each user that is still ours (its home is the recorded one),
# after stopping its processes. Fails only if something recorded remains.
remove_test_users() {
	local dir=$1 rec=$1/test-users kind a b rc=0 uid home pid k
	local -a users=() homes=() pids alive
	[ -f "$rec" ] || return 0
	while read -r kind a b; do
		case $kind in
		sudoers)
			case $a in
			"$SUDOERS_DIR"/fwft*) ;;
			*) warn "test-users: not a testbed sudoers file: $a"; rc=1; continue ;;
			esac
			rm -f -- "$a" || { warn "cannot remove $a"; rc=1; }
			;;
		user) users+=("$a"); homes+=("$b") ;;
		esac
	done <"$rec"
	for k in "${!users[@]}"; do
		a=${users[k]}
		home=$(getent passwd "$a" | cut -d: -f6) || continue # gone already
		if [ "$home" != "${homes[k]}" ] || [[ $home != "$dir"/* ]]; then
			warn "user $a has home $home, not ${homes[k]}: not ours, left alone"
			continue
		fi
		uid=$(id -u "$a") || continue
		mapfile -t pids < <(pids_of_uid "$uid")
		[ ${#pids[@]} -eq 0 ] || kill -TERM "${pids[@]}" 2>/dev/null || true
		local j
		for ((j = 0; j < 40; j++)); do	# bounded: 2 s, then SIGKILL
			mapfile -t alive < <(pids_of_uid "$uid")
			[ ${#alive[@]} -eq 0 ] && break
			sleep 0.05
		done
		if [ ${#alive[@]} -gt 0 ]; then
			kill -KILL "${alive[@]}" 2>/dev/null || true
			for ((j = 0; j < 40; j++)); do
				[ -z "$(pids_of_uid "$uid")" ] && break
				sleep 0.05
			done
		fi
		if ! userdel "$a"; then
			warn "cannot remove user $a"
			rc=1
			continue
		fi
		# sudo's per-user state, should sudo have written any
		rm -f -- "/run/sudo/ts/$a" "/var/lib/sudo/lectured/$a" "/var/mail/$a"
		rm -rf -- "${homes[k]}"
	done
	return $rc
}

# Creates user NAME with home HOME, the testbed key and a random password
# kept in PWFILE. Recorded in DIR/test-users before it exists.
add_test_user() {
	local dir=$1 name=$2 home=$3 pwfile=$4 pw
	echo "user $name $home" >>"$dir/test-users"
	mkdir -m 700 "$home"
	useradd --system --no-create-home --home-dir "$home" --shell /bin/sh \
		--user-group --comment "fwfleet testbed $dir" "$name" ||
		die "cannot create user $name"
	pw=$(head -c 36 /dev/urandom | base64 -w0)
	pw=${pw//[+\/=]/}
	pw=${pw:0:24}
	[ ${#pw} -ge 16 ] || die "cannot make a password"
	(umask 077 && printf '%s\n' "$pw" >"$pwfile")
	printf '%s:%s\n' "$name" "$pw" | chpasswd || die "cannot set the password of $name"
	pw=
	mkdir -m 700 "$home/.ssh"
	install -m 600 "$dir/id_ed25519.pub" "$home/.ssh/authorized_keys"
	chown -R "$name:$name" "$home"
}

# --test-user: both users and their sudoers file.
add_test_users() {
	local dir=$1 prefix=$2 u=fwft$2 p=fwfp$2 tmp
	local sudoers=$SUDOERS_DIR/fwft$prefix
	: >>"$dir/test-users"
	chmod 711 "$dir"
	add_test_user "$dir" "$u" "$dir/home-$u" "$dir/user.password"
	add_test_user "$dir" "$p" "$dir/home-$p" "$dir/puser.password"
	tmp=$dir/.sudoers
	{
		echo "# fwfleet testbed $dir: test users; testbed.sh down $dir removes this"
		echo "Defaults:$u, $p env_keep += \"FWFLEET_SYSROOT\", !lecture"
		echo "$u ALL=(root) NOPASSWD: ALL"
		echo "$p ALL=(root) ALL"
	} >"$tmp"
	chmod 440 "$tmp"
	visudo -qcf "$tmp" >/dev/null || die "the sudoers drop-in does not validate"
	[ ! -e "$sudoers" ] || die "$sudoers exists already"
	echo "sudoers $sudoers" >>"$dir/test-users"
	mv -- "$tmp" "$sudoers"
	chown root:root "$sudoers"
}

# ----------------------------------------------------------------------- up

UP_DIR=
UP_DONE=0
up_cleanup() {
	local rc=$?
	[ "$UP_DONE" = 1 ] && return 0
	trap - EXIT INT TERM
	wait 2>/dev/null || true
	[ $rc -eq 0 ] && rc=1
	if [ -n "$UP_DIR" ] && [ -e "$UP_DIR/$MARKER" ]; then
		if [ "${TESTBED_NO_CLEANUP:-0}" = 1 ]; then
			warn "up failed; leaving the half-created fleet (TESTBED_NO_CLEANUP=1)"
		else
			warn "up failed; removing what was created"
			do_down "$UP_DIR" || true
		fi
	fi
	exit $rc
}

maybe_fail() {
	if [ "${TESTBED_VERBOSE:-0}" = 1 ]; then
		printf '%s: %-6s done at %.2f s\n' "$PROG" "$1" \
			"$(((${EPOCHREALTIME/./} - T0) / 10000))e-2" >&2
	fi
	if [ "${TESTBED_FAIL_AFTER:-}" = "$1" ]; then
		die "failing after stage '$1' (TESTBED_FAIL_AFTER)"
	fi
}

# Wait for a list of background PIDs; fail if any failed.
wait_all() {
	local what=$1 p bad=0
	shift
	for p in "$@"; do
		wait "$p" || bad=1
	done
	[ $bad -eq 0 ] || die "$what failed"
}

do_up() {
	local n='' dir='' prefix=fwf hw_dir='' profiles=() v6only=() host_rc=0
	local test_user=0
	while [ $# -gt 0 ]; do
		case $1 in
		--host-shell-rc) host_rc=1; shift ;;
		--test-user) test_user=1; shift ;;
		--prefix) [ $# -ge 2 ] || usage; prefix=$2; shift 2 ;;
		--prefix=*) prefix=${1#*=}; shift ;;
		--ipv6-only) [ $# -ge 2 ] || usage; v6only+=("$2"); shift 2 ;;
		--ipv6-only=*) v6only+=("${1#*=}"); shift ;;
		--hw-dir) [ $# -ge 2 ] || usage; hw_dir=$2; shift 2 ;;
		--hw-dir=*) hw_dir=${1#*=}; shift ;;
		--profile) [ $# -ge 2 ] || usage; profiles+=("$2"); shift 2 ;;
		--profile=*) profiles+=("${1#*=}"); shift ;;
		-*) die "unknown option $1" ;;
		*)
			if [ -z "$n" ]; then n=$1
			elif [ -z "$dir" ]; then dir=$1
			else usage
			fi
			shift ;;
		esac
	done
	[ -n "$n" ] && [ -n "$dir" ] || usage
	[[ $n =~ ^[1-9][0-9]*$ ]] && [ "$n" -le $MAX_NODES ] ||
		die "N must be 1..$MAX_NODES"
	[[ $prefix =~ ^[a-z0-9]{1,6}$ ]] ||
		die "prefix must be 1-6 characters of [a-z0-9]"
	local k
	declare -A is_v6only=()
	for k in "${v6only[@]}"; do
		[[ $k =~ ^[1-9][0-9]*$ ]] && [ "$k" -le "$n" ] ||
			die "--ipv6-only $k: not a node number 1..$n"
		is_v6only[$k]=1
	done
	[ "$(id -u)" -eq 0 ] || die "must run as root"
	for k in ip ssh-keygen nsenter sysctl timeout "$SSHD"; do
		command -v "$k" >/dev/null || die "$k not found"
	done

	# hardware profiles
	[ -n "$hw_dir" ] || hw_dir=$SRC_DIR/tests/fixtures/hw
	if [ ${#profiles[@]} -eq 0 ] && [ -d "$hw_dir" ]; then
		local p
		for p in "$hw_dir"/*/; do
			[ -d "$p" ] || continue
			p=${p%/}
			profiles+=("${p##*/}")
		done
	fi
	for k in "${profiles[@]}"; do
		[ -d "$hw_dir/$k" ] || die "no hardware profile $hw_dir/$k"
	done
	if [ ${#profiles[@]} -eq 0 ]; then
		warn "no hardware profiles in $hw_dir; nodes get a bare root"
	fi

	# names; refuse if any of them exists already
	local cns=${prefix}c br=${prefix}br i ns
	local existing
	existing=$(ip netns list 2>/dev/null | awk '{print $1}' |
		grep -E "^${prefix}(c|n[0-9]+)$" || true)
	if [ -n "$existing" ]; then
		die "namespaces of prefix '$prefix' exist already ($(echo $existing)); run testbed.sh down DIR first"
	fi
	local tuser='' puser=''
	if [ "$test_user" = 1 ]; then
		for k in useradd userdel chpasswd visudo sudo base64 getent; do
			command -v "$k" >/dev/null ||
				die "$k not found (--test-user needs sudo and passwd; scripts/setup.sh installs them)"
		done
		[ -d "$SUDOERS_DIR" ] || die "no $SUDOERS_DIR"
		tuser=fwft$prefix
		puser=fwfp$prefix
		for k in "$tuser" "$puser"; do
			if getent passwd "$k" >/dev/null || getent group "$k" >/dev/null; then
				die "user or group $k exists already; run testbed.sh down DIR of its fleet first"
			fi
		done
		[ ! -e "$SUDOERS_DIR/$tuser" ] ||
			die "$SUDOERS_DIR/$tuser exists already; run testbed.sh down DIR of its fleet first"
	fi

	# state directory
	if [ -e "$dir" ]; then
		[ -d "$dir" ] || die "$dir exists and is not a directory"
		[ -e "$dir/$MARKER" ] && die "$dir holds a fleet already; run testbed.sh down $dir first"
		[ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
	else
		mkdir -p "$(dirname "$dir")"
		mkdir "$dir"
	fi
	dir=$(cd "$dir" && pwd)
	UP_DIR=$dir
	trap up_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	chmod 700 "$dir"
	echo "$prefix" >"$dir/$MARKER"
	: >"$dir/namespaces"

	# ---- keys (parallel)
	local jobs=()
	ssh-keygen -q -t ed25519 -N '' -C "fwfleet-testbed-client" -f "$dir/id_ed25519" &
	jobs+=($!)
	local nodedirs=()
	for ((i = 1; i <= n; i++)); do nodedirs+=("$dir/node$i"); done
	mkdir -p "${nodedirs[@]}"
	for ((i = 1; i <= n; i++)); do
		ssh-keygen -q -t ed25519 -N '' -C "${prefix}n$i" \
			-f "$dir/node$i/ssh_host_ed25519_key" &
		jobs+=($!)
	done
	wait_all "ssh-keygen" "${jobs[@]}"
	cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
	maybe_fail keys

	# ---- test users (--test-user)
	if [ "$test_user" = 1 ]; then
		add_test_users "$dir" "$prefix"
		maybe_fail users
	fi

	# ---- hardware (cp in parallel, then serial and hostname)
	local -a prof_of=() hwdirs=() hwfiles=()
	jobs=()
	for ((i = 1; i <= n; i++)); do
		prof_of[i]=
		if [ ${#profiles[@]} -gt 0 ]; then
			prof_of[i]=${profiles[$(((i - 1) % ${#profiles[@]}))]}
			cp -a "$hw_dir/${prof_of[i]}" "$dir/node$i/root" &
			jobs+=($!)
		fi
		hwdirs+=("$dir/node$i/root/sys/class/dmi/id" "$dir/node$i/root/proc/sys/kernel")
		hwfiles+=("$dir/node$i/root/sys/class/dmi/id/product_serial"
			"$dir/node$i/root/proc/sys/kernel/hostname")
	done
	[ ${#jobs[@]} -eq 0 ] || wait_all "copying hardware profiles" "${jobs[@]}"
	mkdir -p "${hwdirs[@]}"
	rm -f "${hwfiles[@]}" # may be symlinks in a profile: do not write through
	for ((i = 1; i <= n; i++)); do
		printf 'FWF%04d\n' "$i" >"$dir/node$i/root/sys/class/dmi/id/product_serial"
		echo "node$i" >"$dir/node$i/root/proc/sys/kernel/hostname"
	done
	maybe_fail hw

	# ---- namespaces, recorded as soon as they exist
	for ns in "$cns" $(for ((i = 1; i <= n; i++)); do echo "${prefix}n$i"; done); do
		ip netns add "$ns" || die "cannot create namespace $ns"
		echo "$ns" >>"$dir/namespaces"
	done
	jobs=()
	for ns in "$cns" $(for ((i = 1; i <= n; i++)); do echo "${prefix}n$i"; done); do
		nsenter --net="/run/netns/$ns" sysctl -q -w \
			net.ipv6.conf.all.disable_ipv6=0 \
			net.ipv6.conf.default.disable_ipv6=0 \
			net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 >/dev/null &
		jobs+=($!)
	done
	wait_all "sysctl in the namespaces" "${jobs[@]}"
	maybe_fail netns

	# ---- links: bridge and veths in the controller ns, in one batch
	{
		echo "link set lo up"
		echo "link add $br type bridge forward_delay 0 stp_state 0 mcast_snooping 0"
		echo "addr add 198.18.0.1/16 dev $br"
		echo "addr add 2001:db8:f00d::1/64 dev $br nodad"
		echo "link set $br up"
		for ((i = 1; i <= n; i++)); do
			echo "link add ${prefix}v$i type veth peer name eth0 netns ${prefix}n$i"
			echo "link set ${prefix}v$i master $br up"
		done
	} >"$dir/.ip-controller"
	ip -n "$cns" -batch "$dir/.ip-controller" || die "setting up the bridge failed"
	rm -f "$dir/.ip-controller"
	jobs=()
	for ((i = 1; i <= n; i++)); do
		{
			echo "link set lo up"
			[ -n "${is_v6only[$i]:-}" ] || echo "addr add $(node_v4 "$i")/16 dev eth0"
			echo "addr add $(node_v6 "$i")/64 dev eth0 nodad"
			echo "link set eth0 up"
		} | ip -n "${prefix}n$i" -batch - &
		jobs+=($!)
	done
	wait_all "configuring the node interfaces" "${jobs[@]}"
	maybe_fail links

	# ---- sshd per node (parallel; each daemonizes once it listens)
	mkdir -p /run/sshd
	chmod 755 /run/sshd
	jobs=()
	for ((i = 1; i <= n; i++)); do
		local nd=$dir/node$i
		{
			echo "# fwfleet testbed node$i (${prefix}n$i)"
			echo "Port 22"
			[ -n "${is_v6only[$i]:-}" ] || echo "ListenAddress 0.0.0.0"
			echo "ListenAddress ::"
			echo "HostKey $nd/ssh_host_ed25519_key"
			echo "PidFile $nd/sshd.pid"
			echo "AuthorizedKeysFile $dir/authorized_keys"
			echo "PermitRootLogin yes"
			echo "UsePAM no"
			echo "StrictModes no"
			echo "PasswordAuthentication yes"
			echo "KbdInteractiveAuthentication no"
			echo "MaxStartups 200:30:400"
			echo "MaxSessions 50"
			echo "LogLevel VERBOSE"
			echo "UseDNS no"
			echo "PrintMotd no"
			echo "Subsystem sftp internal-sftp"
			echo "SetEnv FWFLEET_SYSROOT=$nd/root"
			if [ "$test_user" = 1 ]; then
				# their own ~/.ssh/authorized_keys (root keeps $dir's)
				echo "Match User $tuser,$puser"
				echo "	AuthorizedKeysFile .ssh/authorized_keys"
			fi
		} >"$nd/sshd_config"
		if [ "$host_rc" = 0 ] && [ -f /root/.bashrc ] &&
			[ -f /usr/share/base-files/dot.bashrc ]; then
			# ip netns exec gives the command its own mount namespace.
			ip netns exec "${prefix}n$i" sh -c \
				'mount --bind /usr/share/base-files/dot.bashrc /root/.bashrc && exec "$@"' \
				sh "$SSHD" -f "$nd/sshd_config" -E "$nd/sshd.log" &
		else
			ip netns exec "${prefix}n$i" "$SSHD" -f "$nd/sshd_config" -E "$nd/sshd.log" &
		fi
		jobs+=($!)
	done
	local bad=0
	for ((i = 1; i <= n; i++)); do
		if ! wait "${jobs[i - 1]}"; then
			bad=1
			warn "sshd of node$i did not start:"
			tail -n 5 "$dir/node$i/sshd.log" >&2 2>/dev/null || true
		fi
	done
	[ $bad -eq 0 ] || die "starting sshd failed"
	# pidfiles: written right after sshd daemonizes (bounded: 5 s)
	local -a pid_of=()
	for ((k = 0; k < 100; k++)); do
		bad=0
		for ((i = 1; i <= n; i++)); do
			[ -n "${pid_of[i]:-}" ] && continue
			local pid
			pid=$(head -n1 "$dir/node$i/sshd.pid" 2>/dev/null || true)
			if is_sshd "$pid"; then pid_of[i]=$pid; else bad=1; fi
		done
		[ $bad -eq 0 ] && break
		sleep 0.05
	done
	for ((i = 1; i <= n; i++)); do
		[ -n "${pid_of[i]:-}" ] || die "sshd of node$i: no live PID in $dir/node$i/sshd.pid"
	done
	maybe_fail sshd

	# ---- client-side files
	local pub
	: >"$dir/known_hosts"
	: >"$dir/nodes.txt"
	{
		echo "[fleet]"
		for ((i = 1; i <= n; i++)); do
			if [ -n "${is_v6only[$i]:-}" ]; then
				echo "node$i ansible_host=$(node_v6 "$i")"
			else
				echo "node$i ansible_host=$(node_v4 "$i")"
			fi
		done
		echo
		echo "[fleet:vars]"
		echo "ansible_user=root"
		echo "ansible_ssh_private_key_file=$dir/id_ed25519"
	} >"$dir/nodes.ini"
	for ((i = 1; i <= n; i++)); do
		read -r pub < <(awk '{print $1 " " $2}' "$dir/node$i/ssh_host_ed25519_key.pub")
		if [ -z "${is_v6only[$i]:-}" ]; then
			echo "$(node_v4 "$i") $pub" >>"$dir/known_hosts"
			node_v4 "$i" >>"$dir/nodes.txt"
		else
			node_v6 "$i" >>"$dir/nodes.txt"
		fi
		echo "$(node_v6 "$i") $pub" >>"$dir/known_hosts"
		echo "node$i $pub" >>"$dir/known_hosts"
	done
	{
		echo "127.0.0.1 localhost"
		echo "::1 localhost"
		for ((i = 1; i <= n; i++)); do
			if [ -n "${is_v6only[$i]:-}" ]; then
				echo "$(node_v6 "$i") node$i"
			else
				echo "$(node_v4 "$i") node$i"
			fi
		done
	} >"$dir/hosts"
	mkdir -p "/etc/netns/$cns"
	cp "$dir/hosts" "/etc/netns/$cns/hosts"
	{
		echo "# fwfleet testbed; source this file"
		printf 'TB_DIR=%q\n' "$dir"
		printf 'TB_PREFIX=%q\n' "$prefix"
		printf 'TB_NS=%q\n' "$cns"
		printf 'TB_BRIDGE=%q\n' "$br"
		printf 'TB_N=%q\n' "$n"
		printf 'TB_CTRL_V4=%q\n' 198.18.0.1
		printf 'TB_CTRL_V6=%q\n' 2001:db8:f00d::1
		printf 'TB_KEY=%q\n' "$dir/id_ed25519"
		printf 'TB_KNOWN_HOSTS=%q\n' "$dir/known_hosts"
		printf 'TB_USER=%q\n' "$tuser"
		printf 'TB_USER_PASSWORD_FILE=%q\n' "${tuser:+$dir/user.password}"
		printf 'TB_PUSER=%q\n' "$puser"
		printf 'TB_PUSER_PASSWORD_FILE=%q\n' "${puser:+$dir/puser.password}"
		for ((i = 1; i <= n; i++)); do
			printf 'NODE_NAME_%d=%q\n' "$i" "node$i"
			printf 'NODE_NS_%d=%q\n' "$i" "${prefix}n$i"
			if [ -n "${is_v6only[$i]:-}" ]; then
				printf 'NODE_V4_%d=\n' "$i"
				printf 'NODE_ADDR_%d=%q\n' "$i" "$(node_v6 "$i")"
			else
				printf 'NODE_V4_%d=%q\n' "$i" "$(node_v4 "$i")"
				printf 'NODE_ADDR_%d=%q\n' "$i" "$(node_v4 "$i")"
			fi
			printf 'NODE_V6_%d=%q\n' "$i" "$(node_v6 "$i")"
			printf 'NODE_ROOT_%d=%q\n' "$i" "$dir/node$i/root"
			printf 'NODE_PROFILE_%d=%q\n' "$i" "${prof_of[i]}"
			printf 'NODE_SERIAL_%d=%q\n' "$i" "$(printf 'FWF%04d' "$i")"
			printf 'NODE_SSHD_PID_%d=%q\n' "$i" "${pid_of[i]}"
		done
	} >"$dir/nodes.env"

	# ---- reachability from the controller ns, both families, in parallel.
	# Each address: ping (if installed) and a TCP connection to port 22 that
	# sshd accepts; at most 100 attempts, all of it bounded to 20 s.
	local addrs=()
	for ((i = 1; i <= n; i++)); do
		[ -n "${is_v6only[$i]:-}" ] || addrs+=("$(node_v4 "$i")")
		addrs+=("$(node_v6 "$i")")
	done
	# shellcheck disable=SC2016
	ip netns exec "$cns" timeout 20 bash -c '
		have_ping=0
		command -v ping >/dev/null && have_ping=1
		check() {
			local a=$1 k
			for ((k = 0; k < 100; k++)); do
				if { [ $have_ping = 0 ] || ping -n -q -c1 -W1 "$a" >/dev/null 2>&1; } &&
					exec 3<>"/dev/tcp/$a/22"
				then
					exec 3<&-
					return 0
				fi 2>/dev/null
				exec 3<&- 2>/dev/null
				sleep 0.1
			done
			return 1
		}
		pids=() rc=0
		for a in "$@"; do check "$a" & pids+=($!); done
		for ((i = 0; i < $#; i++)); do
			wait "${pids[i]}" || { echo "not reachable from the controller: ${@:i+1:1}" >&2; rc=1; }
		done
		exit $rc
	' _ "${addrs[@]}" || die "nodes not reachable from the controller namespace"
	# The probes made each sshd fork a child; let those finish (bounded:
	# 5 s) so that the nodes are quiet when up returns.
	local ppids
	ppids=$(IFS=,; echo "${pid_of[*]:1}")
	for ((k = 0; k < 100; k++)); do
		[ -z "$(ps -o pid= --ppid "$ppids" 2>/dev/null || true)" ] && break
		sleep 0.05
	done
	maybe_fail check

	UP_DONE=1
	trap - EXIT INT TERM
	echo "$PROG: fleet of $n nodes up (prefix $prefix, controller ns $cns, state in $dir)"
}

# ------------------------------------------------------------ exec, status

need_fleet() {
	[ -f "$1/nodes.env" ] || die "$1 holds no fleet (no nodes.env)"
}

do_exec() {
	[ $# -ge 2 ] || usage
	local dir=$1
	shift
	need_fleet "$dir"
	load_env "$dir"
	exec ip netns exec "$TB_NS" "$@"
}

do_status() {
	[ $# -eq 1 ] || usage
	local dir=$1 i v pid ns state rc=0 nsv
	need_fleet "$dir"
	load_env "$dir"
	if ns_exists "$TB_NS"; then state=present; else state=MISSING; rc=1; fi
	echo "controller $TB_NS $state bridge $TB_BRIDGE 198.18.0.1 2001:db8:f00d::1"
	printf '%-8s %-10s %-15s %-22s %-8s %s\n' NODE NAMESPACE IPV4 IPV6 PID SSHD
	for ((i = 1; i <= TB_N; i++)); do
		v=NODE_NS_$i; ns=${!v}
		v=NODE_SSHD_PID_$i; pid=${!v}
		# the pidfile is authoritative, should sshd have been restarted
		pid=$(head -n1 "$dir/node$i/sshd.pid" 2>/dev/null || echo "$pid")
		if is_sshd "$pid"; then state=alive; else state=dead; rc=1; fi
		ns_exists "$ns" && nsv=$ns || { nsv="$ns(gone)"; rc=1; }
		v=NODE_V4_$i
		local v4=${!v:--}
		v=NODE_V6_$i
		printf '%-8s %-10s %-15s %-22s %-8s %s\n' "node$i" "$nsv" "$v4" "${!v}" "$pid" "$state"
	done
	return $rc
}

# --------------------------------------------------------------------- main

T0=${EPOCHREALTIME/./}
[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
up) do_up "$@" ;;
down)
	[ $# -eq 1 ] || usage
	[ "$(id -u)" -eq 0 ] || die "must run as root"
	do_down "$1"
	;;
exec) do_exec "$@" ;;
status) do_status "$@" ;;
-h | --help | help) usage ;;
*) usage ;;
esac
