#include "lt_kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../log/lt_log.h"

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
	lt_log(l, "kafka %s: %s", fac, buf);
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
	static const struct lt_kafka_kv defs[] = {
	    {"enable.idempotence", "true"},
	    {"acks", "all"},
	    {"linger.ms", "5"},
	    {"compression.type", "lz4"},
	    {"client.id", "lienthong-agent"},
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

struct lt_kafka_rb_ctx {
	lt_kafka_revoke_fn revoke;
	void *ctx;
};

static void lt_kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t code,
                                  rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct lt_kafka_rb_ctx *rb = opaque;
	if (code == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		lt_log_info("kafka: assigned %d partition(s)", parts->cnt);
		rd_kafka_assign(rk, parts);
	} else {
		lt_log_info("kafka: %d partition(s) revoked", parts->cnt);
		if (rb->revoke != NULL)
			rb->revoke(rb->ctx, parts);
		rd_kafka_assign(rk, NULL);
	}
}

rd_kafka_t *lt_kafka_consumer_new(const struct lt_config *cfg, const char *const *topics,
                                  size_t n_topics, lt_kafka_revoke_fn revoke, void *ctx,
                                  lt_err *err)
{
	/*
	 * Static membership: a restarted agent (even after kill -9) takes its
	 * partitions back at once instead of waiting for the session timeout,
	 * and a second agent started by mistake with the same configuration
	 * fences the first instead of sharing its inbox.
	 */
	char instance[LT_CODE_MAX + 32];
	snprintf(instance, sizeof instance, "lienthong-agent-%s", cfg->agency_code);
	const struct lt_kafka_kv defs[] = {
	    {"group.id", cfg->group_id},       {"group.instance.id", instance},
	    {"session.timeout.ms", "15000"},   {"auto.commit.interval.ms", "1000"},
	    {"enable.auto.commit", "true"},    {"enable.auto.offset.store", "false"},
	    {"auto.offset.reset", "earliest"}, {"client.id", "lienthong-agent"},
	};
	struct lt_kafka_rb_ctx *rb = calloc(1, sizeof *rb);
	rd_kafka_topic_partition_list_t *list = NULL;
	if (rb == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		return NULL;
	}
	rb->revoke = revoke;
	rb->ctx = ctx;
	rd_kafka_conf_t *conf = lt_kafka_conf(cfg, defs, sizeof defs / sizeof defs[0], err);
	if (conf == NULL) {
		free(rb);
		return NULL;
	}
	rd_kafka_conf_set_rebalance_cb(conf, lt_kafka_rebalance_cb);
	rd_kafka_t *rk = lt_kafka_new(RD_KAFKA_CONSUMER, conf, rb, err);
	if (rk == NULL)
		return NULL;
	rd_kafka_poll_set_consumer(rk);
	list = rd_kafka_topic_partition_list_new((int)n_topics);
	for (size_t i = 0; i < n_topics; i++)
		rd_kafka_topic_partition_list_add(list, topics[i], RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		lt_err_set(err, LT_EIO, "cannot subscribe: %s", rd_kafka_err2str(e));
		rd_kafka_destroy(rk);
		return NULL;
	}
	return rk;
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

int lt_kafka_produce(rd_kafka_t *rk, const char *topic, const void *key, size_t klen,
                     const void *val, size_t vlen, void *opaque, lt_err *err)
{
	rd_kafka_resp_err_t e = rd_kafka_producev(
	    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, klen),
	    RD_KAFKA_V_VALUE((void *)val, vlen), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
	if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		return lt_err_set(err, LT_EFULL, "Kafka producer queue full");
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		return lt_err_set(err, LT_EIO, "cannot produce to %s: %s", topic,
		                  rd_kafka_err2str(e));
	return 0;
}

int lt_kafka_create_topics(rd_kafka_t *rk, const char *const *topics, size_t n, int partitions,
                           int replication, int timeout_ms, lt_err *err)
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
	lt_err_set(err, LT_EIO, "Kafka producer fatal error %s: %s", rd_kafka_err2name(e), buf);
	return 1;
}

void lt_kafka_destroy(rd_kafka_t *rk)
{
	if (rk == NULL)
		return;
	void *opaque = rd_kafka_opaque(rk);
	if (rd_kafka_type(rk) == RD_KAFKA_CONSUMER)
		rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	free(opaque);
}
