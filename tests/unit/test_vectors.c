/*
 * The wire format's test vectors (docs/vectors/README.md): each committed
 * record decodes, its canonical bytes and digest are the committed ones, its
 * signature verifies with the committed CA, and signing again with the
 * committed Ed25519 key (deterministic) gives the committed bytes. Run from
 * the repository's root (tests/run-unit.sh does).
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../federation/lt_dir.h"
#include "../../federation/lt_hop.h"
#include "../../pki/lt_pki.h"
#include "../../proto/lt_canon.h"
#include "../../proto/lt_envelope.h"
#include "../../proto/lt_receipt.h"
#include "lt_check.h"

#define VEC "docs/vectors/"

static struct lt_config cfg;
static struct lt_trust *trust;

/* The whole file, or NULL. */
static uint8_t *slurp(const char *name, size_t *len)
{
	char path[256];
	snprintf(path, sizeof path, VEC "%s", name);
	FILE *f = fopen(path, "rb");
	uint8_t *buf = malloc(1 << 20);
	*len = 0;
	if (f != NULL && buf != NULL)
		*len = fread(buf, 1, 1 << 20, f);
	if (f != NULL)
		fclose(f);
	if (!CHECK(f != NULL && *len > 0)) {
		fprintf(stderr, "cannot read %s\n", path);
		free(buf);
		return NULL;
	}
	return buf;
}

