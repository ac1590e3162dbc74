#!/usr/bin/env bash
# The broker is killed with kill -9 while documents flow both ways, and
# answers again after longer than the consumers' session timeout. The agents
# drain by themselves: no restart, nothing lost, nothing delivered twice.
# Meanwhile lienthong-status --summary shows receiving as stalled, with the
# reason, and as ok again afterwards.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${LT_CRASH_DOCS:-400} # in total, half each way
DOWN=${LT_CRASH_DOWN:-20}
A=CRASH.A01
B=CRASH.B02

lt_setup
for code in $A $B; do
	lt_agency $code
	lt_set $code receive_stall_s 6
	lt_set $code kafka.session.timeout.ms 10000
	lt_start $code
done
topics_ready() { grep -q 'topics ready' "$LT_WORK/$A/agent.log" && grep -q 'topics ready' "$LT_WORK/$B/agent.log"; }
lt_check "agents created their topics" lt_wait_until 60 topics_ready

half=$((N / 2))
lt_make_docs "$LT_WORK/docs-$A" "$half" 20000
lt_make_docs "$LT_WORK/docs-$B" "$half" 20000
fa=("$LT_WORK/docs-$A"/*.pdf)
fb=("$LT_WORK/docs-$B"/*.pdf)
q=$((half / 4))
lt_upload $A $B "$LT_WORK/ids-$A" "${fa[@]:0:q}"
lt_upload $B $A "$LT_WORK/ids-$B" "${fb[@]:0:q}"
first() { lt_all_delivered $A "$LT_WORK/ids-$A" && lt_all_delivered $B "$LT_WORK/ids-$B"; }
lt_check "first $((2 * q)) documents delivered before the crash" lt_wait_until 120 first

# Uploads in flight as the broker dies.
lt_upload $A $B "$LT_WORK/ids-$A" "${fa[@]:q:q}" &
up1=$!
lt_upload $B $A "$LT_WORK/ids-$B" "${fb[@]:q:q}" &
up2=$!
pid=$(LT_KAFKA_PORT=$LT_KAFKA_PORT LT_KAFKA_DIR=$LT_KAFKA_DIR "$LT_ROOT/deploy/kafka.sh" status | sed -n 's/^running (pid \([0-9]*\),.*/\1/p')
lt_check "the broker runs (pid $pid)" [ -n "$pid" ]
kill -KILL "$pid"
killed_at=$SECONDS
wait $up1 || lt_fail "an upload of $A failed while the broker was killed (its error is above)"
wait $up2 || lt_fail "an upload of $B failed while the broker was killed (its error is above)"
# And more while it is down.
lt_upload $A $B "$LT_WORK/ids-$A" "${fa[@]:2*q}"
lt_upload $B $A "$LT_WORK/ids-$B" "${fb[@]:2*q}"
lt_check "all $N documents accepted" [ "$(cat "$LT_WORK/ids-$A" "$LT_WORK/ids-$B" | wc -l)" -eq "$N" ]

stalled() { "$LT_BIN/lienthong-status" -c "$(lt_conf $B)" --summary | grep -Eq '^receiving +stalled since .*not a member of its Kafka consumer group'; }
lt_check "status of $B says receiving is stalled, and why, while the broker is down" lt_wait_until "$DOWN" stalled
down_long_enough() { [ $((SECONDS - killed_at)) -ge "$DOWN" ]; }
lt_wait_until $((DOWN + 5)) down_long_enough # down DOWN s in all, stall included
lt_check "both agents survived the crash" kill -0 "$(cat "$LT_WORK/$A/agent.pid")" "$(cat "$LT_WORK/$B/agent.pid")"
lt_broker start
start=$SECONDS
both() { lt_all_delivered $A "$LT_WORK/ids-$A" && lt_all_delivered $B "$LT_WORK/ids-$B"; }
lt_check "all $N delivered after the broker came back, without restarting an agent" lt_wait_until 240 both
lt_figure "drained $((SECONDS - start)) s after the broker was started again (start included)"
lt_verify $A $B "$LT_WORK/ids-$A"
lt_verify $B $A "$LT_WORK/ids-$B"
ok() { "$LT_BIN/lienthong-status" -c "$(lt_conf $B)" --summary | grep -Eq '^receiving +ok '; }
lt_check "status of $B says receiving is ok again" lt_wait_until 30 ok
lt_check "the stall was logged as a warning with what the agent does about it" \
	grep -q 'warn: receiving: stalled since .*; replacing the Kafka consumer' "$LT_WORK/$B/agent.log"
lt_check "and the recovery as well" grep -q 'receiving: moving again after' "$LT_WORK/$B/agent.log"
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
