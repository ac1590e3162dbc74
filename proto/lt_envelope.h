/*
 * lt_envelope: building, sealing (signing), decoding and verifying document
 * envelopes, and document ids.
 *
 * Decoding is split from verification: lt_envelope_decode checks that the
 * bytes are a well-formed, bounded envelope (sizes, counts, names, codes);
 * lt_envelope_verify checks the signature and the signer certificate. A
 * record failing either is never delivered; the error text is the reason
 * recorded in quarantine and in the rejected receipt.
 *
 * Ownership: lt_envelope_seal and lt_chunk_pack return a malloc'd buffer the
 * caller frees; lt_envelope_decode
 * returns a protobuf-c message the caller frees with
 * lienthong__envelope__free_unpacked(env, NULL). Thread-safe.
 */
#ifndef LT_ENVELOPE_H
#define LT_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "../config/lt_config.h"
#include "../errors/lt_err.h"
#include "lienthong.pb-c.h"
#include "lt_sign.h"

#define LT_DOCID_LEN 36
#define LT_RECIPIENTS_MAX 1000
#define LT_SUBJECT_MAX 1024
#define LT_PART_NAME_MAX 255
#define LT_DIGEST_LEN 32

/*
 * A part to seal: its bytes (data, len), or a streamed part (chunk_bytes > 0):
 * data NULL, len its size, sha256 its SHA-256 and chunk_sha256 the SHA-256 of
 * each of its ceil(len / chunk_bytes) chunks, computed while it was read
 * (producers/lt_spool.h); its bytes travel in Chunk records.
 */
struct lt_part_in {
	const char *name;
	const char *media_type;
	const uint8_t *data;
	size_t len;
	uint32_t chunk_bytes;
	const uint8_t *sha256;
	const uint8_t *chunk_sha256;
};

#define LT_META_MAX 256         /* meta fields of one header */
#define LT_META_KEY_MAX 64      /* bytes of a key: [A-Za-z0-9._-] */
#define LT_META_VALUE_MAX 4096  /* bytes of a value: UTF-8 */
#define LT_META_TOTAL_MAX 65536 /* bytes of all keys and values */

/* A signed metadata field (Header.meta): edXML header fields and the like. */
struct lt_meta_in {
	const char *key;
	const char *value;
};

struct lt_envelope_in {
	const char *document_id;
	const char *const *recipients;
	size_t n_recipients;
	const char *subject;
	const char *document_number;
	int64_t created_at_ms;
	int64_t expires_at_ms;
	const char *replaces_id;
	Lienthong__BusinessType business_type; /* NEW (0) unless replaces_id is set */
	const struct lt_part_in *parts;
	size_t n_parts;
	struct stack_st_X509 *encrypt_to; /* recipients' certificates, or NULL: see lt_crypt.h */
	const struct lt_meta_in *meta;    /* signed in this order; keys unique */
	size_t n_meta;
};

/* A new time-ordered (UUIDv7) document id, 36 characters plus NUL. */
int lt_docid_new(char out[LT_DOCID_LEN + 1], lt_err *err);
/* 0 if s is a well-formed document id. */
int lt_docid_check(const char *s, lt_err *err);
/* 1 if s is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
int lt_utf8_valid(const char *s);
/* 0 if s is an acceptable part (file) name: UTF-8, no path, no control character. */
int lt_part_name_check(const char *s, lt_err *err);

/*
 * Signs and encodes; the sender is the signer's agency code. digest (may be
 * NULL) receives the SHA-256 of the canonical bytes.
 */
int lt_envelope_seal(const struct lt_envelope_in *in, const struct lt_signer *signer,
                     const struct lt_config *cfg, uint8_t **out, size_t *len,
                     uint8_t digest[LT_DIGEST_LEN], lt_err *err);

/*
 * lt_envelope_seal without the signature: the encoded envelope (all but
 * field 4) and its digest, to be signed with others (lt_batch_seal, field
 * LT_BATCH_FIELD_ENVELOPE).
 */
int lt_envelope_build(const struct lt_envelope_in *in, const struct lt_signer *signer,
                      const struct lt_config *cfg, uint8_t **out, size_t *len,
                      uint8_t digest[LT_DIGEST_LEN], lt_err *err);

/* Smallest chunk; the largest leaves LT_CHUNK_OVERHEAD bytes of max_message_bytes. */
#define LT_CHUNK_MIN 4096
#define LT_CHUNK_OVERHEAD 1024

/* Number of chunks of a streamed part (0 for a part carried in the envelope). */
uint64_t lt_part_chunks(uint64_t size, uint32_t chunk_bytes);

/*
 * Decodes and checks structure and bounds. *env is set whenever the bytes
 * decode as protobuf, even if a check then fails (so the caller can name the
 * document and sender in its rejection); the caller frees it.
 */
int lt_envelope_decode(const uint8_t *buf, size_t len, const struct lt_config *cfg,
                       Lienthong__Envelope **env, lt_err *err);

/*
 * Decodes a record of an inbox topic: a document envelope (checked as by
 * lt_envelope_decode) or a chunk record (env->chunk set, nothing else: its
 * ids, part and chunk numbers and size are checked against the limits; its
 * bytes only lt_chunk_check can judge, against the verified envelope).
 */
int lt_envelope_decode_any(const uint8_t *buf, size_t len, const struct lt_config *cfg,
                           Lienthong__Envelope **env, lt_err *err);

/*
 * Encodes a chunk record: an Envelope holding only version 1 and the chunk
 * (len bytes of data: chunk index of streamed part `part` of the document).
 * *out is malloc'd (*out_len bytes); the caller frees it.
 */
int lt_chunk_pack(const char *document_id, const char *sender, uint32_t part, uint32_t index,
                  const uint8_t *data, size_t len, uint8_t **out, size_t *out_len, lt_err *err);
/* The same into out[cap]: its length, 0 when it would not fit. */
size_t lt_chunk_pack_into(const char *document_id, const char *sender, uint32_t part,
                          uint32_t index, const uint8_t *data, size_t len, uint8_t *out,
                          size_t cap);

/*
 * Whether chunk c belongs to the verified envelope env: same document and
 * sender, an existing streamed part and chunk number, the expected length,
 * and the SHA-256 the signed envelope lists for it. LT_EVERIFY otherwise.
 */
int lt_chunk_check(const Lienthong__Envelope *env, const Lienthong__Chunk *c, lt_err *err);

/*
 * Checks signature, signer certificate and part digests; fills the document
 * digest. LT_EAGAIN: everything holds (digest filled) but the signer's
 * revocation cannot be checked yet (a stale CRL): wait, do not refuse.
 */
int lt_envelope_verify(const Lienthong__Envelope *env, const struct lt_trust *trust,
                       uint8_t digest[LT_DIGEST_LEN], lt_err *err);

/*
 * The same checks for an envelope as its sender sealed it: parts encrypted to
 * the recipients are taken as they are (the signature covers their declared
 * SHA-256, which only a recipient can compare with the plaintext).
 */
int lt_envelope_verify_sealed(const Lienthong__Envelope *env, const struct lt_trust *trust,
                              uint8_t digest[LT_DIGEST_LEN], lt_err *err);

#endif
