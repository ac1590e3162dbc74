#include "lt_receipt.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "../pki/lt_hash.h"
#include "../text/lt_text.h"
#include "lt_batch.h"
#include "lt_canon.h"
#include "lt_envelope.h"

/* sign 0: encoded without its signature, digest of its canonical bytes (lt_receipt_build). */
static int lt_receipt_make(const struct lt_receipt_in *in, const struct lt_signer *signer, int sign,
                           uint8_t **out, size_t *len, uint8_t digest[LT_DIGEST_LEN], lt_err *err)
{
	Lienthong__Receipt r = LIENTHONG__RECEIPT__INIT;
	Lienthong__Signature sig = LIENTHONG__SIGNATURE__INIT;
	uint8_t *canon = NULL, *sigval = NULL, *buf = NULL;
	size_t canon_len = 0, sig_len = 0;
	char reason[LT_REASON_MAX + 1], comment[LT_REASON_MAX + 1], by[LT_REPORTED_BY_MAX + 1];
	int rc = -1;

	/*
	 * Reasons are bounded; longer ones are cut on a character boundary, never
	 * refused. Escaped, so that a name quoted from a bad record can neither
	 * carry control bytes to the sender nor make the receipt invalid UTF-8.
	 */
	lt_text_escape(in->reason ? in->reason : "", reason, sizeof reason);
	lt_text_escape(in->comment ? in->comment : "", comment, sizeof comment);
	lt_text_escape(in->reported_by ? in->reported_by : "", by, sizeof by);
	r.version = 1;
	r.document_id = (char *)in->document_id;
	r.sender = (char *)in->sender;
	r.recipient = (char *)signer->code;
	r.status = in->status;
	r.time_ms = in->time_ms;
	r.reason = reason;
	assert(in->document_digest != NULL);
	r.document_digest.data = (uint8_t *)in->document_digest;
	r.document_digest.len = LT_DIGEST_LEN;
	r.business_code = (char *)(in->business_code ? in->business_code : "");
	r.comment = comment;
	r.reported_by = by;
	if (lt_canon_receipt(&r, &canon, &canon_len, err) != 0 ||
	    (sign && lt_sign(signer, canon, canon_len, &sigval, &sig_len, err) != 0))
		goto out;
	if (digest != NULL)
		lt_sha256(canon, canon_len, digest);
	sig.algorithm = (char *)signer->algorithm;
	sig.signer_certificate.data = signer->cert_der;
	sig.signer_certificate.len = signer->cert_der_len;
	sig.value.data = sigval;
	sig.value.len = sig_len;
	r.signature = sign ? &sig : NULL;
	size_t n = lienthong__receipt__get_packed_size(&r);
	buf = malloc(n);
	if (buf == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		goto out;
	}
	lienthong__receipt__pack(&r, buf);
	*out = buf;
	*len = n;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	free(sigval);
	free(canon);
	return rc;
}

int lt_receipt_seal(const struct lt_receipt_in *in, const struct lt_signer *signer, uint8_t **out,
                    size_t *len, lt_err *err)
{
	return lt_receipt_make(in, signer, 1, out, len, NULL, err);
}

int lt_receipt_build(const struct lt_receipt_in *in, const struct lt_signer *signer, uint8_t **out,
                     size_t *len, uint8_t digest[32], lt_err *err)
{
	return lt_receipt_make(in, signer, 0, out, len, digest, err);
}

int lt_receipt_business_code(const char *code)
{
	static const char *const codes[] = {"01", "02", "03", "04", "05", "06", "15", "16"};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		if (strcmp(code, codes[i]) == 0)
			return 1;
	}
	return 0;
}

/* The business fields: a code exactly with RECEIPT_BUSINESS; bounded UTF-8 text. */
static int lt_receipt_check_business(const Lienthong__Receipt *r, lt_err *err)
{
	int business = r->status == LIENTHONG__RECEIPT_STATUS__RECEIPT_BUSINESS;
	if (business && !lt_receipt_business_code(r->business_code))
		return lt_err_set(err, LT_EINVAL,
		                  "business receipt has code '%.8s': not an edXML status a "
		                  "recipient reports (01..06, 15, 16)",
		                  r->business_code);
	if (!business && r->business_code[0] != '\0')
		return lt_err_set(err, LT_EINVAL, "%s receipt carries a business code",
		                  lt_receipt_status_name(r->status));
	if (!lt_utf8_valid(r->comment) || strlen(r->comment) > LT_REASON_MAX)
		return lt_err_set(err, LT_EINVAL,
		                  "receipt comment is not valid UTF-8 or longer than %d bytes",
		                  LT_REASON_MAX);
	if (!lt_utf8_valid(r->reported_by) || strlen(r->reported_by) > LT_REPORTED_BY_MAX)
		return lt_err_set(err, LT_EINVAL,
		                  "receipt reporter is not valid UTF-8 or longer than %d bytes",
		                  LT_REPORTED_BY_MAX);
	return 0;
}

