/*
 * lt_receipts: handling one record from this agency's receipt topic.
 *
 * A receipt changes this agency's record only when it is about the document
 * this agency sent: it must decode, be addressed to this agency, be signed
 * by the recipient agency it names (certificate CN), concern a document this
 * agency sent to that recipient, and carry that document's digest (the
 * digest recorded when it was sent to that recipient). Its status is then
 * applied through the lifecycle table (lifecycle/lt_lifecycle.h), which
 * never lets delivered be replaced by rejected or failed. Anything else (no
 * digest, another digest, an issuer that is not that recipient, a move the
 * table refuses) is quarantined with the reason and changes nothing.
 *
 * Writes into the caller's transaction t; result as lt_inbox_handle: 0
 * handled (once t commits), -1 retry later. Main loop thread.
 */
#ifndef LT_RECEIPTS_H
#define LT_RECEIPTS_H

#include "lt_recv.h"

int lt_receipts_handle(const struct lt_recv *rc, struct lt_txn *t, const struct lt_record *rec,
                       int64_t now_ms, lt_err *err);

#endif
