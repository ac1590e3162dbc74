#!/usr/bin/env bash
# No third party can change another agency's records: three attacks by an
# agency C with a valid certificate of its own (or by no one), against real
# agents on the real broker. Each asserts the victim's record is unchanged and
# that good traffic still flows.
#
#  forged rejection  A sends X to B and C. C then publishes to B's inbox
#                    records naming A and X (signed by C, unsigned, with a
#                    broken signature, truncated), and to A's receipt topic a
#                    `rejected` receipt about X signed by C but claiming B; B's
#                    key signs a receipt without the document's digest. A's
#                    status for (X, B) stays delivered, and B queues no receipt
#                    for a sender no valid signature proved.
#  id takeover       while B is offline, C publishes its own validly signed
#                    document under A's id X. Both are delivered, each under
#                    its sender's folder; both senders see delivered.
#  expired replay    a delivered document with an expiry is published again
#                    after it expired, and B then re-reads its whole inbox
#                    (a new consumer group: ordinary redelivery). B's inbox
#                    record stays delivered, nothing is delivered twice, A's
#                    status stays delivered.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=TPA.A01
B=TPA.B02
C=TPA.C03
forge() { "$LT_BUILD/tests/lt-forge" "$@"; }

lt_setup
for c in $A $B $C; do lt_agency $c; done
for c in $A $B $C; do lt_start $c; done
topics_ready() { for c in $A $B $C; do grep -q 'topics ready' "$LT_WORK/$c/agent.log" || return 1; done; }
lt_check "agents created their topics" lt_wait_until 60 topics_ready

