#include "lt_batch.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "../pki/lt_hash.h"

#define LT_BATCH_PREFIX "lienthong-batch-v1\n"
#define LT_BATCH_MSG_LEN (sizeof LT_BATCH_PREFIX - 1 + 4 + LT_BATCH_HASH)

static void lt_batch_leaf(const uint8_t d[LT_BATCH_HASH], uint8_t out[LT_BATCH_HASH])
{
	uint8_t in[1 + LT_BATCH_HASH] = {0x00};
	memcpy(in + 1, d, LT_BATCH_HASH);
	lt_sha256(in, sizeof in, out);
}

static void lt_batch_node(const uint8_t l[LT_BATCH_HASH], const uint8_t r[LT_BATCH_HASH],
                          uint8_t out[LT_BATCH_HASH])
{
	uint8_t in[1 + 2 * LT_BATCH_HASH] = {0x01};
	memcpy(in + 1, l, LT_BATCH_HASH);
	memcpy(in + 1 + LT_BATCH_HASH, r, LT_BATCH_HASH);
	lt_sha256(in, sizeof in, out);
}

/* The signed message of a tree of n leaves with this root. */
static void lt_batch_message(uint32_t n, const uint8_t root[LT_BATCH_HASH],
                             uint8_t msg[LT_BATCH_MSG_LEN])
{
	size_t p = sizeof LT_BATCH_PREFIX - 1;
	memcpy(msg, LT_BATCH_PREFIX, p);
	for (int i = 0; i < 4; i++)
		msg[p + (size_t)i] = (uint8_t)(n >> (24 - 8 * i));
	memcpy(msg + p + 4, root, LT_BATCH_HASH);
}

/* MTH of leaves [lo, hi) into out; appends each leaf's sibling to its proof. */
static void lt_batch_tree(struct lt_batch *b, const uint8_t (*d)[LT_BATCH_HASH], size_t lo,
                          size_t hi, uint8_t out[LT_BATCH_HASH])
{
	if (hi - lo == 1) {
		lt_batch_leaf(d[lo], out);
		return;
	}
	size_t k = 1;
	while (k * 2 < hi - lo)
		k *= 2;
	uint8_t l[LT_BATCH_HASH], r[LT_BATCH_HASH];
	lt_batch_tree(b, d, lo, lo + k, l);
	lt_batch_tree(b, d, lo + k, hi, r);
	for (size_t i = lo; i < hi; i++) {
		assert(b->depth[i] < LT_BATCH_DEPTH);
		memcpy(b->path[i][b->depth[i]++], i < lo + k ? r : l, LT_BATCH_HASH);
	}
	lt_batch_node(l, r, out);
}

int lt_batch_sign(const struct lt_signer *s, const uint8_t (*digests)[LT_BATCH_HASH], size_t n,
                  struct lt_batch *b, lt_err *err)
{
	memset(b, 0, sizeof *b);
	if (n == 0 || n > LT_BATCH_MAX)
		return lt_err_set(err, LT_EINVAL, "a signed batch holds 1 to %d records, not %zu",
		                  LT_BATCH_MAX, n);
	b->signer = s;
	b->n = n;
	b->path = calloc(n, sizeof *b->path);
	b->depth = calloc(n, sizeof *b->depth);
	if (b->path == NULL || b->depth == NULL) {
		lt_batch_free(b);
		return lt_err_set(err, LT_EIO, "out of memory for a batch of %zu signatures", n);
	}
	uint8_t root[LT_BATCH_HASH], msg[LT_BATCH_MSG_LEN];
	lt_batch_tree(b, digests, 0, n, root);
	lt_batch_message((uint32_t)n, root, msg);
	if (lt_sign(s, msg, sizeof msg, &b->value, &b->value_len, err) != 0) {
		lt_batch_free(b);
		return -1;
	}
	return 0;
}

void lt_batch_free(struct lt_batch *b)
{
	free(b->value);
	free(b->path);
	free(b->depth);
	memset(b, 0, sizeof *b);
}

void lt_batch_signature(const struct lt_batch *b, size_t i, Lienthong__Signature *sig,
                        ProtobufCBinaryData path[LT_BATCH_DEPTH])
{
	assert(i < b->n);
	lienthong__signature__init(sig);
	sig->algorithm = (char *)b->signer->algorithm;
	sig->signer_certificate.data = b->signer->cert_der;
	sig->signer_certificate.len = b->signer->cert_der_len;
	sig->value.data = b->value;
	sig->value.len = b->value_len;
	sig->batch_size = (uint32_t)b->n;
	sig->batch_index = (uint32_t)i;
	for (size_t k = 0; k < b->depth[i]; k++)
		path[k] =
		    (ProtobufCBinaryData){.len = LT_BATCH_HASH, .data = (uint8_t *)b->path[i][k]};
	sig->batch_path = path;
	sig->n_batch_path = b->depth[i];
}

