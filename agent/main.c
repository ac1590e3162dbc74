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
 * With http_listen, libmicrohttpd's thread serves metrics, health and the
 * operator page (monitor/lt_monitor.h): it reads the store read-only and
 * what this loop publishes once a second, and never holds this loop up.
 * SIGTERM and SIGINT stop it cleanly: in-flight records get a few seconds to
 * be acknowledged, everything else stays in the outbox for the next start.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../broker-adapter/lt_kafka.h"
#include "../clock/lt_clock.h"
#include "../clock/lt_watchdog.h"
#include "../consumers/lt_business.h"
#include "../consumers/lt_deliver.h"
#include "../consumers/lt_inbox.h"
#include "../consumers/lt_receive.h"
#include "../consumers/lt_xfer.h"
#include "../federation/lt_dirfollow.h"
#include "../log/lt_log.h"
#include "../monitor/lt_monitor.h"
#include "../producers/lt_edxml_in.h"
#include "../producers/lt_forward.h"
#include "../producers/lt_submitd.h"
#include "../store/lt_backup.h"
#include "../store/lt_check.h"
#include "../store/lt_health.h"
#include "../store/lt_index.h"
#include "../store/lt_lock.h"
#include "../store/lt_retention.h"

static volatile sig_atomic_t lt_agent_stop;

#define LT_AGENT_CHECK_S 600            /* longest walk of the store at start */
#define LT_AGENT_WATCH_MS 1000          /* how often handles and threads are checked */
#define LT_AGENT_HEALTH_MS 60000        /* the health record is rewritten at least this often */
#define LT_AGENT_SUBMITD_RETRY_MS 10000 /* a submission service that cannot start */

/*
 * What the agent says of itself in its store (lt_health), for
 * lienthong-status: written when it changes and every LT_AGENT_HEALTH_MS.
 */
struct lt_agent_health {
	int64_t started_ms;
	int submission_down;
	char submission_reason[LT_ERR_MSG_MAX];
	uint32_t forwarding_failing;
	int64_t forwarding_since_ms;
	char forwarding_topic[LT_TOPIC_MAX + 1];
	int dirty; /* changed since last written */
	int64_t next_write_ms;
};

struct lt_agent {
	struct lt_config cfg;
	struct lt_lock lock;
	struct lt_signer signer;
	struct lt_trust *trust;
	struct lt_store *store;
	struct lt_check_result checked; /* the walk of the store at start */
	struct lt_target *target;
	struct lt_xfer *xfer;     /* streamed documents being received */
	struct lt_dirfollow *dir; /* platform mode: the federation directory, followed */
	struct lt_forward *fw;
	struct lt_submitd *submitd;
	struct lt_recv recv;
	struct lt_receive *rx; /* the receive loop: consumer, batches, its watch */
	char inbox_topic[LT_TOPIC_MAX + 1];
	char receipt_topic[LT_TOPIC_MAX + 1];
	int topics_ready;
	int64_t topics_retry_ms;
	int64_t next_watch_ms;
	int64_t submitd_retry_ms; /* when to try starting the submission service again */
	atomic_int submitted;     /* the submission service committed: look at the outbox */
	struct lt_agent_health health;
	struct lt_monitor *monitor;  /* http_listen: metrics, health, operator page */
	struct lt_monitor_view view; /* what the main loop publishes to it */
};

static void lt_agent_on_signal(int sig)
{
	(void)sig;
	lt_agent_stop = 1;
}

static void lt_agent_usage(FILE *out)
{
	fprintf(out,
	        "Usage: lienthong-agent -c FILE [--check | --backup DIR]\n"
	        "\n"
	        "The lienthong daemon of one agency. It forwards documents and receipts from\n"
	        "the local outbox (LMDB in data_dir) to Kafka, receives documents from the\n"
	        "agency's inbox topic, verifies them against ca_file, delivers each exactly\n"
	        "once into target_dir/<sender>/<document id>/, and answers with signed receipts;\n"
	        "receipts for documents it sent update their status (see lienthong-status).\n"
	        "\n"
	        "Options:\n"
	        "  -c, --config FILE  the agency's configuration file (required)\n"
	        "      --check        check configuration, key, certificate, CA and store (every\n"
	        "                     record read), then exit 0 (or 1 with the problem)\n"
	        "      --backup DIR   hot backup: a consistent, compacted copy of the store\n"
	        "                     (data.mdb, store-id) into DIR, a new or empty folder, while\n"
	        "                     the agent runs; the copy is read back; exit 0 (or 1)\n"
	        "  -h, --help         this text\n"
	        "\n"
	        "Signals: SIGTERM or SIGINT stop the agent cleanly. Nothing accepted is lost\n"
	        "by stopping or killing it: the outbox and the inbox records are in LMDB.\n"
	        "Exit status: 0 after a clean stop, 1 on a configuration or environment error,\n"
	        "2 on a usage error.\n"
	        "\n");
	lt_config_print_reference(out);
}

