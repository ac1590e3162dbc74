#!/usr/bin/env bash
# Nothing stops silently (issue 7): every handle or thread of the agent that
# can die is replaced by the agent itself, provoked here on purpose.
#   1. A fenced consumer: B's agent runs with static membership
#      (kafka.group.instance.id); a second consumer (kcat) joins B's group with
#      the same instance id, which fences B's consumer for good (a fatal error
#      in librdkafka). B replaces its consumer and goes on receiving; every
#      document, before and after, is delivered exactly once.
#   2. A second agent with the same configuration refuses to start, and the
#      first one is untouched.
#   3. The submission socket removed under the running agent: the agent
#      notices and listens again; uploads go through it again.
#   4. Forwarding that fails (a recipient whose topic does not exist) shows in
#      lienthong-status --summary.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${LT_RECOVERY_DOCS:-200}
A=REC.A01
B=REC.B02

lt_setup
lt_agency $A
lt_agency $B
lt_set $B kafka.group.instance.id "static-$B"
lt_set $B kafka.session.timeout.ms 10000
lt_start $A
lt_start $B
topics_ready() { grep -q 'topics ready' "$LT_WORK/$A/agent.log" && grep -q 'topics ready' "$LT_WORK/$B/agent.log"; }
lt_check "agents created their topics" lt_wait_until 60 topics_ready
assigned() { grep -q 'kafka: assigned' "$LT_WORK/$B/agent.log"; }
lt_check "$B's consumer joined its group" lt_wait_until 60 assigned

# For 4: an agency without a topic (the broker does not create topics by itself).
echo "nobody reads this" >"$LT_WORK/lost.txt"
lt_upload $A REC.X99 "$LT_WORK/ids-lost" "$LT_WORK/lost.txt"

lt_make_docs "$LT_WORK/docs" "$N" 20000
files=("$LT_WORK/docs"/*.pdf)
half=$((N / 2))
lt_upload $A $B "$LT_WORK/ids" "${files[@]:0:half}"
first_half() { [ "$(lt_count_status $A delivered)" -eq "$half" ]; }
lt_check "first $half documents delivered before the fencing" lt_wait_until 120 first_half

# --- 1. fencing ---------------------------------------------------------------
group=$(grep -E '^group_id = ' "$(lt_conf $B)" | sed 's/^group_id = //' || true)
[ -n "$group" ] || group="$LT_PREFIX.agent.$B"
kcat -b "$LT_BOOTSTRAP" -G "$group" -X group.instance.id="static-$B" -X session.timeout.ms=10000 \
	-o end -q "$LT_PREFIX.inbox.$B" >"$LT_WORK/kcat.out" 2>"$LT_WORK/kcat.log" &
kcat_pid=$!
LT_PIDS+=($kcat_pid)
fenced() { grep -q 'receiving: Kafka consumer fatal error' "$LT_WORK/$B/agent.log"; }
lt_check "$B's consumer was fenced by the intruder with its instance id (fatal error logged)" \
	lt_wait_until 60 fenced
replaced() { grep -q 'receiving: Kafka consumer replaced' "$LT_WORK/$B/agent.log"; }
lt_check "$B replaced its consumer by itself" lt_wait_until 30 replaced
fatal_line=$(grep -m1 'receiving: Kafka consumer fatal error' "$LT_WORK/$B/agent.log")
lt_check "the log line says what happened and what the agent does" \
	grep -q 'FENCED_INSTANCE_ID.*replacing the Kafka consumer' <<<"$fatal_line"
kill "$kcat_pid" 2>/dev/null || true
wait "$kcat_pid" 2>/dev/null || true

lt_upload $A $B "$LT_WORK/ids" "${files[@]:half}"
all() { lt_all_delivered $A "$LT_WORK/ids"; }
lt_check "all $N documents delivered after the fencing, without a restart" lt_wait_until 180 all
lt_verify $A $B "$LT_WORK/ids"
lt_check "$B's agent is the process started at the beginning" \
	kill -0 "$(cat "$LT_WORK/$B/agent.pid")"
summary=$("$LT_BIN/lienthong-status" -c "$(lt_conf $B)" --summary)
lt_check "status of $B: agent running, receiving ok with the replacement counted" \
	grep -Eq '^receiving +ok .*replaced [1-9][0-9]* time' <<<"$summary"

# --- 2. a second agent with the same configuration ----------------------------
st=0
timeout 30 "$LT_BIN/lienthong-agent" -c "$(lt_conf $B)" >"$LT_WORK/second.log" 2>&1 || st=$?
lt_check "a second agent of $B exits with status 1 ($st)" [ "$st" -eq 1 ]
lt_check "it says another agent runs, with its pid" \
	grep -q "another lienthong-agent (pid $(cat "$LT_WORK/$B/agent.pid")) is already running" "$LT_WORK/second.log"
lt_check "the submission socket of $B still belongs to the first agent" [ -S "$LT_WORK/$B/data/submit.sock" ]
lt_check "status names the running agent" \
	grep -Eq "^agent +running \(pid $(cat "$LT_WORK/$B/agent.pid")\)" \
	<<<"$("$LT_BIN/lienthong-status" -c "$(lt_conf $B)" --summary)"

# --- 3. the submission socket removed ----------------------------------------
sock="$LT_WORK/$A/data/submit.sock"
lt_check "$A listens on $sock" [ -S "$sock" ]
rm -f "$sock"
back() { [ -S "$sock" ] && grep -q 'submission socket .* is gone: .*; restarting the submission service' "$LT_WORK/$A/agent.log"; }
lt_check "$A noticed the lost socket and listens again" lt_wait_until 30 back
before=$(grep -c 'committed [0-9]* document(s) of' "$LT_WORK/$A/agent.log" || true)
lt_make_docs "$LT_WORK/more" 5 2000
lt_upload $A $B "$LT_WORK/ids2" "$LT_WORK/more"/*.pdf
after=$(grep -c 'committed [0-9]* document(s) of' "$LT_WORK/$A/agent.log" || true)
lt_check "the next upload went through $A's submission service ($before -> $after commits)" \
	[ "$after" -gt "$before" ]
more() { lt_all_delivered $A "$LT_WORK/ids2"; }
lt_check "and was delivered" lt_wait_until 60 more

# --- 4. forwarding that fails --------------------------------------------------
failing() { "$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --summary | grep -Eq "^forwarding +1 topic\(s\) failing since .*\($LT_PREFIX\.inbox\.REC\.X99\.\.\.\)"; }
lt_check "status of $A shows the topic its records cannot reach" lt_wait_until 90 failing
lt_check "status of $B shows forwarding ok" \
	grep -Eq '^forwarding +ok' <<<"$("$LT_BIN/lienthong-status" -c "$(lt_conf $B)" --summary)"

lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
