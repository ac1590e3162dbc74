#!/usr/bin/env bash
# Fault 1: the broker is stopped while documents are submitted, then started
# again after a pause. Submissions succeed while it is down (durable in the
# outbox), statuses say they wait, and everything flows once it is back.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${LT_OUTAGE_DOCS:-1500} # three times max_in_flight (500 here): the in-flight set turns over
PAUSE=${LT_OUTAGE_PAUSE:-10}
A=OUT.A01
B=OUT.B02

lt_setup
lt_agency $A
lt_agency $B
lt_set $A max_in_flight 500
lt_start $A
lt_start $B
topics_ready() { grep -q 'topics ready' "$LT_WORK/$A/agent.log" && grep -q 'topics ready' "$LT_WORK/$B/agent.log"; }
lt_check "agents created their topics" lt_wait_until 60 topics_ready

lt_broker stop
lt_make_docs "$LT_WORK/docs" "$N" 20000
lt_check "$N documents accepted while the broker is down" \
	lt_upload $A $B "$LT_WORK/ids" "$LT_WORK/docs"/*.pdf
sleep "$PAUSE"
queued=$(lt_count_status $A queued)
lt_check "all $N still queued after ${PAUSE}s of outage ($queued)" [ "$queued" -eq "$N" ]
summary=$("$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --summary)
lt_check "summary shows the oldest queued document's age" grep -q 'oldest queued document waits' <<<"$summary"
lt_check "both agents survived the outage" kill -0 "$(cat "$LT_WORK/$A/agent.pid")" "$(cat "$LT_WORK/$B/agent.pid")"

lt_broker start
start=$SECONDS
lt_check "all delivered after the broker returned" lt_wait_until 300 lt_all_delivered $A "$LT_WORK/ids"
lt_figure "drained $N documents $((SECONDS - start)) s after the broker returned"
lt_verify $A $B "$LT_WORK/ids"
lt_check "outage logged at most a few times, not per message" \
	[ "$(grep -c 'forwarding to Kafka failed' "$LT_WORK/$A/agent.log" || true)" -le 3 ]
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
