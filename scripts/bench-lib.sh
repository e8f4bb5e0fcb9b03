# shellcheck shell=bash
# Shared by scripts/bench-*.sh: source it after setting `here` (the source
# tree). Provides median, bench_require NAME, and bench_fleet_up NAME N
# PREFIX, which brings up a fleet of N nodes (TESTBED_OPTS passed on) in
# a scratch directory `work`, with fwfleet's state there and its CA made,
# and removes it all at exit (plus BENCH_ON_EXIT, if set, first).

FWFLEET=${FWFLEET:-$here/build/fwfleet}

# median VALUES...: the median of numbers.
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_require NAME: root, a build, and /usr/bin/time.
bench_require() {
	[ "$(id -u)" -eq 0 ] || { echo "$1: run as root" >&2; exit 1; }
	[ -x "$FWFLEET" ] || { echo "$1: build first ($FWFLEET)" >&2; exit 1; }
	command -v /usr/bin/time >/dev/null ||
		{ echo "$1: needs /usr/bin/time (package time)" >&2; exit 1; }
}

# Runs under set -e: nothing here may stop the teardown half-way.
_bench_cleanup() {
	if [ -n "${BENCH_ON_EXIT:-}" ]; then
		eval "$BENCH_ON_EXIT" || true
	fi
	"$here/scripts/testbed.sh" down "$tb" >/dev/null 2>&1 || true
	rm -rf "$work"
}

# bench_fleet_up NAME N PREFIX: sets work, tb and the fleet's nodes.env.
bench_fleet_up() {
	work=$(mktemp -d "/tmp/fwf-$1.XXXXXX")
	tb=$work/fleet
	trap _bench_cleanup EXIT INT TERM
	# shellcheck disable=SC2086
	"$here/scripts/testbed.sh" up "$2" "$tb" --prefix "$3$((RANDOM % 900 + 100))" \
		${TESTBED_OPTS:-} >/dev/null
	# shellcheck disable=SC1091
	. "$tb/nodes.env"
	export FWFLEET_STATE_DIR=$work/state HOME=$work
	unset SSH_AUTH_SOCK
	"$FWFLEET" pki init >/dev/null
}
