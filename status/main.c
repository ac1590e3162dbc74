/*
 * lienthong-status: what happened to each document this agency sent, per
 * recipient, read from the local LMDB store only (answers offline, while the
 * agent runs or not). Read-only: it never changes the store, and opens it
 * with read transactions only, so it never waits for the agent.
 *
 * Lists are read through the store's indexes (store/lt_index.h): by
 * recipient, status, time of last change and subject word, with counters for
 * the summary, so no query reads every record. Also shows one document's
 * history, and what this agency received (--received).
 *
 * Trusts the store's structure, not its text: reasons, subjects, names of
 * reporters and senders were written by other agencies (in their receipts
 * and documents) or by senders, so every such string is printed escaped
 * (text/lt_text.h), in text, JSON and CSV alike.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../clock/lt_clock.h"
#include "../config/lt_config.h"
#include "../consumers/lt_quarantine.h"
#include "../log/lt_log.h"
#include "../proto/lt_envelope.h"
#include "../store/lt_check.h"
#include "../store/lt_health.h"
#include "../store/lt_index.h"
#include "../store/lt_lock.h"
#include "../store/lt_store.h"
#include "../text/lt_text.h"

#define LT_STATUS_WATCH_MAX 86400

enum lt_status_format { LT_FMT_TEXT, LT_FMT_JSON, LT_FMT_CSV };

struct lt_status_opts {
	enum lt_status_format fmt;
	int summary;
	int quarantine;
	int history;               /* --history: the events only */
	int received;              /* --received: the inbox */
	int64_t stuck_s;           /* --stuck AGE in seconds; -1: not asked */
	const char *since, *until; /* as given: an age counts back from each refresh */
	int watch_s;               /* --watch: seconds between refreshes; 0: once */
	const char *doc_id;        /* only this document, or NULL */
	struct lt_index_query q;   /* the filters (q.doc_id: doc_id) */
};

/*
 * Each status's edXML code (QCVN 102:2016) and whether the document still
 * waits for a step in it (--stuck). Looked up by name, so a status this
 * table does not know has no code and counts as waiting.
 */
static const struct {
	const char *name, *code;
	int waiting;
} lt_status_info[] = {
    {"queued", NULL, 1},        {"sent", NULL, 1},           {"delivered", "01", 0},
    {"rejected", "02", 0},      {"failed", "02", 0},         {"arrived", "01", 1},
    {"refused", "02", 0},       {"accepted", "03", 1},       {"awaiting-assignment", "04", 1},
    {"in-processing", "05", 1}, {"processed", "06", 0},      {"recall-requested", "13", 1},
    {"recall-agreed", "15", 0}, {"recall-refused", "16", 0},
};

static const char *lt_status_code(const char *name)
{
	for (size_t i = 0; i < sizeof lt_status_info / sizeof lt_status_info[0]; i++)
		if (strcmp(lt_status_info[i].name, name) == 0)
			return lt_status_info[i].code;
	return NULL;
}

static int lt_status_waiting(const char *name)
{
	for (size_t i = 0; i < sizeof lt_status_info / sizeof lt_status_info[0]; i++)
		if (strcmp(lt_status_info[i].name, name) == 0)
			return lt_status_info[i].waiting;
	return 1;
}

/* The statuses this version stores, in their order (descriptor values but 0). */
static size_t lt_status_all(Lienthong__Store__DocStatus *out, size_t max)
{
	const ProtobufCEnumDescriptor *d = &lienthong__store__doc_status__descriptor;
	size_t n = 0;
	for (unsigned i = 0; i < d->n_values && n < max; i++)
		if (d->values[i].value > 0 && d->values[i].value < 64)
			out[n++] = (Lienthong__Store__DocStatus)d->values[i].value;
	return n;
}

/* The width of the status column: the longest status name. */
static int lt_status_width(void)
{
	Lienthong__Store__DocStatus all[64];
	size_t n = lt_status_all(all, 64), w = 9;
	for (size_t i = 0; i < n; i++)
		if (strlen(lt_status_name(all[i])) > w)
			w = strlen(lt_status_name(all[i]));
	return (int)w;
}

/* "queued,sent" -> bits; -1 with a message for an unknown name. */
static int lt_status_parse_set(const char *arg, uint64_t *mask)
{
	Lienthong__Store__DocStatus all[64];
	size_t n = lt_status_all(all, 64);
	char buf[256];
	snprintf(buf, sizeof buf, "%s", arg);
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t i = 0;
		while (i < n && strcmp(lt_status_name(all[i]), tok) != 0)
			i++;
		if (i == n) {
			fprintf(stderr,
			        "lienthong-status: --status %s: unknown status \"%s\"; one of:",
			        arg, tok);
			for (i = 0; i < n; i++)
				fprintf(stderr, "%s %s", i ? "," : "", lt_status_name(all[i]));
			fputc('\n', stderr);
			return -1;
		}
		*mask |= 1ULL << all[i];
	}
	return *mask != 0 ? 0 : -1;
}

