#!/usr/bin/env bash
# Sending a large (streamed) document through the real broker: the manifest,
# then every chunk from the spool, byte-identical (read back from the topic
# with kcat); the sending agent, held a third of the way by a damaged chunk in
# its spool and killed there with kill -9, sends no chunk it had recorded as
# acknowledged again once the chunk is restored, and at most its in-flight
# window twice;
# `sent` with the manifest's position at the end; its peak memory printed.
# (The recipient's agent does not run: this test is about the sender.)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
MB=${LT_LARGE_MB:-200}
WINDOW=16 # LT_FORWARD_WINDOW in producers/lt_forward.c
A=BIG.A01
B=BIG.B02

lt_setup
lt_agency $A
lt_agency $B
conf=$(lt_conf $A)
# The recipient's topics exist (made by its agent), then it stays stopped.
lt_start $B
lt_check "$B created its topics" lt_wait_until 60 grep -qs "topics ready" "$LT_WORK/$B/agent.log"
lt_check "$B stops" lt_stop $B

big="$LT_WORK/big.bin"
head -c $((MB << 20)) /dev/urandom >"$big"
id=$("$LT_BIN/lienthong-upload" -c "$conf" --to $B "$big" | cut -f1)
chunk=$(awk -F' = ' '$1 == "chunk_bytes" { print $2 }' "$conf")
chunk_bytes=$((${chunk:-786432}))
[ -n "$chunk" ] || chunk_bytes=786432
chunks=$(((MB * 1048576 + chunk_bytes - 1) / chunk_bytes))
lt_check "the spool holds the part" cmp -s "$big" "$LT_WORK/$A/data/spool/$id/0"

status_json() { "$LT_BIN/lienthong-status" -c "$conf" --json "$id"; }
# A third of the way, chunk k of the spool is damaged (16 bytes overwritten): the
# sender sends the chunks before it, then waits saying why. Sending takes a
# second or two here, too fast to catch a third of the way by watching.
spool="$LT_WORK/$A/data/spool/$id/0"
k=$((chunks / 3))
dd if="$spool" of="$LT_WORK/chunk.bak" bs="$chunk_bytes" skip=$k count=1 status=none
printf 'lienthong-damage' | dd of="$spool" bs=1 seek=$((k * chunk_bytes)) conv=notrunc status=none
halfway() { status_json | grep -q "spool is damaged.*chunk $k of part 0"; }
vmhwm() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }

t0=$SECONDS
lt_start $A
pid=$(cat "$LT_WORK/$A/agent.pid")
peak=0
watch_peak() { # samples the agent's VmHWM (kB) while waiting
	local v
	v=$(vmhwm "$pid" 2>/dev/null || echo 0)
	[ "${v:-0}" -le "$peak" ] || peak=$v
	"$@"
}
lt_check "$A sends a third of the $chunks chunks, then waits at damaged chunk $k" \
	lt_wait_until 300 watch_peak halfway
watch_peak true
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
echo "--- killed with SIGKILL" >>"$LT_WORK/$A/agent.log"
queued() { status_json | grep -q '"status":"queued"'; }
lt_check "after kill -9: still queued" queued
dd if="$LT_WORK/chunk.bak" of="$spool" bs="$chunk_bytes" seek=$k conv=notrunc status=none
lt_check "chunk $k restored in the spool" cmp -s "$big" "$spool"

lt_start $A
pid=$(cat "$LT_WORK/$A/agent.pid")
sent() { status_json | grep -q '"status":"sent"'; }
lt_check "$A: sent after the restart" lt_wait_until 300 watch_peak sent
took=$((SECONDS - t0))
lt_check "$A: the restart went on from the recorded chunk" \
	grep -q "sending document $id to $B: $chunks chunk(s), from chunk [1-9][0-9]* (manifest acknowledged before)" "$LT_WORK/$A/agent.log"
