/*
 * lt_receipts: handling one record from this agency's receipt topic.
 *
 * A receipt is applied to the sender's status only if it decodes, is
 * addressed to this agency, is signed by the recipient agency it names
 * (certificate CN), concerns a document this agency sent to that recipient,
 * and carries that document's digest. Anything else is quarantined with the
 * reason. Terminal statuses (delivered, rejected, failed) replace queued and
 * sent; between terminal statuses the later receipt wins, so a late or
 * repeated receipt cannot move a status backwards.
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
