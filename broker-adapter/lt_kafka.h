/*
 * lt_kafka: everything that talks to Kafka, through librdkafka.
 *
 * Configuration: lienthong's defaults first (idempotent producer, acks=all,
 * linger, explicit offset storage for consumers), then every kafka.* setting
 * of the configuration file, unchanged, so an operator can override any of
 * them (kcat -X style). librdkafka errors are translated to lt_err here.
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
 * Consumer in cfg->group_id, subscribed to the given topics, offsets stored
 * only by the caller (lt_kafka_consumer_done) and committed in the
 * background. revoke (may be NULL) is called before partitions are taken away.
 */
typedef void (*lt_kafka_revoke_fn)(void *ctx, const rd_kafka_topic_partition_list_t *parts);
rd_kafka_t *lt_kafka_consumer_new(const struct lt_config *cfg, const char *const *topics,
                                  size_t n_topics, lt_kafka_revoke_fn revoke, void *ctx,
                                  lt_err *err);

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
 * Queues one message (value copied). Returns 0, or -1 with LT_EFULL when
 * librdkafka's queue is full (poll and try later) or LT_EIO otherwise.
 */
int lt_kafka_produce(rd_kafka_t *rk, const char *topic, const void *key, size_t klen,
                     const void *val, size_t vlen, void *opaque, lt_err *err);

/*
 * Creates topics if they do not exist (already existing is success). Waits
 * up to timeout_ms. replication -1 uses the broker's default.
 */
int lt_kafka_create_topics(rd_kafka_t *rk, const char *const *topics, size_t n, int partitions,
                           int replication, int timeout_ms, lt_err *err);

/* Closes (consumers commit their stored offsets) and destroys a handle made here. */
void lt_kafka_destroy(rd_kafka_t *rk);

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

/* The fatal error of an idempotent producer, if any (0 when none). */
int lt_kafka_fatal(rd_kafka_t *rk, lt_err *err);

#endif
