#!/usr/bin/env bash
# Federation (issue 12): three platforms on three real brokers, a province
# (PROV, the suite's broker), the national platform (NGSP) and a ministry
# (MIN), and a second province (PROV2: its own topic prefix, on the suite's
# broker to spare a fourth), linked by three relays PROV<->NGSP, NGSP<->MIN
# and PROV2<->NGSP. Agencies on both ends exchange documents each way
# through two hops; an agency of PROV2 sends to one of PROV through NGSP
# (two hops, a third relay); documents between two agencies of the province
# never leave it; the relay to the national
# platform is killed with kill -9 and its link flaps through the test proxy;
# a tampering relay's document and receipt are caught; a code the directory
# does not know is refused at submission; directory updates (a new code, a
# code moving to another platform) are followed without restarting anything.
#
# Sizes (tests/long/federation_2000.sh raises them): LT_FED_DOCS documents each
# way, LT_FED_DOCS2 from PROV2 to PROV, LT_FED_LOCAL local ones, LT_FED_KILLS kill -9 of the PROV<->NGSP relay,
# LT_FED_FLAP seconds of flapping, LT_FED_NGSP_STOP seconds the national broker
# is stopped (0: not stopped).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${LT_FED_DOCS:-60}
LOCAL=${LT_FED_LOCAL:-20}
N2=${LT_FED_DOCS2:-20}
KILLS=${LT_FED_KILLS:-1}
FLAP=${LT_FED_FLAP:-8}
NGSP_STOP=${LT_FED_NGSP_STOP:-0}
base=${LT_KAFKA_PORT:-18092}
ngsp_port=${LT_FED_NGSP_PORT:-$((base + 300))}
ngsp_proxy=${LT_FED_NGSP_PROXY_PORT:-$((base + 301))}
ngsp_proxied=${LT_FED_NGSP_PROXIED_PORT:-$((base + 302))}
min_port=${LT_FED_MIN_PORT:-$((base + 400))}
A=P.A01 # province
L=P.A02 # province, local documents only
B=M.B01 # ministry
Z=Z.C01 # starts on the ministry platform, moves to the national one
NEW=M.B02
C=Q.C01 # second province

lt_setup
ngsp_dir=${LT_FED_NGSP_DIR:-$LT_WORK/kafka-ngsp}
min_dir=${LT_FED_MIN_DIR:-$LT_WORK/kafka-min}
ngsp_broker() {
	LT_KAFKA_PORT=$ngsp_port LT_KAFKA_DIR=$ngsp_dir LT_KAFKA_PROXY_PORT=$ngsp_proxy \
		LT_KAFKA_PROXIED_PORT=$ngsp_proxied "$LT_ROOT/deploy/kafka.sh" "$@"
}
min_broker() {
	LT_KAFKA_PORT=$min_port LT_KAFKA_DIR=$min_dir LT_KAFKA_PROXY_PORT= "$LT_ROOT/deploy/kafka.sh" "$@"
}
stop_brokers() {
	if [ -z "${LT_FED_KEEP_BROKERS:-}" ]; then
		ngsp_broker stop >/dev/null 2>&1 || true
		min_broker stop >/dev/null 2>&1 || true
	fi
}
trap 'rc=$?; lt_teardown_relays; stop_brokers; (exit $rc); lt_teardown' EXIT
lt_teardown_relays() {
	for r in R1 R2 R3; do
		if [ -f "$LT_WORK/$r.pid" ]; then kill -TERM "$(cat "$LT_WORK/$r.pid")" 2>/dev/null || true; fi
	done
}
ngsp_broker start >"$LT_WORK/kafka-ngsp.log" 2>&1 || { cat "$LT_WORK/kafka-ngsp.log"; exit 1; }
min_broker start >"$LT_WORK/kafka-min.log" 2>&1 || { cat "$LT_WORK/kafka-min.log"; exit 1; }
echo "national and ministry brokers on 127.0.0.1:$ngsp_port and :$min_port"

