#!/usr/bin/env bash
# pki.sh: a demo certificate authority and agency certificates for lienthong.
#
#   deploy/pki.sh ca DIR [NAME]          DIR/ca.key, DIR/ca.crt (ECDSA P-256 root, CN NAME,
#                                        default "lienthong demo CA")
#   deploy/pki.sh intermediate DIR SUB [NAME]  SUB/ca.key, SUB/ca.crt: a CA issued by DIR's
#                                        (issue agencies from SUB; trust DIR/ca.crt + SUB/ca.crt)
#   deploy/pki.sh agency DIR CODE [KEYTYPE] [--days N | --start TIME --end TIME]
#                                        DIR/CODE.key, DIR/CODE.crt issued by DIR/ca.*
#   deploy/pki.sh server DIR NAME        DIR/NAME.key, DIR/NAME.crt for a TLS server on
#                                        127.0.0.1 (the local Kafka broker), CN = NAME
#   deploy/pki.sh client DIR NAME        DIR/NAME.key, DIR/NAME.crt for a Kafka TLS client
#                                        that is no agency (a super user such as ADMIN)
#   deploy/pki.sh directory DIR NAME     DIR/NAME.key, DIR/NAME.crt: a directory signer of a
#                                        platform operator (signs directory entries only;
#                                        Kafka TLS client)
#   deploy/pki.sh relay DIR NAME         DIR/NAME.key, DIR/NAME.crt: a relay between two
#                                        platforms (signs hop records; Kafka TLS client)
#   deploy/pki.sh revoke DIR CODE        revokes DIR/CODE.crt and rewrites DIR/crl.pem
#   deploy/pki.sh crl DIR [--seconds N]  (re)writes DIR/crl.pem, the CA's current CRL (valid
#                                        30 days, or N seconds: to test an expiring CRL)
#
# KEYTYPE: ec (ECDSA P-256, default), ed25519 or rsa (3072 bits). TIME is
# YYYYMMDDHHMMSSZ (UTC), to make certificates that are expired or not yet
# valid. The agency certificate names the agency code in its subject CN (the
# field lienthong checks), allows digitalSignature and nonRepudiation, and
# carries the extended key usages clientAuth (Kafka TLS) and lienthong's
# document-signing purpose 2.25.69132503926791855514943689871763486380
# (lienthong accepts documents and receipts only from certificates with it).
# Server and client certificates do not carry that purpose: they cannot sign
# documents. Directory signer and relay certificates carry only their own
# purpose (2.25.259381853905519169409729357295230766296 signs directory
# entries, 2.25.230319573196597361979453267187214825236 hop records), and
# agency certificates neither. Keys are unencrypted PEM (PKCS#8), created mode 0600 (umask 077).
# For production, use the agencies' real CA.
set -euo pipefail

die() {
	echo "pki.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'
}

days=${LT_PKI_DAYS:-825}

# lienthong's agency document-signing purpose (pki/lt_pki.h LT_PKI_SIGNING_OID).
signing_oid=2.25.69132503926791855514943689871763486380
directory_oid=2.25.259381853905519169409729357295230766296
relay_oid=2.25.230319573196597361979453267187214825236

newkey() { # path type: the key is never readable by others, not even while written
	(
		umask 077
		case "$2" in
		ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null ;;
		ed25519) openssl genpkey -algorithm ED25519 -out "$1" 2>/dev/null ;;
		rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$1" 2>/dev/null ;;
		*) die "unknown key type '$2' (use ec, ed25519 or rsa)" ;;
		esac
	)
	chmod 600 "$1"
}

# The openssl ca database beside the CA (created once, also for older CA folders).
ca_db() {
	local dir=$1
	mkdir -p "$dir/issued"
	[ -f "$dir/index.txt" ] || : >"$dir/index.txt"
	[ -f "$dir/serial" ] || openssl rand -hex 16 >"$dir/serial"
	[ -f "$dir/crlnumber" ] || echo 1000 >"$dir/crlnumber"
	cat >"$dir/ca.cnf" <<CNF
[ ca ]
default_ca = demo
[ demo ]
dir = $dir
database = \$dir/index.txt
new_certs_dir = \$dir/issued
certificate = \$dir/ca.crt
private_key = \$dir/ca.key
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = $days
default_crl_days = 30
policy = any
unique_subject = no
copy_extensions = none
[ any ]
organizationName = optional
commonName = supplied
[ agency ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = clientAuth,$signing_oid
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ client ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ directory ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth,$directory_oid
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ relay ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth,$relay_oid
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ intermediate ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ server ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
}

cmd_ca() {
	local dir=$1 name=${2:-lienthong demo CA}
	[[ "$name" =~ ^[A-Za-z0-9\ ._-]{1,64}$ ]] || die "CA name '$name' must be 1-64 letters, digits, spaces, '.', '_' or '-'"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ ! -f "$dir/ca.crt" ]; then
		newkey "$dir/ca.key" ec
		openssl req -new -x509 -key "$dir/ca.key" -out "$dir/ca.crt" -days "$days" \
			-subj "/O=lienthong demo/CN=$name" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null ||
			die "cannot create the CA certificate in $dir"
	fi
	ca_db "$dir"
	echo "$dir/ca.crt"
}

