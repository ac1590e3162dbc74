#include "lt_monitor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../clock/lt_clock.h"
#include "../log/lt_log.h"
#include "../store/lt_index.h"
#include "../text/lt_text.h"

#define LT_MONITOR_CRL_FILE_MAX (64 << 20) /* a larger crl_file is not read here */
#define LT_MONITOR_FAILED_WINDOW_MS (24LL * 3600 * 1000)
#define LT_INDEX_NAME_KEEP 256 /* a recipient code as the index gives it (at most 255 bytes) */

struct lt_monitor {
	const struct lt_config *cfg;
	struct lt_store *store;
	struct MHD_Daemon *daemon;
	int fd; /* the listening socket (libmicrohttpd's once it runs) */

	/* Shared with the main loop, under lock (held for copies only). */
	pthread_mutex_t lock;
	struct lt_monitor_view view;
	int64_t minute;                                 /* the current minute's number */
	struct lt_counts base;                          /* the counters as it began */
	int64_t slot_minute[LT_RENDER_MINUTES];         /* which minute a slot holds */
	uint64_t slots[LT_RENDER_MINUTES][LT_TR_COUNT]; /* finished minutes */
	unsigned outages;                               /* the kinds going on */
	int64_t outage_since[LT_OUT_KINDS];
	char outage_what[LT_OUT_KINDS][LT_RENDER_TEXT_MAX + 1];
	struct lt_render_outage ended[LT_RENDER_OUTAGES_MAX]; /* a ring */
	size_t n_ended;                                       /* ever */

	/* The HTTP thread's own: crl_file read when it changes. */
	struct stat crl_st;
	int crl_read, crl_ok;
	int64_t crl_last_ms, crl_next_ms;
	char crl_error[LT_RENDER_TEXT_MAX + 1];
};

/* ---- the listening address ---- */

static int lt_monitor_bad_listen(lt_err *err, const char *listen, const char *why)
{
	return lt_err_set(err, LT_EINVAL,
	                  "http_listen '%.80s': %s (use HOST:PORT with a loopback HOST, such as "
	                  "127.0.0.1:9464 or [::1]:9464; empty: no HTTP endpoint)",
	                  listen, why);
}

int lt_monitor_check_listen(const char *listen, struct sockaddr_storage *addr, socklen_t *len,
                            lt_err *err)
{
	char host[64];
	const char *colon = strrchr(listen, ':');
	memset(addr, 0, sizeof *addr);
	if (colon == NULL || colon == listen)
		return lt_monitor_bad_listen(err, listen, "no HOST:PORT");
	size_t hl = (size_t)(colon - listen);
	if (listen[0] == '[') {
		if (hl < 3 || listen[hl - 1] != ']')
			return lt_monitor_bad_listen(err, listen, "an IPv6 address goes in [ ]");
		hl -= 2;
		listen++;
	}
	if (hl >= sizeof host)
		return lt_monitor_bad_listen(err, listen, "host too long");
	memcpy(host, listen, hl);
	host[hl] = '\0';
	char *end = NULL;
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || port < 1 || port > 65535)
		return lt_monitor_bad_listen(err, listen, "PORT must be a number from 1 to 65535");
	struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127)
			return lt_monitor_bad_listen(
			    err, listen,
			    "not a loopback address: the endpoint has no "
			    "authentication; put an authenticating reverse "
			    "proxy in front to reach it from elsewhere");
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof *v4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr))
			return lt_monitor_bad_listen(
			    err, listen,
			    "not a loopback address: the endpoint has no "
			    "authentication; put an authenticating reverse "
			    "proxy in front to reach it from elsewhere");
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof *v6;
		return 0;
	}
	return lt_monitor_bad_listen(err, listen, "HOST is not an IP address or localhost");
}

/* ---- what the main loop publishes ---- */