/* "90", "90s", "30m", "2h", "7d", "1w" -> seconds; -1 if not that. */
static int64_t lt_status_parse_age(const char *s)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (end == s || v < 0 || errno != 0)
		return -1;
	int64_t unit = 1;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	case 'w':
		unit = 7 * 86400;
		break;
	default:
		return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (v > INT64_MAX / 1000 / unit)
		return -1;
	return v * unit;
}

/*
 * A time: ISO 8601 (2026-11-28, 2026-11-28T09:30, 2026-11-28T09:30:00Z,
 * ...:00.123+07:00; no zone: UTC) or an age before now (2h, 30m, 7d).
 * Milliseconds since the epoch, or -1.
 */
static int64_t lt_status_parse_time(const char *s, int64_t now_ms)
{
	int64_t age = lt_status_parse_age(s);
	if (age >= 0)
		return now_ms - age * 1000 > 0 ? now_ms - age * 1000 : 1;
	struct tm tm = {0};
	const char *p = strptime(s, "%Y-%m-%d", &tm);
	if (p == NULL)
		return -1;
	int ms = 0;
	if (*p == 'T' || *p == ' ') {
		const char *q = strptime(p + 1, "%H:%M", &tm);
		if (q == NULL)
			return -1;
		p = q;
		if (*p == ':') {
			if ((q = strptime(p + 1, "%S", &tm)) == NULL)
				return -1;
			p = q;
			if (*p == '.' && isdigit((unsigned char)p[1])) {
				int digits = 0;
				for (p++; isdigit((unsigned char)*p); p++, digits++)
					if (digits < 3)
						ms = ms * 10 + (*p - '0');
				for (; digits < 3; digits++)
					ms *= 10;
			}
		}
	}
	int64_t offset_s = 0;
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || hh > 23 || mm > 59)
			return -1;
		offset_s = (*p == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
		p += 6;
	}
	if (*p != '\0')
		return -1;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	return ((int64_t)t - offset_s) * 1000 + ms;
}

/* ---- output: one place per format; every outside string escaped ---- */

/* Writes s as one CSV field: escaped (no control character is left), then quoted. */
static void lt_csv_field(const char *s, int last)
{
	size_t cap = 4 * strlen(s) + 16;
	char *e = malloc(cap);
	const char *shown = e != NULL ? lt_text_escape(s, e, cap) : "";
	putchar('"');
	for (const char *c = shown; *c; c++) {
		if (*c == '"')
			putchar('"');
		putchar(*c);
	}
	putchar('"');
	putchar(last ? '\n' : ',');
	free(e);
}

static void lt_csv_num(long long v, int present, int last)
{
	if (present)
		printf("%lld", v);
	putchar(last ? '\n' : ',');
}

static void lt_json_line(json_t *o)
{
	char *text = lt_text_json_dumps(o, JSON_COMPACT);
	if (text != NULL)
		puts(text);
	free(text);
	json_decref(o);
}

static json_t *lt_json_code(const char *code)
{
	return code != NULL ? json_string(code) : json_null();
}

struct lt_status_run {
	const struct lt_status_opts *o;
	int width;
	size_t rows;
};

static int lt_status_row(void *ctx, const char *doc_id, const char *recipient,
                         const Lienthong__Store__StatusRecord *r, lt_err *err)
{
	struct lt_status_run *run = ctx;
	const char *name = lt_status_name(r->status);
	char updated[LT_TIME_TEXT], queued[LT_TIME_TEXT];
	(void)err;
	run->rows++;
	lt_time_format(r->updated_at_ms, updated, sizeof updated);
	lt_time_format(r->queued_at_ms, queued, sizeof queued);
	if (run->o->fmt == LT_FMT_TEXT) {
		/* Reasons come from other agencies' receipts: shown escaped (lt_text.h). */
		char shown[4 * (LT_CODE_MAX + 1)];
		lt_text_fputs(doc_id, stdout);
		printf("  %-20s %-*s  %s", lt_text_escape(recipient, shown, sizeof shown),
		       run->width, name, updated);
		if (r->offset >= 0)
			printf("  p%d@%lld", (int)r->partition, (long long)r->offset);
		if (r->reason[0] != '\0') {
			fputs("  ", stdout);
			lt_text_fputs(r->reason, stdout);
		}
		putchar('\n');
		return 0;
	}
	if (run->o->fmt == LT_FMT_CSV) {
		lt_csv_field(doc_id, 0);
		lt_csv_field(recipient, 0);
		lt_csv_field(name, 0);
		lt_csv_field(lt_status_code(name) ? lt_status_code(name) : "", 0);
		lt_csv_field(updated, 0);
		lt_csv_field(queued, 0);
		lt_csv_num(r->partition, r->offset >= 0, 0);
		lt_csv_num(r->offset, r->offset >= 0, 0);
		lt_csv_num(r->attempts, 1, 0);
		lt_csv_field(r->subject, 0);
		lt_csv_field(r->reason, 1);
		return 0;
	}
	json_t *o = json_object();
	json_object_set_new(o, "document_id", lt_text_json(doc_id));
	json_object_set_new(o, "recipient", lt_text_json(recipient));
	json_object_set_new(o, "status", json_string(name));
	json_object_set_new(o, "edxml_code", lt_json_code(lt_status_code(name)));
	json_object_set_new(o, "updated_at", json_string(updated));
	json_object_set_new(o, "queued_at", json_string(queued));
	lt_time_format(lt_index_time(r), queued, sizeof queued);
	json_object_set_new(o, "status_since", json_string(queued));
	json_object_set_new(o, "subject", lt_text_json(r->subject));
	json_object_set_new(o, "partition",
	                    r->offset >= 0 ? json_integer(r->partition) : json_null());
	json_object_set_new(o, "offset", r->offset >= 0 ? json_integer(r->offset) : json_null());
	json_object_set_new(o, "attempts", json_integer(r->attempts));
	json_object_set_new(o, "reason", lt_text_json(r->reason));
	lt_json_line(o);
	return 0;
}

