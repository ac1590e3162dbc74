/*
 * lt_kafka: everything that talks to Kafka, through librdkafka.
 *
 * Configuration: lienthong's defaults first (idempotent producer, acks=all,
 * linger, explicit offset storage for consumers), then every kafka.* setting
 * of the configuration file, unchanged, so an operator can override any of
 * them (kcat -X style). librdkafka errors are translated to lt_err here.
 *
 * Memory: a consumer prefetches at most 12 MiB (queued.max.messages.kbytes),
 * fetches at most 4 MiB at once (fetch.max.bytes) and 2 MiB of a partition
 * (max.partition.fetch.bytes), or one record of max_message_bytes if larger;
 * librdkafka's defaults (64 MiB queued, 50 MiB a fetch) alone would exceed
 * the agent's bound.
 *
 * Threads: a handle's callbacks (delivery reports, errors, rebalances) run in
 * the thread that calls rd_kafka_poll / rd_kafka_consumer_poll on it; the
 * agent calls both from its main loop only. librdkafka's own log lines are
 * forwarded to lt_log from librdkafka's threads.
 *
 * Ownership: handles returned here belong to the caller, who releases them
 * with lt_kafka_destroy (never rd_kafka_destroy: the callbacks' context is
 * freed there).
 */
#ifndef LT_KAFKA_H
#define LT_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "../config/lt_config.h"
#include "../errors/lt_err.h"

/* Delivery report: opaque is the per-message pointer given to lt_kafka_produce. */
typedef void (*lt_kafka_dr_fn)(void *ctx, void *opaque, rd_kafka_resp_err_t err, int32_t partition,
                               int64_t offset);

/* Producer; dr is called for every message from rd_kafka_poll. */
rd_kafka_t *lt_kafka_producer_new(const struct lt_config *cfg, lt_kafka_dr_fn dr, void *ctx,
                                  lt_err *err);

/*
 * Consumer in cfg->group_id, subscribed to the given topics (none: the
 * caller subscribes with rd_kafka_subscribe), offsets stored
 * only by the caller (lt_kafka_consumer_done) and committed in the
 * background. No static membership (group.instance.id): a member that loses
 * its session through a flapping link simply joins again, where a static
 * one would be fenced for good. (An operator may still set
 * kafka.group.instance.id; a fenced consumer then raises a fatal error,
 * which lt_kafka_fatal reports and the caller handles by replacing it.)
 *
 * Callbacks, all optional (NULL) and all called from the thread that polls:
 *   revoke  before partitions are taken away
 *   held    says whether the caller holds a partition back on purpose
 *           (paused, waiting for a retry): its lag is not counted
 *   stats   every statistics.interval.ms (default: 5000, or a third of receive_stall_s if less):
 * whether the consumer is a group member with partitions, and how many records wait in the
 * partitions it holds and does not hold back
 */
typedef void (*lt_kafka_revoke_fn)(void *ctx, const rd_kafka_topic_partition_list_t *parts);
typedef int (*lt_kafka_held_fn)(void *ctx, const char *topic, int32_t partition);
typedef void (*lt_kafka_stats_fn)(void *ctx, int member, int64_t lag);
struct lt_kafka_consumer_cbs {
	lt_kafka_revoke_fn revoke;
	lt_kafka_held_fn held;
	lt_kafka_stats_fn stats;
	void *ctx;
};
rd_kafka_t *lt_kafka_consumer_new(const struct lt_config *cfg, const char *const *topics,
                                  size_t n_topics, const struct lt_kafka_consumer_cbs *cbs,
                                  lt_err *err);

/*
 * A reader of partition 0 of topic from its beginning, in no group (nothing
 * committed): for small compacted topics read whole at every start (the
 * federation directory). Destroy with lt_kafka_destroy(rk, 0).
 */
rd_kafka_t *lt_kafka_reader_new(const struct lt_config *cfg, const char *topic, lt_err *err);

/*
 * The consumer's callbacks are no longer called (it is about to be closed on
 * another thread, whose context they must not touch). Call it from the
 * thread that polls, before handing the consumer over.
 */
void lt_kafka_consumer_forget(rd_kafka_t *rk);

/* Marks a consumed message as fully handled: its offset may be committed. */
int lt_kafka_consumer_done(rd_kafka_t *rk, const rd_kafka_message_t *msg, lt_err *err);

