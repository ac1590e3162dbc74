/*
 * lt_render: what the agent's HTTP endpoint (monitor/lt_monitor.h) answers,
 * made from one snapshot of the agent's state: the Prometheus text
 * exposition (/metrics), the health verdict (/health) and the operator
 * page (/), a read-only HTML page with an inline SVG chart and no script.
 *
 * Everything shown that came from outside (subjects, reasons, codes, topic
 * names, quarantined records' fields) is escaped: control characters and
 * bytes that are not UTF-8 as lt_text does, then & < > " ' as HTML
 * entities; label values of metrics the Prometheus way (\\ \" \n).
 *
 * Pure functions over the caller's snapshot and buffer: no I/O, no store,
 * no clock (the snapshot carries the time), so they are unit-tested alone.
 * Thread-safe for distinct snapshots and buffers.
 */
#ifndef LT_RENDER_H
#define LT_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "../config/lt_config.h"
#include "../consumers/lt_receive.h"
#include "../producers/lt_forward.h"
#include "../store/lt_store.h"
#include "lt_counters.h"

#define LT_RENDER_TOPICS_MAX 32      /* failing topics shown */
#define LT_RENDER_RECIPIENTS_MAX 256 /* recipients with counts shown */
#define LT_RENDER_WAITING_MAX 40     /* documents waiting shown (oldest first) */
#define LT_RENDER_FAILED_MAX 25      /* documents failed or rejected shown (latest) */
#define LT_RENDER_QUARANTINE_MAX 15  /* quarantined records shown (latest) */
#define LT_RENDER_MINUTES 60         /* the traffic chart: one slot a minute */
#define LT_RENDER_REASONS_MAX 8      /* reasons of a degraded health */
#define LT_RENDER_TEXT_MAX 240       /* bytes kept of a subject or a reason */
#define LT_RENDER_OUTAGES_MAX 16     /* outages that ended, kept for the page (latest) */

/* Series of the traffic chart, counted per minute from lt_counters. */
enum lt_traffic {
	LT_TR_QUEUED,    /* documents submitted (sender) */
	LT_TR_SENT,      /* acknowledged by Kafka (sender) */
	LT_TR_DELIVERED, /* delivered receipts (sender) */
	LT_TR_RECEIVED,  /* received documents delivered to the target (recipient) */
	LT_TR_COUNT
};

/* What the agent's main loop publishes once a second (lt_monitor_publish). */
struct lt_monitor_view {
	int64_t at_ms;      /* when published (0: never) */
	int64_t started_ms; /* the agent's start */
	int submission_down;
	char submission_reason[LT_ERR_MSG_MAX];
	struct lt_receive_state receiving;
	size_t failing_total; /* topics whose records Kafka does not take now */
	size_t n_failing;     /* of them in failing[] */
	struct lt_forward_topic failing[LT_RENDER_TOPICS_MAX];
	unsigned producer_renewals;
};

/* Kinds of outage the page keeps a history of (lt_monitor_publish notices them). */
enum lt_outage_kind {
	LT_OUT_BROKER,  /* broker unreachable (as the health says) */
	LT_OUT_FORWARD, /* Kafka does not take the records of some topic */
	LT_OUT_RECEIVE, /* receiving stalled */
	LT_OUT_TARGET,  /* received records held back: the target (or store, CRL) fails */
	LT_OUT_SUBMIT,  /* submission service down */
	LT_OUT_KINDS
};

/* An outage that ended (lt_monitor_publish keeps them). */
struct lt_render_outage {
	enum lt_outage_kind kind;
	int64_t from_ms, to_ms;
	char what[LT_RENDER_TEXT_MAX + 1]; /* its last reason */
};

/*
 * Which outages the view shows at now_ms: bit k set for kind k, with
 * since[k] when it began (0: not known) and what[k] its reason. The health
 * says each as "<name> for <age>: <what>".
 */
unsigned lt_render_outages_now(const struct lt_monitor_view *v, int64_t now_ms,
                               int64_t since[LT_OUT_KINDS],
                               char what[LT_OUT_KINDS][LT_RENDER_TEXT_MAX + 1]);
