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

# What CODE's sweeps deleted in all, from their log lines: "BODIES STATUSES INBOX".
# Bodies and statuses have clocks of their own (sent, delivered): one pass may
# take the bodies and the next the statuses.
swept_total() {
	sed -n 's/.*retention: deleted \([0-9]*\) sent document bodies, \([0-9]*\) final statuses, \([0-9]*\) inbox records.*/\1 \2 \3/p' \
		"$LT_WORK/$1/agent.log" | awk '{ b += $1; s += $2; i += $3 } END { print b + 0, s + 0, i + 0 }'
}
swept() { [ "$(swept_total "$2")" = "$1" ]; }
lt_check "$A's sweeps delete the 5 final statuses and bodies" \
	lt_wait_until 150 swept "5 5 0" $A
lt_check "$B's sweeps forget its 5 inbox records" lt_wait_until 150 swept "0 0 5" $B
lt_figure "deleted by $A's sweeps: $(swept_total $A), by $B's: $(swept_total $B) (bodies, statuses, inbox records)"
rows=$("$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json)
echo "$rows"
lt_check "the final statuses are gone from $A's status" \
	bash -c "! grep -q '\"status\":\"delivered\"' <<<'$rows'"
lt_check "the document still waiting for $C is kept" \
	grep -Eq "\"document_id\":\"$(cut -f1 "$LT_WORK/ids-c")\".*\"status\":\"(queued|sent)\"" <<<"$rows"
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
