#include "lt_envelope.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../pki/lt_hash.h"
#include "../text/lt_text.h"
#include "lt_batch.h"
#include "lt_canon.h"
#include "lt_crypt.h"

int lt_docid_new(char out[LT_DOCID_LEN + 1], lt_err *err)
{
	uint8_t b[16];
	struct timespec ts;
	if (RAND_bytes(b, sizeof b) != 1)
		return lt_err_ssl(err, LT_EIO, "no random bytes for a document id");
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)(ms >> (8 * (5 - i)));
	b[6] = (uint8_t)(0x70 | (b[6] & 0x0f)); /* version 7 */
	b[8] = (uint8_t)(0x80 | (b[8] & 0x3f)); /* RFC 9562 variant */
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
	return 0;
}

int lt_docid_check(const char *s, lt_err *err)
{
	size_t n = strlen(s);
	if (n != LT_DOCID_LEN)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		char c = s[i];
		if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			goto bad;
	}
	return 0;
bad:
	return lt_err_set(err, LT_EINVAL,
	                  "document id '%.60s' is not a lowercase UUID "
	                  "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
	                  s);
}

int lt_utf8_valid(const char *s)
{
	return lt_text_utf8_valid(s, strlen(s));
}

int lt_part_name_check(const char *s, lt_err *err)
{
	size_t n = strlen(s);
	if (n == 0 || n > LT_PART_NAME_MAX)
		return lt_err_set(err, LT_EINVAL, "part name must have 1 to %d bytes",
		                  LT_PART_NAME_MAX);
	if (s[0] == '.')
		return lt_err_set(err, LT_EINVAL, "part name '%.60s' starts with '.'", s);
	if (!lt_utf8_valid(s))
		return lt_err_set(err, LT_EINVAL, "part name is not valid UTF-8");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
			return lt_err_set(err, LT_EINVAL,
			                  "part name '%.60s' has a control character, '/' or '\\'",
			                  s);
	}
	return 0;
}

/*
 * A media type: "type/subtype" of printable ASCII without spaces, then
 * optional parameters ("; charset=utf-8") of printable ASCII; 127 bytes at most.
 */
static int lt_media_type_check(const char *s, lt_err *err)
{
	size_t n = strlen(s), main_len = strcspn(s, ";");
	const char *slash = memchr(s, '/', main_len);
	if (n == 0 || n > 127 || slash == NULL || slash == s || slash + 1 == s + main_len)
		return lt_err_set(err, LT_EINVAL,
		                  "media type '%.60s' is not type/subtype (parameters after ';')",
		                  s);
	for (size_t i = 0; i < n; i++) {
		if (s[i] < (i < main_len ? 0x21 : 0x20) || s[i] >= 0x7f)
			return lt_err_set(
			    err, LT_EINVAL,
			    "media type '%.60s' is not printable ASCII (no space before "
			    "the parameters)",
			    s);
	}
	return 0;
}

/* The rules every envelope follows, applied when sealing and when decoding. */
/*
 * The business type: a recall or update names the document it concerns and
 * carries no parts; a new document or a replacement has 1..max_parts parts.
 */
static int lt_envelope_check_type(const Lienthong__Envelope *env, const struct lt_config *cfg,
                                  lt_err *err)
{
	const Lienthong__Header *h = env->header;
	int control = h->business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_REVOKE ||
	              h->business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_UPDATE;
	if (h->business_type != LIENTHONG__BUSINESS_TYPE__BUSINESS_NEW && !control &&
	    h->business_type != LIENTHONG__BUSINESS_TYPE__BUSINESS_REPLACE)
		return lt_err_set(err, LT_EINVAL, "unknown business type %d",
		                  (int)h->business_type);
	if (h->business_type != LIENTHONG__BUSINESS_TYPE__BUSINESS_NEW &&
	    (h->replaces_id[0] == '\0' || strcmp(h->replaces_id, h->document_id) == 0))
		return lt_err_set(err, LT_EINVAL,
		                  "a recall, update or replacement must name another document in "
		                  "replaces_id");
	if (control && env->n_parts != 0)
		return lt_err_set(err, LT_EINVAL, "a recall or update carries no parts, not %zu",
		                  env->n_parts);
	if (!control && (env->n_parts == 0 || env->n_parts > (size_t)cfg->max_parts))
		return lt_err_set(err, LT_EINVAL, "envelope has %zu parts (allowed 1..%lld)",
		                  env->n_parts, (long long)cfg->max_parts);
	return 0;
}