static void lt_monitor_series(const struct lt_counts *now, const struct lt_counts *base,
                              uint64_t out[LT_TR_COUNT])
{
	static const enum lt_counter src[LT_TR_COUNT] = {
	    [LT_TR_QUEUED] = LT_C_STATUS + LIENTHONG__STORE__DOC_STATUS__QUEUED,
	    [LT_TR_SENT] = LT_C_STATUS + LIENTHONG__STORE__DOC_STATUS__SENT,
	    [LT_TR_DELIVERED] = LT_C_STATUS + LIENTHONG__STORE__DOC_STATUS__DELIVERED,
	    [LT_TR_RECEIVED] = LT_C_RECEIVED_DELIVERED,
	};
	for (size_t k = 0; k < LT_TR_COUNT; k++)
		out[k] = now->v[src[k]] - base->v[src[k]];
}

/* Notices outages that begin and end, keeping those that ended. Under m->lock. */
static void lt_monitor_outages(struct lt_monitor *m, const struct lt_monitor_view *v)
{
	int64_t since[LT_OUT_KINDS];
	char what[LT_OUT_KINDS][LT_RENDER_TEXT_MAX + 1];
	unsigned on = lt_render_outages_now(v, v->at_ms, since, what);
	for (unsigned k = 0; k < LT_OUT_KINDS; k++) {
		unsigned bit = 1u << k;
		if ((m->outages & bit) && !(on & bit)) {
			struct lt_render_outage *o =
			    &m->ended[m->n_ended++ % LT_RENDER_OUTAGES_MAX];
			o->kind = k;
			o->from_ms = m->outage_since[k];
			o->to_ms = v->at_ms;
			memcpy(o->what, m->outage_what[k], sizeof o->what);
		}
		if (!(on & bit))
			continue;
		if (!(m->outages & bit) || since[k] != 0)
			m->outage_since[k] = since[k] != 0 ? since[k] : v->at_ms;
		memcpy(m->outage_what[k], what[k], sizeof what[k]);
	}
	m->outages = on;
}

void lt_monitor_publish(struct lt_monitor *m, const struct lt_monitor_view *view)
{
	struct lt_counts now;
	int64_t minute = view->at_ms / 60000;
	lt_counters_read(&now);
	pthread_mutex_lock(&m->lock);
	m->view = *view;
	lt_monitor_outages(m, view);
	if (m->minute == 0) {
		m->minute = minute;
		m->base = now;
	} else if (minute > m->minute) {
		size_t slot = (size_t)(m->minute % LT_RENDER_MINUTES);
		lt_monitor_series(&now, &m->base, m->slots[slot]);
		m->slot_minute[slot] = m->minute;
		m->minute = minute;
		m->base = now;
	}
	pthread_mutex_unlock(&m->lock);
}

/* ---- reading the store (read-only, in the HTTP thread) ---- */

