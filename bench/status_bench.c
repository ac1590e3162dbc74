/*
 * status_bench: do lienthong-status's queries answer in under a second over
 * 1,000,000 recorded documents?
 *
 *   status_bench DIR [DOCUMENTS]
 *
 * Fills a new store in DIR with DOCUMENTS documents (default 1,000,000), one
 * recipient each among 8, last changes spread over 30 days, subjects of 5
 * words from a vocabulary of 200, through the real write path (lt_life_apply:
 * status, indexes, counters and history) in transactions of 10,000 documents:
 * each submitted, most acknowledged by Kafka, most of those answered by a
 * receipt (delivered, rejected, failed, deferred). Then times each query kind
 * as lienthong-status runs it (lt_index_query, lt_history_list,
 * lt_index_counts: every matching record read and decoded) and prints the
 * time and the number of rows. Figures are printed, never asserted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lifecycle/lt_lifecycle.h"
#include "../proto/lt_envelope.h"
#include "../store/lt_index.h"

#define BENCH_TXN_DOCS 10000
#define BENCH_RECIPIENTS 8
#define BENCH_WORDS 200
#define BENCH_DAY_MS (24LL * 3600 * 1000)

static double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A small deterministic generator: the same store for every run. */
static uint64_t bench_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static const char *const bench_stems[20] = {"quyết", "định",  "công", "văn",  "báo",  "cáo",   "kế",
                                            "hoạch", "thông", "tư",   "nghị", "tờ",   "trình", "dự",
                                            "toán",  "ngân",  "sách", "đầu",  "giao", "chỉ"};

static void bench_word(unsigned w, char *out, size_t size)
{
	snprintf(out, size, "%s%u", bench_stems[w % 20], w / 20);
}

struct bench_count {
	uint64_t rows;
};

static int bench_row(void *ctx, const char *doc_id, const char *recipient,
                     const Lienthong__Store__StatusRecord *rec, lt_err *err)
{
	struct bench_count *c = ctx;
	(void)doc_id;
	(void)recipient;
	(void)rec;
	(void)err;
	c->rows++;
	return 0;
}

static int bench_event(void *ctx, const char *recipient, const Lienthong__Store__HistoryEvent *ev,
                       lt_err *err)
{
	struct bench_count *c = ctx;
	(void)recipient;
	(void)ev;
	(void)err;
	c->rows++;
	return 0;
}

static int bench_counter(void *ctx, const char *recipient, Lienthong__Store__DocStatus status,
                         uint64_t count, lt_err *err)
{
	struct bench_count *c = ctx;
	(void)recipient;
	(void)status;
	(void)count;
	(void)err;
	c->rows++;
	return 0;
}

static int bench_apply(struct lt_txn *t, const char *id, const char *rcpt,
                       const struct lt_life_change *ch, lt_err *err)
{
	int v = lt_life_apply(t, id, rcpt, ch, err);
	if (v < 0)
		return -1;
	if (v != LT_LIFE_MOVED && v != LT_LIFE_KEPT)
		return lt_err_set(err, LT_EINVAL, "%s on %s: %s", lt_life_event_name(ch->event), id,
		                  lt_life_verdict_name((enum lt_life_verdict)v));
	return 0;
}

/* One document: submitted, then as far along its life as the dice say. */
static int bench_document(struct lt_txn *t, uint64_t *rnd, int64_t at, char *id, lt_err *err)
{
	static const uint8_t digest[LT_DIGEST_LEN] = {1};
	char rcpt[16], subject[256], w[5][32];
	snprintf(rcpt, sizeof rcpt, "BENCH.R%d", (int)(bench_rand(rnd) % BENCH_RECIPIENTS));
	for (int i = 0; i < 5; i++)
		bench_word((unsigned)(bench_rand(rnd) % BENCH_WORDS), w[i], sizeof w[i]);
	snprintf(subject, sizeof subject, "%s %s: %s, %s (%s)", w[0], w[1], w[2], w[3], w[4]);
	if (lt_docid_new(id, err) != 0)
		return -1;
	struct lt_life_change ch = {
	    .event = LT_LIFE_SUBMITTED, .at_ms = at, .digest = digest, .subject = subject};
	if (bench_apply(t, id, rcpt, &ch, err) != 0)
		return -1;
	unsigned fate = (unsigned)(bench_rand(rnd) % 100);
	if (fate < 5) /* 5% still queued */
		return 0;
	ch = (struct lt_life_change){.event = LT_LIFE_KAFKA_ACK,
	                             .at_ms = at + 50,
	                             .partition = (int32_t)(fate % 3),
	                             .offset = (int64_t)(bench_rand(rnd) % 1000000)};
	if (bench_apply(t, id, rcpt, &ch, err) != 0)
		return -1;
	if (fate < 20) /* 15% sent */
		return 0;
	static const enum lt_life_event verdicts[] = {LT_LIFE_REJECTED, LT_LIFE_FAILED,
	                                              LT_LIFE_DEFERRED};
	ch = (struct lt_life_change){.event =
	                                 fate < 35 ? verdicts[(fate - 20) / 5] : LT_LIFE_DELIVERED,
	                             .at_ms = at + 2000,
	                             .digest = digest,
	                             .reason = fate < 35 ? "the recipient's reason" : NULL,
	                             .who = fate >= 35 ? "văn thư" : NULL};
	return bench_apply(t, id, rcpt, &ch, err);
}