uint64_t lt_part_chunks(uint64_t size, uint32_t chunk_bytes)
{
	return chunk_bytes == 0 ? 0 : size / chunk_bytes + (size % chunk_bytes != 0);
}

/* Largest chunk the configuration accepts. */
static uint64_t lt_chunk_max(const struct lt_config *cfg)
{
	return (uint64_t)cfg->max_message_bytes - LT_CHUNK_OVERHEAD;
}

/* The meta fields of a header: bounded, keys of a safe alphabet and unique. */
static int lt_envelope_check_meta(const Lienthong__Header *h, lt_err *err)
{
	size_t total = 0;
	if (h->n_meta > LT_META_MAX)
		return lt_err_set(err, LT_EINVAL, "header has %zu meta fields (at most %d)",
		                  h->n_meta, LT_META_MAX);
	for (size_t i = 0; i < h->n_meta; i++) {
		const char *k = h->meta[i]->key, *v = h->meta[i]->value;
		size_t kn = strlen(k), vn = strlen(v);
		if (kn == 0 || kn > LT_META_KEY_MAX ||
		    strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		              "abcdefghijklmnopqrstuvwxyz"
		              "0123456789._-") != kn)
			return lt_err_set(err, LT_EINVAL,
			                  "meta field %zu: key '%.64s' is not 1 to %d of "
			                  "[A-Za-z0-9._-]",
			                  i + 1, k, LT_META_KEY_MAX);
		if (vn > LT_META_VALUE_MAX || !lt_utf8_valid(v))
			return lt_err_set(err, LT_EINVAL,
			                  "meta field '%s': value is not UTF-8 of at most %d bytes",
			                  k, LT_META_VALUE_MAX);
		total += kn + vn;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(h->meta[j]->key, k) == 0)
				return lt_err_set(err, LT_EINVAL, "meta field '%s' appears twice",
				                  k);
		}
	}
	if (total > LT_META_TOTAL_MAX)
		return lt_err_set(err, LT_EINVAL, "meta fields hold %zu bytes (at most %d)", total,
		                  LT_META_TOTAL_MAX);
	return 0;
}

/* A streamed part: its bytes come as chunks, the envelope only declares them. */
static int lt_envelope_check_streamed(const Lienthong__Part *p, const struct lt_config *cfg,
                                      lt_err *err)
{
	if (p->encrypted || p->data.len != 0)
		return lt_err_set(err, LT_EINVAL,
		                  "a streamed part carries no data and is not "
		                  "encrypted");
	if (p->chunk_bytes < LT_CHUNK_MIN || p->chunk_bytes > lt_chunk_max(cfg))
		return lt_err_set(err, LT_EINVAL,
		                  "chunk size %u outside %d..%llu (max_message_bytes less %d)",
		                  p->chunk_bytes, LT_CHUNK_MIN,
		                  (unsigned long long)lt_chunk_max(cfg), LT_CHUNK_OVERHEAD);
	if (p->size == 0 || p->sha256.len != LT_DIGEST_LEN)
		return lt_err_set(err, LT_EINVAL, "a streamed part needs a size and a SHA-256");
	if (p->size > (uint64_t)cfg->max_document_bytes)
		return lt_err_set(err, LT_EINVAL, "%llu bytes, more than max_document_bytes (%lld)",
		                  (unsigned long long)p->size, (long long)cfg->max_document_bytes);
	uint64_t n = lt_part_chunks(p->size, p->chunk_bytes);
	if (p->chunk_sha256.len / LT_DIGEST_LEN != n || p->chunk_sha256.len % LT_DIGEST_LEN != 0)
		return lt_err_set(
		    err, LT_EINVAL,
		    "%llu bytes in chunks of %u need %llu chunk digests, not %zu bytes "
		    "of them",
		    (unsigned long long)p->size, p->chunk_bytes, (unsigned long long)n,
		    p->chunk_sha256.len);
	return 0;
}

