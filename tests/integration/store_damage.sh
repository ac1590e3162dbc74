#!/usr/bin/env bash
# A damaged store is detected, never used. A stopped agency's data.mdb is
# damaged in each way an operator meets (truncated to nothing, truncated to
# half, meta pages overwritten, data pages overwritten, one record
# overwritten, another store's file put in its place): `lienthong-agent
# --check` and the agent refuse it with the restore procedure in the message,
# lienthong-status says so instead of showing nothing (or dying of a bus
# error), and a hot copy (mdb_copy -c) restored in its place is accepted
# again with every document.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=DMG.A01
N=30

lt_setup
lt_agency $A
lt_agency DMG.C03
lt_make_docs "$LT_WORK/docs" $N 3000
for f in "$LT_WORK/docs"/*.pdf; do
	"$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to DMG.B02 --subject "subject-$(basename "$f")" "$f" >/dev/null
done
data="$LT_WORK/$A/data"
check() { "$LT_BIN/lienthong-agent" -c "$(lt_conf $A)" --check >"$LT_WORK/check.out" 2>&1; }
lt_check "--check accepts the intact store" check
lt_check "--check says how many records it read" grep -Eq 'usable .*[0-9]+ records of the store read' "$LT_WORK/check.out"
lt_check "the store has its marker beside data.mdb" grep -Eq '^[0-9a-f]{32}$' "$data/store-id"
# A hot copy with compaction (LMDB's own), as the README's backup section says.
mkdir -p "$LT_WORK/backup"
lt_check "mdb_copy -c makes a backup" mdb_copy -c "$data" "$LT_WORK/backup"
cp "$data/store-id" "$LT_WORK/backup/"
cp -a "$data" "$LT_WORK/pristine"

fresh() {
	rm -rf "$data"
	cp -a "$LT_WORK/pristine" "$data"
}
# refused WHAT PATTERN [STATUS_PATTERN]: --check, the agent and lienthong-status refuse the
# store with PATTERN (lienthong-status: STATUS_PATTERN when given).
refused() {
	local what=$1 pattern=$2 spattern=${3:-$2} st=0
	check && st=0 || st=$?
	lt_check "$what: --check exits 1 (got $st)" [ "$st" -eq 1 ]
	lt_check "$what: --check says why and how to restore" \
		grep -Eq "$pattern.*(restore|remove .*store-id)" "$LT_WORK/check.out"
	st=0
	timeout 60 "$LT_BIN/lienthong-agent" -c "$(lt_conf $A)" >"$LT_WORK/agent.out" 2>&1 || st=$?
	lt_check "$what: the agent refuses to start (exit $st)" [ "$st" -eq 1 ]
	lt_check "$what: the agent says why" grep -Eq "$pattern" "$LT_WORK/agent.out"
	st=0
	"$LT_BIN/lienthong-status" -c "$(lt_conf $A)" >"$LT_WORK/status.out" 2>&1 || st=$?
	lt_check "$what: lienthong-status fails with a message, no crash (exit $st)" [ "$st" -eq 1 ]
	lt_check "$what: lienthong-status says why" grep -Eq "$spattern" "$LT_WORK/status.out"
}
mdb="$data/data.mdb"
size=$(stat -c %s "$LT_WORK/pristine/data.mdb")

fresh
truncate -s 0 "$mdb"
refused "truncated to nothing" "empty or new, but the folder held store"

fresh
truncate -s $((size / 2)) "$mdb"
refused "truncated to half" "has $((size / 2)) bytes, but its pages reach $size bytes \(truncated\)"

fresh
# Both meta pages (0 and 1) overwritten after their magic and version.
for page in 0 1; do
	head -c 200 /dev/zero | tr '\0' '\377' | dd of="$mdb" bs=1 seek=$((page * 4096 + 64)) conv=notrunc 2>/dev/null
done
refused "meta pages overwritten" "the store is (probably )?damaged"

fresh
head -c $((size - 2 * 4096)) /dev/urandom | dd of="$mdb" bs=4096 seek=2 conv=notrunc 2>/dev/null
refused "data pages overwritten" "the store is (probably )?damaged"

# One status record overwritten in place: found by decoding every record.
fresh
off=$(grep -abo 'subject-doc-17.pdf' "$mdb" | tail -n 1 | cut -d: -f1)
head -c 8 /dev/zero | tr '\0' '\377' | dd of="$mdb" bs=1 seek=$((off - 6)) conv=notrunc 2>/dev/null
refused "one record overwritten" "database status: record [0-9]+ .*does not decode as StatusRecord" \
	"status record of [0-9a-f-]+ for DMG.B02 is corrupt"

# Another agency's data.mdb in this folder.
fresh
"$LT_BIN/lienthong-status" -c "$(lt_conf DMG.C03)" >/dev/null
cp "$LT_WORK/DMG.C03/data/data.mdb" "$mdb"
refused "another store's data.mdb" "is store [0-9a-f]+, but the folder held store [0-9a-f]+"

# Restore: the backup in place of the damaged store.
rm -rf "$data"
mkdir -p "$data"
cp "$LT_WORK/backup/data.mdb" "$LT_WORK/backup/store-id" "$data/"
lt_check "--check accepts the restored backup" check
lt_check "lienthong-status shows all $N documents of the restored store" \
	[ "$("$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json | grep -c '"status":"queued"')" -eq $N ]
