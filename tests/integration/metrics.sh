#!/usr/bin/env bash
# The agent's HTTP endpoint (http_listen): Prometheus metrics, health, the
# operator page's escaping, and its bounds. Agency A sends N documents to B:
#   - A's and B's /metrics pass Prometheus's own `promtool check metrics`
#     (before and after traffic: the histogram filled); promtool missing is a
#     failure, never a skip;
#   - the counters move with the traffic, by exactly N: A's documents that
#     entered `delivered`, A's delivery latency histogram count, A's gauge of
#     delivered documents; B's documents received and delivered;
#   - a subject holding <script> shows escaped on A's page (while its
#     document waits for B's failing target), never as a tag;
#   - junk requests (POST, unknown path, a 40 KB header, bytes that are not
#     HTTP) get 405, 404, 431 and a closed connection, and the agent still
#     answers; a non-loopback or malformed http_listen is refused by --check;
#   - /health answers 200 "ready", turns 503 "degraded: broker unreachable"
#     when the broker is stopped and 200 "ready" again after it is back;
#     lienthong_kafka_connected follows; the page lists the outage once it ended.
#   - with crl_file, the CRL's age and time to its next update are exposed.
# About 70 s.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=5
A=TEST.A01
B=TEST.B02

command -v promtool >/dev/null 2>&1 || {
	echo "FAIL: promtool is missing (Debian package prometheus: deploy/install-deps.sh)" >&2
	echo "0 passed, 1 failed"
	exit 1
}
command -v curl >/dev/null 2>&1 || {
	echo "FAIL: curl is missing (deploy/install-deps.sh)" >&2
	echo "0 passed, 1 failed"
	exit 1
}

lt_setup
lt_agency $A ec
lt_agency $B ec
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PA=$(free_port)
PB=$(free_port)
lt_set $A http_listen "127.0.0.1:$PA"
lt_set $B http_listen "localhost:$PB"
"$LT_ROOT/deploy/pki.sh" crl "$LT_WORK/pki" >/dev/null # valid 30 days
lt_set $B crl_file ../pki/crl.pem

# ---- http_listen is validated (by --check, as at start).
bad_listen() { # VALUE EXPECTED-TEXT
	sed "s/^http_listen = .*/http_listen = $1/" "$(lt_conf $A)" >"$LT_WORK/$A/bad.conf"
	local out
	if out=$("$LT_BIN/lienthong-agent" -c "$LT_WORK/$A/bad.conf" --check 2>&1); then return 1; fi
	grep -q -- "$2" <<<"$out"
}
lt_check "http_listen 10.1.2.3:9464 refused: not loopback" bad_listen 10.1.2.3:9464 "not a loopback address"
lt_check "http_listen 0.0.0.0:9464 refused: not loopback" bad_listen 0.0.0.0:9464 "not a loopback address"
lt_check "http_listen without a port refused" bad_listen 127.0.0.1 "no HOST:PORT"
lt_check "http_listen with port 70000 refused" bad_listen 127.0.0.1:70000 "PORT must be a number"
lt_check "http_listen [::1]:9464 accepted by --check" \
	eval '! bad_listen "[::1]:9464" http_listen'

