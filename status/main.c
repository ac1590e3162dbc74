/*
 * lienthong-status: what happened to each document this agency sent, per
 * recipient, read from the local LMDB store only (answers offline, while the
 * agent runs or not). Read-only: it never changes the store.
 *
 * Trusts the store's structure, not its text: reasons and subjects were
 * written by other agencies (in their receipts) or by senders, so every such
 * string is printed escaped (text/lt_text.h).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../clock/lt_clock.h"
#include "../config/lt_config.h"
#include "../consumers/lt_quarantine.h"
#include "../log/lt_log.h"
#include "../proto/lt_envelope.h"
#include "../store/lt_health.h"
#include "../store/lt_lock.h"
#include "../store/lt_store.h"
#include "../text/lt_text.h"

struct lt_status_opts {
	int json;
	int summary;
	int quarantine;
	const char *doc_id; /* only this document, or NULL */
};

struct lt_status_scan {
	const struct lt_status_opts *o;
	size_t rows;
	uint64_t counts[LIENTHONG__STORE__DOC_STATUS__FAILED + 1];
	int64_t oldest_queued_ms;
};

static void lt_status_usage(FILE *out)
{
	fprintf(out,
	        "Usage: lienthong-status -c FILE [--json | --summary] [DOCUMENT_ID]\n"
	        "       lienthong-status -c FILE --quarantine [--json]\n"
	        "\n"
	        "Shows, from the agency's local store, each document it sent and its status per\n"
	        "recipient: queued (in the outbox), sent (acknowledged by Kafka, with partition\n"
	        "and offset), delivered (the recipient's signed receipt says so), rejected or\n"
	        "failed (with the recipient's reason). Works offline.\n"
	        "\n"
	        "Options:\n"
	        "  -c, --config FILE  the agency's configuration file (required)\n"
	        "  -j, --json         one JSON object per line: document_id, recipient, status,\n"
	        "                     updated_at, queued_at, subject, partition, offset,\n"
	        "                     attempts, reason\n"
	        "  -s, --summary      counts per status, the age of the oldest queued document,\n"
	        "                     and the agent: running or not, receiving ok or stalled\n"
	        "                     (since when, why, what it does about it), submission\n"
	        "                     service up or down"
	        "  -q, --quarantine   records this agency received and did not deliver, with\n"
	        "                     the reason (inspect and release: lienthong-quarantine)\n"
	        "  -h, --help         this text\n"
	        "\n"
	        "Exit status: 0; 1 if DOCUMENT_ID is unknown or the store cannot be read;\n"
	        "2 on a usage error.\n");
}

static void lt_status_print(const char *doc_id, const char *recipient,
                            const Lienthong__Store__StatusRecord *r, int json)
{
	char updated[LT_TIME_TEXT], queued[LT_TIME_TEXT];
	lt_time_format(r->updated_at_ms, updated, sizeof updated);
	lt_time_format(r->queued_at_ms, queued, sizeof queued);
	if (!json) {
		/* Reasons come from other agencies' receipts: shown escaped (lt_text.h). */
		char shown[4 * (LT_CODE_MAX + 1)];
		lt_text_fputs(doc_id, stdout);
		printf("  %-20s %-9s  %s", lt_text_escape(recipient, shown, sizeof shown),
		       lt_status_name(r->status), updated);
		if (r->offset >= 0)
			printf("  p%d@%lld", (int)r->partition, (long long)r->offset);
		if (r->reason[0] != '\0') {
			fputs("  ", stdout);
			lt_text_fputs(r->reason, stdout);
		}
		putchar('\n');
		return;
	}
	json_t *o = json_object();
	json_object_set_new(o, "document_id", lt_text_json(doc_id));
	json_object_set_new(o, "recipient", lt_text_json(recipient));
	json_object_set_new(o, "status", json_string(lt_status_name(r->status)));
	json_object_set_new(o, "updated_at", json_string(updated));
	json_object_set_new(o, "queued_at", json_string(queued));
	json_object_set_new(o, "subject", lt_text_json(r->subject));
	json_object_set_new(o, "partition",
	                    r->offset >= 0 ? json_integer(r->partition) : json_null());
	json_object_set_new(o, "offset", r->offset >= 0 ? json_integer(r->offset) : json_null());
	json_object_set_new(o, "attempts", json_integer(r->attempts));
	json_object_set_new(o, "reason", lt_text_json(r->reason));
	char *text = lt_text_json_dumps(o, JSON_COMPACT);
	if (text != NULL)
		puts(text);
	free(text);
	json_decref(o);
}

