/*
 * Unit tests of lt_envelope and lt_receipt: sealing, decoding, verifying,
 * tampering, bounds, and document ids.
 */
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../pki/lt_pki.h"
#include "../../proto/lt_canon.h"
#include "../../proto/lt_crypt.h"
#include "../../proto/lt_envelope.h"
#include "../../proto/lt_receipt.h"
#include "lt_check.h"
#include "lt_testpki.h"

static struct lt_tpki pki;
static struct lt_tca ca;
static struct lt_trust *trust;
static struct lt_config cfg;       /* max_parts = 4 */
static struct lt_config small_cfg; /* max_message_bytes = 2K, max_parts = 3 */

enum { S_EC, S_ED, S_RSA, RECV_A, RECV_B, NSIGNERS };
static const char *const signer_types[NSIGNERS] = {"ec", "ed25519", "rsa", "ec", "ed25519"};
static const char *const signer_codes[NSIGNERS] = {"SEND.EC", "SEND.ED", "SEND.RSA", "RECV.A",
                                                   "RECV.B"};
static struct lt_signer signers[NSIGNERS];

static const char *const recipients[] = {"RECV.A", "RECV.B"};
static uint8_t data0[3000];
static uint8_t data1[] = "hello, world\n";
static struct lt_part_in parts[5] = {
    {.name = "quyet dinh.pdf", .media_type = "application/pdf", .data = data0, .len = sizeof data0},
    {.name = "b.txt", .media_type = "text/plain", .data = data1, .len = sizeof data1 - 1},
    {.name = "empty.xml", .media_type = "application/xml", .data = NULL, .len = 0},
    {.name = "d.bin", .media_type = "application/octet-stream", .data = data1, .len = 3},
    {.name = "e.bin", .media_type = "application/octet-stream", .data = data1, .len = 4},
};
static char docid[LT_DOCID_LEN + 1];

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct lt_envelope_in input(void)
{
	return (struct lt_envelope_in){
	    .document_id = docid,
	    .recipients = recipients,
	    .n_recipients = 2,
	    .subject = "Quyết định về việc thử nghiệm",
	    .document_number = "12/QD-UBND",
	    .created_at_ms = now_ms(),
	    .expires_at_ms = now_ms() + 86400000,
	    .replaces_id = "",
	    .parts = parts,
	    .n_parts = 3,
	};
}

/* Decodes then verifies; frees the envelope. 0 only if both pass; *stage says which failed. */
static int decode_verify(const uint8_t *buf, size_t len, const struct lt_config *c, int *stage,
                         lt_err *err)
{
	Lienthong__Envelope *env = NULL;
	uint8_t d[LT_DIGEST_LEN];
	int rc = -1;
	lt_err_clear(err);
	*stage = 1;
	if (lt_envelope_decode(buf, len, c, &env, err) == 0) {
		*stage = 2;
		rc = lt_envelope_verify(env, trust, d, err);
	}
	if (env != NULL)
		lienthong__envelope__free_unpacked(env, NULL);
	return rc;
}

/*
 * Unpacks buf, applies change to a shallow copy (so that a change may point
 * fields at literals or drop them without disturbing what protobuf-c frees),
 * and packs the copy into *out (malloc'd).
 */
typedef void (*env_change)(Lienthong__Envelope *env);

#define COPY_MAX 8

static int repack(const uint8_t *buf, size_t len, env_change change, uint8_t **out, size_t *n)
{
	Lienthong__Envelope *orig = lienthong__envelope__unpack(NULL, len, buf);
	int rc = -1;
	*out = NULL;
	if (orig == NULL || orig->header == NULL || orig->signature == NULL ||
	    orig->n_parts > COPY_MAX || orig->header->n_recipients > COPY_MAX)
		goto out;
	Lienthong__Envelope e = *orig;
	Lienthong__Header h = *orig->header;
	Lienthong__Signature s = *orig->signature;
	Lienthong__Part p[COPY_MAX], *pp[COPY_MAX];
	char *r[COPY_MAX];
	for (size_t i = 0; i < e.n_parts; i++) {
		p[i] = *orig->parts[i];
		pp[i] = &p[i];
	}
	for (size_t i = 0; i < h.n_recipients; i++)
		r[i] = orig->header->recipients[i];
	h.recipients = r;
	e.header = &h;
	e.signature = &s;
	e.parts = pp;
	change(&e);
	*n = lienthong__envelope__get_packed_size(&e);
	*out = malloc(*n);
	if (*out != NULL) {
		lienthong__envelope__pack(&e, *out);
		rc = 0;
	}
out:
	if (orig != NULL)
		lienthong__envelope__free_unpacked(orig, NULL);
	return rc;
}

/* ---- round trips ---- */

static void round_trip(int who)
{
	const struct lt_signer *s = &signers[who];
	struct lt_envelope_in in = input();
	uint8_t *buf = NULL, *canon = NULL;
	size_t len = 0, canon_len = 0;
	uint8_t sealed_digest[LT_DIGEST_LEN], verified_digest[LT_DIGEST_LEN], d[LT_DIGEST_LEN];
	Lienthong__Envelope *env = NULL;
	lt_err err;

	in.replaces_id = "0190f3a2-0000-7000-8000-000000000001";
	if (!CHECK_OK(lt_envelope_seal(&in, s, &cfg, &buf, &len, sealed_digest, &err), err))
		return;
	CHECK(len > sizeof data0 && len <= (size_t)cfg.max_message_bytes);
	if (!CHECK_OK(lt_envelope_decode(buf, len, &cfg, &env, &err), err))
		goto out;
	CHECK_OK(lt_envelope_verify(env, trust, verified_digest, &err), err);
	CHECK(memcmp(sealed_digest, verified_digest, LT_DIGEST_LEN) == 0);
	/* The digest is the SHA-256 of the canonical bytes. */
	if (CHECK_OK(lt_canon_envelope(env, &canon, &canon_len, &err), err)) {
		SHA256(canon, canon_len, d);
		CHECK(memcmp(d, sealed_digest, LT_DIGEST_LEN) == 0);
	}
	/* What was sealed is what was decoded. */
	const Lienthong__Header *h = env->header;
	CHECK(env->version == 1);
	CHECK(strcmp(h->document_id, docid) == 0);
	CHECK(strcmp(h->sender, signer_codes[who]) == 0);
	CHECK(h->n_recipients == 2 && strcmp(h->recipients[0], "RECV.A") == 0 &&
	      strcmp(h->recipients[1], "RECV.B") == 0);
	CHECK(strcmp(h->subject, in.subject) == 0);
	CHECK(strcmp(h->document_number, "12/QD-UBND") == 0);
	CHECK(h->created_at_ms == in.created_at_ms);
	CHECK(h->expires_at_ms == in.expires_at_ms);
	CHECK(strcmp(h->replaces_id, in.replaces_id) == 0);
	CHECK(strcmp(env->signature->algorithm, s->algorithm) == 0);
	CHECK(env->signature->signer_certificate.len == s->cert_der_len &&
	      memcmp(env->signature->signer_certificate.data, s->cert_der, s->cert_der_len) == 0);
	if (CHECK(env->n_parts == 3)) {
		for (size_t i = 0; i < 3; i++) {
			const Lienthong__Part *p = env->parts[i];
			CHECK(strcmp(p->name, parts[i].name) == 0);
			CHECK(strcmp(p->media_type, parts[i].media_type) == 0);
			CHECK(p->size == parts[i].len && p->data.len == parts[i].len);
			CHECK(parts[i].len == 0 ||
			      memcmp(p->data.data, parts[i].data, parts[i].len) == 0);
			SHA256(parts[i].data, parts[i].len, d);
			CHECK(p->sha256.len == LT_DIGEST_LEN &&
			      memcmp(p->sha256.data, d, LT_DIGEST_LEN) == 0);
		}
	}
	/* Without a digest wanted, sealing works the same. */
	uint8_t *buf2 = NULL;
	size_t len2 = 0;
	CHECK_OK(lt_envelope_seal(&in, s, &cfg, &buf2, &len2, NULL, &err), err);
	free(buf2);
out:
	free(canon);
	if (env != NULL)
		lienthong__envelope__free_unpacked(env, NULL);
	free(buf);
}

