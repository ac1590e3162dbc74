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
 * Everything is written into the caller's transaction t: the record is
 * handled once t is committed (then the caller may store the Kafka offset).
 * Result: 0 when handled; 1 when the target failed for the first time: t
 * holds a `deferred` receipt telling the sender why its document waits, to
 * be committed, and the record must be handled again later; -1 when it must
 * be handled again later and what this call wrote is to be aborted (a nested
 * transaction). err says why for 1 and -1. Runs in the agent's main loop.
 */
#ifndef LT_INBOX_H
#define LT_INBOX_H

#include "lt_recv.h"

int lt_inbox_handle(const struct lt_recv *rc, struct lt_txn *t, const struct lt_record *rec,
                    int64_t now_ms, int64_t failing_since_ms, lt_err *err);

#endif
