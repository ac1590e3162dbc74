/*
 * Unit tests of the forwarder (producers/lt_forward.c) and the Kafka
 * adapter against librdkafka's mock cluster: a fatal producer error, provoked
 * with rd_kafka_test_fatal_error while records are in flight, makes the
 * forwarder replace its producer, and every outbox record still reaches the
 * topic (read back from the mock cluster) and leaves the outbox; a consumer
 * closed with fetched records still in its queue closes cleanly.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../../broker-adapter/lt_kafka.h"
#include "../../clock/lt_clock.h"
#include "../../log/lt_log.h"
#include "../../producers/lt_forward.h"
#include "lt_check.h"
#include "lt_testpki.h"

#define N 50
#define TOPIC "lienthong.receipts.B.1"

static char tmp[PATH_MAX];
static char bootstraps[256];

static void enqueue(struct lt_store *s, int from, int count)
{
	struct lt_txn *t = NULL;
	lt_err err;
	if (!CHECK_OK(lt_txn_begin(s, 1, &t, &err), err))
		return;
	for (int i = from; i < from + count; i++) {
		char payload[32];
		int len = snprintf(payload, sizeof payload, "receipt-%d", i);
		CHECK_OK(lt_outq_add(t, LIENTHONG__STORE__OUT_KIND__OUT_RECEIPT,
		                     "01a2214a-2c8c-79f1-bea3-66a211fab3d8", "B.1",
		                     (const uint8_t *)payload, (size_t)len, lt_now_ms(), &err),
		         err);
	}
	CHECK_OK(lt_txn_commit(t, &err), err);
}

static uint64_t outq_count(struct lt_store *s)
{
	struct lt_txn *t = NULL;
	uint64_t n = UINT64_MAX;
	lt_err err;
	if (lt_txn_begin(s, 0, &t, &err) == 0) {
		lt_txn_count(t, LT_DB_OUTQ, &n, &err);
		lt_txn_abort(t);
	}
	return n;
}

/* Ticks until the outbox is empty or 30 s passed. */
static int drain(struct lt_forward *fw, struct lt_store *s)
{
	lt_err err;
	int64_t until = lt_now_ms() + 30000;
	while (outq_count(s) != 0 && lt_now_ms() < until) {
		if (lt_forward_tick(fw, lt_now_ms(), &err) != 0)
			fprintf(stderr, "tick: %s\n", err.msg);
		nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
	}
	return outq_count(s) == 0;
}

/* Reads the topic back; counts distinct "receipt-i" payloads 0 <= i < max. */
static int distinct_records(int max)
{
	char errstr[256];
	unsigned char seen[2 * N] = {0};
	int distinct = 0;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, errstr, sizeof errstr);
	rd_kafka_conf_set(conf, "group.id", "test-forward", errstr, sizeof errstr);
	rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
	if (c == NULL)
		return -1;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, TOPIC, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(c, l);
	rd_kafka_topic_partition_list_destroy(l);
	int64_t quiet_until = lt_now_ms() + 5000;
	while (lt_now_ms() < quiet_until) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
		if (m == NULL)
			continue;
		int i = -1;
		if (m->err == 0 && m->len < 32) {
			char buf[32];
			memcpy(buf, m->payload, m->len);
			buf[m->len] = '\0';
			if (sscanf(buf, "receipt-%d", &i) != 1)
				i = -1;
		}
		if (i >= 0 && i < max && !seen[i]) {
			seen[i] = 1;
			distinct++;
		}
		if (m->err == 0)
			quiet_until = lt_now_ms() + 2000;
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
	return distinct;
}