static int lt_envelope_check(const Lienthong__Envelope *env, const struct lt_config *cfg,
                             lt_err *err)
{
	const Lienthong__Header *h = env->header;
	if (env->version != 1)
		return lt_err_set(err, LT_EINVAL, "unsupported envelope version %u", env->version);
	if (h == NULL)
		return lt_err_set(err, LT_EINVAL, "envelope has no header");
	if (lt_docid_check(h->document_id, err) != 0)
		return -1;
	if (lt_config_check_code(cfg, h->sender, err) != 0)
		return lt_err_wrap(err, "sender");
	if (h->n_recipients == 0 || h->n_recipients > LT_RECIPIENTS_MAX)
		return lt_err_set(err, LT_EINVAL, "envelope has %zu recipients (allowed 1..%d)",
		                  h->n_recipients, LT_RECIPIENTS_MAX);
	for (size_t i = 0; i < h->n_recipients; i++) {
		if (lt_config_check_code(cfg, h->recipients[i], err) != 0)
			return lt_err_wrap(err, "recipient %zu", i + 1);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(h->recipients[j], h->recipients[i]) == 0)
				return lt_err_set(err, LT_EINVAL, "recipient %s appears twice",
				                  h->recipients[i]);
		}
	}
	if (strlen(h->subject) > LT_SUBJECT_MAX || strlen(h->document_number) > 256)
		return lt_err_set(err, LT_EINVAL, "subject or document number too long");
	if (!lt_utf8_valid(h->subject) || !lt_utf8_valid(h->document_number))
		return lt_err_set(err, LT_EINVAL, "subject or document number is not valid UTF-8");
	if (h->replaces_id[0] != '\0' && lt_docid_check(h->replaces_id, err) != 0)
		return lt_err_wrap(err, "replaces_id");
	if (lt_envelope_check_type(env, cfg, err) != 0 || lt_envelope_check_meta(h, err) != 0)
		return -1;
	uint64_t total = 0;
	for (size_t i = 0; i < env->n_parts; i++) {
		const Lienthong__Part *p = env->parts[i];
		if (lt_part_name_check(p->name, err) != 0 ||
		    lt_media_type_check(p->media_type, err) != 0)
			return lt_err_wrap(err, "part %zu", i + 1);
		if (p->chunk_bytes > 0) {
			if (lt_envelope_check_streamed(p, cfg, err) != 0)
				return lt_err_wrap(err, "part %zu ('%s')", i + 1, p->name);
		} else if ((!p->encrypted && p->size != p->data.len) ||
		           p->sha256.len != LT_DIGEST_LEN || p->chunk_sha256.len != 0) {
			return lt_err_set(
			    err, LT_EINVAL,
			    "part %zu ('%s'): declared size or digest does not fit its "
			    "data",
			    i + 1, p->name);
		}
		if (p->size > (uint64_t)cfg->max_document_bytes - total)
			return lt_err_set(err, LT_EINVAL,
			                  "document is larger than max_document_bytes (%lld) from "
			                  "part %zu on",
			                  (long long)cfg->max_document_bytes, i + 1);
		total += p->size;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(env->parts[j]->name, p->name) == 0)
				return lt_err_set(err, LT_EINVAL, "part name '%s' appears twice",
				                  p->name);
		}
	}
	return 0;
}

