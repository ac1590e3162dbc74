#!/usr/bin/env bash
# Delivery targets that fail, then recover (or never do). Agency A sends to
#   B  folder target, made unusable (a regular file where the folder was):
#      nothing is delivered meanwhile; after the folder is back every document
#      arrives exactly once, byte-identical (lt_verify);
#   C  HTTP target (tests/tools/http_target.py) that first hangs (the agent's
#      target_timeout_ms must cut each attempt short), then answers 503 (retried
#      with backoff, one document at a time: the partition is paused), then
#      recovers: every document arrives byte-identical and is answered 200
#      exactly once (no document POSTed again after a 200);
#   D  HTTP target that answers 400 (a long UTF-8 message): the document ends
#      `failed` ("target refused", the answer quoted as well-formed UTF-8), tried
#      once; then the target answers 503: D is stopped while it holds a document
#      for retry (must exit 0), restarted with delivery_deadline_s = 3, and the
#      document ends `failed` ("past delivery_deadline_s") after about 3 s of
#      retries, while documents sent to B and C at the same time are delivered
#      and D's own outbox keeps moving.
# Every agent must stop cleanly (exit 0, also under ASan's leak check), every
# agent log line must be one log entry (nothing injected by a target's answer)
# and no sanitizer report may appear. About 25 s.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${LT_TARGET_DOWN_DOCS:-50}
M=10 # documents to B and to C while D misses its deadline
A=TEST.A01
B=TEST.B02
C=TEST.C03
D=TEST.D04

lt_setup
lt_agency $A ec
lt_agency $B ed25519
lt_agency $C ec
lt_agency $D ec

lt_http_mode $C ok
lt_http_mode $D ok
lt_http_target $C
lt_http_target $D
lt_http_agency $C
lt_http_agency $D
lt_set $C target_timeout_ms 2000
lt_set $D target_timeout_ms 2000

for x in $A $B $C $D; do lt_start $x; done

status_json() { "$LT_BIN/lienthong-status" -c "$(lt_conf "$1")" --json "${@:2}"; }
# count_status SENDER IDS_FILE STATUS: documents of IDS_FILE showing STATUS at SENDER.
count_status() {
	status_json "$1" | awk -v ids="$2" -v st="\"status\":\"$3\"" '
		BEGIN { while ((getline l < ids) > 0) { split(l, f, "\t"); want[f[1]] = 1 } }
		{ match($0, /"document_id":"[^"]*"/); id = substr($0, RSTART + 15, RLENGTH - 16)
		  if ((id in want) && index($0, st)) n++ }
		END { print n + 0 }'
}
all_in() { [ "$(count_status $A "$1" "$2")" -eq "$(wc -l <"$1")" ]; }
status_is() { status_json "$1" "$2" | grep -q "\"status\":\"$3\""; }
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
# served_times CODE ID OUTCOME: unix times of the POSTs of ID answered OUTCOME.
served_times() { awk -v k="$2" -v o="$3" '$3 == "POST" && $5 == k && $7 == o { print $2 }' "$LT_WORK/http-$1.log"; }
log_count() { # code id outcome: lines "<id> <outcome>" in CODE's requests.log
	grep -cx -- "$2 $3" "$LT_WORK/http-$1/requests.log" 2>/dev/null || true
}

IDS_B=$LT_WORK/ids-B.txt IDS_C=$LT_WORK/ids-C.txt
: >"$IDS_B"
: >"$IDS_C"

# Warm-up: every pipe works (topics exist, consumers assigned) before anything breaks.
lt_make_docs "$LT_WORK/warm" 2 5000
echo "warm-up" >"$LT_WORK/warm/doc-1.pdf"
lt_upload $A $B "$IDS_B" "$LT_WORK/warm/doc-1.pdf"
lt_upload $A $C "$IDS_C" "$LT_WORK/warm/doc-2.pdf"
lt_check "warm-up documents to $B (folder) and $C (HTTP) delivered" \
	lt_wait_until 60 eval 'all_in "$IDS_B" delivered && all_in "$IDS_C" delivered'

