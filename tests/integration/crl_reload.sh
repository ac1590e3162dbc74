#!/usr/bin/env bash
# Certificate revocation lists are re-read by a running agent: when the CRL
# in crl_file expires, documents wait (the partition is paused and retried, a
# loud log line, the sender's status says why through a deferred receipt),
# they are not refused as if the sender were at fault; once a renewed CRL is
# written there they are delivered, without a restart; and a CRL that revokes
# a signer takes effect without a restart too.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=CRL.A01
B=CRL.B02

lt_setup
lt_agency $A
lt_agency $B
"$LT_ROOT/deploy/pki.sh" crl "$LT_WORK/pki" >/dev/null
lt_set $B crl_file ../pki/crl.pem
lt_start $A
lt_start $B
pid_b=$(cat "$LT_WORK/$B/agent.pid")
lt_make_docs "$LT_WORK/docs" 3 20000

lt_upload $A $B "$LT_WORK/ids1" "$LT_WORK/docs/doc-1.pdf"
lt_check "with a current CRL a document is delivered" lt_wait_until 120 lt_all_delivered $A "$LT_WORK/ids1"

# A CRL valid for 2 seconds: re-read by the agent, then expired.
"$LT_ROOT/deploy/pki.sh" crl "$LT_WORK/pki" --seconds 2 >/dev/null
lt_check "$B re-reads the changed CRL" \
	lt_wait_until 60 grep -q "CRLs changed: read from .*crl.pem" "$LT_WORK/$B/agent.log"
sleep 3 # the CRL's nextUpdate passes
lt_upload $A $B "$LT_WORK/ids2" "$LT_WORK/docs/doc-2.pdf"
id2=$(cut -f1 "$LT_WORK/ids2")
status2() { "$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json "$id2"; }
waiting() { status2 | grep -q '"status":"sent".*CRL.*has expired'; }
lt_check "with the CRL expired the sender's status says the document waits, and why" \
	lt_wait_until 120 waiting
status2
lt_check "the recipient says so loudly" \
	grep -q "error: document $id2 from $A waits: revocation of the signer cannot be checked" "$LT_WORK/$B/agent.log"
lt_check "the recipient retries it (partition paused)" \
	lt_wait_until 60 grep -q "@ [0-9]*: revocation of the signer cannot be checked.*partition paused" "$LT_WORK/$B/agent.log"
sleep 3
lt_check "meanwhile it is neither delivered nor refused" \
	bash -c "[ ! -e '$LT_WORK/$B/target/$A/$id2' ] && ! status2 | grep -q '\"status\":\"rejected\"' && \
		! '$LT_BIN/lienthong-status' -c '$(lt_conf $B)' --quarantine --json | grep -q '$id2'"

"$LT_ROOT/deploy/pki.sh" crl "$LT_WORK/pki" >/dev/null
lt_check "with a renewed CRL the waiting document is delivered" \
	lt_wait_until 120 lt_all_delivered $A "$LT_WORK/ids2"
lt_check "without a restart of $B" [ "$(cat "$LT_WORK/$B/agent.pid")" = "$pid_b" ]
lt_check "$B is still the same process" kill -0 "$pid_b"

# Revocation takes effect without a restart.
"$LT_ROOT/deploy/pki.sh" revoke "$LT_WORK/pki" $A >/dev/null
lt_wait_until 60 bash -c "[ \$(grep -c 'CRLs changed: read from' '$LT_WORK/$B/agent.log') -ge 3 ]"
lt_upload $A $B "$LT_WORK/ids3" "$LT_WORK/docs/doc-3.pdf"
id3=$(cut -f1 "$LT_WORK/ids3")
revoked() { "$LT_BIN/lienthong-status" -c "$(lt_conf $B)" --quarantine --json | grep "$id3" | grep -q "revoked"; }
lt_check "a document of the revoked $A is refused as revoked (quarantined at $B)" lt_wait_until 120 revoked
lt_check "and not delivered" [ ! -e "$LT_WORK/$B/target/$A/$id3" ]
lt_check "agent $B stops cleanly" lt_stop $B
lt_check "agent $A stops cleanly" lt_stop $A