static void lt_monitor_cut(char *dst, size_t size, const char *src)
{
	size_t n = lt_text_utf8_cut(src, strlen(src), size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int lt_monitor_oldest_out(void *ctx, const void *key, size_t klen, const void *val,
                                 size_t vlen, lt_err *err)
{
	(void)key, (void)klen, (void)err;
	Lienthong__Store__OutItem *it = lienthong__store__out_item__unpack(NULL, vlen, val);
	if (it != NULL) {
		*(int64_t *)ctx = it->enqueued_at_ms;
		lienthong__store__out_item__free_unpacked(it, NULL);
	}
	return 1;
}

/* The counters, per status then per recipient (consecutive, in key order). */
struct lt_monitor_counts {
	struct lt_snap *s;
	char last[LT_INDEX_NAME_KEEP]; /* the recipient of the previous counter */
};

static int lt_monitor_count(void *ctx, const char *recipient, Lienthong__Store__DocStatus status,
                            uint64_t count, lt_err *err)
{
	struct lt_monitor_counts *c = ctx;
	struct lt_snap *s = c->s;
	(void)err;
	if ((size_t)status >= LT_STATUS_SLOTS)
		return 0;
	if (recipient == NULL) {
		s->by_status[status] = count;
		return 0;
	}
	if (s->recipients_total == 0 || strcmp(c->last, recipient) != 0) {
		snprintf(c->last, sizeof c->last, "%s", recipient);
		s->recipients_total++;
		if (s->n_recipients == LT_RENDER_RECIPIENTS_MAX)
			return 0;
		struct lt_render_recipient *r = &s->recipients[s->n_recipients++];
		memset(r, 0, sizeof *r);
		lt_monitor_cut(r->code, sizeof r->code, recipient);
	} else if (s->recipients_total > s->n_recipients) {
		return 0; /* a recipient not shown */
	}
	s->recipients[s->n_recipients - 1].n[status] = count;
	return 0;
}

struct lt_monitor_docs {
	struct lt_render_doc *d;
	size_t n, max;
	int ring; /* keep the last max (else stop at max) */
	size_t seen;
};

static int lt_monitor_doc(void *ctx, const char *doc_id, const char *recipient,
                          const Lienthong__Store__StatusRecord *rec, lt_err *err)
{
	struct lt_monitor_docs *l = ctx;
	(void)err;
	if (!l->ring && l->n == l->max)
		return 1;
	struct lt_render_doc *d = &l->d[l->ring ? l->seen % l->max : l->n];
	l->seen++;
	if (l->n < l->max)
		l->n++;
	lt_monitor_cut(d->doc_id, sizeof d->doc_id, doc_id);
	lt_monitor_cut(d->recipient, sizeof d->recipient, recipient);
	lt_monitor_cut(d->subject, sizeof d->subject, rec->subject ? rec->subject : "");
	lt_monitor_cut(d->reason, sizeof d->reason, rec->reason ? rec->reason : "");
	d->status = rec->status;
	d->since_ms = lt_index_time(rec);
	d->attempts = rec->attempts;
	return 0;
}

static int lt_monitor_newest_first(const void *a, const void *b)
{
	const struct lt_render_doc *x = a, *y = b;
	return (x->since_ms < y->since_ms) - (x->since_ms > y->since_ms);
}

static int lt_monitor_quarantined(void *ctx, const void *key, size_t klen, const void *val,
                                  size_t vlen, lt_err *err)
{
	struct lt_snap *s = ctx;
	(void)key, (void)klen, (void)err;
	if (s->n_quarantined == LT_RENDER_QUARANTINE_MAX)
		return 1;
	Lienthong__Store__QuarantineRecord *q =
	    lienthong__store__quarantine_record__unpack(NULL, vlen, val);
	if (q == NULL)
		return 0;
	struct lt_render_quarantined *r = &s->quarantined[s->n_quarantined++];
	r->at_ms = q->at_ms;
	lt_monitor_cut(r->topic, sizeof r->topic, q->topic ? q->topic : "");
	lt_monitor_cut(r->sender, sizeof r->sender, q->sender ? q->sender : "");
	lt_monitor_cut(r->doc_id, sizeof r->doc_id, q->document_id ? q->document_id : "");
	lt_monitor_cut(r->reason, sizeof r->reason, q->reason ? q->reason : "");
	r->length = q->raw_length ? q->raw_length : q->raw.len;
	lienthong__store__quarantine_record__free_unpacked(q, NULL);
	return 0;
}

static int lt_monitor_read_docs(struct lt_txn *t, struct lt_snap *s, lt_err *err)
{
	struct lt_monitor_docs w = {.d = s->waiting, .max = LT_RENDER_WAITING_MAX};
	struct lt_index_query q = {.statuses = 1ULL << LIENTHONG__STORE__DOC_STATUS__QUEUED};
	/* The oldest first, queued before sent: what waits longest for Kafka or a receipt. */
	if (lt_index_query(t, &q, lt_monitor_doc, &w, err) != 0)
		return -1;
	q.statuses = 1ULL << LIENTHONG__STORE__DOC_STATUS__SENT;
	if (lt_index_query(t, &q, lt_monitor_doc, &w, err) != 0)
		return -1;
	s->n_waiting = w.n;

	struct lt_render_doc bad[2 * LT_RENDER_FAILED_MAX];
	struct lt_monitor_docs f = {.d = bad, .max = LT_RENDER_FAILED_MAX, .ring = 1};
	q.since_ms = s->now_ms - LT_MONITOR_FAILED_WINDOW_MS;
	q.statuses = 1ULL << LIENTHONG__STORE__DOC_STATUS__FAILED;
	if (lt_index_query(t, &q, lt_monitor_doc, &f, err) != 0)
		return -1;
	size_t n = f.n;
	f = (struct lt_monitor_docs){.d = bad + n, .max = LT_RENDER_FAILED_MAX, .ring = 1};
	q.statuses = 1ULL << LIENTHONG__STORE__DOC_STATUS__REJECTED;
	if (lt_index_query(t, &q, lt_monitor_doc, &f, err) != 0)
		return -1;
	n += f.n;
	qsort(bad, n, sizeof bad[0], lt_monitor_newest_first);
	s->n_failed = n < LT_RENDER_FAILED_MAX ? n : LT_RENDER_FAILED_MAX;
	memcpy(s->failed, bad, s->n_failed * sizeof bad[0]);
	return 0;
}

static int lt_monitor_read_store(struct lt_monitor *m, struct lt_snap *s, lt_err *err)
{
	struct lt_monitor_counts counts = {.s = s};
	struct lt_txn *t = NULL;
	int rc = -1;
	if (lt_store_usage(m->store, &s->map_used, &s->map_size, err) != 0 ||
	    lt_txn_begin(m->store, 0, &t, err) != 0)
		return -1;
	if (lt_txn_count(t, LT_DB_OUTQ, &s->outbox, err) != 0 ||
	    lt_txn_scan(t, LT_DB_OUTQ, NULL, 0, lt_monitor_oldest_out, &s->outbox_oldest_ms, err) !=
	        0 ||
	    lt_index_counts(t, lt_monitor_count, &counts, err) != 0 ||
	    lt_monitor_read_docs(t, s, err) != 0 ||
	    lt_quarantine_stats(t, &s->quarantine, err) != 0 ||
	    lt_txn_scan_back(t, LT_DB_QUARANTINE, lt_monitor_quarantined, s, err) != 0 ||
	    lt_txn_count(t, LT_DB_TRANSFERS, &s->transfers_in, err) != 0 ||
	    lt_txn_count(t, LT_DB_SENDPROG, &s->transfers_out, err) != 0)
		goto out;
	rc = 0;
out:
	lt_txn_abort(t);
	return rc;
}

/* ---- crl_file ---- */

static int64_t lt_monitor_asn1_ms(const ASN1_TIME *t)
{
	struct tm tm;
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm) * 1000;
}

/* Re-reads crl_file when it changed: the oldest lastUpdate, the earliest nextUpdate. */
static void lt_monitor_crl(struct lt_monitor *m)
{
	const char *path = m->cfg->crl_file;
	struct stat st;
	if (stat(path, &st) != 0) {
		m->crl_read = 1;
		m->crl_ok = 0;
		snprintf(m->crl_error, sizeof m->crl_error, "cannot read %.150s: %s", path,
		         strerror(errno));
		memset(&m->crl_st, 0, sizeof m->crl_st);
		return;
	}
	if (m->crl_read && st.st_ino == m->crl_st.st_ino && st.st_size == m->crl_st.st_size &&
	    st.st_mtim.tv_sec == m->crl_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == m->crl_st.st_mtim.tv_nsec)
		return;
	m->crl_st = st;
	m->crl_read = 1;
	m->crl_ok = 0;
	m->crl_last_ms = m->crl_next_ms = 0;
	if (st.st_size > LT_MONITOR_CRL_FILE_MAX) {
		snprintf(m->crl_error, sizeof m->crl_error, "%.150s is larger than %d MiB", path,
		         LT_MONITOR_CRL_FILE_MAX >> 20);
		return;
	}
	BIO *bio = BIO_new_file(path, "r");
	X509_CRL *crl;
	int n = 0;
	if (bio == NULL) {
		snprintf(m->crl_error, sizeof m->crl_error, "cannot open %.150s", path);
		return;
	}
	while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
		int64_t last = lt_monitor_asn1_ms(X509_CRL_get0_lastUpdate(crl));
		int64_t next = lt_monitor_asn1_ms(X509_CRL_get0_nextUpdate(crl));
		if (m->crl_last_ms == 0 || (last != 0 && last < m->crl_last_ms))
			m->crl_last_ms = last;
		if (m->crl_next_ms == 0 || (next != 0 && next < m->crl_next_ms))
			m->crl_next_ms = next;
		X509_CRL_free(crl);
		n++;
	}
	BIO_free(bio);
	ERR_clear_error(); /* the end of the file reads as an error */
	if (n == 0) {
		snprintf(m->crl_error, sizeof m->crl_error, "no CRL in %.150s", path);
		return;
	}
	m->crl_ok = 1;
}

