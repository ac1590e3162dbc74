/*
 * seed_gen: writes the seed corpus of the fuzz targets, signed by a real
 * agency key so that seeds pass verification.
 *
 *   seed_gen SENDER.conf OUTDIR
 *
 * Writes OUTDIR/envelope/{one-part,three-parts,expiring}, the streamed
 * document of fuzz_stream.h (OUTDIR/envelope/streamed, its manifest, and
 * OUTDIR/envelope/chunk-{0,2}) and OUTDIR/receipt/{delivered,rejected}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../clock/lt_clock.h"
#include "../../proto/lt_envelope.h"
#include "../../proto/lt_receipt.h"
#include "fuzz_stream.h"

static int seed_write(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len) {
		perror(path);
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f);
}

/* The manifest of fuzz_stream.h's streamed document, and two of its chunks. */
static int seed_stream(const char *dir, const struct lt_config *cfg, const struct lt_signer *signer)
{
	lt_err err;
	uint8_t *buf, digest[LT_DIGEST_LEN];
	size_t len;
	const char *rcpt[] = {"FUZZ.B"};
	lt_fuzz_stream_init();
	struct lt_part_in part = {.name = "streamed.bin",
	                          .media_type = "application/octet-stream",
	                          .len = LT_FUZZ_STREAM_SIZE,
	                          .chunk_bytes = LT_FUZZ_CHUNK,
	                          .sha256 = lt_fuzz_stream_sha,
	                          .chunk_sha256 = lt_fuzz_stream_chunks};
	struct lt_envelope_in in = {.document_id = LT_FUZZ_STREAM_ID,
	                            .recipients = rcpt,
	                            .n_recipients = 1,
	                            .subject = "Streamed seed",
	                            .created_at_ms = lt_now_ms(),
	                            .parts = &part,
	                            .n_parts = 1};
	if (lt_envelope_seal(&in, signer, cfg, &buf, &len, digest, &err) != 0 ||
	    seed_write(dir, "streamed", buf, len) != 0) {
		fprintf(stderr, "seed_gen: %s\n", err.msg);
		return -1;
	}
	free(buf);
	static const unsigned which[] = {0, 2};
	for (size_t i = 0; i < 2; i++) {
		char name[32];
		size_t off = which[i] * LT_FUZZ_CHUNK, n = LT_FUZZ_STREAM_SIZE - off;
		if (lt_chunk_pack(LT_FUZZ_STREAM_ID, signer->code, 0, which[i],
		                  lt_fuzz_stream_data + off, n < LT_FUZZ_CHUNK ? n : LT_FUZZ_CHUNK,
		                  &buf, &len, &err) != 0)
			return -1;
		snprintf(name, sizeof name, "chunk-%u", which[i]);
		int rc = seed_write(dir, name, buf, len);
		free(buf);
		if (rc != 0)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct lt_config cfg;
	struct lt_signer signer;
	lt_err err;
	char dir[4096], id[LT_DOCID_LEN + 1];
	uint8_t *buf, digest[LT_DIGEST_LEN];
	size_t len;
	if (argc != 3) {
		fprintf(stderr, "usage: seed_gen SENDER.conf OUTDIR\n");
		return 2;
	}
	if (lt_config_load(&cfg, argv[1], &err) != 0 ||
	    lt_signer_load(&signer, cfg.key_file, cfg.cert_file, &err) != 0) {
		fprintf(stderr, "seed_gen: %s\n", err.msg);
		return 1;
	}
	const char *rcpt[] = {"FUZZ.B", "FUZZ.C"};
	static const uint8_t text[] = "Cong van so 1/2026";
	static const uint8_t pdf[] = "%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n";
	struct lt_part_in parts[] = {
	    {"cong-van.txt", "text/plain", text, sizeof text - 1},
	    {"ban-scan.pdf", "application/pdf", pdf, sizeof pdf - 1},
	    {"empty.bin", "application/octet-stream", pdf, 0},
	};
	struct {
		const char *name;
		size_t n_parts;
		int64_t expires;
	} env_seeds[] = {{"one-part", 1, 0}, {"three-parts", 3, 0}, {"expiring", 1, 1}};
	snprintf(dir, sizeof dir, "%s/envelope", argv[2]);
	for (size_t i = 0; i < sizeof env_seeds / sizeof env_seeds[0]; i++) {
		int64_t now = lt_now_ms();
		lt_docid_new(id, &err);
		struct lt_envelope_in in = {.document_id = id,
		                            .recipients = rcpt,
		                            .n_recipients = 2,
		                            .subject = "Seed",
		                            .document_number = "12/QD-UBND",
		                            .created_at_ms = now,
		                            .expires_at_ms = env_seeds[i].expires ? now + 60000 : 0,
		                            .parts = parts,
		                            .n_parts = env_seeds[i].n_parts};
		if (lt_envelope_seal(&in, &signer, &cfg, &buf, &len, digest, &err) != 0 ||
		    seed_write(dir, env_seeds[i].name, buf, len) != 0) {
			fprintf(stderr, "seed_gen: %s\n", err.msg);
			return 1;
		}
		free(buf);
	}
	if (seed_stream(dir, &cfg, &signer) != 0)
		return 1;
	snprintf(dir, sizeof dir, "%s/receipt", argv[2]);
	Lienthong__ReceiptStatus st[] = {LIENTHONG__RECEIPT_STATUS__RECEIPT_DELIVERED,
	                                 LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED};
	const char *names[] = {"delivered", "rejected"};
	for (size_t i = 0; i < 2; i++) {
		struct lt_receipt_in in = {.document_id = id,
		                           .sender = "FUZZ.B",
		                           .status = st[i],
		                           .time_ms = lt_now_ms(),
		                           .reason = i ? "signature did not verify" : "",
		                           .document_digest = digest};
		if (lt_receipt_seal(&in, &signer, &buf, &len, &err) != 0 ||
		    seed_write(dir, names[i], buf, len) != 0) {
			fprintf(stderr, "seed_gen: %s\n", err.msg);
			return 1;
		}
		free(buf);
	}
	lt_signer_free(&signer);
	lt_config_free(&cfg);
	return 0;
}
