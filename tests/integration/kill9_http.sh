#!/usr/bin/env bash
# kill -9 of a receiving agent that delivers to an HTTP target: each delivery
# is recorded as soon as it succeeded, so a kill repeats at most the one
# document in flight (the target sees at most one POST again per kill, with
# the same Idempotency-Key); nothing is lost.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${LT_KILL_HTTP_DOCS:-400}
KILLS=${LT_KILL_HTTP_KILLS:-5}
A=KH.A01
B=KH.B02

lt_setup
lt_agency $A
lt_agency $B
lt_http_mode $B ok
lt_http_target $B
lt_http_agency $B
# A restarted agent gets its partitions back once the old session ends: keep it short.
lt_set $B kafka.session.timeout.ms 6000
lt_start $A
lt_start $B
topics_ready() { grep -q 'topics ready' "$LT_WORK/$A/agent.log" && grep -q 'topics ready' "$LT_WORK/$B/agent.log"; }
lt_check "agents created their topics" lt_wait_until 60 topics_ready

lt_make_docs "$LT_WORK/docs" "$N" 20000
lt_upload $A $B "$LT_WORK/ids" "$LT_WORK/docs"/*.pdf
posts() { wc -l <"$LT_WORK/http-$B/requests.log" 2>/dev/null || echo 0; }
# Each kill lands while B delivers: after B POSTed at least 20 more documents.
for _ in $(seq 1 "$KILLS"); do
	base=$(posts)
	progressed() { [ "$(posts)" -ge $((base + 20)) ]; }
	lt_check "$B delivers (POSTs past $base) before the next kill" lt_wait_until 60 progressed
	pid=$(cat "$LT_WORK/$B/agent.pid")
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	echo "--- killed with SIGKILL" >>"$LT_WORK/$B/agent.log"
	lt_start $B
done
all() { lt_all_delivered $A "$LT_WORK/ids"; }
lt_check "all $N delivered after $KILLS kills of $B" lt_wait_until 300 all
got=$(awk '$2 == 200 { print $1 }' "$LT_WORK/http-$B/requests.log" | sort -u | wc -l)
lt_check "the target has all $N documents ($got)" [ "$got" -eq "$N" ]
again=$(awk '$2 == 200 { n[$1]++ } END { d = 0; for (k in n) d += n[k] - 1; print d }' "$LT_WORK/http-$B/requests.log")
lt_figure "$again document(s) POSTed again after $KILLS kills"
lt_check "at most one document POSTed again per kill ($again again, $KILLS kills)" [ "$again" -le "$KILLS" ]
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
