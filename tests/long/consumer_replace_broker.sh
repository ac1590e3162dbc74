#!/usr/bin/env bash
# consumer_replace.sh with the broker itself going away: ROUNDS times the
# broker is stopped until B (receive_stall_s = 5) has replaced its stalled
# consumer, then started again and documents flow, so that each replaced
# consumer lived through its broker going away and coming back (the case in
# which librdkafka 2.0.2 was found hanging in rd_kafka_destroy: librdkafka
# issue 4674). B must keep receiving without a restart, deliver everything
# exactly once and stop cleanly; how many destroys returned and how many hung
# (logged and counted as stuck) is printed. About 40 s a round.
set -euo pipefail
source "$(dirname "$0")/../integration/lib.sh"
ROUNDS=${LT_REPLACE_ROUNDS:-4}
PER=5 # documents a round
A=RPB.A01
B=RPB.B02

lt_setup
lt_agency $A
lt_agency $B
lt_set $B receive_stall_s 5
lt_set $B kafka.session.timeout.ms 6000
lt_start $A
lt_start $B
topics_ready() { grep -q 'topics ready' "$LT_WORK/$A/agent.log" && grep -q 'topics ready' "$LT_WORK/$B/agent.log"; }
lt_check "agents created their topics" lt_wait_until 60 topics_ready
lt_make_docs "$LT_WORK/docs" $((PER * (ROUNDS + 1))) 5000
files=("$LT_WORK/docs"/*.pdf)
lt_upload $A $B "$LT_WORK/ids" "${files[@]:0:PER}"
lt_check "first $PER documents delivered" lt_wait_until 90 lt_all_delivered $A "$LT_WORK/ids"

replacements() { grep -c 'replacing the Kafka consumer' "$LT_WORK/$B/agent.log" || true; }
for r in $(seq 1 "$ROUNDS"); do
	want=$(($(replacements) + 1))
	lt_broker stop
	replaced() { [ "$(replacements)" -ge "$want" ]; }
	lt_check "round $r: B replaced its consumer while the broker was stopped" lt_wait_until 90 replaced
	lt_broker start
	lt_upload $A $B "$LT_WORK/ids" "${files[@]:r*PER:PER}"
	lt_check "round $r: B receives again once the broker is back" \
		lt_wait_until 120 lt_all_delivered $A "$LT_WORK/ids"
done
lt_verify $A $B "$LT_WORK/ids"
lt_check "B is still the agent started at first (no restart)" kill -0 "$(cat "$LT_WORK/$B/agent.pid")"
destroyed() { grep -c 'replaced Kafka consumer destroyed in' "$LT_WORK/$B/agent.log" || true; }
stuck() { grep -c 'replaced Kafka consumer is not destroyed' "$LT_WORK/$B/agent.log" || true; }
settled() { [ $(($(destroyed) + $(stuck))) -ge "$(replacements)" ]; }
lt_check "every replaced consumer was destroyed, or reported stuck after 30 s" lt_wait_until 60 settled
lt_figure "replacements $(replacements), destroys returned $(destroyed), destroys stuck (hang provoked) $(stuck)"
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
