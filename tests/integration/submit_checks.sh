#!/usr/bin/env bash
# Attack: the local submission service (<data_dir>/submit.sock) is handed
# what lienthong-upload would never send. It verifies every envelope (signed
# by this agency with a certificate of ca_file; document id, digest,
# recipients and subject stored beside it equal to the envelope's) and stores
# nothing it refuses; clients that stay silent, send half a frame or announce
# 64 MiB and send nothing cost no memory and are dropped after a few seconds,
# while real uploads go on; a commit held up for 6 s (the store's write lock
# taken by mdb_load) drops no client whose request arrived meanwhile.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=SUB.A01
B=SUB.B02
C=SUB.C03 # another agency, with a valid certificate of the same CA

lt_setup
lt_agency $A
lt_agency $B
lt_agency $C
lt_start $A
lt_start $B
lt_wait_until 60 test -S "$LT_WORK/$A/data/submit.sock"
echo hello >"$LT_WORK/doc.txt"

forge() { "$LT_BUILD/tests/lt-forge" "$@" "$LT_WORK/doc.txt"; }
# refused WHAT PATTERN LT-FORGE-ARGS...: the agent refuses with PATTERN and stores nothing.
refused() {
	local what=$1 pattern=$2
	shift 2
	if forge "$@" >"$LT_WORK/out" 2>"$LT_WORK/err"; then
		lt_fail "$what: accepted"
		return
	fi
	lt_check "$what: refused ($(head -c 160 "$LT_WORK/err"))" grep -q "refused the submission: .*$pattern" "$LT_WORK/err"
	lt_check "$what: nothing stored" [ "$("$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json | wc -l)" -eq "$stored" ]
}
stored=0

refused "signed by $C, claiming to be $A" "certificate" \
	-c "$(lt_conf $C)" --to $B --claim-sender $A --submit-to "$(lt_conf $A)"
refused "signed by $C as itself" "names sender $C, not this agency" \
	-c "$(lt_conf $C)" --to $B --submit-to "$(lt_conf $A)"
refused "recipients other than the envelope's" "differ from its signed envelope" \
	-c "$(lt_conf $A)" --to $B --wrong-recipients --submit-to "$(lt_conf $A)"
refused "a digest other than the envelope's" "differ from its signed envelope" \
	-c "$(lt_conf $A)" --to $B --wrong-digest --submit-to "$(lt_conf $A)"
refused "a part changed after signing" "SHA-256 differs from its data" \
	-c "$(lt_conf $A)" --to $B --tamper --submit-to "$(lt_conf $A)"
good() { forge -c "$(lt_conf $A)" --to $B --submit-to "$(lt_conf $A)" >>"$LT_WORK/ids"; }
lt_check "a well-formed submission through the same tool is accepted" good
stored=1
lt_check "and delivered to $B" lt_wait_until 120 lt_all_delivered $A "$LT_WORK/ids"

# Stalled clients: silent, half a header, and eight announcing 64 MiB then nothing.
pid=$(cat "$LT_WORK/$A/agent.pid")
vm() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/status"; }
rss0=$(vm VmRSS)
size0=$(vm VmSize)
python3 - "$LT_WORK/$A/data/submit.sock" >"$LT_WORK/stall.out" 2>&1 <<'EOF' &
import socket, sys, time
conns = []
for head in [b"", b"\x00\x00"] + [b"\x04\x00\x00\x00"] * 8:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.sendall(head)
    conns.append(s)
open(sys.argv[1] + ".stalled", "w").close()
start = time.time()
closed = 0
for s in conns:
    s.settimeout(max(1, 90 - (time.time() - start)))
    try:
        while s.recv(4096):
            pass
        closed += 1
    except OSError:
        pass
print("%d of %d stalled connections closed by the agent after %.1f s"
      % (closed, len(conns), time.time() - start))
sys.exit(0 if closed == len(conns) else 1)
EOF
stall=$!
lt_wait_until 30 test -e "$LT_WORK/$A/data/submit.sock.stalled"
sleep 1
rss1=$(vm VmRSS)
size1=$(vm VmSize)
echo "agent $A with 10 stalled submission clients: VmRSS $rss0 -> $rss1 kB, VmSize $size0 -> $size1 kB"
lt_check "eight 64 MiB frame headers reserve no memory (VmSize +$((size1 - size0)) kB)" \
	[ $((size1 - size0)) -lt $((64 * 1024)) ]
