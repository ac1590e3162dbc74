#include "lt_submit.h"

#include <string.h>

#include "../lifecycle/lt_lifecycle.h"

int lt_submit(struct lt_store *store, const struct lt_submit_doc *docs, size_t n, int64_t now_ms,
              lt_err *err)
{
	struct lt_txn *t = NULL;
	if (lt_txn_begin(store, 1, &t, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct lt_submit_doc *d = &docs[i];
		const void *old;
		size_t old_len;
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