static void test_round_trip_ec(void)
{
	round_trip(S_EC);
}

static void test_round_trip_ed25519(void)
{
	round_trip(S_ED);
}

static void test_round_trip_rsa(void)
{
	round_trip(S_RSA);
}

/* ---- tampering after sealing ---- */

static uint8_t *sealed;
static size_t sealed_len;

static void change_part_byte(Lienthong__Envelope *e)
{
	e->parts[0]->data.data[1234] ^= 0x20;
}
static void change_part_last_byte(Lienthong__Envelope *e)
{
	e->parts[1]->data.data[e->parts[1]->data.len - 1] ^= 0x01;
}
static void change_subject(Lienthong__Envelope *e)
{
	e->header->subject[0] ^= 0x01;
}
static void change_created(Lienthong__Envelope *e)
{
	e->header->created_at_ms -= 1;
}
static void change_recipient(Lienthong__Envelope *e)
{
	e->header->recipients[1][0] = 'S';
}
static void change_declared_sha256(Lienthong__Envelope *e)
{
	e->parts[1]->sha256.data[0] ^= 0x01;
}
static void change_sender(Lienthong__Envelope *e)
{
	e->header->sender[0] = 'R'; /* SEND.EC -> REND.EC, a valid code */
}
static void change_algorithm(Lienthong__Envelope *e)
{
	e->signature->algorithm = "ed25519";
}
static void change_signer_cert(Lienthong__Envelope *e)
{
	e->signature->signer_certificate.data = signers[RECV_A].cert_der;
	e->signature->signer_certificate.len = signers[RECV_A].cert_der_len;
}
static void change_sig_value(Lienthong__Envelope *e)
{
	e->signature->value.data[e->signature->value.len / 2] ^= 0x08;
}

static void tampered(env_change change, int want_stage, const char *want)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int stage = 0;
	lt_err err;
	if (!CHECK(repack(sealed, sealed_len, change, &buf, &len) == 0))
		return;
	CHECK(decode_verify(buf, len, &cfg, &stage, &err) == -1);
	CHECK(stage == want_stage);
	CHECK(err.code == LT_EVERIFY || err.code == LT_EINVAL);
	CHECK_STR_CONTAINS(err.msg, want);
	free(buf);
}

static void test_tampering(void)
{
	int stage = 0;
	lt_err err;
	/* The untouched envelope passes (so each failure below is the change's). */
	CHECK_OK(decode_verify(sealed, sealed_len, &cfg, &stage, &err), err);
	tampered(change_part_byte, 2, "signature did not verify");
	tampered(change_part_last_byte, 2, "signature did not verify");
	tampered(change_subject, 2, "signature did not verify");
	tampered(change_created, 2, "signature did not verify");
	tampered(change_recipient, 2, "signature did not verify");
	tampered(change_sig_value, 2, "signature did not verify");
	/* The declared digest is not signed, but checked against the data. */
	tampered(change_declared_sha256, 2, "part 2 ('b.txt'): declared size or SHA-256 differs");
	/* The sender named in the header must be the certificate's CN. */
	tampered(change_sender, 2,
	         "signer certificate names agency 'SEND.EC', but the record "
	         "claims 'REND.EC'");
	tampered(change_signer_cert, 2, "names agency 'RECV.A'");
	tampered(change_algorithm, 2, "does not fit the signer key");
}

/* An envelope claiming to be signed before its signer certificate was valid. */
static void test_signing_time(void)
{
	struct lt_envelope_in in = input();
	uint8_t *buf = NULL;
	size_t len = 0;
	int stage = 0;
	lt_err err;
	in.created_at_ms = now_ms() - 2 * 3600 * 1000; /* certificates start an hour ago */
	if (!CHECK_OK(lt_envelope_seal(&in, &signers[S_EC], &cfg, &buf, &len, NULL, &err), err))
		return;
	CHECK(decode_verify(buf, len, &cfg, &stage, &err) == -1);
	CHECK(stage == 2);
	CHECK_STR_CONTAINS(err.msg, "not yet valid at the signing time");
	free(buf);
}

/* ---- structure checks when decoding ---- */

static void set_docid_bad(Lienthong__Envelope *e)
{
	e->header->document_id = "not-a-document-id";
}
static void set_docid_upper(Lienthong__Envelope *e)
{
	e->header->document_id = "0190F3A2-7C41-7D2E-9A4B-1C2D3E4F5A6B";
}
static void set_name_dotdot(Lienthong__Envelope *e)
{
	e->parts[0]->name = "../x";
}
static void set_name_hidden(Lienthong__Envelope *e)
{
	e->parts[1]->name = ".hidden";
}
static void set_name_slash(Lienthong__Envelope *e)
{
	e->parts[2]->name = "a/b";
}
static void set_name_empty(Lienthong__Envelope *e)
{
	e->parts[0]->name = "";
}
static void set_name_dup(Lienthong__Envelope *e)
{
	e->parts[2]->name = e->parts[0]->name;
}
static void set_size(Lienthong__Envelope *e)
{
	e->parts[0]->size += 1;
}
static void set_sha256_short(Lienthong__Envelope *e)
{
	e->parts[0]->sha256.len = 31;
}
static void set_media_type(Lienthong__Envelope *e)
{
	e->parts[1]->media_type = "text";
}
static void set_sender_bad(Lienthong__Envelope *e)
{
	e->header->sender = "SEND/EC";
}
static void set_recipient_bad(Lienthong__Envelope *e)
{
	e->header->recipients[1] = "..";
}
static void set_no_recipients(Lienthong__Envelope *e)
{
	e->header->n_recipients = 0;
}
static void set_replaces_bad(Lienthong__Envelope *e)
{
	e->header->replaces_id = "x";
}
static char long_subject[LT_SUBJECT_MAX + 2];
static void set_subject_long(Lienthong__Envelope *e)
{
	e->header->subject = long_subject;
}
static void set_version(Lienthong__Envelope *e)
{
	e->version = 2;
}
static void set_unsigned(Lienthong__Envelope *e)
{
	e->signature = NULL;
}
static void set_no_header(Lienthong__Envelope *e)
{
	e->header = NULL;
}
static void set_no_parts(Lienthong__Envelope *e)
{
	e->n_parts = 0;
}
static void refused_on_decode(env_change change, const char *want)
{
	tampered(change, 1, want);
}

