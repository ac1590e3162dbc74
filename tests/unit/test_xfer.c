/*
 * Unit tests of consumers/lt_xfer: the chunk bitmap and its numbering across
 * streamed parts, the text naming missing chunks, completion and the
 * deadline with made-up times; a transfer opened in a store, chunks written
 * (good, repeated, corrupted, of an unknown document), the staged files,
 * delivery by rename into the folder target, removal and the sweep of
 * staging folders without a record; the running SHA-256 of chunks written in
 * order (TransferRecord.hashed), and a manifest whose part digest does not
 * match its chunks.
 */
#include <openssl/sha.h>
#include <sys/stat.h>

#include "../../clock/lt_clock.h"
#include "../../consumers/lt_deliver.h"
#include "../../consumers/lt_recv.h"
#include "../../consumers/lt_xfer.h"
#include "../../log/lt_log.h"
#include "lt_check.h"
#include "lt_testpki.h"

#define CB 4096 /* chunk size of the streamed parts */

static struct lt_tpki pki;
static struct lt_tca ca;
static struct lt_config cfg;
static struct lt_signer signer;
static struct lt_store *store;
static struct lt_xfer *xfer;

static uint8_t part0[10000], part2[2 * CB];
static uint8_t sha0[LT_DIGEST_LEN], sha2[LT_DIGEST_LEN];
static uint8_t chunks0[3 * LT_DIGEST_LEN], chunks2[2 * LT_DIGEST_LEN];
static char docid[LT_DOCID_LEN + 1];
static uint8_t *manifest;
static size_t manifest_len;
static uint8_t digest[LT_DIGEST_LEN];
static Lienthong__Envelope *env;

/*
 * A manifest of a new document: part 0 streamed (3 chunks), part 1 inline,
 * part 2 streamed (2 chunks). With lie, part 0's signed SHA-256 is not the
 * one of its chunks (a sender with a valid certificate can sign that).
 */
static int make_manifest(int lie)
{
	lt_err err;
	if (env != NULL)
		lienthong__envelope__free_unpacked(env, NULL);
	free(manifest);
	env = NULL;
	manifest = NULL;
	for (size_t i = 0; i < sizeof part0; i++)
		part0[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof part2; i++)
		part2[i] = (uint8_t)(i * 13 + 5);
	SHA256(part0, sizeof part0, sha0);
	SHA256(part2, sizeof part2, sha2);
	sha0[0] ^= (uint8_t)lie;
	for (size_t i = 0; i < 3; i++)
		SHA256(part0 + i * CB, i < 2 ? CB : sizeof part0 - 2 * CB,
		       chunks0 + i * LT_DIGEST_LEN);
	for (size_t i = 0; i < 2; i++)
		SHA256(part2 + i * CB, CB, chunks2 + i * LT_DIGEST_LEN);
	const struct lt_part_in parts[] = {
	    {.name = "scan.pdf",
	     .media_type = "application/pdf",
	     .len = sizeof part0,
	     .chunk_bytes = CB,
	     .sha256 = sha0,
	     .chunk_sha256 = chunks0},
	    {.name = "note.txt",
	     .media_type = "text/plain",
	     .data = (const uint8_t *)"hi",
	     .len = 2},
	    {.name = "annex.bin",
	     .media_type = "application/octet-stream",
	     .len = sizeof part2,
	     .chunk_bytes = CB,
	     .sha256 = sha2,
	     .chunk_sha256 = chunks2},
	};
	const char *to[] = {"RECV.B"};
	struct lt_envelope_in in = {.document_id = docid,
	                            .recipients = to,
	                            .n_recipients = 1,
	                            .subject = "large",
	                            .created_at_ms = lt_now_ms(),
	                            .parts = parts,
	                            .n_parts = 3};
	return CHECK_OK(lt_docid_new(docid, &err), err) &&
	               CHECK_OK(lt_envelope_seal(&in, &signer, &cfg, &manifest, &manifest_len,
	                                         digest, &err),
	                        err) &&
	               CHECK_OK(lt_envelope_decode(manifest, manifest_len, &cfg, &env, &err), err)
	           ? 0
	           : -1;
}