static int lt_status_row(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                         lt_err *err)
{
	struct lt_status_scan *sc = ctx;
	const char *k = key;
	const char *nul = memchr(k, '\0', klen);
	if (nul == NULL || (size_t)(nul - k) != LT_DOCID_LEN ||
	    klen - LT_DOCID_LEN - 1 > LT_CODE_MAX)
		return lt_err_set(err, LT_EIO, "status key of %zu bytes is corrupt", klen);
	char doc_id[LT_DOCID_LEN + 1], recipient[LT_CODE_MAX + 1];
	memcpy(doc_id, k, LT_DOCID_LEN);
	doc_id[LT_DOCID_LEN] = '\0';
	memcpy(recipient, nul + 1, klen - LT_DOCID_LEN - 1);
	recipient[klen - LT_DOCID_LEN - 1] = '\0';
	if (sc->o->doc_id != NULL && strcmp(doc_id, sc->o->doc_id) != 0)
		return 1; /* past the document asked for */
	Lienthong__Store__StatusRecord *r =
	    lienthong__store__status_record__unpack(NULL, vlen, val);
	if (r == NULL)
		return lt_err_set(err, LT_EIO, "status record of %s for %s is corrupt", doc_id,
		                  recipient);
	sc->rows++;
	if (sc->o->summary) {
		if ((size_t)r->status < sizeof sc->counts / sizeof sc->counts[0])
			sc->counts[r->status]++;
		if (r->status == LIENTHONG__STORE__DOC_STATUS__QUEUED &&
		    (sc->oldest_queued_ms == 0 || r->queued_at_ms < sc->oldest_queued_ms))
			sc->oldest_queued_ms = r->queued_at_ms;
	} else {
		lt_status_print(doc_id, recipient, r, sc->o->json);
	}
	lienthong__store__status_record__free_unpacked(r, NULL);
	return 0;
}

static void lt_status_quarantine_line(const struct lt_quarantine_stats *q)
{
	printf("quarantine %llu records, %llu bytes; %llu dropped at the ceiling (%llu bytes)\n",
	       (unsigned long long)q->records, (unsigned long long)q->bytes,
	       (unsigned long long)q->dropped, (unsigned long long)q->dropped_bytes);
}

/* The agent's own account (lt_health) and whether it runs (its data_dir lock). */
static json_t *lt_status_agent(struct lt_store *store, const char *data_dir)
{
	Lienthong__Store__HealthRecord *h = NULL;
	pid_t pid = 0;
	lt_err err;
	json_t *o = json_object();
	if (lt_lock_holder(data_dir, &pid, &err) != 0)
		lt_log_warn("%s", err.msg);
	json_object_set_new(o, "running", json_boolean(pid != 0));
	if (pid > 0)
		json_object_set_new(o, "pid", json_integer(pid));
	if (lt_health_get(store, &h, &err) != 0)
		lt_log_warn("%s", err.msg);
	if (h == NULL)
		return o;
	char at[LT_TIME_TEXT];
	lt_time_format(h->updated_at_ms, at, sizeof at);
	json_object_set_new(o, "reported_at", json_string(at));
	json_object_set_new(o, "receiving", json_string(h->receiving_stalled ? "stalled" : "ok"));
	lt_time_format(h->receiving_since_ms, at, sizeof at);
	json_object_set_new(o, "receiving_since", json_string(at));
	json_object_set_new(o, "receiving_reason", json_string(h->receiving_reason));
	if (h->last_received_ms != 0) {
		lt_time_format(h->last_received_ms, at, sizeof at);
		json_object_set_new(o, "last_received", json_string(at));
	}
	json_object_set_new(o, "consumer_replacements", json_integer(h->consumer_replacements));
	json_object_set_new(o, "forwarding_failing_topics", json_integer(h->forwarding_failing));
	if (h->forwarding_failing > 0) {
		lt_time_format(h->forwarding_since_ms, at, sizeof at);
		json_object_set_new(o, "forwarding_failing_since", json_string(at));
		json_object_set_new(o, "forwarding_failing_topic",
		                    json_string(h->forwarding_topic));
	}
	json_object_set_new(o, "submission", json_string(h->submission_down ? "down" : "ok"));
	json_object_set_new(o, "submission_reason", json_string(h->submission_reason));
	lienthong__store__health_record__free_unpacked(h, NULL);
	return o;
}

