#!/usr/bin/env bash
# Attack: an outsider floods an agency's inbox topic with junk records of
# 1 MB (no signature, no envelope: random bytes), while two agencies keep
# exchanging documents. Before the retention work every junk record was kept
# whole in the quarantine: a few hundred filled the map, the partition blocked
# and uploads were refused. Now the quarantine keeps at most
# quarantine_max_bytes (oldest dropped first, counted) and at most
# quarantine_keep_bytes of each record: good traffic flows during and after
# the flood, the victim's store stays below its ceiling, uploads still work.
#   LT_FLOOD_COUNT  junk records (default 500; tests/long/junk_flood_5000.sh: 5000)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=FLD.A01
B=FLD.B02
X=FLD.X99 # the outsider: only its broker address is used, nothing is signed
N=${LT_FLOOD_COUNT:-500}
SIZE=1000000

lt_setup
lt_agency $A
lt_agency $B
lt_agency $X
# A map of 128 MB: the flood (N MB of junk) would fill it several times over.
lt_set $B lmdb_map_size 128M
lt_set $B quarantine_max_bytes 16M
lt_set $B quarantine_keep_bytes 64K
lt_start $A
lt_start $B

qstat() { "$LT_BIN/lienthong-status" -c "$(lt_conf $B)" --summary --json | jq -r ".$1"; }
junk_seen() { [ $(($(qstat quarantine_records) + $(qstat quarantine_dropped))) -ge "$N" ]; }

lt_make_docs "$LT_WORK/before" 20 30000
lt_make_docs "$LT_WORK/during" 20 30000
lt_make_docs "$LT_WORK/after" 20 30000
lt_make_docs "$LT_WORK/back" 20 30000
lt_upload $A $B "$LT_WORK/ids" "$LT_WORK/before"/*.pdf

"$LT_BUILD/tests/lt-forge" -c "$(lt_conf $X)" --to $B --random $SIZE --count "$N" \
	/dev/null >"$LT_WORK/forge.out" 2>"$LT_WORK/forge.err" &
forge=$!
sleep 2
lt_check "uploads of $A to $B accepted during the flood" \
	lt_upload $A $B "$LT_WORK/ids" "$LT_WORK/during"/*.pdf
lt_check "the flood of $N junk records of $SIZE bytes was published" wait $forge
lt_check "all $N junk records reached $B's quarantine (kept or dropped at the ceiling)" \
	lt_wait_until 600 junk_seen
lt_check "uploads of $A to $B accepted after the flood" \
	lt_upload $A $B "$LT_WORK/ids" "$LT_WORK/after"/*.pdf
lt_check "uploads of the flooded $B to $A are not refused" \
	lt_upload $B $A "$LT_WORK/ids-back" "$LT_WORK/back"/*.pdf
lt_check "all 60 documents of $A delivered to $B" lt_wait_until 300 lt_all_delivered $A "$LT_WORK/ids"
lt_check "all 20 documents of $B delivered to $A" lt_wait_until 300 lt_all_delivered $B "$LT_WORK/ids-back"
lt_verify $A $B "$LT_WORK/ids"

qbytes=$(qstat quarantine_bytes)
qrecords=$(qstat quarantine_records)
dropped=$(qstat quarantine_dropped)
mdb=$(stat -c %s "$LT_WORK/$B/data/data.mdb")
echo "victim $B: quarantine $qrecords records, $qbytes bytes, $dropped dropped; data.mdb $mdb bytes"
lt_check "the quarantine stays under quarantine_max_bytes ($qbytes <= 16 MiB)" [ "$qbytes" -le $((16 << 20)) ]
lt_check "records were dropped at the ceiling, oldest first, and counted ($dropped)" [ "$dropped" -gt 0 ]
lt_check "the store stays well below its map ($mdb bytes < 64 MiB)" [ "$mdb" -lt $((64 << 20)) ]
"$LT_BIN/lienthong-status" -c "$(lt_conf $B)" --quarantine --json | tail -n 1 >"$LT_WORK/last.json"
lt_check "a junk record is kept truncated: first 64 KiB, its full length and SHA-256" \
	jq -e ".bytes == $SIZE and .bytes_kept == 65536 and (.sha256 | length) == 64" "$LT_WORK/last.json" >/dev/null
lt_check "the summary shows the drops" \
	grep -q "dropped at the ceiling" <("$LT_BIN/lienthong-status" -c "$(lt_conf $B)" --summary)
lt_check "agent $B stops cleanly" lt_stop $B
lt_check "agent $A stops cleanly" lt_stop $A