static void test_bitmap(void)
{
	uint8_t have[2] = {0};
	CHECK(lt_xfer_streamed(env));
	CHECK(lt_xfer_total(env) == 5);
	CHECK(lt_xfer_number(env, 0, 2) == 2);
	CHECK(lt_xfer_number(env, 2, 0) == 3); /* part 1 is inline: no chunks */
	CHECK(lt_xfer_number(env, 2, 1) == 4);
	CHECK(!lt_xfer_has(have, sizeof have, 9));
	lt_xfer_mark(have, 9);
	CHECK(lt_xfer_has(have, sizeof have, 9));
	CHECK(!lt_xfer_has(have, sizeof have, 8) && !lt_xfer_has(have, sizeof have, 10));
	CHECK(have[1] == 0x02);
	CHECK(!lt_xfer_has(have, sizeof have, 16)); /* past the bitmap */
}

static void test_missing_and_deadline(void)
{
	uint8_t have[1] = {0x01}; /* chunk 0 of part 0 only */
	Lienthong__Store__TransferRecord r = LIENTHONG__STORE__TRANSFER_RECORD__INIT;
	char text[200];
	r.have.data = have;
	r.have.len = 1;
	r.chunks_total = 5;
	r.chunks_in = 1;
	r.opened_ms = 1000;
	r.progress_ms = 5000;
	lt_xfer_missing(env, &r, text, sizeof text);
	CHECK_STR_CONTAINS(text, "part 0 chunks 1-2; part 2 chunks 0-1");
	have[0] = 0x01 | 0x04 | 0x10; /* 0, 2 and 4 in */
	lt_xfer_missing(env, &r, text, sizeof text);
	CHECK(strcmp(text, "part 0 chunks 1; part 2 chunks 0") == 0);
	lt_xfer_missing(env, &r, text, 12);
	CHECK(strcmp(text, "...") == 0 || strlen(text) < 12);
	CHECK(!lt_xfer_complete(&r));
	CHECK(!lt_xfer_expired(&r, 3000, 0, 7999));
	CHECK(lt_xfer_expired(&r, 3000, 0, 8000));
	/* An agent started at 20000 (chunks may have waited in Kafka): counted from then. */
	CHECK(!lt_xfer_expired(&r, 3000, 20000, 22999));
	CHECK(lt_xfer_expired(&r, 3000, 20000, 23000));
	r.chunks_in = 5;
	CHECK(lt_xfer_complete(&r));
	CHECK(!lt_xfer_expired(&r, 3000, 0, 100000)); /* complete: waits for delivery, not chunks */
}

/* Handles chunk index of part in its own transaction; the outcome. */
static int chunk(const char *id, uint32_t part, uint32_t index, const uint8_t *data, size_t len,
                 int corrupt, int *complete)
{
	Lienthong__Chunk c = LIENTHONG__CHUNK__INIT;
	uint8_t buf[CB];
	struct lt_txn *t = NULL;
	enum lt_xfer_outcome out = LT_XFER_UNKNOWN;
	lt_err err, why;
	memcpy(buf, data, len);
	if (corrupt)
		buf[0] ^= 1;
	c.document_id = (char *)id;
	c.sender = signer.code;
	c.part = part;
	c.index = index;
	c.data.data = buf;
	c.data.len = len;
	if (!CHECK_OK(lt_txn_begin(store, 1, &t, &err), err))
		return -1;
	if (!CHECK_OK(lt_xfer_chunk(xfer, t, &c, 1000 + index, &out, complete, &why, &err), err) ||
	    !CHECK_OK(lt_xfer_sync(xfer, &err), err) || !CHECK_OK(lt_txn_commit(t, &err), err))
		return -1;
	if (out == LT_XFER_BAD && corrupt)
		CHECK_STR_CONTAINS(why.msg, "SHA-256 differs from the signed one");
	return (int)out;
}

