#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Installs the Debian 12 packages podmeter needs to build, run and test.
# Idempotent: does nothing when everything is present.
#   packaging/deps.sh          build + run
#   packaging/deps.sh test     also what the tests and benchmarks need
set -eu

build_pkgs="make gcc clang clang-format llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
	libsqlite3-dev libpq-dev libgit2-dev
	libcurl4-gnutls-dev libprotobuf-c-dev protobuf-c-compiler libmicrohttpd-dev
	libjansson-dev libyaml-dev libyajl-dev libgnutls28-dev"
test_pkgs="libcmocka-dev stress-ng bpftrace prometheus curl iproute2 procps python3 iperf3 openssl
	protobuf-compiler tmux python3-yaml util-linux libclang-rt-dev busybox-static postgresql sqlite3 git jq"
# a real container runtime for tests/integration/test_containerd.sh; a machine
# that has one already (Docker's containerd.io conflicts with Debian's) keeps it
runtime_pkgs="containerd runc"

pkgs=$build_pkgs
[ "${1:-}" = test ] && pkgs="$pkgs $test_pkgs"
[ "${1:-}" = test ] && ! command -v containerd >/dev/null && pkgs="$pkgs $runtime_pkgs"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing; run as root or install them with apt-get" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
