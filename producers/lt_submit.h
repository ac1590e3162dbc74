/*
 * lt_submit: accepting documents into the sender's outbox.
 *
 * A batch of sealed envelopes is written in one LMDB transaction: the
 * envelope (docs), a `queued` status per recipient, and one outbox record
 * per recipient. lt_submit returns only after the fsync'd commit, so what it
 * acknowledges survives any crash; a batch shares one fsync (group commit).
 * Works while the agent is stopped: the agent forwards what it finds.
 * A document with streamed parts (a manifest) is accepted only when the
 * spool file of each (producers/lt_spool.h, in the store's data_dir) is in
 * place with the size its envelope declares: the writer spools first.
 *
 * Threads: any thread with its own transaction; LMDB serialises writers,
 * also across processes.
 */
#ifndef LT_SUBMIT_H
#define LT_SUBMIT_H

#include <stddef.h>
#include <stdint.h>

#include "../errors/lt_err.h"
#include "../store/lt_store.h"

struct lt_submit_doc {
	const char *document_id;
	const uint8_t *envelope;
	size_t len;
	const uint8_t *digest; /* 32 bytes: SHA-256 of the canonical bytes */
	const char *const *recipients;
	size_t n_recipients;
	const char *subject;
	/* A recall, update or replacement (business_type != 0, a lienthong.BusinessType): */
	const char *replaces_id; /* the document it concerns (sent to the same recipients) */
	uint32_t business_type;
	/* lienthong-upload's stable key of the batch row (NULL or "": none), keys db */
	const char *batch_key;
};

/*
 * All or nothing: a document id already in the outbox with other bytes fails
 * the batch (LT_ECONFLICT); with the same bytes it is already accepted and
 * skipped, so a submission retried after an unclear outcome is safe.
 * A recall, update or replacement moves the status of the document it
 * concerns to recall-requested (13) for each recipient, through the
 * lifecycle table: when that document was not sent to a recipient
 * (LT_ENOTFOUND) or its status allows no recall (LT_ECONFLICT: refused,
 * recalled already, not delivered), the batch fails.
 * A document with a batch_key already recorded (by an earlier submission, or
 * earlier in the same batch) is skipped, not stored: that row was submitted
 * as the recorded document (lt_batch_key_get tells which). Otherwise the key
 * is recorded with the document, in the same transaction.
 */
int lt_submit(struct lt_store *store, const struct lt_submit_doc *docs, size_t n, int64_t now_ms,
              lt_err *err);

#endif
