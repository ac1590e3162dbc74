/*
 * lt_receipt: signed receipts, issued by a recipient agency for a document
 * and sent to the sender's receipt topic.
 *
 * Ownership: lt_receipt_seal returns a malloc'd buffer; lt_receipt_decode
 * returns a message freed with lienthong__receipt__free_unpacked(r, NULL).
 * Thread-safe.
 */
#ifndef LT_RECEIPT_H
#define LT_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "../config/lt_config.h"
#include "../errors/lt_err.h"
#include "lienthong.pb-c.h"
#include "lt_sign.h"

#define LT_REASON_MAX 1000
#define LT_REPORTED_BY_MAX 200

struct lt_receipt_in {
	const char *document_id;
	const char *sender; /* the document's sender, who receives the receipt */
	Lienthong__ReceiptStatus status;
	int64_t time_ms;
	const char *reason;
	const uint8_t *document_digest; /* 32 bytes: the canonical digest of the document */
	/* RECEIPT_BUSINESS only: the edXML code, and the comment and reporter (may be NULL). */
	const char *business_code;
	const char *comment;
	const char *reported_by;
};

/*
 * Signs and encodes; the recipient is the signer's agency code. A receipt
 * always names the digest of the document it is about (senders ignore
 * receipts without it): document_digest must be set. Comment and reporter
 * are bounded and escaped like the reason.
 */
int lt_receipt_seal(const struct lt_receipt_in *in, const struct lt_signer *signer, uint8_t **out,
                    size_t *len, lt_err *err);

/*
 * lt_receipt_seal without the signature: the encoded receipt (no field 10)
 * and the SHA-256 of its canonical bytes, to be signed with others
 * (lt_batch_seal, field LT_BATCH_FIELD_RECEIPT).
 */
int lt_receipt_build(const struct lt_receipt_in *in, const struct lt_signer *signer, uint8_t **out,
                     size_t *len, uint8_t digest[32], lt_err *err);

/*
 * 1 if code is an edXML status a recipient reports in a business receipt:
 * 01..06, 15, 16 (13 is the sender's own).
 */
int lt_receipt_business_code(const char *code);

Lienthong__Receipt *lt_receipt_decode(const uint8_t *buf, size_t len, const struct lt_config *cfg,
                                      lt_err *err);

/* Checks the receipt's signature and that its signer is the recipient it names. */
int lt_receipt_verify(const Lienthong__Receipt *r, const struct lt_trust *trust, lt_err *err);

const char *lt_receipt_status_name(Lienthong__ReceiptStatus s);

#endif
