/* Unit tests of lt_store and lt_submit: the outbox, status records, scans, a full map. */
#include <stdlib.h>
#include <string.h>

#include "../../producers/lt_submit.h"
#include "../../store/lt_store.h"
#include "lt_check.h"
#include "lt_testpki.h"

#define NOW 1767225600000LL

static char tmp[64];
static struct lt_store *store;

static const char *const docids[] = {
    "0190f3a2-0001-7000-8000-000000000001",
    "0190f3a2-0002-7000-8000-000000000002",
    "0190f3a2-0003-7000-8000-000000000003",
    "0190f3a2-0004-7000-8000-000000000004",
};
static const char *const recipients[] = {"RECV.B", "RECV.A"};
static uint8_t payload[4][300];
static uint8_t digests[4][32];

static struct lt_submit_doc doc(int i)
{
	return (struct lt_submit_doc){
	    .document_id = docids[i],
	    .envelope = payload[i],
	    .len = sizeof payload[i] - (size_t)i, /* each of its own length */
	    .digest = digests[i],
	    .recipients = recipients,
	    .n_recipients = 2,
	    .subject = i == 1 ? NULL : "subject",
	};
}

static uint64_t count(enum lt_db db)
{
	struct lt_txn *t = NULL;
	uint64_t n = UINT64_MAX;
	lt_err err;
	if (CHECK_OK(lt_txn_begin(store, 0, &t, &err), err)) {
		CHECK_OK(lt_txn_count(t, db, &n, &err), err);
		lt_txn_abort(t);
	}
	return n;
}

/* Collects outq records in scan order. */
struct outq_seen {
	size_t n;
	uint64_t seq[16];
	Lienthong__Store__OutItem *item[16];
	size_t stop_after; /* 0: never */
};

static int collect(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                   lt_err *err)
{
	struct outq_seen *s = ctx;
	if (klen != 8 || s->n == 16)
		return lt_err_set(err, LT_EIO, "unexpected outq key of %zu bytes", klen);
	s->seq[s->n] = lt_seq_from_key(key);
	s->item[s->n] = lienthong__store__out_item__unpack(NULL, vlen, val);
	s->n++;
	return s->stop_after != 0 && s->n == s->stop_after ? 1 : 0;
}

static void outq_seen_free(struct outq_seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		lienthong__store__out_item__free_unpacked(s->item[i], NULL);
	memset(s, 0, sizeof *s);
}

static void test_seq_keys(void)
{
	uint8_t key[8];
	lt_seq_key(0x0102030405060708ULL, key);
	static const uint8_t want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	CHECK(memcmp(key, want, 8) == 0);
	CHECK(lt_seq_from_key(key) == 0x0102030405060708ULL);
	uint8_t a[8], b[8];
	lt_seq_key(255, a);
	lt_seq_key(256, b);
	CHECK(memcmp(a, b, 8) < 0); /* byte order is numeric order */
}