static int bench_fill(struct lt_store *store, long docs, int64_t t0, char *some_id, lt_err *err)
{
	uint64_t rnd = 0x9E3779B97F4A7C15ULL;
	int64_t step = 30 * BENCH_DAY_MS / (docs > 0 ? docs : 1);
	char id[LT_DOCID_LEN + 1];
	for (long i = 0; i < docs; i += BENCH_TXN_DOCS) {
		struct lt_txn *t = NULL;
		if (lt_txn_begin(store, 1, &t, err) != 0)
			return -1;
		for (long j = i; j < i + BENCH_TXN_DOCS && j < docs; j++) {
			if (bench_document(t, &rnd, t0 + j * step, id, err) != 0) {
				lt_txn_abort(t);
				return -1;
			}
			if (j == docs / 2)
				memcpy(some_id, id, sizeof id);
		}
		if (lt_txn_commit(t, err) != 0)
			return -1;
	}
	return 0;
}

static int bench_query(struct lt_store *store, const char *what, const struct lt_index_query *q,
                       lt_err *err)
{
	struct lt_txn *t = NULL;
	struct bench_count c = {0};
	double a = bench_now();
	if (lt_txn_begin(store, 0, &t, err) != 0)
		return -1;
	int rc = lt_index_query(t, q, bench_row, &c, err);
	lt_txn_abort(t);
	if (rc != 0)
		return -1;
	printf("%-44s %9.3f s  %8llu rows\n", what, bench_now() - a, (unsigned long long)c.rows);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: status_bench DIR [DOCUMENTS]\n");
		return 2;
	}
	long docs = argc > 2 ? strtol(argv[2], NULL, 10) : 1000000;
	if (docs < 1 || docs > 100000000) {
		fprintf(stderr, "status_bench: DOCUMENTS must be 1 to 100000000\n");
		return 2;
	}
	struct lt_store *store = NULL;
	lt_err err;
	int64_t now = (int64_t)time(NULL) * 1000, t0 = now - 30 * BENCH_DAY_MS;
	char some_id[LT_DOCID_LEN + 1] = "";
	if (lt_store_open(&store, argv[1], (int64_t)16 << 30, &err) != 0)
		goto fail;
	double a = bench_now();
	if (bench_fill(store, docs, t0, some_id, &err) != 0)
		goto fail;
	printf("filled %ld documents (status, indexes, history) in %.1f s\n", docs,
	       bench_now() - a);

	char word[32];
	bench_word(7, word, sizeof word);
	struct bench_q {
		const char *what;
		struct lt_index_query q;
	} qs[] = {
	    {"one document (its status records)", {.doc_id = some_id}},
	    {"list --status failed", {.statuses = 1u << LIENTHONG__STORE__DOC_STATUS__FAILED}},
	    {"list --status queued", {.statuses = 1u << LIENTHONG__STORE__DOC_STATUS__QUEUED}},
	    {"list --recipient BENCH.R3", {.recipient = "BENCH.R3"}},
	    {"list --recipient BENCH.R3 --since 1 day",
	     {.recipient = "BENCH.R3", .since_ms = now - BENCH_DAY_MS}},
	    {"list --since 2 days --until 1 day",
	     {.since_ms = now - 2 * BENCH_DAY_MS, .until_ms = now - BENCH_DAY_MS}},
	    {"list --subject WORD", {.word = word}},
	    {"list --subject WORD --status delivered",
	     {.word = word, .statuses = 1u << LIENTHONG__STORE__DOC_STATUS__DELIVERED}},
	    {"--stuck 7d (queued or sent, older)",
	     {.statuses = (1u << LIENTHONG__STORE__DOC_STATUS__QUEUED) |
	                  (1u << LIENTHONG__STORE__DOC_STATUS__SENT),
	      .until_ms = now - 7 * BENCH_DAY_MS}},
	};
	printf("%-44s %11s  %13s\n", "query", "time", "result");
	struct lt_txn *t = NULL;
	struct bench_count c = {0};
	a = bench_now();
	if (lt_txn_begin(store, 0, &t, &err) != 0 ||
	    lt_history_list(t, some_id, NULL, bench_event, &c, &err) != 0)
		goto fail;
	lt_txn_abort(t);
	t = NULL;
	printf("%-44s %9.3f s  %8llu rows\n", "--history ID", bench_now() - a,
	       (unsigned long long)c.rows);
	for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
		if (bench_query(store, qs[i].what, &qs[i].q, &err) != 0)
			goto fail;
	c.rows = 0;
	a = bench_now();
	if (lt_txn_begin(store, 0, &t, &err) != 0 ||
	    lt_index_counts(t, bench_counter, &c, &err) != 0)
		goto fail;
	lt_txn_abort(t);
	t = NULL;
	printf("%-44s %9.3f s  %8llu rows\n", "--summary counts (per status, recipient)",
	       bench_now() - a, (unsigned long long)c.rows);
	lt_store_close(store);
	return 0;
fail:
	lt_txn_abort(t);
	fprintf(stderr, "status_bench: %s\n", err.msg);
	lt_store_close(store);
	return 1;
}
