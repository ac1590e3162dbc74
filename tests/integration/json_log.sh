#!/usr/bin/env bash
# log_format = json: every line two agents write during a real exchange (debug
# level, librdkafka's lines included) is one JSON object with time, level,
# program, pid and message, and fields where the message is about one document;
# valid JSON even when the message quotes bytes from outside: a lying receipt
# whose reason carries quotes, a backslash, a newline and escape sequences,
# and a document whose part name carries control bytes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=JSONLOG.A01
B=JSONLOG.B02
forge() { "$LT_BUILD/tests/lt-forge" "$@"; }

lt_setup
for code in $A $B; do
	lt_agency $code
	lt_set $code log_format json
	lt_start $code
done
# Each line a JSON object with the fixed fields; prints the first bad line.
all_json() {
	python3 - "$1" <<'PY'
import json, sys
want = {"time": str, "level": str, "program": str, "pid": int, "message": str}
n = 0
with open(sys.argv[1], "rb") as f:
    for raw in f:
        n += 1
        try:
            o = json.loads(raw.decode("utf-8"))
            assert isinstance(o, dict)
            for k, t in want.items():
                assert isinstance(o.get(k), t), k
            assert o["level"] in ("error", "warn", "info", "debug")
            assert o["program"] == "lienthong-agent"
        except Exception as e:
            print("line %d is not a log object (%r): %r" % (n, e, raw[:300]))
            sys.exit(1)
print("%d lines, each a JSON object" % n)
PY
}
# A line whose field $2 is $3 and whose message contains $4 (python: exact match of the field).
has_line() {
	python3 - "$@" <<'PY'
import json, sys
path, field, value, text = sys.argv[1:5]
for raw in open(path, "rb"):
    try:
        o = json.loads(raw.decode("utf-8"))
    except Exception:
        continue
    if o.get(field) == value and text in o.get("message", ""):
        sys.exit(0)
sys.exit(1)
PY
}
topics_ready() { for c in $A $B; do grep -q 'topics ready' "$LT_WORK/$c/agent.log" || return 1; done; }
lt_check "agents created their topics" lt_wait_until 60 topics_ready

# B lies about a document it has not received yet (it is stopped): a signed
# receipt whose reason carries everything JSON must escape.
lt_stop $B
echo "an ordinary dispatch" >"$LT_WORK/good.txt"
ids="$LT_WORK/ids"
lt_upload $A $B "$ids" "$LT_WORK/good.txt"
id=$(head -n 1 "$ids" | cut -f1)
is_sent() { "$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json "$id" | grep -q '"status":"sent"'; }
lt_check "the first document reached Kafka" lt_wait_until 60 is_sent
kcat -b "$LT_BOOTSTRAP" -C -t "$LT_PREFIX.inbox.$B" -c 1 -e -q -f '%s' >"$LT_WORK/doc.env"
lie=$'disk "full" \\ here\nsecond line \e[2J\a\xc2\x9b end'
forge -c "$(lt_conf $B)" --to $A --receipt-reason "$lie" "$LT_WORK/doc.env" >/dev/null
lying() { grep -q 'second line' "$LT_WORK/$A/agent.log"; }
lt_check "A logged the lying receipt" lt_wait_until 60 lying
lt_start $B
lt_make_docs "$LT_WORK/docs" 20 5000
lt_upload $A $B "$ids" "$LT_WORK/docs"/*.pdf
lt_check "21 documents delivered" lt_wait_until 60 lt_all_delivered $A "$ids"
# A document whose part name carries control bytes: quarantined by B, which logs why.
echo evil >"$LT_WORK/evil.txt"
evil=$(forge -c "$(lt_conf $A)" --to $B --record --part-name $'evil"\n\e]0;x\a.pdf' "$LT_WORK/evil.txt")
quarantined() { "$LT_BIN/lienthong-quarantine" -c "$(lt_conf $B)" list --json | grep -q "\"document_id\":\"$evil\""; }
lt_check "B quarantined the document with the bad part name" lt_wait_until 60 quarantined
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B

for c in $A $B; do
	lt_check "$c: every line of its log is a JSON object with time, level, program, pid, message" \
		all_json "$LT_WORK/$c/agent.log"
	lt_check "$c: no raw control byte or invalid UTF-8 in the log" \
		python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); d.decode("utf-8"); sys.exit(any(b < 32 and b != 10 for b in d))' "$LT_WORK/$c/agent.log"
done
lt_check "$A: the lying reason is in one line's message, quotes kept, controls escaped" \
	has_line "$LT_WORK/$A/agent.log" document_id "$id" $'disk "full" \\ here\\x0asecond line \\x1b[2J\\x07\\u009b end'
lt_check "$A: the delivered line carries document_id and recipient fields" \
	has_line "$LT_WORK/$A/agent.log" recipient "$B" "delivered by $B"
lt_check "$B: each written document's line carries its document_id" \
	has_line "$LT_WORK/$B/agent.log" document_id "$id" "part(s) into"
lt_check "$B: the quarantine line names the document" \
	has_line "$LT_WORK/$B/agent.log" document_id "$evil" "has a control character"
lt_check "$B: librdkafka's lines are JSON too, with their facility" \
	grep -q '"component":"kafka","facility":' "$LT_WORK/$B/agent.log"