static void test_fatal_error_replaces_producer(void)
{
	struct lt_config cfg;
	struct lt_store *store = NULL;
	struct lt_forward *fw = NULL;
	lt_err err;
	char text[1024];
	snprintf(text, sizeof text,
	         "agency_code = A.1\n"
	         "data_dir = %s/data\n"
	         "key_file = /k.pem\ncert_file = /c.pem\nca_file = /ca.pem\n"
	         "poll_interval_ms = 10\n"
	         "retry_backoff_min_ms = 10\nretry_backoff_max_ms = 200\n"
	         "kafka.bootstrap.servers = %s\n",
	         tmp, bootstraps);
	if (!CHECK_OK(lt_config_parse(&cfg, "cfg", text, strlen(text), &err), err))
		return;
	if (!CHECK_OK(lt_store_open(&store, cfg.data_dir, cfg.lmdb_map_size, &err), err))
		goto out;
	fw = lt_forward_new(&cfg, store, &err);
	if (!CHECK_OK(fw == NULL ? -1 : 0, err))
		goto out;

	enqueue(store, 0, N);
	CHECK(drain(fw, store));
	CHECK(lt_forward_renewals(fw) == 0);

	/* The next records are handed to the producer, then it dies. */
	enqueue(store, N, N);
	CHECK_OK(lt_forward_tick(fw, lt_now_ms(), &err), err);
	CHECK(rd_kafka_test_fatal_error(lt_forward_producer(fw),
	                                RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
	                                "provoked by test_forward") == RD_KAFKA_RESP_ERR_NO_ERROR);
	CHECK(drain(fw, store));
	CHECK(lt_forward_renewals(fw) == 1);
	CHECK(distinct_records(2 * N) == 2 * N);
out:
	lt_forward_free(fw, 1000);
	lt_store_close(store);
	lt_config_free(&cfg);
}

static int assigned;
static void ignore_dr(void *ctx, void *opaque, rd_kafka_resp_err_t err, int32_t partition,
                      int64_t offset)
{
	(void)ctx, (void)opaque, (void)err, (void)partition, (void)offset;
}

static void on_stats(void *ctx, int member, int64_t lag)
{
	(void)ctx;
	(void)lag;
	assigned |= member;
}

/* Closing a consumer whose queue holds fetched records (the agent stopping mid-batch). */
static void test_close_with_fetched_records(void)
{
	struct lt_config cfg;
	lt_err err;
	char text[1024];
	snprintf(text, sizeof text,
	         "agency_code = B.1\n"
	         "data_dir = %s/data-b\n"
	         "key_file = /k.pem\ncert_file = /c.pem\nca_file = /ca.pem\n"
	         "receive_stall_s = 6\n"
	         "kafka.bootstrap.servers = %s\n",
	         tmp, bootstraps);
	if (!CHECK_OK(lt_config_parse(&cfg, "cfg", text, strlen(text), &err), err))
		return;
	const char *topics[] = {TOPIC};
	const struct lt_kafka_consumer_cbs cbs = {.stats = on_stats};
	rd_kafka_t *c = lt_kafka_consumer_new(&cfg, topics, 1, &cbs, &err);
	if (!CHECK_OK(c == NULL ? -1 : 0, err))
		goto out;
	/* Joined (served through poll), then records fetched but not taken. */
	int64_t until = lt_now_ms() + 20000;
	while (!assigned && lt_now_ms() < until) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
		if (m != NULL)
			rd_kafka_message_destroy(m);
	}
	CHECK(assigned);
	rd_kafka_t *p = lt_kafka_producer_new(&cfg, ignore_dr, NULL, &err);
	if (CHECK_OK(p == NULL ? -1 : 0, err)) {
		for (int i = 0; i < 20; i++)
			lt_kafka_produce(p, TOPIC, "k", 1, "late", 4, NULL, &err);
		rd_kafka_flush(p, 5000);
		lt_kafka_destroy(p, 0);
	}
	nanosleep(&(struct timespec){.tv_sec = 2}, NULL); /* the fetcher queues them */
	lt_kafka_destroy(c, 3000);                        /* aborted here before the fix */
	CHECK(1);
out:
	lt_config_free(&cfg);
}

int main(void)
{
	char errstr[256];
	lt_log_set_level(LT_LOG_ERROR);
	if (lt_tmpdir_new(tmp, sizeof tmp) != 0)
		return 1;
	rd_kafka_t *host =
	    rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), errstr, sizeof errstr);
	rd_kafka_mock_cluster_t *mc = host ? rd_kafka_mock_cluster_new(host, 1) : NULL;
	if (mc == NULL) {
		fprintf(stderr, "cannot start librdkafka's mock cluster\n");
		return 1;
	}
	snprintf(bootstraps, sizeof bootstraps, "%s", rd_kafka_mock_cluster_bootstraps(mc));
	rd_kafka_mock_topic_create(mc, TOPIC, 1, 1);
	LT_RUN(test_fatal_error_replaces_producer);
	LT_RUN(test_close_with_fetched_records);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(host);
	lt_tmpdir_remove(tmp);
	return lt_check_summary();
}
