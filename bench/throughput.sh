#!/usr/bin/env bash
# make bench: end-to-end throughput of lienthong against raw Kafka on the same broker.
#
# Starts a private broker (127.0.0.1:${LT_BENCH_PORT:-46092}) unless LT_BOOTSTRAP
# names one, then measures on it:
#   1. raw: kcat produces N records of SIZE bytes to a topic and consumes them back;
#   2. lienthong: agency A submits N documents of SIZE bytes for B (lienthong-upload),
#      until every one shows `delivered` in A's status: signed, stored, sent,
#      verified, written to B's folder with fsync, receipt signed and applied.
# Prints documents per second for each and the ratio. The machine is shared and
# noisy: compare the ratio, not the absolute figures, and run it more than once.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${LT_BENCH_DOCS:-2000}
SIZE=${LT_BENCH_SIZE:-10000}
root=$(pwd)
work=$(mktemp -d /tmp/lienthong-bench.XXXXXX)
own_broker=0
if [ -z "${LT_BOOTSTRAP:-}" ]; then
	export LT_KAFKA_PORT=${LT_BENCH_PORT:-46092} LT_KAFKA_DIR=$work/kafka
	LT_KAFKA_RESET=1 deploy/kafka.sh start >/dev/null
	own_broker=1
	export LT_BOOTSTRAP=127.0.0.1:$LT_KAFKA_PORT
fi
cleanup() {
	[ $own_broker -eq 1 ] && deploy/kafka.sh stop >/dev/null 2>&1 || true
	pkill -f "$work/.*agency.conf" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
make -s all >/dev/null

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }

# 1. raw Kafka with kcat (topic created by an agent-less admin call through lienthong's
#    own topic creation would add noise; kcat produce needs an existing topic, so the
#    agents below create theirs first and the raw run uses B's inbox topic's twin).
deploy/pki.sh ca "$work/pki" >/dev/null
for code in BENCH.A BENCH.B; do
	deploy/pki.sh agency "$work/pki" $code >/dev/null
	mkdir -p "$work/$code"
	deploy/agency-conf.sh "$work/$code/agency.conf" $code ../pki "$LT_BOOTSTRAP" topic_prefix=bench$$
	build/bin/lienthong-agent -c "$work/$code/agency.conf" >"$work/$code/agent.log" 2>&1 &
done
until grep -q 'topics ready' "$work/BENCH.A/agent.log" && grep -q 'topics ready' "$work/BENCH.B/agent.log"; do sleep 0.2; done

head -c "$SIZE" /dev/urandom | base64 -w0 | head -c "$SIZE" >"$work/record"
for i in $(seq 1 "$N"); do cat "$work/record"; echo; done >"$work/records"
raw_topic=bench$$.receipts.BENCH.B # an existing topic no agent reads from in this run
t0=$(now)
kcat -P -b "$LT_BOOTSTRAP" -t "$raw_topic" -X acks=all -X enable.idempotence=true -l "$work/records"
kcat -C -b "$LT_BOOTSTRAP" -t "$raw_topic" -o beginning -c "$N" -e -q >/dev/null
t1=$(now)
raw=$(rate "$N" "$t0" "$t1")

# 2. lienthong end to end.
mkdir -p "$work/docs"
for i in $(seq 1 "$N"); do head -c "$SIZE" /dev/urandom >"$work/docs/d$i.pdf"; done
t0=$(now)
build/bin/lienthong-upload -c "$work/BENCH.A/agency.conf" --to BENCH.B "$work/docs"/*.pdf >/dev/null
t1=$(now)
until [ "$(build/bin/lienthong-status -c "$work/BENCH.A/agency.conf" --summary --json | sed 's/.*"delivered":\([0-9]*\).*/\1/')" -ge "$N" ]; do sleep 0.2; done
t2=$(now)
submit=$(rate "$N" "$t0" "$t1")
e2e=$(rate "$N" "$t0" "$t2")

echo "documents: $N of $SIZE bytes, broker $LT_BOOTSTRAP, $(nproc) cores"
echo "raw kcat produce+consume:       $raw records/s"
echo "lienthong-upload (signed, fsync'd): $submit documents/s"
echo "lienthong end to end (delivered):   $e2e documents/s"
awk -v a="$e2e" -v b="$raw" 'BEGIN { printf "ratio end-to-end / raw kcat: %.2f\n", a / b }'
