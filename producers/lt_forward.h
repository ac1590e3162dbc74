/*
 * lt_forward: the agent's outbox forwarder. Takes records from the LMDB
 * outbox queue (documents for recipients' inbox topics, receipts for senders'
 * receipt topics), hands them to an idempotent Kafka producer, and on each
 * delivery report records the outcome in one batched transaction: the record
 * leaves the queue and a document's status becomes `sent` with partition and
 * offset. A record Kafka did not acknowledge (error, timeout, possibly
 * persisted, producer fatal error) stays queued and is sent again after a
 * capped exponential backoff with jitter; nothing is ever dropped. The
 * recipient de-duplicates by document id, so sending twice is safe.
 *
 * Order: records go out in queue order. After a failure no new record is
 * produced until everything in flight has reported and the backoff elapsed;
 * then the queue is scanned again from the start.
 *
 * Threads: one thread (the agent's main loop) calls every function.
 * Ownership: the forwarder owns its producer; store and cfg are borrowed
 * and must outlive it.
 */
#ifndef LT_FORWARD_H
#define LT_FORWARD_H

#include <stdint.h>

#include "../config/lt_config.h"
#include "../errors/lt_err.h"
#include "../store/lt_store.h"

struct lt_forward;

struct lt_forward *lt_forward_new(const struct lt_config *cfg, struct lt_store *store, lt_err *err);
/* Produces what is due, serves delivery reports, records outcomes. Never blocks long. */
int lt_forward_tick(struct lt_forward *fw, int64_t now_ms, lt_err *err);
/* Look at the queue at the next tick (something was just enqueued). */
void lt_forward_wake(struct lt_forward *fw);
/* Waits up to timeout_ms for in-flight records, records outcomes, frees. */
void lt_forward_free(struct lt_forward *fw, int timeout_ms);

/*
 * Topics whose records Kafka does not take now (they wait and are retried):
 * how many, since when the oldest failure, and one of them (topic, size).
 */
size_t lt_forward_failing(const struct lt_forward *fw, int64_t *since_ms, char *topic, size_t size);

/* Producers replaced after a fatal error since lt_forward_new. */
unsigned lt_forward_renewals(const struct lt_forward *fw);

/* The producer, for topic administration at start-up. */
struct rd_kafka_s *lt_forward_producer(struct lt_forward *fw);

#endif
