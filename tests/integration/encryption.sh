#!/usr/bin/env bash
# End-to-end encryption of parts: with --encrypt (or encrypt_parts = 1) the
# parts travel encrypted to the recipients' certificates. The recipient
# delivers the exact bytes; the record on the broker does not contain them;
# another agency that gets the record cannot decrypt it and quarantines it;
# an Ed25519 recipient (signing only) is refused with a clear message.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=ENC.A01
B=ENC.B02
C=ENC.C03
D=ENC.D04

lt_setup
lt_agency $A ec
lt_agency $B rsa
lt_agency $C ec
lt_agency $D ed25519
lt_set $A agency_certs_dir ../pki
for code in $A $B $C; do lt_start $code; done
topics_ready() { for c in $A $B $C; do grep -q 'topics ready' "$LT_WORK/$c/agent.log" || return 1; done; }
lt_check "agents created their topics" lt_wait_until 60 topics_ready

marker=LIENTHONG-SECRET-MARKER-7f3a9c
for i in 1 2 3; do printf '%s line %d\n' "$marker" "$i"; done >"$LT_WORK/secret.txt"
cp "$LT_WORK/secret.txt" "$LT_WORK/plain.txt"
lt_check "an encrypted submission to $B is accepted" \
	lt_upload $A $B "$LT_WORK/ids-enc" --encrypt "$LT_WORK/secret.txt"
lt_check "the encrypted document is delivered" lt_wait_until 60 lt_all_delivered $A "$LT_WORK/ids-enc"
lt_verify $A $B "$LT_WORK/ids-enc"

prefix=$(awk -F' = ' '$1 == "topic_prefix" { print $2 }' "$(lt_conf $A)")
kcat -C -b "$LT_BOOTSTRAP" -t "$prefix.inbox.$B" -o beginning -c 1 -e -f '%s' >"$LT_WORK/raw.bin" 2>/dev/null
lt_check "the record on the broker is there" [ -s "$LT_WORK/raw.bin" ]
lt_check "the record on the broker does not contain the plaintext" \
	bash -c "! grep -aq '$marker' '$LT_WORK/raw.bin'"

# The same record handed to C, which is not a recipient: it cannot read it.
kcat -P -b "$LT_BOOTSTRAP" -t "$prefix.inbox.$C" -k $A "$LT_WORK/raw.bin"
lt_check "another agency cannot decrypt it and quarantines it" lt_wait_until 30 bash -c \
	"'$LT_BIN/lienthong-quarantine' -c '$(lt_conf $C)' list | grep -q 'cannot be decrypted with this agency'"
lt_check "... and delivers nothing" [ ! -d "$LT_WORK/$C/target/$A" ]

# Without encryption the same bytes are on the broker in the clear (the check above can fail).
lt_upload $A $B "$LT_WORK/ids-plain" --no-encrypt "$LT_WORK/plain.txt"
lt_check "a plain document is delivered" lt_wait_until 60 lt_all_delivered $A "$LT_WORK/ids-plain"
kcat -C -b "$LT_BOOTSTRAP" -t "$prefix.inbox.$B" -o beginning -c 2 -e -f '%s' >"$LT_WORK/raw2.bin" 2>/dev/null
lt_check "without --encrypt the plaintext is visible on the broker" grep -aq "$marker" "$LT_WORK/raw2.bin"

lt_set $A encrypt_parts 1
out=$("$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $D "$LT_WORK/secret.txt" 2>&1 || true)
lt_check "encrypting to an Ed25519 certificate is refused with a clear message" \
	grep -q 'Ed25519 certificate can sign but not receive encrypted documents' <<<"$out"
out=$("$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to NOBODY.X99 "$LT_WORK/secret.txt" 2>&1 || true)
lt_check "encrypting to an agency without a known certificate names the missing file" \
	grep -q 'certificate of recipient NOBODY.X99 (agency_certs_dir)' <<<"$out"
for code in $A $B $C; do lt_check "agent $code stops cleanly" lt_stop $code; done