static void test_decode_checks(void)
{
	memset(long_subject, 'x', LT_SUBJECT_MAX + 1);
	refused_on_decode(set_docid_bad, "document id 'not-a-document-id' is not a lowercase UUID");
	refused_on_decode(set_docid_upper, "is not a lowercase UUID");
	refused_on_decode(set_name_dotdot, "part 1: part name '../x' starts with '.'");
	refused_on_decode(set_name_hidden, "part 2: part name '.hidden' starts with '.'");
	refused_on_decode(set_name_slash, "part 3: part name 'a/b' has a control character, '/'");
	refused_on_decode(set_name_empty, "part 1: part name must have 1 to 255 bytes");
	refused_on_decode(set_name_dup, "part name 'quyet dinh.pdf' appears twice");
	refused_on_decode(set_size, "part 1 ('quyet dinh.pdf'): declared size or digest");
	refused_on_decode(set_sha256_short, "declared size or digest does not fit");
	refused_on_decode(set_media_type, "part 2: media type 'text' is not type/subtype");
	refused_on_decode(set_sender_bad, "sender: agency code 'SEND/EC'");
	refused_on_decode(set_recipient_bad, "recipient 2: agency code '..'");
	refused_on_decode(set_no_recipients, "envelope has 0 recipients");
	refused_on_decode(set_replaces_bad, "replaces_id: document id 'x'");
	refused_on_decode(set_subject_long, "subject or document number too long");
	refused_on_decode(set_version, "unsupported envelope version 2");
	refused_on_decode(set_unsigned, "envelope is not signed");
	refused_on_decode(set_no_header, "envelope has no header");
	refused_on_decode(set_no_parts, "envelope has 0 parts (allowed 1..4)");

	/* Bounds of the receiving configuration: parts and size. */
	struct lt_envelope_in in = input();
	uint8_t *buf = NULL;
	size_t len = 0;
	int stage = 0;
	lt_err err;
	in.n_parts = 4;
	if (CHECK_OK(lt_envelope_seal(&in, &signers[S_ED], &cfg, &buf, &len, NULL, &err), err)) {
		CHECK_OK(decode_verify(buf, len, &cfg, &stage, &err), err);
		CHECK(decode_verify(buf, len, &small_cfg, &stage, &err) == -1);
		CHECK(stage == 1);
		CHECK_STR_CONTAINS(err.msg, "exceeds max_message_bytes (2048)");
		free(buf);
	}
	buf = NULL;
	in.parts = parts + 1;
	in.n_parts = 4; /* small parts, under 2 KiB in all */
	if (CHECK_OK(lt_envelope_seal(&in, &signers[S_ED], &cfg, &buf, &len, NULL, &err), err)) {
		CHECK(len <= 2048);
		CHECK(decode_verify(buf, len, &small_cfg, &stage, &err) == -1);
		CHECK(stage == 1);
		CHECK_STR_CONTAINS(err.msg, "envelope has 4 parts (allowed 1..3)");
		free(buf);
	}
}

/* ---- sealing refusals ---- */

static void seal_refused(const struct lt_envelope_in *in, const struct lt_config *c,
                         enum lt_code code, const char *want)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	lt_err err;
	lt_err_clear(&err);
	CHECK(lt_envelope_seal(in, &signers[S_EC], c, &buf, &len, NULL, &err) == -1);
	CHECK(err.code == code);
	CHECK_STR_CONTAINS(err.msg, want);
	CHECK(buf == NULL);
	free(buf);
}

static void test_seal_checks(void)
{
	struct lt_envelope_in in = input();
	in.n_parts = 5;
	seal_refused(&in, &cfg, LT_EINVAL, "a document has at most 4 parts, not 5");
	in.n_parts = 0;
	seal_refused(&in, &cfg, LT_EINVAL, "envelope has 0 parts (allowed 1..4)");

	/* Business types: a recall or update names a document and has no parts. */
	static const char *const other_doc = "0190f3a2-0000-7000-8000-000000000009";
	in = input();
	in.business_type = LIENTHONG__BUSINESS_TYPE__BUSINESS_REVOKE;
	seal_refused(&in, &cfg, LT_EINVAL, "must name another document in replaces_id");
	in.replaces_id = docid;
	seal_refused(&in, &cfg, LT_EINVAL, "must name another document in replaces_id");
	in.replaces_id = other_doc;
	seal_refused(&in, &cfg, LT_EINVAL, "a recall or update carries no parts, not 3");
	in.business_type = LIENTHONG__BUSINESS_TYPE__BUSINESS_REPLACE;
	in.n_parts = 0;
	seal_refused(&in, &cfg, LT_EINVAL, "envelope has 0 parts (allowed 1..4)");
	in.business_type = (Lienthong__BusinessType)7;
	seal_refused(&in, &cfg, LT_EINVAL, "unknown business type 7");
	in.business_type = LIENTHONG__BUSINESS_TYPE__BUSINESS_UPDATE;
	{
		uint8_t *buf = NULL;
		size_t len = 0;
		int stage = 0;
		lt_err err;
		CHECK_OK(lt_envelope_seal(&in, &signers[S_EC], &cfg, &buf, &len, NULL, &err), err);
		CHECK_OK(decode_verify(buf, len, &cfg, &stage, &err), err);
		free(buf);
	}
	in = input();
	in.n_recipients = 0;
	seal_refused(&in, &cfg, LT_EINVAL, "a document needs 1 to 1000 recipients, not 0");
	const char *const bad_recipients[] = {"RECV.A", "RECV B"};
	in.recipients = bad_recipients;
	in.n_recipients = 2;
	seal_refused(&in, &cfg, LT_EINVAL, "agency code 'RECV B'");

	static const char *const bad_names[] = {"../x", ".hidden", "a/b", "a\\b", "a\nb", ""};
	for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
		struct lt_part_in p[2] = {parts[1], parts[1]};
		p[1].name = bad_names[i];
		in = input();
		in.parts = p;
		in.n_parts = 2;
		seal_refused(&in, &cfg, LT_EINVAL, "part name");
		if (bad_names[i][0] != '\0' && bad_names[i][1] != '\n')
			seal_refused(&in, &cfg, LT_EINVAL, bad_names[i]);
	}
	struct lt_part_in p = parts[1];
	p.media_type = "pdf";
	in = input();
	in.parts = &p;
	in.n_parts = 1;
	seal_refused(&in, &cfg, LT_EINVAL, "media type 'pdf' is not type/subtype");
	/* Parameters are allowed after ';'; no space in the type itself, no empty half. */
	static const char *const good_types[] = {"text/plain; charset=utf-8",
	                                         "application/pdf;name=\"a b.pdf\""};
	for (size_t i = 0; i < sizeof good_types / sizeof good_types[0]; i++) {
		uint8_t *buf = NULL;
		size_t len = 0;
		lt_err err;
		p.media_type = good_types[i];
		CHECK_OK(lt_envelope_seal(&in, &signers[S_EC], &cfg, &buf, &len, NULL, &err), err);
		free(buf);
	}
	p.media_type = "text /plain";
	seal_refused(&in, &cfg, LT_EINVAL, "not printable ASCII");
	p.media_type = "/plain";
	seal_refused(&in, &cfg, LT_EINVAL, "not type/subtype");
	p.media_type = "text/;x=1";
	seal_refused(&in, &cfg, LT_EINVAL, "not type/subtype");
	p.media_type = "text/plain; x=\x01";
	seal_refused(&in, &cfg, LT_EINVAL, "not printable ASCII");

	/* Larger than max_message_bytes once signed. */
	size_t big = (size_t)cfg.max_message_bytes;
	uint8_t *data = calloc(1, big);
	if (CHECK(data != NULL)) {
		p = (struct lt_part_in){.name = "big.bin",
		                        .media_type = "application/octet-stream",
		                        .data = data,
		                        .len = big - 100};
		in.parts = &p;
		seal_refused(&in, &cfg, LT_EFULL, "above max_message_bytes (1000000)");
		/* Just under the limit is accepted. */
		uint8_t *buf = NULL;
		size_t len = 0;
		lt_err err;
		p.len = big - 2000;
		CHECK_OK(lt_envelope_seal(&in, &signers[S_EC], &cfg, &buf, &len, NULL, &err), err);
		CHECK(len <= big);
		free(buf);
		free(data);
	}
}

