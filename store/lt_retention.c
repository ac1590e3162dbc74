#include "lt_retention.h"

#include <stdlib.h>
#include <string.h>

#include "../config/lt_config.h"
#include "../log/lt_log.h"
#include "../producers/lt_spool.h"
#include "../proto/lt_envelope.h"
#include "lt_index.h"

enum {
	LT_RETENTION_STATUS,
	LT_RETENTION_DOCS,
	LT_RETENTION_INBOX,
	LT_RETENTION_BUSINESS,
	LT_RETENTION_KEYS,
	LT_RETENTION_PHASES
};

static const enum lt_db lt_retention_dbs[LT_RETENTION_PHASES] = {
    [LT_RETENTION_STATUS] = LT_DB_STATUS, [LT_RETENTION_DOCS] = LT_DB_DOCS,
    [LT_RETENTION_INBOX] = LT_DB_INBOX,   [LT_RETENTION_BUSINESS] = LT_DB_BUSINESS,
    [LT_RETENTION_KEYS] = LT_DB_KEYS,
};

struct lt_retention_key {
	uint8_t b[sizeof(((struct lt_retention *)0)->from)];
	size_t len;
};

struct lt_retention_scan {
	struct lt_retention *r;
	const struct lt_retention_limits *lim;
	struct lt_txn *t;
	int64_t now_ms;
	size_t visits;
	int more; /* stopped before the end of the database */
	struct lt_retention_key *del;
	size_t n_del;
	/* docs phase: what the statuses of one document say */
	size_t rows, final_rows;
	int64_t last_change_ms;
	/* keys phase: the status rows of the document a key names */
	const uint8_t *prefix;
	size_t plen;
};

/*
 * Transport over: the recipient gave its verdict (delivered, rejected,
 * failed) or reported on the document since; only a document still queued,
 * sent, or with a recall waiting for its answer is kept whatever its age.
 */
static int lt_retention_final(Lienthong__Store__DocStatus st)
{
	return st != LIENTHONG__STORE__DOC_STATUS__DOC_STATUS_UNSPECIFIED &&
	       st != LIENTHONG__STORE__DOC_STATUS__QUEUED &&
	       st != LIENTHONG__STORE__DOC_STATUS__SENT &&
	       st != LIENTHONG__STORE__DOC_STATUS__RECALL_REQUESTED;
}

static int lt_retention_expired(int64_t at_ms, int64_t keep_ms, int64_t now_ms)
{
	return at_ms <= now_ms - keep_ms;
}

static void lt_retention_mark(struct lt_retention_scan *sc, const void *key, size_t klen)
{
	struct lt_retention_key *k = &sc->del[sc->n_del++];
	k->len = klen < sizeof k->b ? klen : sizeof k->b;
	memcpy(k->b, key, k->len);
}

/* The statuses of one document, key "<document id>\0<recipient>". */
static int lt_retention_doc_row(void *ctx, const void *key, size_t klen, const void *val,
                                size_t vlen, lt_err *err)
{
	struct lt_retention_scan *sc = ctx;
	const struct lt_retention_key *doc = &sc->del[sc->n_del]; /* the document looked at */
	if (klen <= doc->len || memcmp(key, doc->b, doc->len) != 0 ||
	    ((const uint8_t *)key)[doc->len] != '\0')
		return 1; /* past its rows */
	sc->visits++;
	Lienthong__Store__StatusRecord *st =
	    lienthong__store__status_record__unpack(NULL, vlen, val);
	if (st == NULL)
		return lt_err_set(err, LT_EIO, "status record of %.*s is corrupt", (int)doc->len,
		                  (const char *)doc->b);
	sc->rows++;
	if (lt_retention_final(st->status)) {
		sc->final_rows++;
		if (st->updated_at_ms > sc->last_change_ms)
			sc->last_change_ms = st->updated_at_ms;
	}
	lienthong__store__status_record__free_unpacked(st, NULL);
	return 0;
}

