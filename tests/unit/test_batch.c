/*
 * Unit tests of lt_batch: batch signatures (a Merkle tree over the records'
 * digests, one signature over its root, each record's inclusion proof), for
 * envelopes and receipts, and the remembered verification.
 */
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../pki/lt_pki.h"
#include "../../proto/lt_batch.h"
#include "../../proto/lt_envelope.h"
#include "../../proto/lt_receipt.h"
#include "lt_check.h"
#include "lt_testpki.h"

#define NMAX 130

static struct lt_tpki pki;
static struct lt_tca ca;
static struct lt_trust *trust;
static struct lt_config cfg;
static struct lt_signer signer, other, ed;

/* Record i's canonical bytes in these tests: anything distinct. */
static void canon_of(size_t i, uint8_t out[16])
{
	memset(out, 0, 16);
	memcpy(out, "record-", 7);
	for (int b = 0; b < 8; b++)
		out[8 + b] = (uint8_t)(i >> (8 * b));
}

/* The tree hash written again from RFC 9162 2.1.1, independently of lt_batch_tree. */
static void mth(const uint8_t (*d)[32], size_t n, uint8_t out[32])
{
	uint8_t buf[65];
	if (n == 1) {
		buf[0] = 0;
		memcpy(buf + 1, d[0], 32);
		SHA256(buf, 33, out);
		return;
	}
	size_t k = 1;
	while (k << 1 < n)
		k <<= 1;
	buf[0] = 1;
	mth(d, k, buf + 1);
	mth(d + k, n - k, buf + 33);
	SHA256(buf, 65, out);
}

static size_t expected_depth(size_t n, size_t i)
{
	size_t depth = 0;
	while (n > 1) {
		size_t k = 1;
		while (k << 1 < n)
			k <<= 1;
		if (i < k) {
			n = k;
		} else {
			i -= k;
			n -= k;
		}
		depth++;
	}
	return depth;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every leaf of every batch size up to NMAX verifies, with the expected proof and root. */
static void test_every_leaf(void)
{
	static uint8_t d[NMAX][32];
	uint8_t canon[16];
	lt_err err;
	for (size_t i = 0; i < NMAX; i++) {
		canon_of(i, canon);
		SHA256(canon, sizeof canon, d[i]);
	}
	int64_t at = now_ms();
	size_t sizes[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 33, 64, 65, 100, NMAX};
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		size_t n = sizes[s];
		struct lt_batch b;
		if (!CHECK_OK(lt_batch_sign(&signer, d, n, &b, &err), err))
			continue;
		uint8_t want[32];
		mth(d, n, want);
		int bad = 0;
		for (size_t i = 0; i < n; i++) {
			Lienthong__Signature sig;
			ProtobufCBinaryData path[LT_BATCH_DEPTH];
			uint8_t root[32];
			lt_batch_signature(&b, i, &sig, path);
			canon_of(i, canon);
			bad += sig.batch_size != n || sig.batch_index != i ||
			       sig.n_batch_path != expected_depth(n, i);
			bad += lt_batch_fold(d[i], (uint32_t)n, (uint32_t)i, sig.batch_path,
			                     sig.n_batch_path, root, &err) != 0 ||
			       memcmp(root, want, 32) != 0;
			bad += lt_batch_check(trust, "BATCH.EC", &sig, canon, sizeof canon, at,
			                      &err) != 0;
		}
		if (!CHECK(bad == 0))
			fprintf(stderr, "    batch of %zu: %d leaves wrong (last error: %s)\n", n,
			        bad, err.msg);
		lt_batch_free(&b);
	}
}

