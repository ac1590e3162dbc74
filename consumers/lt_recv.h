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

struct lt_recv {
	const struct lt_config *cfg;
	struct lt_store *store;
	const struct lt_signer *signer;
	const struct lt_trust *trust;
	struct lt_target *target; /* where verified documents go */
	struct lt_xfer *xfer;     /* streamed documents being received (lt_xfer.h) */
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

#endif