# The chunks recorded as acknowledged before the kill: the restart's first chunk less one.
before=$(sed -n "s/.*sending document $id to $B: $chunks chunk(s), from chunk \([0-9]*\) (manifest acknowledged before).*/\1/p" "$LT_WORK/$A/agent.log" | tail -1)
before=$((${before:-1} - 1))

# Read the topic back: the manifest's offsets, the copies of each chunk, and the part rebuilt.
topic=$(awk -F' = ' '$1 == "topic_prefix" { print $2 }' "$conf").inbox.$B
kcat -C -b "$LT_BOOTSTRAP" -t "$topic" -o beginning -e -q -f '%p %o %S\n%s' >"$LT_WORK/topic.raw"
python3 - "$LT_WORK/topic.raw" "$LT_WORK/rebuilt.bin" "$chunk_bytes" "$chunks" "$id" >"$LT_WORK/readback" <<'PY'
import sys
raw, out, chunk_bytes, chunks, doc = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]

def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1
        v |= (c & 0x7F) << s; s += 7
        if c < 0x80:
            return v, i

def fields(b):
    i, f = 0, {}
    while i < len(b):
        k, i = varint(b, i)
        n, t = k >> 3, k & 7
        if t == 0:
            v, i = varint(b, i)
        elif t == 2:
            l, i = varint(b, i); v = b[i:i + l]; i += l
        else:
            raise SystemExit("unexpected wire type %d" % t)
        f.setdefault(n, v)
    return f

copies = [0] * chunks
manifests, bad = [], 0
with open(raw, "rb") as f, open(out, "wb") as o:
    while True:
        head = f.readline()
        if not head:
            break
        part, off, size = head.split()
        rec = f.read(int(size))
        env = fields(rec)
        if 5 not in env:
            manifests.append(int(off))
            continue
        c = fields(env[5])
        if c.get(1, b"").decode() != doc or c.get(3, 0) != 0:
            bad += 1
            continue
        idx = c.get(4, 0)
        copies[idx] += 1
        o.seek(idx * chunk_bytes)
        o.write(c.get(5, b""))
print("manifests", len(manifests), " ".join(map(str, manifests)))
print("missing", sum(1 for n in copies if n == 0))
print("extra", sum(n - 1 for n in copies if n > 1))
print("foreign", bad)
print("copies", " ".join(map(str, copies)))
PY
field() { awk -v k="$1" '$1 == k { print $2 }' "$LT_WORK/readback"; }
lt_check "the manifest is on the topic once" [ "$(field manifests)" = 1 ]
lt_check "every one of the $chunks chunks is on the topic" [ "$(field missing)" = 0 ]
lt_check "no other record on the topic" [ "$(field foreign)" = 0 ]
lt_check "the chunks rebuild the file byte for byte" cmp -s "$big" "$LT_WORK/rebuilt.bin"
once=$(awk -v n="$before" '$1 == "copies" { ok = 1; for (i = 2; i < 2 + n; i++) if ($i != 1) ok = 0; print ok }' "$LT_WORK/readback")
lt_check "the $before chunks acknowledged before the kill came once" [ "$once" = 1 ]
lt_check "at most the window ($WINDOW chunks) came twice ($(field extra) did)" [ "$(field extra)" -le $WINDOW ]
manifest_offset=$(awk '$1 == "manifests" { print $3 }' "$LT_WORK/readback")
at_manifest() { status_json | grep -q "\"offset\":$manifest_offset[,}]"; }
lt_check "sent with the manifest's offset ($manifest_offset)" at_manifest
lt_check "nothing left queued" [ -z "$("$LT_BIN/lienthong-status" -c "$conf" --status queued --json)" ]
watch_peak true
lt_figure "$A peak resident memory (VmHWM) sending $MB MiB: $((peak / 1024)) MiB"
lt_figure "$(field extra) chunk(s) of $chunks sent twice after kill -9 at $before acknowledged"
lt_figure "$MB MiB sent in about $took s, a kill -9 and a restart included"
lt_check "agent $A stops cleanly" lt_stop $A