/* ---- streamed parts and chunk records ---- */

/* A streamed part of 10,000 bytes in chunks of 4,096: its declarations from the bytes. */
static uint8_t stream_data[10000];
static uint8_t stream_sha[LT_DIGEST_LEN], stream_chunks[3 * LT_DIGEST_LEN];

static struct lt_part_in streamed_part(void)
{
	for (size_t i = 0; i < sizeof stream_data; i++)
		stream_data[i] = (uint8_t)(i * 13 + i / 4096); /* no two chunks alike */
	SHA256(stream_data, sizeof stream_data, stream_sha);
	for (size_t c = 0; c < 3; c++) {
		size_t off = c * 4096,
		       n = sizeof stream_data - off < 4096 ? sizeof stream_data - off : 4096;
		SHA256(stream_data + off, n, stream_chunks + c * LT_DIGEST_LEN);
	}
	return (struct lt_part_in){.name = "scan.pdf",
	                           .media_type = "application/pdf",
	                           .len = sizeof stream_data,
	                           .chunk_bytes = 4096,
	                           .sha256 = stream_sha,
	                           .chunk_sha256 = stream_chunks};
}

/* Chunk index of the streamed part (part 1 of the manifest below), as a decoded record. */
static Lienthong__Envelope *chunk_record(const char *doc_id, const char *sender, uint32_t part,
                                         uint32_t index, const uint8_t *data, size_t len)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	Lienthong__Envelope *out = NULL;
	lt_err err;
	if (lt_chunk_pack(doc_id, sender, part, index, data, len, &buf, &n, &err) != 0) {
		fprintf(stderr, "chunk record not packed: %s\n", err.msg);
		return NULL;
	}
	int rc = lt_envelope_decode_any(buf, n, &cfg, &out, &err);
	free(buf);
	if (rc != 0) {
		fprintf(stderr, "chunk record refused: %s\n", err.msg);
		if (out != NULL)
			lienthong__envelope__free_unpacked(out, NULL);
		return NULL;
	}
	return out;
}

static void chunk_verdict(const Lienthong__Envelope *manifest, const char *doc_id,
                          const char *sender, uint32_t part, uint32_t index, const uint8_t *data,
                          size_t len, const char *want)
{
	Lienthong__Envelope *c = chunk_record(doc_id, sender, part, index, data, len);
	lt_err err;
	if (!CHECK(c != NULL && c->chunk != NULL))
		return;
	lt_err_clear(&err);
	int rc = lt_chunk_check(manifest, c->chunk, &err);
	if (want == NULL) {
		CHECK_OK(rc, err);
	} else {
		CHECK(rc == -1 && err.code == LT_EVERIFY);
		CHECK_STR_CONTAINS(err.msg, want);
	}
	lienthong__envelope__free_unpacked(c, NULL);
}

static void test_streamed(void)
{
	struct lt_part_in p[2] = {parts[1], streamed_part()};
	struct lt_envelope_in in = input();
	in.parts = p;
	in.n_parts = 2;
	uint8_t *buf = NULL, digest[LT_DIGEST_LEN], d2[LT_DIGEST_LEN];
	size_t len = 0;
	lt_err err;
	if (!CHECK_OK(lt_envelope_seal(&in, &signers[S_EC], &cfg, &buf, &len, digest, &err), err))
		return;
	/* The manifest carries no bytes of the streamed part, and verifies. */
	CHECK(len < sizeof stream_data);
	Lienthong__Envelope *m = NULL;
	if (!CHECK_OK(lt_envelope_decode_any(buf, len, &cfg, &m, &err), err))
		goto out;
	CHECK(m->chunk == NULL && m->n_parts == 2 && m->parts[1]->chunk_bytes == 4096);
	CHECK(m->parts[1]->data.len == 0 && m->parts[1]->chunk_sha256.len == 3 * LT_DIGEST_LEN);
	CHECK_OK(lt_envelope_verify(m, trust, d2, &err), err);
	CHECK(memcmp(digest, d2, LT_DIGEST_LEN) == 0);
	CHECK(lt_part_chunks(10000, 4096) == 3 && lt_part_chunks(8192, 4096) == 2 &&
	      lt_part_chunks(1, 4096) == 1 && lt_part_chunks(5, 0) == 0);

	/* Chunks: the right ones pass; anything else is told apart. */
	const char *id = m->header->document_id, *from = m->header->sender;
	chunk_verdict(m, id, from, 1, 0, stream_data, 4096, NULL);
	chunk_verdict(m, id, from, 1, 2, stream_data + 8192, 10000 - 8192, NULL);
	chunk_verdict(m, id, from, 1, 1, stream_data + 1, 4096,
	              "SHA-256 differs from the signed one");
	chunk_verdict(m, id, from, 1, 2, stream_data + 8192, 100, "this one 1808 bytes");
	chunk_verdict(m, id, from, 1, 3, stream_data, 4096, "the part has 3 chunks");
	chunk_verdict(m, id, from, 0, 0, stream_data, 4096, "has no streamed part 0");
	chunk_verdict(m, id, "SEND.RSA", 1, 0, stream_data, 4096, "does not belong to");
	chunk_verdict(m, "0190f3a2-0000-7000-8000-000000000009", from, 1, 0, stream_data, 4096,
	              "does not belong to");

	/* A changed chunk list or chunk size breaks the signature. */
	m->parts[1]->chunk_sha256.data[5] ^= 1;
	CHECK(lt_envelope_verify(m, trust, d2, &err) == -1 && err.code == LT_EVERIFY);
	m->parts[1]->chunk_sha256.data[5] ^= 1;
	m->parts[1]->chunk_bytes = 8192;
	CHECK(lt_envelope_verify(m, trust, d2, &err) == -1 && err.code == LT_EVERIFY);
	lienthong__envelope__free_unpacked(m, NULL);

	/* Bounds of a streamed part, on sealing. */
	p[1].chunk_bytes = 100;
	seal_refused(&in, &cfg, LT_EINVAL, "chunk size 100 outside 4096..");
	p[1] = streamed_part();
	struct lt_config big = cfg;
	big.max_document_bytes = 5000;
	seal_refused(&in, &big, LT_EINVAL, "max_document_bytes");
	/* Streamed parts are not encrypted (yet): said so. */
	STACK_OF(X509) *to = sk_X509_new_null();
	in.encrypt_to = to;
	seal_refused(&in, &cfg, LT_EINVAL, "streamed parts cannot be encrypted yet");
	sk_X509_free(to);
out:
	free(buf);
}

