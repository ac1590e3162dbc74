/*
 * lt-vectors: writes the wire format's test vectors (docs/vectors/README.md)
 * with the committed Ed25519 test key, whose signatures are deterministic, so
 * the files can be made again byte for byte:
 *
 *   lt-vectors docs/vectors
 *
 * reads DIR/vec.conf (the test agency) and writes, for each vector NAME,
 * NAME.bin (the record as it travels), NAME.canonical (the bytes signed, for
 * envelopes and receipts) and NAME.sha256 (hex SHA-256 of the canonical bytes:
 * a document's digest). tests/unit/test_vectors.c checks them.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../federation/lt_dir.h"
#include "../../federation/lt_hop.h"
#include "../../proto/lt_batch.h"
#include "../../proto/lt_canon.h"
#include "../../proto/lt_envelope.h"
#include "../../proto/lt_receipt.h"

#define VEC_TIME_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

static const char *dir;

static int vec_write(const char *name, const char *ext, const void *buf, size_t len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s%s", dir, name, ext);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len) {
		perror(path);
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f);
}

/* NAME.bin, NAME.canonical and NAME.sha256 of an envelope or a receipt. */
static int vec_record(const char *name, const uint8_t *rec, size_t len, int receipt)
{
	uint8_t *canon = NULL, d[32];
	size_t clen = 0;
	lt_err err;
	char hex[66];
	int rc = -1;
	if (receipt) {
		Lienthong__Receipt *r = lienthong__receipt__unpack(NULL, len, rec);
		if (r != NULL)
			rc = lt_canon_receipt(r, &canon, &clen, &err);
		lienthong__receipt__free_unpacked(r, NULL);
	} else {
		Lienthong__Envelope *e = lienthong__envelope__unpack(NULL, len, rec);
		if (e != NULL)
			rc = lt_canon_envelope(e, &canon, &clen, &err);
		lienthong__envelope__free_unpacked(e, NULL);
	}
	if (rc != 0)
		return -1;
	EVP_Digest(canon, clen, d, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	hex[64] = '\n';
	rc = vec_write(name, ".bin", rec, len) | vec_write(name, ".canonical", canon, clen) |
	     vec_write(name, ".sha256", hex, 65);
	free(canon);
	return rc;
}

/*
 * Federation (docs/WIRE.md section 8): a directory entry for VEC.A01 signed by
 * VEC.DIR, and envelope.bin as relay VEC.RELAY carries it: with its hop
 * appended, the hop's canonical bytes, and the hop notice for the sender.
 */
static int vec_federation(const struct lt_signer *agency, const uint8_t *env_buf, size_t env_len,
                          const uint8_t digest[32], lt_err *err)
{
	struct lt_signer dsig = {0}, rsig = {0};
	uint8_t *rec = NULL, *notice = NULL, *canon = NULL;
	size_t len = 0, notice_len = 0, clen = 0;
	Lienthong__Envelope *env = NULL, *carried = NULL;
	int rc = -1;
	char dkey[4096], dcrt[4096], rkey[4096], rcrt[4096];
	snprintf(dkey, sizeof dkey, "%s/VEC.DIR.key", dir);
	snprintf(dcrt, sizeof dcrt, "%s/VEC.DIR.crt", dir);
	snprintf(rkey, sizeof rkey, "%s/VEC.RELAY.key", dir);
	snprintf(rcrt, sizeof rcrt, "%s/VEC.RELAY.crt", dir);
	if (lt_signer_load_any(&dsig, dkey, dcrt, err) != 0 ||
	    lt_signer_load_any(&rsig, rkey, rcrt, err) != 0)
		goto out;
	struct lt_dir_in d = {.code = agency->code,
	                      .platform = "VEC",
	                      .cert_der = agency->cert_der,
	                      .cert_len = agency->cert_der_len,
	                      .serial = (uint64_t)VEC_TIME_MS,
	                      .issued_at_ms = VEC_TIME_MS};
	Lienthong__DirectoryEntry *e = NULL;
	if (lt_dir_seal(&d, &dsig, &rec, &len, err) != 0 ||
	    (e = lienthong__directory_entry__unpack(NULL, len, rec)) == NULL ||
	    lt_canon_directory(e, &canon, &clen, err) != 0 ||
	    vec_write("directory", ".bin", rec, len) ||
	    vec_write("directory", ".canonical", canon, clen)) {
		if (e != NULL)
			lienthong__directory_entry__free_unpacked(e, NULL);
		goto out;
	}
	lienthong__directory_entry__free_unpacked(e, NULL);
	free(rec);
	free(canon);
	rec = canon = NULL;
	struct lt_hop_in h = {
	    .from_platform = "VEC", .to_platform = "NGSP", .at_ms = VEC_TIME_MS + 1000};
	if ((env = lienthong__envelope__unpack(NULL, env_len, env_buf)) == NULL ||
	    lt_hop_make(env, env_buf, env_len, "VEC.B02", &h, &rsig, &rec, &len, &notice,
	                &notice_len, err) != 0 ||
	    (carried = lienthong__envelope__unpack(NULL, len, rec)) == NULL ||
	    carried->n_hops != 1 ||
	    lt_canon_hop(digest, carried->hops[0], &canon, &clen, err) != 0 ||
	    vec_write("envelope-hop", ".bin", rec, len) ||
	    vec_write("hop", ".canonical", canon, clen) ||
	    vec_write("hop-notice", ".bin", notice, notice_len))
		goto out;
	rc = 0;
out:
	if (env != NULL)
		lienthong__envelope__free_unpacked(env, NULL);
	if (carried != NULL)
		lienthong__envelope__free_unpacked(carried, NULL);
	free(rec);
	free(notice);
	free(canon);
	lt_signer_free(&dsig);
	lt_signer_free(&rsig);
	return rc;
}

/*
 * Signs n (at most 3) records built unsigned as one batch and writes each as
 * envelope-batch-<i> or receipt-batch-<i> (.bin, .canonical, .sha256).
 */
static int vec_seal_batch(uint8_t **bufs, size_t *lens, uint8_t (*digests)[32], size_t n,
                          int receipt, const struct lt_signer *signer, const struct lt_config *cfg,
                          lt_err *err)
{
	lt_err errs[3];
	if (n > sizeof errs / sizeof errs[0])
		return lt_err_set(err, LT_EINVAL, "at most 3 records in a vector batch");
	if (lt_batch_seal(bufs, lens, (const uint8_t(*)[32])digests, n,
	                  receipt ? LT_BATCH_FIELD_RECEIPT : LT_BATCH_FIELD_ENVELOPE, signer,
	                  (size_t)cfg->max_message_bytes, errs, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof name, "%s-batch-%zu", receipt ? "receipt" : "envelope", i);
		if (bufs[i] == NULL) {
			*err = errs[i];
			return -1;
		}
		if (vec_record(name, bufs[i], lens[i], receipt) != 0)
			return -1;
	}
	return 0;
}

/*
 * Two delivered receipts for envelope-batch-0 and -1, signed as one batch
 * (receipt-batch-0.bin, -1.bin): the Signature (field 10) follows fields
 * 11 and 12, as lienthong appends it.
 */
static int vec_receipt_batch(const struct lt_signer *signer, const struct lt_config *cfg,
                             uint8_t (*doc_digests)[32], lt_err *err)
{
	static const char *const ids[] = {"01940000-0000-7000-8000-000000000003",
	                                  "01940000-0000-7000-8000-000000000004"};
	uint8_t *bufs[2] = {0}, digests[2][32];
	size_t lens[2];
	int rc = -1;
	for (size_t i = 0; i < 2; i++) {
		struct lt_receipt_in in = {.document_id = ids[i],
		                           .sender = "VEC.Z09",
		                           .status = LIENTHONG__RECEIPT_STATUS__RECEIPT_DELIVERED,
		                           .time_ms = VEC_TIME_MS + 1000,
		                           .document_digest = doc_digests[i],
		                           .comment = "Đã nhận",
		                           .reported_by = "Văn thư"};
		if (lt_receipt_build(&in, signer, &bufs[i], &lens[i], digests[i], err) != 0)
			goto out;
	}
	rc = vec_seal_batch(bufs, lens, digests, 2, 1, signer, cfg, err);
out:
	for (size_t i = 0; i < 2; i++)
		free(bufs[i]);
	return rc;
}

/*
 * Batch signatures (docs/WIRE.md section 4.1): three one-part envelopes
 * signed as one batch, envelope-batch-0..2 (.bin, .canonical, .sha256), the
 * root (batch.root, hex) and the signed message (batch.message).
 */
static int vec_batch(const struct lt_signer *signer, const struct lt_config *cfg, lt_err *err)
{
	static const char *const rcpt[] = {"VEC.B02"};
	static const char *const ids[] = {"01940000-0000-7000-8000-000000000003",
	                                  "01940000-0000-7000-8000-000000000004",
	                                  "01940000-0000-7000-8000-000000000005"};
	static const char *const texts[] = {"Giấy mời họp\n", "Báo cáo tháng\n", "Công văn\n"};
	uint8_t *bufs[3] = {0}, digests[3][32], root[32], msg[19 + 4 + 32];
	size_t lens[3];
	int rc = -1;
	for (size_t i = 0; i < 3; i++) {
		struct lt_part_in part = {.name = "van-ban.txt",
		                          .media_type = "text/plain; charset=utf-8",
		                          .data = (const uint8_t *)texts[i],
		                          .len = strlen(texts[i])};
		struct lt_envelope_in in = {.document_id = ids[i],
		                            .recipients = rcpt,
		                            .n_recipients = 1,
		                            .subject = texts[i],
		                            .created_at_ms = VEC_TIME_MS,
		                            .parts = &part,
		                            .n_parts = 1};
		if (lt_envelope_build(&in, signer, cfg, &bufs[i], &lens[i], digests[i], err) != 0)
			goto out;
	}
	if (vec_seal_batch(bufs, lens, digests, 3, 0, signer, cfg, err) != 0)
		goto out;
	Lienthong__Envelope *e = lienthong__envelope__unpack(NULL, lens[0], bufs[0]);
	if (e == NULL || e->signature == NULL) {
		lienthong__envelope__free_unpacked(e, NULL);
		lt_err_set(err, LT_EINVAL, "envelope-batch-0 does not decode");
		goto out;
	}
	int frc = lt_batch_fold(digests[0], 3, 0, e->signature->batch_path,
	                        e->signature->n_batch_path, root, err);
	lienthong__envelope__free_unpacked(e, NULL);
	if (frc != 0)
		goto out;
	char hex[66];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", root[i]);
	hex[64] = '\n';
	memcpy(msg, "lienthong-batch-v1\n", 19);
	msg[19] = msg[20] = msg[21] = 0;
	msg[22] = 3;
	memcpy(msg + 23, root, 32);
	rc = vec_write("batch", ".root", hex, 65) | vec_write("batch", ".message", msg, sizeof msg);
	if (rc == 0)
		rc = vec_receipt_batch(signer, cfg, digests, err);
out:
	for (size_t i = 0; i < 3; i++)
		free(bufs[i]);
	return rc;
}

int main(int argc, char **argv)
{
	static struct lt_config cfg;
	struct lt_signer signer;
	lt_err err;
	char conf[4096];
	if (argc != 2) {
		fprintf(stderr, "usage: lt-vectors DIR\n");
		return 2;
	}
	dir = argv[1];
	snprintf(conf, sizeof conf, "%s/vec.conf", dir);
	if (lt_config_load(&cfg, conf, &err) != 0 ||
	    lt_signer_load_any(&signer, cfg.key_file, cfg.cert_file, &err) != 0) {
		fprintf(stderr, "lt-vectors: %s\n", err.msg);
		return 1;
	}
	const char *rcpt[] = {"VEC.B02", "VEC.C03"};
	static const uint8_t text[] = "Quyết định số 12/QĐ-UBND\n";
	static uint8_t big[10000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 7 + i / 4096);
	struct lt_meta_in meta[] = {{"edxml.Code.CodeNumber", "12"},
	                            {"edxml.SignerInfo.FullName", "Nguyễn Văn A"}};
	struct lt_part_in parts[] = {
	    {.name = "quyet-dinh.txt",
	     .media_type = "text/plain; charset=utf-8",
	     .data = text,
	     .len = sizeof text - 1},
	    {.name = "phu luc.bin",
	     .media_type = "application/octet-stream",
	     .data = big,
	     .len = sizeof big},
	};
	struct lt_envelope_in in = {.document_id = "01940000-0000-7000-8000-000000000001",
	                            .recipients = rcpt,
	                            .n_recipients = 2,
	                            .subject = "Về việc thử nghiệm định dạng",
	                            .document_number = "12/QĐ-UBND",
	                            .created_at_ms = VEC_TIME_MS,
	                            .expires_at_ms = 0,
	                            .parts = parts,
	                            .n_parts = 2,
	                            .meta = meta,
	                            .n_meta = 2};
	uint8_t *buf = NULL, digest[32], sha[32], chunks[3 * 32];
	size_t len = 0;
	if (lt_envelope_seal(&in, &signer, &cfg, &buf, &len, digest, &err) != 0 ||
	    vec_record("envelope", buf, len, 0) != 0 ||
	    vec_federation(&signer, buf, len, digest, &err) != 0)
		goto fail;
	free(buf);

	/* The same second part streamed in chunks of 4096 bytes: a manifest and its chunks. */
	EVP_Digest(big, sizeof big, sha, NULL, EVP_sha256(), NULL);
	for (int c = 0; c < 3; c++) {
		size_t off = (size_t)c * 4096,
		       n = sizeof big - off < 4096 ? sizeof big - off : 4096;
		EVP_Digest(big + off, n, chunks + 32 * c, NULL, EVP_sha256(), NULL);
	}
	parts[1] = (struct lt_part_in){.name = "phu luc.bin",
	                               .media_type = "application/octet-stream",
	                               .len = sizeof big,
	                               .chunk_bytes = 4096,
	                               .sha256 = sha,
	                               .chunk_sha256 = chunks};
	in.document_id = "01940000-0000-7000-8000-000000000002";
	if (lt_envelope_seal(&in, &signer, &cfg, &buf, &len, NULL, &err) != 0 ||
	    vec_record("manifest", buf, len, 0) != 0)
		goto fail;
	free(buf);
	for (uint32_t c = 0; c < 3; c++) {
		char name[32];
		size_t off = (size_t)c * 4096;
		if (lt_chunk_pack(in.document_id, signer.code, 1, c, big + off,
		                  sizeof big - off < 4096 ? sizeof big - off : 4096, &buf, &len,
		                  &err) != 0)
			goto fail;
		snprintf(name, sizeof name, "manifest-chunk-%u", c);
		int rc = vec_write(name, ".bin", buf, len);
		free(buf);
		if (rc != 0)
			goto fail;
	}

	/* A delivered receipt for the first document, as VEC.A01 would issue it. */
	struct lt_receipt_in r = {.document_id = "01940000-0000-7000-8000-000000000001",
	                          .sender = "VEC.Z09",
	                          .status = LIENTHONG__RECEIPT_STATUS__RECEIPT_BUSINESS,
	                          .time_ms = VEC_TIME_MS + 60000,
	                          .document_digest = digest,
	                          .business_code = "03",
	                          .comment = "Đã tiếp nhận",
	                          .reported_by = "Văn thư"};
	if (lt_receipt_seal(&r, &signer, &buf, &len, &err) != 0 ||
	    vec_record("receipt", buf, len, 1) != 0)
		goto fail;
	free(buf);
	if (vec_batch(&signer, &cfg, &err) != 0)
		goto fail;
	lt_signer_free(&signer);
	lt_config_free(&cfg);
	return 0;
fail:
	fprintf(stderr, "lt-vectors: %s\n", err.msg);
	return 1;
}
