#!/usr/bin/env bash
# Transport security on the real broker: a broker started by deploy/kafka.sh
# with TLS only, client certificates required (principal = certificate CN)
# and the StandardAuthorizer; topics and ACLs made by lienthong-provision.
# Two agencies exchange documents over TLS with their agency certificates;
# an agency that tries to read another agency's inbox gets an authorization
# error from the broker; a client without a certificate gets nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=TLS.A01
B=TLS.B02
N=${LT_TLS_DOCS:-20}
tls_port=${LT_TLS_KAFKA_PORT:-$((${LT_KAFKA_PORT:-18092} + 200))}

lt_setup
tls_broker() {
	LT_KAFKA_PORT=$tls_port LT_KAFKA_CONTROLLER_PORT=$((tls_port + 1)) LT_KAFKA_DIR="$LT_WORK/kafka" \
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
}
for code in ADMIN $A $B; do
	lt_agency $code
	tls_conf $code
done
# The super user is a Kafka client, not an agency: its certificate cannot sign documents.
"$LT_ROOT/deploy/pki.sh" client "$LT_WORK/pki" ADMIN >/dev/null
# librdkafka resolves relative ssl paths against the working folder: run from each agency's.
provision() { (cd "$LT_WORK/ADMIN" && "$LT_BIN/lienthong-provision" -c agency.conf "$@"); }
lt_check "lienthong-provision creates the topics and ACLs" provision $A $B
lt_check "provisioning again changes nothing and succeeds" provision $A $B

for code in $A $B; do
	(cd "$LT_WORK/$code" && exec "$LT_BIN/lienthong-agent" -c agency.conf >>agent.log 2>&1) &
	echo $! >"$LT_WORK/$code/agent.pid"
	LT_PIDS+=($!)
done
lt_make_docs "$LT_WORK/docs-$A" "$N" 20000
lt_make_docs "$LT_WORK/docs-$B" "$N" 20000
lt_upload $A $B "$LT_WORK/ids-$A" "$LT_WORK/docs-$A"/*.pdf
lt_upload $B $A "$LT_WORK/ids-$B" "$LT_WORK/docs-$B"/*.pdf
both() { lt_all_delivered $A "$LT_WORK/ids-$A" && lt_all_delivered $B "$LT_WORK/ids-$B"; }
lt_check "documents flow both ways over TLS with agency certificates" lt_wait_until 120 both
lt_verify $A $B "$LT_WORK/ids-$A"
lt_verify $B $A "$LT_WORK/ids-$B"
lt_check "the agents did not create topics themselves (not allowed; provisioned)" \
	grep -q 'expected to be provisioned' "$LT_WORK/$A/agent.log"

prefix=$(awk -F' = ' '$1 == "topic_prefix" { print $2 }' "$(lt_conf $A)")
kc() { # code ARGS...: kcat as that agency, for 30 s at most
	timeout 30 kcat -b "127.0.0.1:$tls_port" -X security.protocol=ssl -X "ssl.ca.location=$LT_WORK/pki/ca.crt" \
		-X "ssl.certificate.location=$LT_WORK/pki/$1.crt" -X "ssl.key.location=$LT_WORK/pki/$1.key" "${@:2}"
}
out=$(kc $B -C -G "$prefix.agent.$B" "$prefix.inbox.$A" -c 1 -e 2>&1 || true)
lt_check "$B reading $A's inbox gets an authorization error from the broker" \
	grep -q 'Topic authorization failed' <<<"$out"
lt_check "... and no document of $A" bash -c "! grep -q 'forged\|pdf' <<<\"\$1\"" _ "$out"
out=$(kc $B -C -t "$prefix.receipts.$A" -o beginning -c 1 -e 2>&1 || true)
lt_check "$B reading $A's receipt topic gets an authorization error" \
	grep -q 'Topic authorization failed' <<<"$out"
out=$(timeout 20 kcat -b "127.0.0.1:$tls_port" -L -m 5 2>&1 || true)
lt_check "a client without TLS gets no metadata" bash -c "! grep -q 'broker 1 at' <<<\"\$1\"" _ "$out"
out=$(echo x | kc $B -P -t "$prefix.inbox.$A" 2>&1 && echo produced-ok || true)
lt_check "$B may write to $A's inbox (to send it documents)" grep -q 'produced-ok' <<<"$out"
for code in $A $B; do lt_check "agent $code stops cleanly" lt_stop $code; done
