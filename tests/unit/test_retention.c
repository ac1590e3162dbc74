/*
 * Unit tests of lt_retention (the sweep, on a fake clock) and of the
 * quarantine's bounds in lt_store: what is deleted, when, what is kept, and
 * that every step stays bounded.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "../../consumers/lt_quarantine.h"
#include "../../producers/lt_submit.h"
#include "../../proto/lt_envelope.h"
#include "../../store/lt_retention.h"
#include "../../store/lt_store.h"
#include "lt_check.h"
#include "lt_testpki.h"

#define NOW 1767225600000LL
#define DAY (86400LL * 1000)

static char tmp[64];
static struct lt_store *store;
static int n_stores;

static const struct lt_retention_limits lim = {
    .sent_body_ms = 1 * DAY,
    .final_status_ms = 10 * DAY,
    .inbox_ms = 5 * DAY,
};

static struct lt_store *fresh_store(void)
{
	char dir[PATH_MAX];
	struct lt_store *s = NULL;
	lt_err err;
	snprintf(dir, sizeof dir, "%s/data%d", tmp, n_stores++);
	CHECK_OK(lt_store_open(&s, dir, 64 << 20, &err), err);
	return s;
}

static int present(enum lt_db db, const char *key, size_t klen)
{
	struct lt_txn *t = NULL;
	const void *val = NULL;
	size_t vlen;
	lt_err err;
	if (!CHECK_OK(lt_txn_begin(store, 0, &t, &err), err))
		return -1;
	CHECK_OK(lt_txn_get(t, db, key, klen, &val, &vlen, &err), err);
	lt_txn_abort(t);
	return val != NULL;
}

static int doc_present(const char *id)
{
	return present(LT_DB_DOCS, id, strlen(id));
}

static int status_present(const char *id, const char *recipient)
{
	char key[128];
	size_t a = strlen(id), b = strlen(recipient);
	memcpy(key, id, a);
	key[a] = '\0';
	memcpy(key + a + 1, recipient, b);
	return present(LT_DB_STATUS, key, a + 1 + b);
}

static void set_status(const char *id, const char *recipient, Lienthong__Store__DocStatus st,
                       int64_t at_ms)
{
	struct lt_txn *t = NULL;
	Lienthong__Store__StatusRecord rec = LIENTHONG__STORE__STATUS_RECORD__INIT;
	lt_err err;
	rec.status = st;
	rec.updated_at_ms = at_ms;
	if (CHECK_OK(lt_txn_begin(store, 1, &t, &err), err)) {
		CHECK_OK(lt_status_put(t, id, recipient, &rec, &err), err);
		CHECK_OK(lt_txn_commit(t, &err), err);
	}
}

static void put_inbox(const char *key, Lienthong__Store__InboxStatus st, int64_t at_ms)
{
	struct lt_txn *t = NULL;
	Lienthong__Store__InboxRecord r = LIENTHONG__STORE__INBOX_RECORD__INIT;
	lt_err err;
	r.status = st;
	r.sender = (char *)"SEND.A";
	r.at_ms = at_ms;
	if (CHECK_OK(lt_txn_begin(store, 1, &t, &err), err)) {
		CHECK_OK(lt_txn_put_pb(t, LT_DB_INBOX, key, strlen(key), &r.base, &err), err);
		CHECK_OK(lt_txn_commit(t, &err), err);
	}
}

/* Runs steps until a pass ends; returns the number of steps (0 on error). */
static int full_pass(struct lt_retention *r, int64_t now_ms, struct lt_retention_counts *c)
{
	lt_err err;
	for (int steps = 1; steps < 10000; steps++) {
		int done = 0;
		if (!CHECK_OK(lt_retention_step(r, store, &lim, now_ms, &done, c, &err), err))
			return 0;
		if (done)
			return steps;
	}
	CHECK(!"a pass never ended");
	return 0;
}

static const char *const ids[] = {
    "0190f3a2-0001-7000-8000-000000000001",
    "0190f3a2-0002-7000-8000-000000000002",
    "0190f3a2-0003-7000-8000-000000000003",
};
static const char *const recipients[] = {"RECV.A", "RECV.B"};

