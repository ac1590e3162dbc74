#!/usr/bin/env bash
# Hostile input on the inbox topic, published straight to the broker: forged
# signature, unknown CA, expired / not yet valid / revoked certificates,
# sender code differing from the certificate, replayed id with other content,
# misdirected and expired documents, truncated protobuf, a length prefix
# claiming a gigabyte, ten thousand parts, random bytes, an oversize record.
# None is delivered; each is quarantined with its reason; a `rejected` receipt
# reaches the sender of a verified document (misdirected, expired); a record
# that does not verify gets no receipt (its sender is not proven: its status
# stays `sent`); good documents sent in between are delivered; the agent
# stays up.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=HOS.A01
B=HOS.B02
C=HOS.C03
forge() { "$LT_BUILD/tests/lt-forge" "$@"; }

lt_setup
lt_agency $A
lt_agency $B
lt_agency $C
for code in EXP.A01 NYV.A01 REV.A01; do lt_agency $code; done
# Certificates outside their validity, and a revoked one.
"$LT_ROOT/deploy/pki.sh" agency "$LT_WORK/pki" EXP.A01 --start 20200101000000Z --end 20210101000000Z >/dev/null
"$LT_ROOT/deploy/pki.sh" agency "$LT_WORK/pki" NYV.A01 --start 20400101000000Z --end 20410101000000Z >/dev/null
"$LT_ROOT/deploy/pki.sh" revoke "$LT_WORK/pki" REV.A01 >/dev/null
# The same agency code as A, certified by a CA the recipient does not trust.
"$LT_ROOT/deploy/pki.sh" ca "$LT_WORK/rogue" "rogue CA" >/dev/null
"$LT_ROOT/deploy/pki.sh" agency "$LT_WORK/rogue" $A >/dev/null
mkdir -p "$LT_WORK/ROGUE"
sed -e "s|^key_file = .*|key_file = ../rogue/$A.key|" -e "s|^cert_file = .*|cert_file = ../rogue/$A.crt|" \
	-e "s|^data_dir = .*|data_dir = data|" "$(lt_conf $A)" >"$LT_WORK/ROGUE/agency.conf"

# An agency certified by an intermediate CA: the chain is trusted through
# ca_file holding the root and the intermediate (and, with CRLs, both CRLs).
"$LT_ROOT/deploy/pki.sh" intermediate "$LT_WORK/pki" "$LT_WORK/sub" "lienthong sub CA" >/dev/null
lt_agency INT.A01
"$LT_ROOT/deploy/pki.sh" agency "$LT_WORK/sub" INT.A01 >/dev/null
lt_set INT.A01 key_file ../sub/INT.A01.key
lt_set INT.A01 cert_file ../sub/INT.A01.crt
cat "$LT_WORK/sub/ca.crt" >>"$LT_WORK/pki/ca.crt"
"$LT_ROOT/deploy/pki.sh" crl "$LT_WORK/sub" >/dev/null
cat "$LT_WORK/sub/crl.pem" >>"$LT_WORK/pki/crl.pem"

lt_set $B crl_file ../pki/crl.pem
lt_set $B max_message_bytes 200000
lt_start $A
lt_start $B
lt_start $C
topics_ready() { for c in $A $B $C; do grep -q 'topics ready' "$LT_WORK/$c/agent.log" || return 1; done; }
lt_check "agents created their topics" lt_wait_until 60 topics_ready

head -c 3000 /dev/urandom >"$LT_WORK/small.bin"
head -c 300000 /dev/urandom >"$LT_WORK/big.bin"
good_ids="$LT_WORK/good-ids"
good=0
send_good() {
	good=$((good + 1))
	echo "good document $good" >"$LT_WORK/good-$good.txt"
	lt_upload $A $B "$good_ids" "$LT_WORK/good-$good.txt"
}
quarantine() { "$LT_BIN/lienthong-quarantine" -c "$(lt_conf $B)" list --json; }
quarantined() { # id regex
	quarantine | grep "\"document_id\":\"$1\"" | grep -Eq "$2"
}
quarantined_count() { # regex
	local n
	n=$(quarantine | grep -Ec "$1" || true)
	[ "$n" -ge "$2" ]
}
sender_sees() { # sender id status regex
	"$LT_BIN/lienthong-status" -c "$(lt_conf "$1")" --json "$2" 2>/dev/null | grep "\"status\":\"$3\"" | grep -Eq "$4"
}
not_delivered() { [ ! -e "$LT_WORK/$B/target/$1/$2" ]; }

