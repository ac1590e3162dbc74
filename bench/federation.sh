#!/usr/bin/env bash
# Documents per second through one relay hop against the same documents on one
# platform. Run: bench/federation.sh (brokers: LT_BOOTSTRAP's for the first
# platform, LT_FED_NGSP_PORT's for the second, started by it when not running;
# LT_BENCH_FED_DOCS documents of LT_BENCH_FED_BYTES bytes at most, default
# 1000 and 20000). Prints the figures; asserts nothing about them.
#   1. one platform: agency A uploads every document for B, both on one broker;
#   2. one hop: the same for B on the second broker, through lienthong-relay.
# Each figure: documents / seconds from the upload's start until A's status
# shows all delivered (receipts back), so it is end to end.
set -euo pipefail
source "$(dirname "$0")/../tests/integration/lib.sh"
N=${LT_BENCH_FED_DOCS:-1000}
MAX=${LT_BENCH_FED_BYTES:-20000}
base=${LT_KAFKA_PORT:-18092}
ngsp_port=${LT_FED_NGSP_PORT:-$((base + 300))}
ngsp_dir=${LT_FED_NGSP_DIR:-}

lt_setup
started_ngsp=
if [ -z "$ngsp_dir" ]; then
	ngsp_dir=$LT_WORK/kafka-ngsp
	started_ngsp=1
fi
ngsp_broker() {
	LT_KAFKA_PORT=$ngsp_port LT_KAFKA_DIR=$ngsp_dir LT_KAFKA_PROXY_PORT= "$LT_ROOT/deploy/kafka.sh" "$@"
}
cleanup() {
	if [ -f "$LT_WORK/relay.pid" ]; then kill "$(cat "$LT_WORK/relay.pid")" 2>/dev/null || true; fi
	if [ -n "$started_ngsp" ]; then ngsp_broker stop >/dev/null 2>&1 || true; fi
}
trap 'rc=$?; cleanup; (exit $rc); lt_teardown' EXIT
ngsp_broker start >"$LT_WORK/kafka-ngsp.log" 2>&1 || { cat "$LT_WORK/kafka-ngsp.log"; exit 1; }
NGSP_BS=127.0.0.1:$ngsp_port
lt_make_docs "$LT_WORK/docs" "$N" "$MAX"
bytes=$(cat "$LT_WORK/docs"/*.pdf | wc -c)

# rate FROM TO IDS: uploads everything, waits for delivered, prints documents per second.
rate() {
	local t0 t1
	t0=$(date +%s.%N)
	lt_upload "$1" "$2" "$3" "$LT_WORK/docs"/*.pdf
	lt_wait_until 1800 lt_all_delivered "$1" "$3"
	t1=$(date +%s.%N)
	awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }'
}

# 1. One platform.
for c in ONE.A ONE.B; do
	lt_agency $c
	lt_start $c
done
lt_wait_until 60 grep -q 'topics ready' "$LT_WORK/ONE.B/agent.log"
one=$(rate ONE.A ONE.B "$LT_WORK/ids-one")
lt_verify ONE.A ONE.B "$LT_WORK/ids-one" >/dev/null

# 2. One relay hop: HOP.A on platform P (the first broker), HOP.B on Q (the second).
PP=${LT_PREFIX}p QP=${LT_PREFIX}q
for x in "HOP.A P $LT_BOOTSTRAP $PP" "HOP.B Q $NGSP_BS $QP"; do
	set -- $x
	lt_agency "$1"
	lt_set "$1" platform "$2"
	lt_set "$1" kafka.bootstrap.servers "$3"
	lt_set "$1" topic_prefix "$4"
done
"$LT_ROOT/deploy/pki.sh" directory "$LT_WORK/pki" DIR.P >/dev/null
"$LT_ROOT/deploy/pki.sh" relay "$LT_WORK/pki" RELAY.PQ >/dev/null
for x in "DIR.P P $LT_BOOTSTRAP $PP" "RELAY.PQ P $LT_BOOTSTRAP $PP"; do
	set -- $x
	mkdir -p "$LT_WORK/$1"
	"$LT_ROOT/deploy/agency-conf.sh" "$LT_WORK/$1/agency.conf" "$1" ../pki "$3" \
		topic_prefix="$4" platform="$2" topic_partitions=3 kafka.linger.ms=5
done
cat >>"$(lt_conf RELAY.PQ)" <<EOF
peer_platform = Q
peer_topic_prefix = $QP
peer_routes = *
peer.kafka.bootstrap.servers = $NGSP_BS
peer.kafka.linger.ms = 5
EOF
"$LT_BIN/lienthong-directory" -c "$(lt_conf DIR.P)" publish HOP.A P >/dev/null
"$LT_BIN/lienthong-directory" -c "$(lt_conf DIR.P)" publish HOP.B Q >/dev/null
"$LT_BIN/lienthong-relay" -c "$(lt_conf RELAY.PQ)" >>"$LT_WORK/relay.log" 2>&1 &
echo $! >"$LT_WORK/relay.pid"
lt_start HOP.A
lt_start HOP.B
knows() { "$LT_BIN/lienthong-directory" -c "$(lt_conf HOP.A)" list | grep -q '^HOP.B	Q'; }
lt_wait_until 120 knows
lt_wait_until 60 grep -q 'topics ready' "$LT_WORK/HOP.B/agent.log"
hop=$(rate HOP.A HOP.B "$LT_WORK/ids-hop")
lt_verify HOP.A HOP.B "$LT_WORK/ids-hop" >/dev/null

lt_figure "$N documents ($bytes bytes) end to end, delivered and receipted"
lt_figure "one platform:   $one documents/s"
lt_figure "one relay hop:  $hop documents/s ($(awk -v a="$hop" -v b="$one" 'BEGIN { printf "%.0f", 100 * a / b }')% of one platform)"
