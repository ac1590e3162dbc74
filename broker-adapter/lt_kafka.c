#include "lt_kafka.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../clock/lt_clock.h"
#include "../log/lt_log.h"

#define LT_KAFKA_STR(x) LT_KAFKA_STR2(x)
#define LT_KAFKA_STR2(x) #x
#define LT_KAFKA_KNOWN 4096          /* topics a producer remembers having looked up */
#define LT_KAFKA_LOOKUP_MS 200       /* longest wait for a topic's partitions */
#define LT_KAFKA_LOOKUP_OFF_MS 10000 /* after a lookup failed, none for this long */

struct lt_kafka_kv {
	const char *key;
	const char *value;
};

static int lt_kafka_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                        const char *origin, lt_err *err)
{
	char errstr[512];
	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
		return lt_err_set(err, LT_EINVAL, "%s: kafka.%s = %s: %s", origin, key, value,
		                  errstr);
	return 0;
}

static void lt_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	enum lt_log_level l = level <= 3 ? LT_LOG_ERROR : level <= 5 ? LT_LOG_WARN : LT_LOG_DEBUG;
	lt_log_kv(l, (const char *const[]){"component", "kafka", "facility", fac, NULL},
	          "kafka %s: %s", fac, buf);
}

/* Broker-level errors: each kind logged once until it changes, not per retry. */
static void lt_kafka_error_cb(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
	static __thread int last_code;
	(void)opaque;
	if (code == RD_KAFKA_RESP_ERR__FATAL) {
		char buf[512];
		rd_kafka_fatal_error(rk, buf, sizeof buf);
		lt_log_error("kafka fatal error: %s", buf);
		return;
	}
	lt_log(code == last_code ? LT_LOG_DEBUG : LT_LOG_WARN, "kafka: %s (%s)", reason,
	       rd_kafka_err2name((rd_kafka_resp_err_t)code));
	last_code = code;
}

/* Defaults, then the operator's kafka.* settings, which win. */
static rd_kafka_conf_t *lt_kafka_conf(const struct lt_config *cfg, const struct lt_kafka_kv *defs,
                                      size_t n_defs, lt_err *err)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char max_bytes[32];
	snprintf(max_bytes, sizeof max_bytes, "%lld", (long long)cfg->max_message_bytes + 65536);
	if (lt_kafka_set(conf, "bootstrap.servers", "127.0.0.1:9092", "defaults", err) != 0 ||
	    lt_kafka_set(conf, "message.max.bytes", max_bytes, "defaults", err) != 0)
		goto fail;
	for (size_t i = 0; i < n_defs; i++) {
		if (lt_kafka_set(conf, defs[i].key, defs[i].value, "defaults", err) != 0)
			goto fail;
	}
	for (size_t i = 0; i < cfg->n_kafka; i++) {
		if (lt_kafka_set(conf, cfg->kafka[i].key, cfg->kafka[i].value, cfg->path, err) != 0)
			goto fail;
	}
	rd_kafka_conf_set_log_cb(conf, lt_kafka_log_cb);
	rd_kafka_conf_set_error_cb(conf, lt_kafka_error_cb);
	return conf;
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

/*
 * Creates the handle; it owns conf and opaque (freed by lt_kafka_destroy).
 * On failure both are released here.
 */
static rd_kafka_t *lt_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, void *opaque,
                                lt_err *err)
{
	char errstr[512];
	rd_kafka_conf_set_opaque(conf, opaque);
	rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
	if (rk == NULL) {
		rd_kafka_conf_destroy(conf);
		free(opaque);
		lt_err_set(err, LT_EINVAL, "cannot create Kafka %s: %s",
		           type == RD_KAFKA_PRODUCER ? "producer" : "consumer", errstr);
	}
	return rk;
}

struct lt_kafka_dr_ctx {
	lt_kafka_dr_fn fn;
	void *ctx;
	uint64_t known[LT_KAFKA_KNOWN]; /* hash set of topics looked up (lt_kafka_lookup), 0 free */
	size_t n_known;
	int64_t lookup_off_until_ms; /* a lookup failed (broker down?): none before */
};