/* sign 0: encoded without its signature (lt_envelope_build). */
static int lt_envelope_make(const struct lt_envelope_in *in, const struct lt_signer *signer,
                            const struct lt_config *cfg, int sign, uint8_t **out, size_t *len,
                            uint8_t digest[LT_DIGEST_LEN], lt_err *err)
{
	Lienthong__Envelope env = LIENTHONG__ENVELOPE__INIT;
	Lienthong__Header hdr = LIENTHONG__HEADER__INIT;
	Lienthong__Signature sig = LIENTHONG__SIGNATURE__INIT;
	Lienthong__Part *parts = NULL;
	Lienthong__Part **part_ptrs = NULL;
	Lienthong__Meta *metas = NULL;
	Lienthong__Meta **meta_ptrs = NULL;
	uint8_t(*digests)[LT_DIGEST_LEN] = NULL;
	uint8_t **ciphers = NULL;
	uint8_t *canon = NULL, *sigval = NULL, *buf = NULL;
	size_t canon_len = 0, sig_len = 0;
	int rc = -1;

	if (in->n_parts > (size_t)cfg->max_parts) {
		lt_err_set(err, LT_EINVAL, "a document has at most %lld parts, not %zu",
		           (long long)cfg->max_parts, in->n_parts);
		goto out;
	}
	if (in->n_recipients == 0 || in->n_recipients > LT_RECIPIENTS_MAX) {
		lt_err_set(err, LT_EINVAL, "a document needs 1 to %d recipients, not %zu",
		           LT_RECIPIENTS_MAX, in->n_recipients);
		goto out;
	}
	size_t n_alloc = in->n_parts ? in->n_parts : 1; /* a recall has none */
	parts = calloc(n_alloc, sizeof *parts);
	part_ptrs = calloc(n_alloc, sizeof *part_ptrs);
	digests = calloc(n_alloc, sizeof *digests);
	ciphers = calloc(n_alloc, sizeof *ciphers);
	if (parts == NULL || part_ptrs == NULL || digests == NULL || ciphers == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < in->n_parts; i++) {
		const struct lt_part_in *p = &in->parts[i];
		lienthong__part__init(&parts[i]);
		parts[i].name = (char *)p->name;
		parts[i].media_type = (char *)p->media_type;
		parts[i].size = p->len;
		part_ptrs[i] = &parts[i];
		parts[i].sha256.len = LT_DIGEST_LEN;
		if (p->chunk_bytes > 0) {
			if (in->encrypt_to != NULL) {
				lt_err_set(
				    err, LT_EINVAL,
				    "part '%s' is streamed (larger than one record); streamed "
				    "parts cannot be encrypted yet: send it without --encrypt",
				    p->name);
				goto out;
			}
			parts[i].sha256.data = (uint8_t *)p->sha256;
			parts[i].chunk_bytes = p->chunk_bytes;
			parts[i].chunk_sha256.data = (uint8_t *)p->chunk_sha256;
			parts[i].chunk_sha256.len =
			    (size_t)lt_part_chunks(p->len, p->chunk_bytes) * LT_DIGEST_LEN;
			continue;
		}
		lt_sha256(p->data, p->len, digests[i]);
		parts[i].sha256.data = digests[i];
		parts[i].data.data = (uint8_t *)p->data;
		parts[i].data.len = p->len;
	}
	hdr.document_id = (char *)in->document_id;
	hdr.sender = (char *)signer->code;
	hdr.recipients = (char **)in->recipients;
	hdr.n_recipients = in->n_recipients;
	hdr.subject = (char *)(in->subject ? in->subject : "");
	hdr.document_number = (char *)(in->document_number ? in->document_number : "");
	hdr.created_at_ms = in->created_at_ms;
	hdr.expires_at_ms = in->expires_at_ms;
	hdr.replaces_id = (char *)(in->replaces_id ? in->replaces_id : "");
	hdr.business_type = in->business_type;
	if (in->n_meta > LT_META_MAX) {
		lt_err_set(err, LT_EINVAL, "a document has at most %d meta fields, not %zu",
		           LT_META_MAX, in->n_meta);
		goto out;
	}
	metas = calloc(in->n_meta ? in->n_meta : 1, sizeof *metas);
	meta_ptrs = calloc(in->n_meta ? in->n_meta : 1, sizeof *meta_ptrs);
	if (metas == NULL || meta_ptrs == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < in->n_meta; i++) {
		lienthong__meta__init(&metas[i]);
		metas[i].key = (char *)in->meta[i].key;
		metas[i].value = (char *)in->meta[i].value;
		meta_ptrs[i] = &metas[i];
	}
	hdr.meta = meta_ptrs;
	hdr.n_meta = in->n_meta;
	env.version = 1;
	env.header = &hdr;
	env.parts = part_ptrs;
	env.n_parts = in->n_parts;

	if (lt_envelope_check(&env, cfg, err) != 0 ||
	    lt_canon_envelope(&env, &canon, &canon_len, err) != 0 ||
	    (sign && lt_sign(signer, canon, canon_len, &sigval, &sig_len, err) != 0))
		goto out;
	if (digest != NULL)
		lt_sha256(canon, canon_len, digest);
	/* Signed as plaintext; the bytes that travel are encrypted to the recipients. */
	for (size_t i = 0; in->encrypt_to != NULL && i < in->n_parts; i++) {
		if (lt_crypt_encrypt(in->encrypt_to, in->parts[i].data, in->parts[i].len,
		                     &ciphers[i], &parts[i].data.len, err) != 0)
			goto out;
		parts[i].data.data = ciphers[i];
		parts[i].encrypted = 1;
	}
	sig.algorithm = (char *)signer->algorithm;
	sig.signer_certificate.data = signer->cert_der;
	sig.signer_certificate.len = signer->cert_der_len;
	sig.value.data = sigval;
	sig.value.len = sig_len;
	env.signature = sign ? &sig : NULL;

	size_t n = lienthong__envelope__get_packed_size(&env);
	if (n > (size_t)cfg->max_message_bytes) {
		lt_err_set(err, LT_EFULL,
		           "signed envelope would be %zu bytes, above max_message_bytes (%lld)", n,
		           (long long)cfg->max_message_bytes);
		goto out;
	}
	buf = malloc(n ? n : 1);
	if (buf == NULL) {
		lt_err_set(err, LT_EIO, "out of memory for a %zu-byte envelope", n);
		goto out;
	}
	lienthong__envelope__pack(&env, buf);
	*out = buf;
	*len = n;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	free(sigval);
	free(canon);
	free(digests);
	for (size_t i = 0; ciphers != NULL && i < in->n_parts; i++)
		free(ciphers[i]);
	free(ciphers);
	free(part_ptrs);
	free(parts);
	free(meta_ptrs);
	free(metas);
	return rc;
}