/* http_listen, when set, must be a loopback HOST:PORT. */
static int lt_agent_check_listen(const struct lt_config *cfg, lt_err *err)
{
	struct sockaddr_storage addr;
	socklen_t len;
	if (cfg->http_listen[0] == '\0')
		return 0;
	return lt_monitor_check_listen(cfg->http_listen, &addr, &len, err);
}

/* --backup DIR: a hot copy of the store, beside a running agent (no lock taken). */
static int lt_agent_backup(const char *path, const char *dest)
{
	static struct lt_config cfg; /* large; zeroed, so that a failed load frees nothing */
	struct lt_backup_result res;
	lt_err err;
	int rc = 1;
	if (lt_config_load(&cfg, path, &err) != 0 ||
	    lt_store_backup(cfg.data_dir, cfg.lmdb_map_size, dest, LT_AGENT_CHECK_S, &res, &err) !=
	        0) {
		lt_log_error("%s", err.msg);
		goto out;
	}
	printf("%s: backup of store %s written to %s: %lld bytes in %lld ms, %llu records read "
	       "back in %lld ms; to restore, see README, 'Backups and damaged stores'\n",
	       path, cfg.data_dir, dest, (long long)res.bytes, (long long)res.copy_ms,
	       (unsigned long long)res.check.total, (long long)res.check.elapsed_ms);
	rc = 0;
out:
	lt_config_free(&cfg);
	return rc;
}

/* check: --check, which neither takes the data_dir lock nor starts anything. */
static int lt_agent_setup(struct lt_agent *a, const char *path, int check, lt_err *err)
{
	enum lt_log_level level;
	if (lt_config_load(&a->cfg, path, err) != 0)
		return -1;
	enum lt_log_format format;
	lt_log_level_parse(a->cfg.log_level, &level);
	lt_log_set_level(level);
	lt_log_format_parse(a->cfg.log_format, &format);
	lt_log_set_format(format);
	if (lt_agent_check_listen(&a->cfg, err) != 0)
		return lt_err_wrap(err, "%s", path);
	if (a->cfg.target_dir[0] == '\0' && a->cfg.target_url[0] == '\0')
		return lt_err_set(err, LT_EINVAL,
		                  "%s: set target_dir (a folder) or target_url (an HTTP endpoint): "
		                  "the agent delivers received documents there",
		                  path);
	if (a->cfg.target_url[0] == '\0' && mkdir(a->cfg.target_dir, 0750) != 0 && errno != EEXIST)
		return lt_err_errno(err, errno, "cannot create target_dir %s", a->cfg.target_dir);
	if ((a->target = lt_target_new(&a->cfg, err)) == NULL ||
	    (a->xfer = lt_xfer_new(&a->cfg, err)) == NULL)
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
	if (lt_trust_verify(a->trust, a->signer.cert, err) != 0) {
		if (err->code != LT_EAGAIN)
			return lt_err_wrap(err,
			                   "own certificate %s (other agencies would reject this "
			                   "agency's documents)",
			                   a->cfg.cert_file);
		/* Only the CRL is stale: the agent runs, and checks wait for a current one. */
		lt_log_error("own certificate %s: %s; starting anyway: documents wait until "
		             "crl_file holds a current CRL",
		             a->cfg.cert_file, err->msg);
	}
	if (!check && lt_lock_take(&a->lock, a->cfg.data_dir, err) != 0)
		return -1;
	/* Every record read before anything is used: a damaged store is refused, never used. */
	if (lt_store_check(a->cfg.data_dir, a->cfg.lmdb_map_size, LT_AGENT_CHECK_S, &a->checked,
	                   err) != 0)
		return -1;
	lt_log_info("store %s checked: %llu records read in %lld ms", a->cfg.data_dir,
	            (unsigned long long)a->checked.total, (long long)a->checked.elapsed_ms);
	if (lt_store_open(&a->store, a->cfg.data_dir, a->cfg.lmdb_map_size, err) != 0)
		return -1;
	if (!check && lt_index_upgrade(a->store, err) != 0) /* a store of an earlier version */
		return -1;
	size_t swept = 0;
	if (!check && lt_edxml_in_sweep(a->cfg.data_dir, &swept, err) != 0)
		return -1;
	if (swept > 0)
		lt_log_info("removed %zu edXML decoding folder(s) (edxml-tmp.*) left in %s by "
		            "interrupted uploads",
		            swept, a->cfg.data_dir);
	lt_config_inbox_topic(&a->cfg, a->cfg.agency_code, a->inbox_topic, sizeof a->inbox_topic);
	lt_config_receipt_topic(&a->cfg, a->cfg.agency_code, a->receipt_topic,
	                        sizeof a->receipt_topic);
	a->recv = (struct lt_recv){.cfg = &a->cfg,
	                           .store = a->store,
	                           .signer = &a->signer,
	                           .trust = a->trust,
	                           .target = a->target,
	                           .xfer = a->xfer,
	                           .receipts = lt_recv_receipts_new()};
	if (a->recv.receipts == NULL)
		return lt_err_set(err, LT_EIO, "out of memory");
	return 0;
}