/* ---- the snapshot ---- */

static void lt_monitor_snap(struct lt_monitor *m, struct lt_snap *s)
{
	struct lt_counts base;
	int64_t minute, slot_minute[LT_RENDER_MINUTES];
	lt_err err;
	s->now_ms = lt_now_ms();
	snprintf(s->agency, sizeof s->agency, "%s", m->cfg->agency_code);
	lt_counters_read(&s->counts);
	pthread_mutex_lock(&m->lock);
	s->view = m->view;
	minute = m->minute;
	base = m->base;
	memcpy(slot_minute, m->slot_minute, sizeof slot_minute);
	memcpy(s->traffic, m->slots, sizeof s->traffic); /* by slot; put in order below */
	for (size_t i = 0; i < m->n_ended && i < LT_RENDER_OUTAGES_MAX; i++)
		s->outages[s->n_outages++] = m->ended[(m->n_ended - 1 - i) % LT_RENDER_OUTAGES_MAX];
	pthread_mutex_unlock(&m->lock);
	uint64_t by_slot[LT_RENDER_MINUTES][LT_TR_COUNT];
	memcpy(by_slot, s->traffic, sizeof by_slot);
	memset(s->traffic, 0, sizeof s->traffic);
	for (int64_t i = 0; minute != 0 && i < LT_RENDER_MINUTES - 1; i++) {
		int64_t want = minute - (LT_RENDER_MINUTES - 1) + i;
		size_t slot = (size_t)(want % LT_RENDER_MINUTES);
		if (want > 0 && slot_minute[slot] == want)
			memcpy(s->traffic[i], by_slot[slot], sizeof s->traffic[i]);
	}
	if (minute != 0)
		lt_monitor_series(&s->counts, &base, s->traffic[LT_RENDER_MINUTES - 1]);

	s->store_ok = lt_monitor_read_store(m, s, &err) == 0;
	if (!s->store_ok)
		lt_monitor_cut(s->store_error, sizeof s->store_error, err.msg);
	s->crl_set = m->cfg->crl_file[0] != '\0';
	if (s->crl_set) {
		lt_monitor_crl(m);
		s->crl_ok = m->crl_ok;
		s->crl_last_ms = m->crl_last_ms;
		s->crl_next_ms = m->crl_next_ms;
		snprintf(s->crl_error, sizeof s->crl_error, "%s", m->crl_error);
	}
}

