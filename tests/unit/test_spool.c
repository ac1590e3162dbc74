/*
 * Unit tests of lt_spool (the sender's spool of streamed parts) and of
 * lt_submit / lt_submitd taking streamed documents: the bytes and digests
 * written, chunk boundaries, atomic writes and the orphan sweep, removal,
 * and submissions refused (nothing stored) while a spool file is missing or
 * of another size.
 */
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../clock/lt_clock.h"
#include "../../producers/lt_spool.h"
#include "../../producers/lt_submit.h"
#include "../../producers/lt_submitd.h"
#include "../../proto/lt_envelope.h"
#include "../../store/lt_retention.h"
#include "lt_check.h"
#include "lt_testpki.h"

#define CB 4096u /* chunk_bytes: the smallest, so that files stay small */

static struct lt_tpki pki;
static struct lt_tca ca;
static struct lt_signer signer;
static struct lt_trust *trust;
static struct lt_config cfg;
static char srcdir[PATH_MAX];

/* A source file of len pseudo-random bytes (seeded), returned open for reading. */
static int make_src(const char *name, size_t len, unsigned seed, uint8_t **bytes)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", srcdir, name);
	uint8_t *b = malloc(len ? len : 1);
	for (size_t i = 0; b != NULL && i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		b[i] = (uint8_t)(seed >> 16);
	}
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (!CHECK(b != NULL && fd >= 0 && write(fd, b, len) == (ssize_t)len)) {
		free(b);
		return -1;
	}
	*bytes = b;
	return fd;
}

/* The whole file at path, or NULL; *len its length. */
static uint8_t *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	uint8_t *b = malloc((size_t)st.st_size + 1);
	ssize_t n = b ? read(fd, b, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		free(b);
		return NULL;
	}
	*len = (size_t)n;
	return b;
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Sizes around chunk boundaries: a multiple of chunk_bytes, one more, one byte, one less. */
static const size_t sizes[] = {3 * CB, 3 * CB + 1, 1, CB - 1};
#define NSRC (sizeof sizes / sizeof sizes[0])

