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
#    as a control record; the recall (1) is agreed by H31 (recall-agreed at
#    A, the control record POSTed to H31's target).
# 2. target_format = edxml: 000.00.02.H29 (C, folder target) gets one file,
#    message.edxml, that lienthong's reader (tests/tools/lt_edxml_cat.c)
#    accepts, with the sender, recipients, subject, meta fields and every
#    attachment byte-identical after decoding (the original message too);
#    000.00.03.H31 (D, HTTP target) gets the same as a POST body. A document
#    that did not come from edXML, and its replacement, also arrive as valid
#    edXML naming their DocumentIds.
#    A message with a 2.5 MB attachment (larger than one record) is
#    streamed: its parts spooled byte-identical, and it is delivered to C as
#    edXML with every attachment and the original intact. A streamed document
#    (published by lt-forge) reaches C and D as edXML written from the
#    staged files, byte-identical after decoding.
# 3. Status messages: edXML status messages dropped into B's and C's
#    report_dir (fixtures status_01 and status_03; one naming a document by
#    the DocumentId lienthong gave it) become signed business receipts: A
#    shows accepted, with the Description and the reporter; one naming an
#    unknown DocumentId goes to failed/ saying so. A, with status_dir set,
#    writes each business status it receives as an edXML status message
#    that lienthong's reader accepts (code, DocumentId, Description).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=000.00.00.G22
B=000.00.01.H26
FX="$LT_ROOT/tests/fixtures/edxml"

C=000.00.02.H29 # target_format = edxml, folder
D=000.00.03.H31 # target_format = edxml, HTTP

lt_setup
lt_agency $A ec
lt_set $A status_dir "$LT_WORK/$A/status"
lt_agency $B ed25519
lt_set $B report_dir "$LT_WORK/$B/reports"
lt_agency $C ec
lt_set $C target_format edxml
lt_set $C report_dir "$LT_WORK/$C/reports"
lt_agency $D ec
lt_http_target $D
lt_http_agency $D
lt_set $D target_format edxml
for x in $A $B $C $D; do lt_start $x; done