/* ---- HTTP ---- */

static enum MHD_Result lt_monitor_send(struct MHD_Connection *c, unsigned status, const char *type,
                                       struct lt_buf *b)
{
	struct MHD_Response *r;
	if (b->over || b->p == NULL) {
		static const char msg[] = "answer too large or out of memory\n";
		lt_buf_free(b);
		r = MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg,
		                                    MHD_RESPMEM_PERSISTENT);
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		type = "text/plain; charset=utf-8";
	} else {
		r = MHD_create_response_from_buffer(b->len, b->p, MHD_RESPMEM_MUST_FREE);
		if (r == NULL)
			lt_buf_free(b);
	}
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	/* No script at all, no external resource: an injected tag could do nothing. */
	MHD_add_response_header(r, "Content-Security-Policy",
	                        "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result lt_monitor_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	struct lt_buf b;
	lt_buf_init(&b, 1024);
	lt_buf_printf(&b, "%s\n", text);
	return lt_monitor_send(c, status, "text/plain; charset=utf-8", &b);
}

static enum MHD_Result lt_monitor_answer(void *cls, struct MHD_Connection *c, const char *url,
                                         const char *method, const char *version,
                                         const char *upload_data, size_t *upload_data_size,
                                         void **req_cls)
{
	struct lt_monitor *m = cls;
	(void)version, (void)upload_data, (void)req_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return lt_monitor_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		                       "only GET and HEAD (the endpoint is read-only)");
	if (*upload_data_size != 0)
		return lt_monitor_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "a request has no body here");
	int metrics = strcmp(url, "/metrics") == 0, health = strcmp(url, "/health") == 0;
	if (!metrics && !health && strcmp(url, "/") != 0)
		return lt_monitor_text(c, MHD_HTTP_NOT_FOUND,
		                       "not found: try /, /metrics or /health");
	struct lt_snap *s = calloc(1, sizeof *s);
	if (s == NULL)
		return MHD_NO;
	lt_monitor_snap(m, s);
	struct lt_buf b;
	lt_buf_init(&b, LT_MONITOR_RESPONSE_BYTES);
	unsigned status = MHD_HTTP_OK;
	const char *type = "text/html; charset=utf-8";
	if (metrics) {
		lt_render_metrics(s, &b);
		type = "text/plain; version=0.0.4; charset=utf-8";
	} else if (health) {
		char reasons[LT_RENDER_REASONS_MAX][LT_ERR_MSG_MAX];
		size_t n = lt_render_health(s, reasons, LT_RENDER_REASONS_MAX);
		lt_buf_printf(&b, "%s\n", n ? "degraded" : "ready");
		for (size_t i = 0; i < n; i++) {
			char line[4 * LT_ERR_MSG_MAX];
			lt_buf_printf(&b, "%s\n", lt_text_escape(reasons[i], line, sizeof line));
		}
		status = n ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK;
		type = "text/plain; charset=utf-8";
	} else {
		lt_render_page(s, &b);
	}
	free(s);
	return lt_monitor_send(c, status, type, &b);
}

