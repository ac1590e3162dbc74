#!/usr/bin/env bash
# Durable submission with group commit: while the agent runs, concurrent
# lienthong-upload processes hand their documents to the agent, which commits
# the submissions that arrive together in one transaction (one fsync). With
# the agent stopped, lienthong-upload commits to the store itself.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=GRP.A01
B=GRP.B02
P=${LT_GROUP_UPLOADERS:-8}
M=${LT_GROUP_DOCS:-25}

lt_setup
lt_agency $A
lt_agency $B
lt_start $A
lt_start $B
sock_ready() { [ -S "$LT_WORK/$A/data/submit.sock" ]; }
lt_check "the agent listens for submissions" lt_wait_until 30 sock_ready

lt_make_docs "$LT_WORK/docs" $((P * M)) 5000
uploaders=()
for p in $(seq 1 "$P"); do
	(
		for m in $(seq 1 "$M"); do
			lt_upload $A $B "$LT_WORK/ids-$p" "$LT_WORK/docs/doc-$(((p - 1) * M + m)).pdf"
		done
	) &
	uploaders+=($!)
done
for p in "${uploaders[@]}"; do # each one's status (wait with several pids gives the last's)
	wait "$p" || lt_fail "an uploader process failed (exit status $?; its error is above)"
done
cat "$LT_WORK"/ids-* >"$LT_WORK/ids"
lt_check "$((P * M)) single-document uploads from $P processes accepted" [ "$(wc -l <"$LT_WORK/ids")" -eq $((P * M)) ]
shared=$(grep -o 'committed [0-9]* document(s) of [0-9]* submission(s) together' "$LT_WORK/$A/agent.log" |
	awk '$5 > 1' | wc -l)
commits=$(grep -c 'committed [0-9]* document(s)' "$LT_WORK/$A/agent.log" || true)
lt_check "concurrent submissions shared commits ($shared of $commits commits served several uploads)" [ "$shared" -ge 1 ]
lt_check "fewer commits than submissions ($commits for $((P * M)))" [ "$commits" -lt $((P * M)) ]

lt_check "agent $A stops cleanly" lt_stop $A
lt_check "no submission socket is left behind" [ ! -e "$LT_WORK/$A/data/submit.sock" ]
echo "while the agent is stopped" >"$LT_WORK/offline.txt"
lt_check "with the agent stopped, upload commits to the store itself" \
	lt_upload $A $B "$LT_WORK/ids" "$LT_WORK/offline.txt"
lt_start $A
lt_check "everything is delivered" lt_wait_until 120 lt_all_delivered $A "$LT_WORK/ids"
lt_verify $A $B "$LT_WORK/ids"
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
