/*
 * Unit tests of lt_index on a real LMDB store (no Kafka): the history that
 * lt_life_apply appends, the indexes and counters it keeps with each status
 * write (checked against the status records themselves after every step),
 * the queries, the subject words, and lt_status_forget.
 */
#include <stdlib.h>
#include <string.h>

#include "../../lifecycle/lt_lifecycle.h"
#include "../../store/lt_index.h"
#include "../../text/lt_text.h"
#include "lt_check.h"
#include "lt_testpki.h"

#define NOW 1767225600000LL

static char tmp[64];
static struct lt_store *store;
static const uint8_t digest[32] = {7};

static const char *const docs[4] = {
    "0190f3a2-0001-7000-8000-000000000000", "0190f3a2-0001-7000-8000-000000000001",
    "0190f3a2-0001-7000-8000-000000000002", "0190f3a2-0001-7000-8000-000000000003"};

static void test_words(void)
{
	const char *s = "Quyết định số 12/QĐ-UBND: Về việc ĐẦU TƯ\x01x\xff"
	                "y Ơn ƯU";
	const char *want[] = {"quyết", "định", "số", "12", "qđ", "ubnd", "về",
	                      "việc",  "đầu",  "tư", "x",  "y",  "ơn",   "ưu"};
	char w[LT_INDEX_WORD_MAX + 1];
	size_t pos = 0, n = 0;
	while (lt_index_next_word(s, &pos, w)) {
		if (n < sizeof want / sizeof want[0])
			CHECK(strcmp(w, want[n]) == 0);
		n++;
	}
	CHECK(n == sizeof want / sizeof want[0]);
	pos = 0;
	CHECK(lt_index_next_word("  ,;: -- ", &pos, w) == 0);
	/* A long word is cut at LT_INDEX_WORD_MAX bytes, never inside a character. */
	char longw[300] = "";
	for (int i = 0; i < 40; i++)
		strcat(longw, "đ");
	pos = 0;
	CHECK(lt_index_next_word(longw, &pos, w) == 1);
	CHECK(strlen(w) == 64 && lt_text_utf8_valid(w, strlen(w)));
	CHECK(lt_index_next_word(longw, &pos, w) == 0);
}

static int apply(const char *doc, const char *rcpt, const struct lt_life_change *ch)
{
	struct lt_txn *t = NULL;
	lt_err err;
	if (!CHECK_OK(lt_txn_begin(store, 1, &t, &err), err))
		return -1;
	int v = lt_life_apply(t, doc, rcpt, ch, &err);
	if (v < 0) {
		lt_check(0, __FILE__, __LINE__, "lt_life_apply", err.msg);
		lt_txn_abort(t);
		return -1;
	}
	CHECK_OK(lt_txn_commit(t, &err), err);
	return v;
}

static int submit(const char *doc, const char *rcpt, const char *subject, int64_t at)
{
	struct lt_life_change ch = {
	    .event = LT_LIFE_SUBMITTED, .at_ms = at, .digest = digest, .subject = subject};
	return apply(doc, rcpt, &ch);
}

static int event(const char *doc, const char *rcpt, enum lt_life_event ev, int64_t at,
                 const char *reason)
{
	struct lt_life_change ch = {.event = ev,
	                            .at_ms = at,
	                            .digest = digest,
	                            .reason = reason,
	                            .partition = 2,
	                            .offset = 40 + (int64_t)(at % 7)};
	return apply(doc, rcpt, &ch);
}

/* ---- consistency: the index and counters say exactly what the records say ---- */

/* A record expected under a word of its subject: "doc/recipient". */
struct word_hit {
	char word[LT_INDEX_WORD_MAX + 1];
	char rec[160];
};

struct expect {
	uint64_t records, words;
	uint64_t per_status[64];
	struct lt_txn *t;
	int bad;
	struct word_hit *hits; /* checked once per word (check_words), not once per record */
	size_t n_hits, cap_hits;
};

struct found {
	const char *doc, *rcpt;
	int seen;
};

static int find_cb(void *ctx, const char *doc_id, const char *recipient,
                   const Lienthong__Store__StatusRecord *rec, lt_err *err)
{
	struct found *f = ctx;
	(void)rec;
	(void)err;
	if (strcmp(doc_id, f->doc) == 0 && strcmp(recipient, f->rcpt) == 0)
		f->seen++;
	return 0;
}

