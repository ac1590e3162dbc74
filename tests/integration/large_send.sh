#!/usr/bin/env bash
# Large documents, sender side: lienthong-upload of a 20 MB file while the
# agent is stopped. The file becomes a streamed part: its bytes are spooled
# (<data_dir>/spool/<id>/0, byte-identical, nothing half-written left), the
# docs record holds the signed manifest (small; the file's and its chunks'
# SHA-256), the document is queued, and the upload's memory stays far below
# the file. A file above max_document_bytes, or streamed with --encrypt, is
# refused with the reason and leaves nothing. Needs neither the forwarder nor a receiver.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=BIG.A01
B=BIG.B02

lt_setup
lt_agency $A
data="$LT_WORK/$A/data"
file="$LT_WORK/scan.pdf"
size=$((20 * 1000 * 1000))
head -c $size /dev/urandom >"$file"

/usr/bin/time -v "$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B "$file" \
	>"$LT_WORK/ids" 2>"$LT_WORK/upload.err"
id=$(cut -f1 "$LT_WORK/ids")
peak_kib=$(awk -F: '/Maximum resident set size/ { print $2 + 0 }' "$LT_WORK/upload.err")
lt_figure "peak resident memory of lienthong-upload for a 20 MB file: $((peak_kib / 1024)) MiB"
lt_check "lienthong-upload of 20 MB stays below 64 MiB (peak ${peak_kib} KiB)" \
	[ "$peak_kib" -gt 0 -a "$peak_kib" -lt $((64 * 1024)) ]

status_json() { "$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json; }
lt_check "the document is queued for $B" \
	grep -q "\"document_id\":\"$id\",\"recipient\":\"$B\",\"status\":\"queued\"" <(status_json)
lt_check "its spool file is byte-identical to the file" cmp "$file" "$data/spool/$id/0"
lt_check "no half-written spool is left" \
	[ -z "$(find "$data/spool" -maxdepth 1 -name '.tmp-*')" ]

# The docs record: the manifest, small, with the signed SHA-256 of the file and of its
# first and last chunks (chunk_bytes 768K by default: 26 chunks, the last one shorter).
record=$(mdb_dump -s docs "$data" | awk -v id="$(printf %s "$id" | od -An -tx1 | tr -d ' \n')" '
	$1 == id { getline; print $1 }')
chunk=$((768 * 1024))
last=$(((size - 1) / chunk))
sha() { sha256sum | cut -d' ' -f1; }
lt_figure "docs record of the 20 MB document: $((${#record} / 2)) bytes"
lt_check "the docs record is a manifest (under 64 KiB, not the 20 MB)" \
	[ "${#record}" -gt 0 -a "${#record}" -lt $((2 * 64 * 1024)) ]
lt_check "it holds the file's SHA-256" grep -q "$(sha <"$file")" <<<"$record"
lt_check "and its first chunk's" grep -q "$(head -c $chunk "$file" | sha)" <<<"$record"
lt_check "and its last chunk's" grep -q "$(tail -c +$((last * chunk + 1)) "$file" | sha)" <<<"$record"

# Streamed parts cannot be encrypted yet: refused before anything is spooled.
lt_agency $B
lt_set $A agency_certs_dir ../pki
if "$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B --encrypt "$file" >"$LT_WORK/out1" 2>"$LT_WORK/err1"; then
	lt_fail "a streamed file was accepted with --encrypt"
else
	lt_check "--encrypt of a streamed file is refused, saying so" \
		grep -q "streamed parts cannot be encrypted yet: send it without --encrypt" "$LT_WORK/err1"
fi

# Above max_document_bytes: refused with the reason; nothing stored, nothing spooled.
lt_set $A max_document_bytes 16M
if "$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B "$file" >"$LT_WORK/out2" 2>"$LT_WORK/err2"; then
	lt_fail "a file above max_document_bytes was accepted"
else
	lt_check "a file above max_document_bytes is refused, saying so ($(head -c 200 "$LT_WORK/err2"))" \
		grep -q "the document has 20000000 bytes; max_document_bytes allows 16777216" "$LT_WORK/err2"
fi
lt_check "nothing more is stored" [ "$(status_json | wc -l)" -eq 1 ]
lt_check "nothing more is spooled" [ "$(find "$data/spool" -mindepth 1 -maxdepth 1 | wc -l)" -eq 1 ]
