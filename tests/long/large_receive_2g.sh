#!/usr/bin/env bash
# Long: the receiving side alone (no sending agent: lt-forge publishes a
# signed manifest and its chunks) takes a 2 GiB document of two streamed
# parts and an inline one, byte-identical; the receiving agent is killed with
# kill -9 once in the middle. Its peak resident memory (VmHWM, sampled before
# the kill and at the end) is printed and held below the README's 64 MiB.
set -euo pipefail
source "$(dirname "$0")/../integration/lib.sh"
MIB=${LT_RECV_MIB:-2048}
A=BIGR.A01
B=BIGR.B02
lt_setup
lt_agency $A
lt_agency $B
lt_set $B log_level info
lt_start $B
lt_check "topics ready" lt_wait_until 60 grep -q 'topics ready' "$LT_WORK/$B/agent.log"
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$(cat "$LT_WORK/$B/agent.pid")/status"; }
f=$LT_WORK/files
mkdir -p "$f"
head -c $(((MIB / 2) << 20)) /dev/urandom >"$f/p1"
head -c $(((MIB - MIB / 2) << 20)) /dev/urandom >"$f/p2"
head -c 50000 /dev/urandom >"$f/p3"
start=$SECONDS
"$LT_BUILD/tests/lt-forge" -c "$(lt_conf $A)" --to $B --streamed "$f/p1" --streamed "$f/p2" \
	"$f/p3" >"$f/id" &
forge=$!
staged() { [ "$(du -sm "$LT_WORK/$B/target" | cut -f1)" -gt $((MIB / 3)) ]; }
lt_check "a third of the document is staged" lt_wait_until 1200 staged
peak=$(hwm)
kill -KILL "$(cat "$LT_WORK/$B/agent.pid")"
wait "$(cat "$LT_WORK/$B/agent.pid")" 2>/dev/null || true
lt_start $B
wait $forge
id=$(cat "$f/id")
delivered() {
	"$LT_BIN/lienthong-status" -c "$(lt_conf $B)" --received --json | grep "$id" | grep -q '"status":"delivered"'
}
lt_check "the ${MIB} MiB document is delivered after kill -9" lt_wait_until 1800 delivered
lt_figure "${MIB} MiB published and received in $((SECONDS - start)) s"
for i in 1 2 3; do
	lt_check "part $i byte-identical" cmp -s "$f/p$i" "$LT_WORK/$B/target/$A/$id/part-$i.bin"
done
after=$(hwm)
lt_figure "peak resident memory of the receiving agent: ${peak} KiB before the kill, ${after} KiB after the restart"
below() { [ "$peak" -lt 65536 ] && [ "$after" -lt 65536 ]; }
lt_check "the receiving agent stays below 64 MiB" below
lt_check "its staging is removed" [ -z "$(ls -A "$LT_WORK/$B/target/.lienthong-staging")" ]
