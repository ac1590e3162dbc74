#!/usr/bin/env bash
# make demo: the quick start on a fresh Debian machine (as root).
#   1. installs missing Debian packages, builds lienthong
#   2. starts a local Kafka broker (deploy/kafka.sh, 127.0.0.1:${LT_KAFKA_PORT:-9092})
#   3. creates a demo CA and two agencies with keys, certificates and configuration
#      in $LT_DEMO_DIR (default ~/.cache/lienthong/demo)
#   4. starts both agents, exchanges documents both ways, prints each document's
#      status and ends with "N/N delivered"; then stops the agents.
# The broker keeps running for further experiments: deploy/kafka.sh stop ends it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

ministry=000.00.00.G22
province=000.00.00.H29
per_side=${LT_DEMO_DOCS:-3}
demo=${LT_DEMO_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lienthong/demo}
export LT_KAFKA_PORT=${LT_KAFKA_PORT:-9092}
bin=$root/build/bin

say() { printf '\n== %s\n' "$*"; }

say "installing missing packages and building"
deploy/install-deps.sh
make -j2 all >/dev/null

say "starting Kafka on 127.0.0.1:$LT_KAFKA_PORT"
deploy/kafka.sh start

say "creating the demo CA and agencies $ministry and $province in $demo"
mkdir -p "$demo"
deploy/pki.sh ca "$demo/pki" >/dev/null
for code in $ministry $province; do
	# (Re)issued when missing or made before agency certificates carried the signing purpose.
	openssl x509 -in "$demo/pki/$code.crt" -noout -ext extendedKeyUsage 2>/dev/null |
		grep -q "$(sed -n 's/^signing_oid=//p' deploy/pki.sh)" ||
		deploy/pki.sh agency "$demo/pki" "$code" >/dev/null
	mkdir -p "$demo/$code"
	deploy/agency-conf.sh "$demo/$code/agency.conf" "$code" ../pki "127.0.0.1:$LT_KAFKA_PORT" \
		target_dir=received
done

pids=()
stop_agents() {
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap stop_agents EXIT
for code in $ministry $province; do
	"$bin/lienthong-agent" -c "$demo/$code/agency.conf" >>"$demo/$code/agent.log" 2>&1 &
	pids+=($!)
done
echo "agents started (logs: $demo/*/agent.log)"

say "submitting $per_side documents each way"
run=$(date +%Y%m%d-%H%M%S)
ids=()
submit() { # from to
	local out="$demo/$1/outgoing-$run"
	mkdir -p "$out"
	for i in $(seq 1 "$per_side"); do
		printf 'Công văn số %d/%s của %s gửi %s\n' "$i" "$run" "$1" "$2" >"$out/cong-van-$i.txt"
	done
	head -c 120000 /dev/urandom >"$out/ban-scan.pdf"
	rm -f "$out/cong-van-$per_side.txt"
	while IFS=$'\t' read -r id file; do
		ids+=("$1 $id")
		echo "  $1 -> $2: $id  $(basename "$file")"
	done < <("$bin/lienthong-upload" -c "$demo/$1/agency.conf" --to "$2" "$out"/*)
}
submit $ministry $province
submit $province $ministry
total=${#ids[@]}

say "waiting for signed receipts"
delivered=0
for _ in $(seq 1 120); do
	delivered=0
	for entry in "${ids[@]}"; do
		set -- $entry
		if "$bin/lienthong-status" -c "$demo/$1/agency.conf" "$2" | grep -q ' delivered '; then
			delivered=$((delivered + 1))
		fi
	done
	[ "$delivered" -eq "$total" ] && break
	sleep 1
done

say "status (lienthong-status -c $demo/<agency>/agency.conf DOCUMENT_ID)"
for entry in "${ids[@]}"; do
	set -- $entry
	printf '%s  ' "$1"
	"$bin/lienthong-status" -c "$demo/$1/agency.conf" "$2"
done
echo
echo "received files: $demo/<agency>/received/<sender>/<document id>/"
echo "stop the broker with: LT_KAFKA_PORT=$LT_KAFKA_PORT deploy/kafka.sh stop"
echo "$delivered/$total delivered"
[ "$delivered" -eq "$total" ]
