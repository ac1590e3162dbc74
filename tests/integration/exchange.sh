#!/usr/bin/env bash
# Two agencies, each with its own agent, LMDB and target folder, exchange N
# documents each way through the real broker. Asserts: every file arrives
# byte-identical exactly once, nothing half-written is left, every document
# shows `delivered` in the sender's status. Then a tampered document,
# published straight to the inbox topic, is not delivered but quarantined
# with a reason saying the signature did not verify (its sender, not proven,
# gets no receipt: its status stays `sent`), while a good document sent
# right after it is delivered.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${LT_EXCHANGE_DOCS:-100}
A=TEST.A01
B=TEST.B02

lt_setup
lt_agency $A ec
lt_agency $B ed25519
lt_start $A
lt_start $B

# Documents of varied sizes (0 bytes to ~200 KB), random content.
make_docs() { # dir count
	mkdir -p "$1"
	for i in $(seq 1 "$2"); do
		head -c $(((i * 7919) % 200000)) /dev/urandom >"$1/doc-$i.pdf"
	done
}
make_docs "$LT_WORK/out-$A" "$N"
make_docs "$LT_WORK/out-$B" "$N"

"$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B --subject "test A to B" \
	"$LT_WORK/out-$A"/*.pdf >"$LT_WORK/ids-$A.txt"
"$LT_BIN/lienthong-upload" -c "$(lt_conf $B)" --to $A "$LT_WORK/out-$B"/*.pdf >"$LT_WORK/ids-$B.txt"
lt_check "upload printed $N ids for $A" [ "$(wc -l <"$LT_WORK/ids-$A.txt")" -eq "$N" ]
lt_check "upload printed $N ids for $B" [ "$(wc -l <"$LT_WORK/ids-$B.txt")" -eq "$N" ]

all_delivered() { [ "$(lt_count_status $A delivered)" -eq "$N" ] && [ "$(lt_count_status $B delivered)" -eq "$N" ]; }
start=$SECONDS
if lt_wait_until 240 all_delivered; then
	lt_figure "all $((2 * N)) documents delivered in $((SECONDS - start)) s"
else
	lt_fail "not all delivered: $A sees $(lt_count_status $A delivered), $B sees $(lt_count_status $B delivered)"
fi

# Every file, exactly once, byte-identical, at <target>/<sender>/<id>/<name>.
verify_side() { # sender recipient
	local s=$1 r=$2 bad=0 id file
	while IFS=$'\t' read -r id file; do
		local got="$LT_WORK/$r/target/$s/$id/$(basename "$file")"
		if ! cmp -s "$file" "$got"; then
			echo "mismatch or missing: $got" >&2
			bad=$((bad + 1))
		fi
	done <"$LT_WORK/ids-$s.txt"
	[ "$bad" -eq 0 ]
}
lt_check "$B received every file of $A byte-identical" verify_side $A $B
lt_check "$A received every file of $B byte-identical" verify_side $B $A
lt_check "$B has exactly $N documents from $A" [ "$(find "$LT_WORK/$B/target/$A" -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq "$N" ]
lt_check "$A has exactly $N documents from $B" [ "$(find "$LT_WORK/$A/target/$B" -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq "$N" ]
lt_check "each document folder holds exactly one file" [ "$(find "$LT_WORK/$B/target" "$LT_WORK/$A/target" -type f | wc -l)" -eq $((2 * N)) ]
lt_check "no half-written delivery left" [ -z "$(find "$LT_WORK/$A/target" "$LT_WORK/$B/target" -name '.tmp-*')" ]

first_id=$(head -n 1 "$LT_WORK/ids-$A.txt" | cut -f1)
json_line=$("$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json "$first_id")
for field in document_id recipient status updated_at; do
	lt_check "status --json has $field" grep -q "\"$field\":" <<<"$json_line"
done

# Tampered: one byte of the part changed after signing, published straight to B's inbox.
head -c 5000 /dev/urandom >"$LT_WORK/forged.bin"
bad_id=$("$LT_BUILD/tests/lt-forge" -c "$(lt_conf $A)" --to $B --tamper --record "$LT_WORK/forged.bin")
echo "good document after the tampered one" >"$LT_WORK/after.txt"
good_id=$("$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B "$LT_WORK/after.txt" | cut -f1)
status_of() { "$LT_BIN/lienthong-status" -c "$(lt_conf "$1")" --json "$2"; }
is_final() { status_of $A "$1" | grep -q "\"status\":\"$2\""; }
lt_check "good document after it is delivered" lt_wait_until 60 is_final "$good_id" delivered
lt_check "$B quarantines the tampered document: the signature did not verify" bash -c \
	"'$LT_BIN/lienthong-quarantine' -c '$(lt_conf $B)' list | grep '$bad_id' | grep -q 'signature did not verify'"
lt_check "tampered document was not delivered" [ ! -e "$LT_WORK/$B/target/$A/$bad_id" ]
lt_check "an unproven sender gets no receipt: $A's status stays sent" is_final "$bad_id" sent
lt_check "good document arrived intact" cmp -s "$LT_WORK/after.txt" "$LT_WORK/$B/target/$A/$good_id/after.txt"

lt_check "agent $A stops cleanly on SIGTERM" lt_stop $A
lt_check "agent $B stops cleanly on SIGTERM" lt_stop $B