/* Every record can be found through each index that should hold it. */
static int record_cb(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                     lt_err *err)
{
	struct expect *e = ctx;
	char doc[64], rcpt[64];
	const char *nul = memchr(key, 0, klen);
	size_t ld = (size_t)(nul - (const char *)key);
	memcpy(doc, key, ld);
	doc[ld] = '\0';
	memcpy(rcpt, nul + 1, klen - ld - 1);
	rcpt[klen - ld - 1] = '\0';
	Lienthong__Store__StatusRecord *r =
	    lienthong__store__status_record__unpack(NULL, vlen, val);
	if (r == NULL)
		return lt_err_set(err, LT_EIO, "bad record");
	e->records++;
	e->per_status[r->status]++;
	int64_t at = lt_index_time(r);
	struct lt_index_query qs[] = {
	    {.statuses = 1ULL << r->status, .since_ms = at, .until_ms = at + 1},
	    {.recipient = rcpt, .since_ms = at, .until_ms = at + 1},
	    {.since_ms = at, .until_ms = at + 1},
	};
	for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
		struct found f = {.doc = doc, .rcpt = rcpt};
		if (lt_index_query(e->t, &qs[i], find_cb, &f, err) != 0)
			return -1;
		if (f.seen != 1)
			e->bad++;
	}
	char w[LT_INDEX_WORD_MAX + 1], seen[16][LT_INDEX_WORD_MAX + 1];
	size_t pos = 0, n = 0;
	while (lt_index_next_word(r->subject, &pos, w)) {
		size_t j = 0;
		while (j < n && strcmp(seen[j], w) != 0)
			j++;
		if (j < n || n == 16)
			continue;
		strcpy(seen[n++], w);
		e->words++;
		if (e->n_hits == e->cap_hits) {
			size_t cap = e->cap_hits ? 2 * e->cap_hits : 256;
			struct word_hit *h = realloc(e->hits, cap * sizeof *h);
			if (h == NULL)
				return lt_err_set(err, LT_EIO, "out of memory");
			e->hits = h;
			e->cap_hits = cap;
		}
		struct word_hit *h = &e->hits[e->n_hits++];
		snprintf(h->word, sizeof h->word, "%s", w);
		snprintf(h->rec, sizeof h->rec, "%s/%s", doc, rcpt);
	}
	lienthong__store__status_record__free_unpacked(r, NULL);
	return 0;
}

static int hit_cmp(const void *a, const void *b)
{
	const struct word_hit *x = a, *y = b;
	int c = strcmp(x->word, y->word);
	return c != 0 ? c : strcmp(x->rec, y->rec);
}

static int rec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct word_hit *)a)->rec, ((const struct word_hit *)b)->rec);
}

/* What one word's query found, as "doc/recipient". */
struct word_found {
	struct word_hit *recs;
	size_t n, cap;
};

static int word_cb(void *ctx, const char *doc_id, const char *recipient,
                   const Lienthong__Store__StatusRecord *rec, lt_err *err)
{
	struct word_found *f = ctx;
	(void)rec;
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 256;
		struct word_hit *r = realloc(f->recs, cap * sizeof *r);
		if (r == NULL)
			return lt_err_set(err, LT_EIO, "out of memory");
		f->recs = r;
		f->cap = cap;
	}
	snprintf(f->recs[f->n++].rec, sizeof f->recs[0].rec, "%s/%s", doc_id, recipient);
	return 0;
}

/*
 * Every record is found exactly once through each word of its subject: one
 * query per distinct word, its results sorted and looked up (a query per
 * record and word would cost records x records).
 */
static void check_words(struct expect *e)
{
	lt_err err;
	qsort(e->hits, e->n_hits, sizeof *e->hits, hit_cmp);
	for (size_t i = 0; i < e->n_hits;) {
		size_t j = i;
		while (j < e->n_hits && strcmp(e->hits[j].word, e->hits[i].word) == 0)
			j++;
		struct word_found f = {0};
		struct lt_index_query q = {.word = e->hits[i].word};
		if (!CHECK_OK(lt_index_query(e->t, &q, word_cb, &f, &err), err)) {
			free(f.recs);
			return;
		}
		qsort(f.recs, f.n, sizeof *f.recs, rec_cmp);
		for (size_t k = i; k < j; k++) {
			struct word_hit *at =
			    bsearch(&e->hits[k], f.recs, f.n, sizeof *f.recs, rec_cmp);
			int once = at != NULL && (at == f.recs || rec_cmp(at - 1, at) != 0) &&
			           (at + 1 == f.recs + f.n || rec_cmp(at + 1, at) != 0);
			e->bad += !once;
		}
		free(f.recs);
		i = j;
	}
}

