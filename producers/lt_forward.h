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
 * Order: records go out in queue order (a streamed document's chunks follow
 * their manifest while later records go on, so a small document may arrive
 * before a large one queued earlier). After a failure no new record is
 * produced until everything in flight has reported and the backoff elapsed;
 * then the queue is scanned again from the start.
 *
 * Streamed documents (an envelope with a part of chunk_bytes > 0, the
 * manifest): the manifest goes first; once Kafka acknowledged it, the chunk
 * records follow in order (part 0's chunks, then part 1's...), each read from
 * the spool (<data_dir>/spool/<document id>/<part index>, at index *
 * chunk_bytes) and checked against the manifest's chunk SHA-256 before it is
 * produced. At most LT_FORWARD_STREAMS documents at once, LT_FORWARD_WINDOW
 * chunks of each and 8 MiB of chunk records in all are in flight (the
 * record is handed over to librdkafka, which frees it after its report);
 * other outbox records flow meanwhile. Progress is recorded with the other
 * outcomes of a batch of reports (sendprog database, SendProgress in
 * proto/store.proto: the manifest acknowledged and its position, the number
 * of leading chunks acknowledged), so after a failure, a broker outage or a
 * restart the document goes on from the first chunk not acknowledged and an
 * acknowledged manifest is not sent again. The status stays `queued` with
 * the reason "sending: N of M chunks" (at most once a second) and becomes
 * `sent` (the manifest's partition and offset) when the last chunk is
 * acknowledged: then the outbox record and its progress record go, in one
 * transaction. A chunk the spool cannot give (file missing or short, bytes
 * not matching the signed digest) is never sent: the status reason names
 * the file and the bytes, the document stays queued and the chunk is read
 * again every retry_backoff_max_ms.
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

/*
 * While a streamed document is being sent, fn(ctx) is called from a
 * librdkafka thread when delivery reports arrive, so the main loop can stop
 * waiting and call lt_forward_tick, which refills the chunk windows at once
 * (instead of at its next turn). fn must be thread-safe; NULL turns it off:
 * once this returns, fn is no longer called.
 */
void lt_forward_on_report(struct lt_forward *fw, void (*fn)(void *ctx), void *ctx);
/* Waits up to timeout_ms for in-flight records, records outcomes, frees. */
void lt_forward_free(struct lt_forward *fw, int timeout_ms);

/*
 * Topics whose records Kafka does not take now (they wait and are retried):
 * how many, since when the oldest failure, and one of them (topic, size).
 */
size_t lt_forward_failing(const struct lt_forward *fw, int64_t *since_ms, char *topic, size_t size);

/* One failing topic, for the metrics and the operator page. */
struct lt_forward_topic {
	char topic[LT_TOPIC_MAX + 1];
	int64_t since_ms;    /* failing since */
	int64_t retry_at_ms; /* its records are produced again then */
};

/* Copies up to max failing topics into out; returns how many topics fail in all. */
size_t lt_forward_failing_list(const struct lt_forward *fw, struct lt_forward_topic *out,
                               size_t max);

/* Producers replaced after a fatal error since lt_forward_new. */
unsigned lt_forward_renewals(const struct lt_forward *fw);

/* The producer, for topic administration at start-up. */
struct rd_kafka_s *lt_forward_producer(struct lt_forward *fw);

#endif