int lt_envelope_seal(const struct lt_envelope_in *in, const struct lt_signer *signer,
                     const struct lt_config *cfg, uint8_t **out, size_t *len,
                     uint8_t digest[LT_DIGEST_LEN], lt_err *err)
{
	return lt_envelope_make(in, signer, cfg, 1, out, len, digest, err);
}

int lt_envelope_build(const struct lt_envelope_in *in, const struct lt_signer *signer,
                      const struct lt_config *cfg, uint8_t **out, size_t *len,
                      uint8_t digest[LT_DIGEST_LEN], lt_err *err)
{
	return lt_envelope_make(in, signer, cfg, 0, out, len, digest, err);
}

int lt_envelope_decode(const uint8_t *buf, size_t len, const struct lt_config *cfg,
                       Lienthong__Envelope **env, lt_err *err)
{
	*env = NULL;
	if (len > (size_t)cfg->max_message_bytes)
		return lt_err_set(err, LT_EINVAL,
		                  "record of %zu bytes exceeds max_message_bytes (%lld)", len,
		                  (long long)cfg->max_message_bytes);
	*env = lienthong__envelope__unpack(NULL, len, buf);
	if (*env == NULL)
		return lt_err_set(err, LT_EINVAL,
		                  "malformed envelope: %zu bytes that do not decode as a lienthong "
		                  "Envelope (protobuf)",
		                  len);
	if (lt_envelope_check(*env, cfg, err) != 0)
		return -1;
	if ((*env)->signature == NULL || (*env)->signature->value.len == 0)
		return lt_err_set(err, LT_EVERIFY, "envelope is not signed");
	return 0;
}

