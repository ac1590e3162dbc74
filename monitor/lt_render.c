#include "lt_render.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../clock/lt_clock.h"
#include "../text/lt_text.h"

void lt_buf_init(struct lt_buf *b, size_t max)
{
	*b = (struct lt_buf){.max = max};
}

void lt_buf_free(struct lt_buf *b)
{
	free(b->p);
	*b = (struct lt_buf){0};
}

static void lt_buf_put(struct lt_buf *b, const char *s, size_t n)
{
	if (b->over)
		return;
	if (b->len + n + 1 > b->max) {
		b->over = 1;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > b->max)
			cap = b->max;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->over = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void lt_buf_printf(struct lt_buf *b, const char *fmt, ...)
{
	char small[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->over = 1;
		return;
	}
	if ((size_t)n < sizeof small) {
		lt_buf_put(b, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (big == NULL) {
		b->over = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	lt_buf_put(b, big, (size_t)n);
	free(big);
}

void lt_buf_html(struct lt_buf *b, const char *s)
{
	char safe[4 * LT_ERR_MSG_MAX];
	lt_text_escape(s, safe, sizeof safe);
	for (const char *p = safe; *p != '\0'; p++) {
		switch (*p) {
		case '&':
			lt_buf_put(b, "&amp;", 5);
			break;
		case '<':
			lt_buf_put(b, "&lt;", 4);
			break;
		case '>':
			lt_buf_put(b, "&gt;", 4);
			break;
		case '"':
			lt_buf_put(b, "&quot;", 6);
			break;
		case '\'':
			lt_buf_put(b, "&#39;", 5);
			break;
		default:
			lt_buf_put(b, p, 1);
		}
	}
}

/* A label value the Prometheus way. */
static void lt_buf_label(struct lt_buf *b, const char *s)
{
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"')
			lt_buf_printf(b, "\\%c", *p);
		else if (*p == '\n')
			lt_buf_put(b, "\\n", 2);
		else
			lt_buf_put(b, p, 1);
	}
}

/* ---- health ---- */

static void lt_render_age(int64_t from_ms, int64_t now_ms, char *buf, size_t size)
{
	int64_t s = from_ms > 0 && now_ms > from_ms ? (now_ms - from_ms) / 1000 : 0;
	if (s < 120)
		snprintf(buf, size, "%lld s", (long long)s);
	else if (s < 7200)
		snprintf(buf, size, "%lld min", (long long)(s / 60));
	else if (s < 172800)
		snprintf(buf, size, "%lld h %02lld min", (long long)(s / 3600),
		         (long long)(s / 60 % 60));
	else
		snprintf(buf, size, "%lld days", (long long)(s / 86400));
}

const char *lt_render_outage_name(enum lt_outage_kind k)
{
	static const char *const names[LT_OUT_KINDS] = {
	    [LT_OUT_BROKER] = "broker unreachable",      [LT_OUT_FORWARD] = "forwarding failing",
	    [LT_OUT_RECEIVE] = "receiving stalled",      [LT_OUT_TARGET] = "target failing",
	    [LT_OUT_SUBMIT] = "submission service down",
	};
	return (unsigned)k < LT_OUT_KINDS ? names[k] : "?";
}

unsigned lt_render_outages_now(const struct lt_monitor_view *v, int64_t now_ms,
                               int64_t since[LT_OUT_KINDS],
                               char what[LT_OUT_KINDS][LT_RENDER_TEXT_MAX + 1])
{
	const struct lt_receive_state *rs = &v->receiving;
	unsigned on = 0;
	memset(since, 0, LT_OUT_KINDS * sizeof since[0]);
#define LT_OUTAGE(k, from, ...)                                                                    \
	do {                                                                                       \
		on |= 1u << (k);                                                                   \
		since[k] = (from);                                                                 \
		snprintf(what[k], LT_RENDER_TEXT_MAX + 1, __VA_ARGS__);                            \
	} while (0)
	if (now_ms - v->started_ms > LT_RENDER_STATS_STALE_MS &&
	    (rs->stats_ms == 0 || now_ms - rs->stats_ms > LT_RENDER_STATS_STALE_MS))
		LT_OUTAGE(LT_OUT_BROKER, rs->stats_ms ? rs->stats_ms : v->started_ms,
		          "no statistics from the Kafka consumer");
	else if (rs->alone_since_ms != 0 && now_ms - rs->alone_since_ms > LT_RENDER_BROKER_GRACE_MS)
		LT_OUTAGE(LT_OUT_BROKER, rs->alone_since_ms,
		          "not a member of the Kafka consumer group");
	if (v->failing_total > 0) {
		int64_t from = 0;
		for (size_t i = 0; i < v->n_failing; i++) {
			if (from == 0 || v->failing[i].since_ms < from)
				from = v->failing[i].since_ms;
		}
		LT_OUTAGE(LT_OUT_FORWARD, from,
		          "Kafka does not take the records of %zu topic(s) (%s)", v->failing_total,
		          v->n_failing ? v->failing[0].topic : "?");
	}
	if (rs->stalled)
		LT_OUTAGE(LT_OUT_RECEIVE, rs->since_ms, "%s", rs->reason);
	if (rs->blocked > 0)
		LT_OUTAGE(LT_OUT_TARGET, rs->blocked_since_ms, "%u partition(s) held back: %s",
		          rs->blocked, rs->blocked_reason);
	if (v->submission_down)
		LT_OUTAGE(LT_OUT_SUBMIT, 0, "%s", v->submission_reason);
#undef LT_OUTAGE
	return on;
}

size_t lt_render_health(const struct lt_snap *s, char (*reasons)[LT_ERR_MSG_MAX], size_t max)
{
	const struct lt_monitor_view *v = &s->view;
	int64_t since[LT_OUT_KINDS];
	char what[LT_OUT_KINDS][LT_RENDER_TEXT_MAX + 1], age[32];
	size_t n = 0;
#define LT_REASON(...)                                                                             \
	do {                                                                                       \
		if (n < max)                                                                       \
			snprintf(reasons[n++], LT_ERR_MSG_MAX, __VA_ARGS__);                       \
	} while (0)
	if (v->at_ms == 0 || s->now_ms - v->at_ms > LT_RENDER_VIEW_STALE_MS) {
		lt_render_age(v->at_ms, s->now_ms, age, sizeof age);
		LT_REASON("agent: its main loop has not reported for %s", v->at_ms ? age : "ever");
	}
	unsigned on = lt_render_outages_now(v, s->now_ms, since, what);
	for (unsigned k = 0; k < LT_OUT_KINDS; k++) {
		if (!(on & (1u << k)))
			continue;
		if (since[k] == 0) {
			LT_REASON("%s: %s", lt_render_outage_name(k), what[k]);
			continue;
		}
		lt_render_age(since[k], s->now_ms, age, sizeof age);
		LT_REASON("%s for %s: %s", lt_render_outage_name(k), age, what[k]);
	}
	if (!s->store_ok)
		LT_REASON("store unreadable: %s", s->store_error);
	else if (s->map_size > 0 &&
	         (double)s->map_used >= LT_RENDER_STORE_FULL * (double)s->map_size)
		LT_REASON("store near full: %.0f%% of lmdb_map_size in use",
		          100.0 * (double)s->map_used / (double)s->map_size);
	if (s->crl_set && !s->crl_ok)
		LT_REASON("CRL unreadable: %s", s->crl_error);
	else if (s->crl_set && s->crl_next_ms != 0 && s->crl_next_ms < s->now_ms)
		LT_REASON("CRL expired: crl_file's next update was due %s ago, documents wait",
		          (lt_render_age(s->crl_next_ms, s->now_ms, age, sizeof age), age));
#undef LT_REASON
	return n;
}

/* ---- metrics ---- */

static void lt_metric_head(struct lt_buf *b, const char *name, const char *type, const char *help)
{
	lt_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void lt_metric(struct lt_buf *b, const char *name, const char *type, const char *help,
                      double value)
{
	lt_metric_head(b, name, type, help);
	lt_buf_printf(b, "%s %.17g\n", name, value);
}

static double lt_seconds(int64_t ms)
{
	return (double)ms / 1000.0;
}

static const Lienthong__Store__DocStatus lt_render_statuses[] = {
    LIENTHONG__STORE__DOC_STATUS__QUEUED,
    LIENTHONG__STORE__DOC_STATUS__SENT,
    LIENTHONG__STORE__DOC_STATUS__DELIVERED,
    LIENTHONG__STORE__DOC_STATUS__REJECTED,
    LIENTHONG__STORE__DOC_STATUS__FAILED,
    LIENTHONG__STORE__DOC_STATUS__ARRIVED,
    LIENTHONG__STORE__DOC_STATUS__REFUSED,
    LIENTHONG__STORE__DOC_STATUS__ACCEPTED,
    LIENTHONG__STORE__DOC_STATUS__AWAITING_ASSIGNMENT,
    LIENTHONG__STORE__DOC_STATUS__IN_PROCESSING,
    LIENTHONG__STORE__DOC_STATUS__PROCESSED,
    LIENTHONG__STORE__DOC_STATUS__RECALL_REQUESTED,
    LIENTHONG__STORE__DOC_STATUS__RECALL_AGREED,
    LIENTHONG__STORE__DOC_STATUS__RECALL_REFUSED,
};
#define LT_RENDER_NSTATUS (sizeof lt_render_statuses / sizeof lt_render_statuses[0])

static void lt_render_metrics_store(const struct lt_snap *s, struct lt_buf *b)
{
	lt_metric(b, "lienthong_outbox_records", "gauge",
	          "Records in the outbox waiting to be acknowledged by Kafka.", (double)s->outbox);
	lt_metric(b, "lienthong_outbox_oldest_age_seconds", "gauge",
	          "Age of the oldest record in the outbox (0 when empty).",
	          s->outbox_oldest_ms ? lt_seconds(s->now_ms - s->outbox_oldest_ms) : 0.0);
	lt_metric_head(b, "lienthong_documents", "gauge",
	               "Documents sent, per recipient counted once, by status.");
	for (size_t i = 0; i < LT_RENDER_NSTATUS; i++)
		lt_buf_printf(b, "lienthong_documents{status=\"%s\"} %llu\n",
		              lt_status_name(lt_render_statuses[i]),
		              (unsigned long long)s->by_status[lt_render_statuses[i]]);
	lt_metric_head(b, "lienthong_recipient_documents", "gauge",
	               "Documents sent to each recipient, by status (non-zero counts only).");
	for (size_t r = 0; r < s->n_recipients; r++) {
		for (size_t i = 0; i < LT_RENDER_NSTATUS; i++) {
			uint64_t n = s->recipients[r].n[lt_render_statuses[i]];
			if (n == 0)
				continue;
			lt_buf_put(b, "lienthong_recipient_documents{recipient=\"", 41);
			lt_buf_label(b, s->recipients[r].code);
			lt_buf_printf(b, "\",status=\"%s\"} %llu\n",
			              lt_status_name(lt_render_statuses[i]), (unsigned long long)n);
		}
	}
	lt_metric(b, "lienthong_quarantine_records", "gauge", "Records kept in the quarantine now.",
	          (double)s->quarantine.records);
	lt_metric(b, "lienthong_quarantine_bytes", "gauge",
	          "Bytes of the records kept in the quarantine now.", (double)s->quarantine.bytes);
	lt_metric(b, "lienthong_quarantine_dropped_records_total", "counter",
	          "Quarantined records dropped at quarantine_max_bytes since the store was made.",
	          (double)s->quarantine.dropped);
	lt_metric(b, "lienthong_transfers_receiving", "gauge",
	          "Large documents being received chunk by chunk.", (double)s->transfers_in);
	lt_metric(b, "lienthong_transfers_sending", "gauge",
	          "Large documents being sent chunk by chunk.", (double)s->transfers_out);
	lt_metric(b, "lienthong_store_used_bytes", "gauge",
	          "Bytes of the LMDB map in use (up to its last page).", (double)s->map_used);
	lt_metric(b, "lienthong_store_map_size_bytes", "gauge",
	          "Size of the LMDB map (lmdb_map_size).", (double)s->map_size);
}

static void lt_render_metrics_counters(const struct lt_snap *s, struct lt_buf *b)
{
	const uint64_t *c = s->counts.v;
	lt_metric_head(b, "lienthong_received_documents_total", "counter",
	               "Documents received, by outcome, since the agent started.");
	lt_buf_printf(b,
	              "lienthong_received_documents_total{outcome=\"delivered\"} %llu\n"
	              "lienthong_received_documents_total{outcome=\"rejected\"} %llu\n"
	              "lienthong_received_documents_total{outcome=\"failed\"} %llu\n",
	              (unsigned long long)c[LT_C_RECEIVED_DELIVERED],
	              (unsigned long long)c[LT_C_RECEIVED_REJECTED],
	              (unsigned long long)c[LT_C_RECEIVED_FAILED]);
	lt_metric(b, "lienthong_quarantined_records_total", "counter",
	          "Records put in the quarantine since the agent started.",
	          (double)c[LT_C_QUARANTINED]);
	lt_metric_head(b, "lienthong_status_changes_total", "counter",
	               "Documents sent (per recipient) that entered each status since the agent "
	               "started.");
	for (size_t i = 0; i < LT_RENDER_NSTATUS; i++)
		lt_buf_printf(b, "lienthong_status_changes_total{status=\"%s\"} %llu\n",
		              lt_status_name(lt_render_statuses[i]),
		              (unsigned long long)c[LT_C_STATUS + lt_render_statuses[i]]);
	lt_metric_head(b, "lienthong_retries_total", "counter",
	               "Retries since the agent started: outbox records Kafka failed to take "
	               "(forward), received records to be handled again (receive).");
	lt_buf_printf(b,
	              "lienthong_retries_total{kind=\"forward\"} %llu\n"
	              "lienthong_retries_total{kind=\"receive\"} %llu\n",
	              (unsigned long long)c[LT_C_RETRY_FORWARD],
	              (unsigned long long)c[LT_C_RETRY_RECEIVE]);
	lt_metric_head(b, "lienthong_delivery_latency_seconds", "histogram",
	               "From submission to the recipient's delivered receipt, of documents sent "
	               "since the agent started.");
	uint64_t cum = 0;
	for (size_t i = 0; i <= LT_LATENCY_BUCKETS; i++) {
		cum += c[LT_C_LATENCY + i];
		if (i < LT_LATENCY_BUCKETS)
			lt_buf_printf(b,
			              "lienthong_delivery_latency_seconds_bucket{le=\"%g\"} %llu\n",
			              lt_latency_bounds_s[i], (unsigned long long)cum);
		else
			lt_buf_printf(
			    b, "lienthong_delivery_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
			    (unsigned long long)cum);
	}
	lt_buf_printf(b, "lienthong_delivery_latency_seconds_sum %.3f\n",
	              (double)c[LT_C_LATENCY_SUM_MS] / 1000.0);
	lt_buf_printf(b, "lienthong_delivery_latency_seconds_count %llu\n",
	              (unsigned long long)cum);
}

static void lt_render_metrics_agent(const struct lt_snap *s, struct lt_buf *b)
{
	const struct lt_monitor_view *v = &s->view;
	const struct lt_receive_state *rs = &v->receiving;
	int connected = rs->stats_ms != 0 && s->now_ms - rs->stats_ms <= LT_RENDER_STATS_STALE_MS &&
	                rs->alone_since_ms == 0;
	lt_metric(b, "lienthong_agent_start_time_seconds", "gauge",
	          "When the agent started (Unix time).", lt_seconds(v->started_ms));
	lt_metric(b, "lienthong_kafka_connected", "gauge",
	          "1 when the agent's Kafka consumer is a member of its group with fresh "
	          "statistics (the broker answers), else 0.",
	          connected);
	lt_metric(b, "lienthong_kafka_consumer_lag_records", "gauge",
	          "Records waiting in the agent's topics at the consumer's last statistics.",
	          (double)rs->lag);
	lt_metric(b, "lienthong_kafka_consumer_replacements_total", "counter",
	          "Kafka consumers replaced since the agent started (stalls, fatal errors).",
	          (double)rs->replaced);
	lt_metric(b, "lienthong_kafka_producer_renewals_total", "counter",
	          "Kafka producers replaced after a fatal error since the agent started.",
	          (double)v->producer_renewals);
	lt_metric(b, "lienthong_receiving_stalled", "gauge",
	          "1 while receiving makes no progress (see receive_stall_s).", rs->stalled);
	lt_metric(b, "lienthong_receive_blocked_partitions", "gauge",
	          "Partitions held back because a record waits (its target fails, the store "
	          "or the CRL).",
	          rs->blocked);
	lt_metric(b, "lienthong_submission_up", "gauge",
	          "1 while the submission service listens on submit.sock.", !v->submission_down);
	lt_metric(b, "lienthong_forward_failing_topics", "gauge",
	          "Topics whose records Kafka does not take now (they wait and are retried).",
	          (double)v->failing_total);
	lt_metric_head(
	    b, "lienthong_forward_failing_since_seconds", "gauge",
	    "Per failing topic: since when (Unix time) Kafka does not take its records.");
	for (size_t i = 0; i < v->n_failing; i++) {
		lt_buf_put(b, "lienthong_forward_failing_since_seconds{topic=\"", 47);
		lt_buf_label(b, v->failing[i].topic);
		lt_buf_printf(b, "\"} %.3f\n", lt_seconds(v->failing[i].since_ms));
	}
	if (s->crl_set && s->crl_ok) {
		lt_metric(b, "lienthong_crl_age_seconds", "gauge",
		          "Age of the oldest CRL in crl_file (since its lastUpdate).",
		          lt_seconds(s->now_ms - s->crl_last_ms));
		lt_metric(b, "lienthong_crl_expiry_seconds", "gauge",
		          "Time until the earliest nextUpdate of crl_file (negative: expired).",
		          lt_seconds(s->crl_next_ms - s->now_ms));
	}
}

void lt_render_metrics(const struct lt_snap *s, struct lt_buf *b)
{
	char reasons[LT_RENDER_REASONS_MAX][LT_ERR_MSG_MAX];
	size_t n = lt_render_health(s, reasons, LT_RENDER_REASONS_MAX);
	lt_metric(b, "lienthong_ready", "gauge",
	          "1 when /health says ready, 0 when degraded (reasons there).", n == 0);
	if (s->store_ok)
		lt_render_metrics_store(s, b);
	lt_render_metrics_counters(s, b);
	lt_render_metrics_agent(s, b);
}

/* ---- the operator page ---- */

static void lt_page_time(struct lt_buf *b, int64_t ms, int64_t now_ms)
{
	char when[LT_TIME_TEXT], age[32];
	if (ms <= 0) {
		lt_buf_printf(b, "-");
		return;
	}
	lt_time_format(ms, when, sizeof when);
	lt_render_age(ms, now_ms, age, sizeof age);
	lt_buf_printf(b, "<span title=\"%s\">%s ago</span>", when, age);
}

static const char lt_page_style[] =
    "body{font:14px sans-serif;margin:1em 2em;color:#222}"
    "h1{font-size:20px}h2{font-size:16px;margin-top:1.5em;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left;"
    "border-bottom:1px solid #eee;vertical-align:top}"
    ".ready{color:#060;font-weight:bold}.degraded{color:#b00;font-weight:bold}"
    ".bad{color:#b00}.muted{color:#777}.n{text-align:right}"
    ".q{color:#888}.s{color:#06c}.d{color:#090}.r{color:#c60}";

/* The colours of the traffic series, in enum lt_traffic order. */
static const char *const lt_page_colours[LT_TR_COUNT] = {"#888", "#06c", "#090", "#c60"};
static const char *const lt_page_series[LT_TR_COUNT] = {"submitted", "sent to Kafka",
                                                        "delivered (receipts)", "received"};

static void lt_page_chart(const struct lt_snap *s, struct lt_buf *b)
{
	const int w = 600, h = 120, left = 40, bottom = 16;
	uint64_t top = 1, total[LT_TR_COUNT] = {0};
	for (size_t m = 0; m < LT_RENDER_MINUTES; m++) {
		for (size_t k = 0; k < LT_TR_COUNT; k++) {
			total[k] += s->traffic[m][k];
			if (s->traffic[m][k] > top)
				top = s->traffic[m][k];
		}
	}
	lt_buf_printf(b,
	              "<svg id=\"traffic\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	              "height=\"%d\" role=\"img\" aria-label=\"documents per minute, last hour\">"
	              "<rect x=\"%d\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fafafa\" "
	              "stroke=\"#ccc\"/>"
	              "<text x=\"0\" y=\"10\" font-size=\"10\">%llu/min</text>"
	              "<text x=\"0\" y=\"%d\" font-size=\"10\">0</text>"
	              "<text x=\"%d\" y=\"%d\" font-size=\"10\">-60 min</text>"
	              "<text x=\"%d\" y=\"%d\" font-size=\"10\">now</text>",
	              w, h, left, w - left, h - bottom, (unsigned long long)top, h - bottom, left,
	              h - 2, w - 24, h - 2);
	double dx = (double)(w - left) / (LT_RENDER_MINUTES - 1);
	double dy = (double)(h - bottom - 4) / (double)top;
	for (size_t k = 0; k < LT_TR_COUNT; k++) {
		lt_buf_printf(
		    b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
		    lt_page_colours[k]);
		for (size_t m = 0; m < LT_RENDER_MINUTES; m++)
			lt_buf_printf(b, "%.1f,%.1f ", left + dx * (double)m,
			              (double)(h - bottom) - dy * (double)s->traffic[m][k]);
		lt_buf_printf(b, "\"/>");
	}
	lt_buf_printf(b, "</svg><p id=\"traffic-totals\">Last hour: ");
	for (size_t k = 0; k < LT_TR_COUNT; k++)
		lt_buf_printf(b, "%s<span style=\"color:%s\">&#9632;</span> %s %llu", k ? ", " : "",
		              lt_page_colours[k], lt_page_series[k], (unsigned long long)total[k]);
	lt_buf_printf(b, " (counted since the agent started)</p>");
}

static void lt_page_docs(const struct lt_snap *s, struct lt_buf *b, const char *id,
                         const struct lt_render_doc *d, size_t n, const char *empty)
{
	if (n == 0) {
		lt_buf_printf(b, "<p id=\"%s\" class=\"muted\">%s</p>", id, empty);
		return;
	}
	lt_buf_printf(b,
	              "<table id=\"%s\"><tr><th>recipient</th><th>status</th><th>since</th>"
	              "<th>attempts</th><th>document</th><th>subject</th><th>reason</th></tr>",
	              id);
	for (size_t i = 0; i < n; i++) {
		lt_buf_printf(b, "<tr><td>");
		lt_buf_html(b, d[i].recipient);
		lt_buf_printf(b, "</td><td>%s</td><td>", lt_status_name(d[i].status));
		lt_page_time(b, d[i].since_ms, s->now_ms);
		lt_buf_printf(b, "</td><td class=\"n\">%u</td><td><code>", d[i].attempts);
		lt_buf_html(b, d[i].doc_id);
		lt_buf_printf(b, "</code></td><td>");
		lt_buf_html(b, d[i].subject);
		lt_buf_printf(b, "</td><td class=\"bad\">");
		lt_buf_html(b, d[i].reason);
		lt_buf_printf(b, "</td></tr>");
	}
	lt_buf_printf(b, "</table>");
}

static void lt_page_outages(const struct lt_snap *s, struct lt_buf *b)
{
	const struct lt_monitor_view *v = &s->view;
	const struct lt_receive_state *rs = &v->receiving;
	int any = 0;
	lt_buf_printf(b, "<h2>Outages</h2><ul id=\"outages\">");
	for (size_t i = 0; i < v->n_failing; i++, any = 1) {
		lt_buf_printf(b, "<li class=\"bad\">forwarding to topic <code>");
		lt_buf_html(b, v->failing[i].topic);
		lt_buf_printf(b, "</code> fails since ");
		lt_page_time(b, v->failing[i].since_ms, s->now_ms);
		lt_buf_printf(b, "; records wait in the outbox and are retried</li>");
	}
	if (v->failing_total > v->n_failing)
		lt_buf_printf(b, "<li class=\"bad\">... and %zu more failing topic(s)</li>",
		              v->failing_total - v->n_failing);
	if (rs->stalled) {
		any = 1;
		lt_buf_printf(b, "<li class=\"bad\">receiving stalled since ");
		lt_page_time(b, rs->since_ms, s->now_ms);
		lt_buf_printf(b, ": ");
		lt_buf_html(b, rs->reason);
		lt_buf_printf(b, "</li>");
	}
	if (rs->blocked > 0) {
		any = 1;
		lt_buf_printf(b,
		              "<li class=\"bad\" id=\"target-failing\">delivery of received "
		              "documents waits (%u partition(s) held back) since ",
		              rs->blocked);
		lt_page_time(b, rs->blocked_since_ms, s->now_ms);
		lt_buf_printf(b, ": ");
		lt_buf_html(b, rs->blocked_reason);
		lt_buf_printf(b, "</li>");
	}
	if (v->submission_down) {
		any = 1;
		lt_buf_printf(b, "<li class=\"bad\">submission service down: ");
		lt_buf_html(b, v->submission_reason);
		lt_buf_printf(b, "</li>");
	}
	if (!any)
		lt_buf_printf(b, "<li class=\"muted\">none</li>");
	lt_buf_printf(b, "</ul>");
	if (s->n_outages == 0)
		return;
	lt_buf_printf(b, "<p>Outages that ended, since the agent started (the latest first):</p>"
	                 "<table id=\"past-outages\"><tr><th>what</th><th>began</th><th>lasted</th>"
	                 "<th>last reason</th></tr>");
	for (size_t i = 0; i < s->n_outages; i++) {
		const struct lt_render_outage *o = &s->outages[i];
		char lasted[32];
		lt_render_age(o->from_ms, o->to_ms, lasted, sizeof lasted);
		lt_buf_printf(b, "<tr><td>%s</td><td>", lt_render_outage_name(o->kind));
		lt_page_time(b, o->from_ms, s->now_ms);
		lt_buf_printf(b, "</td><td>%s</td><td>", lasted);
		lt_buf_html(b, o->what);
		lt_buf_printf(b, "</td></tr>");
	}
	lt_buf_printf(b, "</table>");
}

static void lt_page_recipients(const struct lt_snap *s, struct lt_buf *b)
{
	static const Lienthong__Store__DocStatus cols[] = {
	    LIENTHONG__STORE__DOC_STATUS__QUEUED, LIENTHONG__STORE__DOC_STATUS__SENT,
	    LIENTHONG__STORE__DOC_STATUS__DELIVERED, LIENTHONG__STORE__DOC_STATUS__REJECTED,
	    LIENTHONG__STORE__DOC_STATUS__FAILED};
	lt_buf_printf(b, "<h2>Per recipient</h2>");
	if (s->n_recipients == 0) {
		lt_buf_printf(b, "<p class=\"muted\">nothing sent yet</p>");
		return;
	}
	lt_buf_printf(b, "<table id=\"recipients\"><tr><th>recipient</th>");
	for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
		lt_buf_printf(b, "<th class=\"n\">%s</th>", lt_status_name(cols[i]));
	lt_buf_printf(b, "</tr>");
	for (size_t r = 0; r < s->n_recipients; r++) {
		lt_buf_printf(b, "<tr><td>");
		lt_buf_html(b, s->recipients[r].code);
		lt_buf_printf(b, "</td>");
		for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
			lt_buf_printf(b, "<td class=\"n\">%llu</td>",
			              (unsigned long long)s->recipients[r].n[cols[i]]);
		lt_buf_printf(b, "</tr>");
	}
	lt_buf_printf(b, "</table>");
	if (s->recipients_total > s->n_recipients)
		lt_buf_printf(b, "<p class=\"muted\">%zu more recipients not shown</p>",
		              s->recipients_total - s->n_recipients);
}

static void lt_page_quarantine(const struct lt_snap *s, struct lt_buf *b)
{
	lt_buf_printf(b,
	              "<h2>Quarantine</h2><p id=\"quarantine-stats\">%llu record(s), %llu bytes; "
	              "%llu dropped at the ceiling</p>",
	              (unsigned long long)s->quarantine.records,
	              (unsigned long long)s->quarantine.bytes,
	              (unsigned long long)s->quarantine.dropped);
	if (s->n_quarantined == 0)
		return;
	lt_buf_printf(b, "<table id=\"quarantine\"><tr><th>when</th><th>topic</th><th>sender</th>"
	                 "<th>document</th><th class=\"n\">bytes</th><th>reason</th></tr>");
	for (size_t i = 0; i < s->n_quarantined; i++) {
		const struct lt_render_quarantined *q = &s->quarantined[i];
		lt_buf_printf(b, "<tr><td>");
		lt_page_time(b, q->at_ms, s->now_ms);
		lt_buf_printf(b, "</td><td>");
		lt_buf_html(b, q->topic);
		lt_buf_printf(b, "</td><td>");
		lt_buf_html(b, q->sender);
		lt_buf_printf(b, "</td><td><code>");
		lt_buf_html(b, q->doc_id);
		lt_buf_printf(b, "</code></td><td class=\"n\">%llu</td><td class=\"bad\">",
		              (unsigned long long)q->length);
		lt_buf_html(b, q->reason);
		lt_buf_printf(b, "</td></tr>");
	}
	lt_buf_printf(b, "</table>");
}

void lt_render_page(const struct lt_snap *s, struct lt_buf *b)
{
	char reasons[LT_RENDER_REASONS_MAX][LT_ERR_MSG_MAX], when[LT_TIME_TEXT];
	size_t n = lt_render_health(s, reasons, LT_RENDER_REASONS_MAX);
	lt_time_format(s->now_ms, when, sizeof when);
	lt_buf_printf(b, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	                 "<meta http-equiv=\"refresh\" content=\"10\"><title>lienthong ");
	lt_buf_html(b, s->agency);
	lt_buf_printf(b, "</title><style>%s</style></head><body><h1>lienthong agent ",
	              lt_page_style);
	lt_buf_html(b, s->agency);
	lt_buf_printf(b,
	              "</h1><p>At %s (refreshes every 10 s). Health: <span id=\"health\" "
	              "class=\"%s\">%s</span></p>",
	              when, n ? "degraded" : "ready", n ? "degraded" : "ready");
	if (n > 0) {
		lt_buf_printf(b, "<ul id=\"health-reasons\">");
		for (size_t i = 0; i < n; i++) {
			lt_buf_printf(b, "<li class=\"bad\">");
			lt_buf_html(b, reasons[i]);
			lt_buf_printf(b, "</li>");
		}
		lt_buf_printf(b, "</ul>");
	}
	lt_page_outages(s, b);
	if (s->store_ok) {
		lt_buf_printf(b,
		              "<h2>Waiting</h2><p id=\"outbox\">Outbox: %llu record(s) for Kafka",
		              (unsigned long long)s->outbox);
		if (s->outbox_oldest_ms) {
			lt_buf_printf(b, ", the oldest since ");
			lt_page_time(b, s->outbox_oldest_ms, s->now_ms);
		}
		lt_buf_printf(b, ". Large documents: %llu being sent, %llu being received.</p>",
		              (unsigned long long)s->transfers_out,
		              (unsigned long long)s->transfers_in);
		lt_page_docs(s, b, "waiting", s->waiting, s->n_waiting,
		             "no document waits (queued or sent, no receipt yet)");
		lt_buf_printf(b, "<h2>Failed or rejected in the last 24 h</h2>");
		lt_page_docs(s, b, "failed", s->failed, s->n_failed, "none");
		lt_page_recipients(s, b);
		lt_page_quarantine(s, b);
		lt_buf_printf(b, "<p class=\"muted\">Store: %.1f of %.1f MiB in use.</p>",
		              (double)s->map_used / 1048576.0, (double)s->map_size / 1048576.0);
	}
	lt_buf_printf(b, "<h2>Traffic, last hour (documents per minute)</h2>");
	lt_page_chart(s, b);
	lt_buf_printf(b, "</body></html>\n");
}
