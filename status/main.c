/*
 * lienthong-status: what happened to each document this agency sent, per
 * recipient, read from the local LMDB store only (answers offline, while the
 * agent runs or not). Read-only: it never changes the store.
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
#include "../store/lt_store.h"

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
	        "  -s, --summary      counts per status and the age of the oldest queued document\n"
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
		printf("%s  %-20s %-9s  %s", doc_id, recipient, lt_status_name(r->status), updated);
		if (r->offset >= 0)
			printf("  p%d@%lld", (int)r->partition, (long long)r->offset);
		if (r->reason[0] != '\0')
			printf("  %s", r->reason);
		putchar('\n');
		return;
	}
	json_t *o = json_object();
	json_object_set_new(o, "document_id", json_string(doc_id));
	json_object_set_new(o, "recipient", json_string(recipient));
	json_object_set_new(o, "status", json_string(lt_status_name(r->status)));
	json_object_set_new(o, "updated_at", json_string(updated));
	json_object_set_new(o, "queued_at", json_string(queued));
	json_object_set_new(o, "subject", json_string(r->subject));
	json_object_set_new(o, "partition",
	                    r->offset >= 0 ? json_integer(r->partition) : json_null());
	json_object_set_new(o, "offset", r->offset >= 0 ? json_integer(r->offset) : json_null());
	json_object_set_new(o, "attempts", json_integer(r->attempts));
	json_object_set_new(o, "reason", json_string(r->reason));
	char *text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
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

static void lt_status_summary(const struct lt_status_scan *sc, const struct lt_quarantine_stats *q,
                              int json)
{
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
		lt_status_summary(&sc, &qs, o.json);
	rc = 0;
out:
	lt_txn_abort(t);
	lt_store_close(store);
	lt_config_free(&cfg);
	return rc;
}