PROV_BS=$LT_BOOTSTRAP
NGSP_BS=127.0.0.1:$ngsp_port
MIN_BS=127.0.0.1:$min_port
PP=${LT_PREFIX}p NP=${LT_PREFIX}n MP=${LT_PREFIX}m QP=${LT_PREFIX}q
mode="$LT_WORK/proxy.mode"
set_mode() { echo "$1" >"$mode.new" && mv "$mode.new" "$mode"; }
set_mode up
"$LT_BUILD/tests/lt-proxy" --listen "$ngsp_proxy" --target "$ngsp_proxied" --control "$mode" \
	2>"$LT_WORK/proxy.log" &
LT_PIDS+=($!)

# on CODE PLATFORM: CODE's configuration points at PLATFORM's cluster.
on() {
	case $2 in
	PROV) lt_set "$1" kafka.bootstrap.servers "$PROV_BS"; lt_set "$1" topic_prefix "$PP" ;;
	NGSP) lt_set "$1" kafka.bootstrap.servers "$NGSP_BS"; lt_set "$1" topic_prefix "$NP" ;;
	MIN) lt_set "$1" kafka.bootstrap.servers "$MIN_BS"; lt_set "$1" topic_prefix "$MP" ;;
	PROV2) lt_set "$1" kafka.bootstrap.servers "$PROV_BS"; lt_set "$1" topic_prefix "$QP" ;;
	esac
	lt_set "$1" platform "$2"
}
for x in "$A PROV" "$L PROV" "$B MIN" "$Z MIN" "$C PROV2"; do
	set -- $x
	lt_agency "$1"
	on "$1" "$2"
done
# Directory signers, one per platform operator (deploy/pki.sh directory).
for x in "DIR.PROV PROV" "DIR.NGSP NGSP" "DIR.MIN MIN" "DIR.PROV2 PROV2"; do
	set -- $x
	"$LT_ROOT/deploy/pki.sh" directory "$LT_WORK/pki" "$1" >/dev/null
	mkdir -p "$LT_WORK/$1"
	"$LT_ROOT/deploy/agency-conf.sh" "$LT_WORK/$1/agency.conf" "$1" ../pki "$PROV_BS"
	on "$1" "$2"
done
dir() { "$LT_BIN/lienthong-directory" -c "$(lt_conf "$1")" "${@:2}"; }

out=$(dir $A publish $A PROV 2>&1 || true)
lt_check "an agency's certificate cannot sign directory entries" \
	grep -q 'lacks the directory signing purpose' <<<"$out"
pub() { dir "$1" publish "$2" "$3" >/dev/null; }
lt_check "DIR.PROV publishes $A and $L" eval "pub DIR.PROV $A PROV && pub DIR.PROV $L PROV"
lt_check "DIR.MIN publishes $B and $Z" eval "pub DIR.MIN $B MIN && pub DIR.MIN $Z MIN"
lt_check "DIR.PROV2 publishes $C" pub DIR.PROV2 $C PROV2

# Relays: their own certificates (relay purpose) and stores.
relay_conf() { # NAME NEAR FAR ROUTES PEER_ROUTES FAR_BOOTSTRAP
	"$LT_ROOT/deploy/pki.sh" relay "$LT_WORK/pki" "RELAY.$1" >/dev/null
	mkdir -p "$LT_WORK/$1"
	"$LT_ROOT/deploy/agency-conf.sh" "$LT_WORK/$1/agency.conf" "RELAY.$1" ../pki "$PROV_BS" \
		log_level=debug retry_backoff_min_ms=200 retry_backoff_max_ms=2000 kafka.linger.ms=5 \
		kafka.socket.timeout.ms=10000 kafka.message.timeout.ms=30000 \
		peer.kafka.socket.timeout.ms=10000 peer.kafka.message.timeout.ms=30000 \
		peer.kafka.linger.ms=5 topic_partitions=3
	on "$1" "$2"
	local f="$LT_WORK/$1/agency.conf"
	case $3 in
	NGSP) echo "peer_topic_prefix = $NP" >>"$f" ;;
	MIN) echo "peer_topic_prefix = $MP" >>"$f" ;;
	esac
	{
		echo "peer_platform = $3"
		echo "peer.kafka.bootstrap.servers = $6"
		echo "routes = $4"
		echo "peer_routes = $5"
	} >>"$f"
}
relay_conf R1 PROV NGSP "" "*" "127.0.0.1:$ngsp_proxy" # through the flapping proxy
relay_conf R2 NGSP MIN "*" "" "$MIN_BS"
relay_conf R3 PROV2 NGSP "" "*" "$NGSP_BS"
relay_start() {
	"$LT_BIN/lienthong-relay" -c "$LT_WORK/$1/agency.conf" >>"$LT_WORK/$1/relay.log" 2>&1 &
	echo $! >"$LT_WORK/$1.pid"
}
out=$("$LT_BIN/lienthong-relay" -c "$(lt_conf $A)" 2>&1 || true)
lt_check "an agency's certificate cannot run a relay" grep -q 'lacks the relay purpose' <<<"$out"
relay_start R1
relay_start R2
relay_start R3
for c in $A $L $B $Z $C; do lt_start $c; done