struct kinds {
	uint64_t n[256];
};

static int kind_cb(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                   lt_err *err)
{
	struct kinds *k = ctx;
	(void)klen;
	(void)val;
	(void)vlen;
	(void)err;
	k->n[((const uint8_t *)key)[0]]++;
	return 0;
}

struct counted {
	uint64_t per_status[64], per_rcpt_total, n_rcpt_rows;
};

static int count_cb(void *ctx, const char *recipient, Lienthong__Store__DocStatus status,
                    uint64_t count, lt_err *err)
{
	struct counted *c = ctx;
	(void)err;
	if (recipient == NULL)
		c->per_status[status] += count;
	else {
		c->per_rcpt_total += count;
		c->n_rcpt_rows++;
	}
	return 0;
}

/* The index and counters agree with the status records; returns the number of records. */
static uint64_t consistent(const char *when)
{
	struct expect e = {.records = 0};
	struct kinds k = {.n = {0}};
	struct counted c = {.per_rcpt_total = 0};
	lt_err err;
	if (!CHECK_OK(lt_txn_begin(store, 0, &e.t, &err), err))
		return 0;
	CHECK_OK(lt_txn_scan(e.t, LT_DB_STATUS, NULL, 0, record_cb, &e, &err), err);
	check_words(&e);
	free(e.hits);
	CHECK_OK(lt_txn_scan(e.t, LT_DB_INDEX, NULL, 0, kind_cb, &k, &err), err);
	CHECK_OK(lt_index_counts(e.t, count_cb, &c, &err), err);
	lt_txn_abort(e.t);
	char what[200];
	snprintf(what, sizeof what, "%s: each record found through its indexes", when);
	lt_check(e.bad == 0, __FILE__, __LINE__, what, NULL);
	snprintf(what, sizeof what, "%s: one entry per record in each index", when);
	lt_check(k.n['s'] == e.records && k.n['r'] == e.records && k.n['t'] == e.records, __FILE__,
	         __LINE__, what, NULL);
	snprintf(what, sizeof what, "%s: one word entry per distinct word", when);
	lt_check(k.n['w'] == e.words, __FILE__, __LINE__, what, NULL);
	snprintf(what, sizeof what, "%s: counters per status and recipient", when);
	lt_check(memcmp(c.per_status, e.per_status, sizeof c.per_status) == 0 &&
	             c.per_rcpt_total == e.records,
	         __FILE__, __LINE__, what, NULL);
	return e.records;
}

/* ---- history ---- */

struct events {
	char line[16][160];
	size_t n;
};

static int event_cb(void *ctx, const char *recipient, const Lienthong__Store__HistoryEvent *ev,
                    lt_err *err)
{
	struct events *e = ctx;
	(void)err;
	if (e->n < 16)
		snprintf(e->line[e->n], sizeof e->line[0], "%s %lld %s %s %d %d/%lld %s %s [%s]",
		         recipient, (long long)(ev->at_ms - NOW), ev->event,
		         lt_status_name(ev->status), ev->moved, (int)ev->partition,
		         (long long)ev->offset, ev->who, ev->business_code, ev->reason);
	e->n++;
	return 0;
}

static struct events history(const char *doc, const char *rcpt)
{
	struct events e = {.n = 0};
	struct lt_txn *t = NULL;
	lt_err err;
	if (CHECK_OK(lt_txn_begin(store, 0, &t, &err), err)) {
		CHECK_OK(lt_history_list(t, doc, rcpt, event_cb, &e, &err), err);
		lt_txn_abort(t);
	}
	return e;
}

