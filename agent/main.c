/*
 * lienthong-agent: the daemon of one agency.
 *
 * Sending side: forwards the LMDB outbox (documents submitted with
 * lienthong-upload, receipts issued here) to Kafka and records `sent`.
 * Receiving side: consumes the agency's inbox topic, verifies each document
 * and delivers it once to target_dir, answering with a signed receipt; and
 * consumes the agency's receipt topic, updating the status of what it sent.
 *
 * Security stance: trusts its configuration file, its key, and the CAs in
 * ca_file. Trusts nothing read from Kafka: every record is bounded, decoded,
 * verified against ca_file and checked for address, expiry and replay before
 * anything reaches the target folder; failures go to the quarantine.
 *
 * One thread runs the loop below; librdkafka runs its own threads inside.
 * SIGTERM and SIGINT stop it cleanly: in-flight records get a few seconds to
 * be acknowledged, everything else stays in the outbox for the next start.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../broker-adapter/lt_kafka.h"
#include "../clock/lt_clock.h"
#include "../consumers/lt_deliver.h"
#include "../consumers/lt_inbox.h"
#include "../consumers/lt_receipts.h"
#include "../log/lt_log.h"
#include "../producers/lt_forward.h"
#include "../producers/lt_submitd.h"
#include "../store/lt_retention.h"

static volatile sig_atomic_t lt_agent_stop;

#define LT_AGENT_BATCH 64 /* records handled per LMDB commit, at most */

/*
 * A partition whose record could not be handled yet (target down, store
 * error): the consumer is rewound to that record and the partition paused
 * until retry_at; then the record comes again. Records after it in the
 * partition wait, so offsets are only ever stored in order.
 */
struct lt_blocked {
	char topic[LT_TOPIC_MAX + 1];
	int32_t partition;
	int64_t offset;
	int64_t failing_since_ms; /* first failure of this record */
	int64_t backoff_ms;
	int64_t retry_at_ms;
	int paused; /* 0 once resumed, until the record comes again */
	int fresh;  /* blocked in the current batch: rewind and pause after it */
};

struct lt_agent {
	struct lt_config cfg;
	struct lt_signer signer;
	struct lt_trust *trust;
	struct lt_store *store;
	struct lt_target *target;
	struct lt_forward *fw;
	struct lt_submitd *submitd;
	rd_kafka_t *consumer;
	struct lt_recv recv;
	char inbox_topic[LT_TOPIC_MAX + 1];
	char receipt_topic[LT_TOPIC_MAX + 1];
	struct lt_blocked *blocked;
	size_t n_blocked, cap_blocked;
	int topics_ready;
	int64_t topics_retry_ms;
};

static void lt_agent_on_signal(int sig)
{
	(void)sig;
	lt_agent_stop = 1;
}

static void lt_agent_usage(FILE *out)
{
	fprintf(out,
	        "Usage: lienthong-agent -c FILE [--check]\n"
	        "\n"
	        "The lienthong daemon of one agency. It forwards documents and receipts from\n"
	        "the local outbox (LMDB in data_dir) to Kafka, receives documents from the\n"
	        "agency's inbox topic, verifies them against ca_file, delivers each exactly\n"
	        "once into target_dir/<sender>/<document id>/, and answers with signed receipts;\n"
	        "receipts for documents it sent update their status (see lienthong-status).\n"
	        "\n"
	        "Options:\n"
	        "  -c, --config FILE  the agency's configuration file (required)\n"
	        "      --check        check configuration, key, certificate, CA and store, then\n"
	        "                     exit 0 (or 1 with the problem)\n"
	        "  -h, --help         this text\n"
	        "\n"
	        "Signals: SIGTERM or SIGINT stop the agent cleanly. Nothing accepted is lost\n"
	        "by stopping or killing it: the outbox and the inbox records are in LMDB.\n"
	        "Exit status: 0 after a clean stop, 1 on a configuration or environment error,\n"
	        "2 on a usage error.\n"
	        "\n");
	lt_config_print_reference(out);
}