# Records that do not verify: their ids, checked at the end to be still `sent`
# at A (B's receipts reach A in order, so by then any would have arrived).
unproven=()
# case NAME SENDER REASON_REGEX FORGE_ARGS...: one hostile document by id. With
# SENDER (not -), a verified document: SENDER's status becomes rejected.
case_id() {
	local name=$1 sender=$2 reason=$3 id
	shift 3
	id=$(forge "$@" "$LT_WORK/small.bin")
	send_good
	lt_check "$name: quarantined with reason /$reason/" lt_wait_until 30 quarantined "$id" "$reason"
	lt_check "$name: not delivered" not_delivered "${sender/-/$A}" "$id"
	if [ "$sender" != - ]; then
		lt_check "$name: $sender's status is rejected with the reason" \
			lt_wait_until 30 sender_sees "$sender" "$id" rejected "$reason"
	fi
	last_id=$id
}

case_id "forged signature" - 'signature did not verify' -c "$(lt_conf $A)" --to $B --forge-signature --record
unproven+=("$last_id")
case_id "tampered part" - 'signature did not verify' -c "$(lt_conf $A)" --to $B --tamper --record
unproven+=("$last_id")
case_id "unknown CA" - 'not trusted: unable to get local issuer certificate' -c "$LT_WORK/ROGUE/agency.conf" --to $B
# (These senders' own agents refuse to start with such certificates, so no one
# reads their receipt topics: the rejected receipts wait in the recipient's outbox.)
case_id "expired certificate" - 'certificate has expired' -c "$(lt_conf EXP.A01)" --to $B
case_id "not yet valid certificate" - 'certificate is not yet valid' -c "$(lt_conf NYV.A01)" --to $B
case_id "revoked certificate" - 'certificate revoked' -c "$(lt_conf REV.A01)" --to $B
case_id "sender differs from certificate" - "names agency '$A', but the record claims '$C'" \
	-c "$(lt_conf $A)" --to $B --claim-sender $C
claimed=$last_id
misdirected=$(forge -c "$(lt_conf $A)" --to $C --publish-to $B --record "$LT_WORK/small.bin")
send_good
lt_check "misdirected: quarantined" lt_wait_until 30 quarantined "$misdirected" 'misdirected'
lt_check "misdirected: not delivered" not_delivered $A "$misdirected"
lt_check "misdirected: $A quarantines $B's receipt for a document it sent to $C only" \
	lt_wait_until 30 bash -c "'$LT_BIN/lienthong-quarantine' -c '$(lt_conf $A)' list | grep '$misdirected' | grep -q 'did not send to $B'"
lt_check "misdirected: $A's status for $C is unchanged" sender_sees $A "$misdirected" sent .
case_id "expired document" $A 'expired: the document expired at' -c "$(lt_conf $A)" --to $B --expired --record
# Ten thousand (empty) parts: ~800 KB, within the broker's and C's size limits.
: >"$LT_WORK/empty.bin"
many=$(forge -c "$(lt_conf $A)" --to $C --parts 10000 --record "$LT_WORK/empty.bin")
unproven+=("$many") # it does not decode within C's limits: no receipt
lt_check "ten thousand parts: quarantined by $C" lt_wait_until 30 bash -c \
	"'$LT_BIN/lienthong-quarantine' -c '$(lt_conf $C)' list | grep '$many' | grep -q 'has 10000 parts'"
lt_check "ten thousand parts: not delivered" [ ! -e "$LT_WORK/$C/target/$A/$many" ]

# Replay: a document delivered, then the same id with other content.
first=$(forge -c "$(lt_conf $A)" --to $B --record "$LT_WORK/small.bin")
lt_check "replay: the original is delivered" lt_wait_until 30 sender_sees $A "$first" delivered .
head -c 3000 /dev/urandom >"$LT_WORK/other.bin"
forge -c "$(lt_conf $A)" --to $B --reuse-id "$first" "$LT_WORK/other.bin" >/dev/null
send_good
lt_check "replay with other content: quarantined as a conflict" \
	lt_wait_until 30 quarantined "$first" 'conflict: document id .* received before with other content'