upload() { "$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" "$@"; }
# status_of DOC RECIPIENT [FIELD]: FIELD (default status) of DOC for RECIPIENT at A.
status_of() {
	"$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json | python3 -c '
import json, sys
for line in sys.stdin:
    o = json.loads(line)
    if o["document_id"] == sys.argv[1] and o["recipient"] == sys.argv[2]:
        print(o.get(sys.argv[3], ""))' "$1" "$2" "${3:-status}"
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

lt_wait_until 120 is_status "$DOC" $C delivered || true
lt_check "C: the decision is delivered" is_status "$DOC" $C delivered
lt_check "C: the folder holds message.edxml alone" [ "$(ls -A "$LT_WORK/$C/target/$A/$DOC")" = message.edxml ]
lt_wait_until 120 is_status "$DOC" $D delivered || true
lt_check "D: the decision is delivered over HTTP" is_status "$DOC" $D delivered

# --- 3. status messages, both ways -----------------------------------------------
drop() { # WHO NAME FILE: FILE as NAME in WHO's report_dir, written then renamed in
	mkdir -p "$LT_WORK/$1/reports"
	cp "$3" "$LT_WORK/$1/reports/.$2"
	mv "$LT_WORK/$1/reports/.$2" "$LT_WORK/$1/reports/$2"
}
drop $B s01.xml "$FX/status_01.xml"
lt_wait_until 60 is_status "$DOC" $B arrived || true
drop $B s03.edxml "$FX/status_03.xml"
lt_wait_until 60 is_status "$DOC" $B accepted || true
lt_check "A: B's edXML status messages (01, then 03) made the decision accepted" is_status "$DOC" $B accepted
lt_check "B: both status messages were applied (moved to done/)" \
	bash -c '[ -f "$1/done/s01.xml" ] && [ -f "$1/done/s03.edxml" ]' _ "$LT_WORK/$B/reports"
reason=$(status_of "$DOC" $B reason)
lt_check "A: the status carries the reporter (StaffInfo) and the Description ($reason)" \
	grep -qF "by Lê Văn Bình, Văn phòng UBND, binh.lv@hanoi.gov.vn, 0987 654 321: Đã tiếp nhận <mã 03>" <<<"$reason"
sed -e 's|000.00.00.G22,2026/11/20,12/QĐ-TTg|000.00.00.G22,2026/11/20,99/QĐ-TTg|' "$FX/status_03.xml" >"$LT_WORK/unknown.xml"
drop $B unknown.xml "$LT_WORK/unknown.xml"
lt_wait_until 60 test -f "$LT_WORK/$B/reports/failed/unknown.xml.error" || true
lt_check "B: a status message naming an unknown DocumentId goes to failed/, saying so" \
	grep -q "no document received from 000.00.00.G22 has the edXML DocumentId '000.00.00.G22,2026/11/20,99/QĐ-TTg'" \
	"$LT_WORK/$B/reports/failed/unknown.xml.error"
st="$LT_WORK/$A/status/$DOC.$B.03.edxml"
lt_wait_until 60 test -f "$st" || true
lt_check "A: the 03 it received is written into status_dir as an edXML status message" \
	"$LT_BUILD/tests/lt-edxml-cat" -c "$(lt_conf $A)" status "$st" >"$LT_WORK/st.txt"
lt_check "A: ... code 03, the decision's DocumentId, the Description and the reporter" \
	bash -c 'grep -qx "code=03" "$1" && grep -qx "rf_document_id=000.00.00.G22,2026/11/20,12/QĐ-TTg" "$1" &&
		grep -qx "description=Đã tiếp nhận <mã 03>" "$1" && grep -qx "from=000.00.01.H26" "$1" &&
		grep -q "^reported_by=Lê Văn Bình, Văn phòng UBND" "$1"' _ "$LT_WORK/st.txt"
lt_check "A: ... and the 01 before it" test -f "$LT_WORK/$A/status/$DOC.$B.01.edxml"

out=$(upload --edxml "$FX/new_decision.xml" 2>&1)
lt_check "the same message again is already submitted as $DOC" grep -q "already submitted as $DOC" <<<"$out"

upload "$FX/update_replacement.xml" >"$LT_WORK/update.txt"
lt_check "the update (BussinessDocType 2) was submitted" [ "$(wc -l <"$LT_WORK/update.txt")" -eq 1 ]
lt_wait_until 120 test -f "$got/.update.json" || true
lt_check "B: the update of the decision arrived as .update.json" grep -q '"type":"update"' "$got/.update.json"

# --- 2. edXML out ----------------------------------------------------------------
cat_doc() { # FILE OUTDIR: lienthong's reader over FILE, attachments into OUTDIR
	mkdir -p "$2"
	"$LT_BUILD/tests/lt-edxml-cat" -c "$(lt_conf $C)" doc "$1" "$2"
}
# check_edxml WHO FILE: FILE is the new decision as edXML, every attachment intact.
check_edxml() {
	local who=$1 f=$2 out="$LT_WORK/cat-$1"
	lt_check "$who: the message parses with lienthong's edXML reader" cat_doc "$f" "$out/parts" >"$out.txt"
	lt_check "$who: sender, recipients and subject as sent" \
		bash -c 'grep -qx "sender=000.00.00.G22" "$1" && [ "$(grep -c "^recipient=" "$1")" -eq 3 ] &&
			grep -q "^subject=Quyết định về việc ban hành Quy chế" "$1" && grep -qx "number=12/QĐ-TTg" "$1"' _ "$out.txt"
	lt_check "$who: the meta fields are there (edxml.From.OrganName, DocumentId, SignerInfo)" \
		bash -c 'grep -qx "edxml.From.OrganName=Văn phòng Chính phủ" "$1" &&
			grep -qx "edxml.DocumentId=000.00.00.G22,2026/11/20,12/QĐ-TTg" "$1" &&
			grep -qx "edxml.SignerInfo.FullName=Nguyễn Văn Đức" "$1"' _ "$out.txt"
	lt_check "$who: the attachments are byte-identical after decoding" \
		[ "$(attachments "$out/parts")" = "$(python3 "$LT_ROOT/tests/tools/edxml_attachments.py" "$FX/new_decision.xml")" ]
	lt_check "$who: the original message is inside too, byte-identical" cmp -s "$FX/new_decision.xml" "$out/parts/edxml-original.xml"
}
check_edxml C "$LT_WORK/$C/target/$A/$DOC/message.edxml"
check_edxml D "$LT_WORK/http-$D/$DOC/message.edxml"

# A document that did not come from edXML, then its replacement.
printf 'công văn %s\n' "$(date)" >"$LT_WORK/cong-van.txt"
head -c 300000 /dev/urandom >"$LT_WORK/phu-luc.bin"
upload --to $C --subject "Công văn thường" --number 7/CV "$LT_WORK/cong-van.txt" + "$LT_WORK/phu-luc.bin" >"$LT_WORK/plain.txt"
P=$(cut -f1 "$LT_WORK/plain.txt")
lt_wait_until 120 is_status "$P" $C delivered || true
lt_check "C: a document not from edXML is delivered as edXML" cat_doc "$LT_WORK/$C/target/$A/$P/message.edxml" "$LT_WORK/plain" >"$LT_WORK/plain-cat.txt"
lt_check "C: ... with its DocumentId made from its id, its number and subject" \
	bash -c 'grep -q "^edxml.DocumentId=000.00.00.G22,20[0-9][0-9]/[01][0-9]/[0-3][0-9],$2\$" "$1" &&
		grep -qx "number=7/CV" "$1" && grep -qx "subject=Công văn thường" "$1"' _ "$LT_WORK/plain-cat.txt" "$P"
lt_check "C: ... and both parts byte-identical" \
	bash -c 'cmp -s "$1/cong-van.txt" "$1/plain/cong-van.txt" && cmp -s "$1/phu-luc.bin" "$1/plain/phu-luc.bin"' _ "$LT_WORK"
pid=$(grep "^edxml.DocumentId=" "$LT_WORK/plain-cat.txt" | cut -d= -f2-)
sed -e "s/000.00.01.H26/$C/" -e "s|000.00.00.G22,2026/11/20,12/QĐ-TTg|$pid|" "$FX/status_01.xml" >"$LT_WORK/plain-01.xml"
drop $C plain-01.xml "$LT_WORK/plain-01.xml"
lt_wait_until 60 is_status "$P" $C arrived || true
lt_check "A: C's status message naming the DocumentId lienthong gave made it arrived" is_status "$P" $C arrived
upload --to $C --replaces "$P" "$LT_WORK/phu-luc.bin" >"$LT_WORK/repl.txt"
R=$(cut -f1 "$LT_WORK/repl.txt")
lt_wait_until 120 is_status "$R" $C delivered || true
lt_check "C: the replacement is delivered as edXML" cat_doc "$LT_WORK/$C/target/$A/$R/message.edxml" "$LT_WORK/repl" >"$LT_WORK/repl-cat.txt"
lt_check "C: ... of BussinessDocType 3 naming the replaced document's DocumentId ($pid)" \
	bash -c 'grep -qx "business_type=3" "$1" && grep -qxF "concerns=$2" "$1"' _ "$LT_WORK/repl-cat.txt" "$pid"

# A large attachment: streamed through the spool, written into message.edxml from staging.
python3 - "$FX/new_decision.xml" "$LT_WORK/big.xml" <<'PY'
import base64, os, re, sys
src = open(sys.argv[1], encoding="utf-8").read()
data = base64.encodebytes(os.urandom(2500000)).decode()
src = src.replace("12/QĐ-TTg</edXML:DocumentId>", "13/QĐ-TTg</edXML:DocumentId>", 1)
src = re.sub(r"<edXML:ContentTransferEncoded>[^<]*</edXML:ContentTransferEncoded>",
             "<edXML:ContentTransferEncoded>\n" + data + "</edXML:ContentTransferEncoded>", src, count=1)
open(sys.argv[2], "w", encoding="utf-8").write(src)
PY
upload --edxml "$LT_WORK/big.xml" >"$LT_WORK/big.txt"
BIG=$(cut -f1 "$LT_WORK/big.txt")
want=$(python3 "$LT_ROOT/tests/tools/edxml_attachments.py" "$LT_WORK/big.xml")
sp="$LT_WORK/$A/data/spool/$BIG"
lt_check "A: the large attachment is streamed: spooled, byte-identical after decoding" \
	bash -c '[ -f "$1/0" ] && grep -qx "$(sha256sum <"$1/0" | cut -d" " -f1)" <<<"$2"' _ "$sp" "$want"
lt_check "A: ... and so is the original message (the last part)" cmp -s "$sp/2" "$LT_WORK/big.xml"
# ... and crosses end to end: manifest and chunks from A's spool, edXML out at C.
lt_check "C: the large message is delivered" lt_wait_until 180 is_status "$BIG" $C delivered
cat_doc "$LT_WORK/$C/target/$A/$BIG/message.edxml" "$LT_WORK/bigC-in" >/dev/null || true
lt_check "C: ... as edXML, its attachments byte-identical after decoding" \
	[ "$(attachments "$LT_WORK/bigC-in")" = "$want" ]
lt_check "C: ... and the original message inside, byte-identical" \
	cmp -s "$LT_WORK/big.xml" "$LT_WORK/bigC-in/edxml-original.xml"
# Received streamed (lt-forge publishes a manifest and chunks as the forwarder would):
# message.edxml is written from the staged files.
head -c 2500000 /dev/urandom >"$LT_WORK/s1.bin"
head -c 1200000 /dev/urandom >"$LT_WORK/s2.bin"
printf 'kèm theo\n' >"$LT_WORK/s3.txt"
streamed_ok() { # FILE OUTDIR: FILE decodes into the three parts (lt-forge names them part-N.bin)
	"$LT_BUILD/tests/lt-edxml-cat" -c "$(lt_conf $C)" doc "$1" "$2" >/dev/null &&
		cmp -s "$2/part-1.bin" "$LT_WORK/s1.bin" && cmp -s "$2/part-2.bin" "$LT_WORK/s2.bin" &&
		cmp -s "$2/part-3.bin" "$LT_WORK/s3.txt"
}
for r in $C $D; do
	"$LT_BUILD/tests/lt-forge" -c "$(lt_conf $A)" --to $r --streamed "$LT_WORK/s1.bin" \
		--streamed "$LT_WORK/s2.bin" "$LT_WORK/s3.txt" >"$LT_WORK/forged-$r.txt"
done
FC=$(cat "$LT_WORK/forged-$C.txt")
FD=$(cat "$LT_WORK/forged-$D.txt")
mkdir -p "$LT_WORK/bigC" "$LT_WORK/bigD"
lt_wait_until 120 test -f "$LT_WORK/$C/target/$A/$FC/message.edxml" || true
lt_check "C: a streamed document arrives as message.edxml, every part byte-identical" \
	streamed_ok "$LT_WORK/$C/target/$A/$FC/message.edxml" "$LT_WORK/bigC"
lt_check "C: its staging is removed" [ ! -e "$LT_WORK/$C/target/.lienthong-staging/$A.$FC" ]
lt_wait_until 120 test -f "$LT_WORK/http-$D/$FD/message.edxml" || true
lt_check "D: a streamed document is POSTed as edXML, every part byte-identical" \
	streamed_ok "$LT_WORK/http-$D/$FD/message.edxml" "$LT_WORK/bigD"

upload --edxml "$FX/revoke.xml" >"$LT_WORK/revoke.txt"
lt_check "the recall (BussinessDocType 1) was submitted" [ "$(wc -l <"$LT_WORK/revoke.txt")" -eq 1 ]
lt_wait_until 120 is_status "$DOC" $D recall-agreed || true
lt_check "A: H31 agreed to the recall of the decision" is_status "$DOC" $D recall-agreed
lt_check "D: the recall was POSTed to its target" grep -q '"type":"recall"' "$LT_WORK/http-$D/$DOC/.recall.json"