# ---- Phase 1: B's folder is a regular file, C hangs then answers 503, D refuses (400).
mv "$LT_WORK/$B/target" "$LT_WORK/$B/target.away"
: >"$LT_WORK/$B/target"
lt_http_mode $C hang
lt_http_mode $D 400
lt_make_docs "$LT_WORK/out-B" "$N" 20000
lt_make_docs "$LT_WORK/out-C" "$N" 20000
echo "refused by D" >"$LT_WORK/refused.txt"
t_down=$(now)
lt_upload $A $B "$IDS_B" "$LT_WORK/out-B"/*.pdf
lt_upload $A $C "$IDS_C" "$LT_WORK/out-C"/*.pdf
refused_id=$("$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $D "$LT_WORK/refused.txt" | cut -f1)
lt_check "upload printed $N ids for $B and for $C" \
	eval '[ "$(wc -l <"$IDS_B")" -eq $((N + 1)) ] && [ "$(wc -l <"$IDS_C")" -eq $((N + 1)) ]'

lt_check "document refused by $D's target (400) ends failed" \
	lt_wait_until 30 status_is $A "$refused_id" failed
lt_check "its reason says the target refused it" \
	grep -q 'target refused' <<<"$(status_json $A "$refused_id")"
lt_check "its reason carries the target's answer" \
	grep -q 'answered 400: document refused' <<<"$(status_json $A "$refused_id")"
lt_check "its reason is well-formed UTF-8 (the answer is cut on a character boundary)" \
	eval '"$LT_BIN/lienthong-status" -c "$(lt_conf $A)" "$refused_id" | iconv -f UTF-8 -t UTF-8 >/dev/null'

sleep_until() { sleep "$(awk -v a="$1" -v d="$2" -v b="$EPOCHREALTIME" 'BEGIN { w = a + d - b; print (w > 0 ? w : 0) }')"; }
sleep_until "$t_down" 4
lt_http_mode $C 503 # after 4 s of hanging
sleep_until "$t_down" 10 # 10 s of outage in all

lt_check "$B: all $N documents sent while its folder is unusable" \
	[ "$(count_status $A "$IDS_B" sent)" -eq "$N" ]
lt_check "$B: none delivered while its folder is unusable" \
	[ "$(count_status $A "$IDS_B" delivered)" -eq 1 ]
lt_check "$B: nothing new in the moved-away folder (only the warm-up document)" \
	[ "$(find "$LT_WORK/$B/target.away" -mindepth 2 -maxdepth 2 | wc -l)" -eq 1 ]
lt_check "$B: the file in the folder's place is untouched" \
	eval '[ -f "$LT_WORK/$B/target" ] && [ ! -s "$LT_WORK/$B/target" ]'
lt_check "$B's agent logs the failing delivery (not a directory) and retries" \
	grep -q "Not a directory.*retrying in" "$LT_WORK/$B/agent.log"
lt_check "$C: all $N documents sent while its target is down" \
	[ "$(count_status $A "$IDS_C" sent)" -eq "$N" ]
lt_check "$C: none delivered while its target is down" \
	[ "$(count_status $A "$IDS_C" delivered)" -eq 1 ]
waiting_id=$(awk -F'\t' 'NR == 2 { print $1 }' "$IDS_C")
lt_check "$A's status says why the document waits at $C (deferred receipt)" \
	eval 'status_json $A "$waiting_id" | grep -q "\"status\":\"sent\".*at the recipient, waiting since .*HTTP target"'
lt_check "$A's status says why a document waits at $B (folder unusable)" \
	eval 'status_json $A "$(awk -F"\t" "NR == 2 { print \$1 }" "$IDS_B")" | grep -q "at the recipient, waiting since"'

lt_check "$C: no 200 answered while the target is down (only the warm-up's)" \
	[ "$(grep -c ' 200$' "$LT_WORK/http-$C/requests.log" || true)" -eq 1 ]
held=$(awk '$2 == "hang" || $2 == "503" { print $1 }' "$LT_WORK/http-$C/requests.log" | sort -u)
lt_check "$C: one document only is tried while the target fails (partition paused)" \
	eval '[ -n "$held" ] && [ "$(wc -l <<<"$held")" -eq 1 ] && cut -f1 "$IDS_C" | grep -qx -- "$held"'
hangs=$(log_count $C "$held" hang)
lt_check "$C: a hanging target is given up after target_timeout_ms and tried again ($hangs attempts)" \
	eval '[ "$hangs" -ge 2 ] && [ "$hangs" -le 3 ]'
lt_check "$C's agent logs the timeout" grep -q "HTTP target .*[Tt]imed out" "$LT_WORK/$C/agent.log"
n503=$(log_count $C "$held" 503)
gaps=$(served_times $C "$held" 503 | awk 'NR > 1 { printf "%s%.2f", (NR > 2 ? " " : ""), $1 - p } { p = $1 }')
lt_check "$C: 503 answers retried with backoff ($n503 attempts, gaps $gaps s)" \
	awk -v n="$n503" -v g="$gaps" 'BEGIN { k = split(g, x, " ")
		if (n < 3 || n > 12 || k != n - 1) exit 1
		for (i = 1; i <= k; i++) if (x[i] < 0.15 || x[i] > 2.6) exit 1
		exit !(x[k] >= 1.0) }'

# ---- Phase 2: both targets recover.
rm "$LT_WORK/$B/target"
mv "$LT_WORK/$B/target.away" "$LT_WORK/$B/target"
lt_http_mode $C ok
t_up=$(now)
drain_b="" drain_c=""
drained() {
	[ -n "$drain_b" ] || { all_in "$IDS_B" delivered && drain_b=$(since "$t_up"); }
	[ -n "$drain_c" ] || { all_in "$IDS_C" delivered && drain_c=$(since "$t_up"); }
	[ -n "$drain_b" ] && [ -n "$drain_c" ]
}
if lt_wait_until 60 drained; then
	lt_figure "after recovery: $N documents delivered to $B in ${drain_b} s, $N to $C in ${drain_c} s"
else
	lt_fail "not drained after recovery: $B $(count_status $A "$IDS_B" delivered)/$((N + 1)), $C $(count_status $A "$IDS_C" delivered)/$((N + 1)) delivered"
fi

# ---- Phase 3: D's target answers 503; D is stopped while it holds the document
# for retry, restarted with delivery_deadline_s = 3, and gives up ~3 s after
# the first failure (the deadline's clock is kept in LMDB across the restart).
lt_http_mode $D 503
echo "past the deadline at D" >"$LT_WORK/late.txt"
echo "from D while its inbox is stuck" >"$LT_WORK/from-d.txt"
lt_make_docs "$LT_WORK/more-B" "$M" 20000
lt_make_docs "$LT_WORK/more-C" "$M" 20000
late_id=$("$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $D "$LT_WORK/late.txt" | cut -f1)
lt_upload $A $B "$IDS_B" "$LT_WORK/more-B"/*.pdf
lt_upload $A $C "$IDS_C" "$LT_WORK/more-C"/*.pdf
lt_check "$D retries the document while its target answers 503" \
	lt_wait_until 30 eval '[ "$(log_count $D "$late_id" 503)" -ge 2 ]'
lt_check "$D: not failed before delivery_deadline_s (still sent)" status_is $A "$late_id" sent
# Stop D 2 s after the first failure: a deadline clock restarted with the agent
# would then give up 5 s or more after that first failure, a kept one after ~3 s.
sleep_until "$(served_times $D "$late_id" 503 | head -n 1)" 2
st=0
lt_stop $D || st=$?
lt_check "agent $D stops cleanly while it holds a record for retry (exit status $st)" [ "$st" -eq 0 ]
lt_set $D delivery_deadline_s 3
t_restart=$(now)
lt_start $D
: >"$LT_WORK/ids-D.txt"
lt_upload $D $A "$LT_WORK/ids-D.txt" "$LT_WORK/from-d.txt"
lt_check "document to $D ends failed after its target keeps answering 503" \
	lt_wait_until 40 status_is $A "$late_id" failed
lt_check "its reason says the target kept failing past delivery_deadline_s" \
	grep -q 'past delivery_deadline_s' <<<"$(status_json $A "$late_id")"
all503=$(served_times $D "$late_id" 503)
after=$(awk -v t="$t_restart" '$1 > t' <<<"$all503")
span=$(awk 'NR == 1 { f = $1 } { l = $1 } END { printf "%.2f", l - f }' <<<"$all503")
n503=$(grep -c . <<<"$after" || true)
lt_check "$D gave up about delivery_deadline_s after the FIRST failure, kept across the restart ($n503 attempts after it, $span s in all)" \
	awk -v n="$n503" -v s="$span" 'BEGIN { exit !(n >= 1 && s >= 2.8 && s <= 4.8) }'
lt_check "documents sent to $B and $C meanwhile are delivered" \
	lt_wait_until 60 eval 'all_in "$IDS_B" delivered && all_in "$IDS_C" delivered'
lt_check "$D's own document to $A is delivered while its inbox fails" \
	lt_wait_until 30 eval '[ "$(count_status $D "$LT_WORK/ids-D.txt" delivered)" -eq 1 ]'
lt_check "$D: the refused document was tried once and not again after the restart" \
	eval '[ "$(grep -c "^$refused_id " "$LT_WORK/http-$D/requests.log")" -eq 1 ] &&
		[ "$(log_count $D "$refused_id" 400)" -eq 1 ]'
lt_check "$D: nothing answered 200, nothing saved" \
	eval '! grep -q " 200$" "$LT_WORK/http-$D/requests.log" &&
		[ "$(find "$LT_WORK/http-$D" -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq 0 ]'

# ---- Final checks: everything exactly once, byte-identical.
lt_verify $A $B "$IDS_B"
nc=$(wc -l <"$IDS_C")
bad=0 twice=0
while IFS=$'\t' read -r id file; do
	cmp -s "$file" "$LT_WORK/http-$C/$id/$(basename "$file")" || bad=$((bad + 1))
	[ "$(log_count $C "$id" 200)" -eq 1 ] || twice=$((twice + 1))
done <"$IDS_C"
lt_check "$C: all $nc documents byte-identical at the HTTP target ($bad missing or different)" [ "$bad" -eq 0 ]
lt_check "$C: every document answered 200 exactly once ($twice not)" [ "$twice" -eq 0 ]
lt_check "$C: no other 200 answers" [ "$(grep -c ' 200$' "$LT_WORK/http-$C/requests.log" || true)" -eq "$nc" ]
lt_check "$C: exactly $nc document folders at the HTTP target" \
	[ "$(find "$LT_WORK/http-$C" -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq "$nc" ]

for x in $A $B $C $D; do
	st=0
	lt_stop $x || st=$?
	lt_check "agent $x stops cleanly on SIGTERM (exit status $st)" [ "$st" -eq 0 ]
done
bad_lines=$(cat "$LT_WORK"/*/agent.log | grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z lienthong-agent\[[0-9]+\] [a-z]+: ' || true)
lt_check "every agent log line is one well-formed entry ($bad_lines others: target answers, crashes)" \
	[ "$bad_lines" -eq 0 ]
lt_check "no sanitizer report in the agent logs" \
	eval '! grep -l "AddressSanitizer\|LeakSanitizer\|runtime error:" "$LT_WORK"/*/agent.log'