static void lt_kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	struct lt_kafka_dr_ctx *d = opaque;
	d->fn(d->ctx, m->_private, m->err, m->partition, m->offset);
}

rd_kafka_t *lt_kafka_producer_new(const struct lt_config *cfg, lt_kafka_dr_fn dr, void *ctx,
                                  lt_err *err)
{
	/*
	 * Memory: librdkafka keeps every message until its report, up to
	 * queue.buffering.max.kbytes (default 1 GiB); 16 MiB holds the
	 * forwarder's chunk window (8 MiB, producers/lt_forward.h) and as much
	 * for small records, and a full queue only makes the forwarder wait.
	 * batch.size stays librdkafka's 1,000,000 bytes: below the broker's own
	 * default limit on a batch (message.max.bytes 1,048,588), and a record
	 * larger than it (up to max_message_bytes) goes alone in its batch, so a
	 * batch buffer and its compressed copy cost about one record each. Not
	 * raised with max_message_bytes: batches of several records would then
	 * pass the broker's limit ("Message size too large").
	 */
	static const struct lt_kafka_kv defs[] = {
	    {"enable.idempotence", "true"},
	    {"acks", "all"},
	    {"linger.ms", "5"},
	    {"compression.type", "lz4"},
	    {"client.id", "lienthong-agent"},
	    {"queue.buffering.max.kbytes", "16384"},
	};
	struct lt_kafka_dr_ctx *d = calloc(1, sizeof *d);
	if (d == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		return NULL;
	}
	d->fn = dr;
	d->ctx = ctx;
	rd_kafka_conf_t *conf = lt_kafka_conf(cfg, defs, sizeof defs / sizeof defs[0], err);
	if (conf == NULL) {
		free(d);
		return NULL;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, lt_kafka_dr_cb);
	return lt_kafka_new(RD_KAFKA_PRODUCER, conf, d, err);
}

static void lt_kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t code,
                                  rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct lt_kafka_consumer_cbs *cbs = opaque;
	if (code == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		lt_log_info("kafka: assigned %d partition(s)", parts->cnt);
		rd_kafka_assign(rk, parts);
	} else {
		lt_log_info("kafka: %d partition(s) revoked", parts->cnt);
		if (cbs->revoke != NULL)
			cbs->revoke(cbs->ctx, parts);
		rd_kafka_assign(rk, NULL);
	}
}

/* Records waiting in one partition of the statistics, or 0 when unknown. */
static int64_t lt_kafka_partition_lag(json_t *p)
{
	json_int_t stored = json_integer_value(json_object_get(p, "consumer_lag_stored"));
	json_int_t committed = json_integer_value(json_object_get(p, "consumer_lag"));
	return stored > 0 ? (int64_t)stored : committed > 0 ? (int64_t)committed : 0;
}

/*
 * statistics.interval.ms: membership from "cgrp" (state "up" with partitions
 * assigned), lag summed over the partitions the consumer holds ("desired")
 * and the caller does not hold back. See librdkafka's STATISTICS.md.
 */
static int lt_kafka_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	struct lt_kafka_consumer_cbs *cbs = opaque;
	(void)rk;
	if (cbs->stats == NULL)
		return 0;
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr);
	if (root == NULL) {
		lt_log_warn("kafka: unreadable consumer statistics: %s", jerr.text);
		return 0;
	}
	json_t *cgrp = json_object_get(root, "cgrp");
	const char *state = json_string_value(json_object_get(cgrp, "state"));
	int member = state != NULL && strcmp(state, "up") == 0 &&
	             json_integer_value(json_object_get(cgrp, "assignment_size")) > 0;
	int64_t lag = 0;
	const char *topic;
	json_t *t;
	json_object_foreach(json_object_get(root, "topics"), topic, t)
	{
		const char *key;
		json_t *p;
		json_object_foreach(json_object_get(t, "partitions"), key, p)
		{
			json_int_t part = json_integer_value(json_object_get(p, "partition"));
			if (part < 0 || !json_is_true(json_object_get(p, "desired")) ||
			    (cbs->held != NULL && cbs->held(cbs->ctx, topic, (int32_t)part)))
				continue;
			lag += lt_kafka_partition_lag(p);
		}
	}
	json_decref(root);
	cbs->stats(cbs->ctx, member, lag);
	return 0;
}