static Lienthong__Store__TransferRecord *record(const char *id)
{
	Lienthong__Store__TransferRecord *r = NULL;
	struct lt_txn *t = NULL;
	lt_err err;
	if (CHECK_OK(lt_txn_begin(store, 0, &t, &err), err)) {
		CHECK_OK(lt_xfer_get(t, signer.code, id, &r, &err), err);
		lt_txn_abort(t);
	}
	return r;
}

static void test_transfer(void)
{
	struct lt_record rec = {
	    .topic = "inbox", .partition = 1, .offset = 42, .value = manifest, .len = manifest_len};
	struct lt_txn *t = NULL;
	char staging[PATH_MAX], other[LT_DOCID_LEN + 1], path[PATH_MAX], file[PATH_MAX];
	int complete = 0;
	struct stat st;
	lt_err err;
	if (!CHECK_OK(lt_txn_begin(store, 1, &t, &err), err))
		return;
	CHECK_OK(lt_xfer_open(xfer, t, &rec, env, digest, 1000, &err), err);
	CHECK_OK(lt_xfer_open(xfer, t, &rec, env, digest, 1000, &err), err); /* again: kept */
	uint8_t other_digest[LT_DIGEST_LEN] = {1};
	CHECK(lt_xfer_open(xfer, t, &rec, env, other_digest, 1000, &err) == -1 &&
	      err.code == LT_ECONFLICT);
	if (!CHECK_OK(lt_txn_commit(t, &err), err))
		return;
	snprintf(staging, sizeof staging, "%s/.lienthong-staging/%s.%s", cfg.target_dir,
	         signer.code, docid);
	CHECK(stat(staging, &st) == 0 && S_ISDIR(st.st_mode));

	CHECK(chunk(docid, 0, 1, part0 + CB, CB, 0, &complete) == LT_XFER_WRITTEN && !complete);
	CHECK(chunk(docid, 0, 1, part0 + CB, CB, 0, &complete) == LT_XFER_REPEAT);
	CHECK(chunk(docid, 0, 0, part0, CB, 1, &complete) == LT_XFER_BAD);
	CHECK(chunk(docid, 0, 2, part0, CB, 0, &complete) == LT_XFER_BAD); /* wrong length */
	CHECK(lt_docid_new(other, &err) == 0);
	CHECK(chunk(other, 0, 0, part0, CB, 0, &complete) == LT_XFER_UNKNOWN);
	Lienthong__Store__TransferRecord *r = record(docid);
	if (CHECK(r != NULL)) {
		CHECK(r->chunks_in == 1 && r->chunks_total == 5 && r->offset == 42);
		CHECK(r->progress_ms == 1001 && r->opened_ms == 1000);
		CHECK(strcmp(r->staging, staging) == 0);
		CHECK(r->manifest.len == manifest_len);
		lienthong__store__transfer_record__free_unpacked(r, NULL);
	}
	/* The rest, the last part first. */
	CHECK(chunk(docid, 2, 1, part2 + CB, CB, 0, &complete) == LT_XFER_WRITTEN && !complete);
	CHECK(chunk(docid, 2, 0, part2, CB, 0, &complete) == LT_XFER_WRITTEN && !complete);
	CHECK(chunk(docid, 0, 2, part0 + 2 * CB, sizeof part0 - 2 * CB, 0, &complete) ==
	          LT_XFER_WRITTEN &&
	      !complete);
	CHECK(chunk(docid, 0, 0, part0, CB, 0, &complete) == LT_XFER_WRITTEN && complete);
	CHECK(lt_xfer_due(xfer, 0)); /* a transfer completed: scan at once */
	lt_xfer_scanned(xfer, 10000, 0);
	CHECK(!lt_xfer_due(xfer, 10001) && lt_xfer_due(xfer, 20000));
	r = record(docid);
	if (CHECK(r != NULL)) {
		CHECK(lt_xfer_complete(r));
		lienthong__store__transfer_record__free_unpacked(r, NULL);
	}
	/* Out of order: no part was hashed as written, both are read back. */
	r = record(docid);
	if (CHECK(r != NULL)) {
		CHECK(r->hashed.len == 0);
		lienthong__store__transfer_record__free_unpacked(r, NULL);
	}
	/* The staged files are the parts. */
	const struct lt_staged staged = {.dir = staging};
	int dfd = open(staging, O_RDONLY | O_DIRECTORY);
	CHECK_OK(lt_xfer_part_check(dfd, "0", "staged 0", env->parts[0], 0, &staged, &err), err);
	CHECK_OK(lt_xfer_part_check(dfd, "2", "staged 2", env->parts[2], 2, &staged, &err), err);
	CHECK(lt_xfer_part_check(dfd, "2", "staged 2", env->parts[0], 0, &staged, &err) == -1 &&
	      err.code == LT_EINVAL);
	CHECK_STR_CONTAINS(err.msg, "staged 2: 8192 bytes whose SHA-256 differs");
	close(dfd);
	/* Delivered by rename: the folder holds the three parts, staging no longer the files. */
	CHECK_OK(lt_deliver_folder_staged(cfg.target_dir, env, &staged, path, sizeof path, &err),
	         err);
	snprintf(file, sizeof file, "%s/scan.pdf", path);
	CHECK(stat(file, &st) == 0 && st.st_size == (off_t)sizeof part0);
	snprintf(file, sizeof file, "%s/note.txt", path);
	CHECK(stat(file, &st) == 0 && st.st_size == 2);
	snprintf(file, sizeof file, "%s/0", staging);
	CHECK(stat(file, &st) != 0);
	/* Again (a crash before the record): found delivered, nothing written. */
	CHECK_OK(lt_deliver_folder_staged(cfg.target_dir, env, &staged, path, sizeof path, &err),
	         err);
	if (CHECK_OK(lt_txn_begin(store, 1, &t, &err), err)) {
		CHECK_OK(lt_xfer_del(t, signer.code, docid, &err), err);
		CHECK_OK(lt_txn_commit(t, &err), err);
	}
	CHECK_OK(lt_xfer_remove(xfer, staging, &err), err);
	CHECK(stat(staging, &st) != 0);
	CHECK(chunk(docid, 0, 0, part0, CB, 0, &complete) == LT_XFER_UNKNOWN); /* late */
}