static void test_chunk_records(void)
{
	lt_err err;
	Lienthong__Envelope *e = NULL;
	/* A chunk record with a header besides is no chunk record: it is a malformed document. */
	Lienthong__Chunk c = LIENTHONG__CHUNK__INIT;
	Lienthong__Header h = LIENTHONG__HEADER__INIT;
	Lienthong__Envelope env = LIENTHONG__ENVELOPE__INIT;
	uint8_t data[16] = {1}, buf[512];
	c.document_id = "0190f3a2-0000-7000-8000-000000000009";
	c.sender = "SEND.EC";
	c.data.data = data;
	c.data.len = sizeof data;
	env.version = 1;
	env.chunk = &c;
	env.header = &h;
	h.document_id = "";
	h.sender = "";
	h.subject = "";
	h.document_number = "";
	h.replaces_id = "";
	size_t n = lienthong__envelope__pack(&env, buf);
	CHECK(lt_envelope_decode_any(buf, n, &cfg, &e, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "chunk alone");
	if (e != NULL)
		lienthong__envelope__free_unpacked(e, NULL);
	env.header = NULL;
	c.document_id = "not-an-id";
	n = lienthong__envelope__pack(&env, buf);
	CHECK(lt_envelope_decode_any(buf, n, &cfg, &e, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "chunk: document id 'not-an-id'");
	if (e != NULL)
		lienthong__envelope__free_unpacked(e, NULL);
	c.document_id = "0190f3a2-0000-7000-8000-000000000009";
	c.data.len = 0;
	n = lienthong__envelope__pack(&env, buf);
	CHECK(lt_envelope_decode_any(buf, n, &cfg, &e, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "out of bounds");
	if (e != NULL)
		lienthong__envelope__free_unpacked(e, NULL);
	c.data.len = sizeof data;
	c.part = 4; /* max_parts is 4: parts 0..3 */
	n = lienthong__envelope__pack(&env, buf);
	CHECK(lt_envelope_decode_any(buf, n, &cfg, &e, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "part number or size");
	if (e != NULL)
		lienthong__envelope__free_unpacked(e, NULL);
	/* lt_envelope_decode (documents only) never takes a chunk record. */
	c.part = 0;
	n = lienthong__envelope__pack(&env, buf);
	CHECK(lt_envelope_decode(buf, n, &cfg, &e, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "no header");
	if (e != NULL)
		lienthong__envelope__free_unpacked(e, NULL);
	CHECK_OK(lt_envelope_decode_any(buf, n, &cfg, &e, &err), err);
	if (e != NULL)
		lienthong__envelope__free_unpacked(e, NULL);
}

static void test_meta(void)
{
	struct lt_meta_in meta[] = {{"edxml.Code.CodeNumber", "12"},
	                            {"edxml.SignerInfo.FullName", "Nguyễn Văn A"}};
	struct lt_envelope_in in = input();
	in.meta = meta;
	in.n_meta = 2;
	uint8_t *buf = NULL;
	size_t len = 0;
	int stage = 0;
	lt_err err;
	if (CHECK_OK(lt_envelope_seal(&in, &signers[S_EC], &cfg, &buf, &len, NULL, &err), err)) {
		Lienthong__Envelope *e = NULL;
		CHECK_OK(decode_verify(buf, len, &cfg, &stage, &err), err);
		CHECK_OK(lt_envelope_decode(buf, len, &cfg, &e, &err), err);
		CHECK(e != NULL && e->header->n_meta == 2 &&
		      strcmp(e->header->meta[1]->value, "Nguyễn Văn A") == 0);
		if (e != NULL)
			lienthong__envelope__free_unpacked(e, NULL);
	}
	free(buf);
	meta[1].key = "edxml.Code.CodeNumber";
	seal_refused(&in, &cfg, LT_EINVAL, "meta field 'edxml.Code.CodeNumber' appears twice");
	meta[1].key = "bad key";
	seal_refused(&in, &cfg, LT_EINVAL, "key 'bad key' is not 1 to 64");
	meta[1].key = "ok";
	meta[1].value = "\xff";
	seal_refused(&in, &cfg, LT_EINVAL, "value is not UTF-8");
	in.n_meta = LT_META_MAX + 1;
	seal_refused(&in, &cfg, LT_EINVAL, "at most 256 meta fields");
}

/* ---- malformed bytes ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_malformed(void)
{
	int stage = 0;
	lt_err err;
	/* Every prefix of a sealed envelope is refused; one byte short is malformed protobuf. */
	CHECK(decode_verify(sealed, sealed_len - 1, &cfg, &stage, &err) == -1);
	CHECK(stage == 1);
	CHECK_STR_CONTAINS(err.msg, "malformed envelope");
	size_t accepted = 0;
	for (size_t n = 0; n < sealed_len; n++) {
		if (decode_verify(sealed, n, &cfg, &stage, &err) == 0) {
			fprintf(stderr, "prefix of %zu bytes accepted\n", n);
			accepted++;
		}
	}
	CHECK(accepted == 0);
	/* Random bytes: refused, without a crash. */
	static uint8_t junk[4096];
	accepted = 0;
	for (int i = 0; i < 500; i++) {
		size_t n = (size_t)(next_random() % sizeof junk);
		for (size_t k = 0; k < n; k++)
			junk[k] = (uint8_t)next_random();
		if (i % 2 == 1 && n > 8) /* start like an envelope: version 1, a header */
			memcpy(junk, "\x08\x01\x12", 3);
		if (decode_verify(junk, n, &cfg, &stage, &err) == 0)
			accepted++;
	}
	CHECK(accepted == 0);
	/* Each single-bit change of a (small) sealed envelope is refused. */
	struct lt_envelope_in in = input();
	uint8_t *small = NULL;
	size_t len = 0;
	in.parts = parts + 1;
	in.n_parts = 1;
	if (!CHECK_OK(lt_envelope_seal(&in, &signers[S_ED], &cfg, &small, &len, NULL, &err), err))
		return;
	CHECK_OK(decode_verify(small, len, &cfg, &stage, &err), err);
	accepted = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t bit = (uint8_t)(1u << (i % 8));
		small[i] ^= bit;
		if (decode_verify(small, len, &cfg, &stage, &err) == 0) {
			fprintf(stderr, "envelope with byte %zu ^ 0x%02x accepted\n", i, bit);
			accepted++;
		}
		small[i] ^= bit;
	}
	CHECK(accepted == 0);
	free(small);
}

/* ---- document ids ---- */

static uint64_t docid_ms(const char *id)
{
	char hex[13];
	memcpy(hex, id, 8);
	memcpy(hex + 8, id + 9, 4);
	hex[12] = '\0';
	return strtoull(hex, NULL, 16);
}

static void test_docid(void)
{
	char ids[200][LT_DOCID_LEN + 1];
	lt_err err;
	int64_t start = now_ms();
	int bad = 0, unordered = 0, same = 0;
	for (int i = 0; i < 200; i++) {
		if (lt_docid_new(ids[i], &err) != 0 || lt_docid_check(ids[i], &err) != 0 ||
		    strlen(ids[i]) != LT_DOCID_LEN || ids[i][14] != '7' ||
		    strchr("89ab", ids[i][19]) == NULL)
			bad++;
		if (i > 0 && docid_ms(ids[i]) < docid_ms(ids[i - 1]))
			unordered++;
		if (i > 0 && strcmp(ids[i], ids[i - 1]) == 0)
			same++;
	}
	int64_t end = now_ms();
	CHECK(bad == 0);
	CHECK(unordered == 0);
	CHECK(same == 0);
	CHECK((int64_t)docid_ms(ids[0]) >= start && (int64_t)docid_ms(ids[199]) <= end);
	/* Ids made a few milliseconds apart sort in time order. */
	char a[LT_DOCID_LEN + 1], b[LT_DOCID_LEN + 1];
	struct timespec pause = {0, 3 * 1000 * 1000};
	CHECK_OK(lt_docid_new(a, &err), err);
	nanosleep(&pause, NULL);
	CHECK_OK(lt_docid_new(b, &err), err);
	CHECK(strcmp(a, b) < 0);

	CHECK(lt_docid_check("0190f3a2-7c41-7d2e-9a4b-1c2d3e4f5a6b", &err) == 0);
	static const char *const bad_ids[] = {
	    "",
	    "0190f3a2-7c41-7d2e-9a4b-1c2d3e4f5a6",   /* short */
	    "0190f3a2-7c41-7d2e-9a4b-1c2d3e4f5a6bc", /* long */
	    "0190f3a2-7c41-7d2e-9a4b-1c2d3e4f5a6B",  /* upper case */
	    "0190f3a2-7c41-7d2e-9a4b-1c2d3e4f5a6g",  /* not hex */
	    "0190f3a27-c41-7d2e-9a4b-1c2d3e4f5a6b",  /* dash misplaced */
	    "0190f3a2-7c41-7d2e-9a4b_1c2d3e4f5a6b",
	    "../../../../../../../../../../etc/pw",
	};
	for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
		lt_err_clear(&err);
		CHECK(lt_docid_check(bad_ids[i], &err) == -1 && err.code == LT_EINVAL);
	}
	CHECK_STR_CONTAINS(err.msg, "is not a lowercase UUID");
}

/* ---- receipts ---- */

static uint8_t doc_digest[LT_DIGEST_LEN];

static struct lt_receipt_in receipt_input(void)
{
	return (struct lt_receipt_in){
	    .document_id = docid,
	    .sender = "SEND.EC",
	    .status = LIENTHONG__RECEIPT_STATUS__RECEIPT_DELIVERED,
	    .time_ms = now_ms(),
	    .reason = "delivered to the folder target",
	    .document_digest = doc_digest,
	};
}

/* Decodes then verifies a receipt; 0 only if both pass. */
static int receipt_decode_verify(const uint8_t *buf, size_t len, int *stage, lt_err *err)
{
	lt_err_clear(err);
	*stage = 1;
	Lienthong__Receipt *r = lt_receipt_decode(buf, len, &cfg, err);
	if (r == NULL)
		return -1;
	*stage = 2;
	int rc = lt_receipt_verify(r, trust, err);
	lienthong__receipt__free_unpacked(r, NULL);
	return rc;
}

typedef void (*receipt_change)(Lienthong__Receipt *r);

/* Like repack, for receipts. */
static int receipt_repack(const uint8_t *buf, size_t len, receipt_change change, uint8_t **out,
                          size_t *n)
{
	Lienthong__Receipt *orig = lienthong__receipt__unpack(NULL, len, buf);
	int rc = -1;
	*out = NULL;
	if (orig == NULL || orig->signature == NULL)
		goto out;
	Lienthong__Receipt r = *orig;
	Lienthong__Signature s = *orig->signature;
	r.signature = &s;
	change(&r);
	*n = lienthong__receipt__get_packed_size(&r);
	*out = malloc(*n);
	if (*out != NULL) {
		lienthong__receipt__pack(&r, *out);
		rc = 0;
	}
out:
	if (orig != NULL)
		lienthong__receipt__free_unpacked(orig, NULL);
	return rc;
}

static void receipt_round_trip(int who)
{
	struct lt_receipt_in in = receipt_input();
	uint8_t *buf = NULL;
	size_t len = 0;
	lt_err err;
	if (!CHECK_OK(lt_receipt_seal(&in, &signers[who], &buf, &len, &err), err))
		return;
	Lienthong__Receipt *r = lt_receipt_decode(buf, len, &cfg, &err);
	if (CHECK(r != NULL)) {
		CHECK(r->version == 1);
		CHECK(strcmp(r->document_id, docid) == 0);
		CHECK(strcmp(r->sender, "SEND.EC") == 0);
		CHECK(strcmp(r->recipient, signer_codes[who]) == 0);
		CHECK(r->status == LIENTHONG__RECEIPT_STATUS__RECEIPT_DELIVERED);
		CHECK(r->time_ms == in.time_ms);
		CHECK(strcmp(r->reason, in.reason) == 0);
		CHECK(r->document_digest.len == LT_DIGEST_LEN &&
		      memcmp(r->document_digest.data, doc_digest, LT_DIGEST_LEN) == 0);
		CHECK(strcmp(r->signature->algorithm, signers[who].algorithm) == 0);
		CHECK_OK(lt_receipt_verify(r, trust, &err), err);
		lienthong__receipt__free_unpacked(r, NULL);
	}
	free(buf);
}

static void test_receipt_round_trips(void)
{
	receipt_round_trip(RECV_A);
	receipt_round_trip(RECV_B);
	receipt_round_trip(S_RSA);

	/* A long reason (cut, not refused), a rejected status. */
	struct lt_receipt_in in = receipt_input();
	char reason[1500];
	memset(reason, 'r', sizeof reason - 1);
	reason[sizeof reason - 1] = '\0';
	in.reason = reason;
	in.status = LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED;
	uint8_t *buf = NULL;
	size_t len = 0;
	lt_err err;
	if (!CHECK_OK(lt_receipt_seal(&in, &signers[RECV_A], &buf, &len, &err), err))
		return;
	Lienthong__Receipt *r = lt_receipt_decode(buf, len, &cfg, &err);
	if (CHECK(r != NULL)) {
		CHECK(strlen(r->reason) == LT_REASON_MAX);
		CHECK(r->document_digest.len == LT_DIGEST_LEN);
		CHECK(r->status == LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED);
		CHECK_OK(lt_receipt_verify(r, trust, &err), err);
		lienthong__receipt__free_unpacked(r, NULL);
	}
	free(buf);
}

static void rc_reason(Lienthong__Receipt *r)
{
	r->reason = "delivered to the folder targeT";
}
static void rc_status(Lienthong__Receipt *r)
{
	r->status = LIENTHONG__RECEIPT_STATUS__RECEIPT_FAILED;
}
static void rc_digest(Lienthong__Receipt *r)
{
	r->document_digest.data[5] ^= 1;
}
static void rc_recipient(Lienthong__Receipt *r)
{
	r->recipient = "RECV.B";
}
static void rc_cert(Lienthong__Receipt *r)
{
	r->signature->signer_certificate.data = signers[RECV_B].cert_der;
	r->signature->signer_certificate.len = signers[RECV_B].cert_der_len;
}
static void rc_unknown_status(Lienthong__Receipt *r)
{
	r->status = 9;
}
static void rc_unsigned(Lienthong__Receipt *r)
{
	r->signature = NULL;
}
static void rc_bad_docid(Lienthong__Receipt *r)
{
	r->document_id = "1";
}
static void rc_short_digest(Lienthong__Receipt *r)
{
	r->document_digest.len = 16;
}

static void rc_comment(Lienthong__Receipt *r)
{
	r->comment = "another comment";
}
static void rc_reporter(Lienthong__Receipt *r)
{
	r->reported_by = "someone else";
}
static void rc_code(Lienthong__Receipt *r)
{
	r->business_code = "06";
}
static void rc_code_13(Lienthong__Receipt *r)
{
	r->business_code = "13";
}
static void rc_code_on_delivered(Lienthong__Receipt *r)
{
	r->status = LIENTHONG__RECEIPT_STATUS__RECEIPT_DELIVERED;
}

static void receipt_tampered(const uint8_t *buf, size_t len, receipt_change change, int want_stage,
                             const char *want)
{
	uint8_t *out = NULL;
	size_t n = 0;
	int stage = 0;
	lt_err err;
	if (!CHECK(receipt_repack(buf, len, change, &out, &n) == 0))
		return;
	CHECK(receipt_decode_verify(out, n, &stage, &err) == -1);
	CHECK(stage == want_stage);
	CHECK_STR_CONTAINS(err.msg, want);
	free(out);
}

/*
 * A reason whose multi-byte character straddles LT_REASON_MAX: the cut keeps
 * the character whole or leaves it out, so the receipt stays valid UTF-8 and
 * the sender accepts it; control bytes travel escaped.
 */
static void test_receipt_reason_cut(void)
{
	static const char *const chars[] = {"\xc4\x91", "\xe1\xba\xbf", "\xf0\x9f\x98\x80"};
	for (size_t c = 0; c < sizeof chars / sizeof chars[0]; c++) {
		size_t clen = strlen(chars[c]);
		for (size_t before = LT_REASON_MAX - clen + 1; before < LT_REASON_MAX; before++) {
			char reason[LT_REASON_MAX + 16];
			memset(reason, 'r', before);
			snprintf(reason + before, sizeof reason - before, "%s tail", chars[c]);
			struct lt_receipt_in in = receipt_input();
			in.reason = reason;
			uint8_t *buf = NULL;
			size_t len = 0;
			lt_err err;
			if (!CHECK_OK(lt_receipt_seal(&in, &signers[RECV_A], &buf, &len, &err),
			              err))
				return;
			Lienthong__Receipt *r = lt_receipt_decode(buf, len, &cfg, &err);
			if (CHECK(r != NULL)) {
				CHECK(strlen(r->reason) == before);
				CHECK(strspn(r->reason, "r") == before);
				lienthong__receipt__free_unpacked(r, NULL);
			}
			free(buf);
		}
	}
	struct lt_receipt_in in = receipt_input();
	in.reason = "part name 'a\x1b[2J\xc2\x9b' refused";
	uint8_t *buf = NULL;
	size_t len = 0;
	lt_err err;
	if (!CHECK_OK(lt_receipt_seal(&in, &signers[RECV_A], &buf, &len, &err), err))
		return;
	Lienthong__Receipt *r = lt_receipt_decode(buf, len, &cfg, &err);
	if (CHECK(r != NULL)) {
		CHECK(strcmp(r->reason, "part name 'a\\x1b[2J\\u009b' refused") == 0);
		lienthong__receipt__free_unpacked(r, NULL);
	}
	free(buf);
}

static void test_receipt_tampering(void)
{
	struct lt_receipt_in in = receipt_input();
	uint8_t *buf = NULL;
	size_t len = 0;
	int stage = 0;
	lt_err err;
	if (!CHECK_OK(lt_receipt_seal(&in, &signers[RECV_A], &buf, &len, &err), err))
		return;
	CHECK_OK(receipt_decode_verify(buf, len, &stage, &err), err);
	receipt_tampered(buf, len, rc_reason, 2, "signature did not verify");
	receipt_tampered(buf, len, rc_status, 2, "signature did not verify");
	receipt_tampered(buf, len, rc_digest, 2, "signature did not verify");
	/* Signed by another agency than the recipient it names. */
	receipt_tampered(buf, len, rc_recipient, 2,
	                 "signer certificate names agency 'RECV.A', but the record claims "
	                 "'RECV.B'");
	receipt_tampered(buf, len, rc_cert, 2, "names agency 'RECV.B'");
	receipt_tampered(buf, len, rc_unknown_status, 1, "unknown status 9");
	receipt_tampered(buf, len, rc_unsigned, 1, "receipt is not signed");
	receipt_tampered(buf, len, rc_bad_docid, 1, "document id '1'");
	receipt_tampered(buf, len, rc_short_digest, 1, "digest is not 32 bytes");

	/* A business receipt: code, comment and reporter are signed; codes are checked. */
	struct lt_receipt_in bin = receipt_input();
	bin.status = LIENTHONG__RECEIPT_STATUS__RECEIPT_BUSINESS;
	bin.business_code = "03";
	bin.comment = "số đến 125";
	bin.reported_by = "Văn thư";
	uint8_t *bbuf = NULL;
	size_t blen = 0;
	if (CHECK_OK(lt_receipt_seal(&bin, &signers[RECV_A], &bbuf, &blen, &err), err)) {
		Lienthong__Receipt *r = lt_receipt_decode(bbuf, blen, &cfg, &err);
		if (CHECK(r != NULL)) {
			CHECK(strcmp(r->business_code, "03") == 0);
			CHECK(strcmp(r->comment, "số đến 125") == 0);
			CHECK(strcmp(r->reported_by, "Văn thư") == 0);
			CHECK_OK(lt_receipt_verify(r, trust, &err), err);
			lienthong__receipt__free_unpacked(r, NULL);
		}
		receipt_tampered(bbuf, blen, rc_comment, 2, "");
		receipt_tampered(bbuf, blen, rc_reporter, 2, "");
		receipt_tampered(bbuf, blen, rc_code, 2, "");
		receipt_tampered(bbuf, blen, rc_code_13, 1,
		                 "not an edXML status a recipient reports");
		receipt_tampered(bbuf, blen, rc_code_on_delivered, 1,
		                 "delivered receipt carries a business code");
	}
	free(bbuf);
	/* Truncated and garbage receipts. */
	CHECK(receipt_decode_verify(buf, len - 1, &stage, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "malformed receipt");
	size_t accepted = 0;
	for (size_t n = 0; n < len; n++)
		accepted += receipt_decode_verify(buf, n, &stage, &err) == 0;
	CHECK(accepted == 0);
	free(buf);

	/* The sender forging the recipient's receipt with its own key. */
	if (CHECK_OK(lt_receipt_seal(&in, &signers[S_EC], &buf, &len, &err), err)) {
		receipt_tampered(buf, len, rc_recipient, 2, "names agency 'SEND.EC'");
		free(buf);
	}
	/* A receipt claiming a time before its signer certificate was valid. */
	in.time_ms = now_ms() - 2 * 3600 * 1000;
	if (CHECK_OK(lt_receipt_seal(&in, &signers[RECV_A], &buf, &len, &err), err)) {
		CHECK(receipt_decode_verify(buf, len, &stage, &err) == -1);
		CHECK(stage == 2);
		CHECK_STR_CONTAINS(err.msg, "not yet valid at the signing time");
		free(buf);
	}
}

static int setup(void)
{
	lt_err err;
	struct lt_tagency a[NSIGNERS];
	for (size_t i = 0; i < sizeof data0; i++)
		data0[i] = (uint8_t)(i ^ (i >> 8));
	for (size_t i = 0; i < sizeof doc_digest; i++)
		doc_digest[i] = (uint8_t)(i * 5);
	if (lt_tpki_init(&pki) != 0 || lt_tpki_ca(&pki, "ca", "Test CA", &ca) != 0)
		return -1;
	for (int i = 0; i < NSIGNERS; i++) {
		struct lt_tagency_opts o = {
		    .type = signer_types[i], .cn = signer_codes[i], .issuer = &ca};
		if (lt_tpki_agency(&pki, &o, &a[i]) != 0)
			return -1;
		if (lt_signer_load(&signers[i], a[i].key_file, a[i].cert_file, &err) != 0) {
			fprintf(stderr, "setup: %s\n", err.msg);
			return -1;
		}
	}
	if (lt_tpki_config(&pki, "recv", "RECV.A", &ca, &a[RECV_A], "max_parts = 4\n", &cfg,
	                   &err) != 0 ||
	    lt_tpki_config(&pki, "small", "RECV.A", &ca, &a[RECV_A],
	                   "max_parts = 3\nmax_message_bytes = 2K\n", &small_cfg, &err) != 0 ||
	    (trust = lt_trust_load(ca.file, &err)) == NULL || lt_docid_new(docid, &err) != 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	/* The envelope the tampering tests start from: S_EC signer, 3 parts. */
	struct lt_envelope_in in = input();
	if (lt_envelope_seal(&in, &signers[S_EC], &cfg, &sealed, &sealed_len, NULL, &err) != 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/* Decodes buf and opens its parts as `who`; returns the envelope or NULL. */
static Lienthong__Envelope *open_as(const uint8_t *buf, size_t len, int who, lt_err *err)
{
	Lienthong__Envelope *env = NULL;
	if (lt_envelope_decode(buf, len, &cfg, &env, err) != 0 ||
	    lt_crypt_open_parts(env, &signers[who], 1 << 20, err) != 0) {
		if (env != NULL)
			lienthong__envelope__free_unpacked(env, NULL);
		return NULL;
	}
	return env;
}

static void test_encryption(void)
{
	STACK_OF(X509) *to = sk_X509_new_null();
	struct lt_envelope_in in = input();
	uint8_t *buf = NULL, *buf2 = NULL, d[LT_DIGEST_LEN];
	size_t len = 0, len2 = 0;
	lt_err err;
	sk_X509_push(to, signers[RECV_A].cert); /* EC: ECDH */
	sk_X509_push(to, signers[S_RSA].cert);  /* RSA: key transport */
	in.encrypt_to = to;
	if (!CHECK_OK(lt_envelope_seal(&in, &signers[S_EC], &cfg, &buf, &len, NULL, &err), err))
		goto out;
	CHECK(memmem(buf, len, "hello, world", 12) == NULL); /* no plaintext on the wire */
	Lienthong__Envelope *env = NULL;
	if (CHECK_OK(lt_envelope_decode(buf, len, &cfg, &env, &err), err)) {
		CHECK(env->parts[0]->encrypted && env->parts[1]->encrypted);
		CHECK(lt_envelope_verify(env, trust, d, &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "encrypted and was not decrypted");
		lienthong__envelope__free_unpacked(env, NULL);
	}
	int recipients_ok[] = {RECV_A, S_RSA};
	for (size_t r = 0; r < 2; r++) {
		env = open_as(buf, len, recipients_ok[r], &err);
		if (!CHECK(env != NULL))
			continue;
		CHECK_OK(lt_envelope_verify(env, trust, d, &err), err);
		CHECK(env->parts[1]->data.len == sizeof data1 - 1 &&
		      memcmp(env->parts[1]->data.data, data1, sizeof data1 - 1) == 0);
		CHECK(env->parts[2]->data.len == 0);
		lienthong__envelope__free_unpacked(env, NULL);
	}
	CHECK(open_as(buf, len, S_ED, &err) == NULL); /* not a recipient */
	CHECK_STR_CONTAINS(err.msg, "cannot be decrypted with this agency's key");
	/* An Ed25519 certificate cannot receive. */
	sk_X509_push(to, signers[RECV_B].cert);
	CHECK(lt_envelope_seal(&in, &signers[S_EC], &cfg, &buf2, &len2, NULL, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "Ed25519 certificate can sign but not receive");
out:
	free(buf);
	free(buf2);
	sk_X509_free(to);
}

static void test_utf8(void)
{
	CHECK(lt_utf8_valid("Quy\xe1\xba\xbft \xc4\x91\xe1\xbb\x8bnh.pdf")); /* Quyết định.pdf */
	CHECK(lt_utf8_valid("\xf0\x9f\x98\x80"));                            /* U+1F600 */
	CHECK(lt_utf8_valid(""));
	CHECK(!lt_utf8_valid("caf\xe9.pdf"));      /* Latin-1, not UTF-8 */
	CHECK(!lt_utf8_valid("\xc0\xaf"));         /* overlong '/' */
	CHECK(!lt_utf8_valid("\xed\xa0\x80"));     /* surrogate */
	CHECK(!lt_utf8_valid("\xf4\x90\x80\x80")); /* past U+10FFFF */
	CHECK(!lt_utf8_valid("\xe1\xba"));         /* cut short */
	CHECK(!lt_utf8_valid("\xff"));
	lt_err err;
	CHECK(lt_part_name_check("caf\xe9.pdf", &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "not valid UTF-8");
	CHECK(lt_part_name_check("Quy\xe1\xba\xbft \xc4\x91\xe1\xbb\x8bnh.pdf", &err) == 0);
}

int main(void)
{
	if (CHECK(setup() == 0)) {
		LT_RUN(test_round_trip_ec);
		LT_RUN(test_round_trip_ed25519);
		LT_RUN(test_round_trip_rsa);
		LT_RUN(test_tampering);
		LT_RUN(test_signing_time);
		LT_RUN(test_decode_checks);
		LT_RUN(test_seal_checks);
		LT_RUN(test_malformed);
		LT_RUN(test_streamed);
		LT_RUN(test_chunk_records);
		LT_RUN(test_meta);
		LT_RUN(test_docid);
		LT_RUN(test_receipt_round_trips);
		LT_RUN(test_receipt_tampering);
		LT_RUN(test_receipt_reason_cut);
		LT_RUN(test_utf8);
		LT_RUN(test_encryption);
	}
	free(sealed);
	for (int i = 0; i < NSIGNERS; i++)
		lt_signer_free(&signers[i]);
	lt_trust_free(trust);
	lt_config_free(&cfg);
	lt_config_free(&small_cfg);
	lt_tca_free(&ca);
	lt_tpki_done(&pki);
	return lt_check_summary();
}