static void test_history(void)
{
	const char *d = docs[0];
	CHECK(submit(d, "HIST.B", "subject", NOW) == LT_LIFE_MOVED);
	CHECK(event(d, "HIST.B", LT_LIFE_KAFKA_WAIT, NOW + 1, "waiting: down") == LT_LIFE_KEPT);
	/* The same wait again: an attempt counted, no new event. */
	CHECK(event(d, "HIST.B", LT_LIFE_KAFKA_WAIT, NOW + 2, "waiting: down") == LT_LIFE_KEPT);
	CHECK(event(d, "HIST.B", LT_LIFE_KAFKA_ACK, NOW + 3, NULL) == LT_LIFE_MOVED);
	struct lt_life_change ch = {.event = LT_LIFE_DELIVERED,
	                            .at_ms = NOW + 10,
	                            .digest = digest,
	                            .reason = "ok",
	                            .who = "Văn thư",
	                            .business_code = "01"};
	CHECK(apply(d, "HIST.B", &ch) == LT_LIFE_MOVED);
	/* Refused (a verdict after delivered) and a repeat: nothing recorded. */
	CHECK(event(d, "HIST.B", LT_LIFE_REJECTED, NOW + 11, "late") == LT_LIFE_REFUSED);
	CHECK(event(d, "HIST.B", LT_LIFE_DELIVERED, NOW + 12, NULL) == LT_LIFE_KEPT);
	/* A receipt about other bytes: nothing recorded. */
	static const uint8_t other[32] = {9};
	struct lt_life_change forged = {
	    .event = LT_LIFE_FAILED, .at_ms = NOW + 13, .digest = other, .reason = "x"};
	CHECK(apply(d, "HIST.B", &forged) == LT_LIFE_OTHER_CONTENT);
	CHECK(submit(d, "HIST.C", "subject", NOW + 20) == LT_LIFE_MOVED);

	struct events e = history(d, "HIST.B");
	if (CHECK(e.n == 4)) {
		CHECK(strcmp(e.line[0], "HIST.B 0 submitted queued 1 -1/-1   []") == 0);
		CHECK(strcmp(e.line[1], "HIST.B 1 kafka-wait queued 0 -1/-1   [waiting: down]") ==
		      0);
		CHECK(strcmp(e.line[2], "HIST.B 3 kafka-ack sent 1 2/43   []") == 0);
		CHECK(strcmp(e.line[3], "HIST.B 10 delivered delivered 1 -1/-1 Văn thư 01 [ok]") ==
		      0);
	}
	/* Every recipient's, by recipient. */
	e = history(d, NULL);
	CHECK(e.n == 5 && strncmp(e.line[4], "HIST.C 20 submitted", 19) == 0);
	consistent("after the history steps");
}

/* ---- queries ---- */

struct listed {
	char ids[32][80];
	size_t n;
};

static int list_cb(void *ctx, const char *doc_id, const char *recipient,
                   const Lienthong__Store__StatusRecord *rec, lt_err *err)
{
	struct listed *l = ctx;
	(void)rec;
	(void)err;
	if (l->n < 32)
		snprintf(l->ids[l->n], sizeof l->ids[0], "%c%s", doc_id[35], recipient);
	l->n++;
	return 0;
}

/* The rows of q as "<last digit of the id><recipient>" joined by spaces. */
static const char *query(struct lt_index_query q)
{
	static char out[1024];
	struct listed l = {.n = 0};
	struct lt_txn *t = NULL;
	lt_err err;
	out[0] = '\0';
	if (!CHECK_OK(lt_txn_begin(store, 0, &t, &err), err))
		return out;
	if (lt_index_query(t, &q, list_cb, &l, &err) != 0)
		snprintf(out, sizeof out, "error: %s", err.msg);
	lt_txn_abort(t);
	for (size_t i = 0; i < l.n && i < 32; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, l.ids[i]);
	}
	return out;
}

#define Q(...) query((struct lt_index_query){__VA_ARGS__})
#define BIT(s) (1ULL << LIENTHONG__STORE__DOC_STATUS__##s)