/* Opens the transfer of the current manifest; its staging folder in staging. */
static int open_transfer(char *staging, size_t size)
{
	const struct lt_record rec = {
	    .topic = "inbox", .partition = 0, .offset = 7, .value = manifest, .len = manifest_len};
	struct lt_txn *t = NULL;
	lt_err err;
	snprintf(staging, size, "%s/.lienthong-staging/%s.%s", cfg.target_dir, signer.code, docid);
	return CHECK_OK(lt_txn_begin(store, 1, &t, &err), err) &&
	               CHECK_OK(lt_xfer_open(xfer, t, &rec, env, digest, 1000, &err), err) &&
	               CHECK_OK(lt_txn_commit(t, &err), err)
	           ? 0
	           : -1;
}

/* Writes chunks from..to-1 (0-2 part 0, 3-4 part 2) of id; whether they were written. */
static int chunks(const char *id, int from, int to, int *complete)
{
	int ok = 1;
	for (int k = from; k < to; k++) {
		uint32_t i = k < 3 ? (uint32_t)k : (uint32_t)k - 3;
		if (k < 3)
			ok &= chunk(id, 0, i, part0 + i * CB, i < 2 ? CB : sizeof part0 - 2 * CB, 0,
			            complete) == LT_XFER_WRITTEN;
		else
			ok &= chunk(id, 2, i, part2 + i * CB, CB, 0, complete) == LT_XFER_WRITTEN;
	}
	return ok;
}

/* Writes every chunk in order; whether the last completed the transfer. */
static int all_in_order(void)
{
	int complete = 0;
	return CHECK(chunks(docid, 0, 5, &complete)) && CHECK(complete);
}