/* sealed: encrypted parts are accepted, their data unchecked. */
static int lt_envelope_verify_as(const Lienthong__Envelope *env, const struct lt_trust *trust,
                                 int sealed, uint8_t digest[LT_DIGEST_LEN], lt_err *err)
{
	for (size_t i = 0; i < env->n_parts && !sealed; i++) {
		if (env->parts[i]->encrypted)
			return lt_err_set(err, LT_EVERIFY,
			                  "part %zu is encrypted and was not decrypted", i + 1);
	}
	uint8_t *canon = NULL;
	size_t canon_len = 0;
	const Lienthong__Signature *s = env->signature;
	/* Sealed: encrypted parts are signed as their declared digests say. */
	if ((sealed ? lt_canon_envelope_declared(env, &canon, &canon_len, err)
	            : lt_canon_envelope(env, &canon, &canon_len, err)) != 0)
		return -1;
	int rc = lt_batch_check(trust, env->header->sender, s, canon, canon_len,
	                        env->header->created_at_ms, err);
	lt_err stale = {0};
	if (rc != 0 && err->code == LT_EAGAIN) {
		stale = *err; /* only revocation is unknown: check the rest, then say wait */
		rc = 0;
	}
	if (rc == 0) {
		lt_sha256(canon, canon_len, digest);
		for (size_t i = 0; i < env->n_parts; i++) {
			uint8_t d[LT_DIGEST_LEN];
			const Lienthong__Part *p = env->parts[i];
			if (p->encrypted || p->chunk_bytes > 0)
				continue; /* sealed: only a recipient can read it; chunks come apart
				           */
			lt_sha256(p->data.data, p->data.len, d);
			if (p->size != p->data.len ||
			    memcmp(d, p->sha256.data, LT_DIGEST_LEN) != 0) {
				rc = lt_err_set(
				    err, LT_EVERIFY,
				    "part %zu ('%s'): declared size or SHA-256 differs from "
				    "its data",
				    i + 1, p->name);
				break;
			}
		}
	}
	if (rc == 0 && stale.code != LT_OK) {
		*err = stale;
		rc = -1;
	}
	free(canon);
	return rc;
}

int lt_envelope_verify(const Lienthong__Envelope *env, const struct lt_trust *trust,
                       uint8_t digest[LT_DIGEST_LEN], lt_err *err)
{
	return lt_envelope_verify_as(env, trust, 0, digest, err);
}

int lt_envelope_verify_sealed(const Lienthong__Envelope *env, const struct lt_trust *trust,
                              uint8_t digest[LT_DIGEST_LEN], lt_err *err)
{
	return lt_envelope_verify_as(env, trust, 1, digest, err);
}

int lt_envelope_decode_any(const uint8_t *buf, size_t len, const struct lt_config *cfg,
                           Lienthong__Envelope **env, lt_err *err)
{
	if (lt_envelope_decode(buf, len, cfg, env, err) == 0)
		return 0;
	const Lienthong__Envelope *e = *env;
	if (e == NULL || e->chunk == NULL)
		return -1; /* not a chunk record: the envelope's own error stands */
	const Lienthong__Chunk *c = e->chunk;
	if (e->version != 1 || e->header != NULL || e->n_parts != 0 || e->signature != NULL)
		return lt_err_set(err, LT_EINVAL,
		                  "a chunk record carries version 1 and the chunk alone");
	if (lt_docid_check(c->document_id, err) != 0)
		return lt_err_wrap(err, "chunk");
	if (lt_config_check_code(cfg, c->sender, err) != 0)
		return lt_err_wrap(err, "chunk sender");
	if (c->part >= (uint32_t)cfg->max_parts || c->data.len == 0 ||
	    c->data.len > lt_chunk_max(cfg))
		return lt_err_set(err, LT_EINVAL,
		                  "chunk %u of part %u of document %s: part number or size (%zu "
		                  "bytes) out of bounds",
		                  c->index, c->part, c->document_id, c->data.len);
	return 0;
}