static void lt_status_agent_text(json_t *o)
{
	json_t *pid = json_object_get(o, "pid");
	const char *at = json_string_value(json_object_get(o, "reported_at"));
	if (!json_is_true(json_object_get(o, "running")))
		printf("%-10s not running%s%s%s\n", "agent", at ? " (last report " : "",
		       at ? at : "", at ? ")" : "");
	else if (pid != NULL)
		printf("%-10s running (pid %lld)\n", "agent", (long long)json_integer_value(pid));
	else
		printf("%-10s running\n", "agent");
	if (at == NULL)
		return;
	const char *last = json_string_value(json_object_get(o, "last_received"));
	if (strcmp(json_string_value(json_object_get(o, "receiving")), "stalled") == 0)
		printf("%-10s stalled since %s: %s\n", "receiving",
		       json_string_value(json_object_get(o, "receiving_since")),
		       json_string_value(json_object_get(o, "receiving_reason")));
	else
		printf("%-10s ok (last record handled %s; Kafka consumer replaced %lld time(s))\n",
		       "receiving", last ? last : "never",
		       (long long)json_integer_value(json_object_get(o, "consumer_replacements")));
	json_int_t failing = json_integer_value(json_object_get(o, "forwarding_failing_topics"));
	if (failing > 0)
		printf("%-10s %lld topic(s) failing since %s (%s...): their records wait and are "
		       "retried\n",
		       "forwarding", (long long)failing,
		       json_string_value(json_object_get(o, "forwarding_failing_since")),
		       json_string_value(json_object_get(o, "forwarding_failing_topic")));
	else
		printf("%-10s ok\n", "forwarding");
	if (strcmp(json_string_value(json_object_get(o, "submission")), "down") == 0)
		printf("%-10s down: %s\n", "submission",
		       json_string_value(json_object_get(o, "submission_reason")));
	else
		printf("%-10s ok\n", "submission");
}

