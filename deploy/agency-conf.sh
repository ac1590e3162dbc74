#!/usr/bin/env bash
# agency-conf.sh FILE CODE PKI BOOTSTRAP [KEY=VALUE...]
#
# Writes a lienthong configuration file for agency CODE: its key and
# certificate PKI/CODE.key and PKI/CODE.crt, the CA PKI/ca.crt (PKI as the
# file should name it, relative to FILE's folder or absolute), LMDB in
# data/, received documents in target/ (override with target_dir=...), the
# Kafka bootstrap servers, then every KEY=VALUE given (any setting of
# `lienthong-agent --help`, kafka.* included). Used by the demo, the tests and
# the benchmarks; a starting point for a real agency.
set -euo pipefail
[ $# -ge 4 ] || {
	sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
file=$1 code=$2 pki=$3 bootstrap=$4
shift 4
target=target
extra=()
for kv in "$@"; do
	[[ "$kv" == *=* ]] || { echo "agency-conf.sh: '$kv' is not KEY=VALUE" >&2; exit 2; }
	if [ "${kv%%=*}" = target_dir ]; then target=${kv#*=}; else extra+=("${kv%%=*} = ${kv#*=}"); fi
done
mkdir -p "$(dirname "$file")"
{
	echo "# lienthong agency $code (all settings: lienthong-agent --help)"
	echo "agency_code = $code"
	echo "data_dir = data"
	echo "key_file = $pki/$code.key"
	echo "cert_file = $pki/$code.crt"
	echo "ca_file = $pki/ca.crt"
	echo "target_dir = $target"
	echo "kafka.bootstrap.servers = $bootstrap"
	for line in "${extra[@]}"; do echo "$line"; done
} >"$file.tmp"
mv "$file.tmp" "$file"
