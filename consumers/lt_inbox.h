/*
 * lt_inbox: handling one record from this agency's inbox topic.
 *
 * A document is identified by (sender, document id): the inbox record that
 * makes delivery exactly-once is keyed by both, so another agency's document
 * under the same id is a different document, handled on its own.
 *
 * Checks, in order: size and structure (lt_envelope_decode), signature and
 * signer certificate (lt_envelope_verify); then whether (sender, document
 * id) was received before: the same content gets the verdict given then
 * again (delivered, rejected or failed: a replay, even after the document
 * expired, never changes it), other content from the same sender is a
 * conflict; then that this agency is a recipient and that the document has
 * not expired (checked on arrival only: a document waiting for its target
 * arrived in time). A good document is delivered to the target (all parts at
 * once), then the inbox record (delivered) and the `delivered` receipt are
 * committed in one transaction.
 *
 * What the sender is told about a record that fails a check:
 *   - a record that does not decode or verify gets NO receipt. The sender it
 *     names is not proven, so nothing is queued to it; the record is
 *     quarantined with the reason and logged. (A receipt would let anyone
 *     make this agency sign statements to any agency about any document id.)
 *   - a verified document that is refused (misdirected, expired, conflict,
 *     refused by the target) gets a signed `rejected` or `failed` receipt
 *     carrying its digest, and is quarantined with the reason.
 *
 * When the target refuses the document for good (HTTP 4xx), or keeps failing
 * for delivery_deadline_s since failing_since_ms (the time of the first failed
 * attempt, 0 on the first attempt), the document is kept in the quarantine,
 * recorded as failed, and a `failed` receipt with the reason goes back.
 *
 * Two steps, so that no LMDB write transaction is open while the target
 * works (an HTTP target may take minutes; readers, uploads and the
 * submission service go on meanwhile):
 *
 *   lt_inbox_verify  decodes and verifies the record into an lt_inbox_item
 *                    (it reads only the configuration, the signer and the
 *                    trust store: several threads may verify different
 *                    records at once, while no thread ticks the CRLs);
 *   lt_inbox_deliver then, outside any write transaction, looks its
 *                    (sender, document id) up, and when it is new (or
 *                    waiting for its target) and acceptable, delivers it to
 *                    the target and keeps the outcome in the item. -1 only
 *                    on a store error. The folder target finishes the
 *                    delivery with the batch (lt_target_deliver_deferred):
 *                    call lt_target_flush before lt_inbox_handle, the item
 *                    kept in place until then.
 *   lt_inbox_handle  in the caller's transaction t: records what the item
 *                    says (inbox record, receipt, quarantine), checking the
 *                    inbox record again in t (an earlier record of the same
 *                    batch may have recorded the same document).
 *
 * Delivery is idempotent (the folder target finds a folder delivered
 * before; the HTTP target sends an Idempotency-Key), so a crash between the
 * two steps delivers nothing twice to a target that honours it.
 *
 * lt_inbox_handle's result: 0 when handled; 1 when the target failed for
 * the first time: t holds a `deferred` receipt telling the sender why its
 * document waits, to be committed, and the record must be handled again
 * later; -1 when it must be handled again later and what this call wrote is
 * to be aborted (a nested transaction). err says why for 1 and -1. Both run
 * in the agent's receive loop.
 */
#ifndef LT_INBOX_H
#define LT_INBOX_H

#include <limits.h>

#include "../proto/lt_envelope.h"
#include "lt_recv.h"

struct lt_inbox_item {
	int checked;                   /* set by the caller once lt_inbox_deliver returned 0 */
	Lienthong__Envelope *env;      /* decoded (NULL when it did not decode); owned */
	uint8_t digest[LT_DIGEST_LEN]; /* SHA-256 of the canonical bytes, once verified */
	int verified;                  /* decoded, opened and verified */
	lt_err why;                    /* why not verified */
	int attempted;                 /* lt_inbox_deliver delivered it (or tried) */
	int delivered;                 /* ... successfully, to path */
	char path[PATH_MAX];
	lt_err deliver_err;  /* ... or why not (LT_EINVAL: refused for good) */
	int chunk;           /* a chunk record (env->chunk): recorded by lt_inbox_handle */
	int manifest;        /* a verified envelope with streamed parts: opens a transfer */
	int64_t arrived_ms;  /* a completed transfer: when its manifest came (0: now) */
	const char *staging; /* ... and where its parts are staged (borrowed) */
};

void lt_inbox_verify(const struct lt_recv *rc, const struct lt_record *rec,
                     struct lt_inbox_item *it);
int lt_inbox_deliver(const struct lt_recv *rc, int64_t now_ms, struct lt_inbox_item *it,
                     lt_err *err);
int lt_inbox_handle(const struct lt_recv *rc, struct lt_txn *t, const struct lt_record *rec,
                    const struct lt_inbox_item *it, int64_t now_ms, int64_t failing_since_ms,
                    lt_err *err);
void lt_inbox_item_free(struct lt_inbox_item *it);

/*
 * Streamed documents (consumers/lt_xfer.h). A record of the inbox topic may
 * be a manifest: verified as any envelope, checked as any (duplicate,
 * addressee, expiry), it opens a transfer instead of being delivered. A
 * chunk record is recorded by lt_inbox_handle: written into its transfer,
 * or quarantined (it fails lt_chunk_check: the real one is still awaited;
 * no transfer and no inbox record: unknown document), or skipped (recorded
 * before, or its document was delivered or failed).
 *
 * lt_inbox_transfers, called from the agent's loop, finishes transfers:
 * a complete one is delivered as any document (lt_inbox_deliver's delivery
 * from the staged files, then lt_inbox_handle in a transaction that also
 * removes the transfer record: exactly once, a crash before that commit
 * delivers again to a target that recognises it); one without progress for
 * transfer_deadline_s becomes failed (a failed receipt naming the missing
 * chunks). The staging folder is removed after the commit. Returns how many
 * documents it finished (their receipts wait in the outbox).
 */
size_t lt_inbox_transfers(const struct lt_recv *rc, int64_t now_ms);

#endif
