#!/usr/bin/env bash
# Certificates are used for their purpose. Documents signed, and published
# straight to B's inbox with lt-forge, with certificates issued by the
# trusted CA for something else are quarantined with a clear reason and
# never delivered:
#   NOP.A01  a Kafka client certificate (deploy/pki.sh client: clientAuth,
#            no document-signing purpose)
#   ADMIN    the Kafka super user's certificate (deploy/pki.sh client)
#   CAS.A01  a CA certificate (CA:TRUE) that even allows digitalSignature and
#            names the purpose
# while A's documents are delivered. An agent whose private key is readable
# by others, or whose own certificate lacks the purpose, refuses to start
# (exit 1, naming the file and the fix). lienthong-upload refuses to sign
# with an expired or not yet valid own certificate.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=PUR.A01
B=PUR.B02
forge() { "$LT_BUILD/tests/lt-forge" "$@"; }

lt_setup
pki="$LT_WORK/pki"
lt_agency $A
lt_agency $B
for code in NOP.A01 KEY.A01 EXP.A01 NYV.A01; do lt_agency $code; done
"$LT_ROOT/deploy/pki.sh" client "$pki" NOP.A01 >/dev/null
"$LT_ROOT/deploy/pki.sh" client "$pki" ADMIN >/dev/null
"$LT_ROOT/deploy/pki.sh" agency "$pki" EXP.A01 --start 20200101000000Z --end 20210101000000Z >/dev/null
"$LT_ROOT/deploy/pki.sh" agency "$pki" NYV.A01 --start 20400101000000Z --end 20410101000000Z >/dev/null
# A CA made by the same CA (an operator's mistake), with every usage it could have.
oid=$(sed -n 's/^signing_oid=//p' "$LT_ROOT/deploy/pki.sh")
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/CAS.A01.key" 2>/dev/null
openssl req -new -key "$pki/CAS.A01.key" -subj "/CN=CAS.A01" -out "$LT_WORK/cas.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,keyCertSign\nextendedKeyUsage=clientAuth,%s\n' "$oid" >"$LT_WORK/cas.ext"
openssl x509 -req -in "$LT_WORK/cas.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
	-days 30 -extfile "$LT_WORK/cas.ext" -out "$pki/CAS.A01.crt" 2>/dev/null

# An agent that may not start: exit status 1 and the output, within 60 s.
refuses() { # code regex...
	local code=$1 out rc=0
	shift
	out=$(timeout 60 "$LT_BIN/lienthong-agent" -c "$(lt_conf "$code")" 2>&1) || rc=$?
	echo "$out" >"$LT_WORK/$code/refusal.log"
	[ "$rc" -eq 1 ] || return 1
	for want in "$@"; do grep -qF -- "$want" <<<"$out" || return 1; done
}
chmod 644 "$pki/KEY.A01.key"
lt_check "agent refuses a private key readable by others (names the file and the chmod)" \
	refuses KEY.A01 "/pki/KEY.A01.key is accessible to group or others (mode 0644)" "run 'chmod 600 " "/pki/KEY.A01.key'"
chmod 640 "$pki/KEY.A01.key"
lt_check "agent refuses a private key readable by the group" refuses KEY.A01 "mode 0640" "chmod 600"
lt_check "agent refuses an own certificate without the signing purpose" \
	refuses NOP.A01 "own certificate " "/pki/NOP.A01.crt: signer certificate lacks the agency document-signing purpose"

# Upload with an own certificate that is not valid now: refused, nothing queued.
upload_refused() { # code regex
	local out rc=0
	echo "x" >"$LT_WORK/x.txt"
	out=$("$LT_BIN/lienthong-upload" -c "$(lt_conf "$1")" --to $B "$LT_WORK/x.txt" 2>&1) || rc=$?
	[ "$rc" -eq 1 ] && grep -qE -- "$2" <<<"$out" &&
		[ -z "$("$LT_BIN/lienthong-status" -c "$(lt_conf "$1")" 2>/dev/null)" ]
}
lt_check "upload refuses an expired own certificate" \
	upload_refused EXP.A01 "certificate .*/EXP.A01.crt is expired \(valid from .* 2020 GMT until .* 2021 GMT\).*renew it"
lt_check "upload refuses a not yet valid own certificate" \
	upload_refused NYV.A01 "certificate .*/NYV.A01.crt is not yet valid \(valid from .* 2040 GMT"

lt_start $A
lt_start $B
topics_ready() { for c in $A $B; do grep -q 'topics ready' "$LT_WORK/$c/agent.log" || return 1; done; }
lt_check "agents created their topics" lt_wait_until 60 topics_ready

echo "a document signed by a certificate meant for something else" >"$LT_WORK/forged.txt"
declare -A forged=()
for code in NOP.A01 ADMIN CAS.A01; do
	forged[$code]=$(forge -c "$(lt_conf $A)" --to $B --key "$pki/$code.key" --cert "$pki/$code.crt" "$LT_WORK/forged.txt")
done
ids="$LT_WORK/ids"
echo "a real document" >"$LT_WORK/good.txt"
lt_upload $A $B "$ids" "$LT_WORK/good.txt"

quarantined() { # id reason
	"$LT_BIN/lienthong-quarantine" -c "$(lt_conf $B)" list --json | grep "\"document_id\":\"$1\"" | grep -qF -- "$2"
}
lt_check "NOP.A01 (Kafka client certificate): quarantined, purpose missing" \
	lt_wait_until 60 quarantined "${forged[NOP.A01]}" "lacks the agency document-signing purpose"
lt_check "ADMIN (Kafka super user): quarantined, purpose missing" \
	lt_wait_until 60 quarantined "${forged[ADMIN]}" "lacks the agency document-signing purpose"
lt_check "CAS.A01 (a CA certificate): quarantined as a CA" \
	lt_wait_until 60 quarantined "${forged[CAS.A01]}" "is a CA certificate"
lt_check "the real document is delivered" lt_wait_until 60 lt_all_delivered $A "$ids"
lt_check "its bytes arrived" cmp -s "$LT_WORK/good.txt" "$LT_WORK/$B/target/$A/$(cut -f1 "$ids")/good.txt"
for code in NOP.A01 ADMIN CAS.A01; do
	lt_check "nothing delivered from $code" test ! -e "$LT_WORK/$B/target/$code"
done
for c in $A $B; do
	lt_check "agent $c stops cleanly" lt_stop $c
done
