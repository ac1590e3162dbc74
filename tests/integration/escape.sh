#!/usr/bin/env bash
# Nothing from the network reaches a terminal raw. A lying recipient signs a
# receipt whose reason carries terminal escape sequences (ESC, BEL, the C1
# control CSI); a sender publishes a document whose part name carries them;
# a document's subject carries them. lienthong-status (text and JSON),
# lienthong-quarantine (list, show, JSON) and both agents' logs show them
# escaped (\x1b, \u009b), never as raw control bytes; JSON stays valid; the
# good document still arrives.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=ESC.A01
B=ESC.B02
forge() { "$LT_BUILD/tests/lt-forge" "$@"; }

# Raw C0 controls (but newline), DEL, or a C1 control in UTF-8 (C2 80..C2 9F).
no_raw_controls() { ! LC_ALL=C grep -qP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' "$1"; }
valid_json_lines() { python3 -c 'import json, sys; [json.loads(l) for l in sys.stdin if l.strip()]' <"$1"; }
has_text() { LC_ALL=C grep -qF -- "$2" "$1"; }

lt_setup
lt_agency $A
lt_agency $B
lt_start $A
lt_start $B
topics_ready() { for c in $A $B; do grep -q 'topics ready' "$LT_WORK/$c/agent.log" || return 1; done; }
lt_check "agents created their topics" lt_wait_until 60 topics_ready
lt_stop $B

# A document whose subject carries a window-title escape and a C1 CSI.
echo "an ordinary dispatch" >"$LT_WORK/good.txt"
ids="$LT_WORK/ids"
"$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B --subject $'Dispatch \e]0;pwned\a\xc2\x9b2J' \
	"$LT_WORK/good.txt" >>"$ids"
id=$(cut -f1 "$ids")
status_a() { "$LT_BIN/lienthong-status" -c "$(lt_conf $A)" "$@"; }
is_sent() { status_a --json "$id" | grep -q '"status":"sent"'; }
lt_check "the document reached Kafka" lt_wait_until 60 is_sent

# B lies: a signed receipt for it whose reason carries escape sequences.
kcat -b "$LT_BOOTSTRAP" -C -t "$LT_PREFIX.inbox.$B" -c 1 -e -q -f '%s' >"$LT_WORK/doc.env"
forge -c "$(lt_conf $B)" --to $A --receipt-reason $'disk \e[2J\e[31mfull\a\xc2\x9b0m\x7f' \
	"$LT_WORK/doc.env" >/dev/null
lying_reason_shown() { status_a --json "$id" | grep -q 'full'; }
lt_check "A records the lying receipt's reason" lt_wait_until 60 lying_reason_shown
status_a >"$LT_WORK/status.txt"
status_a --json >"$LT_WORK/status.json"
lt_check "status text: no raw control byte" no_raw_controls "$LT_WORK/status.txt"
lt_check "status text: the reason shown escaped" has_text "$LT_WORK/status.txt" '\x1b[2J\x1b[31mfull\x07\u009b0m\x7f'
lt_check "status JSON: no raw control byte" no_raw_controls "$LT_WORK/status.json"
lt_check "status JSON: valid JSON" valid_json_lines "$LT_WORK/status.json"
lt_check "status JSON: subject and reason escaped by JSON" has_text "$LT_WORK/status.json" '\u001B]0;pwned\u0007\u009B2J'

# A document whose part name carries escape sequences (renamed after signing).
echo "evil" >"$LT_WORK/evil.txt"
evil=$(forge -c "$(lt_conf $A)" --to $B --record --part-name $'evil\e[2J\e]0;pwned\a\xc2\x9b.pdf' "$LT_WORK/evil.txt")
lt_start $B
quarantined() { "$LT_BIN/lienthong-quarantine" -c "$(lt_conf $B)" list --json | grep -q "\"document_id\":\"$evil\""; }
lt_check "B quarantined the document with the bad part name" lt_wait_until 60 quarantined
lt_check "the good document is delivered" lt_wait_until 60 lt_all_delivered $A "$ids"
lt_check "its bytes arrived" cmp -s "$LT_WORK/good.txt" "$LT_WORK/$B/target/$A/$id/good.txt"
lt_check "the bad document is not delivered" test ! -e "$LT_WORK/$B/target/$A/$evil"

q() { "$LT_BIN/lienthong-quarantine" -c "$(lt_conf $B)" "$@"; }
q list >"$LT_WORK/q.txt"
q list --json >"$LT_WORK/q.json"
qid=$(python3 -c 'import json, sys
for l in sys.stdin:
    o = json.loads(l)
    if o["document_id"] == sys.argv[1]: print(o["quarantine_id"])' "$evil" <"$LT_WORK/q.json")
q show "$qid" >"$LT_WORK/q-show.txt"
"$LT_BIN/lienthong-status" -c "$(lt_conf $B)" --quarantine >"$LT_WORK/q-status.txt"
for f in q.txt q-show.txt q-status.txt q.json; do
	lt_check "quarantine $f: no raw control byte" no_raw_controls "$LT_WORK/$f"
done
lt_check "quarantine list: the part name shown escaped" has_text "$LT_WORK/q.txt" 'evil\x1b[2J\x1b]0;pwned\x07\u009b.pdf'
lt_check "quarantine JSON: valid JSON" valid_json_lines "$LT_WORK/q.json"

status_a >"$LT_WORK/status2.txt"
lt_check "status text after the rejection: no raw control byte" no_raw_controls "$LT_WORK/status2.txt"
for c in $A $B; do
	lt_check "$c's log: no raw control byte" no_raw_controls "$LT_WORK/$c/agent.log"
done
lt_check "B's log names the bad part, escaped" has_text "$LT_WORK/$B/agent.log" 'evil\x1b[2J'
lt_check "A's log names the lying reason, escaped" has_text "$LT_WORK/$A/agent.log" 'disk \x1b[2J'
for c in $A $B; do
	lt_check "agent $c stops cleanly" lt_stop $c
done
