#!/usr/bin/env bash
# A hot backup of a running agent's store (lienthong-agent --backup) taken
# while documents are submitted and forwarded; more documents flow both ways
# after it; then the store is lost (kill -9, data_dir moved away) and the
# backup restored into a fresh data_dir as the README says. The restored
# agent sends again what the older copy still had queued and the recipient
# de-duplicates it: at the recipient nothing is lost and nothing is delivered
# twice, in either direction, and the restored agent goes on working.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=BACKUP.A01
B=BACKUP.B02

lt_setup
lt_agency $A
lt_agency $B
lt_start $A
lt_start $B
topics_ready() { grep -q 'topics ready' "$LT_WORK/$A/agent.log" && grep -q 'topics ready' "$LT_WORK/$B/agent.log"; }
lt_check "agents created their topics" lt_wait_until 60 topics_ready
lt_make_docs "$LT_WORK/docs-$A" 300 20000
lt_make_docs "$LT_WORK/docs-$B" 100 20000
fa=("$LT_WORK/docs-$A"/*.pdf)
fb=("$LT_WORK/docs-$B"/*.pdf)
ids_a=$LT_WORK/ids-$A # A to B, all of them
ids_b=$LT_WORK/ids-$B # B to A

lt_upload $A $B "$ids_a" "${fa[@]:0:60}"
lt_upload $B $A "$ids_b" "${fb[@]:0:50}"
first() { lt_all_delivered $A "$ids_a" && lt_all_delivered $B "$ids_b"; }
lt_check "first documents delivered both ways" lt_wait_until 120 first

# Load at the moment of the backup: 100 documents queued while A was stopped,
# which the restarting agent forwards, and 100 more uploaded through it.
lt_stop $A
lt_upload $A $B "$ids_a" "${fa[@]:60:100}"
lt_start $A
lt_upload $A $B "$ids_a" "${fa[@]:160:100}" &
up=$!
bak=$LT_WORK/backup
lt_check "lienthong-agent --backup copies the running agent's store" \
	"$LT_BIN/lienthong-agent" -c "$(lt_conf $A)" --backup "$bak"
wait $up
lt_check "the backup holds data.mdb and the store's marker, and nothing else" \
	[ "$(cd "$bak" && ls | tr '\n' ' ')" = "data.mdb store-id " ]
lt_check "the marker is the store's own" cmp -s "$bak/store-id" "$LT_WORK/$A/data/store-id"
refused_again() {
	local out
	if out=$("$LT_BIN/lienthong-agent" -c "$(lt_conf $A)" --backup "$bak" 2>&1); then return 1; fi
	grep -q "backup folder $bak is not empty" <<<"$out"
}
lt_check "a second backup into the same folder is refused, saying why" refused_again
all() { lt_all_delivered $A "$ids_a" && lt_all_delivered $B "$ids_b"; }
lt_check "the 260 documents of A delivered" lt_wait_until 180 all

# After the backup: documents each way that the copy does not know.
lt_upload $A $B "$ids_a" "${fa[@]:260:20}"
lt_upload $B $A "$ids_b" "${fb[@]:50:30}"
lt_check "documents submitted after the backup delivered both ways" lt_wait_until 120 all

# The disk fails: A's store is gone. Restore the backup into a fresh data_dir.
kill -KILL "$(cat "$LT_WORK/$A/agent.pid")"
wait "$(cat "$LT_WORK/$A/agent.pid")" 2>/dev/null || true
mv "$LT_WORK/$A/data" "$LT_WORK/$A/data.lost"
mkdir -m 700 "$LT_WORK/$A/data"
cp "$bak/data.mdb" "$bak/store-id" "$LT_WORK/$A/data/"
chmod 600 "$LT_WORK/$A/data/data.mdb" "$LT_WORK/$A/data/store-id"
lt_check "the restored store passes --check" "$LT_BIN/lienthong-agent" -c "$(lt_conf $A)" --check
status_a() { "$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json; }
status_a >"$LT_WORK/restored.json"
queued=$(grep -c '"status":"queued"' "$LT_WORK/restored.json" || true)
known=$(grep -c '"document_id"' "$LT_WORK/restored.json" || true)
lt_figure "the copy knows $known of A's documents, $queued of them still queued"
lt_check "the copy holds documents queued at the time of the backup" [ "$queued" -gt 0 ]
repeats_before=$(grep -c 'received again: not delivered twice' "$LT_WORK/$B/agent.log" || true)
lt_start $A
none_queued() { ! status_a | grep -q '"status":"queued"'; }
lt_check "the restored agent sends again what the copy had queued" lt_wait_until 120 none_queued
repeats() { [ $(($(grep -c 'received again: not delivered twice' "$LT_WORK/$B/agent.log") - repeats_before)) -ge "$queued" ]; }
lt_check "$B recognised each of them as received before: not delivered twice" lt_wait_until 120 repeats
# The copy's queued documents get their verdict again from B's repeated receipts.
copy_ids=$LT_WORK/ids-copy
grep -o '"document_id":"[^"]*"' "$LT_WORK/restored.json" | cut -d'"' -f4 | sort -u |
	awk '{ print $0 "\t-" }' >"$copy_ids"
queued_ids=$LT_WORK/ids-queued
grep '"status":"queued"' "$LT_WORK/restored.json" | grep -o '"document_id":"[^"]*"' |
	cut -d'"' -f4 | awk '{ print $0 "\t-" }' >"$queued_ids"
lt_check "every document queued in the copy shows delivered in the restored store" \
	lt_wait_until 120 lt_all_delivered $A "$queued_ids"

# The restored agent goes on working: a new document each way.
lt_upload $A $B "$ids_a" "${fa[@]:280:20}"
lt_upload $B $A "$ids_b" "${fb[@]:80:20}"
after=$LT_WORK/ids-after
tail -n 20 "$ids_a" >"$after"
newest() { lt_all_delivered $A "$after" && lt_all_delivered $B "$ids_b"; }
lt_check "documents submitted after the restore are delivered both ways" lt_wait_until 120 newest
sent=$(status_a | grep -c '"status":"sent"' || true)
lt_figure "$sent documents of A stay 'sent' in the restored store (their receipts came after the backup)"

# At each recipient: every document exactly once, byte-identical.
for dir in "$A $B $ids_a" "$B $A $ids_b"; do
	read -r s r ids <<<"$dir"
	n=$(wc -l <"$ids")
	bad=0
	while IFS=$'\t' read -r id file; do
		cmp -s "$file" "$LT_WORK/$r/target/$s/$id/$(basename "$file")" || bad=$((bad + 1))
	done <"$ids"
	lt_check "$r: all $n documents of $s byte-identical ($bad missing or different)" [ "$bad" -eq 0 ]
	lt_check "$r: exactly $n document folders from $s" \
		[ "$(find "$LT_WORK/$r/target/$s" -mindepth 1 -maxdepth 1 -type d ! -name '.tmp-*' | wc -l)" -eq "$n" ]
	dups=$(grep -o "wrote [0-9]* part(s) into .*/$s/[0-9a-f-]*" "$LT_WORK/$r/agent.log" | sort | uniq -d | wc -l)
	lt_check "$r: no document of $s written twice ($dups duplicates)" [ "$dups" -eq 0 ]
done
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