/* Sent documents: bodies go after all statuses are final and old, statuses later. */
static void test_sent(void)
{
	static uint8_t env[3][100], digest[32];
	struct lt_submit_doc docs[3];
	struct lt_retention r = {0};
	struct lt_retention_counts c = {0};
	lt_err err;
	store = fresh_store();
	if (store == NULL)
		return;
	for (int i = 0; i < 3; i++) {
		memset(env[i], 'a' + i, sizeof env[i]);
		docs[i] = (struct lt_submit_doc){.document_id = ids[i],
		                                 .envelope = env[i],
		                                 .len = sizeof env[i],
		                                 .digest = digest,
		                                 .recipients = recipients,
		                                 .n_recipients = 2,
		                                 .subject = "s"};
	}
	CHECK_OK(lt_submit(store, docs, 3, NOW, &err), err);
	/* 0: delivered to both at NOW; 1: one still sent; 2: final only at NOW + 10 days. */
	set_status(ids[0], "RECV.A", LIENTHONG__STORE__DOC_STATUS__DELIVERED, NOW);
	set_status(ids[0], "RECV.B", LIENTHONG__STORE__DOC_STATUS__REJECTED, NOW);
	set_status(ids[1], "RECV.A", LIENTHONG__STORE__DOC_STATUS__DELIVERED, NOW);
	set_status(ids[1], "RECV.B", LIENTHONG__STORE__DOC_STATUS__SENT, NOW);
	set_status(ids[2], "RECV.A", LIENTHONG__STORE__DOC_STATUS__FAILED, NOW);
	set_status(ids[2], "RECV.B", LIENTHONG__STORE__DOC_STATUS__DELIVERED, NOW + 10 * DAY);

	CHECK(full_pass(&r, NOW + DAY / 2, &c) > 0);
	CHECK(c.bodies == 0 && c.statuses == 0 && c.inbox == 0);
	CHECK(doc_present(ids[0]) == 1);

	CHECK(full_pass(&r, NOW + DAY, &c) > 0); /* exactly the retention: gone */
	CHECK(c.bodies == 1 && c.statuses == 0);
	CHECK(doc_present(ids[0]) == 0);
	CHECK(status_present(ids[0], "RECV.A") == 1); /* the record stays */
	CHECK(status_present(ids[0], "RECV.B") == 1);
	CHECK(doc_present(ids[1]) == 1); /* one recipient is not final */
	CHECK(doc_present(ids[2]) == 1); /* final only since NOW + 10 days */

	c = (struct lt_retention_counts){0};
	CHECK(full_pass(&r, NOW + 10 * DAY + DAY - 1, &c) > 0);
	CHECK(c.statuses == 4); /* every status final since NOW */
	CHECK(c.bodies == 0);
	CHECK(status_present(ids[0], "RECV.A") == 0);
	CHECK(status_present(ids[1], "RECV.A") == 0);
	CHECK(status_present(ids[1], "RECV.B") == 1); /* never final: kept for ever */
	CHECK(status_present(ids[2], "RECV.B") == 1);
	CHECK(doc_present(ids[1]) == 1);
	CHECK(doc_present(ids[2]) == 1);

	c = (struct lt_retention_counts){0};
	CHECK(full_pass(&r, NOW + 10 * DAY + DAY, &c) > 0);
	CHECK(c.bodies == 1);
	CHECK(doc_present(ids[2]) == 0);
	CHECK(doc_present(ids[1]) == 1);
	lt_store_close(store);
}

static int key_doc(const char *key, char id[LT_DOCID_LEN + 1])
{
	struct lt_txn *t = NULL;
	lt_err err;
	int v = -1;
	if (CHECK_OK(lt_txn_begin(store, 0, &t, &err), err)) {
		v = lt_batch_key_get(t, key, id, LT_DOCID_LEN + 1, &err);
		lt_txn_abort(t);
	}
	return v;
}

/*
 * Batch keys: a row's key is recorded with its document; a document whose key
 * is recorded (earlier, or earlier in the same batch) is skipped; the key goes
 * once the document's statuses are forgotten.
 */