/* docs: delete the body once every status is final and old enough (or none is left). */
static int lt_retention_docs(struct lt_retention_scan *sc, const void *key, size_t klen,
                             lt_err *err)
{
	struct lt_retention_key *doc = &sc->del[sc->n_del];
	uint8_t from[sizeof doc->b + 1];
	if (klen >= sizeof doc->b)
		return 0; /* not a document id */
	memcpy(doc->b, key, klen);
	doc->len = klen;
	memcpy(from, key, klen);
	from[klen] = '\0';
	sc->rows = sc->final_rows = 0;
	sc->last_change_ms = 0;
	if (lt_txn_scan(sc->t, LT_DB_STATUS, from, klen + 1, lt_retention_doc_row, sc, err) != 0)
		return -1;
	if (sc->rows == sc->final_rows &&
	    lt_retention_expired(sc->last_change_ms, sc->lim->sent_body_ms, sc->now_ms))
		sc->n_del++; /* doc already holds the key */
	return 0;
}

/* Counts one status row when its key starts with sc->prefix, else ends the scan. */
static int lt_retention_prefix_row(void *ctx, const void *key, size_t klen, const void *val,
                                   size_t vlen, lt_err *err)
{
	struct lt_retention_scan *sc = ctx;
	(void)val, (void)vlen, (void)err;
	if (klen < sc->plen || memcmp(key, sc->prefix, sc->plen) != 0)
		return 1;
	sc->rows++;
	return 1; /* one is enough */
}

/* keys: a batch key goes once its document has no status row left. */
static int lt_retention_keys(struct lt_retention_scan *sc, const void *key, size_t klen,
                             const void *val, size_t vlen, lt_err *err)
{
	Lienthong__Store__KeyRecord *kr = lienthong__store__key_record__unpack(NULL, vlen, val);
	uint8_t from[LT_DOCID_LEN + 1];
	size_t dlen = kr ? strlen(kr->document_id) : 0;
	int rc = 0;
	if (kr != NULL && dlen <= LT_DOCID_LEN) {
		memcpy(from, kr->document_id, dlen);
		from[dlen] = '\0';
		sc->prefix = from;
		sc->plen = dlen + 1;
		sc->rows = 0;
		rc = lt_txn_scan(sc->t, LT_DB_STATUS, from, dlen + 1, lt_retention_prefix_row, sc,
		                 err);
		if (rc == 0 && sc->rows == 0)
			lt_retention_mark(sc, key, klen);
	}
	if (kr != NULL)
		lienthong__store__key_record__free_unpacked(kr, NULL);
	return rc;
}

/*
 * business: a business record goes once its document's inbox record is gone
 * (forgotten, or never there: a recall that came first) and it has not
 * changed for inbox_ms either. Same key as the inbox record.
 */
static int lt_retention_business(struct lt_retention_scan *sc, const void *key, size_t klen,
                                 const void *val, size_t vlen, lt_err *err)
{
	Lienthong__Store__BusinessRecord *b =
	    lienthong__store__business_record__unpack(NULL, vlen, val);
	const void *in;
	size_t inlen;
	int rc = 0;
	if (b == NULL)
		return 0; /* lienthong-status reports it; not ours to judge */
	if (lt_retention_expired(b->at_ms, sc->lim->inbox_ms, sc->now_ms)) {
		rc = lt_txn_get(sc->t, LT_DB_INBOX, key, klen, &in, &inlen, err);
		if (rc == 0 && in == NULL)
			lt_retention_mark(sc, key, klen);
	}
	lienthong__store__business_record__free_unpacked(b, NULL);
	return rc;
}

