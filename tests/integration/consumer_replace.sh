#!/usr/bin/env bash
# A stalled consumer is replaced while its broker is unreachable, and the
# replaced one is destroyed off the main loop. B reaches the broker only
# through the test proxy (tests/tools/lt_proxy.c), with receive_stall_s = 5:
# the link is black-holed (connections stay open, no byte moves: the way the
# librdkafka 2.0.2 hang in rd_kafka_destroy was met) long enough for two
# replacements, then cut (reset) and black-holed again, while A sends. After
# the link is up again B receives everything, and more, without a restart:
# nothing lost, nothing twice; B stops cleanly. Whether a destroy hung this
# time (logged "is not destroyed", counted in consumers_stuck) or returned
# ("destroyed in N ms") is printed as a figure. About 70 s.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${LT_REPLACE_DOCS:-30} # in three rounds
A=RPL.A01
B=RPL.B02

lt_setup
lt_proxy

lt_agency $A
lt_agency $B
lt_set $B kafka.bootstrap.servers "127.0.0.1:$LT_PROXY_PORT"
lt_set $B receive_stall_s 5
lt_set $B kafka.session.timeout.ms 6000
lt_set $B kafka.socket.timeout.ms 5000
lt_start $A
lt_start $B
topics_ready() { grep -q 'topics ready' "$LT_WORK/$A/agent.log" && grep -q 'topics ready' "$LT_WORK/$B/agent.log"; }
lt_check "agents created their topics" lt_wait_until 60 topics_ready

third=$((N / 3))
lt_make_docs "$LT_WORK/docs" "$N" 5000
files=("$LT_WORK/docs"/*.pdf)
lt_upload $A $B "$LT_WORK/ids" "${files[@]:0:third}"
lt_check "first $third documents delivered" lt_wait_until 90 lt_all_delivered $A "$LT_WORK/ids"

replacements() { grep -c 'replacing the Kafka consumer' "$LT_WORK/$B/agent.log" || true; }
lt_proxy_mode blackhole
lt_upload $A $B "$LT_WORK/ids" "${files[@]:third:third}"
two() { [ "$(replacements)" -ge 2 ]; }
lt_check "B replaced its stalled consumer twice while the link was black-holed" lt_wait_until 60 two
lt_proxy_mode drop
sleep 2
lt_proxy_mode blackhole
three() { [ "$(replacements)" -ge 3 ]; }
lt_check "and once more after the link was cut and black-holed again" lt_wait_until 60 three
lt_proxy_mode up
lt_check "B's main loop kept running: all $((2 * third)) documents delivered after the link came back" \
	lt_wait_until 120 lt_all_delivered $A "$LT_WORK/ids"
lt_upload $A $B "$LT_WORK/ids" "${files[@]:2*third}"
lt_check "B keeps receiving: all $N delivered" lt_wait_until 90 lt_all_delivered $A "$LT_WORK/ids"
lt_verify $A $B "$LT_WORK/ids"
lt_check "B is still the agent started at first (no restart)" kill -0 "$(cat "$LT_WORK/$B/agent.pid")"
health=$("$LT_BIN/lienthong-status" -c "$(lt_conf $B)" --summary --json)
lt_check "B's health counts its replacements" \
	grep -Eq '"consumer_replacements": *([3-9]|[1-9][0-9])' <<<"$health"
destroyed() { grep -c 'replaced Kafka consumer destroyed in' "$LT_WORK/$B/agent.log" || true; }
stuck() { grep -c 'replaced Kafka consumer is not destroyed' "$LT_WORK/$B/agent.log" || true; }
settled() { [ $(($(destroyed) + $(stuck))) -ge "$(replacements)" ]; }
lt_check "every replaced consumer was destroyed, or reported stuck after 30 s" lt_wait_until 60 settled
destroyed=$(destroyed)
stuck=$(stuck)
stuck_counted() { "$LT_BIN/lienthong-status" -c "$(lt_conf $B)" --summary --json | grep -Eq "\"consumers_stuck\": *$stuck[,}]"; }
lt_check "B's health counts the stuck ones ($stuck)" lt_wait_until 70 stuck_counted
lt_figure "replacements $(replacements), destroys returned $destroyed, destroys stuck (hang provoked) $stuck"
grep -o 'replaced Kafka consumer destroyed in [0-9]* ms' "$LT_WORK/$B/agent.log" | sed 's/^/figure: /' || true
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