# B's target fails at first (a file where its folder should be), so that
# A's documents wait with a reason from B while A's page is looked at.
lt_start $A
lt_start $B
get() { curl -s --max-time 10 "$@"; }
code() { curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$@"; }
metric() { # PORT NAME{LABELS} -> value (empty when absent)
	get "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }
health_is() { # PORT CODE FIRST-LINE
	local body
	body=$(curl -s --max-time 10 -w '\n%{http_code}' "http://127.0.0.1:$1/health") || return 1
	[ "$(tail -n 1 <<<"$body")" = "$2" ] && [ "$(head -n 1 <<<"$body")" = "$3" ]
}

lt_check "A answers /health 200 ready" lt_wait_until 60 health_is "$PA" 200 ready
lt_check "B answers /health 200 ready" lt_wait_until 60 health_is "$PB" 200 ready
promcheck() { get "http://127.0.0.1:$1/metrics" >"$LT_WORK/metrics-$1-$2.txt" && promtool check metrics <"$LT_WORK/metrics-$1-$2.txt"; }
lt_check "A's /metrics passes promtool check metrics (idle)" promcheck "$PA" idle
lt_check "B's /metrics passes promtool check metrics (idle)" promcheck "$PB" idle
lt_check "A: lienthong_kafka_connected 1" lt_wait_until 30 metric_is "$PA" lienthong_kafka_connected 1
crl_fresh() { # B's CRL: issued moments ago, next update in about 30 days
	local age exp
	age=$(metric "$PB" lienthong_crl_age_seconds)
	exp=$(metric "$PB" lienthong_crl_expiry_seconds)
	awk -v a="$age" -v e="$exp" 'BEGIN { exit !(a != "" && a >= 0 && a < 600 && e > 29 * 86400 && e <= 30 * 86400) }'
}
lt_check "B: lienthong_crl_age_seconds and _expiry_seconds describe crl_file" crl_fresh
lt_check "A (no crl_file): no CRL metric" eval "[ -z \"\$(metric $PA lienthong_crl_age_seconds)\" ]"

# ---- Traffic: N documents, counted exactly.
IDS=$LT_WORK/ids.txt
: >"$IDS"
lt_make_docs "$LT_WORK/docs" $N 3000
for i in $(seq 1 $N); do lt_upload $A $B "$IDS" "$LT_WORK/docs/doc-$i.pdf"; done
lt_check "all $N documents delivered" lt_wait_until 60 lt_all_delivered $A "$IDS"
lt_check "A: status_changes_total{delivered} = $N" \
	lt_wait_until 10 metric_is "$PA" 'lienthong_status_changes_total{status="delivered"}' $N
# A receipt applied before the broker's acknowledgement moves a document from
# queued straight to delivered (lifecycle/lt_lifecycle.c): it never is `sent`.
# The oracle is each document's history: those that were `sent` at some point.
SENT=0
while IFS=$'\t' read -r id _; do
	if "$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --history "$id" | grep -Eq ' -> sent( |$)'; then
		SENT=$((SENT + 1))
	fi
done <"$IDS"
lt_figure "$SENT of $N documents were sent before their receipt came (the others went queued -> delivered)"
lt_check "A: status_changes_total{sent} = $SENT, the documents whose history shows sent" \
	metric_is "$PA" 'lienthong_status_changes_total{status="sent"}' $SENT
lt_check "A: status_changes_total{queued} = $N" \
	metric_is "$PA" 'lienthong_status_changes_total{status="queued"}' $N
lt_check "A: delivery latency histogram counts $N" \
	metric_is "$PA" lienthong_delivery_latency_seconds_count $N
lt_check "A: delivery latency +Inf bucket = $N" \
	metric_is "$PA" 'lienthong_delivery_latency_seconds_bucket{le="+Inf"}' $N
lt_check "A: documents{delivered} gauge = $N" metric_is "$PA" 'lienthong_documents{status="delivered"}' $N
lt_check "A: recipient_documents{$B,delivered} = $N" \
	metric_is "$PA" "lienthong_recipient_documents{recipient=\"$B\",status=\"delivered\"}" $N
lt_check "A: outbox empty" lt_wait_until 10 metric_is "$PA" lienthong_outbox_records 0
lt_check "B: received_documents_total{delivered} = $N" \
	metric_is "$PB" 'lienthong_received_documents_total{outcome="delivered"}' $N
lt_check "B: nothing quarantined" metric_is "$PB" lienthong_quarantined_records_total 0
lt_check "A's /metrics passes promtool check metrics (after traffic)" promcheck "$PA" traffic
lt_check "B's /metrics passes promtool check metrics (after traffic)" promcheck "$PB" traffic

# ---- A hostile subject waits (B's target is a file now) and shows escaped.
mv "$LT_WORK/$B/target" "$LT_WORK/$B/target.away"
: >"$LT_WORK/$B/target"
echo "hostile" >"$LT_WORK/hostile.pdf"
"$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B \
	--subject '<script>document.title="pwned"</script> quyết định <b>x</b>' "$LT_WORK/hostile.pdf" >>"$IDS"
lt_check "B: /health degraded: target failing" \
	lt_wait_until 60 eval "get http://127.0.0.1:$PB/health | grep -q '^target failing'"
lt_check "B: retries_total{receive} > 0" \
	eval "[ \"\$(metric $PB 'lienthong_retries_total{kind=\"receive\"}')\" -gt 0 ]"
page_has_deferral() {
	get "http://127.0.0.1:$PA/" >"$LT_WORK/page-a.html" && grep -q 'at the recipient\|target' "$LT_WORK/page-a.html" &&
		grep -q 'quyết định' "$LT_WORK/page-a.html"
}
lt_check "A's page lists the waiting document with B's reason" lt_wait_until 60 page_has_deferral
lt_check "A's page shows the subject escaped (&lt;script&gt;)" \
	grep -q '&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt; quyết định &lt;b&gt;x&lt;/b&gt;' "$LT_WORK/page-a.html"
lt_check "A's page holds no <script> and no <b> tag" eval "! grep -qi '<script\|<b>' '$LT_WORK/page-a.html'"
lt_check "A's page forbids scripts (Content-Security-Policy default-src 'none')" \
	eval "curl -s -D - -o /dev/null http://127.0.0.1:$PA/ | grep -qi \"^content-security-policy: default-src 'none'\""
mv "$LT_WORK/$B/target" "$LT_WORK/$B/target.file"
mv "$LT_WORK/$B/target.away" "$LT_WORK/$B/target"
lt_check "the hostile-subject document is delivered once B's folder is back" \
	lt_wait_until 60 lt_all_delivered $A "$IDS"

# ---- Junk requests.
lt_check "POST /metrics: 405" [ "$(code -X POST -d x=1 "http://127.0.0.1:$PA/metrics")" = 405 ]
lt_check "GET /nope: 404" [ "$(code "http://127.0.0.1:$PA/nope")" = 404 ]
lt_check "a 40 KB header: 431" \
	[ "$(code -H "X-Big: $(head -c 40000 /dev/zero | tr '\0' a)" "http://127.0.0.1:$PA/")" = 431 ]
junk() { # bytes that are not HTTP, then the connection is closed by the agent
	exec 7<>"/dev/tcp/127.0.0.1/$PA"
	printf 'GARBAGE \x00\x01\xff\r\n\r\n' >&7
	timeout 15 cat <&7 >"$LT_WORK/junk.out" || true
	exec 7<&-
}
junk
lt_check "bytes that are not HTTP: answered 400 or closed" \
	eval "[ ! -s '$LT_WORK/junk.out' ] || grep -q '^HTTP/1.1 400' '$LT_WORK/junk.out'"
for i in $(seq 1 20); do exec {fd}<>"/dev/tcp/127.0.0.1/$PA" || true; done # idle connections
lt_check "after junk and 20 idle connections, /health still answers" \
	lt_wait_until 30 health_is "$PA" 200 ready
lt_check "agent A still runs" kill -0 "$(cat "$LT_WORK/$A/agent.pid")"

# ---- The broker stops: degraded; back: ready.
lt_broker stop
lt_check "A: /health 503 degraded when the broker is stopped" \
	lt_wait_until 60 health_is "$PA" 503 degraded
lt_check "A: the reason says broker unreachable" \
	eval "get http://127.0.0.1:$PA/health | grep -q '^broker unreachable'"
lt_check "A: lienthong_kafka_connected 0, lienthong_ready 0" \
	eval "metric_is $PA lienthong_kafka_connected 0 && metric_is $PA lienthong_ready 0"
lt_broker start
lt_check "A: /health 200 ready again after the broker is back" lt_wait_until 90 health_is "$PA" 200 ready
lt_check "A: lienthong_kafka_connected 1 again" metric_is "$PA" lienthong_kafka_connected 1
lt_check "A's page lists the broker outage among those that ended" \
	eval "get http://127.0.0.1:$PA/ | grep -q '<table id=\"past-outages\">.*<tr><td>broker unreachable</td>'"

lt_check "agent A stops cleanly" lt_stop $A
lt_check "agent B stops cleanly" lt_stop $B
