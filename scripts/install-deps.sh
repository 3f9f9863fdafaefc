#!/bin/bash
# Installs the Debian 12 packages mpcstore builds and runs with (root; uses sudo otherwise).
# The one list of dependencies: .ci/run, quickstart.sh and test.sh all call this.
set -euo pipefail
PKGS="build-essential autoconf automake libtool pkg-config python3 procps curl
  libfuse3-dev fuse3 librocksdb-dev libsodium-dev libssl-dev libcurl4-openssl-dev
  libraft-dev libuv1-dev libmicrohttpd-dev libjansson-dev libcriterion-dev
  iproute2 nftables tcpdump faketime valgrind rsync"
# --fuzz: also clang and libFuzzer for `make fuzz` (docs/fuzzing.md).
[ "${1:-}" = --fuzz ] && PKGS="$PKGS clang libclang-rt-14-dev"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
echo "installing:$missing"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
