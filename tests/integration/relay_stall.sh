#!/usr/bin/env bash
# A relay's stalled link, provoked: two platforms P and Q (two topic
# prefixes on the suite's broker), agency A on P, B on Q, one relay between
# them that reaches Q only through the test proxy (tests/tools/lt_proxy.c),
# with receive_stall_s = 5. The link is black-holed (connections stay open,
# no byte moves) long enough for the relay to replace its Q-side consumer
# twice, cut (reset) and black-holed again, while A sends. After the link is
# up again every document crosses and its receipt comes back, without a
# restart of the relay: nothing lost, nothing twice. lienthong-relay --status
# shows the replacements. About 80 s.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${LT_RELAY_STALL_DOCS:-30} # in three rounds
A=RS.A01
B=RS.B01
R=RELAY.RS

lt_setup
lt_proxy
lt_pq $R "127.0.0.1:$LT_PROXY_PORT" $A $B receive_stall_s=5 peer.kafka.session.timeout.ms=6000 \
	peer.kafka.socket.timeout.ms=5000 peer.kafka.message.timeout.ms=30000
lt_pq_relay
lt_start $A
lt_start $B
lt_check "$A's agent learns $B through the relay" lt_wait_until 90 lt_pq_knows $A $B

third=$((N / 3))
lt_make_docs "$LT_WORK/docs" "$N" 20000
files=("$LT_WORK/docs"/*.pdf)
lt_upload $A $B "$LT_WORK/ids" "${files[@]:0:third}"
lt_check "first $third documents delivered through the relay" \
	lt_wait_until 120 lt_all_delivered $A "$LT_WORK/ids"

replacements() { grep -c 'reading Q: stalled since .*replacing the Kafka consumer' "$LT_WORK/R/relay.log" || true; }
lt_proxy_mode blackhole
lt_upload $A $B "$LT_WORK/ids" "${files[@]:third:third}"
two() { [ "$(replacements)" -ge 2 ]; }
lt_check "the relay replaced its stalled Q-side consumer twice while the link was black-holed" \
	lt_wait_until 90 two
status=$("$LT_BIN/lienthong-relay" -c "$LT_WORK/R/agency.conf" --status)
echo "$status"
lt_check "--status shows the Q side stalled, with its replacements" \
	grep -Eq '^reading Q: STALLED since .*consumers replaced: [2-9]' <<<"$status"
lt_proxy_mode drop
sleep 2
lt_proxy_mode blackhole
three() { [ "$(replacements)" -ge 3 ]; }
lt_check "and once more after the link was cut and black-holed again" lt_wait_until 90 three
lt_proxy_mode up
lt_check "all $((2 * third)) documents delivered after the link came back" \
	lt_wait_until 180 lt_all_delivered $A "$LT_WORK/ids"
lt_upload $A $B "$LT_WORK/ids" "${files[@]:2*third}"
lt_check "the relay keeps carrying: all $N delivered" lt_wait_until 120 lt_all_delivered $A "$LT_WORK/ids"
lt_verify $A $B "$LT_WORK/ids"
lt_check "the relay is still the one started at first (no restart)" kill -0 "$(cat "$LT_WORK/R.pid")"
recovered() { grep -q 'reading Q: moving again after' "$LT_WORK/R/relay.log"; }
lt_check "the relay logged that reading Q moves again" lt_wait_until 60 recovered
moving() { "$LT_BIN/lienthong-relay" -c "$LT_WORK/R/agency.conf" --status | grep -Eq '^reading Q: moving since .*consumers replaced: ([3-9]|[1-9][0-9])'; }
lt_check "--status shows the Q side moving again, $(replacements) replacements counted" lt_wait_until 30 moving
lt_figure "replacements $(replacements), destroys returned $(grep -c 'replaced Kafka consumer destroyed in' "$LT_WORK/R/relay.log" || true), stuck $(grep -c 'replaced Kafka consumer is not destroyed' "$LT_WORK/R/relay.log" || true)"
lt_check "the relay stops cleanly" lt_pq_relay_stop
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