static void test_queries(void)
{
	/* docs[1..3] for Q.X and Q.Y, at increasing times, through their lives. */
	CHECK(submit(docs[1], "Q.X", "Quyết định về ngân sách", NOW + 100) == LT_LIFE_MOVED);
	CHECK(submit(docs[1], "Q.Y", "Quyết định về ngân sách", NOW + 100) == LT_LIFE_MOVED);
	CHECK(submit(docs[2], "Q.X", "Báo cáo NGÂN SÁCH quý", NOW + 200) == LT_LIFE_MOVED);
	CHECK(submit(docs[3], "Q.Y", "Công văn", NOW + 300) == LT_LIFE_MOVED);
	consistent("after submissions");
	CHECK(event(docs[1], "Q.X", LT_LIFE_KAFKA_ACK, NOW + 400, NULL) == LT_LIFE_MOVED);
	CHECK(event(docs[1], "Q.X", LT_LIFE_DELIVERED, NOW + 500, NULL) == LT_LIFE_MOVED);
	CHECK(event(docs[2], "Q.X", LT_LIFE_KAFKA_ACK, NOW + 450, NULL) == LT_LIFE_MOVED);
	CHECK(event(docs[2], "Q.X", LT_LIFE_REJECTED, NOW + 600, "bad") == LT_LIFE_MOVED);
	CHECK(event(docs[3], "Q.Y", LT_LIFE_KAFKA_WAIT, NOW + 350, "down") == LT_LIFE_KEPT);
	/* A rejected document delivered after all: it moves in every index. */
	CHECK(event(docs[2], "Q.X", LT_LIFE_DELIVERED, NOW + 700, NULL) == LT_LIFE_MOVED);
	consistent("after updates");

	CHECK(strcmp(Q(.recipient = "Q.X"), "1Q.X 2Q.X") == 0);
	CHECK(strcmp(Q(.recipient = "Q.Y"), "1Q.Y 3Q.Y") == 0); /* by time: 100, 300 */
	/* A wait for Kafka keeps the status: queued since 300, though updated at 350. */
	CHECK(strcmp(Q(.statuses = BIT(QUEUED), .since_ms = NOW + 300, .until_ms = NOW + 301),
	             "3Q.Y") == 0);
	CHECK(strcmp(Q(.recipient = "Q.Z"), "") == 0);
	CHECK(strcmp(Q(.statuses = BIT(DELIVERED)), "0HIST.B 1Q.X 2Q.X") == 0);
	CHECK(strcmp(Q(.statuses = BIT(QUEUED)), "0HIST.C 1Q.Y 3Q.Y") == 0);
	CHECK(strcmp(Q(.statuses = BIT(REJECTED)), "") == 0);
	CHECK(strcmp(Q(.statuses = BIT(QUEUED) | BIT(DELIVERED), .recipient = "Q.Y"),
	             "1Q.Y 3Q.Y") == 0);
	CHECK(strcmp(Q(.since_ms = NOW + 300, .until_ms = NOW + 600), "3Q.Y 1Q.X") == 0);
	CHECK(strcmp(Q(.since_ms = NOW + 600), "2Q.X") == 0);
	CHECK(strcmp(Q(.until_ms = NOW + 101, .statuses = BIT(QUEUED)), "0HIST.C 1Q.Y") == 0);
	CHECK(strcmp(Q(.recipient = "Q.X", .since_ms = NOW + 501), "2Q.X") == 0);
	/* Words: whole words, any case; several words all wanted. */
	CHECK(strcmp(Q(.word = "ngân"), "1Q.X 1Q.Y 2Q.X") == 0);
	CHECK(strcmp(Q(.word = "NGÂN sách"), "1Q.X 1Q.Y 2Q.X") == 0);
	CHECK(strcmp(Q(.word = "ngân quý"), "2Q.X") == 0);
	CHECK(strcmp(Q(.word = "ngâ"), "") == 0);
	CHECK(strcmp(Q(.word = "ngân", .recipient = "Q.Y"), "1Q.Y") == 0);
	CHECK(strcmp(Q(.word = "ngân", .statuses = BIT(DELIVERED)), "1Q.X 2Q.X") == 0);
	CHECK_STR_CONTAINS(Q(.word = " -- "), "no word");
	CHECK(strcmp(Q(.doc_id = docs[1]), "1Q.X 1Q.Y") == 0);
	CHECK(strcmp(Q(.doc_id = docs[1], .recipient = "Q.Y"), "1Q.Y") == 0);
}