/* librdkafka's thread: reports for a streamed document; the main loop wakes to send more. */
static void lt_agent_on_report(void *ctx)
{
	lt_receive_wake(ctx);
}

static int lt_agent_start_kafka(struct lt_agent *a, lt_err *err)
{
	a->fw = lt_forward_new(&a->cfg, a->store, err);
	if (a->fw == NULL)
		return -1;
	a->rx = lt_receive_new(&a->recv, a->inbox_topic, a->receipt_topic, lt_now_ms(), err);
	if (a->rx == NULL)
		return -1;
	if (a->cfg.platform[0] != '\0' &&
	    (a->dir = lt_dirfollow_new(&a->cfg, a->trust, a->store, lt_dirfollow_keep, NULL,
	                               err)) == NULL)
		return -1;
	lt_forward_on_report(a->fw, lt_agent_on_report, a->rx);
	return 0;
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
	                           (int)a->cfg.topic_min_insync, 5000, &err) != 0) {
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

static void lt_agent_health_write(struct lt_agent *a, int64_t now_ms)
{
	struct lt_agent_health *h = &a->health;
	Lienthong__Store__HealthRecord r = LIENTHONG__STORE__HEALTH_RECORD__INIT;
	lt_err err;
	if (!h->dirty && now_ms < h->next_write_ms)
		return;
	r.updated_at_ms = now_ms;
	r.pid = (int32_t)getpid();
	r.started_at_ms = h->started_ms;
	const struct lt_receive_state *rs = lt_receive_state(a->rx);
	r.receiving_stalled = rs->stalled;
	r.receiving_since_ms = rs->since_ms;
	r.receiving_reason = (char *)rs->reason;
	r.consumer_replacements = rs->replaced;
	r.consumers_stuck = rs->stuck;
	r.submission_down = h->submission_down;
	r.submission_reason = h->submission_reason;
	r.last_received_ms = rs->last_handled_ms;
	r.forwarding_failing = h->forwarding_failing;
	r.forwarding_since_ms = h->forwarding_since_ms;
	r.forwarding_topic = h->forwarding_topic;
	if (lt_health_put(a->store, &r, &err) != 0)
		lt_log_warn("cannot record the agent's health: %s", err.msg);
	h->dirty = 0;
	h->next_write_ms = now_ms + LT_AGENT_HEALTH_MS;
}

/* The submission service's thread: documents were committed; the main loop wakes. */
static void lt_agent_on_submitted(void *ctx)
{
	struct lt_agent *a = ctx;
	atomic_store(&a->submitted, 1);
	lt_receive_wake(a->rx);
}

/*
 * The submission service: restarted when its socket file was removed or
 * replaced (uploads would bypass the agent's group commit unnoticed), and
 * started again when it could not start.
 */
static void lt_agent_watch_submitd(struct lt_agent *a, int64_t now_ms)
{
	struct lt_agent_health *h = &a->health;
	lt_err err;
	if (a->submitd != NULL) {
		if (lt_submitd_alive(a->submitd, &err) == 0)
			return;
		lt_log_warn("%s; restarting the submission service", err.msg);
		lt_submitd_stop(a->submitd);
		a->submitd = NULL;
		a->submitd_retry_ms = 0;
	}
	if (now_ms < a->submitd_retry_ms)
		return;
	a->submitd = lt_submitd_start(&a->cfg, a->store, lt_agent_on_submitted, a, &err);
	if (a->submitd == NULL) {
		a->submitd_retry_ms = now_ms + LT_AGENT_SUBMITD_RETRY_MS;
		if (!h->submission_down)
			lt_log_warn("%s; lienthong-upload commits to the store itself meanwhile; "
			            "retrying every %d s",
			            err.msg, LT_AGENT_SUBMITD_RETRY_MS / 1000);
		h->dirty |= !h->submission_down;
		h->submission_down = 1;
		snprintf(h->submission_reason, sizeof h->submission_reason, "%s", err.msg);
		return;
	}
	if (h->submission_down)
		lt_log_info("submission service listening again");
	h->dirty |= h->submission_down;
	h->submission_down = 0;
	h->submission_reason[0] = '\0';
}

/* Forwarding: which topics fail (the forwarder retries them and logs each outage). */
static void lt_agent_watch_forwarding(struct lt_agent *a)
{
	struct lt_agent_health *h = &a->health;
	int64_t since;
	char topic[LT_TOPIC_MAX + 1];
	uint32_t n = (uint32_t)lt_forward_failing(a->fw, &since, topic, sizeof topic);
	if (n == h->forwarding_failing && since == h->forwarding_since_ms)
		return;
	h->forwarding_failing = n;
	h->forwarding_since_ms = since;
	snprintf(h->forwarding_topic, sizeof h->forwarding_topic, "%s", topic);
	h->dirty = 1;
}

/* The agent's state for the HTTP endpoint (http_listen), once a second. */
static void lt_agent_publish(struct lt_agent *a, int64_t now_ms)
{
	struct lt_monitor_view *v = &a->view;
	if (a->monitor == NULL)
		return;
	v->at_ms = now_ms;
	v->started_ms = a->health.started_ms;
	v->submission_down = a->health.submission_down;
	snprintf(v->submission_reason, sizeof v->submission_reason, "%s",
	         a->health.submission_reason);
	v->receiving = *lt_receive_state(a->rx);
	v->failing_total = lt_forward_failing_list(a->fw, v->failing, LT_RENDER_TOPICS_MAX);
	v->n_failing =
	    v->failing_total < LT_RENDER_TOPICS_MAX ? v->failing_total : LT_RENDER_TOPICS_MAX;
	v->producer_renewals = lt_forward_renewals(a->fw);
	lt_monitor_publish(a->monitor, v);
}

/* Every handle and thread that can stop is checked here, once a second. */
static void lt_agent_watch(struct lt_agent *a, int64_t now_ms)
{
	if (now_ms < a->next_watch_ms)
		return;
	a->next_watch_ms = now_ms + LT_AGENT_WATCH_MS;
	a->health.dirty |= lt_receive_watch(a->rx, now_ms);
	lt_agent_watch_forwarding(a);
	lt_agent_watch_submitd(a, now_ms);
	lt_agent_health_write(a, now_ms);
	lt_agent_publish(a, now_ms);
}

static void lt_agent_teardown(struct lt_agent *a)
{
	lt_monitor_stop(a->monitor);
	lt_submitd_stop(a->submitd);
	lt_dirfollow_free(a->dir);
	if (a->fw != NULL)
		lt_forward_on_report(a->fw, NULL, NULL); /* it wakes a->rx */
	lt_receive_free(a->rx);
	lt_recv_receipts_free(a->recv.receipts);
	lt_xfer_free(a->xfer);
	if (a->fw != NULL)
		lt_forward_free(a->fw, 5000);
	lt_store_close(a->store);
	lt_target_free(a->target);
	lt_trust_free(a->trust);
	lt_signer_free(&a->signer);
	lt_config_free(&a->cfg);
	lt_lock_release(&a->lock);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, 'k'},
	    {"backup", required_argument, NULL, 'b'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL, *backup = NULL;
	int check = 0, c;
	/*
	 * Blocks of 256 KiB or more (chunk records, their decoded copies, Kafka's
	 * fetch buffers) are mapped and unmapped, never kept in a heap: glibc's
	 * threshold otherwise rises to the largest block freed, and heaps of the
	 * receive loop, the verification helper and librdkafka's threads each kept
	 * megabytes resident (the 64 MiB bound: README, "Memory bounds").
	 */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
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
		case 'b':
			backup = optarg;
			break;
		case 'h':
			lt_agent_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'lienthong-agent --help'.\n");
			return 2;
		}
	}
	if (backup != NULL && config != NULL && optind == argc) {
		if (!check)
			return lt_agent_backup(config, backup);
		fprintf(stderr, "lienthong-agent: --check and --backup exclude each other\n");
		return 2;
	}
	if (config == NULL || optind != argc) {
		fprintf(stderr, "lienthong-agent: %s\nTry 'lienthong-agent --help'.\n",
		        config == NULL ? "-c FILE is required" : "unexpected argument");
		return 2;
	}

	static struct lt_agent a; /* large (configuration); not on the stack */
	lt_err err;
	int rc = 1;
	a.lock.fd = -1;
	if (lt_agent_setup(&a, config, check, &err) != 0) {
		lt_log_error("%s", err.msg);
		goto out;
	}
	if (check) {
		printf("%s: configuration, key, certificate, CA and store are usable (agency %s; "
		       "%llu records of the store read in %lld ms)\n",
		       config, a.cfg.agency_code, (unsigned long long)a.checked.total,
		       (long long)a.checked.elapsed_ms);
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
	a.health = (struct lt_agent_health){.started_ms = lt_now_ms(), .dirty = 1};
	if (a.cfg.http_listen[0] != '\0' &&
	    (a.monitor = lt_monitor_start(&a.cfg, a.store, &err)) == NULL) {
		lt_log_error("%s", err.msg);
		goto out;
	}
	lt_agent_publish(&a, lt_now_ms());
	lt_agent_watch_submitd(&a, lt_now_ms());
	lt_log_info("agency %s started: inbox %s, receipts %s, store %s, target %s",
	            a.cfg.agency_code, a.inbox_topic, a.receipt_topic, a.cfg.data_dir,
	            a.cfg.target_dir);
	lt_watchdog_start("agent", a.cfg.watchdog_s); /* clock/lt_watchdog.h */
	while (!lt_agent_stop) {
		int64_t now = lt_now_ms();
		lt_watchdog_beat();
		lt_agent_topics(&a, now);
		if (atomic_exchange(&a.submitted, 0))
			lt_forward_wake(a.fw); /* new documents in the outbox */
		if (lt_forward_tick(a.fw, now, &err) != 0)
			lt_log_warn("outbox: %s", err.msg);
		lt_retention_tick(a.store, &a.cfg, now);
		lt_trust_crl_tick(a.trust, now);
		if (a.dir != NULL && lt_dirfollow_tick(a.dir, &err) < 0)
			lt_log_warn("directory: %s; reading it again", err.msg);
		/*
		 * Each with the time it starts at: lt_receive_tick may wait for records and
		 * take long writing them, and the times recorded (a transfer's delivery, its
		 * receipt's) must be when it happened.
		 */
		size_t moved = lt_receive_tick(a.rx, now);
		moved += lt_business_scan(&a.recv, lt_now_ms());
		moved += lt_inbox_transfers(&a.recv, lt_now_ms());
		if (moved > 0)
			lt_forward_wake(a.fw); /* receipts are waiting in the outbox */
		lt_agent_watch(&a, now);
	}
	lt_log_info("stopping");
	rc = 0;
out:
	lt_agent_teardown(&a);
	curl_global_cleanup();
	return rc;
}
