#!/usr/bin/env bash
# The folder target does not follow symbolic links planted in target_dir.
#   1. B's target_dir/<A> is a link to a folder elsewhere: A's document is not
#      written there; it waits (A's status: "at the recipient, target failing
#      ... is a symbolic link"); once the link is removed it is delivered into
#      a real folder.
#   2. The document's own folder name is planted as a link before B sees the
#      document: it is not taken for "delivered before", nothing is written
#      through it, and with delivery_deadline_s = 3 the document ends `failed`
#      (quarantined at B); the next document of A is delivered.
# The folder the links point to stays empty throughout.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=LNK.A01
B=LNK.B02

lt_setup
lt_agency $A
lt_agency $B
elsewhere="$LT_WORK/elsewhere"
mkdir -p "$elsewhere" "$LT_WORK/$B/target"
lt_start $A
lt_start $B
topics_ready() { for c in $A $B; do grep -q 'topics ready' "$LT_WORK/$c/agent.log" || return 1; done; }
lt_check "agents created their topics" lt_wait_until 60 topics_ready

status_of() { "$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json "$1"; }
waits_for_link() { status_of "$1" | grep '"status":"sent"' | grep -q 'is a symbolic link'; }
ends() { status_of "$1" | grep -q "\"status\":\"$2\""; }
elsewhere_empty() { [ -z "$(ls -A "$elsewhere")" ]; }
upload() { # name: one document, echoes its id
	echo "document $1" >"$LT_WORK/$1.txt"
	"$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B "$LT_WORK/$1.txt" | cut -f1
}

# 1. The sender folder is a link.
ln -s "$elsewhere" "$LT_WORK/$B/target/$A"
id1=$(upload one)
lt_check "1: the document waits, A's status names the link" lt_wait_until 60 waits_for_link "$id1"
lt_check "1: B's log says why" grep -q "target/$A is a symbolic link" "$LT_WORK/$B/agent.log"
lt_check "1: nothing written where the link points" elsewhere_empty
rm "$LT_WORK/$B/target/$A"
lt_check "1: delivered once the link is removed" lt_wait_until 60 ends "$id1" delivered
lt_check "1: into a real folder" test -d "$LT_WORK/$B/target/$A/$id1" -a ! -L "$LT_WORK/$B/target/$A"
lt_check "1: bytes intact" cmp -s "$LT_WORK/one.txt" "$LT_WORK/$B/target/$A/$id1/one.txt"

# 2. The document folder is planted as a link before B sees the document.
lt_stop $B
lt_set $B delivery_deadline_s 3
id2=$(upload two)
ln -s "$elsewhere" "$LT_WORK/$B/target/$A/$id2"
lt_start $B
lt_check "2: the document ends failed" lt_wait_until 90 ends "$id2" failed
lt_check "2: A's status names the link" sh -c "'$LT_BIN/lienthong-status' -c '$(lt_conf $A)' '$id2' | grep -q 'symbolic link'"
lt_check "2: B quarantined it" sh -c "'$LT_BIN/lienthong-quarantine' -c '$(lt_conf $B)' list | grep -q '$id2'"
lt_check "2: nothing written where the link points" elsewhere_empty
lt_check "2: the planted link is left as it was" test -L "$LT_WORK/$B/target/$A/$id2"
id3=$(upload three)
lt_check "2: the next document is delivered" lt_wait_until 60 ends "$id3" delivered
lt_check "2: bytes intact" cmp -s "$LT_WORK/three.txt" "$LT_WORK/$B/target/$A/$id3/three.txt"
lt_check "no temporary folder left" test -z "$(find "$LT_WORK/$B/target" -name '.tmp-*')"
for c in $A $B; do
	lt_check "agent $c stops cleanly" lt_stop $c
done