# status_is SENDER ID RECIPIENT STATUS
status_is() {
	"$LT_BIN/lienthong-status" -c "$(lt_conf "$1")" --json "$2" 2>/dev/null |
		grep "\"recipient\":\"$3\"" | grep -q "\"status\":\"$4\""
}
# quarantined AGENCY REGEX: how many quarantined records match
quarantined() {
	"$LT_BIN/lienthong-quarantine" -c "$(lt_conf "$1")" list --json | grep -Ec "$2" || true
}
quarantined_at_least() { [ "$(quarantined "$1" "$2")" -ge "$3" ]; }
# receipts_about SENDER ID: receipts on SENDER's receipt topic that name ID
receipts_about() {
	kcat -C -b "$LT_BOOTSTRAP" -t "$LT_PREFIX.receipts.$1" -o beginning -e -q -f '%s\n' 2>/dev/null |
		grep -ao "$2" | wc -l
}
# inbox_record_is AGENCY ID STATUS_BYTE: the agency's inbox record of ID has
# status 1 (delivered), 2 (rejected), ... (read with mdb_dump, as printable text)
inbox_record_is() {
	local value
	value=$(mdb_dump -p -s inbox "$LT_WORK/$1/data" | awk -v id="$2" '
		/^HEADER=END/ { on = 1; n = 0; next }
		/^DATA=END/ { on = 0 }
		on && ++n % 2 == 1 { key = $0; next }
		on && index(key, id) { print }')
	[[ "$value" == " \\08\\0$3"* ]]
}
good_ids="$LT_WORK/good-ids"
good=0
send_good() {
	good=$((good + 1))
	echo "good document $good" >"$LT_WORK/good-$good.txt"
	lt_upload $A $B "$good_ids" "$LT_WORK/good-$good.txt"
}

# The expired-replay victim is sent first: its expiry passes meanwhile.
echo "expires soon" >"$LT_WORK/expiring.txt"
lt_upload $A $B "$LT_WORK/ids-exp" --expires-in 30 "$LT_WORK/expiring.txt"
expires_at=$((SECONDS + 31))
E=$(cut -f1 "$LT_WORK/ids-exp")

echo "== forged rejection"
echo "for B and C" >"$LT_WORK/shared.txt"
lt_upload $A $B,$C "$LT_WORK/ids-x" "$LT_WORK/shared.txt"
X=$(cut -f1 "$LT_WORK/ids-x")
lt_check "X is delivered to $B" lt_wait_until 60 status_is $A "$X" $B delivered
lt_check "X is delivered to $C" lt_wait_until 60 status_is $A "$X" $C delivered
lt_check "the expiring document is delivered before it expires" lt_wait_until 60 status_is $A "$E" $B delivered
head -c 3000 /dev/urandom >"$LT_WORK/small.bin"
forge -c "$(lt_conf $C)" --to $B --claim-sender $A --reuse-id "$X" "$LT_WORK/small.bin" >/dev/null
forge -c "$(lt_conf $C)" --to $B --claim-sender $A --reuse-id "$X" --unsigned "$LT_WORK/small.bin" >/dev/null
forge -c "$(lt_conf $C)" --to $B --claim-sender $A --reuse-id "$X" --forge-signature "$LT_WORK/small.bin" >/dev/null
forge -c "$(lt_conf $C)" --to $B --claim-sender $A --reuse-id "$X" --truncate 300 "$LT_WORK/small.bin" >/dev/null
lt_check "$B quarantines the three readable forged records naming $A's X" \
	lt_wait_until 30 quarantined_at_least $B "\"document_id\":\"$X\"" 3
lt_check "... and the truncated one" lt_wait_until 30 quarantined_at_least $B 'malformed envelope' 1
forge -c "$(lt_conf $C)" --to $A --reuse-id "$X" --receipt rejected --claim-recipient $B >/dev/null
forge -c "$(lt_conf $B)" --to $A --reuse-id "$X" --receipt rejected --no-digest >/dev/null
lt_check "$A quarantines the receipt signed by $C that claims $B" \
	lt_wait_until 30 quarantined_at_least $A "names agency '$C', but the record claims '$B'" 1
lt_check "$A quarantines $B's receipt without a digest" \
	lt_wait_until 30 quarantined_at_least $A "\"document_id\":\"$X\".*no document digest" 1
# B's receipts reach A in order: once a later one is applied, any for the forgeries would be too.
send_good
lt_check "a good document sent after the forgeries is delivered" lt_wait_until 60 lt_all_delivered $A "$good_ids"
lt_check "$A's status for (X, $B) is still delivered" status_is $A "$X" $B delivered
lt_check "$A's status for (X, $C) is still delivered" status_is $A "$X" $C delivered
n=$(receipts_about $A "$X")
lt_check "$B queued no receipt to the unproven sender: receipts about X are the two deliveries and the two forged ones ($n)" \
	[ "$n" -eq 4 ]
lt_check "$B's inbox record of X is still delivered" inbox_record_is $B "$X" 1

echo "== id takeover"
lt_check "agent $B stops (offline)" lt_stop $B
lt_check "agent $A stops" lt_stop $A
echo "A's genuine document" >"$LT_WORK/genuine.txt"
lt_upload $A $B "$LT_WORK/ids-t" "$LT_WORK/genuine.txt"
T=$(cut -f1 "$LT_WORK/ids-t")
head -c 2000 /dev/urandom >"$LT_WORK/takeover.bin"
forge -c "$(lt_conf $C)" --to $B --reuse-id "$T" --record "$LT_WORK/takeover.bin" >/dev/null
lt_start $A
lt_check "$A's genuine document is sent while $B is offline" lt_wait_until 60 status_is $A "$T" $B sent
lt_start $B
lt_check "$A's genuine document is delivered" lt_wait_until 60 status_is $A "$T" $B delivered
lt_check "$C's document with the same id is delivered" lt_wait_until 60 status_is $C "$T" $B delivered
lt_check "... $A's into $A's folder, byte-identical" cmp -s "$LT_WORK/genuine.txt" "$LT_WORK/$B/target/$A/$T/genuine.txt"
lt_check "... $C's into $C's folder, byte-identical" cmp -s "$LT_WORK/takeover.bin" "$LT_WORK/$B/target/$C/$T/forged.bin"
lt_check "no conflict was quarantined" [ "$(quarantined $B conflict)" -eq 0 ]

echo "== expired replay"
expired() { [ $SECONDS -gt $expires_at ]; }
lt_wait_until 60 expired
json=$("$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json "$E")
part=$(sed 's/.*"partition":\([0-9]*\).*/\1/' <<<"$json")
off=$(sed 's/.*"offset":\([0-9]*\).*/\1/' <<<"$json")
kcat -C -b "$LT_BOOTSTRAP" -t "$LT_PREFIX.inbox.$B" -p "$part" -o "$off" -c 1 -e -q -f '%s' >"$LT_WORK/replay.bin"
lt_check "the delivered record is read back from the broker" grep -aq "$E" "$LT_WORK/replay.bin"
kcat -P -b "$LT_BOOTSTRAP" -t "$LT_PREFIX.inbox.$B" -k $A "$LT_WORK/replay.bin"
send_good
lt_check "a good document sent after the replay is delivered" lt_wait_until 60 lt_all_delivered $A "$good_ids"
# Ordinary redelivery: B reads its whole inbox again under a new consumer group.
lt_check "agent $B stops" lt_stop $B
lt_set $B group_id "$LT_PREFIX.again.$B"
lt_start $B
lt_check "$B reads its inbox again" lt_wait_until 60 bash -c \
	"[ \$(grep -c 'received again' '$LT_WORK/$B/agent.log') -ge $((good + 4)) ]"
send_good
lt_check "a good document sent after the redelivery is delivered" lt_wait_until 60 lt_all_delivered $A "$good_ids"
lt_check "$A's status of the expired document is still delivered" status_is $A "$E" $B delivered
lt_check "$B's inbox record of it is still delivered" inbox_record_is $B "$E" 1
lt_check "$B sent no rejection of it" [ "$(kcat -C -b "$LT_BOOTSTRAP" -t "$LT_PREFIX.receipts.$A" -o beginning -e -q -f '%s\n' 2>/dev/null | grep -a "$E" | grep -ac expired)" -eq 0 ]
lt_check "$B did not quarantine it" [ "$(quarantined $B "\"document_id\":\"$E\"")" -eq 0 ]
lt_check "the expired document was delivered once" cmp -s "$LT_WORK/expiring.txt" "$LT_WORK/$B/target/$A/$E/expiring.txt"
dups=$(grep -o "wrote [0-9]* part(s) into .*/[0-9a-f-]*" "$LT_WORK/$B/agent.log" | sort | uniq -d | wc -l)
lt_check "no document was written twice ($dups)" [ "$dups" -eq 0 ]
lt_check "$A's status for (X, $B) is still delivered" status_is $A "$X" $B delivered
lt_check "$A's status of its genuine T is still delivered" status_is $A "$T" $B delivered
for c in $A $B $C; do lt_check "agent $c stops cleanly" lt_stop $c; done
