#!/usr/bin/env bash
# Federation on an authorizing broker (TLS, client certificates, ACLs): the
# platform, its directory operator and its relay provisioned by
# lienthong-provision from the directory. The operator publishes; an agency
# in platform mode reads the directory over TLS and sends a document to an
# agency of another platform (into its shadow inbox); the relay may read
# that inbox, another agency may not; an agency may not write the directory.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=T.A01
B=T.B02
X=X.C03 # on another platform
tls_port=${LT_FED_TLS_PORT:-$((${LT_KAFKA_PORT:-18092} + 500))}
tls_controller=${LT_FED_TLS_CONTROLLER_PORT:-$((tls_port + 1))}

lt_setup
tls_broker() {
	LT_KAFKA_PORT=$tls_port LT_KAFKA_CONTROLLER_PORT=$tls_controller LT_KAFKA_DIR="$LT_WORK/kafka" \
		LT_KAFKA_TLS_DIR="$LT_WORK/pki" LT_KAFKA_SUPER_USERS=ADMIN LT_KAFKA_PROXY_PORT= \
		"$LT_ROOT/deploy/kafka.sh" "$@"
}
trap 'rc=$?; tls_broker stop >/dev/null 2>&1; (exit $rc); lt_teardown' EXIT
LT_KAFKA_RESET=1 tls_broker start >"$LT_WORK/kafka-start.log" 2>&1 ||
	{ cat "$LT_WORK/kafka-start.log"; lt_fail "TLS broker did not start"; exit 1; }
echo "TLS broker with client certificates and ACLs started on 127.0.0.1:$tls_port"

tls_conf() { # code
	lt_set "$1" kafka.bootstrap.servers "127.0.0.1:$tls_port"
	lt_set "$1" kafka.security.protocol ssl
	lt_set "$1" kafka.ssl.ca.location ../pki/ca.crt
	lt_set "$1" kafka.ssl.certificate.location "../pki/$1.crt"
	lt_set "$1" kafka.ssl.key.location "../pki/$1.key"
	lt_set "$1" platform T
}
for code in ADMIN $A $B; do
	lt_agency $code
	tls_conf $code
done
"$LT_ROOT/deploy/pki.sh" client "$LT_WORK/pki" ADMIN >/dev/null
"$LT_ROOT/deploy/pki.sh" directory "$LT_WORK/pki" DIR.T >/dev/null
"$LT_ROOT/deploy/pki.sh" relay "$LT_WORK/pki" RELAY.T >/dev/null
mkdir -p "$LT_WORK/DIR.T"
"$LT_ROOT/deploy/agency-conf.sh" "$LT_WORK/DIR.T/agency.conf" DIR.T ../pki "$LT_BOOTSTRAP" \
	topic_prefix="$LT_PREFIX"
tls_conf DIR.T
provision() { (cd "$LT_WORK/ADMIN" && "$LT_BIN/lienthong-provision" -c agency.conf "$@"); }
dir() { (cd "$LT_WORK/$1" && "$LT_BIN/lienthong-directory" -c agency.conf "${@:2}"); }
lt_check "lienthong-provision grants the operator and the relay" provision --operator DIR.T --relay RELAY.T
lt_check "the operator publishes $A, $B on T and $X on another platform" \
	eval "dir DIR.T publish $A T >/dev/null && dir DIR.T publish $B T >/dev/null && dir DIR.T publish $X U >/dev/null"
out=$(provision --directory 2>&1)
echo "$out"
lt_check "provisioning from the directory: $A and $B as agencies of T" \
	eval "grep -q '^$A: topics' <<<\"\$out\" && grep -q '^$B: topics' <<<\"\$out\""
lt_check "... $X's topics (another platform) created, no ACLs for it" \
	grep -q "^$X (on U): topics $LT_PREFIX.inbox.$X" <<<"$out"
lt_check "provisioning again changes nothing and succeeds" provision --directory --relay RELAY.T

for code in $A $B; do
	(cd "$LT_WORK/$code" && exec "$LT_BIN/lienthong-agent" -c agency.conf >>agent.log 2>&1) &
	echo $! >"$LT_WORK/$code/agent.pid"
	LT_PIDS+=($!)
done
knows() { dir "$1" list | awk -v c="$2" '$1 == c { f = 1 } END { exit !f }'; }
lt_check "$A reads the directory over TLS" lt_wait_until 60 knows $A $X
echo "to another platform" >"$LT_WORK/doc.txt"
(cd "$LT_WORK/$A" && "$LT_BIN/lienthong-upload" -c agency.conf --to $X "$LT_WORK/doc.txt") >"$LT_WORK/ids"
sent() { [ "$(lt_count_status $A sent)" -ge 1 ]; }
lt_check "$A's document for $X is accepted by the broker (its inbox on T)" lt_wait_until 60 sent

kc() { # cn ARGS...: kcat as that principal, for 30 s at most
	timeout 30 kcat -b "127.0.0.1:$tls_port" -X security.protocol=ssl -X "ssl.ca.location=$LT_WORK/pki/ca.crt" \
		-X "ssl.certificate.location=$LT_WORK/pki/$1.crt" -X "ssl.key.location=$LT_WORK/pki/$1.key" "${@:2}"
}
out=$(kc RELAY.T -X auto.offset.reset=earliest -C -G "$LT_PREFIX.relay.RELAY.T" "$LT_PREFIX.inbox.$X" -c 1 -e -f '%k\n' 2>&1 || true)
lt_check "the relay reads $X's inbox on T (the record of $A)" grep -q "^$A\$" <<<"$out"
out=$(kc $B -C -G "$LT_PREFIX.agent.$B" "$LT_PREFIX.inbox.$X" -c 1 -e 2>&1 || true)
lt_check "$B reading $X's inbox gets an authorization error" grep -q 'Topic authorization failed' <<<"$out"
out=$(echo forged | kc $A -P -t "$LT_PREFIX.directory" 2>&1 && echo produced-ok || true)
lt_check "$A may not write the directory" bash -c "! grep -q produced-ok <<<\"\$1\"" _ "$out"
for code in $A $B; do lt_check "agent $code stops cleanly" lt_stop $code; done
