#!/usr/bin/env bash
# Installs the Debian packages lienthong needs to build, test and run the demo.
# Idempotent: packages already present are not touched; apt-get update runs
# only when something is missing. Must run as root (or with sudo available).
set -euo pipefail

pkgs=(
	build-essential pkg-config
	librdkafka-dev libprotobuf-c-dev protobuf-c-compiler
	libssl-dev openssl liblmdb-dev lmdb-utils
	libcurl4-openssl-dev libjansson-dev libxml2-dev
	kcat clang clang-format libclang-rt-14-dev python3
	default-jre-headless maven curl ca-certificates
	groff-base man-db systemd strace iproute2
	libmicrohttpd-dev prometheus chromium
)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done
# A JRE other than Debian's default (for example a Temurin JDK) is fine.
if command -v java >/dev/null 2>&1; then
	tmp=()
	for p in "${missing[@]}"; do [ "$p" = default-jre-headless ] || tmp+=("$p"); done
	missing=("${tmp[@]}")
fi

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "install-deps: not root and no sudo; install as root: ${missing[*]}" >&2
		exit 1
	}
	sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