static void test_batch_keys(void)
{
	static uint8_t env[3][50], digest[32];
	static const char *const keys[] = {"row-1", "row-1", "row-2"};
	struct lt_submit_doc docs[3];
	struct lt_retention r = {0};
	struct lt_retention_counts c = {0};
	char id[LT_DOCID_LEN + 1];
	lt_err err;
	store = fresh_store();
	if (store == NULL)
		return;
	for (int i = 0; i < 3; i++) {
		memset(env[i], 'k' + i, sizeof env[i]);
		docs[i] = (struct lt_submit_doc){.document_id = ids[i],
		                                 .envelope = env[i],
		                                 .len = sizeof env[i],
		                                 .digest = digest,
		                                 .recipients = recipients,
		                                 .n_recipients = 2,
		                                 .subject = "s",
		                                 .batch_key = keys[i]};
	}
	CHECK_OK(lt_submit(store, docs, 3, NOW, &err), err);
	CHECK(doc_present(ids[0]) == 1);
	CHECK(doc_present(ids[1]) == 0); /* same key as ids[0]: skipped */
	CHECK(doc_present(ids[2]) == 1);
	CHECK(key_doc("row-1", id) == 1 && strcmp(id, ids[0]) == 0);
	CHECK(key_doc("row-2", id) == 1 && strcmp(id, ids[2]) == 0);
	CHECK(key_doc("row-3", id) == 0);
	CHECK_OK(lt_submit(store, &docs[1], 1, NOW, &err), err); /* a re-run: still skipped */
	CHECK(doc_present(ids[1]) == 0);
	docs[0].batch_key = "";
	CHECK(lt_submit(store, docs, 1, NOW, &err) == 0); /* same bytes, no key: accepted */
	static char long_key[LT_BATCH_KEY_MAX + 2];
	memset(long_key, 'x', LT_BATCH_KEY_MAX + 1);
	docs[1].batch_key = long_key;
	CHECK(lt_submit(store, &docs[1], 1, NOW, &err) == -1 && err.code == LT_EINVAL);
	CHECK(doc_present(ids[1]) == 0);

	set_status(ids[0], "RECV.A", LIENTHONG__STORE__DOC_STATUS__DELIVERED, NOW);
	set_status(ids[0], "RECV.B", LIENTHONG__STORE__DOC_STATUS__DELIVERED, NOW);
	set_status(ids[2], "RECV.A", LIENTHONG__STORE__DOC_STATUS__DELIVERED, NOW);
	CHECK(full_pass(&r, NOW + 2 * DAY, &c) > 0);
	CHECK(c.keys == 0); /* statuses still there */
	CHECK(full_pass(&r, NOW + 11 * DAY, &c) > 0);
	CHECK(c.keys == 1);
	CHECK(key_doc("row-1", id) == 0);
	CHECK(key_doc("row-2", id) == 1); /* ids[2] is still sent to RECV.B */
	lt_store_close(store);
}

/* Inbox records: forgotten after their retention, but not while pending. */
static void test_inbox(void)
{
	struct lt_retention r = {0};
	struct lt_retention_counts c = {0};
	store = fresh_store();
	if (store == NULL)
		return;
	put_inbox("delivered", LIENTHONG__STORE__INBOX_STATUS__INBOX_DELIVERED, NOW);
	put_inbox("pending", LIENTHONG__STORE__INBOX_STATUS__INBOX_PENDING, NOW);
	put_inbox("rejected", LIENTHONG__STORE__INBOX_STATUS__INBOX_REJECTED, NOW + 4 * DAY);
	CHECK(full_pass(&r, NOW + 5 * DAY - 1, &c) > 0);
	CHECK(c.inbox == 0);
	CHECK(full_pass(&r, NOW + 5 * DAY, &c) > 0);
	CHECK(c.inbox == 1);
	CHECK(present(LT_DB_INBOX, "delivered", 9) == 0);
	CHECK(present(LT_DB_INBOX, "pending", 7) == 1);
	CHECK(present(LT_DB_INBOX, "rejected", 8) == 1);
	CHECK(full_pass(&r, NOW + 100 * DAY, &c) > 0);
	CHECK(c.inbox == 2);
	CHECK(present(LT_DB_INBOX, "pending", 7) == 1);
	lt_store_close(store);
}