static void test_write_read(void)
{
	char id[LT_DOCID_LEN + 1], path[PATH_MAX];
	struct lt_spool_src src[NSRC];
	struct lt_spool_part out[NSRC];
	uint8_t *bytes[NSRC] = {0};
	lt_err err;
	if (!CHECK_OK(lt_docid_new(id, &err), err))
		return;
	static const char *const names[NSRC] = {"src0", "src1", "src2", "src3"};
	for (size_t i = 0; i < NSRC; i++) {
		src[i] = (struct lt_spool_src){
		    .index = (uint32_t)(i + 1), .name = names[i], .size = sizes[i]};
		src[i].fd = make_src(names[i], sizes[i], (unsigned)i + 7, &bytes[i]);
		if (src[i].fd < 0)
			return;
	}
	/* Part 0 is carried in the envelope: spool indexes need not start at 0. */
	if (!CHECK_OK(lt_spool_write(cfg.data_dir, id, CB, src, NSRC, out, &err), err))
		goto out;
	snprintf(path, sizeof path, "%s/spool/.tmp-%s", cfg.data_dir, id);
	CHECK(!exists(path));
	for (size_t i = 0; i < NSRC; i++) {
		uint8_t d[32];
		size_t len = 0;
		CHECK(lt_spool_path(cfg.data_dir, id, src[i].index, path, sizeof path, &err) == 0);
		uint8_t *spooled = slurp(path, &len);
		CHECK(spooled != NULL && len == sizes[i] && memcmp(spooled, bytes[i], len) == 0);
		free(spooled);
		SHA256(bytes[i], sizes[i], d);
		CHECK(out[i].size == sizes[i] && out[i].chunk_bytes == CB);
		CHECK(memcmp(out[i].sha256, d, 32) == 0);
		uint64_t n = lt_part_chunks(sizes[i], CB);
		CHECK(n == (sizes[i] + CB - 1) / CB);
		/* Each chunk: its digest, read back with pread, checked against the list. */
		Lienthong__Part p = LIENTHONG__PART__INIT;
		p.name = "part";
		p.size = sizes[i];
		p.chunk_bytes = CB;
		p.chunk_sha256.data = out[i].chunk_sha256;
		p.chunk_sha256.len = n * 32;
		int fd = -1;
		if (!CHECK_OK(lt_spool_open(cfg.data_dir, id, src[i].index, sizes[i], &fd, &err),
		              err))
			continue;
		static uint8_t buf[CB];
		for (uint64_t c = 0; c < n; c++) {
			size_t want = c + 1 < n ? CB : sizes[i] - c * CB;
			SHA256(bytes[i] + c * CB, want, d);
			CHECK(memcmp(out[i].chunk_sha256 + c * 32, d, 32) == 0);
			CHECK_OK(lt_spool_read_chunk(fd, sizes[i], CB, c, buf, &len, &err), err);
			CHECK(len == want && memcmp(buf, bytes[i] + c * CB, len) == 0);
			CHECK_OK(lt_spool_chunk_verify(&p, c, buf, len, &err), err);
		}
		CHECK(lt_spool_read_chunk(fd, sizes[i], CB, n, buf, &len, &err) == -1);
		/* A changed byte, or a chunk of another length, is told apart. */
		buf[0] ^= 1;
		CHECK(lt_spool_chunk_verify(&p, n - 1, buf, len, &err) == -1 &&
		      err.code == LT_EVERIFY);
		CHECK_STR_CONTAINS(err.msg, "differs from the signed one");
		CHECK(lt_spool_chunk_verify(&p, 0, buf, sizes[i] < CB ? sizes[i] + 1 : CB - 1,
		                            &err) == -1 &&
		      err.code == LT_EVERIFY);
		close(fd);
		/* lt_spool_open refuses a size other than the declared one. */
		CHECK(lt_spool_open(cfg.data_dir, id, src[i].index, sizes[i] + 1, &fd, &err) ==
		          -1 &&
		      err.code == LT_EVERIFY);
		CHECK_STR_CONTAINS(err.msg, "bytes, the envelope declares");
		lt_spool_part_free(&out[i]);
	}
	CHECK(lt_spool_check(cfg.data_dir, id, 0, "inline", 1, &err) == -1 &&
	      err.code == LT_ENOTFOUND);
	/* Removal: the folder goes; removing again is no error. */
	CHECK_OK(lt_spool_remove(cfg.data_dir, id, &err), err);
	CHECK(lt_spool_path(cfg.data_dir, id, -1, path, sizeof path, &err) == 0 && !exists(path));
	CHECK_OK(lt_spool_remove(cfg.data_dir, id, &err), err);
out:
	for (size_t i = 0; i < NSRC; i++) {
		free(bytes[i]);
		if (src[i].fd >= 0)
			close(src[i].fd);
	}
}