static size_t lt_batch_varint(uint64_t v, uint8_t out[10])
{
	size_t n = 0;
	do {
		out[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		out[n] |= v ? 0x80 : 0;
		n++;
	} while (v);
	return n;
}

int lt_batch_attach(uint8_t **buf, size_t *len, uint32_t field, const Lienthong__Signature *sig,
                    size_t max_len, lt_err *err)
{
	uint8_t tag[10], size[10];
	size_t body = lienthong__signature__get_packed_size(sig);
	size_t nt = lt_batch_varint((uint64_t)field << 3 | 2, tag);
	size_t ns = lt_batch_varint(body, size);
	size_t total = *len + nt + ns + body;
	if (total > max_len)
		return lt_err_set(err, LT_EFULL,
		                  "signed record would be %zu bytes, above max_message_bytes (%zu)",
		                  total, max_len);
	uint8_t *out = realloc(*buf, total);
	if (out == NULL)
		return lt_err_set(err, LT_EIO, "out of memory for a %zu-byte record", total);
	memcpy(out + *len, tag, nt);
	memcpy(out + *len + nt, size, ns);
	lienthong__signature__pack(sig, out + *len + nt + ns);
	*buf = out;
	*len = total;
	return 0;
}

int lt_batch_seal(uint8_t **recs, size_t *lens, const uint8_t (*digests)[LT_BATCH_HASH], size_t n,
                  uint32_t field, const struct lt_signer *signer, size_t max_len, lt_err *errs,
                  lt_err *err)
{
	struct lt_batch b;
	if (lt_batch_sign(signer, digests, n, &b, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		Lienthong__Signature sig;
		ProtobufCBinaryData path[LT_BATCH_DEPTH];
		lt_batch_signature(&b, i, &sig, path);
		if (lt_batch_attach(&recs[i], &lens[i], field, &sig, max_len, &errs[i]) != 0) {
			free(recs[i]);
			recs[i] = NULL;
		}
	}
	lt_batch_free(&b);
	return 0;
}

int lt_batch_fold(const uint8_t d[LT_BATCH_HASH], uint32_t size, uint32_t index,
                  const ProtobufCBinaryData *path, size_t n_path, uint8_t root[LT_BATCH_HASH],
                  lt_err *err)
{
	if (size == 0 || size > LT_BATCH_MAX || index >= size)
		return lt_err_set(err, LT_EVERIFY,
		                  "batch signature: leaf %u of %u is not in a batch of 1 to %d",
		                  index, size, LT_BATCH_MAX);
	if (n_path > LT_BATCH_DEPTH)
		return lt_err_set(err, LT_EVERIFY,
		                  "batch signature: proof of %zu hashes, more than %d", n_path,
		                  LT_BATCH_DEPTH);
	/* RFC 9162 section 2.1.3.2, with fn = index and sn = size - 1. */
	uint32_t fn = index, sn = size - 1;
	uint8_t r[LT_BATCH_HASH];
	lt_batch_leaf(d, r);
	for (size_t i = 0; i < n_path; i++) {
		if (path[i].len != LT_BATCH_HASH)
			return lt_err_set(err, LT_EVERIFY,
			                  "batch signature: proof hash %zu has %zu bytes, not %d",
			                  i + 1, path[i].len, LT_BATCH_HASH);
		if (sn == 0)
			return lt_err_set(err, LT_EVERIFY,
			                  "batch signature: proof longer than leaf %u of %u needs",
			                  index, size);
		if ((fn & 1) || fn == sn) {
			lt_batch_node(path[i].data, r, r);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			lt_batch_node(r, path[i].data, r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return lt_err_set(err, LT_EVERIFY,
		                  "batch signature: proof shorter than leaf %u of %u needs", index,
		                  size);
	memcpy(root, r, LT_BATCH_HASH);
	return 0;
}

int lt_batch_check(const struct lt_trust *trust, const char *expected_code,
                   const Lienthong__Signature *sig, const uint8_t *canon, size_t canon_len,
                   int64_t signed_at_ms, lt_err *err)
{
	if (sig->batch_size == 0) {
		if (sig->batch_index != 0 || sig->n_batch_path != 0)
			return lt_err_set(err, LT_EVERIFY,
			                  "signature has a batch proof but no batch size");
		return lt_sign_check_at(trust, expected_code, sig->algorithm,
		                        sig->signer_certificate.data, sig->signer_certificate.len,
		                        canon, canon_len, sig->value.data, sig->value.len,
		                        signed_at_ms, err);
	}
	uint8_t d[LT_BATCH_HASH], root[LT_BATCH_HASH], msg[LT_BATCH_MSG_LEN];
	lt_sha256(canon, canon_len, d);
	if (lt_batch_fold(d, sig->batch_size, sig->batch_index, sig->batch_path, sig->n_batch_path,
	                  root, err) != 0)
		return -1;
	lt_batch_message(sig->batch_size, root, msg);
	return lt_sign_check_shared_at(trust, expected_code, sig->algorithm,
	                               sig->signer_certificate.data, sig->signer_certificate.len,
	                               msg, sizeof msg, sig->value.data, sig->value.len,
	                               signed_at_ms, err);
}