knows() { dir "$1" list | awk -v c="$2" -v p="$3" '$1 == c && $2 == p { f = 1 } END { exit !f }'; }
lt_check "$A's agent learns $B (published on MIN, copied by both relays)" lt_wait_until 90 knows $A $B MIN
lt_check "$B's agent learns $A" lt_wait_until 60 knows $B $A PROV
lt_check "$C's agent (PROV2) learns $A (three relays copy directories)" lt_wait_until 60 knows $C $A PROV

echo x >"$LT_WORK/one.txt"
out=$("$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to X.UNKNOWN "$LT_WORK/one.txt" 2>&1 || true)
lt_check "a document for a code the directory does not know is refused at submission" \
	grep -q 'recipient X.UNKNOWN is not in the directory of platform PROV' <<<"$out"
out=$("$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $NEW "$LT_WORK/one.txt" 2>&1 || true)
lt_check "... and $NEW too, before it is published" grep -q "recipient $NEW is not in the directory" <<<"$out"
dir DIR.MIN publish $NEW MIN >/dev/null
lt_check "a new entry reaches the province without a restart" lt_wait_until 60 knows $A $NEW MIN
lt_check "... and a document for $NEW is accepted now" \
	"$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $NEW "$LT_WORK/one.txt"

# Traffic each way, and local documents, while the relay is killed and its link flaps.
lt_make_docs "$LT_WORK/docs-$A" "$N" 20000
lt_make_docs "$LT_WORK/docs-$B" "$N" 20000
lt_make_docs "$LT_WORK/docs-L" "$LOCAL" 20000
lt_make_docs "$LT_WORK/docs-$C" "$N2" 20000
paced() { # from to ids dir
	local files=("$4"/*.pdf)
	for ((i = 0; i < ${#files[@]}; i += 20)); do
		lt_upload "$1" "$2" "$3" "${files[@]:i:20}"
		sleep 0.5
	done
}
t0=$SECONDS
paced $A $B "$LT_WORK/ids-$A" "$LT_WORK/docs-$A" &
up1=$!
paced $B $A "$LT_WORK/ids-$B" "$LT_WORK/docs-$B" &
up2=$!
paced $C $A "$LT_WORK/ids-$C" "$LT_WORK/docs-$C" &
up3=$!
lt_upload $A $L "$LT_WORK/ids-L" "$LT_WORK/docs-L"/*.pdf
for k in $(seq 1 "$KILLS"); do
	sleep 3
	kill -9 "$(cat "$LT_WORK/R1.pid")"
	wait "$(cat "$LT_WORK/R1.pid")" 2>/dev/null || true
	sleep 1
	relay_start R1
done
lt_figure "relay PROV<->NGSP killed with kill -9 $KILLS time(s) and restarted"
end=$((SECONDS + FLAP))
flaps=0
while [ $SECONDS -lt $end ]; do
	case $((RANDOM % 3)) in 0) set_mode drop ;; 1) set_mode blackhole ;; 2) set_mode up ;; esac
	flaps=$((flaps + 1))
	sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.1f", 1 + (r % 20) / 10 }')"
done
set_mode up
lt_figure "link PROV<->NGSP flapped $flaps times through the proxy"
if [ "$NGSP_STOP" -gt 0 ]; then
	ngsp_broker stop >/dev/null
	sleep "$NGSP_STOP"
	ngsp_broker start >/dev/null
	lt_figure "national broker stopped for $NGSP_STOP s and started again"
fi
wait $up1
wait $up2
wait $up3
lt_check "all $N documents of each sender were accepted (and $N2 of $C)" \
	eval "[ \$(wc -l <'$LT_WORK/ids-$A') -eq $N ] && [ \$(wc -l <'$LT_WORK/ids-$B') -eq $N ] && [ \$(wc -l <'$LT_WORK/ids-$C') -eq $N2 ]"
both() { lt_all_delivered $A "$LT_WORK/ids-$A" && lt_all_delivered $B "$LT_WORK/ids-$B" && lt_all_delivered $A "$LT_WORK/ids-L" && lt_all_delivered $C "$LT_WORK/ids-$C"; }
lt_check "every document shows delivered at its sender" lt_wait_until $((120 + N / 10)) both
lt_figure "$((2 * N + N2 + LOCAL)) documents ($N each way, $N2 from PROV2, $LOCAL local) all delivered $((SECONDS - t0)) s after the first was submitted"
lt_verify $A $B "$LT_WORK/ids-$A"
lt_verify $B $A "$LT_WORK/ids-$B"
lt_verify $A $L "$LT_WORK/ids-L"
lt_verify $C $A "$LT_WORK/ids-$C"

hops() { # sender id: the hops in its history, one per line
	"$LT_BIN/lienthong-status" -c "$(lt_conf "$1")" --history "$2" | grep -o 'at [A-Z]* since' | sort
}
first=$(head -n 1 "$LT_WORK/ids-$A" | cut -f 1)
"$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --history "$first"
lt_check "$A's history of a document to $B shows the hops at NGSP and MIN" \
	bash -c "[ \"\$1\" = \$'at MIN since\nat NGSP since' ]" _ "$(hops $A "$first")"
first=$(head -n 1 "$LT_WORK/ids-$B" | cut -f 1)
lt_check "$B's history of a document to $A shows the hops at NGSP and PROV" \
	bash -c "[ \"\$1\" = \$'at NGSP since\nat PROV since' ]" _ "$(hops $B "$first")"
missing=0
while IFS=$'\t' read -r id _; do
	[ "$(hops $A "$id" | wc -l)" -eq 2 ] || missing=$((missing + 1))
done <"$LT_WORK/ids-$A"
lt_check "every document of $A to $B has both hops in its history, each once ($missing otherwise)" [ "$missing" -eq 0 ]
first=$(head -n 1 "$LT_WORK/ids-$C" | cut -f 1)
lt_check "$C's history of a document to $A shows the hops at NGSP (relay PROV2<->NGSP) and PROV" \
	bash -c "[ \"\$1\" = \$'at NGSP since\nat PROV since' ]" _ "$(hops $C "$first")"
first=$(head -n 1 "$LT_WORK/ids-L" | cut -f 1)
lt_check "a local document has no hop" [ -z "$(hops $A "$first")" ]

count() { # bootstrap topic: records on it; -1 when kcat fails (no check passes on it)
	local out
	if ! out=$(timeout 60 kcat -b "$1" -C -t "$2" -o beginning -e -q -f 'x\n' 2>"$LT_WORK/kcat.err"); then
		echo "kcat -t $2 failed: $(cat "$LT_WORK/kcat.err")" >&2
		echo -1
		return
	fi
	printf '%s' "$out" | grep -c '^x$' || true
}
lt_check "the national broker carried documents for $B" [ "$(count "$NGSP_BS" "$NP.inbox.$B")" -ge "$N" ]
lt_check "documents between agencies of the province never reached the national broker" \
	[ "$(count "$NGSP_BS" "$NP.inbox.$L")" -eq 0 ]
lt_check "... nor the ministry's" [ "$(count "$MIN_BS" "$MP.inbox.$L")" -eq 0 ]

# A tampering relay: alters a document on its way to MIN and a receipt on its way back.
echo "tamper test" >"$LT_WORK/tamper.txt"
"$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B "$LT_WORK/tamper.txt" >"$LT_WORK/ids-T"
tid=$(cut -f 1 "$LT_WORK/ids-T")
lt_check "a tampering relay alters the document into MIN" \
	"$LT_BUILD/tests/lt-tamper" --from "$PROV_BS" --from-topic "$PP.inbox.$B" --to "$MIN_BS" \
	--to-topic "$MP.inbox.$B" --id "$tid"
quarantined() { # code id pattern: a quarantined record of id whose line matches pattern
	"$LT_BIN/lienthong-status" -c "$(lt_conf "$1")" --quarantine | grep "$2" | grep -qi "$3"
}
lt_check "$B quarantines the altered document (signature)" \
	lt_wait_until 60 quarantined $B "$tid" 'signature'
lt_check "the genuine document is delivered all the same" lt_wait_until 90 lt_all_delivered $A "$LT_WORK/ids-T"
lt_check "a tampering relay alters the receipt into PROV" \
	"$LT_BUILD/tests/lt-tamper" --from "$MIN_BS" --from-topic "$MP.receipts.$A" --to "$PROV_BS" \
	--to-topic "$PP.receipts.$A" --id "$tid"
lt_check "$A quarantines the altered receipt" lt_wait_until 60 quarantined $A "$tid" 'signature'
sleep 2
lt_check "... and the document stays delivered" lt_all_delivered $A "$LT_WORK/ids-T"

# A code moves from MIN to NGSP: republished there, its agent moved with its store.
lt_make_docs "$LT_WORK/docs-Z" 6 20000
lt_upload $A $Z "$LT_WORK/ids-Z1" "$LT_WORK/docs-Z"/doc-{1,2,3}.pdf
lt_check "documents reach $Z on MIN" lt_wait_until 90 lt_all_delivered $A "$LT_WORK/ids-Z1"
dir DIR.NGSP publish $Z NGSP >/dev/null
lt_check "the province follows the move of $Z to NGSP" lt_wait_until 60 knows $A $Z NGSP
lt_stop $Z
on $Z NGSP
lt_start $Z
lt_upload $A $Z "$LT_WORK/ids-Z2" "$LT_WORK/docs-Z"/doc-{4,5,6}.pdf
lt_check "documents sent after the move reach $Z on NGSP" lt_wait_until 90 lt_all_delivered $A "$LT_WORK/ids-Z2"
cat "$LT_WORK/ids-Z1" "$LT_WORK/ids-Z2" >"$LT_WORK/ids-Z"
lt_verify $A $Z "$LT_WORK/ids-Z"
first=$(head -n 1 "$LT_WORK/ids-Z2" | cut -f 1)
lt_check "... through one hop only (at NGSP)" bash -c "[ \"\$1\" = 'at NGSP since' ]" _ "$(hops $A "$first")"

out=$("$LT_BIN/lienthong-relay" -c "$LT_WORK/R1/agency.conf" --status)
echo "$out"
r1_idle() {
	local o
	o=$("$LT_BIN/lienthong-relay" -c "$LT_WORK/R1/agency.conf" --status) &&
		grep -q '^relay RELAY.R1: PROV <-> NGSP' <<<"$o" && grep -q '^nothing waits' <<<"$o" &&
		grep -q '^reading PROV: moving since' <<<"$o" && grep -q '^writing NGSP: working' <<<"$o" &&
		grep -q '^storing what PROV sends: working' <<<"$o" && grep -q '^storing what NGSP sends: working' <<<"$o" &&
		! grep -Eq '^(NOT RUNNING|STALE)' <<<"$o"
}
lt_check "lienthong-relay --status shows the link, nothing waiting, and each side working" \
	lt_wait_until 30 r1_idle
out=$("$LT_BIN/lienthong-relay" -c "$LT_WORK/R3/agency.conf" --status)
echo "$out"
sides_moving() {
	grep -q '^reading PROV2: moving since' <<<"$1" && grep -q '^reading NGSP: moving since' <<<"$1" &&
		! grep -Eq '^(NOT RUNNING|STALE)' <<<"$1" && kill -0 "$(cat "$LT_WORK/R3.pid")"
}
lt_check "the third relay runs and its --status shows both sides reading" sides_moving "$out"
for r in R1 R2 R3; do
	lt_figure "relay $r: consumers replaced $(grep -c 'Kafka consumer replaced' "$LT_WORK/$r/relay.log" || true), producers recreated $(grep -c 'recreating the Kafka producer' "$LT_WORK/$r/relay.log" || true), starts $(grep -c 'started:' "$LT_WORK/$r/relay.log" || true)"
done
for c in $A $L $B $Z $C; do lt_check "agent $c stops cleanly" lt_stop $c; done