struct lt_history_run {
	const struct lt_status_opts *o;
	const char *doc_id;
	int width;
	char recipient[LT_CODE_MAX * 4 + 8]; /* the one whose events are being shown */
	size_t events;
};

static int lt_status_event(void *ctx, const char *recipient,
                           const Lienthong__Store__HistoryEvent *ev, lt_err *err)
{
	struct lt_history_run *h = ctx;
	const char *name = lt_status_name(ev->status);
	const char *code = ev->business_code[0] ? ev->business_code : lt_status_code(name);
	char at[LT_TIME_TEXT];
	(void)err;
	h->events++;
	lt_time_format(ev->at_ms, at, sizeof at);
	if (h->o->fmt == LT_FMT_TEXT) {
		if (strcmp(h->recipient, recipient) != 0) {
			snprintf(h->recipient, sizeof h->recipient, "%s", recipient);
			fputs("history for ", stdout);
			lt_text_fputs(recipient, stdout);
			fputs(":\n", stdout);
		}
		int more = code != NULL || ev->offset >= 0 || ev->who[0] || ev->reason[0];
		printf("  %s  %-10s -> %-*s", at, ev->event, more ? h->width : 0, name);
		if (more)
			printf("  %-2s", code ? code : "");
		if (ev->offset >= 0)
			printf("  p%d@%lld", (int)ev->partition, (long long)ev->offset);
		if (ev->who[0] != '\0') {
			fputs("  by ", stdout);
			lt_text_fputs(ev->who, stdout);
		}
		if (ev->reason[0] != '\0') {
			fputs("  ", stdout);
			lt_text_fputs(ev->reason, stdout);
		}
		putchar('\n');
		return 0;
	}
	if (h->o->fmt == LT_FMT_CSV) {
		lt_csv_field(h->doc_id, 0);
		lt_csv_field(recipient, 0);
		lt_csv_field(at, 0);
		lt_csv_field(ev->event, 0);
		lt_csv_field(name, 0);
		lt_csv_field(code ? code : "", 0);
		lt_csv_field(ev->who, 0);
		lt_csv_num(ev->partition, ev->offset >= 0, 0);
		lt_csv_num(ev->offset, ev->offset >= 0, 0);
		lt_csv_field(ev->reason, 1);
		return 0;
	}
	json_t *o = json_object();
	json_object_set_new(o, "document_id", lt_text_json(h->doc_id));
	json_object_set_new(o, "recipient", lt_text_json(recipient));
	json_object_set_new(o, "at", json_string(at));
	json_object_set_new(o, "event", lt_text_json(ev->event));
	json_object_set_new(o, "status", json_string(name));
	json_object_set_new(o, "moved", json_boolean(ev->moved));
	json_object_set_new(o, "edxml_code", lt_json_code(code));
	json_object_set_new(o, "who", lt_text_json(ev->who));
	json_object_set_new(o, "partition",
	                    ev->offset >= 0 ? json_integer(ev->partition) : json_null());
	json_object_set_new(o, "offset", ev->offset >= 0 ? json_integer(ev->offset) : json_null());
	json_object_set_new(o, "reason", lt_text_json(ev->reason));
	lt_json_line(o);
	return 0;
}

/* The recipient side: what this agency received (the inbox, keyed "<sender>\0<id>"). */
struct lt_received_run {
	const struct lt_status_opts *o;
	size_t rows;
};

