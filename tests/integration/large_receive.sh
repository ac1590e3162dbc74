#!/usr/bin/env bash
# Receiving large (streamed) documents, published by lt-forge as a sender's
# forwarder would (a signed manifest, then chunk records), on the real broker:
#   1. 50 MB in two streamed parts and a small inline part: delivered
#      byte-identical, the staging folder removed, the agent's peak memory
#      printed;
#   2. a corrupted chunk before the good one, every chunk twice, chunks in
#      reverse order, and a chunk claiming an unknown document: delivered, the
#      bad and the unknown chunk in quarantine with their reasons;
#   3. a chunk that never comes: failed after transfer_deadline_s, the reason
#      names the missing chunk, the staging removed;
#   4. the receiving agent killed with kill -9 in the middle of a transfer:
#      after its restart the document is delivered once, and the chunks it had
#      recorded are not written again;
#   5. an HTTP target: the staged parts are streamed to it, byte-identical.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=LRG.A01
B=LRG.B02
C=LRG.C03
D=LRG.D04
forge() { "$LT_BUILD/tests/lt-forge" "$@"; }

lt_setup
lt_agency $A
lt_agency $B
lt_agency $C
lt_agency $D
lt_set $C transfer_deadline_s 4
lt_http_target $D
lt_http_agency $D
lt_start $B
lt_start $C
lt_start $D
topics_ready() {
	local code
	for code in $B $C $D; do grep -q 'topics ready' "$LT_WORK/$code/agent.log" || return 1; done
}
lt_check "agents created their topics" lt_wait_until 60 topics_ready

received() { # CODE ID STATUS: the inbox of CODE shows ID with STATUS
	"$LT_BIN/lienthong-status" -c "$(lt_conf "$1")" --received --json | grep "\"$2\"" | grep -q "\"status\":\"$3\""
}
quarantined() { # CODE REGEX
	"$LT_BIN/lienthong-quarantine" -c "$(lt_conf "$1")" list --json | grep -Eq "$2"
}
staging_empty() { # CODE: no staging folder left
	[ -z "$(ls -A "$LT_WORK/$1/target/.lienthong-staging" 2>/dev/null)" ]
}
same_parts() { # CODE ID FILE...: the delivered parts part-1.bin... equal the files
	local code=$1 id=$2 i=1 f
	shift 2
	for f in "$@"; do
		cmp -s "$f" "$LT_WORK/$code/target/$A/$id/part-$i.bin" || return 1
		i=$((i + 1))
	done
}
written() { # CODE ID: chunks of ID written according to the agent's debug log
	grep -c "of document $2 from $A written" "$LT_WORK/$1/agent.log" || true
}
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$(cat "$LT_WORK/$1/agent.pid")/status"; }

f="$LT_WORK/files"
mkdir -p "$f"
head -c 26214400 /dev/urandom >"$f/big1"
head -c 26000001 /dev/urandom >"$f/big2"
head -c 10000 /dev/urandom >"$f/small"

# 1. 50 MB of two streamed parts and an inline part.
id1=$(forge -c "$(lt_conf $A)" --to $B --streamed "$f/big1" --streamed "$f/big2" "$f/small")
lt_check "50 MB document delivered" lt_wait_until 180 received $B "$id1" delivered
lt_check "its three parts are byte-identical" same_parts $B "$id1" "$f/big1" "$f/big2" "$f/small"
lt_check "every chunk written once ($(written $B "$id1") of 68)" [ "$(written $B "$id1")" -eq 68 ]
lt_check "the staging folder is removed" staging_empty $B
lt_figure "peak resident memory of the receiving agent after 50 MB: $(hwm $B) KiB"

# 2. Bad, repeated, reordered and unknown chunks.
head -c 3000000 /dev/urandom >"$f/mid"
id2=$(forge -c "$(lt_conf $A)" --to $B --streamed "$f/mid" --chunk-bytes 65536 \
	--corrupt-chunk 0:5 --repeat-chunks --reverse-chunks --alien-chunk "$f/small")
