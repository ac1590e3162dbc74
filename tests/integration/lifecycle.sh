#!/usr/bin/env bash
# A document's business life on the real broker, with two real agents.
#
# 1. Sender A's document walks through 01, 03, 04, 05, 06 at recipient B
#    (reported with lienthong-report and with status files dropped in B's
#    report_dir); after each, A's `lienthong-status --json` shows the status,
#    with the comment and the reporter of the signed receipt; A verified every
#    receipt (nothing in A's quarantine). A report out of order is refused
#    with its error text, from the command line and from the folder
#    (failed/ with a .error file), and changes nothing at A.
# 2. A recall before processing is agreed (15): A shows recall-agreed, B's
#    target has the control record .recall.json; B can report nothing more.
# 3. A recall after processing (05) is refused (16).
# 4. A recall that overtakes its document (the document is sealed and held
#    back with lt-forge, the recall published first, then the document)
#    holds it back: never delivered, kept in B's quarantine, and A learns 15.
# 5. A replacement is delivered and the replaced document agreed (15); an
#    update of a processed document refused (16); both as control records.
# 6. With an HTTP target, the control record is POSTed as JSON.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=TEST.A01
B=TEST.B02
C=TEST.C03 # delivers to an HTTP target

lt_setup
lt_agency $A ec
lt_agency $B ed25519
lt_set $B report_dir "$LT_WORK/$B/reports"
mkdir -p "$LT_WORK/$B/reports"
lt_agency $C ec
lt_http_target $C
lt_http_agency $C
lt_start $A
lt_start $B
lt_start $C

# status_of DOC [FIELD]: FIELD (default status) of DOC's record at A, for B.
status_of() {
	"$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json | python3 -c '
import json, sys
for line in sys.stdin:
    o = json.loads(line)
    if o["document_id"] == sys.argv[1]:
        print(o[sys.argv[2]])' "$1" "${2:-status}"
}
is_status() { [ "$(status_of "$1")" = "$2" ]; }
report() { # DOC CODE [args...]: lienthong-report at B about A's DOC
	local doc=$1 code=$2
	shift 2
	"$LT_BIN/lienthong-report" -c "$(lt_conf $B)" --sender $A --document "$doc" --code "$code" "$@"
}
drop() { # NAME DOC CODE [COMMENT]: a status file in B's report_dir, written then renamed in
	local d="$LT_WORK/$B/reports"
	printf '{"sender":"%s","document_id":"%s","code":"%s","comment":"%s","reported_by":"Phòng Tổng hợp"}\n' \
		$A "$2" "$3" "${4:-}" >"$d/.$1.tmp"
	mv "$d/.$1.tmp" "$d/$1.json"
}
quarantine_empty() { [ -z "$("$LT_BIN/lienthong-status" -c "$(lt_conf "$1")" --quarantine --json)" ]; }

for i in 1 2 3 4 5 6; do echo "document $i $RANDOM" >"$LT_WORK/doc$i.pdf"; done
lt_upload $A $B "$LT_WORK/ids.txt" --subject "walk" "$LT_WORK/doc1.pdf"
lt_upload $A $B "$LT_WORK/ids.txt" --subject "recall early" "$LT_WORK/doc2.pdf"
lt_upload $A $B "$LT_WORK/ids.txt" --subject "recall late" "$LT_WORK/doc3.pdf"
lt_upload $A $B "$LT_WORK/ids.txt" --subject "to be replaced" "$LT_WORK/doc5.pdf"
D1=$(sed -n 1p "$LT_WORK/ids.txt" | cut -f1)
D2=$(sed -n 2p "$LT_WORK/ids.txt" | cut -f1)
D3=$(sed -n 3p "$LT_WORK/ids.txt" | cut -f1)
D5=$(sed -n 4p "$LT_WORK/ids.txt" | cut -f1)
lt_check "four documents delivered" lt_wait_until 120 lt_all_delivered $A "$LT_WORK/ids.txt"