/* Canonical bytes and their SHA-256 (hex) as committed for NAME. */
static void check_canonical(const char *name, const uint8_t *canon, size_t clen)
{
	char file[64], hex[66];
	size_t n = 0, hn = 0;
	uint8_t d[32];
	snprintf(file, sizeof file, "%s.canonical", name);
	uint8_t *want = slurp(file, &n);
	snprintf(file, sizeof file, "%s.sha256", name);
	uint8_t *want_hex = slurp(file, &hn);
	if (want != NULL)
		CHECK(n == clen && memcmp(want, canon, n) == 0);
	EVP_Digest(canon, clen, d, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	if (want_hex != NULL)
		CHECK(hn == 65 && memcmp(want_hex, hex, 64) == 0);
	free(want);
	free(want_hex);
}

static void test_envelopes(void)
{
	static const char *const names[] = {"envelope", "manifest"};
	for (size_t i = 0; i < 2; i++) {
		char file[64];
		size_t len = 0, clen = 0;
		uint8_t *canon = NULL, digest[32];
		lt_err err;
		snprintf(file, sizeof file, "%s.bin", names[i]);
		uint8_t *rec = slurp(file, &len);
		Lienthong__Envelope *env = NULL;
		if (rec == NULL)
			continue;
		if (CHECK_OK(lt_envelope_decode_any(rec, len, &cfg, &env, &err), err) &&
		    CHECK_OK(lt_envelope_verify(env, trust, digest, &err), err) &&
		    CHECK_OK(lt_canon_envelope(env, &canon, &clen, &err), err))
			check_canonical(names[i], canon, clen);
		/* The document digest is the SHA-256 of the canonical bytes. */
		if (canon != NULL) {
			uint8_t d[32];
			EVP_Digest(canon, clen, d, NULL, EVP_sha256(), NULL);
			CHECK(memcmp(d, digest, 32) == 0);
		}
		/* A changed byte of the subject breaks the signature. */
		if (env != NULL && env->header != NULL && env->header->subject[0] != '\0') {
			env->header->subject[0] ^= 1;
			CHECK(lt_envelope_verify(env, trust, digest, &err) == -1 &&
			      err.code == LT_EVERIFY);
		}
		if (env != NULL)
			lienthong__envelope__free_unpacked(env, NULL);
		free(canon);
		free(rec);
	}
}

static void test_chunks(void)
{
	size_t len = 0;
	lt_err err;
	uint8_t *m = slurp("manifest.bin", &len);
	Lienthong__Envelope *manifest = NULL;
	if (m == NULL || !CHECK_OK(lt_envelope_decode_any(m, len, &cfg, &manifest, &err), err))
		goto out;
	for (int c = 0; c < 3; c++) {
		char file[64];
		snprintf(file, sizeof file, "manifest-chunk-%d.bin", c);
		uint8_t *rec = slurp(file, &len);
		Lienthong__Envelope *e = NULL;
		if (rec != NULL &&
		    CHECK_OK(lt_envelope_decode_any(rec, len, &cfg, &e, &err), err) &&
		    CHECK(e->chunk != NULL && e->chunk->index == (uint32_t)c)) {
			CHECK_OK(lt_chunk_check(manifest, e->chunk, &err), err);
			e->chunk->data.data[0] ^= 1;
			CHECK(lt_chunk_check(manifest, e->chunk, &err) == -1);
		}
		if (e != NULL)
			lienthong__envelope__free_unpacked(e, NULL);
		free(rec);
	}
out:
	if (manifest != NULL)
		lienthong__envelope__free_unpacked(manifest, NULL);
	free(m);
}

/*
 * The single receipt, and the two signed as one batch, whose Signature
 * (field 10, tag 0x52) comes last, after fields 11 and 12.
 */
static void test_receipt(void)
{
	static const char *const names[] = {"receipt", "receipt-batch-0", "receipt-batch-1"};
	for (size_t i = 0; i < 3; i++) {
		char file[64];
		size_t len = 0, clen = 0;
		lt_err err;
		uint8_t *canon = NULL;
		snprintf(file, sizeof file, "%s.bin", names[i]);
		uint8_t *rec = slurp(file, &len);
		Lienthong__Receipt *r = rec ? lt_receipt_decode(rec, len, &cfg, &err) : NULL;
		if (rec != NULL && CHECK(r != NULL) &&
		    CHECK_OK(lt_receipt_verify(r, trust, &err), err) &&
		    CHECK_OK(lt_canon_receipt(r, &canon, &clen, &err), err))
			check_canonical(names[i], canon, clen);
		if (r != NULL && i > 0) {
			CHECK(r->signature->batch_size == 2 && r->signature->batch_index == i - 1);
			size_t sig_len = lienthong__signature__get_packed_size(r->signature);
			CHECK(len > sig_len + 3 &&
			      rec[len - sig_len - 3] == 0x52); /* tag, 2-byte size */
		}
		if (r != NULL)
			lienthong__receipt__free_unpacked(r, NULL);
		free(canon);
		free(rec);
	}
}

static void sha(const uint8_t *a, size_t n, uint8_t out[32])
{
	EVP_Digest(a, n, out, NULL, EVP_sha256(), NULL);
}

/*
 * Three envelopes signed as one batch: each verifies alone; the root, built
 * here from the three digests as docs/WIRE.md 4.1 says, is batch.root; the
 * signed message is batch.message, and the committed key signs it again
 * into each record's value.
 */
static void test_batch(void)
{
	uint8_t d[3][32], leaf[3][33], node[65], root[32];
	size_t mlen = 0, rlen = 0;
	uint8_t *msg = slurp("batch.message", &mlen), *root_hex = slurp("batch.root", &rlen);
	struct lt_signer s;
	lt_err err;
	int signer_ok =
	    CHECK_OK(lt_signer_load_any(&s, VEC "VEC.A01.key", VEC "VEC.A01.crt", &err), err);
	for (size_t i = 0; i < 3; i++) {
		char file[64];
		size_t len = 0, clen = 0, sig_len = 0;
		uint8_t *canon = NULL, *sig = NULL;
		snprintf(file, sizeof file, "envelope-batch-%zu.bin", i);
		uint8_t *rec = slurp(file, &len);
		Lienthong__Envelope *env = NULL;
		memset(d[i], 0, 32);
		if (rec != NULL && CHECK_OK(lt_envelope_decode(rec, len, &cfg, &env, &err), err) &&
		    CHECK_OK(lt_envelope_verify(env, trust, d[i], &err), err) &&
		    CHECK_OK(lt_canon_envelope(env, &canon, &clen, &err), err)) {
			snprintf(file, sizeof file, "envelope-batch-%zu", i);
			check_canonical(file, canon, clen);
			CHECK(env->signature->batch_size == 3 && env->signature->batch_index == i);
			CHECK(env->signature->n_batch_path == (i < 2 ? 2u : 1u));
			if (signer_ok && msg != NULL &&
			    CHECK_OK(lt_sign(&s, msg, mlen, &sig, &sig_len, &err), err))
				CHECK(sig_len == env->signature->value.len &&
				      memcmp(sig, env->signature->value.data, sig_len) == 0);
		}
		if (env != NULL)
			lienthong__envelope__free_unpacked(env, NULL);
		free(sig);
		free(canon);
		free(rec);
	}
	for (size_t i = 0; i < 3; i++) {
		leaf[i][0] = 0x00;
		memcpy(leaf[i] + 1, d[i], 32);
	}
	node[0] = 0x01;
	sha(leaf[0], 33, node + 1);
	sha(leaf[1], 33, node + 33);
	sha(node, 65, node + 1); /* node(leaf 0, leaf 1) */
	sha(leaf[2], 33, node + 33);
	sha(node, 65, root); /* node(that, leaf 2): 3 leaves, k = 2 */
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", root[i]);
	if (root_hex != NULL)
		CHECK(rlen == 65 && memcmp(root_hex, hex, 64) == 0);
	if (msg != NULL)
		CHECK(mlen == 55 && memcmp(msg, "lienthong-batch-v1\n\0\0\0\3", 23) == 0 &&
		      memcmp(msg + 23, root, 32) == 0);
	if (signer_ok)
		lt_signer_free(&s);
	free(msg);
	free(root_hex);
}

/* Ed25519 is deterministic: the committed key signs the committed bytes again. */
static void test_resign(void)
{
	struct lt_signer s;
	lt_err err;
	size_t clen = 0, len = 0, sig_len = 0;
	uint8_t *canon = slurp("envelope.canonical", &clen), *sig = NULL;
	uint8_t *rec = slurp("envelope.bin", &len);
	if (canon == NULL || rec == NULL ||
	    !CHECK_OK(lt_signer_load_any(&s, VEC "VEC.A01.key", VEC "VEC.A01.crt", &err), err))
		goto out;
	Lienthong__Envelope *env = lienthong__envelope__unpack(NULL, len, rec);
	if (CHECK(env != NULL && env->signature != NULL) &&
	    CHECK_OK(lt_sign(&s, canon, clen, &sig, &sig_len, &err), err))
		CHECK(sig_len == env->signature->value.len &&
		      memcmp(sig, env->signature->value.data, sig_len) == 0);
	if (env != NULL)
		lienthong__envelope__free_unpacked(env, NULL);
	lt_signer_free(&s);
out:
	free(sig);
	free(canon);
	free(rec);
}

/* The committed file NAME equals buf. */
static void check_file(const char *name, const uint8_t *buf, size_t len)
{
	size_t n = 0;
	uint8_t *want = slurp(name, &n);
	if (want != NULL)
		CHECK(n == len && memcmp(want, buf, n) == 0);
	free(want);
}

/* Federation (docs/WIRE.md section 8): directory entry, hop, hop notice. */
static void test_federation(void)
{
	lt_err err;
	size_t len = 0, env_len = 0, hop_len = 0, nlen = 0, clen = 0;
	uint8_t *canon = NULL, *resealed = NULL, d[32];
	struct lt_signer dsig = {0};
	struct lt_trust *fed = lt_trust_load(VEC "fed-trust.crt", &err);
	uint8_t *rec = slurp("directory.bin", &len), *env = slurp("envelope.bin", &env_len);
	uint8_t *hop = slurp("envelope-hop.bin", &hop_len),
	        *notice = slurp("hop-notice.bin", &nlen);
	Lienthong__DirectoryEntry *e = NULL;
	Lienthong__Envelope *carried = NULL;
	Lienthong__Receipt *r = NULL;
	if (!CHECK(fed != NULL) || rec == NULL || env == NULL || hop == NULL || notice == NULL)
		goto out;
	e = lt_dir_open(rec, len, &cfg, fed, NULL, 0, &err);
	if (!CHECK(e != NULL) || !CHECK_OK(lt_canon_directory(e, &canon, &clen, &err), err))
		goto out;
	check_file("directory.canonical", canon, clen);
	CHECK(strcmp(e->code, "VEC.A01") == 0 && strcmp(e->platform, "VEC") == 0);
	/* Deterministic: VEC.DIR signs the same entry into the same bytes. */
	struct lt_dir_in in = {.code = e->code,
	                       .platform = e->platform,
	                       .cert_der = e->certificate.data,
	                       .cert_len = e->certificate.len,
	                       .serial = e->serial,
	                       .issued_at_ms = e->issued_at_ms};
	if (CHECK_OK(lt_signer_load_any(&dsig, VEC "VEC.DIR.key", VEC "VEC.DIR.crt", &err), err) &&
	    CHECK_OK(lt_dir_seal(&in, &dsig, &resealed, &len, &err), err))
		check_file("directory.bin", resealed, len);
	/* The carried record: the sender's bytes first, then one hop that verifies. */
	CHECK(hop_len > env_len && memcmp(hop, env, env_len) == 0);
	carried = lienthong__envelope__unpack(NULL, hop_len, hop);
	if (!CHECK(carried != NULL && carried->n_hops == 1))
		goto out;
	CHECK_OK(lt_envelope_verify(carried, trust, d, &err), err);
	free(canon);
	canon = NULL;
	if (CHECK_OK(lt_canon_hop(d, carried->hops[0], &canon, &clen, &err), err))
		check_file("hop.canonical", canon, clen);
	CHECK_OK(lt_hop_verify(carried->hops[0], d, fed, &err), err);
	r = lienthong__receipt__unpack(NULL, nlen, notice);
	if (CHECK(r != NULL)) {
		CHECK(r->status == LIENTHONG__RECEIPT_STATUS__RECEIPT_HOP && r->n_hops == 1);
		CHECK(r->document_digest.len == 32 && memcmp(r->document_digest.data, d, 32) == 0);
		CHECK_OK(lt_hop_verify(r->hops[0], d, fed, &err), err);
	}
out:
	if (r != NULL)
		lienthong__receipt__free_unpacked(r, NULL);
	if (carried != NULL)
		lienthong__envelope__free_unpacked(carried, NULL);
	if (e != NULL)
		lienthong__directory_entry__free_unpacked(e, NULL);
	lt_signer_free(&dsig);
	lt_trust_free(fed);
	free(resealed);
	free(canon);
	free(rec);
	free(env);
	free(hop);
	free(notice);
}

int main(void)
{
	lt_err err;
	if (lt_config_load(&cfg, VEC "vec.conf", &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	trust = lt_trust_load(VEC "ca.crt", &err);
	if (trust == NULL) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	LT_RUN(test_envelopes);
	LT_RUN(test_chunks);
	LT_RUN(test_receipt);
	LT_RUN(test_resign);
	LT_RUN(test_batch);
	LT_RUN(test_federation);
	lt_trust_free(trust);
	lt_config_free(&cfg);
	return lt_check_summary();
}