/* The hashed bitmap of the record of the transfer of id (-1 without one). */
static int hashed_bits(const char *id)
{
	Lienthong__Store__TransferRecord *r = record(id);
	int bits = -1;
	if (CHECK(r != NULL)) {
		bits = r->hashed.len == 1 ? r->hashed.data[0] : (r->hashed.len == 0 ? 0 : 0x100);
		lienthong__store__transfer_record__free_unpacked(r, NULL);
	}
	return bits;
}

static void test_hashed_in_order(void)
{
	char staging[PATH_MAX], path[PATH_MAX], file[PATH_MAX];
	lt_err err;
	if (make_manifest(0) != 0 || open_transfer(staging, sizeof staging) != 0 || !all_in_order())
		return;
	CHECK(hashed_bits(docid) == 0x05); /* parts 0 and 2 */
	Lienthong__Store__TransferRecord *r = record(docid);
	if (!CHECK(r != NULL))
		return;
	const struct lt_staged staged = {
	    .dir = staging, .hashed = r->hashed.data, .hashed_len = r->hashed.len};
	/* A hashed part is checked for its size: a shortened file is refused. */
	snprintf(file, sizeof file, "%s/2", staging);
	int dfd = open(staging, O_RDONLY | O_DIRECTORY);
	CHECK(truncate(file, CB) == 0);
	CHECK(lt_xfer_part_check(dfd, "2", file, env->parts[2], 2, &staged, &err) == -1 &&
	      err.code == LT_EINVAL);
	CHECK_STR_CONTAINS(err.msg, "4096 bytes (or not a file), but 8192 were written and hashed");
	int fd = open(file, O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, part2 + CB, CB, CB) == CB);
	close(fd);
	CHECK_OK(lt_xfer_part_check(dfd, "2", file, env->parts[2], 2, &staged, &err), err);
	close(dfd);
	CHECK_OK(lt_deliver_folder_staged(cfg.target_dir, env, &staged, path, sizeof path, &err),
	         err);
	uint8_t got[sizeof part0 + 1];
	snprintf(file, sizeof file, "%s/scan.pdf", path);
	fd = open(file, O_RDONLY);
	CHECK(fd >= 0 && read(fd, got, sizeof got) == (ssize_t)sizeof part0 &&
	      memcmp(got, part0, sizeof part0) == 0);
	close(fd);
	lienthong__store__transfer_record__free_unpacked(r, NULL);
}

static void test_hashed_lie(void)
{
	char staging[PATH_MAX], path[PATH_MAX];
	lt_err err;
	if (make_manifest(1) != 0 || open_transfer(staging, sizeof staging) != 0 || !all_in_order())
		return;
	/* Every chunk matches its signed SHA-256, but part 0 is not the signed whole. */
	CHECK(hashed_bits(docid) == 0x04);
	Lienthong__Store__TransferRecord *r = record(docid);
	if (!CHECK(r != NULL))
		return;
	const struct lt_staged staged = {
	    .dir = staging, .hashed = r->hashed.data, .hashed_len = r->hashed.len};
	CHECK(lt_deliver_folder_staged(cfg.target_dir, env, &staged, path, sizeof path, &err) ==
	          -1 &&
	      err.code == LT_EINVAL);
	CHECK_STR_CONTAINS(err.msg, "scan.pdf: 10000 bytes whose SHA-256 differs from the signed");
	lienthong__store__transfer_record__free_unpacked(r, NULL);
}

/*
 * Chunks of several documents interleave (a sender streams several at once):
 * each keeps its running hash while no more than LT_XFER_SLOTS do; beyond,
 * the least recently written loses it and is read back at delivery.
 */