# ---- 1. 01, 03, 04, 05, 06 ----
lt_check "01 reported by lienthong-report" report "$D1" 01 --by "Văn thư"
lt_check "A shows arrived (01)" lt_wait_until 60 is_status "$D1" arrived
lt_check "A's record names the reporter" [ "$(status_of "$D1" reason)" = "by Văn thư" ]
drop r03 "$D1" 03 "số đến 125"
lt_check "A shows accepted (03) from a status file" lt_wait_until 60 is_status "$D1" accepted
lt_check "the status file moved to done/" [ -f "$LT_WORK/$B/reports/done/r03.json" ]
lt_check "A's record carries the comment" [ "$(status_of "$D1" reason)" = "by Phòng Tổng hợp: số đến 125" ]

# Out of order: D2 is delivered, not accepted.
out=$(report "$D2" 06 2>&1) && rc=0 || rc=$?
lt_check "06 before 03 refused by lienthong-report (exit $rc)" [ "$rc" -eq 1 ]
lt_check "its error says why" grep -qF "document $D2 from $A: 06 processed before 03 accepted is not allowed" <<<"$out"
drop r05early "$D2" 05
lt_check "05 before 03 from a status file moved to failed/" \
	lt_wait_until 30 test -f "$LT_WORK/$B/reports/failed/r05early.json"
lt_check "its .error says why" grep -qF "05 in processing before 03 accepted is not allowed" \
	"$LT_WORK/$B/reports/failed/r05early.json.error"
out=$(report "$D1" 01 2>&1) && rc=0 || rc=$?
lt_check "01 after 03 refused: a status never goes back" grep -qF "01 arrived after 03 accepted is not allowed" <<<"$out"
lt_check "bad code refused" bash -c "! '$LT_BIN/lienthong-report' -c '$(lt_conf $B)' --sender $A --document $D1 --code 07 2>/dev/null"

report "$D1" 04 --by "Lãnh đạo văn phòng" >/dev/null
lt_check "A shows awaiting-assignment (04)" lt_wait_until 60 is_status "$D1" awaiting-assignment
drop r05 "$D1" 05 "giao chuyên viên"
lt_check "A shows in-processing (05)" lt_wait_until 60 is_status "$D1" in-processing
report "$D1" 06 --comment "đã trả lời bằng công văn 88" --by "Chuyên viên Lan" >/dev/null
lt_check "A shows processed (06)" lt_wait_until 60 is_status "$D1" processed
lt_check "A's record: reporter and comment of 06" \
	[ "$(status_of "$D1" reason)" = "by Chuyên viên Lan: đã trả lời bằng công văn 88" ]
lt_check "the out-of-order reports changed nothing at A" is_status "$D2" delivered
n=$(grep -cE "document $D1: 0[13456] [a-z ]+ by $B" "$LT_WORK/$A/agent.log" || true)
lt_check "A verified and applied five business receipts for the walk ($n)" [ "$n" -eq 5 ]
lt_check "a repeated report is accepted and sends nothing" \
	grep -q "already reported" <<<"$(report "$D1" 06)"

