#!/usr/bin/env bash
# The agent's watchdog, provoked for real: B delivers to an HTTP target
# (tests/tools/http_target.py) with target_timeout_ms at its 2-minute ceiling
# and watchdog_s = 10. The target process is stopped (SIGSTOP): the kernel
# still accepts the connection and the request, nobody answers, and B's main
# loop waits inside the delivery. B must end by itself with exit status 1 and
# the documented error line, well before the delivery's own time limit; after
# the target continues and B is started again (as its supervisor would), the
# document is delivered: nothing was lost. About 40 s.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# The documented line (README, "Nothing in the agent stops silently"), defined
# once: a change of the agent's text fails this test.
STUCK_LINE="error: the agent's main loop has not moved for "
A=DOG.A01
B=DOG.B02

lt_setup
lt_agency $A
lt_agency $B
lt_http_mode $B ok
lt_http_target $B
target_pid=${LT_PIDS[-1]}
lt_http_agency $B
lt_set $B target_timeout_ms 120000
lt_set $B watchdog_s 10
lt_start $A
lt_start $B
topics_ready() { grep -q 'topics ready' "$LT_WORK/$A/agent.log" && grep -q 'topics ready' "$LT_WORK/$B/agent.log"; }
lt_check "agents created their topics" lt_wait_until 60 topics_ready

lt_make_docs "$LT_WORK/docs" 2 5000
lt_upload $A $B "$LT_WORK/ids" "$LT_WORK/docs/doc-1.pdf"
lt_check "a first document is delivered over HTTP" lt_wait_until 60 lt_all_delivered $A "$LT_WORK/ids"

kill -STOP "$target_pid"
stopped_at=$SECONDS
lt_upload $A $B "$LT_WORK/ids" "$LT_WORK/docs/doc-2.pdf"
b_pid=$(cat "$LT_WORK/$B/agent.pid")
gone() { ! kill -0 "$b_pid" 2>/dev/null; }
lt_check "B ends by itself while its target does not answer" lt_wait_until 90 gone
took=$((SECONDS - stopped_at))
st=0
wait "$b_pid" || st=$?
kill -CONT "$target_pid"
lt_check "B's exit status is 1 (it was $st)" [ "$st" -eq 1 ]
lt_check "B logged the watchdog's line" grep -qF "$STUCK_LINE" "$LT_WORK/$B/agent.log"
secs=$(grep -F "$STUCK_LINE" "$LT_WORK/$B/agent.log" | sed 's/.*has not moved for \([0-9]*\) s.*/\1/' | head -n 1)
lt_check "the line names at least watchdog_s seconds (${secs:-none})" [ "${secs:-0}" -ge 10 ]
lt_check "B ended before the delivery's own limit of 120 s (after $took s)" [ "$took" -lt 110 ]
lt_figure "B ended $took s after its target was stopped (watchdog_s = 10)"

lt_start $B
lt_check "after a restart the document is delivered: nothing lost" \
	lt_wait_until 120 lt_all_delivered $A "$LT_WORK/ids"
lt_check "A stops cleanly" lt_stop $A
lt_check "B stops cleanly" lt_stop $B
