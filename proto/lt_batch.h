/*
 * lt_batch: batch signatures. One signature covers many records (document
 * envelopes, receipts): it signs the root of a Merkle tree over their
 * digests, and each record carries its own inclusion proof in its Signature
 * (batch_size, batch_index, batch_path), so it stays verifiable alone and
 * reveals nothing of the other records but hashes (docs/WIRE.md section 3.4):
 *
 *   d           = SHA-256 of the record's canonical bytes (lt_canon.h)
 *   leaf(d)     = SHA-256(0x00 || d)
 *   node(l, r)  = SHA-256(0x01 || l || r)
 *   MTH(D[0:1]) = leaf(d0); for n > 1, k the largest power of two below n:
 *   MTH(D[0:n]) = node(MTH(D[0:k]), MTH(D[k:n]))          (RFC 9162 2.1.1)
 *   signed      = "lienthong-batch-v1\n" || u32(n) || MTH(D[0:n])
 *
 * A proof is checked as RFC 9162 2.1.3.2 says (its length must fit
 * batch_index and batch_size exactly). Signing costs one signature per batch;
 * checking costs one signature verification per batch and process: a
 * verified (algorithm, certificate, signed message, signature) is remembered
 * by the trust store (lt_trust_sig_known), while the certificate checks
 * (chain, revocation, purpose, the CN and the validity at the signing time)
 * are made for every record.
 *
 * Ownership: lt_batch_sign fills a struct lt_batch that the caller releases
 * with lt_batch_free; lt_batch_signature points into it. Thread-safe.
 */
#ifndef LT_BATCH_H
#define LT_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "../errors/lt_err.h"
#include "lienthong.pb-c.h"
#include "lt_sign.h"

#define LT_BATCH_MAX 65536 /* leaves of one batch */
#define LT_BATCH_DEPTH 16  /* longest proof: log2(LT_BATCH_MAX) */
#define LT_BATCH_HASH 32

struct lt_batch {
	const struct lt_signer *signer;
	size_t n;
	uint8_t *value; /* the signature over the signed message */
	size_t value_len;
	uint8_t (*path)[LT_BATCH_DEPTH][LT_BATCH_HASH]; /* n proofs, each from the leaf up */
	uint8_t *depth;                                 /* n proof lengths */
};

/* Signs the n (1..LT_BATCH_MAX) records whose digests are given, in this order. */
int lt_batch_sign(const struct lt_signer *s, const uint8_t (*digests)[LT_BATCH_HASH], size_t n,
                  struct lt_batch *b, lt_err *err);
void lt_batch_free(struct lt_batch *b);

/* The Signature of record i of b; its proof points into path[] (LT_BATCH_DEPTH entries). */
void lt_batch_signature(const struct lt_batch *b, size_t i, Lienthong__Signature *sig,
                        ProtobufCBinaryData path[LT_BATCH_DEPTH]);

/*
 * Appends sig, encoded, as field `field` (wire type 2) to the protobuf
 * message in *buf (*len bytes; realloc'd): the message then decodes with
 * that signature. LT_EFULL if the result would exceed max_len bytes.
 */
int lt_batch_attach(uint8_t **buf, size_t *len, uint32_t field, const Lienthong__Signature *sig,
                    size_t max_len, lt_err *err);

#define LT_BATCH_FIELD_ENVELOPE 4 /* Envelope.signature */
#define LT_BATCH_FIELD_RECEIPT 10 /* Receipt.signature */

/*
 * Signs n records encoded without their signature (recs[i], lens[i] bytes,
 * digests[i] the SHA-256 of their canonical bytes: lt_envelope_build,
 * lt_receipt_build) with one batch signature and appends each one's
 * Signature as field `field`: recs[i] is realloc'd. A record the signature
 * would take above max_len bytes is freed, recs[i] set to NULL and errs[i]
 * says why; the others are signed. -1 (err) if nothing could be signed.
 */
int lt_batch_seal(uint8_t **recs, size_t *lens, const uint8_t (*digests)[LT_BATCH_HASH], size_t n,
                  uint32_t field, const struct lt_signer *signer, size_t max_len, lt_err *errs,
                  lt_err *err);

/*
 * The whole check of a record's signature, either form: plain (batch_size
 * 0: value signs canon) or batch (the proof from SHA-256(canon) up to a
 * root, and value over the signed message of that root), and the signer as
 * lt_sign_check_at requires (expected_code, signed_at_ms). LT_EVERIFY says
 * which part failed; LT_EAGAIN as lt_sign_check_at.
 */
int lt_batch_check(const struct lt_trust *trust, const char *expected_code,
                   const Lienthong__Signature *sig, const uint8_t *canon, size_t canon_len,
                   int64_t signed_at_ms, lt_err *err);

/* The root that a proof leads to from digest d, or LT_EVERIFY (exposed for the tests). */
int lt_batch_fold(const uint8_t d[LT_BATCH_HASH], uint32_t size, uint32_t index,
                  const ProtobufCBinaryData *path, size_t n_path, uint8_t root[LT_BATCH_HASH],
                  lt_err *err);

#endif
