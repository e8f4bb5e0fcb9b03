#!/bin/bash
# bench-serve.sh: the controller's HTTPS payload server against Debian's
# nginx, in one run, on loopback. Both serve the same 1 GiB file over
# mutual TLS 1.3 with the same ECDSA P-256 certificates (one CA, a server
# certificate, an engine client certificate) to 1 and to 8 concurrent curl
# clients (--cert/--key/--cacert, -o /dev/null). Each configuration runs
# REPS times (default 3), alternating the servers; the median aggregate
# throughput (clients x file size / wall time) is printed for both, with
# the ratio fwfleet / nginx, and the median CPU time each server spent per
# GiB sent (user + system, all nginx processes): on a machine shared with
# other work the CPU cost varies less than the throughput.
#
# nginx runs from its own prefix, configuration and pid file in a temp
# directory (Debian's defaults otherwise: worker_processes auto, one per
# CPU), never as the system service; our server likewise gets one thread
# per CPU (opts.threads). Only processes this script starts are stopped.
#
# Environment: FWFLEET_BUILD (default ./build; its libfwcommon.a is brought
# up to date and the driver scripts/serve-bench.c, with the server's
# sources, compiled against it),
# SIZE_MB (default 1024), REPS (default 3), CLIENTS (default "1 8"),
# NGINX_WORKERS (default auto), FW_THREADS (default: the CPU count; 0 for
# everything on one event loop).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${FWFLEET_BUILD:-$here/build}
SIZE_MB=${SIZE_MB:-1024}
REPS=${REPS:-3}
CLIENTS=${CLIENTS:-1 8}
NGINX_WORKERS=${NGINX_WORKERS:-auto}
FW_THREADS=${FW_THREADS:-$(nproc)}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

die() { echo "bench-serve.sh: $*" >&2; exit 1; }
[ -x "$NGINX" ] || die "needs nginx (apt-get install nginx; scripts/setup.sh --deps)"
for t in curl cc pkg-config cmake bc; do
	command -v "$t" >/dev/null || die "needs $t"
done
[ -f "$BUILD/CMakeCache.txt" ] || die "configure and build first ($BUILD)"

work=$(mktemp -d /tmp/fwf-bench-serve.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the driver: our server, compiled here with -O2 whatever the build
# type, linked with the build's libfwcommon.a and libfwproto.a ------------
cmake --build "$BUILD" --target fwcommon >/dev/null
# shellcheck disable=SC2046
cc -O2 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -o "$work/serve-bench" \
	"$here/scripts/serve-bench.c" "$here/controller/https_server.c" \
	"$here/controller/http_range.c" \
	-I"$here/common" -I"$here/controller" -I"$BUILD/proto" \
	$(pkg-config --cflags libprotobuf-c) \
	"$BUILD/libfwcommon.a" "$BUILD/libfwproto.a" \
	$(pkg-config --libs libevent_core libevent_openssl libevent_pthreads \
		openssl libprotobuf-c) -lpthread

# --- certificates, the file, nginx's configuration ------------------------
"$work/serve-bench" pki "$work"
mkdir -p "$work/www" "$work/nginx/tmp"
dd if=/dev/urandom of="$work/www/big.bin" bs=1M count="$SIZE_MB" status=none
# nginx workers run unprivileged: let them reach the file.
chmod 755 "$work" "$work/www"
chmod 644 "$work/www/big.bin"
cat "$work/www/big.bin" >/dev/null	# both serve it from the page cache
size=$((SIZE_MB * 1024 * 1024))

nginx_port=$("$work/serve-bench" freeport)
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
daemon off;
events {
	worker_connections 768;
}
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	types_hash_max_size 2048;
	default_type application/octet-stream;
	client_body_temp_path $work/nginx/tmp/body;
	proxy_temp_path $work/nginx/tmp/proxy;
	fastcgi_temp_path $work/nginx/tmp/fastcgi;
	uwsgi_temp_path $work/nginx/tmp/uwsgi;
	scgi_temp_path $work/nginx/tmp/scgi;
	server {
		listen 127.0.0.1:$nginx_port ssl;
		ssl_certificate $work/server.crt;
		ssl_certificate_key $work/server.key;
		ssl_client_certificate $work/ca.crt;
		ssl_verify_client on;
		ssl_protocols TLSv1.3;
		root $work/www;
	}
}
EOF

# --- start both -------------------------------------------------------------
"$work/serve-bench" serve "$work" "$work/www/big.bin" "$FW_THREADS" \
	2>"$work/fw.log" &