lt_check "nor resident memory (VmRSS +$((rss1 - rss0)) kB)" [ $((rss1 - rss0)) -lt $((16 * 1024)) ]
upload() { timeout 60 "$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B "$LT_WORK/doc.txt" >>"$LT_WORK/ids"; }
lt_check "a real upload goes through meanwhile" upload
lt_check "the stalled clients are dropped by the agent" wait $stall
cat "$LT_WORK/stall.out"
lt_check "the agent logs why it dropped them" grep -q "submission client dropped: silent for 5 s" "$LT_WORK/$A/agent.log"

# A commit held up for 6 s (another process holds the store's write lock, as a
# slow disk would) costs nothing to a client that connected before it and sent
# its request while it waited: its bytes are read before anyone is judged
# silent. Both clients replay requests lienthong-upload framed for a stand-in
# socket (a copy of A's configuration with another data_dir), so the test
# knows when their bytes are sent.
sed 's/^data_dir = .*/data_dir = stand-in/' "$(lt_conf $A)" >"$LT_WORK/$A/stand-in.conf"
mkdir -p "$LT_WORK/$A/stand-in"
capture() { # NAME: the request lienthong-upload frames for a new document NAME, in NAME.frame
	echo "document $1" >"$LT_WORK/$1.txt"
	rm -f "$LT_WORK/$A/stand-in/submit.sock"
	python3 - "$LT_WORK/$A/stand-in/submit.sock" "$LT_WORK/$1.frame" <<'EOF' &
import os, socket, sys
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1])
srv.listen(1)
srv.settimeout(30)
c, _ = srv.accept()
c.settimeout(30)
data = b""
while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
    more = c.recv(65536)
    if not more:
        sys.exit("the upload closed before its whole request")
    data += more
open(sys.argv[2], "wb").write(data)
c.sendall(b"\x00\x00\x00\x00")  # an empty reply (ok = false): the upload stops there
EOF
	local pid=$!
	lt_wait_until 10 test -S "$LT_WORK/$A/stand-in/submit.sock"
	"$LT_BIN/lienthong-upload" -c "$LT_WORK/$A/stand-in.conf" --to $B "$LT_WORK/$1.txt" >/dev/null 2>&1 || true
	wait $pid
}
# client NAME: connects to A's socket (NAME.connected), sends NAME.frame once
# NAME.go exists (NAME.sent), prints how long the answer took; 0 if it is ok.
client() {
	python3 - "$LT_WORK/$A/data/submit.sock" "$LT_WORK/$1" <<'EOF'
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
open(sys.argv[2] + ".connected", "w").close()
while not os.path.exists(sys.argv[2] + ".go"):
    time.sleep(0.01)
s.sendall(open(sys.argv[2] + ".frame", "rb").read())
sent = time.time()
open(sys.argv[2] + ".sent", "w").close()
s.settimeout(60)
reply = b""
while chunk := s.recv(4096):
    reply += chunk
    if len(reply) >= 4 and len(reply) >= 4 + int.from_bytes(reply[:4], "big"):
        break
print("answered after %.1f s: %s" % (time.time() - sent, reply.hex()))
sys.exit(0 if reply[4:6] == b"\x08\x01" else 1)  # SubmitReply.ok = true
EOF
}
lt_check "requests framed by lienthong-upload are captured" eval "capture late && capture slow"
dropped0=$(grep -c 'submission client dropped' "$LT_WORK/$A/agent.log" || true)
mark=$(wc -l <"$LT_WORK/$A/agent.log")
stored=$("$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json | wc -l)
mkfifo "$LT_WORK/hold"
mdb_load -s docs "$LT_WORK/$A/data" <"$LT_WORK/hold" &
holder=$!
exec 8>"$LT_WORK/hold" # the only writer: closing it ends the holder (children get 8>&-)
# then it waits in its write transaction (SIGPIPE ignored: a holder gone is an error here)
(trap '' PIPE && printf 'VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n' >&8)
client late >"$LT_WORK/late.out" 2>&1 8>&- &
late=$!
lt_wait_until 10 test -e "$LT_WORK/late.connected"
sleep 0.3 # accepted by the agent, silent
touch "$LT_WORK/slow.go"
client slow >"$LT_WORK/slow.out" 2>&1 8>&- &
slow=$!
lt_wait_until 10 test -e "$LT_WORK/slow.sent"
sleep 0.5 # the agent read it; its commit waits for the write lock
touch "$LT_WORK/late.go"
lt_wait_until 10 test -e "$LT_WORK/late.sent"
sleep 6
exec 8>&- # the holder commits nothing and ends: the agent's commit goes on
lt_check "the store's write lock was held by mdb_load and released" wait $holder
slow_st=0 late_st=0
wait $slow || slow_st=$?
wait $late || late_st=$?
lt_check "the request whose commit waited is answered ok ($(cat "$LT_WORK/slow.out"))" [ $slow_st -eq 0 ]
lt_check "its answer took over 5 s (the commit waited)" \
	awk '/answered after/ { found = 1; ok = $3 >= 5 } END { exit !(found && ok) }' "$LT_WORK/slow.out"
lt_check "the client that sent its request during that commit is answered ok ($(cat "$LT_WORK/late.out"))" [ $late_st -eq 0 ]
lt_check "they were two commits, one after the other" \
	[ "$(tail -n +$((mark + 1)) "$LT_WORK/$A/agent.log" | grep -c 'committed 1 document(s) of 1 submission(s)')" -eq 2 ]
lt_check "and nobody was dropped as silent" \
	[ "$(grep -c 'submission client dropped' "$LT_WORK/$A/agent.log" || true)" -eq "$dropped0" ]
lt_check "both documents are stored" \
	[ "$("$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json | wc -l)" -eq $((stored + 2)) ]
lt_check "every real document delivered" lt_wait_until 120 lt_all_delivered $A "$LT_WORK/ids"
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
