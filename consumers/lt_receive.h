/*
 * lt_receive: the agent's receive loop. Owns the Kafka consumer of the
 * agency's inbox and receipt topics, takes records in batches, hands each to
 * lt_inbox or lt_receipts inside one LMDB transaction per batch (one fsync),
 * and stores a record's offset only after what it changed is durable.
 *
 * A record that cannot be handled yet (target down, store error) blocks its
 * partition: the consumer is rewound to it and the partition paused until a
 * retry after a backoff (lt_backoff); records behind it wait, so offsets are
 * stored only in order.
 *
 * Nothing stops silently: lt_receive_watch replaces a consumer that hit a
 * fatal error (fencing) at once, and one that makes no progress as lt_watch
 * says (lag and nothing handled, no group membership, no statistics); the
 * new one resumes from the committed offsets and lt_inbox's records keep
 * delivery exactly once.
 *
 * Threads: one thread (the agent's main loop) calls everything but
 * lt_receive_wake, which any thread may call; librdkafka calls back from
 * inside lt_receive_tick, which verifies a batch with the help of a second
 * thread that it starts and joins (lt_inbox_verify); a replaced consumer is
 * destroyed on a helper thread of its own (lt_reaper), which never touches
 * the receiver. Ownership: the consumer and the
 * blocked-partition table are the receiver's; the lt_recv (configuration,
 * store, signer, trust, target) is borrowed and must outlive it.
 */
#ifndef LT_RECEIVE_H
#define LT_RECEIVE_H

#include <stddef.h>
#include <stdint.h>

#include "../errors/lt_err.h"
#include "lt_recv.h"

struct lt_receive;

/* What lt_receive_watch found, for the agent's health record. */
struct lt_receive_state {
	int stalled;
	int64_t since_ms;  /* stalled since, or fine since */
	char reason[512];  /* why stalled, and what is done about it */
	unsigned replaced; /* consumers replaced since start */
	unsigned stuck;    /* replaced consumers whose destroy did not return in time */
	int64_t last_handled_ms;
	/* For the metrics and the operator page (monitor/lt_monitor.h), as of the last watch: */
	int64_t stats_ms;         /* the consumer's last statistics, 0 none yet */
	int64_t alone_since_ms;   /* no group membership since (0: member) */
	int64_t lag;              /* records waiting in the topics at the last statistics */
	unsigned blocked;         /* partitions held back: a record waits (target, store, CRL) */
	int64_t blocked_since_ms; /* the oldest of those records fails since */
	char blocked_reason[512]; /* why a record was last held back */
};

struct lt_receive *lt_receive_new(const struct lt_recv *recv, const char *inbox_topic,
                                  const char *receipt_topic, int64_t now_ms, lt_err *err);
/*
 * Waits up to 100 ms for records, handles up to a batch, stores their
 * offsets, and rewinds, pauses or resumes blocked partitions. Returns how
 * many inbox records were handled (their receipts wait in the outbox).
 */
size_t lt_receive_tick(struct lt_receive *r, int64_t now_ms);
/*
 * Any thread: a lt_receive_tick waiting for records returns at once (or the
 * next one does not wait), so the main loop runs now: the submission service
 * calls it after a commit, for the forwarder.
 */
void lt_receive_wake(struct lt_receive *r);
/* Checks the consumer, replacing it if needed; 1 when the state changed. */
int lt_receive_watch(struct lt_receive *r, int64_t now_ms);
const struct lt_receive_state *lt_receive_state(const struct lt_receive *r);
/*
 * Closes the consumer (committing stored offsets, at most a few seconds),
 * waits up to 10 s for replaced ones still being destroyed, and frees.
 */
void lt_receive_free(struct lt_receive *r);

#endif