# ---- 2. recall before processing: agreed ----
report "$D2" 03 >/dev/null
lt_check "A shows D2 accepted" lt_wait_until 60 is_status "$D2" accepted
"$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B --recall "$D2" >"$LT_WORK/r2.txt"
# B's automatic answer may be applied before this looks: the history has it.
went_through() { "$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --history "$1" | grep -Eq " -> $2( |\$)"; }
lt_check "recall of D2 submitted: A's history shows recall-requested (13)" \
	went_through "$D2" recall-requested
lt_check "A shows recall-agreed (15)" lt_wait_until 60 is_status "$D2" recall-agreed
ctl="$LT_WORK/$B/target/$A/$D2/.recall.json"
lt_check "B's target has the control record" [ -f "$ctl" ]
lt_check "it says agreed, 15, and names the request" \
	grep -q "\"code\":\"15\".*\"decision\":\"agreed\".*\"request_id\":\"$(cut -f1 "$LT_WORK/r2.txt")\"" "$ctl"
out=$(report "$D2" 05 2>&1) && rc=0 || rc=$?
lt_check "nothing may be reported after the recall" grep -qF "05 in processing after 15 recall agreed is not allowed" <<<"$out"
out=$("$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B --recall "$D2" 2>&1) && rc=0 || rc=$?
lt_check "a second recall is refused at A" grep -qF "is 15 recall agreed: a recall is not possible now" <<<"$out"

# ---- 3. recall after processing: refused ----
report "$D3" 03 >/dev/null
report "$D3" 05 >/dev/null
lt_check "A shows D3 in-processing" lt_wait_until 60 is_status "$D3" in-processing
"$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B --recall "$D3" >/dev/null
lt_check "A shows recall-refused (16)" lt_wait_until 60 is_status "$D3" recall-refused
lt_check "with the recipient's reason" grep -qF "recall refused: the document is 05 in processing here" <<<"$(status_of "$D3" reason)"
lt_check "B's control record says refused" grep -q '"code":"16".*"decision":"refused"' "$LT_WORK/$B/target/$A/$D3/.recall.json"
report "$D3" 06 >/dev/null
lt_check "processing goes on: A shows D3 processed" lt_wait_until 60 is_status "$D3" processed

# ---- 4. a recall that overtakes its document ----
X=$("$LT_BUILD/tests/lt-forge" -c "$(lt_conf $A)" --to $B --record --hold "$LT_WORK/x.env" "$LT_WORK/doc4.pdf")
lt_check "A records the held-back document as sent" is_status "$X" sent
"$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B --recall "$X" >"$LT_WORK/rx.txt"
RX=$(cut -f1 "$LT_WORK/rx.txt")
lt_check "the recall reaches B first (A shows the recall delivered)" lt_wait_until 60 is_status "$RX" delivered
lt_check "B noted it came before its document" grep -q "recall $RX from $A came before document $X" "$LT_WORK/$B/agent.log"
"$LT_BUILD/tests/lt-forge" -c "$(lt_conf $A)" --to $B --raw "$LT_WORK/x.env" >/dev/null
lt_check "A shows recall-agreed (15) for the overtaken document" lt_wait_until 60 is_status "$X" recall-agreed
held_in_quarantine() { "$LT_BIN/lienthong-status" -c "$(lt_conf $B)" --quarantine --json | grep "$X" | grep -q "recalled"; }
lt_check "B keeps it in its quarantine, reason recalled" lt_wait_until 30 held_in_quarantine
lt_check "it was never delivered to B's target" [ ! -e "$LT_WORK/$B/target/$A/$X" ]

# ---- 5. replacement and update ----
"$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B --replaces "$D5" --subject "thay thế" \
	"$LT_WORK/doc6.pdf" >"$LT_WORK/r5.txt"
N5=$(cut -f1 "$LT_WORK/r5.txt")
lt_check "A shows the replaced document recall-agreed (15)" lt_wait_until 60 is_status "$D5" recall-agreed
lt_check "the replacement is delivered" lt_wait_until 60 is_status "$N5" delivered
lt_check "its file is in B's target" cmp -s "$LT_WORK/doc6.pdf" "$LT_WORK/$B/target/$A/$N5/doc6.pdf"
lt_check "B's control record names the replacement" \
	grep -q "\"replacement_id\":\"$N5\"" "$LT_WORK/$B/target/$A/$D5/.replace.json"
"$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B --update "$D3" --number "88/CV-UBND" >/dev/null
lt_check "an update of a processed document is refused (16)" lt_wait_until 60 is_status "$D3" recall-refused
lt_check "B's .update.json carries the corrected number" \
	grep -q '"document_number":"88/CV-UBND"' "$LT_WORK/$B/target/$A/$D3/.update.json"

# ---- 6. the HTTP target is told with a JSON POST ----
lt_upload $A $C "$LT_WORK/idsc.txt" "$LT_WORK/doc1.pdf"
DC=$(cut -f1 "$LT_WORK/idsc.txt")
lt_check "C's HTTP target has the document" lt_wait_until 60 is_status "$DC" delivered
"$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $C --recall "$DC" >/dev/null
lt_check "A shows C's answer, recall-agreed (15)" lt_wait_until 60 is_status "$DC" recall-agreed
lt_check "C's HTTP target got the control record" \
	grep -q '"code":"15".*"decision":"agreed"' "$LT_WORK/http-$C/$DC/.recall.json"

lt_check "A quarantined no receipt: every one verified and applied" quarantine_empty $A
