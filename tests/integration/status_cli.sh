#!/usr/bin/env bash
# lienthong-status for people and scripts, on documents really exchanged
# through the broker: A sends three documents to B (delivered) and one to C,
# whose agent never runs (it stays queued or sent). Asserts on the real
# output: filters by recipient, status, time and subject word; --history with
# each event and the Kafka position of the status; --csv; --json with edXML
# codes; --stuck; the per-recipient summary; --received at B; --watch; a
# subject with a terminal escape stays escaped in every format.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=CLI.A01
B=CLI.B02
C=CLI.C03

lt_setup
lt_agency $A
lt_agency $B
lt_agency $C
lt_start $A
lt_start $B

st() { "$LT_BIN/lienthong-status" -c "$(lt_conf $A)" "$@"; }
no_raw_controls() { ! LC_ALL=C grep -qP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' "$1"; }
valid_json_lines() { python3 -c 'import json, sys; [json.loads(l) for l in sys.stdin if l.strip()]' <"$1"; }
lines() { grep -c . "$1" || true; }

echo "budget" >"$LT_WORK/budget.pdf"
echo "report 1" >"$LT_WORK/report1.pdf"
echo "report 2" >"$LT_WORK/report2.pdf"
echo "urgent" >"$LT_WORK/urgent.pdf"
"$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B --subject $'Quyết định Ngân sách 2026 \e[31mđỏ' \
	"$LT_WORK/budget.pdf" >"$LT_WORK/ids-budget"
"$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B --subject "Báo cáo tháng" \
	"$LT_WORK/report1.pdf" "$LT_WORK/report2.pdf" >"$LT_WORK/ids-report"
"$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $C --subject "Công văn khẩn" \
	"$LT_WORK/urgent.pdf" >"$LT_WORK/ids-urgent"
budget=$(cut -f1 "$LT_WORK/ids-budget")
urgent=$(cut -f1 "$LT_WORK/ids-urgent")
cat "$LT_WORK/ids-budget" "$LT_WORK/ids-report" >"$LT_WORK/ids-b"
lt_check "A's three documents to B are delivered" lt_wait_until 120 lt_all_delivered $A "$LT_WORK/ids-b"
# Both agents stop: the stores stay as they are for the checks below.
lt_stop $A
lt_stop $B

# Filters, each asserted on the ids it prints.
ids_of() { python3 -c 'import json, sys; print(" ".join(sorted(json.loads(l)["document_id"] for l in sys.stdin if l.strip())))'; }
sorted_ids() { cut -f1 "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }
all_b=$(sorted_ids "$LT_WORK/ids-b")
reports=$(sorted_ids "$LT_WORK/ids-report")
lt_check "--recipient $B: its three documents" [ "$(st --json --recipient $B | ids_of)" = "$all_b" ]
lt_check "--recipient $C: its one document" [ "$(st --json --recipient $C | ids_of)" = "$urgent" ]
lt_check "--status delivered: the three to $B" [ "$(st --json --status delivered | ids_of)" = "$all_b" ]
lt_check "--status queued,sent: the one to $C" [ "$(st --json --status queued,sent | ids_of)" = "$urgent" ]
lt_check "--subject ngân: the budget only" [ "$(st --json --subject ngân | ids_of)" = "$budget" ]
lt_check "--subject 'NGÂN SÁCH' (any case, both words)" [ "$(st --json --subject 'NGÂN SÁCH' | ids_of)" = "$budget" ]
lt_check "--subject tháng: the two reports" [ "$(st --json --subject tháng | ids_of)" = "$reports" ]
lt_check "--subject tháng --recipient $C: none" [ -z "$(st --json --subject tháng --recipient $C)" ]
lt_check "--since 1h: all four" [ "$(st --json --since 1h | grep -c document_id)" -eq 4 ]
lt_check "--until 1h: none (nothing older)" [ -z "$(st --json --until 1h)" ]
future=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)
lt_check "--since 2026-01-01 --until $future: all four" [ "$(st --json --since 2026-01-01 --until "$future" | grep -c document_id)" -eq 4 ]
st --status bogus >/dev/null 2>"$LT_WORK/bogus.err" && rc=0 || rc=$?
lt_check "--status bogus: usage error naming the statuses" \
	eval '[ $rc -eq 2 ] && grep -q "unknown status \"bogus\"; one of: queued, sent, delivered" "$LT_WORK/bogus.err"'
st --since yesterday >/dev/null 2>"$LT_WORK/since.err" && rc=0 || rc=$?
lt_check "--since yesterday: usage error saying what a time is" \
	eval '[ $rc -eq 2 ] && grep -q "since yesterday: a time is ISO 8601" "$LT_WORK/since.err"'

# JSON: edXML codes.
st --json >"$LT_WORK/all.json"
lt_check "JSON: valid, one object per line" valid_json_lines "$LT_WORK/all.json"
lt_check "JSON: delivered carries edxml_code 01" \
	[ "$(grep '"status":"delivered"' "$LT_WORK/all.json" | grep -c '"edxml_code":"01"')" -eq 3 ]
lt_check "JSON: the document to $C has no edXML code yet" \
	grep -q "\"document_id\":\"$urgent\".*\"edxml_code\":null" "$LT_WORK/all.json"

# History: submitted, kafka-ack (at the status's partition and offset), delivered.
st --history --json "$budget" >"$LT_WORK/history.json"
pos=$(st --json "$budget" | python3 -c 'import json, sys; o = json.loads(sys.stdin.readline()); print(o["partition"], o["offset"])')
events=$(python3 -c 'import json, sys
for l in sys.stdin:
    o = json.loads(l)
    print(o["recipient"], o["event"], o["status"], o["edxml_code"], o["partition"], o["offset"])' <"$LT_WORK/history.json")
echo "$events"
read -r p o <<<"$pos"
expected="$B submitted queued None None None
$B kafka-ack sent None $p $o
$B delivered delivered 01 None None"
lt_check "--history --json: submitted, kafka-ack at p$p@$o, delivered 01" [ "$events" = "$expected" ]
st --history "$budget" >"$LT_WORK/history.txt"
cat "$LT_WORK/history.txt"
lt_check "--history text: per recipient" grep -q "^history for $B:" "$LT_WORK/history.txt"
lt_check "--history text: the Kafka position" grep -Eq "kafka-ack +-> sent +p$p@$o\$" "$LT_WORK/history.txt"
lt_check "--history text: delivered with its code" grep -Eq "delivered +-> delivered +01" "$LT_WORK/history.txt"
st "$budget" >"$LT_WORK/doc.txt"
lt_check "DOCUMENT_ID alone: status line, then the history" \
	eval 'grep -q "^$budget  $B .* delivered " "$LT_WORK/doc.txt" && grep -q "^history for $B:" "$LT_WORK/doc.txt"'
st --history 0190f3a2-0001-7000-8000-000000000009 >/dev/null 2>&1 && rc=0 || rc=$?
lt_check "--history of an unknown document: exit 1" [ $rc -eq 1 ]

# CSV, read back with a CSV parser; the subject's escape stays escaped.
st --csv --recipient $B >"$LT_WORK/b.csv"
csv_rows=$(python3 -c 'import csv, sys
rows = list(csv.DictReader(sys.stdin))
print(len(rows), sorted(set(r["status"] + "/" + r["edxml_code"] for r in rows)))' <"$LT_WORK/b.csv")
lt_check "--csv: header and three rows, delivered/01 ($csv_rows)" [ "$csv_rows" = "3 ['delivered/01']" ]
lt_check "--csv: no raw control byte" no_raw_controls "$LT_WORK/b.csv"
lt_check "--csv: the subject's escape shown as \\x1b" grep -qF 'Ngân sách 2026 \x1b[31mđỏ' "$LT_WORK/b.csv"
st --history --csv "$budget" >"$LT_WORK/h.csv"
lt_check "--history --csv: header and three events" [ "$(python3 -c 'import csv, sys; print(len(list(csv.DictReader(sys.stdin))))' <"$LT_WORK/h.csv")" -eq 3 ]
st --recipient $B >"$LT_WORK/b.txt"
lt_check "text: no raw control byte" no_raw_controls "$LT_WORK/b.txt"

# Stuck: not final and unchanged for longer than AGE.
sleep 2
lt_check "--stuck 1s: the document to $C only" [ "$(st --json --stuck 1s | ids_of)" = "$urgent" ]
lt_check "--stuck 1h: none" [ -z "$(st --json --stuck 1h)" ]
lt_check "--stuck 1s --status delivered: none (final)" [ -z "$(st --json --stuck 1s --status delivered)" ]

# Summary: its lines, and per recipient.
st --summary >"$LT_WORK/summary.txt"
cat "$LT_WORK/summary.txt"
lt_check "--summary: delivered 3, total 4" \
	eval 'grep -Eq "^delivered +3$" "$LT_WORK/summary.txt" && grep -Eq "^total +4$" "$LT_WORK/summary.txt"'
lt_check "--summary: $B's row" grep -Eq "^$B +3 +delivered 3$" "$LT_WORK/summary.txt"
lt_check "--summary: $C's row" grep -Eq "^$C +1 +(queued|sent) 1$" "$LT_WORK/summary.txt"
lt_check "--summary: the agent's lines stay" grep -Eq "^agent +not running" "$LT_WORK/summary.txt"
recips=$(st --summary --json | python3 -c 'import json, sys
o = json.loads(sys.stdin.readline())
print(o["total"], o["delivered"], " ".join("%s:%d:%s" % (r["recipient"], r["total"], r.get("delivered", 0)) for r in o["recipients"]))')
lt_check "--summary --json: recipients ($recips)" [ "$recips" = "4 3 $B:3:3 $C:1:0" ]

# The recipient side.
"$LT_BIN/lienthong-status" -c "$(lt_conf $B)" --received --json >"$LT_WORK/received.json"
got=$(python3 -c 'import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
print(" ".join(sorted(r["document_id"] for r in rows if r["sender"] == sys.argv[1] and r["status"] == "delivered" and r["edxml_code"] == "01")))' $A <"$LT_WORK/received.json")
lt_check "--received at $B: the three documents from $A, delivered (01)" [ "$got" = "$all_b" ]
"$LT_BIN/lienthong-status" -c "$(lt_conf $B)" --received >"$LT_WORK/received.txt"
lt_check "--received text: sender, id, status" grep -Eq "^$A +$budget +delivered " "$LT_WORK/received.txt"
lt_check "--received --csv: header and three rows" [ "$("$LT_BIN/lienthong-status" -c "$(lt_conf $B)" --received --csv | lines /dev/stdin)" -eq 4 ]
lt_check "--received at $A: nothing received" [ "$(st --received)" = "nothing received" ]

# Watch: shown again until interrupted.
timeout -s INT 3.5 "$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --summary --watch 1 >"$LT_WORK/watch.txt" && rc=0 || rc=$?
lt_check "--watch 1: redrawn until interrupted ($(grep -c '^total' "$LT_WORK/watch.txt") times)" \
	eval '[ $rc -ne 0 ] && [ "$(grep -c "^total" "$LT_WORK/watch.txt")" -ge 2 ]'