/* A source that is shorter than announced (changed while read): nothing is left. */
static void test_source_changed(void)
{
	char id[LT_DOCID_LEN + 1], path[PATH_MAX];
	uint8_t *bytes = NULL;
	struct lt_spool_part out[2];
	lt_err err;
	if (!CHECK_OK(lt_docid_new(id, &err), err))
		return;
	int fd = make_src("short", 2 * CB, 3, &bytes);
	if (fd < 0)
		return;
	struct lt_spool_src src[2] = {
	    {.index = 0, .fd = fd, .name = "short-ok", .size = 2 * CB},
	    {.index = 1, .fd = fd, .name = "short", .size = 2 * CB + 5},
	};
	CHECK(lt_spool_write(cfg.data_dir, id, CB, src, 2, out, &err) == -1 &&
	      err.code == LT_EINVAL);
	CHECK_STR_CONTAINS(err.msg, "short ended at 8192 bytes, not 8197");
	src[1].size = 2 * CB - 1; /* longer than announced */
	CHECK(lt_spool_write(cfg.data_dir, id, CB, src, 2, out, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "short is longer than 8191 bytes");
	snprintf(path, sizeof path, "%s/spool/.tmp-%s", cfg.data_dir, id);
	CHECK(!exists(path));
	snprintf(path, sizeof path, "%s/spool/%s", cfg.data_dir, id);
	CHECK(!exists(path));
	free(bytes);
	close(fd);
}

/* Writes a file of len bytes at path (folders made as needed by the caller). */
static void put(const char *path, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	static const uint8_t zero[16];
	CHECK(fd >= 0 && write(fd, zero, len) == (ssize_t)len);
	if (fd >= 0)
		close(fd);
}

static struct lt_store *open_store(void)
{
	struct lt_store *s = NULL;
	lt_err err;
	CHECK_OK(lt_store_open(&s, cfg.data_dir, 64 << 20, &err), err);
	return s;
}

/* A half-written spool (.tmp-) is never taken for a whole one; the sweep removes orphans. */
static void test_atomic_sweep(void)
{
	char orphan[LT_DOCID_LEN + 1], kept[LT_DOCID_LEN + 1], half[LT_DOCID_LEN + 1];
	char path[PATH_MAX];
	lt_err err;
	struct lt_store *s = open_store();
	if (s == NULL)
		return;
	if (!CHECK_OK(lt_docid_new(orphan, &err), err) ||
	    !CHECK_OK(lt_docid_new(kept, &err), err) || !CHECK_OK(lt_docid_new(half, &err), err))
		goto out;
	snprintf(path, sizeof path, "%s/spool", cfg.data_dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/spool/.tmp-%s", cfg.data_dir, half);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof path, "%s/spool/.tmp-%s/0", cfg.data_dir, half);
	put(path, 10);
	/* Not taken: the part is not in spool/<id>. */
	CHECK(lt_spool_check(cfg.data_dir, half, 0, "half.pdf", 10, &err) == -1 &&
	      err.code == LT_ENOTFOUND);
	CHECK_STR_CONTAINS(err.msg, "is missing");
	const char *ids[] = {orphan, kept};
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/spool/%s", cfg.data_dir, ids[i]);
		CHECK(mkdir(path, 0700) == 0);
		snprintf(path, sizeof path, "%s/spool/%s/0", cfg.data_dir, ids[i]);
		put(path, 5);
	}
	snprintf(path, sizeof path, "%s/spool/notes.txt", cfg.data_dir);
	put(path, 3);
	/* kept has its docs record; orphan has none. */
	static const uint8_t env[] = "not an envelope";
	static const uint8_t digest[32];
	const char *to[] = {"RECV.B"};
	struct lt_submit_doc d = {.document_id = kept,
	                          .envelope = env,
	                          .len = sizeof env,
	                          .digest = digest,
	                          .recipients = to,
	                          .n_recipients = 1,
	                          .subject = "kept"};
	CHECK_OK(lt_submit(s, &d, 1, lt_now_ms(), &err), err);
	size_t removed = 0;
	/* Young: nothing goes (an upload may be about to commit). */
	CHECK_OK(lt_spool_sweep(cfg.data_dir, s, lt_now_ms(), &removed, &err), err);
	CHECK(removed == 0);
	snprintf(path, sizeof path, "%s/spool/%s/0", cfg.data_dir, orphan);
	CHECK(exists(path));
	/* An hour later: the orphan and the unfinished one go, the rest stays. */
	CHECK_OK(lt_spool_sweep(cfg.data_dir, s, lt_now_ms() + LT_SPOOL_ORPHAN_MS + 2000, &removed,
	                        &err),
	         err);
	CHECK(removed == 2);
	snprintf(path, sizeof path, "%s/spool/%s", cfg.data_dir, orphan);
	CHECK(!exists(path));
	snprintf(path, sizeof path, "%s/spool/.tmp-%s", cfg.data_dir, half);
	CHECK(!exists(path));
	snprintf(path, sizeof path, "%s/spool/%s/0", cfg.data_dir, kept);
	CHECK(exists(path));
	snprintf(path, sizeof path, "%s/spool/notes.txt", cfg.data_dir);
	CHECK(exists(path));
	unlink(path);
	/* Discarding a spool: kept while its document is stored, else removed. */
	CHECK(lt_spool_has_doc(s, kept, &err) == 1);
	CHECK(lt_spool_has_doc(s, orphan, &err) == 0);
	CHECK_OK(lt_spool_discard(cfg.data_dir, s, kept, &err), err);
	snprintf(path, sizeof path, "%s/spool/%s/0", cfg.data_dir, kept);
	CHECK(exists(path));
	snprintf(path, sizeof path, "%s/spool/%s", cfg.data_dir, orphan);
	CHECK(mkdir(path, 0700) == 0);
	CHECK_OK(lt_spool_discard(cfg.data_dir, s, orphan, &err), err);
	CHECK(!exists(path));
	CHECK(mkdir(path, 0700) == 0);
	CHECK_OK(lt_spool_discard(cfg.data_dir, NULL, orphan, &err), err); /* no store: removed */
	CHECK(!exists(path));
	CHECK_OK(lt_spool_remove(cfg.data_dir, kept, &err), err);
out:
	lt_store_close(s);
}

/* A document of one inline part and one streamed part of len bytes, spooled and sealed. */
struct streamed {
	char id[LT_DOCID_LEN + 1];
	uint8_t *envelope;
	size_t len;
	uint8_t digest[32];
	struct lt_submit_doc sub;
};

static const char *const to[] = {"RECV.B", "RECV.C"};

static int make_streamed(struct streamed *s, size_t len)
{
	lt_err err;
	uint8_t *bytes = NULL;
	struct lt_spool_part sp;
	memset(s, 0, sizeof *s);
	if (!CHECK_OK(lt_docid_new(s->id, &err), err))
		return -1;
	int fd = make_src("scan.pdf", len, 11, &bytes);
	if (fd < 0)
		return -1;
	struct lt_spool_src src = {.index = 1, .fd = fd, .name = "scan.pdf", .size = len};
	int rc = -1;
	if (!CHECK_OK(lt_spool_write(cfg.data_dir, s->id, CB, &src, 1, &sp, &err), err))
		goto out;
	struct lt_part_in parts[2] = {
	    {.name = "cover.txt", .media_type = "text/plain", .data = bytes, .len = 10},
	    {.name = "scan.pdf",
	     .media_type = "application/pdf",
	     .len = sp.size,
	     .chunk_bytes = sp.chunk_bytes,
	     .sha256 = sp.sha256,
	     .chunk_sha256 = sp.chunk_sha256},
	};
	struct lt_envelope_in in = {.document_id = s->id,
	                            .recipients = to,
	                            .n_recipients = 2,
	                            .subject = "large",
	                            .created_at_ms = lt_now_ms(),
	                            .parts = parts,
	                            .n_parts = 2};
	rc = lt_envelope_seal(&in, &signer, &cfg, &s->envelope, &s->len, s->digest, &err);
	CHECK_OK(rc, err);
	lt_spool_part_free(&sp);
	s->sub = (struct lt_submit_doc){.document_id = s->id,
	                                .envelope = s->envelope,
	                                .len = s->len,
	                                .digest = s->digest,
	                                .recipients = to,
	                                .n_recipients = 2,
	                                .subject = "large"};
out:
	free(bytes);
	close(fd);
	return rc;
}

static int stored(struct lt_store *st, const char *id)
{
	struct lt_txn *t = NULL;
	const void *v = NULL;
	size_t vlen;
	lt_err err;
	if (!CHECK_OK(lt_txn_begin(st, 0, &t, &err), err))
		return -1;
	CHECK_OK(lt_txn_get(t, LT_DB_DOCS, id, strlen(id), &v, &vlen, &err), err);
	lt_txn_abort(t);
	return v != NULL;
}

/* The sealed manifest verifies as its sender sealed it (the submission service's check). */
static void test_manifest_verifies(void)
{
	struct streamed s;
	lt_err err;
	if (make_streamed(&s, 5 * CB + 3) != 0)
		return;
	Lienthong__Envelope *env = NULL;
	uint8_t digest[32];
	CHECK_OK(lt_envelope_decode(s.envelope, s.len, &cfg, &env, &err), err);
	if (env != NULL) {
		CHECK(env->n_parts == 2 && env->parts[1]->chunk_bytes == CB &&
		      env->parts[1]->data.len == 0 && env->parts[1]->size == 5 * CB + 3);
		CHECK_OK(lt_envelope_verify_sealed(env, trust, digest, &err), err);
		CHECK(memcmp(digest, s.digest, 32) == 0);
		lienthong__envelope__free_unpacked(env, NULL);
	}
	lt_err rm;
	lt_spool_remove(cfg.data_dir, s.id, &rm);
	free(s.envelope);
}

static void test_submit(void)
{
	struct streamed s;
	char path[PATH_MAX];
	lt_err err;
	struct lt_store *st = open_store();
	if (st == NULL || make_streamed(&s, 3 * CB + 1) != 0)
		goto out;
	lt_spool_path(cfg.data_dir, s.id, 1, path, sizeof path, &err);
	/* Missing spool file: refused, nothing stored. */
	char moved[PATH_MAX + 8];
	snprintf(moved, sizeof moved, "%s.away", path);
	CHECK(rename(path, moved) == 0);
	CHECK(lt_submit(st, &s.sub, 1, lt_now_ms(), &err) == -1 && err.code == LT_ENOTFOUND);
	CHECK_STR_CONTAINS(err.msg, "cannot submit (nothing was stored)");
	CHECK_STR_CONTAINS(err.msg, s.id);
	CHECK_STR_CONTAINS(err.msg, "part index 1 ('scan.pdf')");
	CHECK_STR_CONTAINS(err.msg, path);
	CHECK_STR_CONTAINS(err.msg, "is missing");
	CHECK(stored(st, s.id) == 0);
	/* Of another size: refused, nothing stored. */
	CHECK(rename(moved, path) == 0);
	CHECK(truncate(path, 3 * CB) == 0);
	CHECK(lt_submit(st, &s.sub, 1, lt_now_ms(), &err) == -1 && err.code == LT_EVERIFY);
	CHECK_STR_CONTAINS(err.msg, "has 12288 bytes, the envelope declares 12289");
	CHECK(stored(st, s.id) == 0);
	/* The same through the running submission service. */
	struct lt_submitd *d = lt_submitd_start(&cfg, st, NULL, NULL, &err);
	CHECK(d != NULL);
	if (d != NULL) {
		CHECK(lt_submitd_send(&cfg, &s.sub, 1, &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "has 12288 bytes, the envelope declares 12289");
		CHECK(stored(st, s.id) == 0);
		/* Whole again: accepted through the service, and stored. */
		int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		CHECK(fd >= 0 && write(fd, "x", 1) == 1);
		if (fd >= 0)
			close(fd);
		CHECK_OK(lt_submitd_send(&cfg, &s.sub, 1, &err), err);
		CHECK(stored(st, s.id) == 1);
		lt_submitd_stop(d);
	}
	/* A retry of the same bytes directly is accepted too. */
	CHECK_OK(lt_submit(st, &s.sub, 1, lt_now_ms(), &err), err);
	lt_spool_remove(cfg.data_dir, s.id, &err);
	free(s.envelope);
out:
	lt_store_close(st);
}

static void set_status(struct lt_store *st, const char *id, const char *recipient,
                       Lienthong__Store__DocStatus status, int64_t at_ms)
{
	struct lt_txn *t = NULL;
	Lienthong__Store__StatusRecord rec = LIENTHONG__STORE__STATUS_RECORD__INIT;
	lt_err err;
	rec.status = status;
	rec.updated_at_ms = at_ms;
	if (CHECK_OK(lt_txn_begin(st, 1, &t, &err), err)) {
		CHECK_OK(lt_status_put(t, id, recipient, &rec, &err), err);
		CHECK_OK(lt_txn_commit(t, &err), err);
	}
}

/* Retention: a sent document's spool goes with its envelope, not before. */
static void test_retention(void)
{
	struct streamed done = {0}, busy = {0};
	char path[PATH_MAX];
	lt_err err;
	struct lt_store *st = open_store();
	if (st == NULL)
		return;
	if (make_streamed(&done, 2 * CB) != 0 || make_streamed(&busy, 2 * CB) != 0)
		goto out;
	struct lt_submit_doc subs[2] = {done.sub, busy.sub};
	int64_t now = lt_now_ms();
	CHECK_OK(lt_submit(st, subs, 2, now, &err), err);
	for (int i = 0; i < 2; i++)
		set_status(st, done.id, to[i], LIENTHONG__STORE__DOC_STATUS__DELIVERED, now);
	set_status(st, busy.id, to[0], LIENTHONG__STORE__DOC_STATUS__DELIVERED, now);
	set_status(st, busy.id, to[1], LIENTHONG__STORE__DOC_STATUS__SENT, now);
	const struct lt_retention_limits lim = {
	    .sent_body_ms = 1000, .final_status_ms = 1000000, .inbox_ms = 1000000};
	struct lt_retention r = {0};
	struct lt_retention_counts c = {0};
	int pass_done = 0;
	for (int steps = 0; !pass_done && steps < 100; steps++) {
		if (!CHECK_OK(lt_retention_step(&r, st, &lim, now + 2000, &pass_done, &c, &err),
		              err))
			break;
	}
	CHECK(pass_done && c.bodies == 1);
	CHECK(stored(st, done.id) == 0);
	CHECK(lt_spool_path(cfg.data_dir, done.id, -1, path, sizeof path, &err) == 0 &&
	      !exists(path));
	CHECK(stored(st, busy.id) == 1);
	CHECK(lt_spool_path(cfg.data_dir, busy.id, 1, path, sizeof path, &err) == 0 &&
	      exists(path));
	lt_spool_remove(cfg.data_dir, busy.id, &err);
out:
	free(done.envelope);
	free(busy.envelope);
	lt_store_close(st);
}

static int setup(void)
{
	lt_err err;
	struct lt_tagency a;
	struct lt_tagency_opts o = {.type = "ec", .cn = "SEND.A", .issuer = &ca};
	if (lt_tpki_init(&pki) != 0 || lt_tpki_ca(&pki, "ca", "Test CA", &ca) != 0 ||
	    lt_tpki_agency(&pki, &o, &a) != 0)
		return -1;
	snprintf(srcdir, sizeof srcdir, "%s/src", pki.dir);
	if (mkdir(srcdir, 0700) != 0 ||
	    lt_signer_load(&signer, a.key_file, a.cert_file, &err) != 0 ||
	    lt_tpki_config(&pki, "send", "SEND.A", &ca, &a, "chunk_bytes = 4K\n", &cfg, &err) !=
	        0 ||
	    (trust = lt_trust_load(ca.file, &err)) == NULL) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	return mkdir(cfg.data_dir, 0700);
}

int main(void)
{
	if (setup() != 0) {
		CHECK(!"setup");
		return lt_check_summary();
	}
	LT_RUN(test_write_read);
	LT_RUN(test_source_changed);
	LT_RUN(test_atomic_sweep);
	LT_RUN(test_manifest_verifies);
	LT_RUN(test_submit);
	LT_RUN(test_retention);
	lt_trust_free(trust);
	lt_signer_free(&signer);
	lt_config_free(&cfg);
	lt_tca_free(&ca);
	lt_tpki_done(&pki);
	return lt_check_summary();
}