static void put_business(const char *key, int64_t at_ms)
{
	struct lt_txn *t = NULL;
	Lienthong__Store__BusinessRecord b = LIENTHONG__STORE__BUSINESS_RECORD__INIT;
	lt_err err;
	b.status = LIENTHONG__STORE__DOC_STATUS__PROCESSED;
	b.at_ms = at_ms;
	if (CHECK_OK(lt_txn_begin(store, 1, &t, &err), err)) {
		CHECK_OK(lt_txn_put_pb(t, LT_DB_BUSINESS, key, strlen(key), &b.base, &err), err);
		CHECK_OK(lt_txn_commit(t, &err), err);
	}
}

/*
 * A business record goes with its inbox record, once it did not change for
 * inbox_ms either; one whose inbox record stays (pending) is kept, and so is
 * a recent one without an inbox record (a recall that came first).
 */
static void test_business(void)
{
	struct lt_retention r = {0};
	struct lt_retention_counts c = {0};
	store = fresh_store();
	if (store == NULL)
		return;
	put_inbox("delivered", LIENTHONG__STORE__INBOX_STATUS__INBOX_DELIVERED, NOW);
	put_business("delivered", NOW + 2 * DAY);
	put_inbox("pending", LIENTHONG__STORE__INBOX_STATUS__INBOX_PENDING, NOW);
	put_business("pending", NOW);
	put_business("recall-first", NOW + 6 * DAY);
	CHECK(full_pass(&r, NOW + 5 * DAY, &c) > 0);
	CHECK(c.inbox == 1 && c.business == 0); /* its business status changed later */
	CHECK(present(LT_DB_BUSINESS, "delivered", 9) == 1);
	CHECK(full_pass(&r, NOW + 7 * DAY, &c) > 0);
	CHECK(c.business == 1);
	CHECK(present(LT_DB_BUSINESS, "delivered", 9) == 0);
	CHECK(present(LT_DB_BUSINESS, "pending", 7) == 1);
	CHECK(present(LT_DB_BUSINESS, "recall-first", 12) == 1);
	CHECK(full_pass(&r, NOW + 11 * DAY, &c) > 0);
	CHECK(c.business == 2);
	CHECK(present(LT_DB_BUSINESS, "recall-first", 12) == 0);
	CHECK(present(LT_DB_BUSINESS, "pending", 7) == 1);
	lt_store_close(store);
}

/* Many records: each step deletes at most LT_RETENTION_DELETES, the pass resumes. */
static void test_bounded_steps(void)
{
	struct lt_retention r = {0};
	struct lt_retention_counts c = {0};
	struct lt_txn *t = NULL;
	Lienthong__Store__InboxRecord rec = LIENTHONG__STORE__INBOX_RECORD__INIT;
	lt_err err;
	char key[32];
	const int n = 2500;
	store = fresh_store();
	if (store == NULL || !CHECK_OK(lt_txn_begin(store, 1, &t, &err), err))
		return;
	rec.status = LIENTHONG__STORE__INBOX_STATUS__INBOX_DELIVERED;
	rec.at_ms = NOW;
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof key, "doc-%05d", i);
		CHECK_OK(lt_txn_put_pb(t, LT_DB_INBOX, key, strlen(key), &rec.base, &err), err);
	}
	CHECK_OK(lt_txn_commit(t, &err), err);
	int done = 0;
	CHECK_OK(lt_retention_step(&r, store, &lim, NOW + 6 * DAY, &done, &c, &err), err);
	CHECK(c.inbox == 0); /* first step walks the empty status database */
	int steps = full_pass(&r, NOW + 6 * DAY, &c);
	CHECK(c.inbox == (uint64_t)n);
	CHECK(steps >= n / LT_RETENTION_DELETES);
	uint64_t left = 1;
	if (CHECK_OK(lt_txn_begin(store, 0, &t, &err), err)) {
		CHECK_OK(lt_txn_count(t, LT_DB_INBOX, &left, &err), err);
		lt_txn_abort(t);
	}
	CHECK(left == 0);
	lt_store_close(store);
}