static int lt_retention_row(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                            lt_err *err)
{
	struct lt_retention_scan *sc = ctx;
	struct lt_retention *r = sc->r;
	if (sc->visits >= LT_RETENTION_VISITS || sc->n_del >= LT_RETENTION_DELETES) {
		/* Resume here next time. */
		r->flen = klen < sizeof r->from ? klen : sizeof r->from;
		memcpy(r->from, key, r->flen);
		sc->more = 1;
		return 1;
	}
	sc->visits++;
	if (r->phase == LT_RETENTION_DOCS)
		return lt_retention_docs(sc, key, klen, err);
	if (r->phase == LT_RETENTION_KEYS)
		return lt_retention_keys(sc, key, klen, val, vlen, err);
	if (r->phase == LT_RETENTION_BUSINESS)
		return lt_retention_business(sc, key, klen, val, vlen, err);
	if (r->phase == LT_RETENTION_STATUS) {
		Lienthong__Store__StatusRecord *st =
		    lienthong__store__status_record__unpack(NULL, vlen, val);
		if (st == NULL)
			return 0; /* lienthong-status reports it; not ours to judge */
		if (lt_retention_final(st->status) &&
		    lt_retention_expired(st->updated_at_ms, sc->lim->final_status_ms, sc->now_ms))
			lt_retention_mark(sc, key, klen);
		lienthong__store__status_record__free_unpacked(st, NULL);
		return 0;
	}
	Lienthong__Store__InboxRecord *in = lienthong__store__inbox_record__unpack(NULL, vlen, val);
	if (in == NULL)
		return 0;
	if (in->status != LIENTHONG__STORE__INBOX_STATUS__INBOX_PENDING &&
	    lt_retention_expired(in->at_ms, sc->lim->inbox_ms, sc->now_ms))
		lt_retention_mark(sc, key, klen);
	lienthong__store__inbox_record__free_unpacked(in, NULL);
	return 0;
}

/*
 * Deletes one record; a status goes with its index entries and history
 * (lt_status_forget), key "<document id>\0<recipient>".
 */
static int lt_retention_del(struct lt_txn *t, enum lt_db db, const struct lt_retention_key *k,
                            lt_err *err)
{
	if (db != LT_DB_STATUS)
		return lt_txn_del(t, db, k->b, k->len, err);
	char doc_id[LT_DOCID_LEN + 1], recipient[LT_CODE_MAX + 1];
	const uint8_t *nul = memchr(k->b, '\0', k->len);
	size_t dlen = nul ? (size_t)(nul - k->b) : 0, rlen = nul ? k->len - dlen - 1 : 0;
	if (nul == NULL || dlen > LT_DOCID_LEN || rlen == 0 || rlen > LT_CODE_MAX)
		return lt_txn_del(t, db, k->b, k->len, err); /* not a key lienthong writes */
	memcpy(doc_id, k->b, dlen);
	doc_id[dlen] = '\0';
	memcpy(recipient, nul + 1, rlen);
	recipient[rlen] = '\0';
	return lt_status_forget(t, doc_id, recipient, err);
}

/*
 * The spools of documents whose envelope was deleted (committed): a failure
 * is logged, and the orphan sweep (lt_spool_sweep) removes it later.
 */
static void lt_retention_unspool(struct lt_store *s, const struct lt_retention_scan *sc)
{
	for (size_t i = 0; i < sc->n_del; i++) {
		char id[LT_DOCID_LEN + 1];
		lt_err err;
		if (sc->del[i].len != LT_DOCID_LEN)
			continue; /* not a document id: no spool */
		memcpy(id, sc->del[i].b, LT_DOCID_LEN);
		id[LT_DOCID_LEN] = '\0';
		if (lt_spool_remove(lt_store_dir(s), id, &err) != 0)
			lt_log_warn("retention: %s; the spool sweep tries again", err.msg);
	}
}