static int lt_receipt_check(const Lienthong__Receipt *r, const struct lt_config *cfg, lt_err *err)
{
	if (r->version != 1)
		return lt_err_set(err, LT_EINVAL, "unsupported receipt version %u", r->version);
	if (lt_docid_check(r->document_id, err) != 0)
		return -1;
	if (lt_config_check_code(cfg, r->sender, err) != 0 ||
	    lt_config_check_code(cfg, r->recipient, err) != 0)
		return -1;
	if (r->status != LIENTHONG__RECEIPT_STATUS__RECEIPT_DELIVERED &&
	    r->status != LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED &&
	    r->status != LIENTHONG__RECEIPT_STATUS__RECEIPT_FAILED &&
	    r->status != LIENTHONG__RECEIPT_STATUS__RECEIPT_DEFERRED &&
	    r->status != LIENTHONG__RECEIPT_STATUS__RECEIPT_BUSINESS)
		return lt_err_set(err, LT_EINVAL, "receipt has unknown status %d", (int)r->status);
	if (lt_receipt_check_business(r, err) != 0)
		return -1;
	if (!lt_utf8_valid(r->reason))
		return lt_err_set(err, LT_EINVAL, "receipt reason is not valid UTF-8");
	if (strlen(r->reason) > LT_REASON_MAX)
		return lt_err_set(err, LT_EINVAL, "receipt reason longer than %d bytes",
		                  LT_REASON_MAX);
	if (r->document_digest.len != 0 && r->document_digest.len != LT_DIGEST_LEN)
		return lt_err_set(err, LT_EINVAL, "receipt document digest is not 32 bytes");
	if (r->signature == NULL)
		return lt_err_set(err, LT_EVERIFY, "receipt is not signed");
	return 0;
}

Lienthong__Receipt *lt_receipt_decode(const uint8_t *buf, size_t len, const struct lt_config *cfg,
                                      lt_err *err)
{
	if (len > (size_t)cfg->max_message_bytes) {
		lt_err_set(err, LT_EINVAL, "receipt of %zu bytes exceeds max_message_bytes (%lld)",
		           len, (long long)cfg->max_message_bytes);
		return NULL;
	}
	Lienthong__Receipt *r = lienthong__receipt__unpack(NULL, len, buf);
	if (r == NULL) {
		lt_err_set(err, LT_EINVAL, "malformed receipt: %zu bytes that do not decode", len);
		return NULL;
	}
	if (lt_receipt_check(r, cfg, err) == 0)
		return r;
	lienthong__receipt__free_unpacked(r, NULL);
	return NULL;
}

int lt_receipt_verify(const Lienthong__Receipt *r, const struct lt_trust *trust, lt_err *err)
{
	uint8_t *canon = NULL;
	size_t canon_len = 0;
	const Lienthong__Signature *s = r->signature;
	if (lt_canon_receipt(r, &canon, &canon_len, err) != 0)
		return -1;
	int rc = lt_batch_check(trust, r->recipient, s, canon, canon_len, r->time_ms, err);
	free(canon);
	return rc;
}

const char *lt_receipt_status_name(Lienthong__ReceiptStatus s)
{
	switch (s) {
	case LIENTHONG__RECEIPT_STATUS__RECEIPT_DELIVERED:
		return "delivered";
	case LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED:
		return "rejected";
	case LIENTHONG__RECEIPT_STATUS__RECEIPT_FAILED:
		return "failed";
	case LIENTHONG__RECEIPT_STATUS__RECEIPT_DEFERRED:
		return "deferred";
	case LIENTHONG__RECEIPT_STATUS__RECEIPT_BUSINESS:
		return "business";
	default:
		return "unspecified";
	}
}
