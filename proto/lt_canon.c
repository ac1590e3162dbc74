#include "lt_canon.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "../pki/lt_hash.h"

#define LT_CANON_ENVELOPE_MAGIC "lienthong-envelope-v2\n"
#define LT_CANON_RECEIPT_MAGIC "lienthong-receipt-v1\n"
#define LT_CANON_DIRECTORY_MAGIC "lienthong-directory-v1\n"
#define LT_CANON_HOP_MAGIC "lienthong-hop-v1\n"

/* A writer that only counts when p is NULL, so size and bytes come from one routine. */
struct lt_canon_w {
	uint8_t *p;
	size_t len;
};

static void lt_canon_raw(struct lt_canon_w *w, const void *data, size_t n)
{
	if (w->p != NULL && n > 0)
		memcpy(w->p + w->len, data, n);
	w->len += n;
}

static void lt_canon_be(struct lt_canon_w *w, uint64_t v, int bytes)
{
	uint8_t b[8];
	for (int i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	lt_canon_raw(w, b, (size_t)bytes);
}

static void lt_canon_bytes(struct lt_canon_w *w, const void *data, size_t n)
{
	lt_canon_be(w, (uint64_t)n, 4);
	lt_canon_raw(w, data, n);
}

static void lt_canon_str(struct lt_canon_w *w, const char *s)
{
	lt_canon_bytes(w, s, s ? strlen(s) : 0);
}

/* declared: each part's size and SHA-256 as the message declares them. */
static void lt_canon_envelope_fill(struct lt_canon_w *w, const Lienthong__Envelope *env,
                                   int declared)
{
	const Lienthong__Header *h = env->header;
	lt_canon_raw(w, LT_CANON_ENVELOPE_MAGIC, strlen(LT_CANON_ENVELOPE_MAGIC));
	lt_canon_str(w, h->document_id);
	lt_canon_str(w, h->sender);
	lt_canon_be(w, h->n_recipients, 4);
	for (size_t i = 0; i < h->n_recipients; i++)
		lt_canon_str(w, h->recipients[i]);
	lt_canon_str(w, h->subject);
	lt_canon_str(w, h->document_number);
	lt_canon_be(w, (uint64_t)h->created_at_ms, 8);
	lt_canon_be(w, (uint64_t)h->expires_at_ms, 8);
	lt_canon_str(w, h->replaces_id);
	lt_canon_be(w, (uint32_t)h->business_type, 4);
	lt_canon_be(w, h->n_meta, 4);
	for (size_t i = 0; i < h->n_meta; i++) {
		lt_canon_str(w, h->meta[i]->key);
		lt_canon_str(w, h->meta[i]->value);
	}
	lt_canon_be(w, env->n_parts, 4);
	for (size_t i = 0; i < env->n_parts; i++) {
		const Lienthong__Part *part = env->parts[i];
		uint8_t digest[SHA256_DIGEST_LENGTH];
		lt_canon_str(w, part->name);
		lt_canon_str(w, part->media_type);
		/* A streamed part's bytes are not here: only its declarations can be signed. */
		if ((declared || part->chunk_bytes > 0) && part->sha256.len == sizeof digest) {
			lt_canon_be(w, part->size, 8);
			lt_canon_raw(w, part->sha256.data, sizeof digest);
		} else {
			lt_canon_be(w, part->data.len, 8);
			if (w->p != NULL)
				lt_sha256(part->data.data, part->data.len, digest);
			lt_canon_raw(w, digest, sizeof digest);
		}
		lt_canon_be(w, part->chunk_bytes, 4);
		if (part->chunk_bytes > 0) {
			if (w->p != NULL)
				lt_sha256(part->chunk_sha256.data, part->chunk_sha256.len, digest);
			lt_canon_raw(w, digest, sizeof digest);
		}
	}
}

static void lt_canon_envelope_w(struct lt_canon_w *w, const void *msg)
{
	lt_canon_envelope_fill(w, msg, 0);
}

static void lt_canon_envelope_declared_w(struct lt_canon_w *w, const void *msg)
{
	lt_canon_envelope_fill(w, msg, 1);
}

static void lt_canon_receipt_w(struct lt_canon_w *w, const void *msg)
{
	const Lienthong__Receipt *r = msg;
	lt_canon_raw(w, LT_CANON_RECEIPT_MAGIC, strlen(LT_CANON_RECEIPT_MAGIC));
	lt_canon_str(w, r->document_id);
	lt_canon_str(w, r->sender);
	lt_canon_str(w, r->recipient);
	lt_canon_be(w, (uint32_t)r->status, 4);
	lt_canon_be(w, (uint64_t)r->time_ms, 8);
	lt_canon_str(w, r->reason);
	lt_canon_bytes(w, r->document_digest.data, r->document_digest.len);
	lt_canon_str(w, r->business_code);
	lt_canon_str(w, r->comment);
	lt_canon_str(w, r->reported_by);
}

static void lt_canon_directory_w(struct lt_canon_w *w, const void *msg)
{
	const Lienthong__DirectoryEntry *e = msg;
	lt_canon_raw(w, LT_CANON_DIRECTORY_MAGIC, strlen(LT_CANON_DIRECTORY_MAGIC));
	lt_canon_str(w, e->code);
	lt_canon_str(w, e->platform);
	lt_canon_bytes(w, e->certificate.data, e->certificate.len);
	lt_canon_be(w, e->serial, 8);
	lt_canon_be(w, (uint64_t)e->issued_at_ms, 8);
	lt_canon_be(w, e->withdrawn ? 1 : 0, 4);
}

struct lt_canon_hop_in {
	const uint8_t *digest;
	const Lienthong__Hop *hop;
};

static void lt_canon_hop_w(struct lt_canon_w *w, const void *msg)
{
	const struct lt_canon_hop_in *in = msg;
	lt_canon_raw(w, LT_CANON_HOP_MAGIC, strlen(LT_CANON_HOP_MAGIC));
	lt_canon_raw(w, in->digest, 32);
	lt_canon_str(w, in->hop->relay);
	lt_canon_str(w, in->hop->from_platform);
	lt_canon_str(w, in->hop->to_platform);
	lt_canon_be(w, (uint64_t)in->hop->at_ms, 8);
}

/* Runs fill twice: once counting, once writing into a buffer of the counted size. */
static int lt_canon_build(void (*fill)(struct lt_canon_w *, const void *), const void *msg,
                          uint8_t **out, size_t *len, lt_err *err)
{
	struct lt_canon_w w = {0};
	fill(&w, msg);
	w.p = malloc(w.len ? w.len : 1);
	if (w.p == NULL)
		return lt_err_set(err, LT_EIO, "out of memory for %zu canonical bytes", w.len);
	w.len = 0;
	fill(&w, msg);
	*out = w.p;
	*len = w.len;
	return 0;
}

int lt_canon_envelope(const Lienthong__Envelope *env, uint8_t **out, size_t *len, lt_err *err)
{
	if (env->header == NULL)
		return lt_err_set(err, LT_EINVAL, "envelope has no header");
	return lt_canon_build(lt_canon_envelope_w, env, out, len, err);
}

int lt_canon_envelope_declared(const Lienthong__Envelope *env, uint8_t **out, size_t *len,
                               lt_err *err)
{
	if (env->header == NULL)
		return lt_err_set(err, LT_EINVAL, "envelope has no header");
	return lt_canon_build(lt_canon_envelope_declared_w, env, out, len, err);
}

int lt_canon_receipt(const Lienthong__Receipt *r, uint8_t **out, size_t *len, lt_err *err)
{
	return lt_canon_build(lt_canon_receipt_w, r, out, len, err);
}

int lt_canon_directory(const Lienthong__DirectoryEntry *e, uint8_t **out, size_t *len, lt_err *err)
{
	return lt_canon_build(lt_canon_directory_w, e, out, len, err);
}

int lt_canon_hop(const uint8_t digest[32], const Lienthong__Hop *hop, uint8_t **out, size_t *len,
                 lt_err *err)
{
	struct lt_canon_hop_in in = {.digest = digest, .hop = hop};
	return lt_canon_build(lt_canon_hop_w, &in, out, len, err);
}
