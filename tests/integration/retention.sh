#!/usr/bin/env bash
# The agent forgets what is past its retention, by itself: with retentions of
# one second, the sender's final statuses and document bodies and the
# recipient's inbox records are deleted by the retention sweep (a pass at
# start, then every retention_pass_s: 3 s here, a minute by default); a
# document still waiting for its recipient is kept.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=RET.A01
B=RET.B02
C=RET.C03 # has no agent running: its documents stay sent

lt_setup
lt_agency $A
lt_agency $B
lt_agency $C
for s in retention_sent_body_s retention_status_s retention_inbox_s; do
	lt_set $A $s 1
	lt_set $B $s 1
done
lt_set $A retention_pass_s 3
lt_set $B retention_pass_s 3
lt_start $A
lt_start $B
lt_make_docs "$LT_WORK/docs" 6 20000
lt_upload $A $B "$LT_WORK/ids" "$LT_WORK/docs"/doc-{1,2,3,4,5}.pdf
lt_upload $A $C "$LT_WORK/ids-c" "$LT_WORK/docs/doc-6.pdf"
lt_check "5 documents delivered" lt_wait_until 120 lt_all_delivered $A "$LT_WORK/ids"
lt_verify $A $B "$LT_WORK/ids"

swept() { grep -q "retention: deleted $1" "$LT_WORK/$2/agent.log"; }
lt_check "$A's sweep deletes the 5 final statuses and bodies (within a pass)" \
	lt_wait_until 150 swept "5 sent document bodies, 5 final statuses, 0 inbox" $A
lt_check "$B's sweep forgets its 5 inbox records" \
	lt_wait_until 150 swept "0 sent document bodies, 0 final statuses, 5 inbox" $B
rows=$("$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json)
echo "$rows"
lt_check "the final statuses are gone from $A's status" \
	bash -c "! grep -q '\"status\":\"delivered\"' <<<'$rows'"
lt_check "the document still waiting for $C is kept" \
	grep -Eq "\"document_id\":\"$(cut -f1 "$LT_WORK/ids-c")\".*\"status\":\"(queued|sent)\"" <<<"$rows"
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