static int lt_agent_setup(struct lt_agent *a, const char *path, lt_err *err)
{
	enum lt_log_level level;
	if (lt_config_load(&a->cfg, path, err) != 0)
		return -1;
	lt_log_level_parse(a->cfg.log_level, &level);
	lt_log_set_level(level);
	if (a->cfg.target_dir[0] == '\0' && a->cfg.target_url[0] == '\0')
		return lt_err_set(err, LT_EINVAL,
		                  "%s: set target_dir (a folder) or target_url (an HTTP endpoint): "
		                  "the agent delivers received documents there",
		                  path);
	if (a->cfg.target_url[0] == '\0' && mkdir(a->cfg.target_dir, 0750) != 0 && errno != EEXIST)
		return lt_err_errno(err, errno, "cannot create target_dir %s", a->cfg.target_dir);
	if ((a->target = lt_target_new(&a->cfg, err)) == NULL)
		return -1;
	if (lt_signer_load(&a->signer, a->cfg.key_file, a->cfg.cert_file, err) != 0)
		return -1;
	if (strcmp(a->signer.code, a->cfg.agency_code) != 0)
		return lt_err_set(err, LT_EINVAL,
		                  "%s names agency '%s' (CN) but agency_code is '%s' in %s",
		                  a->cfg.cert_file, a->signer.code, a->cfg.agency_code, path);
	a->trust = lt_trust_load(a->cfg.ca_file, err);
	if (a->trust == NULL)
		return -1;
	if (a->cfg.crl_file[0] != '\0' && lt_trust_load_crls(a->trust, a->cfg.crl_file, err) != 0)
		return -1;
	if (lt_trust_verify(a->trust, a->signer.cert, err) != 0)
		return lt_err_wrap(err,
		                   "own certificate %s (other agencies would reject this "
		                   "agency's documents)",
		                   a->cfg.cert_file);
	if (lt_store_open(&a->store, a->cfg.data_dir, a->cfg.lmdb_map_size, err) != 0)
		return -1;
	lt_config_inbox_topic(&a->cfg, a->cfg.agency_code, a->inbox_topic, sizeof a->inbox_topic);
	lt_config_receipt_topic(&a->cfg, a->cfg.agency_code, a->receipt_topic,
	                        sizeof a->receipt_topic);
	a->recv = (struct lt_recv){.cfg = &a->cfg,
	                           .store = a->store,
	                           .signer = &a->signer,
	                           .trust = a->trust,
	                           .target = a->target};
	return 0;
}

/* Forgets blocked partitions taken away: their new owner reads them from the commit. */
static void lt_agent_revoke(void *ctx, const rd_kafka_topic_partition_list_t *parts)
{
	struct lt_agent *a = ctx;
	size_t keep = 0;
	for (size_t i = 0; i < a->n_blocked; i++) {
		struct lt_blocked *b = &a->blocked[i];
		if (rd_kafka_topic_partition_list_find(parts, b->topic, b->partition) == NULL)
			a->blocked[keep++] = *b;
	}
	a->n_blocked = keep;
}

static int lt_agent_start_kafka(struct lt_agent *a, lt_err *err)
{
	const char *topics[] = {a->inbox_topic, a->receipt_topic};
	a->fw = lt_forward_new(&a->cfg, a->store, err);
	if (a->fw == NULL)
		return -1;
	a->consumer = lt_kafka_consumer_new(&a->cfg, topics, 2, lt_agent_revoke, a, err);
	return a->consumer == NULL ? -1 : 0;
}

/* Creates this agency's topics; retried every 10 s while the broker cannot be reached. */
static void lt_agent_topics(struct lt_agent *a, int64_t now_ms)
{
	const char *topics[] = {a->inbox_topic, a->receipt_topic};
	lt_err err;
	if (a->topics_ready || now_ms < a->topics_retry_ms)
		return;
	if (lt_kafka_create_topics(lt_forward_producer(a->fw), topics, 2,
	                           (int)a->cfg.topic_partitions, (int)a->cfg.topic_replication,
	                           5000, &err) != 0) {
		if (err.code != LT_EINVAL) {
			lt_log_warn("%s; retrying in 10 s", err.msg);
			a->topics_retry_ms = now_ms + 10000;
			return;
		}
		/* Not allowed to create topics: an authorizing broker, provisioned for us. */
		lt_log_info("%s: the topics are expected to be provisioned (lienthong-provision)",
		            err.msg);
	}
	a->topics_ready = 1;
	lt_log_info("topics ready: %s, %s", a->inbox_topic, a->receipt_topic);
}

static struct lt_blocked *lt_agent_blocked(struct lt_agent *a, const char *topic, int32_t partition)
{
	for (size_t i = 0; i < a->n_blocked; i++) {
		if (a->blocked[i].partition == partition && strcmp(a->blocked[i].topic, topic) == 0)
			return &a->blocked[i];
	}
	return NULL;
}

static void lt_agent_unblock(struct lt_agent *a, struct lt_blocked *b)
{
	*b = a->blocked[--a->n_blocked];
}

/*
 * The record at offset failed: rewind and pause its partition after this
 * batch. Within one batch the earliest offset of a partition wins, so no
 * record before the rewind point is skipped.
 */