static void test_hashed_interleaved(void)
{
	enum { N = LT_XFER_SLOTS + 3 };
	char ids[N][LT_DOCID_LEN + 1], staging[N][PATH_MAX], path[PATH_MAX];
	uint8_t *manifests[N] = {0};
	Lienthong__Envelope *envs[N] = {0};
	int complete = 0;
	lt_err err;
	for (int d = 0; d < N; d++) {
		if (make_manifest(0) != 0 || open_transfer(staging[d], sizeof staging[d]) != 0)
			goto out;
		memcpy(ids[d], docid, sizeof ids[d]);
		manifests[d] = manifest;
		envs[d] = env;
		manifest = NULL; /* kept here, freed below */
		env = NULL;
	}
	/* Two documents chunk by chunk: both hashed. */
	for (int k = 0; k < 5; k++)
		CHECK(chunks(ids[0], k, k + 1, &complete) && chunks(ids[1], k, k + 1, &complete));
	CHECK(hashed_bits(ids[0]) == 0x05 && hashed_bits(ids[1]) == 0x05);
	/*
	 * Chunk 0 of N - 2 more, then the rest of each: ids[0], ids[1] and ids[2],
	 * the least recent, made room for the last three; ids[2] lost part 0's
	 * running hash (its part 2 came after, in order).
	 */
	for (int d = 2; d < N; d++)
		CHECK(chunks(ids[d], 0, 1, &complete));
	for (int d = 2; d < N; d++)
		CHECK(chunks(ids[d], 1, 5, &complete) && complete);
	CHECK(hashed_bits(ids[2]) == 0x04);
	Lienthong__Store__TransferRecord *r = record(ids[2]);
	if (CHECK(r != NULL)) {
		const struct lt_staged staged = {
		    .dir = staging[2], .hashed = r->hashed.data, .hashed_len = r->hashed.len};
		CHECK_OK(lt_deliver_folder_staged(cfg.target_dir, envs[2], &staged, path,
		                                  sizeof path, &err),
		         err);
		lienthong__store__transfer_record__free_unpacked(r, NULL);
	}
out:
	for (int d = 0; d < N; d++) {
		free(manifests[d]);
		if (envs[d] != NULL)
			lienthong__envelope__free_unpacked(envs[d], NULL);
	}
}

static void test_sweep(void)
{
	char orphan[PATH_MAX];
	struct stat st;
	snprintf(orphan, sizeof orphan, "%s/.lienthong-staging/%s.%s", cfg.target_dir, signer.code,
	         "01900000-0000-7000-8000-000000000000");
	CHECK(mkdir(orphan, 0750) == 0);
	lt_xfer_sweep(xfer, store);
	CHECK(stat(orphan, &st) != 0);
}

int main(void)
{
	lt_err err;
	struct lt_tagency a;
	lt_log_init("test_xfer", LT_LOG_ERROR);
	if (!CHECK(lt_tpki_init(&pki) == 0) || !CHECK(lt_tpki_ca(&pki, "ca", "Test CA", &ca) == 0))
		return lt_check_summary();
	struct lt_tagency_opts o = {.cn = "RECV.B", .type = "ec", .issuer = &ca};
	if (CHECK(lt_tpki_agency(&pki, &o, &a) == 0) &&
	    CHECK_OK(lt_tpki_config(&pki, "b", "RECV.B", &ca, &a, NULL, &cfg, &err), err) &&
	    CHECK_OK(lt_signer_load(&signer, cfg.key_file, cfg.cert_file, &err), err) &&
	    CHECK_OK(lt_store_open(&store, cfg.data_dir, 16 << 20, &err), err) &&
	    CHECK((xfer = lt_xfer_new(&cfg, &err)) != NULL) && make_manifest(0) == 0) {
		LT_RUN(test_bitmap);
		LT_RUN(test_missing_and_deadline);
		LT_RUN(test_transfer);
		LT_RUN(test_hashed_in_order);
		LT_RUN(test_hashed_lie);
		LT_RUN(test_hashed_interleaved);
		LT_RUN(test_sweep);
	}
	if (env != NULL)
		lienthong__envelope__free_unpacked(env, NULL);
	free(manifest);
	lt_xfer_free(xfer);
	lt_store_close(store);
	lt_signer_free(&signer);
	lt_config_free(&cfg);
	lt_tca_free(&ca);
	lt_tpki_done(&pki);
	return lt_check_summary();
}