const char *lt_render_outage_name(enum lt_outage_kind k);

/* A document of a list on the page (sender side). */
struct lt_render_doc {
	char doc_id[64];
	char recipient[LT_CODE_MAX + 1];
	char subject[LT_RENDER_TEXT_MAX + 1];
	char reason[LT_RENDER_TEXT_MAX + 1];
	Lienthong__Store__DocStatus status;
	int64_t since_ms; /* in this status since */
	uint32_t attempts;
};

struct lt_render_quarantined {
	int64_t at_ms;
	char topic[LT_TOPIC_MAX + 1];
	char sender[LT_CODE_MAX + 1];
	char doc_id[64];
	char reason[LT_RENDER_TEXT_MAX + 1];
	uint64_t length;
};

struct lt_render_recipient {
	char code[LT_CODE_MAX + 1];
	uint64_t n[LT_STATUS_SLOTS];
};

struct lt_snap {
	int64_t now_ms;
	char agency[LT_CODE_MAX + 1];
	struct lt_monitor_view view;
	struct lt_counts counts;
	/* traffic[i]: minute i of the last LT_RENDER_MINUTES, the last one the current */
	uint64_t traffic[LT_RENDER_MINUTES][LT_TR_COUNT];
	size_t n_outages; /* outages that ended since the agent started, the latest first */
	struct lt_render_outage outages[LT_RENDER_OUTAGES_MAX];
	/* read from the store, in one read-only transaction */
	int store_ok;
	char store_error[LT_RENDER_TEXT_MAX + 1];
	uint64_t outbox;          /* records waiting for Kafka */
	int64_t outbox_oldest_ms; /* the oldest one's enqueue time, 0: none */
	uint64_t by_status[LT_STATUS_SLOTS];
	size_t n_recipients, recipients_total;
	struct lt_render_recipient recipients[LT_RENDER_RECIPIENTS_MAX];
	size_t n_waiting;
	struct lt_render_doc waiting[LT_RENDER_WAITING_MAX];
	size_t n_failed;
	struct lt_render_doc failed[LT_RENDER_FAILED_MAX];
	struct lt_quarantine_stats quarantine;
	size_t n_quarantined;
	struct lt_render_quarantined quarantined[LT_RENDER_QUARANTINE_MAX];
	uint64_t transfers_in;  /* large documents being received */
	uint64_t transfers_out; /* large documents being sent */
	uint64_t map_used, map_size;
	/* crl_file (none: crl_set 0) */
	int crl_set, crl_ok;
	int64_t crl_last_ms, crl_next_ms; /* the oldest lastUpdate, the earliest nextUpdate */
	char crl_error[LT_RENDER_TEXT_MAX + 1];
};

/* An output buffer that grows up to max bytes; past it, `over` is set and nothing more is kept. */
struct lt_buf {
	char *p;
	size_t len, cap, max;
	int over;
};

void lt_buf_init(struct lt_buf *b, size_t max);
void lt_buf_free(struct lt_buf *b);
void lt_buf_printf(struct lt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s escaped for HTML text and attribute values (see above). */
void lt_buf_html(struct lt_buf *b, const char *s);

/* Thresholds of the health verdict. */
#define LT_RENDER_BROKER_GRACE_MS 15000 /* no group membership this long: broker unreachable */
#define LT_RENDER_STATS_STALE_MS 30000  /* no consumer statistics this long: same */
#define LT_RENDER_VIEW_STALE_MS 30000   /* the main loop published nothing this long */
#define LT_RENDER_STORE_FULL 0.90       /* share of lmdb_map_size in use */

/*
 * The health verdict: 0 reasons is ready; else each reason (one line of
 * text, cut to size bytes) in reasons[0..n), n returned (at most max).
 */
size_t lt_render_health(const struct lt_snap *s, char (*reasons)[LT_ERR_MSG_MAX], size_t max);

void lt_render_metrics(const struct lt_snap *s, struct lt_buf *b);
void lt_render_page(const struct lt_snap *s, struct lt_buf *b);

#endif