cmd_agency() {
	local dir code type=ec validity=() ext=${LT_PKI_EXTENSIONS:-agency}
	dir=$(cd "$1" 2>/dev/null && pwd) || die "no folder $1: run 'deploy/pki.sh ca $1' first"
	code=$2
	shift 2
	while [ $# -gt 0 ]; do
		case "$1" in
		ec | ed25519 | rsa) type=$1 ;;
		--days) validity+=(-days "${2:?--days needs a number}"); shift ;;
		--start) validity+=(-startdate "${2:?--start needs YYYYMMDDHHMMSSZ}"); shift ;;
		--end) validity+=(-enddate "${2:?--end needs YYYYMMDDHHMMSSZ}"); shift ;;
		*) die "unknown option '$1'" ;;
		esac
		shift
	done
	[[ "$code" =~ ^[A-Za-z0-9._-]{1,64}$ ]] || die "agency code '$code' must be 1-64 letters, digits, '.', '_' or '-'"
	[ -f "$dir/ca.crt" ] && [ -f "$dir/ca.key" ] || die "no CA in $dir: run 'deploy/pki.sh ca $dir' first"
	ca_db "$dir"
	newkey "$dir/$code.key" "$type"
	openssl req -new -key "$dir/$code.key" -out "$dir/$code.csr" \
		-subj "/O=lienthong demo/CN=$code" 2>/dev/null || die "cannot create the request for $code"
	openssl ca -batch -notext -config "$dir/ca.cnf" -extensions "$ext" "${validity[@]}" \
		-in "$dir/$code.csr" -out "$dir/$code.crt" 2>"$dir/.openssl.err" ||
		die "cannot issue the certificate for $code: $(tail -n 3 "$dir/.openssl.err")"
	rm -f "$dir/$code.csr" "$dir/.openssl.err"
	echo "$dir/$code.crt"
}

cmd_intermediate() {
	local parent sub=$2 name=${3:-lienthong intermediate CA}
	parent=$(cd "$1" 2>/dev/null && pwd) || die "no folder $1"
	[ -f "$parent/ca.cnf" ] || die "no CA in $parent: run 'deploy/pki.sh ca $1' first"
	mkdir -p "$sub"
	sub=$(cd "$sub" && pwd)
	if [ ! -f "$sub/ca.crt" ]; then
		newkey "$sub/ca.key" ec
		openssl req -new -key "$sub/ca.key" -out "$sub/ca.csr" -subj "/O=lienthong demo/CN=$name" \
			2>/dev/null || die "cannot create the request for $sub"
		openssl ca -batch -notext -config "$parent/ca.cnf" -extensions intermediate \
			-in "$sub/ca.csr" -out "$sub/ca.crt" 2>/dev/null || die "cannot issue $sub/ca.crt"
		rm -f "$sub/ca.csr"
	fi
	ca_db "$sub"
	echo "$sub/ca.crt"
}

cmd_crl() {
	local dir=$1 seconds=${2:-}
	[ -f "$dir/ca.cnf" ] || die "no CA in $dir"
	openssl ca -batch -config "$dir/ca.cnf" -gencrl ${seconds:+-crlsec "$seconds"} \
		-out "$dir/crl.pem" 2>/dev/null ||
		die "cannot write the CRL of $dir"
	echo "$dir/crl.pem"
}

cmd_revoke() {
	local dir=$1 code=$2
	[ -f "$dir/$code.crt" ] || die "no certificate $dir/$code.crt"
	ca_db "$(cd "$dir" && pwd)"
	openssl ca -batch -config "$dir/ca.cnf" -revoke "$dir/$code.crt" 2>/dev/null ||
		die "cannot revoke $dir/$code.crt"
	cmd_crl "$dir"
}

case "${1:-}" in
ca)
	[ $# -eq 2 ] || [ $# -eq 3 ] || die "usage: deploy/pki.sh ca DIR [NAME]"
	cmd_ca "$2" "${3:-}"
	;;
agency)
	[ $# -ge 3 ] || die "usage: deploy/pki.sh agency DIR CODE [ec|ed25519|rsa] [--days N | --start T --end T]"
	shift
	cmd_agency "$@"
	;;
intermediate)
	[ $# -eq 3 ] || [ $# -eq 4 ] || die "usage: deploy/pki.sh intermediate DIR SUB [NAME]"
	cmd_intermediate "$2" "$3" "${4:-}"
	;;
server)
	[ $# -eq 3 ] || die "usage: deploy/pki.sh server DIR NAME"
	LT_PKI_EXTENSIONS=server cmd_agency "$2" "$3" ec
	;;
client)
	[ $# -eq 3 ] || die "usage: deploy/pki.sh client DIR NAME"
	LT_PKI_EXTENSIONS=client cmd_agency "$2" "$3" ec
	;;
directory | relay)
	[ $# -eq 3 ] || die "usage: deploy/pki.sh $1 DIR NAME"
	LT_PKI_EXTENSIONS=$1 cmd_agency "$2" "$3" ec
	;;
revoke)
	[ $# -eq 3 ] || die "usage: deploy/pki.sh revoke DIR CODE"
	cmd_revoke "$2" "$3"
	;;
crl)
	[ $# -eq 2 ] || { [ $# -eq 4 ] && [ "$3" = --seconds ]; } ||
		die "usage: deploy/pki.sh crl DIR [--seconds N]"
	cmd_crl "$2" "${4:-}"
	;;
-h | --help | help)
	usage
	;;
*)
	usage >&2
	exit 2
	;;
esac