/* Packs the chunk record into out[cap] when it fits; its length either way. */
static size_t lt_chunk_encode(const char *document_id, const char *sender, uint32_t part,
                              uint32_t index, const uint8_t *data, size_t len, uint8_t *out,
                              size_t cap)
{
	Lienthong__Chunk c = LIENTHONG__CHUNK__INIT;
	Lienthong__Envelope e = LIENTHONG__ENVELOPE__INIT;
	c.document_id = (char *)document_id;
	c.sender = (char *)sender;
	c.part = part;
	c.index = index;
	c.data.data = (uint8_t *)data;
	c.data.len = len;
	e.version = 1;
	e.chunk = &c;
	size_t n = lienthong__envelope__get_packed_size(&e);
	if (out != NULL && n <= cap)
		lienthong__envelope__pack(&e, out);
	return n;
}

size_t lt_chunk_pack_into(const char *document_id, const char *sender, uint32_t part,
                          uint32_t index, const uint8_t *data, size_t len, uint8_t *out, size_t cap)
{
	size_t n = lt_chunk_encode(document_id, sender, part, index, data, len, out, cap);
	return n <= cap ? n : 0;
}

int lt_chunk_pack(const char *document_id, const char *sender, uint32_t part, uint32_t index,
                  const uint8_t *data, size_t len, uint8_t **out, size_t *out_len, lt_err *err)
{
	size_t n = lt_chunk_encode(document_id, sender, part, index, data, len, NULL, 0);
	*out = malloc(n);
	if (*out == NULL)
		return lt_err_set(err, LT_EIO, "out of memory packing chunk %u of part %u", index,
		                  part);
	*out_len = lt_chunk_encode(document_id, sender, part, index, data, len, *out, n);
	return 0;
}

int lt_chunk_check(const Lienthong__Envelope *env, const Lienthong__Chunk *c, lt_err *err)
{
	const Lienthong__Header *h = env->header;
	if (strcmp(h->document_id, c->document_id) != 0 || strcmp(h->sender, c->sender) != 0)
		return lt_err_set(err, LT_EVERIFY,
		                  "chunk of %s from %s does not belong to %s from %s",
		                  c->document_id, c->sender, h->document_id, h->sender);
	if (c->part >= env->n_parts || env->parts[c->part]->chunk_bytes == 0)
		return lt_err_set(err, LT_EVERIFY, "document %s has no streamed part %u",
		                  h->document_id, c->part);
	const Lienthong__Part *p = env->parts[c->part];
	uint64_t n = lt_part_chunks(p->size, p->chunk_bytes);
	uint64_t want = c->index + 1 < n ? p->chunk_bytes : p->size - (n - 1) * p->chunk_bytes;
	if (c->index >= n || c->data.len != want)
		return lt_err_set(err, LT_EVERIFY,
		                  "chunk %u of part %u of %s: %zu bytes, but the part has %llu "
		                  "chunks and this one %llu bytes",
		                  c->index, c->part, h->document_id, c->data.len,
		                  (unsigned long long)n,
		                  (unsigned long long)(c->index < n ? want : 0));
	uint8_t d[LT_DIGEST_LEN];
	lt_sha256(c->data.data, c->data.len, d);
	if (memcmp(d, p->chunk_sha256.data + (size_t)c->index * LT_DIGEST_LEN, LT_DIGEST_LEN) != 0)
		return lt_err_set(err, LT_EVERIFY,
		                  "chunk %u of part %u of %s: SHA-256 differs from the signed one",
		                  c->index, c->part, h->document_id);
	return 0;
}
