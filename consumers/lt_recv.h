/*
 * lt_recv: what the receiving side of an agent shares: its configuration,
 * store, signer (for receipts) and trust store, the record being handled,
 * and the quarantine where records that fail a check are kept with their raw
 * bytes and the reason (never delivered, never silently dropped).
 *
 * Everything is borrowed from the agent's main and read-only here; handlers
 * run in the agent's main loop thread.
 */
#ifndef LT_RECV_H
#define LT_RECV_H

#include <stddef.h>
#include <stdint.h>

#include "../config/lt_config.h"
#include "../errors/lt_err.h"
#include "../pki/lt_pki.h"
#include "../proto/lt_receipt.h"
#include "../proto/lt_sign.h"
#include "../store/lt_store.h"

struct lt_target;
struct lt_xfer;
struct lt_recv_receipts;

struct lt_recv {
	const struct lt_config *cfg;
	struct lt_store *store;
	const struct lt_signer *signer;
	const struct lt_trust *trust;
	struct lt_target *target; /* where verified documents go */
	struct lt_xfer *xfer;     /* streamed documents being received (lt_xfer.h) */
	/* The receive loop's receipts, signed a batch at a time; NULL: each at once. */
	struct lt_recv_receipts *receipts;
};

/* One record consumed from Kafka; value is borrowed. */
struct lt_record {
	const char *topic;
	int32_t partition;
	int64_t offset;
	const uint8_t *value;
	size_t len;
};

/* Adds the record to the quarantine in transaction t. doc_id and sender may be NULL. */
int lt_recv_quarantine(struct lt_txn *t, const struct lt_record *rec, const char *reason,
                       const char *doc_id, const char *sender, int64_t now_ms, lt_err *err);

/* Seals the receipt `in` with signer and queues it in t for in->sender's receipt topic. */
int lt_recv_queue_receipt(struct lt_txn *t, const struct lt_signer *signer,
                          const struct lt_receipt_in *in, lt_err *err);

/*
 * Receipts signed a batch at a time: between lt_recv_receipts_begin and
 * lt_recv_receipts_flush (the receive loop, around one LMDB transaction),
 * lt_recv_receipt collects each receipt unsigned; the flush signs them all
 * with one batch signature (proto/lt_batch.h) and queues them in that
 * transaction, before it commits. lt_recv_receipts_drop forgets those
 * collected since a mark (a nested transaction aborted). Outside a batch,
 * or without a collector, lt_recv_receipt signs and queues at once.
 * One thread (the agent's main loop).
 */
struct lt_recv_receipts *lt_recv_receipts_new(void);
void lt_recv_receipts_free(struct lt_recv_receipts *rr);
void lt_recv_receipts_begin(struct lt_recv_receipts *rr);
size_t lt_recv_receipts_mark(const struct lt_recv_receipts *rr);
void lt_recv_receipts_drop(struct lt_recv_receipts *rr, size_t mark);
/* Signs and queues what was collected, in t; always ends the batch. */
int lt_recv_receipts_flush(struct lt_recv_receipts *rr, struct lt_txn *t,
                           const struct lt_signer *signer, const struct lt_config *cfg,
                           lt_err *err);

/* The receipt `in` for in->sender: collected while a batch is open, else signed and queued in t. */
int lt_recv_receipt(const struct lt_recv *rc, struct lt_txn *t, const struct lt_receipt_in *in,
                    lt_err *err);

#endif