/* A proof or a signature changed in any way is refused, saying what. */
static void test_refusals(void)
{
	uint8_t d[7][32], canon[7][16], other_canon[16];
	lt_err err;
	for (size_t i = 0; i < 7; i++) {
		canon_of(i, canon[i]);
		SHA256(canon[i], 16, d[i]);
	}
	canon_of(99, other_canon);
	struct lt_batch b;
	if (!CHECK_OK(lt_batch_sign(&signer, d, 7, &b, &err), err))
		return;
	int64_t at = now_ms();
	Lienthong__Signature sig;
	ProtobufCBinaryData path[LT_BATCH_DEPTH], p2[LT_BATCH_DEPTH + 1];
	lt_batch_signature(&b, 2, &sig, path);
	CHECK_OK(lt_batch_check(trust, "BATCH.EC", &sig, canon[2], 16, at, &err), err);

	/* Another record's bytes under this record's proof. */
	CHECK(lt_batch_check(trust, "BATCH.EC", &sig, canon[3], 16, at, &err) == -1);
	CHECK(err.code == LT_EVERIFY);
	CHECK_STR_CONTAINS(err.msg, "signature did not verify");
	CHECK(lt_batch_check(trust, "BATCH.EC", &sig, other_canon, 16, at, &err) == -1);
	/* Another index, another size. */
	sig.batch_index = 3;
	CHECK(lt_batch_check(trust, "BATCH.EC", &sig, canon[2], 16, at, &err) == -1);
	sig.batch_index = 7;
	CHECK(lt_batch_check(trust, "BATCH.EC", &sig, canon[2], 16, at, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "leaf 7 of 7 is not in a batch");
	sig.batch_index = 2;
	sig.batch_size = 8; /* the same proof length fits 8 leaves: the root differs */
	CHECK(lt_batch_check(trust, "BATCH.EC", &sig, canon[2], 16, at, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "signature did not verify");
	sig.batch_size = LT_BATCH_MAX + 1;
	CHECK(lt_batch_check(trust, "BATCH.EC", &sig, canon[2], 16, at, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "not in a batch of 1 to 65536");
	sig.batch_size = 0; /* a proof without a batch */
	CHECK(lt_batch_check(trust, "BATCH.EC", &sig, canon[2], 16, at, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "batch proof but no batch size");
	sig.batch_size = 7;
	/* A proof hash flipped, one short, one too many, one of the wrong length. */
	uint8_t flipped[32];
	memcpy(flipped, path[1].data, 32);
	flipped[5] ^= 1;
	memcpy(p2, path, sizeof path);
	p2[1].data = flipped;
	sig.batch_path = p2;
	CHECK(lt_batch_check(trust, "BATCH.EC", &sig, canon[2], 16, at, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "signature did not verify");
	sig.batch_path = path;
	sig.n_batch_path--;
	CHECK(lt_batch_check(trust, "BATCH.EC", &sig, canon[2], 16, at, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "proof shorter than leaf 2 of 7 needs");
	memcpy(p2, path, sizeof path);
	p2[3] = path[0];
	sig.batch_path = p2;
	sig.n_batch_path = 4;
	CHECK(lt_batch_check(trust, "BATCH.EC", &sig, canon[2], 16, at, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "proof longer than leaf 2 of 7 needs");
	sig.n_batch_path = 3;
	p2[0].len = 31;
	CHECK(lt_batch_check(trust, "BATCH.EC", &sig, canon[2], 16, at, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "proof hash 1 has 31 bytes");
	sig.batch_path = path;
	/* The batch signature claimed by another agency's certificate. */
	sig.signer_certificate.data = other.cert_der;
	sig.signer_certificate.len = other.cert_der_len;
	CHECK(lt_batch_check(trust, "BATCH.OTHER", &sig, canon[2], 16, at, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "signature did not verify");
	CHECK(lt_batch_check(trust, "BATCH.EC", &sig, canon[2], 16, at, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "names agency 'BATCH.OTHER'");
	sig.signer_certificate.data = signer.cert_der;
	sig.signer_certificate.len = signer.cert_der_len;
	/* The signature value over the root, presented as a plain signature of the record. */
	sig.batch_size = 0;
	sig.batch_index = 0;
	sig.n_batch_path = 0;
	CHECK(lt_batch_check(trust, "BATCH.EC", &sig, canon[2], 16, at, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "signature did not verify");
	/* Too many leaves to sign, or none. */
	struct lt_batch none;
	CHECK(lt_batch_sign(&signer, d, 0, &none, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "1 to 65536 records, not 0");
	lt_batch_free(&b);
}

/* One verification per batch: the others are remembered; a failure is not. */
static void test_remembered(void)
{
	uint8_t d[20][32], canon[20][16];
	lt_err err;
	for (size_t i = 0; i < 20; i++) {
		canon_of(1000 + i, canon[i]);
		SHA256(canon[i], 16, d[i]);
	}
	struct lt_batch b;
	if (!CHECK_OK(lt_batch_sign(&ed, d, 20, &b, &err), err))
		return;
	uint64_t before = lt_trust_sig_hits(trust);
	int64_t at = now_ms();
	int fails = 0;
	for (size_t i = 0; i < 20; i++) {
		Lienthong__Signature sig;
		ProtobufCBinaryData path[LT_BATCH_DEPTH];
		lt_batch_signature(&b, i, &sig, path);
		fails += lt_batch_check(trust, "BATCH.ED", &sig, canon[i], 16, at, &err) != 0;
	}
	CHECK(fails == 0);
	CHECK(lt_trust_sig_hits(trust) - before == 19);
	/* A remembered root still needs each record's own proof and its signer's checks. */
	Lienthong__Signature sig;
	ProtobufCBinaryData path[LT_BATCH_DEPTH];
	lt_batch_signature(&b, 4, &sig, path);
	CHECK(lt_batch_check(trust, "BATCH.ED", &sig, canon[5], 16, at, &err) == -1);
	CHECK(lt_batch_check(trust, "BATCH.EC", &sig, canon[4], 16, at, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "names agency 'BATCH.ED'");
	/* Signed before the certificate was valid: refused although the root is remembered. */
	CHECK(lt_batch_check(trust, "BATCH.ED", &sig, canon[4], 16, at - 10L * 86400 * 1000,
	                     &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "signing time");
	lt_batch_free(&b);
}

/* Envelopes built without a signature, sealed as one batch, verify each alone. */
static void test_envelopes(void)
{
	static const char *const rcpt[] = {"BATCH.OTHER"};
	uint8_t data[3][40];
	char ids[3][LT_DOCID_LEN + 1];
	uint8_t *bufs[3] = {0};
	size_t lens[3];
	uint8_t digests[3][32];
	lt_err err, errs[3];
	for (size_t i = 0; i < 3; i++) {
		memset(data[i], 'a' + (int)i, sizeof data[i]);
		struct lt_part_in part = {.name = "a.txt",
		                          .media_type = "text/plain",
		                          .data = data[i],
		                          .len = sizeof data[i]};
		struct lt_envelope_in in = {.document_id = ids[i],
		                            .recipients = rcpt,
		                            .n_recipients = 1,
		                            .subject = "batch",
		                            .created_at_ms = now_ms(),
		                            .parts = &part,
		                            .n_parts = 1};
		if (!CHECK_OK(lt_docid_new(ids[i], &err), err) ||
		    !CHECK_OK(
		        lt_envelope_build(&in, &signer, &cfg, &bufs[i], &lens[i], digests[i], &err),
		        err))
			goto out;
		Lienthong__Envelope *env = NULL;
		CHECK(lt_envelope_decode(bufs[i], lens[i], &cfg, &env, &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "envelope is not signed");
		lienthong__envelope__free_unpacked(env, NULL);
	}
	if (!CHECK_OK(lt_batch_seal(bufs, lens, digests, 3, LT_BATCH_FIELD_ENVELOPE, &signer,
	                            (size_t)cfg.max_message_bytes, errs, &err),
	              err))
		goto out;
	Lienthong__Envelope *envs[3] = {0};
	for (size_t i = 0; i < 3; i++) {
		uint8_t d[32];
		if (!CHECK(bufs[i] != NULL) ||
		    !CHECK_OK(lt_envelope_decode(bufs[i], lens[i], &cfg, &envs[i], &err), err))
			continue;
		CHECK(envs[i]->signature->batch_size == 3 && envs[i]->signature->batch_index == i);
		CHECK_OK(lt_envelope_verify(envs[i], trust, d, &err), err);
		CHECK(memcmp(d, digests[i], 32) == 0);
	}
	/* Record 0's signature moved onto record 1. */
	if (envs[0] != NULL && envs[1] != NULL) {
		Lienthong__Signature *keep = envs[1]->signature;
		uint8_t d[32];
		envs[1]->signature = envs[0]->signature;
		CHECK(lt_envelope_verify(envs[1], trust, d, &err) == -1);
		CHECK(err.code == LT_EVERIFY);
		envs[1]->signature = keep;
	}
	for (size_t i = 0; i < 3; i++)
		lienthong__envelope__free_unpacked(envs[i], NULL);
	/* A record the signature would take above the limit is refused alone. */
	uint8_t *small[2] = {malloc(10), malloc(200)};
	size_t slens[2] = {10, 200};
	memset(small[0], 0, 10);
	memset(small[1], 0, 200);
	CHECK_OK(lt_batch_seal(small, slens, digests, 2, LT_BATCH_FIELD_ENVELOPE, &signer,
	                       signer.cert_der_len + 300, errs, &err),
	         err);
	CHECK(small[0] != NULL && small[1] == NULL);
	CHECK(errs[1].code == LT_EFULL);
	CHECK_STR_CONTAINS(errs[1].msg, "above max_message_bytes");
	free(small[0]);
out:
	for (size_t i = 0; i < 3; i++)
		free(bufs[i]);
}

/* Receipts: the same, with the signature as field 10 after fields 11..13. */
static void test_receipts(void)
{
	char ids[2][LT_DOCID_LEN + 1];
	uint8_t dd[32] = {7};
	uint8_t *bufs[2] = {0};
	size_t lens[2];
	uint8_t digests[2][32];
	lt_err err, errs[2];
	for (size_t i = 0; i < 2; i++) {
		struct lt_receipt_in in = {.document_id = ids[i],
		                           .sender = "BATCH.OTHER",
		                           .status =
		                               i ? LIENTHONG__RECEIPT_STATUS__RECEIPT_BUSINESS
		                                 : LIENTHONG__RECEIPT_STATUS__RECEIPT_DELIVERED,
		                           .time_ms = now_ms(),
		                           .reason = "",
		                           .document_digest = dd,
		                           .business_code = i ? "03" : NULL,
		                           .comment = i ? "da nhan" : NULL,
		                           .reported_by = i ? "Van thu" : NULL};
		if (!CHECK_OK(lt_docid_new(ids[i], &err), err) ||
		    !CHECK_OK(lt_receipt_build(&in, &signer, &bufs[i], &lens[i], digests[i], &err),
		              err))
			goto out;
	}
	if (!CHECK_OK(lt_batch_seal(bufs, lens, digests, 2, LT_BATCH_FIELD_RECEIPT, &signer,
	                            (size_t)cfg.max_message_bytes, errs, &err),
	              err))
		goto out;
	for (size_t i = 0; i < 2; i++) {
		Lienthong__Receipt *r = lt_receipt_decode(bufs[i], lens[i], &cfg, &err);
		if (!CHECK(r != NULL))
			continue;
		CHECK(r->signature->batch_size == 2 && strcmp(r->document_id, ids[i]) == 0);
		CHECK_OK(lt_receipt_verify(r, trust, &err), err);
		r->time_ms++;
		CHECK(lt_receipt_verify(r, trust, &err) == -1);
		lienthong__receipt__free_unpacked(r, NULL);
	}
out:
	for (size_t i = 0; i < 2; i++)
		free(bufs[i]);
}

static int setup(void)
{
	lt_err err;
	struct lt_tagency a, o, e;
	struct lt_tagency_opts ao = {.type = "ec", .cn = "BATCH.EC", .issuer = &ca};
	struct lt_tagency_opts oo = {.type = "ec", .cn = "BATCH.OTHER", .issuer = &ca};
	struct lt_tagency_opts eo = {.type = "ed25519",
	                             .cn = "BATCH.ED",
	                             .issuer = &ca,
	                             .not_before_s = -86400,
	                             .not_after_s = 30 * 86400};
	if (lt_tpki_init(&pki) != 0 || lt_tpki_ca(&pki, "ca", "Test CA", &ca) != 0 ||
	    lt_tpki_agency(&pki, &ao, &a) != 0 || lt_tpki_agency(&pki, &oo, &o) != 0 ||
	    lt_tpki_agency(&pki, &eo, &e) != 0)
		return -1;
	if (lt_signer_load(&signer, a.key_file, a.cert_file, &err) != 0 ||
	    lt_signer_load(&other, o.key_file, o.cert_file, &err) != 0 ||
	    lt_signer_load(&ed, e.key_file, e.cert_file, &err) != 0 ||
	    lt_tpki_config(&pki, "recv", "BATCH.OTHER", &ca, &o, "", &cfg, &err) != 0 ||
	    (trust = lt_trust_load(ca.file, &err)) == NULL) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	return 0;
}

int main(void)
{
	if (CHECK(setup() == 0)) {
		LT_RUN(test_every_leaf);
		LT_RUN(test_refusals);
		LT_RUN(test_remembered);
		LT_RUN(test_envelopes);
		LT_RUN(test_receipts);
	}
	lt_signer_free(&signer);
	lt_signer_free(&other);
	lt_signer_free(&ed);
	lt_trust_free(trust);
	lt_config_free(&cfg);
	lt_tca_free(&ca);
	lt_tpki_done(&pki);
	return lt_check_summary();
}