lt_check "replay: the original's bytes are unchanged" cmp -s "$LT_WORK/small.bin" "$LT_WORK/$B/target/$A/$first/forged.bin"

# Records that name no document.
forge -c "$(lt_conf $A)" --to $B --truncate 100 "$LT_WORK/small.bin" >/dev/null
forge -c "$(lt_conf $A)" --to $B --random 5000 "$LT_WORK/small.bin" >/dev/null
forge -c "$(lt_conf $A)" --to $B --huge-length "$LT_WORK/small.bin" >/dev/null
send_good
lt_check "truncated, random and gigabyte-length records quarantined as malformed" \
	lt_wait_until 30 quarantined_count 'malformed envelope' 3
big=$(forge -c "$(lt_conf $A)" --to $B --record "$LT_WORK/big.bin")
send_good
lt_check "oversize record quarantined" lt_wait_until 30 quarantined_count 'exceeds max_message_bytes \(200000\)' 1
lt_check "oversize record not delivered" not_delivered $A "$big"

# Release: the rogue CA becomes trusted (say it was a CA the operator had
# forgotten to add); after a restart, the quarantined record is released and
# checked again, and now delivered.
rogue_id=$(quarantine | grep 'unable to get local issuer certificate' | head -n 1 |
	sed 's/.*"quarantine_id":\([0-9]*\).*/\1/')
rogue_doc=$(quarantine | grep "\"quarantine_id\":$rogue_id," | sed 's/.*"document_id":"\([^"]*\)".*/\1/')
lt_check "the unknown-CA record can be inspected" \
	"$LT_BIN/lienthong-quarantine" -c "$(lt_conf $B)" show "$rogue_id" --raw "$LT_WORK/rogue.raw"
lt_check "... and its raw bytes saved" [ -s "$LT_WORK/rogue.raw" ]
lt_check "agent $B stops for the CA change" lt_stop $B
cat "$LT_WORK/rogue/ca.crt" >>"$LT_WORK/pki/ca.crt"
# With crl_file set, every trusted CA needs its CRL there too.
"$LT_ROOT/deploy/pki.sh" crl "$LT_WORK/rogue" >/dev/null
cat "$LT_WORK/rogue/crl.pem" >>"$LT_WORK/pki/crl.pem"
lt_start $B
lt_check "the record is released" "$LT_BIN/lienthong-quarantine" -c "$(lt_conf $B)" release "$rogue_id"
lt_check "it left the quarantine" bash -c "! '$LT_BIN/lienthong-quarantine' -c '$(lt_conf $B)' list --json | grep -q '\"quarantine_id\":$rogue_id,'"
lt_check "released and checked again, it is delivered now that its CA is trusted" \
	lt_wait_until 60 test -f "$LT_WORK/$B/target/$A/$rogue_doc/forged.bin"
lt_check "releasing it again fails clearly" bash -c \
	"'$LT_BIN/lienthong-quarantine' -c '$(lt_conf $B)' release '$rogue_id' 2>&1 | grep -q 'no quarantined record $rogue_id'"

echo "through an intermediate CA" >"$LT_WORK/int.txt"
lt_upload INT.A01 $B "$LT_WORK/int-ids" "$LT_WORK/int.txt"
lt_start INT.A01
lt_check "a document signed under an intermediate CA is delivered" \
	lt_wait_until 60 lt_all_delivered INT.A01 "$LT_WORK/int-ids"

lt_check "all $good good documents sent in between were delivered" \
	lt_wait_until 60 lt_all_delivered $A "$good_ids"
lt_check "the recipient delivered only the good documents, the original, the released one and the intermediate's" \
	[ "$(find "$LT_WORK/$B/target" -mindepth 2 -maxdepth 2 -type d ! -name '.tmp-*' | wc -l)" -eq $((good + 3)) ]
for id in "${unproven[@]}"; do
	lt_check "no receipt for the unverified $id: $A's status is still sent" sender_sees $A "$id" sent .
done
lt_check "no receipt for a record whose sender differs from its certificate: $C got none" \
	bash -c "! '$LT_BIN/lienthong-quarantine' -c '$(lt_conf $C)' list | grep -q '$claimed'"
lt_check "agent $B is still running" kill -0 "$(cat "$LT_WORK/$B/agent.pid")"
for c in $A $B $C INT.A01; do lt_check "agent $c stops cleanly" lt_stop $c; done
