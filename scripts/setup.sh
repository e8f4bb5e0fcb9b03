#!/bin/sh
# Installs every Debian 12 package that building, testing and benchmarking
# fwfleet needs (everything the tests call that a minimal Debian 12 may
# lack: sshd, iptables, jq, sudo, the openssl and file commands,
# systemd-analyze, ...), then configures and builds it in ./build.
#   scripts/setup.sh            install packages and build
#   scripts/setup.sh --deps     install packages only
set -eu

PACKAGES="build-essential cmake pkg-config git
	libssl-dev libprotobuf-c-dev protobuf-c-compiler libssh-dev
	libevent-dev zlib1g-dev libcmocka-dev libjansson-dev
	openssh-server openssh-client iproute2 iptables nftables
	procps psmisc util-linux mount passwd coreutils diffutils findutils kmod
	time jq bc iputils-ping sudo openssl file
	nginx curl systemd"

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null

[ "${1:-}" = "--deps" ] && exit 0

here=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	${FWFLEET_CMAKE_FLAGS:-}
cmake --build "$here/build" -j "$(nproc)"
