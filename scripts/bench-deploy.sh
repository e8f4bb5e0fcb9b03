#!/bin/bash
# bench-deploy.sh [N] [SIZE_MIB] [RUNS]: deploys one component with a
# SIZE_MIB payload (default 256) to N test nodes (default 8), RUNS times
# (default 3; --rewrite so every run installs), and prints the median wall
# time, the payload throughput over all nodes, the controller's peak RSS
# and the engines' peak RSS (VmHWM, sampled from /proc while they run).
# BENCH_DEPLOY_OPTS adds deploy options (e.g. --tunnel: payloads through
# SSH port forwarding). Run as root from the source tree after a build.
set -euo pipefail

N=${1:-8}
SIZE=${2:-256}
RUNS=${3:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/bench-lib.sh"
bench_require bench-deploy.sh
sampler=
BENCH_ON_EXIT='[ -n "$sampler" ] && kill "$sampler" 2>/dev/null'
bench_fleet_up bench-deploy "$N" bd

# The component: a SIZE_MIB payload and an installer that checks it.
src=$work/component
mkdir -p "$src"
head -c $((SIZE * 1024 * 1024)) /dev/urandom >"$src/payload.bin"
cat >"$src/install.sh" <<'SH'
#!/bin/sh
sha256sum <"$FWFLEET_STAGING_DIR/payload.bin" >/dev/null
SH
cat >"$src/component.json" <<JSON
{"id": "bench-payload", "name": "benchmark payload", "version": "1.0",
 "kind": "software", "os": ["linux"], "arch": ["x86_64"],
 "applies_to": "all", "installed_version": {"field": "package:bench"},
 "installer": {"command": ["./install.sh"], "timeout_s": 600},
 "return_codes": "rpm", "reboot_required": false,
 "files": [{"name": "install.sh"}, {"name": "payload.bin"}]}
JSON
repo=$work/repo
"$FWFLEET" repo init "$repo" >/dev/null
"$FWFLEET" repo add "$repo" "$src" >/dev/null
"$FWFLEET" repo index "$repo" >/dev/null
"$FWFLEET" repo keygen "$work/key" >/dev/null
"$FWFLEET" repo sign "$repo" --key "$work/key" >/dev/null
rm -rf "$src"

# Samples every engine's VmHWM (peak RSS) while the runs go on.
sample_engines() {
	local max=0 pid v
	while :; do
		for pid in $(ps -C fwfleet-engine -o pid= 2>/dev/null); do
			v=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
			[ "${v:-0}" -gt "$max" ] && max=$v && echo "$max" >"$work/engine-hwm"
		done
		sleep 0.1
	done
}
echo 0 >"$work/engine-hwm"
sample_engines &
sampler=$!

echo "fwfleet deploy ${BENCH_DEPLOY_OPTS:-}: a ${SIZE} MiB component to $N namespace nodes, $RUNS runs"
times=()
rss=()
for ((r = 1; r <= RUNS; r++)); do
	start=$(date +%s.%N)
	ip netns exec "$TB_NS" /usr/bin/time -f '%M' -o "$work/rss" \
		"$FWFLEET" deploy -n "$tb/nodes.ini" --known-hosts "$tb/known_hosts" \
		-r "$repo" --pubkey "$work/key.pub" --rewrite ${BENCH_DEPLOY_OPTS:-} \
		>"$work/out" 2>"$work/err" ||
		{ echo "run $r failed:" >&2; tail -5 "$work/out" "$work/err" >&2; exit 1; }
	end=$(date +%s.%N)
	t=$(echo "$end - $start" | bc -l)
	times+=("$t")
	rss+=("$(tail -1 "$work/rss")")
	printf '  run %d: %.2f s, controller peak RSS %d KiB\n' "$r" "$t" "${rss[-1]}"
done
kill "$sampler" 2>/dev/null; sampler=
m=$(median "${times[@]}")
printf 'median wall time: %.2f s (%d x %d MiB = %d MiB; %.0f MiB/s over all nodes)\n' \
	"$m" "$N" "$SIZE" $((N * SIZE)) "$(echo "$N * $SIZE / $m" | bc -l)"
printf 'controller peak RSS (median): %d KiB\n' "$(median "${rss[@]}")"
printf 'engine peak RSS (max over all engines and runs): %d KiB\n' "$(cat "$work/engine-hwm")"
