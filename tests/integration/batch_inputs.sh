#!/usr/bin/env bash
# lienthong-upload's inputs besides single files: FILE + FILE as one document,
# a folder (one document per file, one per sub-folder with its files as
# parts), a JSON Lines manifest with several parts per row. Each document
# arrives as one folder holding exactly its parts, byte-identical; a second
# run of the same folder submits nothing and says so.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=BIN.A01
B=BIN.B02

lt_setup
lt_agency $A
lt_agency $B
upload() { "$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" "$@"; }
docs_in_status() {
	"$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json | grep -o '"document_id":"[^"]*"' | sort -u | wc -l
}
# same_parts ID FILE...: B's folder of document ID holds exactly FILE..., byte-identical.
same_parts() {
	local id=$1 dir f
	shift
	dir="$LT_WORK/$B/target/$A/$id"
	[ "$(find "$dir" -mindepth 1 | wc -l)" -eq $# ] || return 1
	for f in "$@"; do cmp -s "$f" "$dir/$(basename "$f")" || return 1; done
}

lt_make_docs "$LT_WORK/src" 9 30000
cd "$LT_WORK/src"
cp doc-1.pdf report.pdf
cp doc-2.pdf annex.xml

# --- misuse is refused with a clear message, nothing submitted
set +e
out=$(upload --to $B + doc-1.pdf 2>&1)
st1=$?
mkdir -p x y
cp doc-3.pdf x/same.pdf
cp doc-4.pdf y/same.pdf
out2=$(upload --to $B x/same.pdf + y/same.pdf 2>&1)
st2=$?
set -e
lt_check "a leading '+' is refused (exit 1)" [ "$st1" -eq 1 ]
lt_check "... naming the form FILE + FILE" grep -q "'+' joins two files into one document (FILE + FILE)" <<<"$out"
lt_check "two parts of one name are refused (exit 1)" [ "$st2" -eq 1 ]
lt_check "... naming the part" grep -q "two parts are named same.pdf" <<<"$out2"
lt_check "nothing was submitted" [ "$(docs_in_status)" -eq 0 ]

# --- several files as one document, next to a single file
upload --to $B report.pdf + annex.xml + doc-5.pdf doc-6.pdf >"$LT_WORK/parts.ids"
lt_check "FILE + FILE + FILE FILE: two documents" [ "$(wc -l <"$LT_WORK/parts.ids")" -eq 2 ]
id_parts=$(awk -F'\t' '$2 == "report.pdf + annex.xml + doc-5.pdf" { print $1 }' "$LT_WORK/parts.ids")
id_single=$(awk -F'\t' '$2 == "doc-6.pdf" { print $1 }' "$LT_WORK/parts.ids")
lt_check "the joined files are named on one line" [ -n "$id_parts" -a -n "$id_single" ]

# --- a folder: files and a sub-folder (its files are the parts of one document)
mkdir -p "$LT_WORK/folder/dossier-7"
cp doc-7.pdf "$LT_WORK/folder/"
cp doc-8.pdf doc-9.pdf "$LT_WORK/folder/dossier-7/"
echo hidden >"$LT_WORK/folder/.DS_Store"
upload --to $B "$LT_WORK/folder" >"$LT_WORK/folder.ids"
lt_check "the folder gives two documents (hidden files left out)" [ "$(wc -l <"$LT_WORK/folder.ids")" -eq 2 ]
id_dossier=$(awk -F'\t' '$2 ~ /dossier-7\/doc-8.pdf \+ .*dossier-7\/doc-9.pdf$/ { print $1 }' "$LT_WORK/folder.ids")
id_file=$(awk -F'\t' '$2 ~ /folder\/doc-7.pdf$/ { print $1 }' "$LT_WORK/folder.ids")
lt_check "the sub-folder is one document of two parts" [ -n "$id_dossier" ]

# --- a JSON Lines manifest: two parts in one row, paths relative to the manifest,
# encrypted to the row's own recipients
cat >"$LT_WORK/src/rows.jsonl" <<EOF
{"files": ["doc-3.pdf", "doc-4.pdf"], "recipients": ["$B"], "subject": "Manifest row", "key": "jsonl-1"}
EOF
lt_set $A agency_certs_dir ../pki
upload -f "$LT_WORK/src/rows.jsonl" --encrypt --report "$LT_WORK/rows.report.csv" >"$LT_WORK/rows.ids"
id_row=$(cut -f1 "$LT_WORK/rows.ids")
lt_check "the report names the row's document" grep -q "^1,1,.*\"jsonl-1\",\"$id_row\",\"submitted\"" "$LT_WORK/rows.report.csv"

lt_start $A
lt_start $B
lt_check "all five documents are delivered" \
	lt_wait_until 120 bash -c "[ \$(find '$LT_WORK/$B/target/$A' -mindepth 1 -maxdepth 1 -type d ! -name '.tmp-*' 2>/dev/null | wc -l) -eq 5 ]"
lt_check "FILE + FILE + FILE: one folder with the three parts, byte-identical" \
	same_parts "$id_parts" report.pdf annex.xml doc-5.pdf
lt_check "the single FILE: its own folder" same_parts "$id_single" doc-6.pdf
lt_check "the folder's file: its own document" same_parts "$id_file" doc-7.pdf
lt_check "the sub-folder: one document with its two files, byte-identical" \
	same_parts "$id_dossier" doc-8.pdf doc-9.pdf
lt_check "the manifest row (encrypted to its recipient): one document with its two files" same_parts "$id_row" doc-3.pdf doc-4.pdf

# --- running the same folder again submits nothing
set +e
upload --to $B "$LT_WORK/folder" >"$LT_WORK/again.ids" 2>"$LT_WORK/again.err"
st=$?
set -e
lt_check "the second run of the folder exits 0" [ "$st" -eq 0 ]
lt_check "... submits nothing" [ ! -s "$LT_WORK/again.ids" ]
lt_check "... and reports both as already submitted" \
	grep -q "2 row(s): 0 submitted, 2 already submitted, 0 failed" "$LT_WORK/again.err"
lt_check "... with their document ids" grep -q "dossier-7/doc-9.pdf: already submitted as $id_dossier" "$LT_WORK/again.err"
lt_check "--no-key submits the same files again" upload --no-key --to $B doc-6.pdf
lt_check "the outbox holds six documents" [ "$(docs_in_status)" -eq 6 ]
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
