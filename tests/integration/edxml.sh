#!/usr/bin/env bash
# edXML (QCVN 102:2016) in and out through the real broker, with the
# fixtures of tests/fixtures/edxml/ between agencies 000.00.00.G22 (A, the
# fixtures' sender) and 000.00.01.H26 (B, one of their recipients).
#
# 1. lienthong-upload takes edXML messages: a recall of a document never
#    sent is refused with a clear error; a message from another agency and
#    one given with --to are refused; the new decision (recognised without
#    --edxml) is delivered to B with its attachments byte-identical after
#    decoding and the original message as edxml-original.xml; uploading it
#    again is "already submitted"; the update (BussinessDocType 2) reaches B
#    as a control record; the recall (1) moves A's status for H31 to
#    recall-requested.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=000.00.00.G22
B=000.00.01.H26
FX="$LT_ROOT/tests/fixtures/edxml"

lt_setup
lt_agency $A ec
lt_agency $B ed25519
lt_start $A
lt_start $B

upload() { "$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" "$@"; }
# status_of DOC RECIPIENT: the status of DOC for RECIPIENT at A.
status_of() {
	"$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json | python3 -c '
import json, sys
for line in sys.stdin:
    o = json.loads(line)
    if o["document_id"] == sys.argv[1] and o["recipient"] == sys.argv[2]:
        print(o["status"])' "$1" "$2"
}
is_status() { [ "$(status_of "$1" "$2")" = "$3" ]; }
# attachments DIR: the SHA-256 of the files in DIR but the original message, sorted.
attachments() {
	find "$1" -maxdepth 1 -type f ! -name edxml-original.xml ! -name '.*' -exec sha256sum {} + |
		cut -d' ' -f1 | sort
}

# --- 1. edXML in ---------------------------------------------------------------
out=$(upload --edxml "$FX/revoke.xml" 2>&1) && rc=0 || rc=$?
lt_check "a recall of a document never sent is refused (exit 1)" [ "$rc" -eq 1 ]
lt_check "... saying no document has its edXML DocumentId" \
	grep -q "no document this agency sent has the edXML DocumentId '000.00.00.G22,2026/11/20,12/QĐ-TTg'" <<<"$out"

out=$("$LT_BIN/lienthong-upload" -c "$(lt_conf $B)" "$FX/new_decision.xml" 2>&1) && rc=0 || rc=$?
lt_check "B cannot send A's message: exit 1, naming From/OrganId" \
	bash -c '[ "$1" -eq 1 ] && grep -q "From/OrganId is 000.00.00.G22 but this agency is 000.00.01.H26" <<<"$2"' _ "$rc" "$out"
out=$(upload --to $B "$FX/new_decision.xml" 2>&1) && rc=0 || rc=$?
lt_check "an edXML message with --to is refused" \
	bash -c '[ "$1" -eq 1 ] && grep -q "leave out --to" <<<"$2"' _ "$rc" "$out"

upload "$FX/new_decision.xml" >"$LT_WORK/ids.txt"
lt_check "the new decision (recognised without --edxml) was submitted" [ "$(wc -l <"$LT_WORK/ids.txt")" -eq 1 ]
DOC=$(cut -f1 "$LT_WORK/ids.txt")
lt_check "no decoding folder is left in A's data_dir" [ -z "$(find "$LT_WORK/$A" -maxdepth 2 -name 'edxml-tmp.*')" ]
lt_wait_until 120 is_status "$DOC" $B delivered || true
lt_check "B: the decision is delivered" is_status "$DOC" $B delivered
got="$LT_WORK/$B/target/$A/$DOC"
lt_check "B: the attachments are byte-identical after decoding" \
	[ "$(attachments "$got")" = "$(python3 "$LT_ROOT/tests/tools/edxml_attachments.py" "$FX/new_decision.xml")" ]
lt_check "B: the original message travelled as edxml-original.xml" cmp -s "$FX/new_decision.xml" "$got/edxml-original.xml"
lt_check "A: the other recipients (To) have the document too" \
	bash -c '[ -n "$1" ] && [ -n "$2" ]' _ "$(status_of "$DOC" 000.00.02.H29)" "$(status_of "$DOC" 000.00.03.H31)"

out=$(upload --edxml "$FX/new_decision.xml" 2>&1)
lt_check "the same message again is already submitted as $DOC" grep -q "already submitted as $DOC" <<<"$out"

upload "$FX/update_replacement.xml" >"$LT_WORK/update.txt"
lt_check "the update (BussinessDocType 2) was submitted" [ "$(wc -l <"$LT_WORK/update.txt")" -eq 1 ]
lt_wait_until 120 test -f "$got/.update.json" || true
lt_check "B: the update of the decision arrived as .update.json" grep -q '"type":"update"' "$got/.update.json"

upload --edxml "$FX/revoke.xml" >"$LT_WORK/revoke.txt"
lt_check "the recall (BussinessDocType 1) was submitted" [ "$(wc -l <"$LT_WORK/revoke.txt")" -eq 1 ]
lt_check "A: the decision is recall-requested for 000.00.03.H31" is_status "$DOC" 000.00.03.H31 recall-requested