static void lt_monitor_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	(void)cls;
	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	lt_log_debug("http_listen: %s", msg);
}

struct lt_monitor *lt_monitor_start(const struct lt_config *cfg, struct lt_store *store,
                                    lt_err *err)
{
	struct sockaddr_storage addr;
	socklen_t alen;
	int one = 1;
	if (lt_monitor_check_listen(cfg->http_listen, &addr, &alen, err) != 0)
		return NULL;
	struct lt_monitor *m = calloc(1, sizeof *m);
	if (m == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		return NULL;
	}
	m->cfg = cfg;
	m->store = store;
	pthread_mutex_init(&m->lock, NULL);
	m->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->fd < 0 || setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(m->fd, (struct sockaddr *)&addr, alen) != 0 || listen(m->fd, 32) != 0) {
		lt_err_errno(err, errno, "http_listen %s: cannot listen", cfg->http_listen);
		goto fail;
	}
	m->daemon = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG |
	        (addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
	    0, NULL, NULL, lt_monitor_answer, m, MHD_OPTION_LISTEN_SOCKET, m->fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)LT_MONITOR_CONNECTIONS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)LT_MONITOR_PER_IP,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)LT_MONITOR_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)LT_MONITOR_REQUEST_BYTES,
	    MHD_OPTION_EXTERNAL_LOGGER, lt_monitor_log, NULL, MHD_OPTION_END);
	if (m->daemon == NULL) {
		lt_err_set(err, LT_EIO, "http_listen %s: libmicrohttpd did not start",
		           cfg->http_listen);
		goto fail;
	}
	lt_log_info("serving /metrics, /health and the operator page on http://%s/",
	            cfg->http_listen);
	return m;
fail:
	if (m->fd >= 0)
		close(m->fd);
	pthread_mutex_destroy(&m->lock);
	free(m);
	return NULL;
}

void lt_monitor_stop(struct lt_monitor *m)
{
	if (m == NULL)
		return;
	/* Quiesced, libmicrohttpd hands the listening socket back (else it closes it). */
	MHD_socket fd = MHD_quiesce_daemon(m->daemon);
	MHD_stop_daemon(m->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