int lt_retention_step(struct lt_retention *r, struct lt_store *s,
                      const struct lt_retention_limits *lim, int64_t now_ms, int *pass_done,
                      struct lt_retention_counts *counts, lt_err *err)
{
	struct lt_retention_scan sc = {.r = r, .lim = lim, .now_ms = now_ms};
	int ret = -1;
	*pass_done = 0;
	/* One spare entry: the docs phase builds its candidate there. */
	sc.del = malloc((LT_RETENTION_DELETES + 1) * sizeof *sc.del);
	if (sc.del == NULL)
		return lt_err_set(err, LT_EIO, "out of memory");
	if (lt_txn_begin(s, 1, &sc.t, err) != 0)
		goto out;
	enum lt_db db = lt_retention_dbs[r->phase];
	if (lt_txn_scan(sc.t, db, r->flen ? r->from : NULL, r->flen, lt_retention_row, &sc, err) !=
	    0)
		goto abort;
	for (size_t i = 0; i < sc.n_del; i++) {
		if (lt_retention_del(sc.t, db, &sc.del[i], err) != 0)
			goto abort;
	}
	if (sc.n_del > 0) {
		ret = lt_txn_commit(sc.t, err);
		sc.t = NULL;
		if (ret != 0)
			goto out;
		if (r->phase == LT_RETENTION_DOCS)
			lt_retention_unspool(s, &sc);
	} else {
		lt_txn_abort(sc.t);
		sc.t = NULL;
		ret = 0;
	}
	uint64_t *count = r->phase == LT_RETENTION_STATUS     ? &counts->statuses
	                  : r->phase == LT_RETENTION_DOCS     ? &counts->bodies
	                  : r->phase == LT_RETENTION_KEYS     ? &counts->keys
	                  : r->phase == LT_RETENTION_BUSINESS ? &counts->business
	                                                      : &counts->inbox;
	*count += sc.n_del;
	if (!sc.more) {
		r->flen = 0;
		if (++r->phase == LT_RETENTION_PHASES) {
			r->phase = 0;
			*pass_done = 1;
		}
	}
	goto out;
abort:
	lt_txn_abort(sc.t);
out:
	free(sc.del);
	return ret;
}

void lt_retention_tick(struct lt_store *s, const struct lt_config *cfg, int64_t now_ms)
{
	static struct lt_retention r;
	static struct lt_retention_counts done;
	const struct lt_retention_limits lim = {
	    .sent_body_ms = cfg->retention_sent_body_s * 1000,
	    .final_status_ms = cfg->retention_status_s * 1000,
	    .inbox_ms = cfg->retention_inbox_s * 1000,
	};
	const int64_t pause_ms = cfg->retention_pass_s * 1000;
	int pass_done;
	lt_err err;
	lt_store_set_quarantine_limits(s, cfg->quarantine_max_bytes, cfg->quarantine_keep_bytes);
	if (now_ms < r.next_pass_ms)
		return;
	if (lt_retention_step(&r, s, &lim, now_ms, &pass_done, &done, &err) != 0) {
		lt_log_warn("retention sweep: %s; tried again in %lld s", err.msg,
		            (long long)(pause_ms / 1000));
		r = (struct lt_retention){.next_pass_ms = now_ms + pause_ms};
		return;
	}
	if (!pass_done)
		return;
	r.next_pass_ms = now_ms + pause_ms;
	size_t orphans = 0;
	if (lt_spool_sweep(cfg->data_dir, s, now_ms, &orphans, &err) != 0)
		lt_log_warn("spool sweep: %s; tried again in %lld s", err.msg,
		            (long long)(pause_ms / 1000));
	if (orphans > 0)
		lt_log_info("spool: removed %zu orphaned or unfinished spool folder(s) older than "
		            "%d minutes",
		            orphans, LT_SPOOL_ORPHAN_MS / 60000);
	if (done.bodies + done.statuses + done.inbox + done.business + done.keys > 0)
		lt_log_info("retention: deleted %llu sent document bodies, %llu final statuses, "
		            "%llu inbox records and %llu business records past their retention, "
		            "%llu batch keys of forgotten documents",
		            (unsigned long long)done.bodies, (unsigned long long)done.statuses,
		            (unsigned long long)done.inbox, (unsigned long long)done.business,
		            (unsigned long long)done.keys);
	done = (struct lt_retention_counts){0};
}