rd_kafka_t *lt_kafka_consumer_new(const struct lt_config *cfg, const char *const *topics,
                                  size_t n_topics, const struct lt_kafka_consumer_cbs *cbs,
                                  lt_err *err)
{
	/* Statistics feed the caller's watch: at least three per receive_stall_s. */
	char stats_ms[32], fetch_max[32], part_max[32];
	int64_t every = cfg->receive_stall_s * 1000 / 3;
	snprintf(stats_ms, sizeof stats_ms, "%lld", (long long)(every < 5000 ? every : 5000));
	/*
	 * Memory (librdkafka's defaults prefetch up to 64 MiB and fetch 50 MiB at
	 * once): at most LT_KAFKA_PREFETCH_KB queued, one fetch of at most 4 MiB
	 * (also of one partition); a fetch must still hold the largest record.
	 * librdkafka 2.0 pauses fetching for about a second whenever the queue
	 * is over its ceiling (the receiver restarts it: lt_kafka_fetch_now), so
	 * the queue is three fetches deep: with 4 MiB queued and 2 MiB a fetch,
	 * large documents crossed at a quarter of the rate (measured before the
	 * restart: 1 GiB in 75 s instead of 19 s). 16 MiB left a receiving agent
	 * within 2 MiB of its 64 MiB bound moving 2 GiB (tests/long/large_2g.sh).
	 */
	int64_t record_max = cfg->max_message_bytes + 65536;
	snprintf(fetch_max, sizeof fetch_max, "%lld",
	         (long long)(record_max > (4 << 20) ? record_max : (4 << 20)));
	snprintf(part_max, sizeof part_max, "%lld",
	         (long long)(record_max > (4 << 20) ? record_max : (4 << 20)));
	const struct lt_kafka_kv defs[] = {
	    {"queued.max.messages.kbytes", LT_KAFKA_STR(LT_KAFKA_PREFETCH_KB)},
	    {"fetch.max.bytes", fetch_max},
	    {"max.partition.fetch.bytes", part_max},
	    {"group.id", cfg->group_id},
	    {"session.timeout.ms", "15000"},
	    {"auto.commit.interval.ms", "1000"},
	    {"enable.auto.commit", "true"},
	    {"enable.auto.offset.store", "false"},
	    {"auto.offset.reset", "earliest"},
	    {"statistics.interval.ms", stats_ms},
	    /* A subscribed topic the broker did not know yet (created a moment
	     * before, its metadata not yet everywhere) is looked up again within
	     * 10 s, not after librdkafka's default 5 minutes. */
	    {"topic.metadata.refresh.interval.ms", "10000"},
	    {"client.id", "lienthong-agent"},
	};
	struct lt_kafka_consumer_cbs *own = calloc(1, sizeof *own);
	rd_kafka_topic_partition_list_t *list = NULL;
	if (own == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		return NULL;
	}
	if (cbs != NULL)
		*own = *cbs;
	rd_kafka_conf_t *conf = lt_kafka_conf(cfg, defs, sizeof defs / sizeof defs[0], err);
	if (conf == NULL) {
		free(own);
		return NULL;
	}
	rd_kafka_conf_set_rebalance_cb(conf, lt_kafka_rebalance_cb);
	rd_kafka_conf_set_stats_cb(conf, lt_kafka_stats_cb);
	rd_kafka_t *rk = lt_kafka_new(RD_KAFKA_CONSUMER, conf, own, err);
	if (rk == NULL)
		return NULL;
	rd_kafka_poll_set_consumer(rk);
	if (n_topics == 0)
		return rk; /* the caller subscribes (rd_kafka_subscribe) */
	list = rd_kafka_topic_partition_list_new((int)n_topics);
	for (size_t i = 0; i < n_topics; i++)
		rd_kafka_topic_partition_list_add(list, topics[i], RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		lt_err_set(err, LT_EIO, "cannot subscribe: %s", rd_kafka_err2str(e));
		lt_kafka_destroy(rk, 0);
		return NULL;
	}
	return rk;
}