/* "INBOX_DELIVERED" -> "delivered": the inbox status as its enum names it. */
static void lt_inbox_name(Lienthong__Store__InboxStatus st, char *out, size_t size)
{
	const ProtobufCEnumValue *v =
	    protobuf_c_enum_descriptor_get_value(&lienthong__store__inbox_status__descriptor, st);
	const char *n = v != NULL ? v->name : "unknown";
	if (strncmp(n, "INBOX_", 6) == 0)
		n += 6;
	size_t i = 0;
	for (; n[i] != '\0' && i + 1 < size; i++)
		out[i] = n[i] == '_' ? '-' : (char)tolower((unsigned char)n[i]);
	out[i] = '\0';
}

static int lt_status_received_row(void *ctx, const void *key, size_t klen, const void *val,
                                  size_t vlen, lt_err *err)
{
	struct lt_received_run *run = ctx;
	const struct lt_status_opts *o = run->o;
	const char *k = key;
	const char *nul = memchr(k, '\0', klen);
	if (nul == NULL || (size_t)(nul - k) > LT_CODE_MAX || klen - (size_t)(nul - k) - 1 == 0 ||
	    klen - (size_t)(nul - k) - 1 > LT_DOCID_LEN)
		return lt_err_set(err, LT_EIO, "inbox key of %zu bytes is corrupt", klen);
	char sender[LT_CODE_MAX + 1], doc_id[LT_DOCID_LEN + 1];
	size_t ls = (size_t)(nul - k), ld = klen - ls - 1;
	memcpy(sender, k, ls);
	sender[ls] = '\0';
	memcpy(doc_id, nul + 1, ld);
	doc_id[ld] = '\0';
	Lienthong__Store__InboxRecord *r = lienthong__store__inbox_record__unpack(NULL, vlen, val);
	if (r == NULL)
		return lt_err_set(err, LT_EIO, "inbox record of %s from %s is corrupt", doc_id,
		                  sender);
	if ((o->q.since_ms != 0 && r->at_ms < o->q.since_ms) ||
	    (o->q.until_ms != 0 && r->at_ms >= o->q.until_ms) ||
	    (o->q.recipient != NULL && strcmp(o->q.recipient, sender) != 0))
		goto out;
	char name[32], at[LT_TIME_TEXT];
	lt_inbox_name(r->status, name, sizeof name);
	lt_time_format(r->at_ms, at, sizeof at);
	const char *code = lt_status_code(name);
	run->rows++;
	if (o->fmt == LT_FMT_TEXT) {
		char shown[4 * (LT_CODE_MAX + 1)];
		printf("%-20s ", lt_text_escape(sender, shown, sizeof shown));
		lt_text_fputs(doc_id, stdout);
		printf("  %-9s  %s", name, at);
		if (r->reason[0] != '\0') {
			fputs("  ", stdout);
			lt_text_fputs(r->reason, stdout);
		}
		putchar('\n');
	} else if (o->fmt == LT_FMT_CSV) {
		lt_csv_field(sender, 0);
		lt_csv_field(doc_id, 0);
		lt_csv_field(name, 0);
		lt_csv_field(code ? code : "", 0);
		lt_csv_field(at, 0);
		lt_csv_field(r->reason, 1);
	} else {
		json_t *j = json_object();
		json_object_set_new(j, "sender", lt_text_json(sender));
		json_object_set_new(j, "document_id", lt_text_json(doc_id));
		json_object_set_new(j, "status", json_string(name));
		json_object_set_new(j, "edxml_code", lt_json_code(code));
		json_object_set_new(j, "at", json_string(at));
		json_object_set_new(j, "reason", lt_text_json(r->reason));
		json_object_set_new(j, "path", lt_text_json(r->path));
		lt_json_line(j);
	}
out:
	lienthong__store__inbox_record__free_unpacked(r, NULL);
	return 0;
}

