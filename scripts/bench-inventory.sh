#!/bin/bash
# bench-inventory.sh N [RUNS]: brings up N test nodes (network namespaces
# with their own sshd), times `fwfleet inventory` over all of them RUNS
# times (default 5), and prints the median and spread of the wall time and
# the controller's peak RSS. In the same run it times a reference: the
# OpenSSH client running `true` on every node at once (one SSH login per
# node, the least any SSH-based tool does), and prints the ratio.
# Run as root from the source tree after a build (FWFLEET=path/to/fwfleet
# to choose the binary). Extra testbed options (e.g. --host-shell-rc) go in
# TESTBED_OPTS.
set -euo pipefail

N=${1:-50}
RUNS=${2:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/bench-lib.sh"
bench_require bench-inventory.sh
bench_fleet_up bench-inventory "$N" bi

echo "fwfleet inventory over $N namespace nodes, $RUNS runs (--parallel ${PARALLEL:-$N})"
times=()
rss=()
for ((r = 1; r <= RUNS; r++)); do
	start=$(date +%s.%N)
	ip netns exec "$TB_NS" /usr/bin/time -f '%M' -o "$work/rss" \
		"$FWFLEET" inventory -n "$tb/nodes.ini" --known-hosts "$tb/known_hosts" \
		--parallel "${PARALLEL:-$N}" --json >"$work/out.json" 2>"$work/err" ||
		{ echo "run $r failed:" >&2; cat "$work/err" >&2; exit 1; }
	end=$(date +%s.%N)
	ok=$(jq '.summary.ok' "$work/out.json")
	[ "$ok" = "$N" ] || { echo "run $r: only $ok of $N nodes ok" >&2; exit 1; }
	t=$(echo "$end - $start" | bc -l)
	times+=("$t")
	rss+=("$(tail -1 "$work/rss")")
	printf '  run %d: %.3f s, peak RSS %d KiB\n' "$r" "$t" "${rss[-1]}"
done
# The reference: OpenSSH logs in to every node at once and runs `true`.
ssh_all() {
	local i addr
	for ((i = 1; i <= N; i++)); do
		addr=NODE_ADDR_$i
		ssh -F /dev/null -i "$TB_KEY" -o IdentitiesOnly=yes -o BatchMode=yes \
			-o UserKnownHostsFile="$TB_KNOWN_HOSTS" -o StrictHostKeyChecking=yes \
			"root@${!addr}" true &
	done
	wait
}
export -f ssh_all
export N TB_KEY TB_KNOWN_HOSTS
for ((i = 1; i <= N; i++)); do export "NODE_ADDR_$i"; done
ref=()
for ((r = 1; r <= RUNS; r++)); do
	start=$(date +%s.%N)
	ip netns exec "$TB_NS" bash -c ssh_all
	end=$(date +%s.%N)
	ref+=("$(echo "$end - $start" | bc -l)")
	printf '  reference run %d (OpenSSH, `true` on every node): %.3f s\n' "$r" "${ref[-1]}"
done

printf 'median wall time: %.3f s (min %.3f, max %.3f)\n' "$(median "${times[@]}")" \
	"$(printf '%s\n' "${times[@]}" | sort -g | head -1)" "$(printf '%s\n' "${times[@]}" | sort -g | tail -1)"
printf 'median controller peak RSS: %d KiB\n' "$(median "${rss[@]}")"
printf 'reference median (OpenSSH `true` on %d nodes): %.3f s\n' "$N" "$(median "${ref[@]}")"
printf 'ratio fwfleet inventory / reference: %.2f\n' \
	"$(echo "$(median "${times[@]}") / $(median "${ref[@]}")" | bc -l)"