rd_kafka_t *lt_kafka_reader_new(const struct lt_config *cfg, const char *topic, lt_err *err)
{
	const struct lt_kafka_kv defs[] = {
	    {"queued.max.messages.kbytes", "1024"},
	    {"enable.auto.commit", "false"},
	    {"enable.auto.offset.store", "false"},
	    {"client.id", "lienthong-reader"},
	};
	rd_kafka_conf_t *conf = lt_kafka_conf(cfg, defs, sizeof defs / sizeof defs[0], err);
	if (conf == NULL)
		return NULL;
	/* Assigned its partition, never joining or committing: the group only names it. */
	char group[sizeof cfg->group_id + 16];
	snprintf(group, sizeof group, "%s.reader", cfg->group_id);
	if (lt_kafka_set(conf, "group.id", group, "defaults", err) != 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	void *own = calloc(1, sizeof(struct lt_kafka_consumer_cbs));
	if (own == NULL) {
		rd_kafka_conf_destroy(conf);
		lt_err_set(err, LT_EIO, "out of memory");
		return NULL;
	}
	rd_kafka_t *rk = lt_kafka_new(RD_KAFKA_CONSUMER, conf, own, err);
	if (rk == NULL)
		return NULL;
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(list, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_resp_err_t e = rd_kafka_assign(rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		lt_err_set(err, LT_EIO, "cannot read %s: %s", topic, rd_kafka_err2str(e));
		lt_kafka_destroy(rk, 0);
		return NULL;
	}
	return rk;
}

void lt_kafka_consumer_forget(rd_kafka_t *rk)
{
	struct lt_kafka_consumer_cbs *cbs = rd_kafka_opaque(rk);
	*cbs = (struct lt_kafka_consumer_cbs){0};
}

int lt_kafka_consumer_done(rd_kafka_t *rk, const rd_kafka_message_t *msg, lt_err *err)
{
	(void)rk;
	rd_kafka_resp_err_t e = rd_kafka_offset_store(msg->rkt, msg->partition, msg->offset);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		return lt_err_set(err, LT_EIO, "cannot store offset %s [%d] @ %lld: %s",
		                  rd_kafka_topic_name(msg->rkt), (int)msg->partition,
		                  (long long)msg->offset, rd_kafka_err2str(e));
	return 0;
}

int lt_kafka_pause(rd_kafka_t *rk, const char *topic, int32_t partition, int pause, lt_err *err)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(list, topic, partition);
	rd_kafka_resp_err_t e =
	    pause ? rd_kafka_pause_partitions(rk, list) : rd_kafka_resume_partitions(rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		return lt_err_set(err, LT_EIO, "cannot %s %s [%d]: %s", pause ? "pause" : "resume",
		                  topic, (int)partition, rd_kafka_err2str(e));
	return 0;
}

int lt_kafka_fetch_now(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms,
                       lt_err *err)
{
	int64_t low, high;
	rd_kafka_resp_err_t e =
	    rd_kafka_query_watermark_offsets(rk, topic, partition, &low, &high, timeout_ms);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		return lt_err_set(err, LT_EIO, "cannot query the offsets of %s [%d]: %s", topic,
		                  (int)partition, rd_kafka_err2str(e));
	return 0;
}

void lt_kafka_on_report(rd_kafka_t *rk, void (*fn)(rd_kafka_t *rk, void *ctx), void *ctx)
{
	rd_kafka_queue_t *q = rd_kafka_queue_get_main(rk);
	rd_kafka_queue_cb_event_enable(q, fn, ctx);
	rd_kafka_queue_destroy(q);
}

int lt_kafka_rewind(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t offset,
                    lt_err *err)
{
	if (lt_kafka_pause(rk, topic, partition, 1, err) != 0)
		return -1;
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(list, topic, partition)->offset = offset;
	rd_kafka_error_t *e = rd_kafka_seek_partitions(rk, list, 5000);
	int rc = 0;
	if (e != NULL) {
		rc = lt_err_set(err, LT_EIO, "cannot rewind %s [%d] to %lld: %s", topic,
		                (int)partition, (long long)offset, rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	} else if (list->elems[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rc = lt_err_set(err, LT_EIO, "cannot rewind %s [%d] to %lld: %s", topic,
		                (int)partition, (long long)offset,
		                rd_kafka_err2str(list->elems[0].err));
	}
	rd_kafka_topic_partition_list_destroy(list);
	return rc;
}

/*
 * librdkafka 2.0 asks for the partitions of a topic it has not produced to
 * only at its next periodic scan, up to a second later: the first records
 * for each new recipient would wait that long (measured: 0.74 s). They are
 * asked for at once instead, the first time a producer sees the topic (one
 * round trip). A lookup that fails (broker unreachable) stops lookups for
 * LT_KAFKA_LOOKUP_OFF_MS, so the caller's loop never waits long for them;
 * librdkafka's own scan then finds the topics.
 */
static void lt_kafka_lookup(rd_kafka_t *rk, const char *topic)
{
	struct lt_kafka_dr_ctx *d = rd_kafka_opaque(rk);
	uint64_t h = 1469598103934665603ull;
	for (const char *c = topic; *c != '\0'; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ull;
	h |= 1; /* never 0, a free slot */
	size_t i = (size_t)h & (LT_KAFKA_KNOWN - 1);
	while (d->known[i] != 0 && d->known[i] != h)
		i = (i + 1) & (LT_KAFKA_KNOWN - 1);
	int64_t now = lt_mono_ms();
	/* Known, or the set three quarters full (librdkafka's scan finds the rest). */
	if (d->known[i] == h || d->n_known >= LT_KAFKA_KNOWN / 4 * 3 ||
	    now < d->lookup_off_until_ms)
		return;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	if (rkt != NULL &&
	    rd_kafka_metadata(rk, 0, rkt, &md, LT_KAFKA_LOOKUP_MS) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		rd_kafka_metadata_destroy(md);
		d->known[i] = h;
		d->n_known++;
	} else {
		d->lookup_off_until_ms = now + LT_KAFKA_LOOKUP_OFF_MS;
	}
	if (rkt != NULL)
		rd_kafka_topic_destroy(rkt);
}

static int lt_kafka_producev(rd_kafka_t *rk, const char *topic, const void *key, size_t klen,
                             void *val, size_t vlen, int flags, void *opaque, lt_err *err)
{
	lt_kafka_lookup(rk, topic);
	rd_kafka_resp_err_t e = rd_kafka_producev(
	    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE(val, vlen),
	    RD_KAFKA_V_MSGFLAGS(flags), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
	if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		return lt_err_set(err, LT_EFULL, "Kafka producer queue full");
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		return lt_err_set(err, LT_EIO, "cannot produce to %s: %s", topic,
		                  rd_kafka_err2str(e));
	return 0;
}

int lt_kafka_produce(rd_kafka_t *rk, const char *topic, const void *key, size_t klen,
                     const void *val, size_t vlen, void *opaque, lt_err *err)
{
	return lt_kafka_producev(rk, topic, key, klen, (void *)val, vlen, RD_KAFKA_MSG_F_COPY,
	                         opaque, err);
}

int lt_kafka_produce_lent(rd_kafka_t *rk, const char *topic, const void *key, size_t klen,
                          void *val, size_t vlen, void *opaque, lt_err *err)
{
	return lt_kafka_producev(rk, topic, key, klen, val, vlen, 0, opaque, err);
}

static int lt_kafka_create(rd_kafka_t *rk, const char *const *topics, size_t n, int partitions,
                           int replication, int min_insync, int compact, int timeout_ms,
                           lt_err *err)
{
	rd_kafka_NewTopic_t **nt = calloc(n, sizeof *nt);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *opts =
	    rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_event_t *ev = NULL;
	char errstr[512];
	int rc = -1;
	if (nt == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		goto out;
	}
	rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, errstr, sizeof errstr);
	rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr, sizeof errstr);
	for (size_t i = 0; i < n; i++) {
		nt[i] = rd_kafka_NewTopic_new(topics[i], partitions, replication, errstr,
		                              sizeof errstr);
		if (nt[i] == NULL) {
			lt_err_set(err, LT_EINVAL, "topic %s: %s", topics[i], errstr);
			goto out;
		}
		char isr[16];
		snprintf(isr, sizeof isr, "%d", min_insync);
		if (min_insync > 0 &&
		    rd_kafka_NewTopic_set_config(nt[i], "min.insync.replicas", isr) !=
		        RD_KAFKA_RESP_ERR_NO_ERROR) {
			lt_err_set(err, LT_EINVAL, "topic %s: cannot set min.insync.replicas %s",
			           topics[i], isr);
			goto out;
		}
		if (compact && rd_kafka_NewTopic_set_config(nt[i], "cleanup.policy", "compact") !=
		                   RD_KAFKA_RESP_ERR_NO_ERROR) {
			lt_err_set(err, LT_EINVAL, "topic %s: cannot ask for compaction",
			           topics[i]);
			goto out;
		}
	}
	rd_kafka_CreateTopics(rk, nt, n, opts, q);
	ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
	if (ev == NULL) {
		lt_err_set(err, LT_EAGAIN, "creating topics timed out after %d ms (broker down?)",
		           timeout_ms);
		goto out;
	}
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		lt_err_set(err, LT_EAGAIN, "creating topics: %s", rd_kafka_event_error_string(ev));
		goto out;
	}
	const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
	size_t cnt = 0;
	const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
	for (size_t i = 0; i < cnt; i++) {
		rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
		if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS || e == RD_KAFKA_RESP_ERR_NO_ERROR)
			continue;
		lt_err_set(err,
		           (e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
		            e == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED)
		               ? LT_EINVAL
		               : LT_EAGAIN,
		           "creating topic %s: %s", rd_kafka_topic_result_name(tr[i]),
		           rd_kafka_topic_result_error_string(tr[i])
		               ? rd_kafka_topic_result_error_string(tr[i])
		               : rd_kafka_err2str(e));
		goto out;
	}
	rc = 0;
out:
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	if (nt != NULL) {
		for (size_t i = 0; i < n; i++)
			if (nt[i] != NULL)
				rd_kafka_NewTopic_destroy(nt[i]);
		free(nt);
	}
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_queue_destroy(q);
	return rc;
}

int lt_kafka_create_topics(rd_kafka_t *rk, const char *const *topics, size_t n, int partitions,
                           int replication, int min_insync, int timeout_ms, lt_err *err)
{
	return lt_kafka_create(rk, topics, n, partitions, replication, min_insync, 0, timeout_ms,
	                       err);
}

int lt_kafka_create_compacted(rd_kafka_t *rk, const char *topic, int replication, int min_insync,
                              int timeout_ms, lt_err *err)
{
	return lt_kafka_create(rk, &topic, 1, 1, replication, min_insync, 1, timeout_ms, err);
}

int lt_kafka_create_acls(rd_kafka_t *rk, const struct lt_kafka_acl *acls, size_t n, int timeout_ms,
                         lt_err *err)
{
	rd_kafka_AclBinding_t **b = calloc(n, sizeof *b);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATEACLS);
	rd_kafka_event_t *ev = NULL;
	char errstr[512];
	int rc = -1;
	if (b == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		goto out;
	}
	rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr, sizeof errstr);
	for (size_t i = 0; i < n; i++) {
		b[i] = rd_kafka_AclBinding_new(
		    acls[i].type, acls[i].name, acls[i].pattern, acls[i].principal, "*", acls[i].op,
		    RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, errstr, sizeof errstr);
		if (b[i] == NULL) {
			lt_err_set(err, LT_EINVAL, "ACL for %s on %s: %s", acls[i].principal,
			           acls[i].name, errstr);
			goto out;
		}
	}
	rd_kafka_CreateAcls(rk, b, n, opts, q);
	ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
	if (ev == NULL || rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		lt_err_set(err, LT_EAGAIN, "creating ACLs: %s",
		           ev ? rd_kafka_event_error_string(ev) : "timed out (broker down?)");
		goto out;
	}
	size_t cnt = 0;
	const rd_kafka_acl_result_t **res =
	    rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(ev), &cnt);
	for (size_t i = 0; i < cnt; i++) {
		const rd_kafka_error_t *e = rd_kafka_acl_result_error(res[i]);
		if (e != NULL) {
			lt_err_set(err, LT_EINVAL, "ACL %zu for %s: %s", i + 1,
			           i < n ? acls[i].principal : "?", rd_kafka_error_string(e));
			goto out;
		}
	}
	rc = 0;