fw_pid=$!
pids+=("$fw_pid")
"$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
pids+=("$nginx_pid")

curl_get() {	# URL: one download; prints "http_code size_download"
	curl -s -o /dev/null --max-time 600 --cacert "$work/ca.crt" \
		--cert "$work/client.crt" --key "$work/client.key" \
		-w '%{http_code} %{size_download}\n' "$1"
}

for ((i = 0; i < 100; i++)); do
	[ -s "$work/fw.port" ] && break
	sleep 0.05
done
[ -s "$work/fw.port" ] || { cat "$work/fw.log" >&2; die "our server did not start"; }
fw_url="https://127.0.0.1:$(cat "$work/fw.port")/big.bin"
nginx_url="https://127.0.0.1:$nginx_port/big.bin"
for ((i = 0; i < 100; i++)); do
	curl -s -o /dev/null --cacert "$work/ca.crt" --cert "$work/client.crt" \
		--key "$work/client.key" -r 0-0 "$nginx_url" && break
	sleep 0.05
done

# Both must refuse a client without a certificate and agree on TLS.
for url in "$fw_url" "$nginx_url"; do
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/ca.crt" \
		-r 0-0 "$url" || true)
	case $code in
	2*) die "$url served a client without a certificate" ;;
	esac
done
tls() {
	curl -sv -o /dev/null --cacert "$work/ca.crt" --cert "$work/client.crt" \
		--key "$work/client.key" -r 0-0 "$1" 2>&1 |
		sed -n 's/^\* SSL connection using //p' | head -1
}
echo "fwfleet: $(tls "$fw_url")"
echo "nginx $("$NGINX" -v 2>&1 | sed 's,.*/,,'): $(tls "$nginx_url")"

# CPU ticks (user + system) of a process and its children so far.
ticks() {	# PID
	local p s=0
	for p in "$1" $(pgrep -P "$1" || true); do
		s=$((s + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
	done
	echo "$s"
}
hz=$(getconf CLK_TCK)

# One batch: N concurrent downloads of the whole file; sets mbps to the
# batch's MB/s (10^6 bytes per second), all bytes over the wall time, and
# cpu to the server's CPU seconds per GiB sent.
batch() {	# URL N SERVER_PID
	local url=$1 n=$2 k t0 t1 c0 c1 cpids=()
	c0=$(ticks "$3")
	t0=$(date +%s.%N)
	for ((k = 0; k < n; k++)); do
		curl_get "$url" >"$work/out.$k" &
		cpids+=($!)
	done
	for k in "${!cpids[@]}"; do
		wait "${cpids[$k]}" || die "curl $k failed on $url"
	done
	t1=$(date +%s.%N)
	c1=$(ticks "$3")
	for ((k = 0; k < n; k++)); do
		[ "$(cat "$work/out.$k")" = "200 $size" ] ||
			die "$url: got $(cat "$work/out.$k"), want 200 $size"
	done
	mbps=$(echo "$n * $size / ($t1 - $t0) / 1000000" | bc -l)
	cpu=$(echo "($c1 - $c0) / $hz / ($n * $size / 1073741824)" | bc -l)
}

. "$here/scripts/bench-lib.sh"

echo "$SIZE_MB MiB file, $REPS runs each, medians; MB/s = 10^6 B/s over" \
	"loopback; $(nproc) CPUs; nginx worker_processes $NGINX_WORKERS," \
	"fwfleet threads $FW_THREADS"
printf '%-8s %14s %14s %7s %16s %16s\n' clients "fwfleet MB/s" \
	"nginx MB/s" ratio "fwfleet cpu s/GiB" "nginx cpu s/GiB"
for n in $CLIENTS; do
	fw=()
	ng=()
	fwc=()
	ngc=()
	for ((r = 1; r <= REPS; r++)); do
		batch "$fw_url" "$n" "$fw_pid"
		fw+=("$mbps")
		fwc+=("$cpu")
		batch "$nginx_url" "$n" "$nginx_pid"
		ng+=("$mbps")
		ngc+=("$cpu")
	done
	fwm=$(median "${fw[@]}")
	ngm=$(median "${ng[@]}")
	printf '%-8s %14.0f %14.0f %7.2f %16.2f %16.2f\n' "$n" "$fwm" "$ngm" \
		"$(echo "$fwm / $ngm" | bc -l)" "$(median "${fwc[@]}")" \
		"$(median "${ngc[@]}")"
done
