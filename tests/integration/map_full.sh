#!/usr/bin/env bash
# Fault 5: the sender's LMDB map is tiny. Submissions fail with a clear
# message once it is full, accepted documents are kept, the agent stays up;
# after lmdb_map_size is raised and the agent restarted, all accepted
# documents flow.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=MAP.A01
B=MAP.B02

lt_setup
lt_agency $A
lt_agency $B
lt_set $A lmdb_map_size 1M
lt_start $A
lt_start $B

lt_make_docs "$LT_WORK/docs" 200 30000
refused=""
for f in "$LT_WORK/docs"/*.pdf; do
	if ! "$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B "$f" >>"$LT_WORK/ids" 2>"$LT_WORK/upload.err"; then
		refused=$f
		break
	fi
done
accepted=$(wc -l <"$LT_WORK/ids")
lt_check "a submission was refused once the map filled ($accepted accepted)" [ -n "$refused" ]
lt_check "the refusal says the store is full and names lmdb_map_size" \
	grep -q 'is full (lmdb_map_size = 1048576 bytes).*raise lmdb_map_size' "$LT_WORK/upload.err"
lt_check "the refused file printed no id" bash -c "! grep -q '$refused' '$LT_WORK/ids'"
sleep 3
lt_check "agent $A is still running" kill -0 "$(cat "$LT_WORK/$A/agent.pid")"

lt_check "agent $A stops cleanly" lt_stop $A
lt_set $A lmdb_map_size 64M
lt_start $A
lt_check "all $accepted accepted documents delivered after the raise" \
	lt_wait_until 120 lt_all_delivered $A "$LT_WORK/ids"
lt_verify $A $B "$LT_WORK/ids"
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