/*
 * Pauses one partition and moves its fetch position back to offset, so the
 * record there (and those after it) come again once it is resumed.
 */
int lt_kafka_rewind(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t offset,
                    lt_err *err);

/* Stops or restarts fetching one partition (a message being retried). */
int lt_kafka_pause(rd_kafka_t *rk, const char *topic, int32_t partition, int pause, lt_err *err);

/*
 * Makes the consumer fetch the partition again at once if it stopped because
 * its queue was full. librdkafka 2.0 then waits a whole second
 * (rd_kafka_max_block_ms; fetch.queue.backoff.ms only came in 2.1) before it
 * looks at the queue again, unless a request for the partition's broker
 * wakes its thread: this sends one (a query of the partition's offsets) and
 * waits for the answer, at most timeout_ms. The broker answers a
 * connection's requests in order, so while a fetch waits there for data (up
 * to fetch.wait.max.ms, 500 ms) the answer waits behind it: call it only
 * when the fetcher may have stopped. Nothing fetched is dropped (a pause and
 * resume would drop the queue).
 */
/* A consumer's queue of prefetched records (queued.max.messages.kbytes), KiB. */
#define LT_KAFKA_PREFETCH_KB 12288

int lt_kafka_fetch_now(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms,
                       lt_err *err);

/*
 * Calls fn(ctx) from a librdkafka thread whenever a delivery report (or any
 * event) arrives for rk's rd_kafka_poll while none was waiting: the main loop
 * can sleep in another wait and still hear of reports at once. fn must be
 * thread-safe and quick. fn NULL turns it off.
 */
void lt_kafka_on_report(rd_kafka_t *rk, void (*fn)(rd_kafka_t *rk, void *ctx), void *ctx);

/*
 * Queues one message (value copied). Returns 0, or -1 with LT_EFULL when
 * librdkafka's queue is full (poll and try later) or LT_EIO otherwise.
 */
int lt_kafka_produce(rd_kafka_t *rk, const char *topic, const void *key, size_t klen,
                     const void *val, size_t vlen, void *opaque, lt_err *err);

/*
 * The same for a value lent to librdkafka (no copy of a large record): on
 * success val must stay as it is until the message's delivery report, or
 * until the handle is destroyed; on failure it was not taken.
 */
int lt_kafka_produce_lent(rd_kafka_t *rk, const char *topic, const void *key, size_t klen,
                          void *val, size_t vlen, void *opaque, lt_err *err);

/*
 * Creates topics if they do not exist (already existing is success; an
 * existing topic keeps its settings). Waits up to timeout_ms. replication
 * and min_insync (the topic's min.insync.replicas) -1 use the broker's
 * defaults.
 */
int lt_kafka_create_topics(rd_kafka_t *rk, const char *const *topics, size_t n, int partitions,
                           int replication, int min_insync, int timeout_ms, lt_err *err);

/* The same for one compacted topic of one partition (cleanup.policy=compact). */
int lt_kafka_create_compacted(rd_kafka_t *rk, const char *topic, int replication, int min_insync,
                              int timeout_ms, lt_err *err);

/*
 * Closes and destroys a handle made here. A consumer leaves its group and
 * commits its stored offsets, waiting at most close_ms for that (a dead or
 * unreachable broker must not hang the caller); after a fatal error it is
 * destroyed without closing.
 */
void lt_kafka_destroy(rd_kafka_t *rk, int close_ms);

/* One ACL: ALLOW `op` on a resource (topic, group; literal or prefixed) to a principal. */
struct lt_kafka_acl {
	rd_kafka_ResourceType_t type;
	const char *name;
	rd_kafka_ResourcePatternType_t pattern;
	const char *principal; /* User:<CN> */
	rd_kafka_AclOperation_t op;
};

/* Creates ACLs (existing ones are kept); waits up to timeout_ms. */
int lt_kafka_create_acls(rd_kafka_t *rk, const struct lt_kafka_acl *acls, size_t n, int timeout_ms,
                         lt_err *err);

/*
 * The fatal error of a handle (an idempotent producer's sequence broken, a
 * static consumer fenced), if any: 1 with err set, 0 when none. A handle
 * with a fatal error is dead and must be replaced.
 */
int lt_kafka_fatal(rd_kafka_t *rk, lt_err *err);

#endif