lt_check "a document with a corrupted chunk is delivered" lt_wait_until 120 received $B "$id2" delivered
lt_check "... byte-identical" same_parts $B "$id2" "$f/mid" "$f/small"
lt_check "... each chunk written once though sent twice" [ "$(written $B "$id2")" -eq 46 ]
lt_check "the corrupted chunk is in quarantine" quarantined $B "chunk 5 of part 0 of $id2: SHA-256 differs"
lt_check "the chunk of an unknown document is in quarantine" quarantined $B 'unknown document'

# 3. A chunk that never comes.
id3=$(forge -c "$(lt_conf $A)" --to $C --streamed "$f/mid" --chunk-bytes 65536 --skip-chunk 0:7 "$f/small")
lt_check "a transfer missing a chunk fails after transfer_deadline_s" lt_wait_until 120 received $C "$id3" failed
lt_check "... the reason names the missing chunk" eval \
	"'$LT_BIN/lienthong-status' -c '$(lt_conf $C)' --received --json | grep '$id3' | grep -q 'part 0 chunks 7'"
lt_check "... nothing is delivered" [ ! -e "$LT_WORK/$C/target/$A/$id3" ]
lt_check "... its staging is removed" staging_empty $C

# 4. kill -9 of the receiving agent in the middle of a transfer.
head -c 41943040 /dev/urandom >"$f/kill"
forge -c "$(lt_conf $A)" --to $B --streamed "$f/kill" --chunk-bytes 65536 --pause-after 400 \
	--resume-file "$f/resume" "$f/small" >"$f/id4" 2>"$f/forge4.log" &
forge_pid=$!
opened() { [ "$(grep -c "transfer of document .* from $A opened" "$LT_WORK/$B/agent.log")" -ge 3 ]; }
lt_check "a third transfer is opened at $B" lt_wait_until 120 opened
id4=$(grep -o "transfer of document [0-9a-f-]* from $A opened" "$LT_WORK/$B/agent.log" | tail -n1 | cut -d' ' -f4)
some_written() { [ "$(written $B "$id4")" -ge 150 ]; }
lt_check "the transfer is under way" lt_wait_until 120 some_written
kill -KILL "$(cat "$LT_WORK/$B/agent.pid")"
wait "$(cat "$LT_WORK/$B/agent.pid")" 2>/dev/null || true
before=$(written $B "$id4")
lt_start $B
touch "$f/resume"
wait $forge_pid
lt_check "the forger published every chunk (id $id4)" [ "$(cat "$f/id4")" = "$id4" ]
lt_check "after kill -9 and restart: delivered" lt_wait_until 180 received $B "$id4" delivered
lt_check "... byte-identical" same_parts $B "$id4" "$f/kill" "$f/small"
lt_check "... once in the target folder" [ "$(ls -A "$LT_WORK/$B/target/$A" | grep -c "$id4")" -eq 1 ]
after=$(($(written $B "$id4") - before))
lt_figure "chunks written before the kill: $before, after the restart: $after (of 640)"
not_again() { [ "$after" -lt 640 ] && [ $((before + after)) -le $((640 + 64)) ]; }
lt_check "chunks recorded before the kill are not written again (at most one batch)" not_again
lt_check "the staging folder is removed" staging_empty $B
lt_check "the agents are still running" kill -0 "$(cat "$LT_WORK/$B/agent.pid")"

# 5. An HTTP target.
id5=$(forge -c "$(lt_conf $A)" --to $D --streamed "$f/mid" --chunk-bytes 65536 "$f/small")
lt_check "a large document is delivered to an HTTP target" lt_wait_until 120 received $D "$id5" delivered
lt_check "... byte-identical" cmp -s "$f/mid" "$LT_WORK/http-$D/$id5/part-1.bin"
lt_check "... with its inline part" cmp -s "$f/small" "$LT_WORK/http-$D/$id5/part-2.bin"
lt_check "... its staging under data_dir is removed" \
	[ -z "$(ls -A "$LT_WORK/$D/data/staging" 2>/dev/null)" ]