out:
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	for (size_t i = 0; b != NULL && i < n; i++)
		if (b[i] != NULL)
			rd_kafka_AclBinding_destroy(b[i]);
	free(b);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_queue_destroy(q);
	return rc;
}

int lt_kafka_fatal(rd_kafka_t *rk, lt_err *err)
{
	char buf[512];
	rd_kafka_resp_err_t e = rd_kafka_fatal_error(rk, buf, sizeof buf);
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	lt_err_set(err, LT_EIO, "Kafka %s fatal error %s: %s",
	           rd_kafka_type(rk) == RD_KAFKA_PRODUCER ? "producer" : "consumer",
	           rd_kafka_err2name(e), buf);
	return 1;
}

/* Leaves the group and commits stored offsets, serving callbacks, for at most close_ms. */
static void lt_kafka_close(rd_kafka_t *rk, int close_ms)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_error_t *e = rd_kafka_consumer_close_queue(rk, q);
	if (e != NULL) {
		lt_log_warn("kafka: cannot close the consumer: %s", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	} else {
		/*
		 * Served as events, as librdkafka's own close does: a rebalance goes to
		 * the handler, anything else (a fetched message) is dropped. (Serving
		 * callbacks here aborts on such a message.)
		 */
		int64_t until = lt_mono_ms() + close_ms;
		while (!rd_kafka_consumer_closed(rk) && lt_mono_ms() < until) {
			rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);
			if (ev == NULL)
				continue;
			if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
				lt_kafka_rebalance_cb(rk, rd_kafka_event_error(ev),
				                      rd_kafka_event_topic_partition_list(ev),
				                      rd_kafka_opaque(rk));
			rd_kafka_event_destroy(ev);
		}
		if (!rd_kafka_consumer_closed(rk))
			lt_log_warn("kafka: the consumer did not close within %d ms (broker "
			            "unreachable?); its stored offsets may not be committed: those "
			            "records are read again, and not delivered twice",
			            close_ms);
	}
	rd_kafka_queue_destroy(q);
}

void lt_kafka_destroy(rd_kafka_t *rk, int close_ms)
{
	if (rk == NULL)
		return;
	void *opaque = rd_kafka_opaque(rk);
	int flags = 0;
	if (rd_kafka_type(rk) == RD_KAFKA_CONSUMER) {
		if (rd_kafka_fatal_error(rk, NULL, 0) == RD_KAFKA_RESP_ERR_NO_ERROR && close_ms > 0)
			lt_kafka_close(rk, close_ms);
		flags = RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE;
	}
	rd_kafka_destroy_flags(rk, flags);
	free(opaque);
}