static void lt_agent_block(struct lt_agent *a, const char *topic, int32_t partition, int64_t offset,
                           int64_t now_ms, const char *why)
{
	struct lt_blocked *b = lt_agent_blocked(a, topic, partition);
	if (b != NULL && b->fresh) {
		if (offset < b->offset)
			b->offset = offset;
		return;
	}
	if (b != NULL && b->offset == offset) {
		b->backoff_ms = b->backoff_ms * 2 > a->cfg.retry_backoff_max_ms
		                    ? a->cfg.retry_backoff_max_ms
		                    : b->backoff_ms * 2;
	} else {
		if (b == NULL) {
			if (a->n_blocked == a->cap_blocked) {
				size_t cap = a->cap_blocked ? a->cap_blocked * 2 : 8;
				struct lt_blocked *nb = realloc(a->blocked, cap * sizeof *nb);
				if (nb == NULL)
					lt_log_fatal("out of memory blocking a partition");
				a->blocked = nb;
				a->cap_blocked = cap;
			}
			b = &a->blocked[a->n_blocked++];
		}
		*b = (struct lt_blocked){.partition = partition,
		                         .offset = offset,
		                         .failing_since_ms = now_ms,
		                         .backoff_ms = a->cfg.retry_backoff_min_ms};
		snprintf(b->topic, sizeof b->topic, "%s", topic);
	}
	b->retry_at_ms = now_ms + b->backoff_ms;
	b->paused = 1;
	b->fresh = 1;
	lt_log_warn("%s [%d] @ %lld: %s; retrying in %.1f s, partition paused", topic,
	            (int)partition, (long long)offset, why, (double)b->backoff_ms / 1000.0);
}

/* Handles one record in a nested transaction of t; 0 handled, -1 blocked. */
static int lt_agent_handle(struct lt_agent *a, struct lt_txn *t, const rd_kafka_message_t *m,
                           int64_t now_ms, int *inbox)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	struct lt_blocked *b = lt_agent_blocked(a, topic, m->partition);
	int64_t failing_since = 0;
	if (b != NULL) {
		if (b->paused || b->fresh || m->offset > b->offset)
			return 1; /* comes again after the rewind: skip it now */
		if (m->offset == b->offset)
			failing_since = b->failing_since_ms;
	}
	struct lt_record rec = {
	    .topic = topic,
	    .partition = m->partition,
	    .offset = m->offset,
	    .value = m->payload,
	    .len = m->len,
	};
	struct lt_txn *child = NULL;
	lt_err err;
	int rc = lt_txn_begin_nested(t, &child, &err);
	if (rc == 0) {
		*inbox = strcmp(topic, a->inbox_topic) == 0;
		rc = *inbox ? lt_inbox_handle(&a->recv, child, &rec, now_ms, failing_since, &err)
		            : lt_receipts_handle(&a->recv, child, &rec, now_ms, &err);
		if (rc < 0) {
			lt_txn_abort(child);
		} else {
			/* 1, deferred: its receipt is kept and the record comes again. */
			lt_err why = err;
			int deferred = rc == 1;
			rc = lt_txn_commit(child, &err);
			if (rc == 0 && deferred) {
				err = why;
				rc = -1;
			}
		}
	}
	if (rc != 0) {
		lt_agent_block(a, topic, m->partition, m->offset, now_ms, err.msg);
		return -1;
	}
	if (b != NULL) {
		lt_log_info("%s [%d] @ %lld handled after retry", topic, (int)m->partition,
		            (long long)m->offset);
		lt_agent_unblock(a, b);
	}
	return 0;
}

/* Rewinds and pauses partitions blocked in this batch; resumes those due. */
static void lt_agent_partitions(struct lt_agent *a, int64_t now_ms)
{
	lt_err err;
	for (size_t i = 0; i < a->n_blocked; i++) {
		struct lt_blocked *b = &a->blocked[i];
		if (b->fresh) {
			b->fresh = 0;
			if (lt_kafka_rewind(a->consumer, b->topic, b->partition, b->offset, &err) !=
			    0)
				lt_log_warn("%s", err.msg);
		} else if (b->paused && now_ms >= b->retry_at_ms) {
			b->paused = 0;
			if (lt_kafka_pause(a->consumer, b->topic, b->partition, 0, &err) != 0)
				lt_log_warn("%s", err.msg);
		}
	}
}

/*
 * Takes up to LT_AGENT_BATCH records, handles them in one LMDB transaction
 * (one fsync for the batch), then stores their offsets: a record's offset is
 * stored only after what it changed is durable.
 */