static void lt_status_summary(const struct lt_status_scan *sc, const struct lt_quarantine_stats *q,
                              int json, struct lt_store *store, const char *data_dir)
{
	json_t *agent = lt_status_agent(store, data_dir);
	static const Lienthong__Store__DocStatus order[] = {
	    LIENTHONG__STORE__DOC_STATUS__QUEUED, LIENTHONG__STORE__DOC_STATUS__SENT,
	    LIENTHONG__STORE__DOC_STATUS__DELIVERED, LIENTHONG__STORE__DOC_STATUS__REJECTED,
	    LIENTHONG__STORE__DOC_STATUS__FAILED};
	double age =
	    sc->oldest_queued_ms ? (double)(lt_now_ms() - sc->oldest_queued_ms) / 1000.0 : 0.0;
	if (json) {
		json_t *o = json_object();
		for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
			json_object_set_new(o, lt_status_name(order[i]),
			                    json_integer((json_int_t)sc->counts[order[i]]));
		json_object_set_new(o, "total", json_integer((json_int_t)sc->rows));
		json_object_set_new(o, "oldest_queued_age_s",
		                    sc->oldest_queued_ms ? json_real(age) : json_null());
		json_object_set_new(o, "agent", agent);
		json_object_set_new(o, "quarantine_records", json_integer((json_int_t)q->records));
		json_object_set_new(o, "quarantine_bytes", json_integer((json_int_t)q->bytes));
		json_object_set_new(o, "quarantine_dropped", json_integer((json_int_t)q->dropped));
		char *text = json_dumps(o, JSON_COMPACT);
		if (text != NULL)
			puts(text);
		free(text);
		json_decref(o);
		return;
	}
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		printf("%-10s %llu\n", lt_status_name(order[i]),
		       (unsigned long long)sc->counts[order[i]]);
	printf("%-10s %zu\n", "total", sc->rows);
	if (sc->oldest_queued_ms)
		printf("oldest queued document waits for %.1f s\n", age);
	lt_status_quarantine_line(q);
	lt_status_agent_text(agent);
	json_decref(agent);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"json", no_argument, NULL, 'j'},
	    {"summary", no_argument, NULL, 's'},      {"quarantine", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	struct lt_status_opts o = {0};
	const char *config = NULL;
	int c;
	lt_log_init(argv[0], LT_LOG_INFO);
	while ((c = getopt_long(argc, argv, "c:jsqh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'j':
			o.json = 1;
			break;
		case 's':
			o.summary = 1;
			break;
		case 'q':
			o.quarantine = 1;
			break;
		case 'h':
			lt_status_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'lienthong-status --help'.\n");
			return 2;
		}
	}
	if (config == NULL || argc - optind > 1) {
		fprintf(stderr, "lienthong-status: %s\nTry 'lienthong-status --help'.\n",
		        config == NULL ? "-c FILE is required" : "at most one DOCUMENT_ID");
		return 2;
	}
	if (optind < argc)
		o.doc_id = argv[optind];

	static struct lt_config cfg;
	struct lt_store *store = NULL;
	struct lt_txn *t = NULL;
	struct lt_status_scan sc = {.o = &o};
	lt_err err;
	int rc = 1;
	struct lt_quarantine_stats qs;
	if (o.quarantine) {
		uint64_t count = 0;
		if (lt_config_load(&cfg, config, &err) != 0 ||
		    lt_store_open(&store, cfg.data_dir, cfg.lmdb_map_size, &err) != 0 ||
		    lt_quarantine_list(store, o.json, stdout, &count, &err) != 0 ||
		    lt_txn_begin(store, 0, &t, &err) != 0 ||
		    lt_quarantine_stats(t, &qs, &err) != 0) {
			lt_log_error("%s", err.msg);
			goto out;
		}
		if (!o.json && count == 0)
			printf("quarantine is empty\n");
		if (!o.json && qs.dropped > 0)
			lt_status_quarantine_line(&qs);
		rc = 0;
		goto out;
	}
	if (lt_config_load(&cfg, config, &err) != 0 ||
	    (o.doc_id != NULL && lt_docid_check(o.doc_id, &err) != 0) ||
	    lt_store_open(&store, cfg.data_dir, cfg.lmdb_map_size, &err) != 0 ||
	    lt_txn_begin(store, 0, &t, &err) != 0 ||
	    lt_txn_scan(t, LT_DB_STATUS, o.doc_id, o.doc_id ? strlen(o.doc_id) : 0, lt_status_row,
	                &sc, &err) != 0) {
		lt_log_error("%s", err.msg);
		goto out;
	}
	if (o.doc_id != NULL && sc.rows == 0) {
		lt_log_error("no document %s in %s", o.doc_id, cfg.data_dir);
		goto out;
	}
	if (o.summary && lt_quarantine_stats(t, &qs, &err) != 0) {
		lt_log_error("%s", err.msg);
		goto out;
	}
	if (o.summary)
		lt_status_summary(&sc, &qs, o.json, store, cfg.data_dir);
	rc = 0;
out:
	lt_txn_abort(t);
	lt_store_close(store);
	lt_config_free(&cfg);
	return rc;
}