static void test_forget(void)
{
	uint64_t before = consistent("before forgetting");
	struct lt_txn *t = NULL;
	lt_err err;
	if (!CHECK_OK(lt_txn_begin(store, 1, &t, &err), err))
		return;
	CHECK_OK(lt_status_forget(t, docs[1], "Q.X", &err), err);
	CHECK_OK(lt_status_forget(t, docs[1], "ABSENT", &err), err);
	CHECK_OK(lt_txn_commit(t, &err), err);
	CHECK(consistent("after forgetting one recipient") == before - 1);
	CHECK(history(docs[1], "Q.X").n == 0);
	CHECK(history(docs[1], "Q.Y").n == 1);
	CHECK(strcmp(Q(.word = "ngân"), "1Q.Y 2Q.X") == 0);
	CHECK(strcmp(Q(.statuses = BIT(DELIVERED)), "0HIST.B 2Q.X") == 0);

	/* Every recipient of a document. */
	if (!CHECK_OK(lt_txn_begin(store, 1, &t, &err), err))
		return;
	CHECK_OK(lt_status_forget(t, docs[0], NULL, &err), err);
	CHECK_OK(lt_txn_commit(t, &err), err);
	CHECK(consistent("after forgetting a document") == before - 3);
	CHECK(history(docs[0], NULL).n == 0);
	CHECK(strcmp(Q(.doc_id = docs[0]), "") == 0);

	/* Everything: nothing left in the index, the history or the counters. */
	if (!CHECK_OK(lt_txn_begin(store, 1, &t, &err), err))
		return;
	for (int i = 0; i < 4; i++)
		CHECK_OK(lt_status_forget(t, docs[i], NULL, &err), err);
	uint64_t n_index = 1, n_history = 1, n_status = 1;
	CHECK_OK(lt_txn_count(t, LT_DB_INDEX, &n_index, &err), err);
	CHECK_OK(lt_txn_count(t, LT_DB_HISTORY, &n_history, &err), err);
	CHECK_OK(lt_txn_count(t, LT_DB_STATUS, &n_status, &err), err);
	CHECK(n_index == 0 && n_history == 0 && n_status == 0);
	lt_txn_abort(t);
}

/* A store of an earlier version: records without indexes, then the upgrade. */
static void test_upgrade(void)
{
	char dir[PATH_MAX], id[64];
	lt_err err;
	snprintf(dir, sizeof dir, "%s/old", tmp);
	if (!CHECK_OK(lt_store_open(&store, dir, 64 << 20, &err), err))
		return;
	struct lt_txn *t = NULL;
	if (!CHECK_OK(lt_txn_begin(store, 1, &t, &err), err))
		return;
	for (int i = 0; i < 5003; i++) { /* more than one batch */
		Lienthong__Store__StatusRecord r = LIENTHONG__STORE__STATUS_RECORD__INIT;
		r.status = i % 3 ? LIENTHONG__STORE__DOC_STATUS__DELIVERED
		                 : LIENTHONG__STORE__DOC_STATUS__SENT;
		r.updated_at_ms = r.queued_at_ms = NOW + i;
		r.reason = "";
		r.subject = i % 2 ? "Báo cáo" : "Tờ trình";
		snprintf(id, sizeof id, "0190f3a2-0001-7000-8000-%012d", i);
		if (!CHECK_OK(lt_status_put(t, id, i % 5 ? "OLD.X" : "OLD.Y", &r, &err), err))
			break;
	}
	CHECK_OK(lt_txn_commit(t, &err), err);
	/* One written by this version before the agent's first start: indexed once. */
	CHECK(submit("0190f3a2-0001-7000-8000-999999999999", "OLD.Y", "Báo cáo", NOW) ==
	      LT_LIFE_MOVED);
	CHECK_OK(lt_index_upgrade(store, &err), err);
	CHECK(consistent("after the upgrade") == 5004);
	CHECK(strcmp(Q(.recipient = "OLD.Y", .word = "tờ", .since_ms = NOW + 4991), "0OLD.Y") ==
	      0); /* i = 5000 */
	CHECK_OK(lt_index_upgrade(store, &err), err);
	CHECK(consistent("after a second upgrade") == 5004);
	lt_store_close(store);
	store = NULL;
}

int main(void)
{
	lt_err err;
	if (lt_tmpdir_new(tmp, sizeof tmp) != 0)
		return 1;
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/data", tmp);
	LT_RUN(test_words);
	if (CHECK_OK(lt_store_open(&store, dir, 16 << 20, &err), err)) {
		LT_RUN(test_history);
		LT_RUN(test_queries);
		LT_RUN(test_forget);
		lt_store_close(store);
	}
	LT_RUN(test_upgrade);
	lt_tmpdir_remove(tmp);
	return lt_check_summary();
}