static void lt_agent_consume(struct lt_agent *a, int64_t now_ms)
{
	rd_kafka_message_t *msgs[LT_AGENT_BATCH];
	int done[LT_AGENT_BATCH];
	size_t n = 0;
	int inbox = 0, any_inbox = 0;
	struct lt_txn *t = NULL;
	lt_err err;

	while (n < LT_AGENT_BATCH) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(a->consumer, n == 0 ? 100 : 0);
		if (m == NULL)
			break;
		if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				lt_log(m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
				           ? LT_LOG_DEBUG
				           : LT_LOG_WARN,
				       "kafka consumer: %s", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		msgs[n++] = m;
	}
	if (n > 0 && lt_txn_begin(a->store, 1, &t, &err) != 0) {
		for (size_t i = 0; i < n; i++)
			lt_agent_block(a, rd_kafka_topic_name(msgs[i]->rkt), msgs[i]->partition,
			               msgs[i]->offset, now_ms, err.msg);
		n = 0; /* all rewound: nothing handled */
	}
	for (size_t i = 0; i < n; i++) {
		done[i] = lt_agent_handle(a, t, msgs[i], now_ms, &inbox) == 0;
		any_inbox |= done[i] && inbox;
	}
	if (t != NULL && lt_txn_commit(t, &err) != 0) {
		/* Nothing of the batch is durable: every partition goes back to its first record.
		 */
		for (size_t i = 0; i < n; i++) {
			if (done[i])
				lt_agent_block(a, rd_kafka_topic_name(msgs[i]->rkt),
				               msgs[i]->partition, msgs[i]->offset, now_ms,
				               err.msg);
			done[i] = 0;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (done[i] && lt_kafka_consumer_done(a->consumer, msgs[i], &err) != 0)
			lt_log_warn("%s (the record is read again after a restart and not "
			            "delivered twice)",
			            err.msg);
	}
	for (size_t i = 0; i < n; i++)
		rd_kafka_message_destroy(msgs[i]);
	if (any_inbox)
		lt_forward_wake(a->fw); /* receipts are waiting in the outbox */
	lt_agent_partitions(a, now_ms);
}

static void lt_agent_teardown(struct lt_agent *a)
{
	lt_submitd_stop(a->submitd);
	/* Closing the consumer below revokes its partitions: lt_agent_revoke then
	 * finds nothing to forget. */
	free(a->blocked);
	a->blocked = NULL;
	a->n_blocked = a->cap_blocked = 0;
	if (a->consumer != NULL)
		lt_kafka_destroy(a->consumer);
	if (a->fw != NULL)
		lt_forward_free(a->fw, 5000);
	lt_store_close(a->store);
	lt_target_free(a->target);
	lt_trust_free(a->trust);
	lt_signer_free(&a->signer);
	lt_config_free(&a->cfg);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	int check = 0, c;
	lt_log_init(argv[0], LT_LOG_INFO);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'k':
			check = 1;
			break;
		case 'h':
			lt_agent_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'lienthong-agent --help'.\n");
			return 2;
		}
	}
	if (config == NULL || optind != argc) {
		fprintf(stderr, "lienthong-agent: %s\nTry 'lienthong-agent --help'.\n",
		        config == NULL ? "-c FILE is required" : "unexpected argument");
		return 2;
	}

	static struct lt_agent a; /* large (configuration); not on the stack */
	lt_err err;
	int rc = 1;
	if (lt_agent_setup(&a, config, &err) != 0) {
		lt_log_error("%s", err.msg);
		goto out;
	}
	if (check) {
		printf("%s: configuration, key, certificate, CA and store are usable (agency %s)\n",
		       config, a.cfg.agency_code);
		rc = 0;
		goto out;
	}
	struct sigaction sa = {.sa_handler = lt_agent_on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (lt_agent_start_kafka(&a, &err) != 0) {
		lt_log_error("%s", err.msg);
		goto out;
	}
	a.submitd = lt_submitd_start(&a.cfg, a.store, &err);
	if (a.submitd == NULL)
		lt_log_warn("%s; lienthong-upload commits to the store itself instead", err.msg);
	lt_log_info("agency %s started: inbox %s, receipts %s, store %s, target %s",
	            a.cfg.agency_code, a.inbox_topic, a.receipt_topic, a.cfg.data_dir,
	            a.cfg.target_dir);
	while (!lt_agent_stop) {
		int64_t now = lt_now_ms();
		lt_agent_topics(&a, now);
		if (lt_forward_tick(a.fw, now, &err) != 0)
			lt_log_warn("outbox: %s", err.msg);
		lt_retention_tick(a.store, &a.cfg, now);
		lt_trust_crl_tick(a.trust, now);
		lt_agent_consume(&a, now);
	}
	lt_log_info("stopping");
	rc = 0;
out:
	lt_agent_teardown(&a);
	curl_global_cleanup();
	return rc;
}