static void test_submit(void)
{
	struct lt_submit_doc docs[3] = {doc(0), doc(1), doc(2)};
	lt_err err;
	if (!CHECK_OK(lt_submit(store, docs, 3, NOW, &err), err))
		return;
	CHECK(count(LT_DB_DOCS) == 3);
	CHECK(count(LT_DB_STATUS) == 6);
	CHECK(count(LT_DB_OUTQ) == 6);
	CHECK(count(LT_DB_INBOX) == 0);

	struct lt_txn *t = NULL;
	if (!CHECK_OK(lt_txn_begin(store, 0, &t, &err), err))
		return;
	/* The envelopes, byte for byte. */
	for (int i = 0; i < 3; i++) {
		const void *val = NULL;
		size_t vlen = 0;
		CHECK_OK(lt_txn_get(t, LT_DB_DOCS, docids[i], strlen(docids[i]), &val, &vlen, &err),
		         err);
		CHECK(val != NULL && vlen == docs[i].len && memcmp(val, payload[i], vlen) == 0);
	}
	/* A queued status per document and recipient. */
	for (int i = 0; i < 3; i++) {
		for (int r = 0; r < 2; r++) {
			Lienthong__Store__StatusRecord *rec = NULL;
			CHECK_OK(lt_status_get(t, docids[i], recipients[r], &rec, &err), err);
			if (!CHECK(rec != NULL))
				continue;
			CHECK(rec->status == LIENTHONG__STORE__DOC_STATUS__QUEUED);
			CHECK(strcmp(lt_status_name(rec->status), "queued") == 0);
			CHECK(rec->queued_at_ms == NOW && rec->updated_at_ms == NOW);
			CHECK(rec->offset == -1 && rec->partition == -1 && rec->attempts == 0);
			CHECK(strcmp(rec->subject, i == 1 ? "" : "subject") == 0);
			CHECK(rec->digest.len == 32 &&
			      memcmp(rec->digest.data, digests[i], 32) == 0);
			lienthong__store__status_record__free_unpacked(rec, NULL);
		}
	}
	/* The outbox: one record per recipient, in submission order, increasing seq. */
	struct outq_seen seen = {0};
	CHECK_OK(lt_txn_scan(t, LT_DB_OUTQ, NULL, 0, collect, &seen, &err), err);
	if (CHECK(seen.n == 6)) {
		for (size_t k = 0; k < 6; k++) {
			Lienthong__Store__OutItem *it = seen.item[k];
			if (!CHECK(it != NULL))
				continue;
			CHECK(k == 0 || seen.seq[k] > seen.seq[k - 1]);
			CHECK(it->kind == LIENTHONG__STORE__OUT_KIND__OUT_DOCUMENT);
			CHECK(strcmp(it->document_id, docids[k / 2]) == 0);
			CHECK(strcmp(it->destination, recipients[k % 2]) == 0);
			CHECK(it->payload.len == 0); /* documents are read from docs */
			CHECK(it->enqueued_at_ms == NOW);
		}
		CHECK(seen.seq[0] == 1 && seen.seq[5] == 6);
	}
	outq_seen_free(&seen);
	lt_txn_abort(t);
}

static void test_conflict(void)
{
	/* A new document and one already submitted with other bytes: all or nothing. */
	struct lt_submit_doc docs[2] = {doc(3), doc(1)};
	docs[1].len--;
	lt_err err;
	lt_err_clear(&err);
	CHECK(lt_submit(store, docs, 2, NOW + 5, &err) == -1);
	CHECK(err.code == LT_ECONFLICT);
	CHECK_STR_CONTAINS(err.msg, docids[1]);
	CHECK_STR_CONTAINS(err.msg, "already in the outbox");
	CHECK(count(LT_DB_DOCS) == 3);
	CHECK(count(LT_DB_STATUS) == 6);
	CHECK(count(LT_DB_OUTQ) == 6);
	struct lt_txn *t = NULL;
	if (!CHECK_OK(lt_txn_begin(store, 0, &t, &err), err))
		return;
	const void *val = NULL;
	size_t vlen = 0;
	CHECK_OK(lt_txn_get(t, LT_DB_DOCS, docids[3], strlen(docids[3]), &val, &vlen, &err), err);
	CHECK(val == NULL && vlen == 0);
	Lienthong__Store__StatusRecord *rec = NULL;
	CHECK_OK(lt_status_get(t, docids[3], recipients[0], &rec, &err), err);
	CHECK(rec == NULL);
	/* The sequence did not move either. */
	CHECK_OK(lt_txn_get(t, LT_DB_META, "seq", 3, &val, &vlen, &err), err);
	CHECK(val != NULL && vlen == 8 && lt_seq_from_key(val) == 7);
	/* The earlier document is untouched. */
	CHECK_OK(lt_status_get(t, docids[1], recipients[0], &rec, &err), err);
	CHECK(rec != NULL && rec->queued_at_ms == NOW);
	if (rec != NULL)
		lienthong__store__status_record__free_unpacked(rec, NULL);
	lt_txn_abort(t);
	/* Alone, the new document goes in, after the others. */
	if (CHECK_OK(lt_submit(store, docs, 1, NOW + 5, &err), err)) {
		CHECK(count(LT_DB_DOCS) == 4);
		CHECK(count(LT_DB_OUTQ) == 8);
	}
	/* One id twice in one batch with other bytes is a conflict too. */
	struct lt_submit_doc twice[2] = {doc(0), doc(0)};
	twice[0].document_id = twice[1].document_id = "0190f3a2-0005-7000-8000-000000000005";
	twice[1].len--;
	CHECK(lt_submit(store, twice, 2, NOW, &err) == -1);
	CHECK(err.code == LT_ECONFLICT);
	CHECK(count(LT_DB_DOCS) == 4);
	/* The same bytes again (a retried submission) are accepted and change nothing. */
	struct lt_submit_doc again[1] = {doc(1)};
	CHECK_OK(lt_submit(store, again, 1, NOW + 9, &err), err);
	CHECK(count(LT_DB_DOCS) == 4);
	CHECK(count(LT_DB_OUTQ) == 8);
}

