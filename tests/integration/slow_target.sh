#!/usr/bin/env bash
# The status always answers (issue 9): B delivers to an HTTP target that
# hangs (each attempt is cut after target_timeout_ms = 30 s). Meanwhile, on
# B's own configuration, lienthong-status, lienthong-upload and
# lienthong-quarantine answer at once: delivery happens outside any LMDB
# write transaction, and readers never wait for the agent. Afterwards the
# target answers again and everything is delivered once.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=SLOW.A01
B=SLOW.B02
LIMIT=${LT_SLOW_LIMIT:-10} # "at once": far below the 30 s the target hangs

lt_setup
lt_agency $A
lt_agency $B
lt_http_mode $B hang
lt_http_target $B
lt_http_agency $B
lt_set $B target_timeout_ms 30000
lt_start $A
lt_start $B
topics_ready() { grep -q 'topics ready' "$LT_WORK/$A/agent.log" && grep -q 'topics ready' "$LT_WORK/$B/agent.log"; }
lt_check "agents created their topics" lt_wait_until 60 topics_ready

lt_make_docs "$LT_WORK/docs" 4 5000
lt_upload $A $B "$LT_WORK/ids" "$LT_WORK/docs"/*.pdf
hanging() { grep -q ' hang$' "$LT_WORK/http-$B/requests.log" 2>/dev/null; }
lt_check "$B's target hangs on a delivery" lt_wait_until 60 hanging
sleep 1

# timed NAME COMMAND...: runs COMMAND with a limit of LIMIT s; prints the time as a figure.
timed() {
	local name=$1 t0 st=0
	shift
	t0=$(date +%s.%N)
	timeout "$LIMIT" "$@" >"$LT_WORK/$name.out" 2>&1 || st=$?
	lt_figure "$name answered in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s while the target hangs"
	return $st
}
lt_check "lienthong-status on $B answers while its target hangs" \
	timed status "$LT_BIN/lienthong-status" -c "$(lt_conf $B)" --summary
lt_check "lienthong-upload on $B answers while its target hangs" \
	timed upload "$LT_BIN/lienthong-upload" -c "$(lt_conf $B)" --to $A "$LT_WORK/docs/doc-1.pdf"
lt_check "lienthong-quarantine on $B answers while its target hangs" \
	timed quarantine "$LT_BIN/lienthong-quarantine" -c "$(lt_conf $B)" list
lt_check "the upload on $B printed its document id" grep -Eq '^[0-9a-f-]{36}	' "$LT_WORK/upload.out"
cut -f1 "$LT_WORK/upload.out" | grep -E '^[0-9a-f-]{36}$' | sed "s|\$|	$LT_WORK/docs/doc-1.pdf|" >"$LT_WORK/ids-b"

lt_http_mode $B ok
all() { lt_all_delivered $A "$LT_WORK/ids"; }
lt_check "all 4 delivered once the target answers" lt_wait_until 120 all
back() { lt_all_delivered $B "$LT_WORK/ids-b"; }
lt_check "and $B's own upload reached $A" lt_wait_until 60 back
dups=$(awk '$2 == 200 { n[$1]++ } END { d = 0; for (k in n) if (n[k] > 1) d++; print d }' "$LT_WORK/http-$B/requests.log")
lt_check "each document accepted by the target once ($dups twice)" [ "$dups" -eq 0 ]
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
