#!/usr/bin/env bash
# pki.sh: a demo certificate authority and agency certificates for lienthong.
#
#   deploy/pki.sh ca DIR                       DIR/ca.key, DIR/ca.crt (ECDSA P-256 root)
#   deploy/pki.sh agency DIR CODE [KEYTYPE]    DIR/CODE.key, DIR/CODE.crt issued by DIR/ca.*
#
# KEYTYPE: ec (ECDSA P-256, default), ed25519 or rsa (3072 bits).
# The agency certificate names the agency code in its subject CN (the field
# lienthong checks), allows digitalSignature and nonRepudiation (signing
# documents and receipts) and clientAuth (Kafka TLS). Keys are unencrypted
# PEM (PKCS#8), mode 0600. For production, use the agencies' real CA.
set -euo pipefail

die() {
	echo "pki.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
}

days=${LT_PKI_DAYS:-825}

newkey() { # path type
	case "$2" in
	ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null ;;
	ed25519) openssl genpkey -algorithm ED25519 -out "$1" 2>/dev/null ;;
	rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$1" 2>/dev/null ;;
	*) die "unknown key type '$2' (use ec, ed25519 or rsa)" ;;
	esac
	chmod 600 "$1"
}

cmd_ca() {
	local dir=$1
	mkdir -p "$dir"
	if [ -f "$dir/ca.crt" ]; then
		echo "pki.sh: $dir/ca.crt exists; keeping it" >&2
		return 0
	fi
	newkey "$dir/ca.key" ec
	openssl req -new -x509 -key "$dir/ca.key" -out "$dir/ca.crt" -days "$days" \
		-subj "/O=lienthong demo/CN=lienthong demo CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null ||
		die "cannot create the CA certificate in $dir"
	echo "$dir/ca.crt"
}

cmd_agency() {
	local dir=$1 code=$2 type=${3:-ec}
	[[ "$code" =~ ^[A-Za-z0-9._-]{1,64}$ ]] || die "agency code '$code' must be 1-64 letters, digits, '.', '_' or '-'"
	[ -f "$dir/ca.crt" ] && [ -f "$dir/ca.key" ] || die "no CA in $dir: run 'deploy/pki.sh ca $dir' first"
	newkey "$dir/$code.key" "$type"
	local ext
	ext=$(mktemp)
	trap 'rm -f "$ext" "$dir/$code.csr"' RETURN
	cat >"$ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,nonRepudiation
extendedKeyUsage=clientAuth,emailProtection
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
	openssl req -new -key "$dir/$code.key" -out "$dir/$code.csr" \
		-subj "/O=lienthong demo/CN=$code" 2>/dev/null || die "cannot create the request for $code"
	openssl x509 -req -in "$dir/$code.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
		-CAcreateserial -out "$dir/$code.crt" -days "$days" -extfile "$ext" 2>/dev/null ||
		die "cannot issue the certificate for $code"
	echo "$dir/$code.crt"
}

case "${1:-}" in
ca)
	[ $# -eq 2 ] || die "usage: deploy/pki.sh ca DIR"
	cmd_ca "$2"
	;;
agency)
	[ $# -ge 3 ] && [ $# -le 4 ] || die "usage: deploy/pki.sh agency DIR CODE [ec|ed25519|rsa]"
	cmd_agency "$2" "$3" "${4:-ec}"
	;;
-h | --help | help)
	usage
	;;
*)
	usage >&2
	exit 2
	;;
esac
