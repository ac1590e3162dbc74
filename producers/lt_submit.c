#include "lt_submit.h"

#include <stdio.h>
#include <string.h>

#include "../lifecycle/lt_lifecycle.h"
#include "../proto/lt_envelope.h"
#include "lt_spool.h"

/* The sender's own event on the document d replaces: it waits for the recipient's answer. */
static int lt_submit_request(struct lt_txn *t, const struct lt_submit_doc *d, const char *recipient,
                             int64_t now_ms, lt_err *err)
{
	static const char *const words[] = {"", "recall", "update", "replacement"};
	char reason[120];
	const char *w = d->business_type < 4 ? words[d->business_type] : "request";
	snprintf(reason, sizeof reason, "%s requested by document %s", w, d->document_id);
	struct lt_life_change ch = {
	    .event = LT_LIFE_RECALL, .at_ms = now_ms, .reason = reason, .business_code = "13"};
	int v = lt_life_apply(t, d->replaces_id, recipient, &ch, err);
	if (v == LT_LIFE_NO_RECORD)
		return lt_err_set(err, LT_ENOTFOUND,
		                  "document %s was not sent to %s: there is nothing to %s",
		                  d->replaces_id, recipient, w);
	if (v == LT_LIFE_REFUSED) {
		Lienthong__Store__StatusRecord *rec = NULL;
		if (lt_status_get(t, d->replaces_id, recipient, &rec, err) != 0)
			return -1;
		lt_err_set(err, LT_ECONFLICT, "document %s to %s is %s: a %s is not possible now",
		           d->replaces_id, recipient,
		           rec ? lt_life_status_text(rec->status) : "gone", w);
		if (rec != NULL)
			lienthong__store__status_record__free_unpacked(rec, NULL);
		return -1;
	}
	return v < 0 ? -1 : 0;
}

/* The spool file of each streamed part of d is in place with its declared size. */
static int lt_submit_spooled(const char *data_dir, const struct lt_submit_doc *d, lt_err *err)
{
	Lienthong__Envelope *env = lienthong__envelope__unpack(NULL, d->len, d->envelope);
	if (env == NULL)
		return 0; /* bytes as given: judging them is the caller's (lt_submitd verifies) */
	int rc = lt_spool_check_envelope(data_dir, env, err);
	lienthong__envelope__free_unpacked(env, NULL);
	if (rc != 0)
		lt_err_wrap(err, "cannot submit (nothing was stored)");
	return rc;
}

int lt_submit(struct lt_store *store, const struct lt_submit_doc *docs, size_t n, int64_t now_ms,
              lt_err *err)
{
	struct lt_txn *t = NULL;
	for (size_t i = 0; i < n; i++) {
		if (lt_submit_spooled(lt_store_dir(store), &docs[i], err) != 0)
			return -1;
	}
	if (lt_txn_begin(store, 1, &t, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct lt_submit_doc *d = &docs[i];
		const void *old;
		size_t old_len;
		int has_key = d->batch_key != NULL && d->batch_key[0] != '\0';
		if (has_key) {
			char prev[LT_DOCID_LEN + 1];
			int v = lt_batch_key_get(t, d->batch_key, prev, sizeof prev, err);
			if (v < 0)
				goto fail;
			if (v == 1)
				continue; /* this row went in before, as document prev */
			if (lt_batch_key_put(t, d->batch_key, d->document_id, now_ms, err) != 0)
				goto fail;
		}
		if (lt_txn_get(t, LT_DB_DOCS, d->document_id, strlen(d->document_id), &old,
		               &old_len, err) != 0)
			goto fail;
		if (old != NULL) {
			/* The same bytes again (a retried submission) are already accepted. */
			if (old_len == d->len && memcmp(old, d->envelope, d->len) == 0)
				continue;
			lt_err_set(err, LT_ECONFLICT,
			           "document %s is already in the outbox with other content",
			           d->document_id);
			goto fail;
		}
		if (lt_txn_put(t, LT_DB_DOCS, d->document_id, strlen(d->document_id), d->envelope,
		               d->len, err) != 0)
			goto fail;
		for (size_t r = 0; r < d->n_recipients; r++) {
			struct lt_life_change ch = {.event = LT_LIFE_SUBMITTED,
			                            .at_ms = now_ms,
			                            .digest = d->digest,
			                            .subject = d->subject};
			int v = lt_life_apply(t, d->document_id, d->recipients[r], &ch, err);
			if (v < 0)
				goto fail;
			if (v != LT_LIFE_MOVED) {
				lt_err_set(err, LT_ECONFLICT,
				           "document %s already has a status for %s",
				           d->document_id, d->recipients[r]);
				goto fail;
			}
			if (d->business_type != 0 &&
			    lt_submit_request(t, d, d->recipients[r], now_ms, err) != 0)
				goto fail;
			if (lt_outq_add(t, LIENTHONG__STORE__OUT_KIND__OUT_DOCUMENT, d->document_id,
			                d->recipients[r], NULL, 0, now_ms, err) != 0)
				goto fail;
		}
	}
	return lt_txn_commit(t, err);
fail:
	lt_txn_abort(t);
	return -1;
}