static void lt_status_usage(FILE *out)
{
	fprintf(out,
	        "Usage: lienthong-status -c FILE [FILTER...] [--json | --csv] [--watch [SECONDS]]\n"
	        "       lienthong-status -c FILE [--json | --csv] [--history] DOCUMENT_ID\n"
	        "       lienthong-status -c FILE --summary [--json]\n"
	        "       lienthong-status -c FILE --received [--recipient SENDER] [--since T]\n"
	        "       lienthong-status -c FILE --quarantine [--json]\n"
	        "\n"
	        "Shows, from the agency's local store, each document it sent and its status per\n"
	        "recipient: queued (in the outbox), sent (acknowledged by Kafka, with partition\n"
	        "and offset), delivered (the recipient's signed receipt says so), rejected or\n"
	        "failed (with the recipient's reason), and the business statuses the recipient\n"
	        "reports later. Works offline, never waits for the agent. Lists are read through\n"
	        "indexes: they answer at once however many documents the store holds.\n"
	        "\n"
	        "Options:\n"
	        "  -c, --config FILE  the agency's configuration file (required)\n"
	        "  DOCUMENT_ID        that document only: its status per recipient, then (text)\n"
	        "                     its history\n"
	        "  --history          with DOCUMENT_ID: every event of each recipient's status:\n"
	        "                     time, event, status after, edXML code, Kafka position,\n"
	        "                     who reported it, reason\n"
	        "  --recipient CODE   documents sent to CODE\n"
	        "  --status S[,S...]  documents in one of these statuses\n"
	        "  --since T          last change of status at or after T: ISO 8601 (2026-11-28,\n"
	        "                     2026-11-28T09:30:00Z, ...+07:00; no zone is UTC) or an\n"
	        "                     age before now (90s, 30m, 2h, 7d, 1w)\n"
	        "  --until T          last change of status before T\n"
	        "  --subject WORD     the subject contains WORD (whole words, any case)\n"
	        "  --stuck AGE        not in a final status, in it for longer than AGE\n"
	        "  -s, --summary      counts per status and per recipient, the age of the oldest\n"
	        "                     queued document, and the agent: running or not, receiving\n"
	        "                     ok or stalled (since when, why, what it does about it),\n"
	        "                     submission service up or down\n"
	        "  --received         documents this agency received: sender, id, status, time\n"
	        "  -q, --quarantine   records this agency received and did not deliver, with\n"
	        "                     the reason (inspect and release: lienthong-quarantine)\n"
	        "  -j, --json         one JSON object per line; a status: document_id,\n"
	        "                     recipient, status, edxml_code, updated_at, queued_at,\n"
	        "                     status_since, subject, partition, offset, attempts, reason\n"
	        "  --csv              comma-separated values with a header line\n"
	        "  --watch [SECONDS]  show again every SECONDS (default 2), clearing the\n"
	        "                     screen, until interrupted\n"
	        "  -h, --help         this text\n"
	        "\n"
	        "Exit status: 0; 1 if DOCUMENT_ID is unknown or the store cannot be read;\n"
	        "2 on a usage error.\n");
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
	json_object_set_new(o, "consumers_stuck", json_integer(h->consumers_stuck));
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

struct lt_count_row {
	char recipient[LT_CODE_MAX + 1];
	uint64_t n[64];
	uint64_t total;
};

struct lt_count_table {
	uint64_t n[64];
	uint64_t total;
	struct lt_count_row *rows;
	size_t n_rows, cap;
};

static int lt_status_count(void *ctx, const char *recipient, Lienthong__Store__DocStatus status,
                           uint64_t count, lt_err *err)
{
	struct lt_count_table *ct = ctx;
	if ((unsigned)status >= 64)
		return 0; /* a status this version cannot hold in a set: not shown */
	if (recipient == NULL) {
		ct->n[status] += count;
		ct->total += count;
		return 0;
	}
	/* Counters come by recipient: a new recipient is a new row. */
	if (ct->n_rows == 0 || strcmp(ct->rows[ct->n_rows - 1].recipient, recipient) != 0) {
		if (ct->n_rows == ct->cap) {
			size_t cap = ct->cap ? ct->cap * 2 : 16;
			struct lt_count_row *r = realloc(ct->rows, cap * sizeof *r);
			if (r == NULL)
				return lt_err_set(err, LT_EIO, "out of memory");
			ct->rows = r;
			ct->cap = cap;
		}
		struct lt_count_row *row = &ct->rows[ct->n_rows++];
		memset(row, 0, sizeof *row);
		snprintf(row->recipient, sizeof row->recipient, "%s", recipient);
	}
	struct lt_count_row *row = &ct->rows[ct->n_rows - 1];
	row->n[status] += count;
	row->total += count;
	return 0;
}

static int lt_status_oldest(void *ctx, const char *doc_id, const char *recipient,
                            const Lienthong__Store__StatusRecord *r, lt_err *err)
{
	(void)doc_id;
	(void)recipient;
	(void)err;
	*(int64_t *)ctx = r->queued_at_ms;
	return 1;
}

static void lt_status_quarantine_line(const struct lt_quarantine_stats *q)
{
	printf("quarantine %llu records, %llu bytes; %llu dropped at the ceiling (%llu bytes)\n",
	       (unsigned long long)q->records, (unsigned long long)q->bytes,
	       (unsigned long long)q->dropped, (unsigned long long)q->dropped_bytes);
}

static void lt_status_summary(const struct lt_count_table *ct, int64_t oldest_queued_ms,
                              const struct lt_quarantine_stats *qs, int json,
                              struct lt_store *store, const char *data_dir)
{
	json_t *agent = lt_status_agent(store, data_dir);
	Lienthong__Store__DocStatus all[64];
	size_t n_all = lt_status_all(all, 64);
	double age = oldest_queued_ms ? (double)(lt_now_ms() - oldest_queued_ms) / 1000.0 : 0.0;
	if (json) {
		json_t *o = json_object();
		for (size_t i = 0; i < n_all; i++)
			json_object_set_new(o, lt_status_name(all[i]),
			                    json_integer((json_int_t)ct->n[all[i]]));
		json_object_set_new(o, "total", json_integer((json_int_t)ct->total));
		json_object_set_new(o, "oldest_queued_age_s",
		                    oldest_queued_ms ? json_real(age) : json_null());
		json_t *rcpts = json_array();
		for (size_t r = 0; r < ct->n_rows; r++) {
			json_t *row = json_object();
			json_object_set_new(row, "recipient", lt_text_json(ct->rows[r].recipient));
			json_object_set_new(row, "total",
			                    json_integer((json_int_t)ct->rows[r].total));
			for (size_t i = 0; i < n_all; i++)
				if (ct->rows[r].n[all[i]] > 0)
					json_object_set_new(
					    row, lt_status_name(all[i]),
					    json_integer((json_int_t)ct->rows[r].n[all[i]]));
			json_array_append_new(rcpts, row);
		}
		json_object_set_new(o, "recipients", rcpts);
		json_object_set_new(o, "quarantine_records", json_integer((json_int_t)qs->records));
		json_object_set_new(o, "quarantine_bytes", json_integer((json_int_t)qs->bytes));
		json_object_set_new(o, "quarantine_dropped", json_integer((json_int_t)qs->dropped));
		json_object_set_new(o, "agent", agent);
		lt_json_line(o);
		return;
	}
	/* The transport statuses always, the others when some document has them. */
	for (size_t i = 0; i < n_all; i++)
		if (all[i] <= LIENTHONG__STORE__DOC_STATUS__FAILED || ct->n[all[i]] > 0)
			printf("%-10s %llu\n", lt_status_name(all[i]),
			       (unsigned long long)ct->n[all[i]]);
	printf("%-10s %llu\n", "total", (unsigned long long)ct->total);
	if (oldest_queued_ms)
		printf("oldest queued document waits for %.1f s\n", age);
	if (ct->n_rows > 0)
		printf("%-20s %8s  %s\n", "recipient", "total", "by status");
	for (size_t r = 0; r < ct->n_rows; r++) {
		char shown[4 * (LT_CODE_MAX + 1)];
		printf("%-20s %8llu ", lt_text_escape(ct->rows[r].recipient, shown, sizeof shown),
		       (unsigned long long)ct->rows[r].total);
		const char *sep = " ";
		for (size_t i = 0; i < n_all; i++) {
			if (ct->rows[r].n[all[i]] == 0)
				continue;
			printf("%s%s %llu", sep, lt_status_name(all[i]),
			       (unsigned long long)ct->rows[r].n[all[i]]);
			sep = ", ";
		}
		putchar('\n');
	}
	lt_status_quarantine_line(qs);
	lt_status_agent_text(agent);
	json_decref(agent);
}

/* One answer to the command line, in one read transaction. Returns the exit status. */
static int lt_status_once(const struct lt_status_opts *o, struct lt_store *store,
                          const char *data_dir)
{
	struct lt_txn *t = NULL;
	lt_err err;
	int rc = 1;
	if (lt_txn_begin(store, 0, &t, &err) != 0)
		goto fail;
	if (o->received) {
		struct lt_received_run run = {.o = o};
		if (o->fmt == LT_FMT_CSV)
			puts("sender,document_id,status,edxml_code,at,reason");
		if (lt_txn_scan(t, LT_DB_INBOX, NULL, 0, lt_status_received_row, &run, &err) != 0)
			goto fail;
		if (o->fmt == LT_FMT_TEXT && run.rows == 0)
			printf("nothing received\n");
		rc = 0;
		goto out;
	}
	if (o->summary) {
		struct lt_count_table ct = {.n_rows = 0};
		int64_t oldest = 0;
		struct lt_quarantine_stats qs;
		struct lt_index_query q = {.statuses = 1ULL
		                                       << LIENTHONG__STORE__DOC_STATUS__QUEUED};
		if (lt_index_counts(t, lt_status_count, &ct, &err) != 0 ||
		    lt_index_query(t, &q, lt_status_oldest, &oldest, &err) != 0 ||
		    lt_quarantine_stats(t, &qs, &err) != 0) {
			free(ct.rows);
			goto fail;
		}
		lt_txn_abort(t);
		t = NULL;
		lt_status_summary(&ct, oldest, &qs, o->fmt == LT_FMT_JSON, store, data_dir);
		free(ct.rows);
		rc = 0;
		goto out;
	}
	struct lt_history_run h = {.o = o, .doc_id = o->doc_id, .width = lt_status_width()};
	if (!o->history) {
		struct lt_status_run run = {.o = o, .width = h.width};
		struct lt_index_query q = o->q;
		if (o->stuck_s >= 0) {
			/* Not in a final status, and unchanged for longer than AGE. */
			Lienthong__Store__DocStatus all[64];
			size_t n = lt_status_all(all, 64);
			uint64_t waiting = 0;
			for (size_t i = 0; i < n; i++)
				if (lt_status_waiting(lt_status_name(all[i])))
					waiting |= 1ULL << all[i];
			q.statuses = q.statuses ? q.statuses & waiting : waiting;
			int64_t before = lt_now_ms() - o->stuck_s * 1000;
			if (q.until_ms == 0 || q.until_ms > before)
				q.until_ms = before > 0 ? before : 1;
			if (q.statuses == 0)
				goto listed; /* only final statuses asked for: none is stuck */
		}
		if (o->fmt == LT_FMT_CSV)
			puts("document_id,recipient,status,edxml_code,updated_at,queued_at,"
			     "partition,"
			     "offset,attempts,subject,reason");
		if (lt_index_query(t, &q, lt_status_row, &run, &err) != 0)
			goto fail;
	listed:
		if (o->doc_id != NULL && run.rows == 0) {
			lt_log_error("no document %s in %s", o->doc_id, data_dir);
			goto out;
		}
		/* ID alone, for people: its status, then its history. */
		if (o->doc_id == NULL || o->fmt != LT_FMT_TEXT) {
			rc = 0;
			goto out;
		}
		putchar('\n');
	}
	if (o->fmt == LT_FMT_CSV)
		puts(
		    "document_id,recipient,at,event,status,edxml_code,who,partition,offset,reason");
	if (lt_history_list(t, o->doc_id, o->q.recipient, lt_status_event, &h, &err) != 0)
		goto fail;
	if (h.events == 0 && o->history) {
		lt_log_error("no history of document %s in %s", o->doc_id, data_dir);
		goto out;
	}
	rc = 0;
	goto out;
fail:
	lt_log_error("%s", err.msg);
out:
	lt_txn_abort(t);
	fflush(stdout);
	return rc;
}

int main(int argc, char **argv)
{
	enum {
		OPT_CSV = 256,
		OPT_HISTORY,
		OPT_RECIPIENT,
		OPT_STATUS,
		OPT_SINCE,
		OPT_UNTIL,
		OPT_SUBJECT,
		OPT_STUCK,
		OPT_RECEIVED,
		OPT_WATCH,
	};
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"csv", no_argument, NULL, OPT_CSV},
	    {"summary", no_argument, NULL, 's'},
	    {"quarantine", no_argument, NULL, 'q'},
	    {"history", no_argument, NULL, OPT_HISTORY},
	    {"recipient", required_argument, NULL, OPT_RECIPIENT},
	    {"status", required_argument, NULL, OPT_STATUS},
	    {"since", required_argument, NULL, OPT_SINCE},
	    {"until", required_argument, NULL, OPT_UNTIL},
	    {"subject", required_argument, NULL, OPT_SUBJECT},
	    {"stuck", required_argument, NULL, OPT_STUCK},
	    {"received", no_argument, NULL, OPT_RECEIVED},
	    {"watch", optional_argument, NULL, OPT_WATCH},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct lt_status_opts o = {.stuck_s = -1};
	const char *config = NULL, *bad = NULL;
	char bad_time[300];
	int64_t now = lt_now_ms();
	int c, filters = 0;
	lt_log_init(argv[0], LT_LOG_INFO);
	lt_store_crash_guard("lienthong-status");
	while ((c = getopt_long(argc, argv, "c:jsqh", opts, NULL)) != -1) {
		const char *arg = optarg;
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'j':
			o.fmt = LT_FMT_JSON;
			break;
		case OPT_CSV:
			o.fmt = LT_FMT_CSV;
			break;
		case 's':
			o.summary = 1;
			break;
		case 'q':
			o.quarantine = 1;
			break;
		case OPT_HISTORY:
			o.history = 1;
			break;
		case OPT_RECEIVED:
			o.received = 1;
			break;
		case OPT_RECIPIENT:
			o.q.recipient = optarg;
			filters++;
			break;
		case OPT_STATUS:
			if (lt_status_parse_set(optarg, &o.q.statuses) != 0)
				return 2;
			filters++;
			break;
		case OPT_SINCE:
		case OPT_UNTIL: {
			int64_t ms = lt_status_parse_time(optarg, now);
			if (ms < 0) {
				snprintf(bad_time, sizeof bad_time,
				         "--%s %s: a time is ISO 8601 (2026-11-28T09:30:00Z, "
				         "2026-11-28) or an age before now (90s, 30m, 2h, 7d, 1w)",
				         c == OPT_SINCE ? "since" : "until", optarg);
				bad = bad_time;
				break;
			}
			*(c == OPT_SINCE ? &o.q.since_ms : &o.q.until_ms) = ms;
			*(c == OPT_SINCE ? &o.since : &o.until) = optarg;
			filters++;
			break;
		}
		case OPT_SUBJECT:
			o.q.word = optarg;
			filters++;
			break;
		case OPT_STUCK:
			if ((o.stuck_s = lt_status_parse_age(optarg)) < 0)
				bad = "--stuck AGE: an age such as 90s, 30m, 2h, 7d or 1w";
			filters++;
			break;
		case OPT_WATCH:
			/* --watch, --watch=N, or --watch N */
			if (arg == NULL && optind < argc && argv[optind][0] != '\0' &&
			    strspn(argv[optind], "0123456789") == strlen(argv[optind]))
				arg = argv[optind++];
			o.watch_s = arg != NULL ? atoi(arg) : 2;
			if (arg != NULL && (strspn(arg, "0123456789") != strlen(arg) ||
			                    o.watch_s < 1 || o.watch_s > LT_STATUS_WATCH_MAX))
				bad = "--watch SECONDS: 1 to 86400";
			break;
		case 'h':
			lt_status_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'lienthong-status --help'.\n");
			return 2;
		}
	}
	if (bad == NULL && config == NULL)
		bad = "-c FILE is required";
	else if (bad == NULL && argc - optind > 1)
		bad = "at most one DOCUMENT_ID";
	if (optind < argc)
		o.doc_id = o.q.doc_id = argv[optind];
	if (bad == NULL && o.history && o.doc_id == NULL)
		bad = "--history needs a DOCUMENT_ID";
	else if (bad == NULL && o.summary + o.quarantine + o.history + o.received > 1)
		bad = "--summary, --quarantine, --history and --received go one at a time";
	else if (bad == NULL && (o.summary || o.quarantine) && (filters > 0 || o.doc_id != NULL))
		bad = "--summary and --quarantine take no filter and no DOCUMENT_ID";
	else if (bad == NULL && o.received &&
	         (o.doc_id != NULL || o.q.statuses || o.q.word || o.stuck_s >= 0))
		bad = "--received takes --recipient (the sender), --since and --until only";
	else if (bad == NULL && o.quarantine && o.fmt == LT_FMT_CSV)
		bad = "--quarantine shows text or --json";
	else if (bad == NULL && o.summary && o.fmt == LT_FMT_CSV)
		bad = "--summary shows text or --json";
	if (bad != NULL) {
		fprintf(stderr, "lienthong-status: %s\nTry 'lienthong-status --help'.\n", bad);
		return 2;
	}

	static struct lt_config cfg;
	struct lt_store *store = NULL;
	lt_err err;
	int rc = 1;
	if (lt_config_load(&cfg, config, &err) != 0 ||
	    (o.doc_id != NULL && lt_docid_check(o.doc_id, &err) != 0) ||
	    lt_store_open(&store, cfg.data_dir, cfg.lmdb_map_size, &err) != 0) {
		lt_log_error("%s", err.msg);
		goto out;
	}
	for (;;) {
		if (o.watch_s > 0 && isatty(STDOUT_FILENO))
			fputs("\033[H\033[2J", stdout); /* clear the screen, then redraw */
		if (o.quarantine) {
			uint64_t count = 0;
			struct lt_quarantine_stats qs;
			struct lt_txn *qt = NULL;
			if (lt_quarantine_list(store, o.fmt == LT_FMT_JSON, stdout, &count, &err) !=
			        0 ||
			    lt_txn_begin(store, 0, &qt, &err) != 0 ||
			    lt_quarantine_stats(qt, &qs, &err) != 0) {
				lt_log_error("%s", err.msg);
				rc = 1;
			} else {
				if (o.fmt == LT_FMT_TEXT && count == 0)
					printf("quarantine is empty\n");
				if (o.fmt == LT_FMT_TEXT && qs.dropped > 0)
					lt_status_quarantine_line(&qs);
				rc = 0;
			}
			lt_txn_abort(qt);
			fflush(stdout);
		} else {
			if (o.since != NULL)
				o.q.since_ms = lt_status_parse_time(o.since, lt_now_ms());
			if (o.until != NULL)
				o.q.until_ms = lt_status_parse_time(o.until, lt_now_ms());
			rc = lt_status_once(&o, store, cfg.data_dir);
		}
		if (o.watch_s == 0)
			break;
		if (o.fmt == LT_FMT_TEXT && !isatty(STDOUT_FILENO))
			putchar('\n'); /* one screen after the other, when not on a terminal */
		fflush(stdout);
		sleep((unsigned)o.watch_s);
	}
out:
	lt_store_close(store);
	lt_config_free(&cfg);
	return rc;
}