static void test_status_absent(void)
{
	struct lt_txn *t = NULL;
	lt_err err;
	if (!CHECK_OK(lt_txn_begin(store, 0, &t, &err), err))
		return;
	Lienthong__Store__StatusRecord *rec = (void *)&err; /* must be overwritten */
	lt_err_clear(&err);
	CHECK(lt_status_get(t, "0190f3a2-9999-7000-8000-000000000009", "RECV.A", &rec, &err) == 0);
	CHECK(rec == NULL);
	CHECK(err.code == LT_OK && err.msg[0] == '\0');
	/* A known document, an unknown recipient. */
	CHECK(lt_status_get(t, docids[0], "RECV.C", &rec, &err) == 0);
	CHECK(rec == NULL);
	lt_txn_abort(t);
}

static int count_cb(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                    lt_err *err)
{
	(void)key;
	(void)klen;
	(void)val;
	(void)vlen;
	(void)err;
	(*(int *)ctx)++;
	return 0;
}

static void test_scan_from(void)
{
	struct lt_txn *t = NULL;
	lt_err err;
	uint8_t from[8];
	if (!CHECK_OK(lt_txn_begin(store, 0, &t, &err), err))
		return;
	struct outq_seen seen = {0};
	lt_seq_key(5, from);
	CHECK_OK(lt_txn_scan(t, LT_DB_OUTQ, from, sizeof from, collect, &seen, &err), err);
	CHECK(seen.n == 4);
	CHECK(seen.n >= 1 && seen.seq[0] == 5);
	CHECK(seen.n == 4 && seen.seq[3] == 8);
	outq_seen_free(&seen);
	/* A callback returning 1 stops the scan without error. */
	seen.stop_after = 2;
	lt_seq_key(2, from);
	CHECK_OK(lt_txn_scan(t, LT_DB_OUTQ, from, sizeof from, collect, &seen, &err), err);
	CHECK(seen.n == 2 && seen.seq[0] == 2 && seen.seq[1] == 3);
	outq_seen_free(&seen);
	/* Past the end: nothing. */
	lt_seq_key(100, from);
	CHECK_OK(lt_txn_scan(t, LT_DB_OUTQ, from, sizeof from, collect, &seen, &err), err);
	CHECK(seen.n == 0);
	/* A callback error stops the scan with the callback's message (docs keys are 36 bytes). */
	lt_err_clear(&err);
	CHECK(lt_txn_scan(t, LT_DB_DOCS, NULL, 0, collect, &seen, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "unexpected outq key of 36 bytes");
	CHECK(seen.n == 0);
	/* Status keys "<id>\0<recipient>": from a document id on, its records and later ones. */
	int n = 0;
	CHECK_OK(lt_txn_scan(t, LT_DB_STATUS, docids[2], strlen(docids[2]), count_cb, &n, &err),
	         err);
	CHECK(n == 4);
	lt_txn_abort(t);
}

static void test_put_get_del(void)
{
	struct lt_txn *t = NULL;
	lt_err err;
	if (!CHECK_OK(lt_txn_begin(store, 1, &t, &err), err))
		return;
	const void *val = NULL;
	size_t vlen = 0;
	CHECK_OK(lt_txn_put(t, LT_DB_INBOX, "k1", 2, "value", 5, &err), err);
	CHECK_OK(lt_txn_get(t, LT_DB_INBOX, "k1", 2, &val, &vlen, &err), err);
	CHECK(val != NULL && vlen == 5 && memcmp(val, "value", 5) == 0);
	CHECK_OK(lt_txn_del(t, LT_DB_INBOX, "k1", 2, &err), err);
	CHECK_OK(lt_txn_get(t, LT_DB_INBOX, "k1", 2, &val, &vlen, &err), err);
	CHECK(val == NULL);
	CHECK_OK(lt_txn_del(t, LT_DB_INBOX, "absent", 6, &err), err);
	CHECK_OK(lt_txn_put(t, LT_DB_INBOX, "k2", 2, "v", 1, &err), err);
	lt_txn_abort(t);
	/* Aborted: nothing stays. */
	int n = 0;
	if (CHECK_OK(lt_txn_begin(store, 0, &t, &err), err)) {
		CHECK_OK(lt_txn_scan(t, LT_DB_INBOX, NULL, 0, count_cb, &n, &err), err);
		CHECK(n == 0);
		lt_txn_abort(t);
	}
	/* Committed: stays, and the sequence goes on. */
	uint64_t seq = 0;
	if (CHECK_OK(lt_txn_begin(store, 1, &t, &err), err)) {
		CHECK_OK(lt_txn_put(t, LT_DB_INBOX, "k3", 2, "v", 1, &err), err);
		CHECK_OK(lt_txn_next_seq(t, &seq, &err), err);
		CHECK(seq == 9);
		CHECK_OK(lt_txn_commit(t, &err), err);
	}
	if (CHECK_OK(lt_txn_begin(store, 0, &t, &err), err)) {
		n = 0;
		CHECK_OK(lt_txn_scan(t, LT_DB_INBOX, NULL, 0, count_cb, &n, &err), err);
		CHECK(n == 1);
		lt_txn_abort(t);
	}
}

/*
 * A hot copy: made while a write transaction is open (it is not in the copy),
 * it holds what was committed, carries the store's marker and opens as the
 * same store; a folder that is not empty is refused.
 */
static void test_copy(void)
{
	struct lt_txn *t = NULL;
	lt_err err;
	char dest[PATH_MAX], mark[PATH_MAX], orig[PATH_MAX], a[40] = "", b[40] = "";
	int64_t bytes = 0;
	snprintf(dest, sizeof dest, "%s/backup", tmp);
	if (!CHECK_OK(lt_txn_begin(store, 1, &t, &err), err))
		return;
	CHECK_OK(lt_txn_put(t, LT_DB_INBOX, "uncommitted", 11, "v", 1, &err), err);
	CHECK_OK(lt_store_copy(store, dest, &bytes, &err), err);
	lt_txn_abort(t);
	CHECK(bytes > 0);
	CHECK(lt_store_copy(store, dest, &bytes, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "is not empty");
	snprintf(mark, sizeof mark, "%s/store-id", dest);
	snprintf(orig, sizeof orig, "%s/data/store-id", tmp);
	FILE *f = fopen(mark, "r"), *g = fopen(orig, "r");
	if (CHECK(f != NULL && g != NULL)) {
		CHECK(fgets(a, sizeof a, f) != NULL && fgets(b, sizeof b, g) != NULL);
		CHECK(strlen(a) == 33 && strcmp(a, b) == 0);
	}
	if (f != NULL)
		fclose(f);
	if (g != NULL)
		fclose(g);
	struct lt_store *copy = NULL;
	if (!CHECK_OK(lt_store_open(&copy, dest, 64 << 20, &err), err))
		return;
	const void *val = NULL;
	size_t vlen = 0;
	if (CHECK_OK(lt_txn_begin(copy, 0, &t, &err), err)) {
		CHECK_OK(lt_txn_get(t, LT_DB_INBOX, "k3", 2, &val, &vlen, &err), err);
		CHECK(val != NULL && vlen == 1);
		CHECK_OK(lt_txn_get(t, LT_DB_INBOX, "uncommitted", 11, &val, &vlen, &err), err);
		CHECK(val == NULL);
		uint64_t n = 0;
		CHECK_OK(lt_txn_count(t, LT_DB_OUTQ, &n, &err), err);
		CHECK(n > 0 && n == count(LT_DB_OUTQ)); /* the outbox as it was */
		lt_txn_abort(t);
	}
	lt_store_close(copy);
}

/* Fills a 1 MiB store with ~100 KB envelopes until it is full. */
static void test_map_full(void)
{
	char dir[PATH_MAX];
	struct lt_store *small = NULL;
	lt_err err;
	snprintf(dir, sizeof dir, "%s/small", tmp);
	if (!CHECK_OK(lt_store_open(&small, dir, 1 << 20, &err), err))
		return;
	static uint8_t big[100 * 1000];
	char ids[40][40];
	int ok = 0;
	int rc = 0;
	for (int i = 0; i < 40; i++) {
		snprintf(ids[i], sizeof ids[i], "0190f3a2-1000-7000-8000-%012d", i);
		memset(big, 'a' + i % 26, sizeof big);
		struct lt_submit_doc d = doc(0);
		d.document_id = ids[i];
		d.envelope = big;
		d.len = sizeof big;
		lt_err_clear(&err);
		rc = lt_submit(small, &d, 1, NOW, &err);
		if (rc != 0)
			break;
		ok++;
	}
	CHECK(rc == -1);
	CHECK(ok >= 3 && ok < 11);
	CHECK(err.code == LT_EFULL);
	CHECK_STR_CONTAINS(err.msg, "lmdb_map_size");
	CHECK_STR_CONTAINS(err.msg, dir);
	lt_store_close(small);

	/* After reopening, what was committed is all there, the refused one is not. */
	small = NULL;
	if (!CHECK_OK(lt_store_open(&small, dir, 1 << 20, &err), err))
		return;
	struct lt_txn *t = NULL;
	if (CHECK_OK(lt_txn_begin(small, 0, &t, &err), err)) {
		int intact = 0;
		for (int i = 0; i < ok; i++) {
			const void *val = NULL;
			size_t vlen = 0;
			memset(big, 'a' + i % 26, sizeof big);
			if (lt_txn_get(t, LT_DB_DOCS, ids[i], strlen(ids[i]), &val, &vlen, &err) ==
			        0 &&
			    val != NULL && vlen == sizeof big && memcmp(val, big, vlen) == 0)
				intact++;
		}
		CHECK(intact == ok);
		const void *val = NULL;
		size_t vlen = 0;
		CHECK_OK(lt_txn_get(t, LT_DB_DOCS, ids[ok], strlen(ids[ok]), &val, &vlen, &err),
		         err);
		CHECK(val == NULL);
		uint64_t n = 0;
		CHECK_OK(lt_txn_count(t, LT_DB_OUTQ, &n, &err), err);
		CHECK(n == 2 * (uint64_t)ok);
		lt_txn_abort(t);
	}
	lt_store_close(small);
}

static void test_open_errors(void)
{
	char path[PATH_MAX];
	struct lt_store *s = NULL;
	lt_err err;
	/* data_dir under a regular file. */
	snprintf(path, sizeof path, "%s/file", tmp);
	if (!CHECK(lt_write_file(path, "x") == 0))
		return;
	snprintf(path, sizeof path, "%s/file/data", tmp);
	CHECK(lt_store_open(&s, path, 1 << 20, &err) == -1);
	CHECK(s == NULL);
	CHECK_STR_CONTAINS(err.msg, "cannot create data_dir");
	CHECK_STR_CONTAINS(err.msg, path);
}

int main(void)
{
	lt_err err;
	for (int i = 0; i < 4; i++) {
		for (size_t k = 0; k < sizeof payload[i]; k++)
			payload[i][k] = (uint8_t)(k * (size_t)(i + 3));
		memset(digests[i], 0x10 * (i + 1), sizeof digests[i]);
	}
	if (lt_tmpdir_new(tmp, sizeof tmp) != 0)
		return 1;
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/data", tmp);
	if (CHECK_OK(lt_store_open(&store, dir, 64 << 20, &err), err)) {
		LT_RUN(test_seq_keys);
		LT_RUN(test_submit);
		LT_RUN(test_conflict);
		LT_RUN(test_status_absent);
		LT_RUN(test_scan_from);
		LT_RUN(test_put_get_del);
		LT_RUN(test_copy);
		lt_store_close(store);
	}
	LT_RUN(test_map_full);
	LT_RUN(test_open_errors);
	lt_tmpdir_remove(tmp);
	return lt_check_summary();
}
