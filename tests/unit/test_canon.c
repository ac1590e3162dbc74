/*
 * Unit tests of lt_canon: the canonical bytes are checked against byte
 * strings built here from the specification in lt_canon.h (literally for
 * small messages, with an independent writer and EVP SHA-256 for larger ones).
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/lt_canon.h"
#include "lt_check.h"

/* ---- an independent writer of the specification ---- */

struct buf {
	uint8_t b[200000];
	size_t n;
};

static void put_raw(struct buf *w, const void *p, size_t n)
{
	if (n > 0)
		memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void put_be(struct buf *w, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		w->b[w->n++] = (uint8_t)(v >> (8 * i));
}

static void put_str(struct buf *w, const char *s)
{
	put_be(w, strlen(s), 4);
	put_raw(w, s, strlen(s));
}

static void put_sha256(struct buf *w, const uint8_t *p, size_t n)
{
	unsigned int len = 0;
	static const uint8_t none = 0;
	EVP_Digest(n > 0 ? p : &none, n, w->b + w->n, &len, EVP_sha256(), NULL);
	w->n += len;
}

static struct buf want;

static int canon_env_equals(const Lienthong__Envelope *env, const uint8_t *b, size_t n)
{
	uint8_t *out = NULL;
	size_t len = 0;
	lt_err err;
	if (lt_canon_envelope(env, &out, &len, &err) != 0) {
		fprintf(stderr, "lt_canon_envelope: %s\n", err.msg);
		return 0;
	}
	int eq = len == n && memcmp(out, b, n) == 0;
	free(out);
	return eq;
}

static int canon_receipt_equals(const Lienthong__Receipt *r, const uint8_t *b, size_t n)
{
	uint8_t *out = NULL;
	size_t len = 0;
	lt_err err;
	if (lt_canon_receipt(r, &out, &len, &err) != 0) {
		fprintf(stderr, "lt_canon_receipt: %s\n", err.msg);
		return 0;
	}
	int eq = len == n && memcmp(out, b, n) == 0;
	free(out);
	return eq;
}

/* ---- envelopes ---- */

static void test_envelope_literal(void)
{
	/*
	 * magic; document_id "d"; sender "A"; 1 recipient "B"; subject ""; document_number
	 * "N1"; created_at_ms 0x0102030405060708; expires_at_ms -2; replaces_id ""; business_type
	 * 2; 1 meta field k = "v1"; 1 part: name "p", media_type "t/x", 3 bytes of data,
	 * SHA-256("abc"). One item of the specification a line; lengths and numbers are big-endian.
	 */
	static const char expected[] =
	    "lienthong-envelope-v2\n"
	    "\0\0\0\1d"
	    "\0\0\0\1A"
	    "\0\0\0\1\0\0\0\1B"
	    "\0\0\0\0"
	    "\0\0\0\2N1"
	    "\1\2\3\4\5\6\7\10"
	    "\xff\xff\xff\xff\xff\xff\xff\xfe"
	    "\0\0\0\0"
	    "\0\0\0\2"
	    "\0\0\0\1\0\0\0\1k\0\0\0\2v1"
	    "\0\0\0\1"
	    "\0\0\0\1p"
	    "\0\0\0\3t/x"
	    "\0\0\0\0\0\0\0\3"
	    "\xba\x78\x16\xbf\x8f\x01\xcf\xea\x41\x41\x40\xde\x5d\xae\x22\x23"
	    "\xb0\x03\x61\xa3\x96\x17\x7a\x9c\xb4\x10\xff\x61\xf2\x00\x15\xad"
	    "\0\0\0\0";
	char *recipients[] = {"B"};
	Lienthong__Header h = LIENTHONG__HEADER__INIT;
	h.document_id = "d";
	h.sender = "A";
	h.recipients = recipients;
	h.n_recipients = 1;
	h.document_number = "N1";
	h.created_at_ms = 0x0102030405060708LL;
	h.expires_at_ms = -2;
	h.business_type = LIENTHONG__BUSINESS_TYPE__BUSINESS_UPDATE;
	Lienthong__Meta meta = LIENTHONG__META__INIT;
	Lienthong__Meta *metas[] = {&meta};
	meta.key = "k";
	meta.value = "v1";
	h.meta = metas;
	h.n_meta = 1;
	Lienthong__Part part = LIENTHONG__PART__INIT;
	Lienthong__Part *parts[] = {&part};
	part.name = "p";
	part.media_type = "t/x";
	part.data.data = (uint8_t *)"abc";
	part.data.len = 3;
	Lienthong__Envelope env = LIENTHONG__ENVELOPE__INIT;
	env.header = &h;
	env.parts = parts;
	env.n_parts = 1;
	CHECK(canon_env_equals(&env, (const uint8_t *)expected, sizeof expected - 1));

	/* Meta fields are signed: another value is another string. */
	meta.value = "v2";
	CHECK(!canon_env_equals(&env, (const uint8_t *)expected, sizeof expected - 1));
	meta.value = "v1";
	CHECK(canon_env_equals(&env, (const uint8_t *)expected, sizeof expected - 1));

	/* Absent (NULL) strings are empty strings; the header is required. */
	h.document_number = NULL;
	CHECK(!canon_env_equals(&env, (const uint8_t *)expected, sizeof expected - 1));
	env.header = NULL;
	uint8_t *out = NULL;
	size_t len = 0;
	lt_err err;
	CHECK(lt_canon_envelope(&env, &out, &len, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "no header");
	free(out);
}

/* The larger envelope the remaining tests use. */
static char *recips[] = {"000.00.00.H01", "000.00.00.H02", "000.00.00.H03"};
static char subject[302]; /* 300 'S', room for one more */
static uint8_t data0[70000], data2[5] = {0, 1, 2, 3, 0xff};
static Lienthong__Header hdr = LIENTHONG__HEADER__INIT;
static Lienthong__Part p0 = LIENTHONG__PART__INIT, p1 = LIENTHONG__PART__INIT,
                       p2 = LIENTHONG__PART__INIT;
static Lienthong__Part *parts3[] = {&p0, &p1, &p2};
static Lienthong__Envelope env3 = LIENTHONG__ENVELOPE__INIT;

static void build_envelope(void)
{
	memset(subject, 'S', 300);
	for (size_t i = 0; i < sizeof data0; i++)
		data0[i] = (uint8_t)(i * 7 + 3);
	hdr.document_id = "0190f3a2-7c41-7d2e-9a4b-1c2d3e4f5a6b";
	hdr.sender = "000.00.00.G22";
	hdr.recipients = recips;
	hdr.n_recipients = 3;
	hdr.subject = subject;
	hdr.document_number = "123/QD-UBND";
	hdr.created_at_ms = 1767225600123LL;
	hdr.expires_at_ms = 0;
	hdr.replaces_id = "0190f3a2-0000-7000-8000-000000000001";
	p0.name = "quyet-dinh.pdf";
	p0.media_type = "application/pdf";
	p0.data.data = data0;
	p0.data.len = sizeof data0;
	p1.name = "empty.txt";
	p1.media_type = "text/plain";
	p1.data.data = NULL;
	p1.data.len = 0;
	p2.name = "b.bin";
	p2.media_type = "application/octet-stream";
	p2.data.data = data2;
	p2.data.len = sizeof data2;
	env3.version = 1;
	env3.header = &hdr;
	env3.parts = parts3;
	env3.n_parts = 3;
}

static void spec_envelope(const Lienthong__Envelope *env, struct buf *w)
{
	const Lienthong__Header *h = env->header;
	w->n = 0;
	put_raw(w, "lienthong-envelope-v2\n", 22);
	put_str(w, h->document_id);
	put_str(w, h->sender);
	put_be(w, h->n_recipients, 4);
	for (size_t i = 0; i < h->n_recipients; i++)
		put_str(w, h->recipients[i]);
	put_str(w, h->subject);
	put_str(w, h->document_number);
	put_be(w, (uint64_t)h->created_at_ms, 8);
	put_be(w, (uint64_t)h->expires_at_ms, 8);
	put_str(w, h->replaces_id);
	put_be(w, (uint32_t)h->business_type, 4);
	put_be(w, h->n_meta, 4);
	for (size_t i = 0; i < h->n_meta; i++) {
		put_str(w, h->meta[i]->key);
		put_str(w, h->meta[i]->value);
	}
	put_be(w, env->n_parts, 4);
	for (size_t i = 0; i < env->n_parts; i++) {
		const Lienthong__Part *p = env->parts[i];
		put_str(w, p->name);
		put_str(w, p->media_type);
		put_be(w, p->data.len, 8);
		put_sha256(w, p->data.data, p->data.len);
		put_be(w, 0, 4); /* chunk_bytes: carried in the envelope */
	}
}

/* A streamed part: its declarations and the digest of its chunk digests are signed. */
static void test_envelope_streamed_literal(void)
{
	static const char expected[] =
	    "lienthong-envelope-v2\n"
	    "\0\0\0\1d"
	    "\0\0\0\1A"
	    "\0\0\0\1\0\0\0\1B"
	    "\0\0\0\0"
	    "\0\0\0\0"
	    "\0\0\0\0\0\0\0\0"
	    "\0\0\0\0\0\0\0\0"
	    "\0\0\0\0"
	    "\0\0\0\0"
	    "\0\0\0\0"
	    "\0\0\0\1"
	    "\0\0\0\1p"
	    "\0\0\0\3t/x"
	    "\0\0\0\0\0\0\0\3"
	    "\xba\x78\x16\xbf\x8f\x01\xcf\xea\x41\x41\x40\xde\x5d\xae\x22\x23"
	    "\xb0\x03\x61\xa3\x96\x17\x7a\x9c\xb4\x10\xff\x61\xf2\x00\x15\xad"
	    "\0\0\0\2"
	    "\x11\x53\x23\xe5\x62\xc4\xa4\xfd\xf7\xce\xac\xed\xca\x66\x0d\xc4"
	    "\xbb\xe1\x38\x9d\xab\x93\x23\xaa\xd0\x84\x40\x90\x7c\x74\x26\xd0";
	/* SHA-256("ab") then SHA-256("c"): the chunks of "abc" in chunks of 2 bytes. */
	static const uint8_t chunks[] =
	    "\xfb\x8e\x20\xfc\x2e\x4c\x3f\x24\x8c\x60\xc3\x9b\xd6\x52\xf3\xc1"
	    "\x34\x72\x98\xbb\x97\x7b\x8b\x4d\x59\x03\xb8\x50\x55\x62\x06\x03"
	    "\x2e\x7d\x2c\x03\xa9\x50\x7a\xe2\x65\xec\xf5\xb5\x35\x68\x85\xa5"
	    "\x33\x93\xa2\x02\x9d\x24\x13\x94\x99\x72\x65\xa1\xa2\x5a\xef\xc6";
	static const uint8_t abc_sha[] =
	    "\xba\x78\x16\xbf\x8f\x01\xcf\xea\x41\x41\x40\xde\x5d\xae\x22\x23"
	    "\xb0\x03\x61\xa3\x96\x17\x7a\x9c\xb4\x10\xff\x61\xf2\x00\x15\xad";
	char *recipients[] = {"B"};
	Lienthong__Header h = LIENTHONG__HEADER__INIT;
	h.document_id = "d";
	h.sender = "A";
	h.recipients = recipients;
	h.n_recipients = 1;
	Lienthong__Part part = LIENTHONG__PART__INIT;
	Lienthong__Part *parts[] = {&part};
	part.name = "p";
	part.media_type = "t/x";
	part.size = 3;
	part.sha256.data = (uint8_t *)abc_sha;
	part.sha256.len = 32;
	part.chunk_bytes = 2;
	part.chunk_sha256.data = (uint8_t *)chunks;
	part.chunk_sha256.len = 64;
	Lienthong__Envelope env = LIENTHONG__ENVELOPE__INIT;
	env.header = &h;
	env.parts = parts;
	env.n_parts = 1;
	CHECK(canon_env_equals(&env, (const uint8_t *)expected, sizeof expected - 1));
	/* Another chunk list, or another chunk size, is another signed string. */
	part.chunk_sha256.len = 32;
	CHECK(!canon_env_equals(&env, (const uint8_t *)expected, sizeof expected - 1));
	part.chunk_sha256.len = 64;
	part.chunk_bytes = 3;
	CHECK(!canon_env_equals(&env, (const uint8_t *)expected, sizeof expected - 1));
}

static void test_envelope_spec(void)
{
	spec_envelope(&env3, &want);
	CHECK(want.n == 22 + (4 + 36) + (4 + 13) + 4 + 3 * (4 + 13) + (4 + 300) + (4 + 11) + 16 +
	                    (4 + 36) + 4 + 4 + 4 + (4 + 14 + 4 + 15 + 8 + 32 + 4) +
	                    (4 + 9 + 4 + 10 + 8 + 32 + 4) + (4 + 5 + 4 + 24 + 8 + 32 + 4));
	/* 300 = 0x12c as a 4-byte length; 70000 = 0x11170 as an 8-byte size. */
	static const uint8_t subject_len[] = {0, 0, 1, 0x2c, 'S'};
	static const uint8_t size0[] = {'p', 'd', 'f', 0, 0, 0, 0, 0, 1, 0x11, 0x70};
	CHECK(memmem(want.b, want.n, subject_len, sizeof subject_len) != NULL);
	CHECK(memmem(want.b, want.n, size0, sizeof size0) != NULL);
	CHECK(canon_env_equals(&env3, want.b, want.n));
}

#define MUST_CHANGE(what, apply, restore)                                                          \
	do {                                                                                       \
		apply;                                                                             \
		lt_check(!canon_env_equals(&env3, base.b, base.n), __FILE__, __LINE__,             \
		         "changing " what " changes the envelope canonical bytes", NULL);          \
		restore;                                                                           \
	} while (0)

#define MUST_NOT_CHANGE(what, apply, restore)                                                      \
	do {                                                                                       \
		apply;                                                                             \
		lt_check(canon_env_equals(&env3, base.b, base.n), __FILE__, __LINE__,              \
		         "changing " what " leaves the envelope canonical bytes alone", NULL);     \
		restore;                                                                           \
	} while (0)

static struct buf base;

/* Declared part digests: the same bytes while true; they, not the data, count. */
static void test_envelope_declared(void)
{
	uint8_t sha[3][32], *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	lt_err err;
	spec_envelope(&env3, &base);
	for (size_t i = 0; i < env3.n_parts && i < 3; i++) {
		Lienthong__Part *p = env3.parts[i];
		EVP_Digest(p->data.len ? p->data.data : sha[i], p->data.len, sha[i], NULL,
		           EVP_sha256(), NULL);
		p->size = p->data.len;
		p->sha256.data = sha[i];
		p->sha256.len = 32;
	}
	CHECK_OK(lt_canon_envelope(&env3, &a, &alen, &err), err);
	CHECK_OK(lt_canon_envelope_declared(&env3, &b, &blen, &err), err);
	CHECK(a != NULL && b != NULL && alen == blen && memcmp(a, b, alen) == 0);
	free(b);
	b = NULL;
	env3.parts[0]->data.data[0] ^= 1; /* the data changes, not the declaration */
	CHECK_OK(lt_canon_envelope_declared(&env3, &b, &blen, &err), err);
	CHECK(b != NULL && blen == alen && memcmp(a, b, alen) == 0);
	CHECK(!canon_env_equals(&env3, a, alen));
	env3.parts[0]->data.data[0] ^= 1;
	free(b);
	b = NULL;
	sha[1][5] ^= 1; /* a declaration changes */
	CHECK_OK(lt_canon_envelope_declared(&env3, &b, &blen, &err), err);
	CHECK(b != NULL && blen == alen && memcmp(a, b, alen) != 0);
	CHECK(canon_env_equals(&env3, a, alen));
	for (size_t i = 0; i < env3.n_parts && i < 3; i++)
		env3.parts[i]->sha256 = (ProtobufCBinaryData){0}; /* no pointer to this stack */
	free(a);
	free(b);
}

static void test_envelope_changes(void)
{
	spec_envelope(&env3, &base);
	char *saved;
	int64_t t;
	MUST_CHANGE("document_id", (saved = hdr.document_id, hdr.document_id = "x"),
	            hdr.document_id = saved);
	MUST_CHANGE("sender", (saved = hdr.sender, hdr.sender = "000.00.00.G23"),
	            hdr.sender = saved);
	MUST_CHANGE("a recipient", (saved = recips[2], recips[2] = "000.00.00.H04"),
	            recips[2] = saved);
	MUST_CHANGE("the recipients' order",
	            (saved = recips[0], recips[0] = recips[1], recips[1] = saved),
	            (recips[1] = recips[0], recips[0] = saved));
	MUST_CHANGE("the number of recipients", hdr.n_recipients = 2, hdr.n_recipients = 3);
	MUST_CHANGE("subject", subject[150] = 's', subject[150] = 'S');
	MUST_CHANGE("document_number",
	            (saved = hdr.document_number, hdr.document_number = "124/QD-UBND"),
	            hdr.document_number = saved);
	MUST_CHANGE("created_at_ms", (t = hdr.created_at_ms, hdr.created_at_ms = t + 1),
	            hdr.created_at_ms = t);
	MUST_CHANGE("expires_at_ms", hdr.expires_at_ms = 1, hdr.expires_at_ms = 0);
	MUST_CHANGE("replaces_id", (saved = hdr.replaces_id, hdr.replaces_id = ""),
	            hdr.replaces_id = saved);
	MUST_CHANGE("business_type", hdr.business_type = LIENTHONG__BUSINESS_TYPE__BUSINESS_REVOKE,
	            hdr.business_type = LIENTHONG__BUSINESS_TYPE__BUSINESS_NEW);
	MUST_CHANGE("a part name", (saved = p2.name, p2.name = "c.bin"), p2.name = saved);
	MUST_CHANGE("a media type", (saved = p2.media_type, p2.media_type = "application/x-b"),
	            p2.media_type = saved);
	MUST_CHANGE("the first byte of a part", data0[0] ^= 1, data0[0] ^= 1);
	MUST_CHANGE("the last byte of a part", data0[sizeof data0 - 1] ^= 0x80,
	            data0[sizeof data0 - 1] ^= 0x80);
	MUST_CHANGE("a byte of a small part", data2[4] = 0xfe, data2[4] = 0xff);
	MUST_CHANGE("the length of a part", p2.data.len = 4, p2.data.len = sizeof data2);
	MUST_CHANGE("the number of parts", env3.n_parts = 2, env3.n_parts = 3);
	MUST_CHANGE("the order of parts", (parts3[0] = &p2, parts3[2] = &p0),
	            (parts3[0] = &p0, parts3[2] = &p2));
	/* Where one string ends and the next begins is part of the bytes. */
	MUST_CHANGE(
	    "the split between subject and number",
	    (saved = hdr.document_number, subject[300] = '1', hdr.document_number = "23/QD-UBND"),
	    (subject[300] = '\0', hdr.document_number = saved));

	/* What the signature does not cover: declared size and digest, version, signature. */
	uint8_t junk[32];
	memset(junk, 0xaa, sizeof junk);
	MUST_NOT_CHANGE("the declared sha256 of a part",
	                (p0.sha256.data = junk, p0.sha256.len = sizeof junk),
	                (p0.sha256.data = NULL, p0.sha256.len = 0));
	MUST_NOT_CHANGE("the declared size of a part", p0.size = 12345, p0.size = 0);
	Lienthong__Signature sig = LIENTHONG__SIGNATURE__INIT;
	sig.algorithm = "ed25519";
	sig.value.data = junk;
	sig.value.len = sizeof junk;
	MUST_NOT_CHANGE("the signature", env3.signature = &sig, env3.signature = NULL);
	MUST_NOT_CHANGE("the version", env3.version = 7, env3.version = 1);
	/* Everything was put back. */
	CHECK(canon_env_equals(&env3, base.b, base.n));
}

/* ---- receipts ---- */

static void test_receipt_literal(void)
{
	/*
	 * magic; document_id "d"; sender "A"; recipient "B"; status 2 (rejected); time_ms
	 * 0x0a0b0c0d0e0f1011; reason "no"; document_digest de ad; business_code "03";
	 * comment "ok"; reported_by "Ann".
	 */
	static const char expected[] = "lienthong-receipt-v1\n"
	                               "\0\0\0\1d"
	                               "\0\0\0\1A"
	                               "\0\0\0\1B"
	                               "\0\0\0\2"
	                               "\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11"
	                               "\0\0\0\2no"
	                               "\0\0\0\2\xde\xad"
	                               "\0\0\0\2"
	                               "03"
	                               "\0\0\0\2ok"
	                               "\0\0\0\3Ann";
	Lienthong__Receipt r = LIENTHONG__RECEIPT__INIT;
	r.document_id = "d";
	r.sender = "A";
	r.recipient = "B";
	r.status = LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED;
	r.time_ms = 0x0a0b0c0d0e0f1011LL;
	r.reason = "no";
	r.document_digest.data = (uint8_t[]){0xde, 0xad};
	r.document_digest.len = 2;
	r.business_code = "03";
	r.comment = "ok";
	r.reported_by = "Ann";
	CHECK(canon_receipt_equals(&r, (const uint8_t *)expected, sizeof expected - 1));
}

static uint8_t rdigest[32];
static Lienthong__Receipt rc3 = LIENTHONG__RECEIPT__INIT;

static void spec_receipt(const Lienthong__Receipt *r, struct buf *w)
{
	w->n = 0;
	put_raw(w, "lienthong-receipt-v1\n", 21);
	put_str(w, r->document_id);
	put_str(w, r->sender);
	put_str(w, r->recipient);
	put_be(w, (uint32_t)r->status, 4);
	put_be(w, (uint64_t)r->time_ms, 8);
	put_str(w, r->reason);
	put_be(w, r->document_digest.len, 4);
	put_raw(w, r->document_digest.data, r->document_digest.len);
	put_str(w, r->business_code);
	put_str(w, r->comment);
	put_str(w, r->reported_by);
}

#define RECEIPT_MUST_CHANGE(what, apply, restore)                                                  \
	do {                                                                                       \
		apply;                                                                             \
		lt_check(!canon_receipt_equals(&rc3, base.b, base.n), __FILE__, __LINE__,          \
		         "changing " what " changes the receipt canonical bytes", NULL);           \
		restore;                                                                           \
	} while (0)

static void test_receipt_spec_and_changes(void)
{
	for (size_t i = 0; i < sizeof rdigest; i++)
		rdigest[i] = (uint8_t)(0xf0 - i);
	rc3.version = 1;
	rc3.document_id = "0190f3a2-7c41-7d2e-9a4b-1c2d3e4f5a6b";
	rc3.sender = "000.00.00.G22";
	rc3.recipient = "000.00.00.H01";
	rc3.status = LIENTHONG__RECEIPT_STATUS__RECEIPT_DELIVERED;
	rc3.time_ms = 1767225600999LL;
	rc3.reason = "";
	rc3.document_digest.data = rdigest;
	rc3.document_digest.len = sizeof rdigest;
	rc3.business_code = "";
	rc3.comment = "";
	rc3.reported_by = "";
	spec_receipt(&rc3, &base);
	CHECK(base.n == 21 + 40 + 17 + 17 + 4 + 8 + 4 + 36 + 4 + 4 + 4);
	CHECK(canon_receipt_equals(&rc3, base.b, base.n));

	char *saved;
	RECEIPT_MUST_CHANGE("document_id", (saved = rc3.document_id, rc3.document_id = "e"),
	                    rc3.document_id = saved);
	RECEIPT_MUST_CHANGE("sender", (saved = rc3.sender, rc3.sender = "000.00.00.G23"),
	                    rc3.sender = saved);
	RECEIPT_MUST_CHANGE("recipient", (saved = rc3.recipient, rc3.recipient = "000.00.00.H02"),
	                    rc3.recipient = saved);
	RECEIPT_MUST_CHANGE("sender and recipient swapped",
	                    (saved = rc3.sender, rc3.sender = rc3.recipient, rc3.recipient = saved),
	                    (rc3.recipient = rc3.sender, rc3.sender = saved));
	RECEIPT_MUST_CHANGE("status", rc3.status = LIENTHONG__RECEIPT_STATUS__RECEIPT_FAILED,
	                    rc3.status = LIENTHONG__RECEIPT_STATUS__RECEIPT_DELIVERED);
	RECEIPT_MUST_CHANGE("time_ms", rc3.time_ms += 1000, rc3.time_ms -= 1000);
	RECEIPT_MUST_CHANGE("reason", rc3.reason = "late", rc3.reason = "");
	RECEIPT_MUST_CHANGE("a digest byte", rdigest[31] ^= 1, rdigest[31] ^= 1);
	RECEIPT_MUST_CHANGE("an absent digest", rc3.document_digest.len = 0,
	                    rc3.document_digest.len = sizeof rdigest);
	RECEIPT_MUST_CHANGE("business_code", rc3.business_code = "01", rc3.business_code = "");
	RECEIPT_MUST_CHANGE("comment", rc3.comment = "x", rc3.comment = "");
	RECEIPT_MUST_CHANGE("reported_by", rc3.reported_by = "x", rc3.reported_by = "");
	RECEIPT_MUST_CHANGE("comment and reported_by swapped",
	                    (rc3.comment = "", rc3.reported_by = "x"),
	                    (rc3.comment = "", rc3.reported_by = ""));

	Lienthong__Signature sig = LIENTHONG__SIGNATURE__INIT;
	sig.algorithm = "ed25519";
	rc3.signature = &sig;
	rc3.version = 9;
	CHECK(canon_receipt_equals(&rc3, base.b, base.n)); /* signature and version not covered */
	rc3.signature = NULL;
	rc3.version = 1;
}

int main(void)
{
	build_envelope();
	LT_RUN(test_envelope_literal);
	LT_RUN(test_envelope_streamed_literal);
	LT_RUN(test_envelope_spec);
	LT_RUN(test_envelope_changes);
	LT_RUN(test_envelope_declared);
	LT_RUN(test_receipt_literal);
	LT_RUN(test_receipt_spec_and_changes);
	return lt_check_summary();
}
