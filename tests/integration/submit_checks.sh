#!/usr/bin/env bash
# Attack: the local submission service (<data_dir>/submit.sock) is handed
# what lienthong-upload would never send. It verifies every envelope (signed
# by this agency with a certificate of ca_file; document id, digest,
# recipients and subject stored beside it equal to the envelope's) and stores
# nothing it refuses; clients that stay silent, send half a frame or announce
# 64 MiB and send nothing cost no memory and are dropped after a few seconds,
# while real uploads go on.
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
lt_check "both real documents delivered" lt_wait_until 120 lt_all_delivered $A "$LT_WORK/ids"
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
