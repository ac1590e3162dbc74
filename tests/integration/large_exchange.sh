#!/usr/bin/env bash
# Large documents between two agents: a document of three streamed parts
# (LT_LARGE_MIB MiB in all, 96 by default; 2 GiB in tests/long/large_2g.sh)
# and LT_LARGE_SMALL documents of 5 MiB cross the real broker
# byte-identical. In the middle of the large transfer the receiving agent is
# killed with kill -9 (and restarted) and the broker is stopped (and started
# again). Each agent's peak resident memory is printed and held below 64 MiB
# (the bound the README states).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
MIB=${LT_LARGE_MIB:-96} # size of the large document in MiB, in three parts
SMALL=${LT_LARGE_SMALL:-10}
A=LARGE.A01
B=LARGE.B02

lt_setup
for code in $A $B; do
	lt_agency $code
	lt_set $code log_level info
	lt_set $code kafka.session.timeout.ms 10000
	lt_start $code
done
topics_ready() { grep -q 'topics ready' "$LT_WORK/$A/agent.log" && grep -q 'topics ready' "$LT_WORK/$B/agent.log"; }
lt_check "agents created their topics" lt_wait_until 60 topics_ready

# Peak resident memory (VmHWM, KiB) of a running agent.
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$(cat "$LT_WORK/$1/agent.pid")/status"; }
declare -A peak=([$A]=0 [$B]=0)
note_peak() {
	local code v
	for code in $A $B; do
		v=$(hwm $code 2>/dev/null || echo 0)
		[ "${v:-0}" -gt "${peak[$code]}" ] && peak[$code]=$v
	done
	return 0
}

big="$LT_WORK/big"
mkdir -p "$big"
p1=$((MIB / 2)) p2=$((MIB / 3))
p3=$((MIB - p1 - p2))
head -c $((p1 << 20)) /dev/urandom >"$big/part-1.pdf"
head -c $((p2 << 20)) /dev/urandom >"$big/part-2.pdf"
head -c $((p3 << 20)) /dev/urandom >"$big/part-3.bin"
start=$SECONDS
"$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B --subject "large" \
	"$big/part-1.pdf" + "$big/part-2.pdf" + "$big/part-3.bin" >"$LT_WORK/ids-big"
id=$(cut -f1 "$LT_WORK/ids-big" | head -n1)
lt_check "the ${MIB} MiB document is accepted (id $id)" [ -n "$id" ]
lt_figure "upload of ${MIB} MiB (hashing, spooling, signing): $((SECONDS - start)) s"

# The receiver's staging grows as chunks arrive; wait for about a third.
staged() {
	local n
	n=$(du -sm "$LT_WORK/$B/target" 2>/dev/null | cut -f1) # staging and delivered
	note_peak
	[ "${n:-0}" -gt $((MIB / 3)) ]
}
lt_check "a third of the document reached $B" lt_wait_until 600 staged
note_peak
kill -KILL "$(cat "$LT_WORK/$B/agent.pid")"
wait "$(cat "$LT_WORK/$B/agent.pid")" 2>/dev/null || true
lt_start $B

# Two thirds, then the broker goes away for a while.
staged2() {
	local n
	n=$(du -sm "$LT_WORK/$B/target" 2>/dev/null | cut -f1) # staging and delivered
	note_peak
	[ "${n:-0}" -gt $((2 * MIB / 3)) ]
}
lt_check "two thirds of the document reached $B" lt_wait_until 900 staged2
lt_broker stop
sleep 15
lt_broker start
delivered_big() {
	note_peak
	lt_all_delivered $A "$LT_WORK/ids-big"
}
lt_check "the ${MIB} MiB document is delivered after a kill -9 and a broker stop" \
	lt_wait_until 1800 delivered_big
lt_figure "${MIB} MiB delivered in $((SECONDS - start)) s from upload (faults included)"
dir="$LT_WORK/$B/target/$A/$id"
for f in part-1.pdf part-2.pdf part-3.bin; do
	lt_check "$f byte-identical at $B" cmp -s "$big/$f" "$dir/$f"
done
lt_check "delivered once: one document folder from $A" \
	[ "$(find "$LT_WORK/$B/target/$A" -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq 1 ]
# The delivery's recorded time (and its receipt's) is when it happened: not
# before its parts were moved into the folder (the main loop's older time once).
at_ms=$("$LT_BIN/lienthong-status" -c "$(lt_conf $B)" --received --json | python3 -c '
import datetime, json, sys
for line in sys.stdin:
    r = json.loads(line)
    if r["document_id"] == sys.argv[1] and r["status"] == "delivered":
        t = datetime.datetime.strptime(r["at"], "%Y-%m-%dT%H:%M:%S.%fZ")
        print(int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000))
' "$id")
moved_ms=$(stat -c %.3Y "$dir" | tr -d .)
recorded_after_move() { [ -n "$at_ms" ] && [ -n "$moved_ms" ] && [ "$at_ms" -ge "$moved_ms" ]; }
lt_check "delivery recorded at $at_ms, not before its parts were moved in ($moved_ms)" \
	recorded_after_move
rm -rf "$big"

# 200 documents of 5 MiB.
small="$LT_WORK/small"
mkdir -p "$small"
for i in $(seq 1 "$SMALL"); do head -c $((5 << 20)) /dev/urandom >"$small/doc-$i.pdf"; done
start=$SECONDS
lt_upload $A $B "$LT_WORK/ids-small" "$small"/*.pdf
all_small() {
	note_peak
	lt_all_delivered $A "$LT_WORK/ids-small"
}
lt_check "$SMALL documents of 5 MiB delivered" lt_wait_until 1800 all_small
lt_figure "$SMALL x 5 MiB delivered in $((SECONDS - start)) s: $((SMALL * 5 / (SECONDS - start + 1))) MiB/s"
bad=0
while IFS=$'\t' read -r sid file; do
	cmp -s "$file" "$LT_WORK/$B/target/$A/$sid/$(basename "$file")" || bad=$((bad + 1))
done <"$LT_WORK/ids-small"
lt_check "all $SMALL byte-identical ($bad missing or different)" [ "$bad" -eq 0 ]

note_peak
lt_figure "peak resident memory: sender $A $((peak[$A] / 1024)) MiB, receiver $B $((peak[$B] / 1024)) MiB"
lt_check "sender's peak resident memory under 64 MiB (${peak[$A]} KiB)" [ "${peak[$A]}" -lt 65536 ]
lt_check "receiver's peak resident memory under 64 MiB (${peak[$B]} KiB)" [ "${peak[$B]}" -lt 65536 ]
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