static void add_quarantined(size_t len, uint8_t fill)
{
	static uint8_t raw[5000];
	struct lt_txn *t = NULL;
	Lienthong__Store__QuarantineRecord q = LIENTHONG__STORE__QUARANTINE_RECORD__INIT;
	lt_err err;
	memset(raw, fill, len);
	q.at_ms = NOW;
	q.topic = (char *)"lienthong.inbox.X";
	q.reason = (char *)"junk";
	q.document_id = (char *)"";
	q.sender = (char *)"";
	q.raw.data = raw;
	q.raw.len = len;
	if (CHECK_OK(lt_txn_begin(store, 1, &t, &err), err)) {
		CHECK_OK(lt_quarantine_add(t, &q, &err), err);
		CHECK_OK(lt_txn_commit(t, &err), err);
	}
}

static Lienthong__Store__QuarantineRecord *get_quarantined(uint64_t seq)
{
	struct lt_txn *t = NULL;
	const void *val = NULL;
	size_t vlen = 0;
	uint8_t key[8];
	lt_err err;
	Lienthong__Store__QuarantineRecord *q = NULL;
	lt_seq_key(seq, key);
	if (!CHECK_OK(lt_txn_begin(store, 0, &t, &err), err))
		return NULL;
	CHECK_OK(lt_txn_get(t, LT_DB_QUARANTINE, key, sizeof key, &val, &vlen, &err), err);
	if (val != NULL)
		q = lienthong__store__quarantine_record__unpack(NULL, vlen, val);
	lt_txn_abort(t);
	return q;
}

static struct lt_quarantine_stats qstats(void)
{
	struct lt_txn *t = NULL;
	struct lt_quarantine_stats st = {0};
	lt_err err;
	if (CHECK_OK(lt_txn_begin(store, 0, &t, &err), err)) {
		CHECK_OK(lt_quarantine_stats(t, &st, &err), err);
		lt_txn_abort(t);
	}
	return st;
}

/* The quarantine: huge records truncated with length and digest; a ceiling, oldest first. */
static void test_quarantine_bounds(void)
{
	lt_err err;
	store = fresh_store();
	if (store == NULL)
		return;
	lt_store_set_quarantine_limits(store, 10000, 1000);
	add_quarantined(3000, 'x'); /* sequence 1 */
	Lienthong__Store__QuarantineRecord *q = get_quarantined(1);
	if (CHECK(q != NULL)) {
		uint8_t want[32], whole[3000];
		memset(whole, 'x', sizeof whole);
		EVP_Digest(whole, sizeof whole, want, NULL, EVP_sha256(), NULL);
		CHECK(q->raw.len == 1000);
		CHECK(q->raw_length == 3000);
		CHECK(q->raw_sha256.len == 32 && memcmp(q->raw_sha256.data, want, 32) == 0);
		CHECK(strcmp(q->reason, "junk") == 0);
		lienthong__store__quarantine_record__free_unpacked(q, NULL);
	}
	/* A truncated record cannot be released. */
	CHECK(lt_quarantine_release(store, 1, NOW, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "truncated");
	for (int i = 0; i < 30; i++)
		add_quarantined(900, (uint8_t)i); /* sequences 2..31 */
	struct lt_quarantine_stats st = qstats();
	CHECK(st.bytes <= 10000);
	CHECK(st.bytes > 10000 - 1100);
	CHECK(st.dropped > 0);
	CHECK(st.records + st.dropped == 31);
	q = get_quarantined(1); /* the oldest went first */
	CHECK(q == NULL);
	q = get_quarantined(31);
	CHECK(q != NULL && q->raw.len == 900 && q->raw_length == 900);
	if (q != NULL)
		lienthong__store__quarantine_record__free_unpacked(q, NULL);
	/* Release keeps the accounting: a whole record goes back to the outbox. */
	uint64_t before = st.bytes;
	CHECK_OK(lt_quarantine_release(store, 31, NOW, &err), err);
	st = qstats();
	CHECK(st.bytes < before);
	CHECK(get_quarantined(31) == NULL);
	lt_store_close(store);
}

int main(void)
{
	if (lt_tmpdir_new(tmp, sizeof tmp) != 0)
		return 1;
	LT_RUN(test_sent);
	LT_RUN(test_inbox);
	LT_RUN(test_business);
	LT_RUN(test_batch_keys);
	LT_RUN(test_bounded_steps);
	LT_RUN(test_quarantine_bounds);
	lt_tmpdir_remove(tmp);
	return lt_check_summary();
}
