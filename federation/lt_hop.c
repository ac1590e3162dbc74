#include "lt_hop.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "../pki/lt_hash.h"
#include "../pki/lt_pki.h"
#include "../proto/lt_canon.h"

/* Protobuf: field 6, wire type 2 (length-delimited). */
#define LT_HOP_ENVELOPE_TAG 0x32

static size_t lt_hop_varint(uint64_t v, uint8_t *out)
{
	size_t n = 0;
	do {
		out[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v != 0)
			out[n] |= 0x80;
		n++;
	} while (v != 0);
	return n;
}

int lt_hop_make(const Lienthong__Envelope *env, const uint8_t *value, size_t len,
                const char *recipient, const struct lt_hop_in *in, const struct lt_signer *relay,
                uint8_t **rec, size_t *rec_len, uint8_t **notice, size_t *notice_len, lt_err *err)
{
	Lienthong__Hop hop = LIENTHONG__HOP__INIT;
	Lienthong__Signature sig = LIENTHONG__SIGNATURE__INIT;
	Lienthong__Receipt r = LIENTHONG__RECEIPT__INIT;
	Lienthong__Hop *hops[1] = {&hop};
	uint8_t digest[SHA256_DIGEST_LENGTH], *canon = NULL, *value_sig = NULL;
	size_t canon_len, sig_len;
	int rc = -1;
	*rec = *notice = NULL;
	if (lt_canon_envelope_declared(env, &canon, &canon_len, err) != 0)
		return -1;
	lt_sha256(canon, canon_len, digest);
	free(canon);
	canon = NULL;
	hop.relay = (char *)relay->code;
	hop.from_platform = (char *)in->from_platform;
	hop.to_platform = (char *)in->to_platform;
	hop.at_ms = in->at_ms;
	if (lt_canon_hop(digest, &hop, &canon, &canon_len, err) != 0 ||
	    lt_sign(relay, canon, canon_len, &value_sig, &sig_len, err) != 0)
		goto out;
	sig.algorithm = (char *)relay->algorithm;
	sig.signer_certificate.data = relay->cert_der;
	sig.signer_certificate.len = relay->cert_der_len;
	sig.value.data = value_sig;
	sig.value.len = sig_len;
	hop.signature = &sig;
	size_t hop_len = lienthong__hop__get_packed_size(&hop);
	uint8_t head[11];
	head[0] = LT_HOP_ENVELOPE_TAG;
	size_t head_len = 1 + lt_hop_varint(hop_len, head + 1);
	*rec_len = len + head_len + hop_len;
	*rec = malloc(*rec_len);
	r.version = 1;
	r.document_id = env->header->document_id;
	r.sender = env->header->sender;
	r.recipient = (char *)recipient;
	r.status = LIENTHONG__RECEIPT_STATUS__RECEIPT_HOP;
	r.time_ms = in->at_ms;
	r.document_digest.data = digest;
	r.document_digest.len = sizeof digest;
	r.n_hops = 1;
	r.hops = hops;
	*notice_len = lienthong__receipt__get_packed_size(&r);
	*notice = malloc(*notice_len);
	if (*rec == NULL || *notice == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		goto out;
	}
	memcpy(*rec, value, len);
	memcpy(*rec + len, head, head_len);
	lienthong__hop__pack(&hop, *rec + len + head_len);
	lienthong__receipt__pack(&r, *notice);
	rc = 0;
out:
	if (rc != 0) {
		free(*rec);
		free(*notice);
		*rec = *notice = NULL;
	}
	free(canon);
	free(value_sig);
	return rc;
}

int lt_hop_verify(const Lienthong__Hop *hop, const uint8_t digest[32], const struct lt_trust *trust,
                  lt_err *err)
{
	char cn[LT_CODE_MAX + 1];
	uint8_t *canon = NULL;
	size_t canon_len;
	const Lienthong__Signature *s = hop->signature;
	if (s == NULL || s->value.len == 0 || s->value.len > LT_SIG_MAX)
		return lt_err_set(err, LT_EVERIFY, "hop record is not signed");
	if (strlen(hop->relay) > LT_CODE_MAX || strlen(hop->from_platform) > LT_CODE_MAX ||
	    strlen(hop->to_platform) > LT_CODE_MAX)
		return lt_err_set(err, LT_EINVAL, "hop record with a name longer than %d bytes",
		                  LT_CODE_MAX);
	if (lt_canon_hop(digest, hop, &canon, &canon_len, err) != 0)
		return -1;
	int rc = lt_sign_check_purpose(trust, LT_PKI_RELAY_OID, "relay", s->algorithm,
	                               s->signer_certificate.data, s->signer_certificate.len, canon,
	                               canon_len, s->value.data, s->value.len, cn, sizeof cn, err);
	free(canon);
	if (rc != 0)
		return lt_err_wrap(err, "hop record of relay %.64s", hop->relay);
	if (strcmp(cn, hop->relay) != 0)
		return lt_err_set(err, LT_EVERIFY,
		                  "hop record names relay %.64s but is signed by %s", hop->relay,
		                  cn);
	return 0;
}
