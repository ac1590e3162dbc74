#include "lt_forward.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../broker-adapter/lt_kafka.h"
#include "../clock/lt_backoff.h"
#include "../clock/lt_clock.h"
#include "../lifecycle/lt_lifecycle.h"
#include "../log/lt_log.h"
#include "../proto/lt_envelope.h"

#define LT_FORWARD_DESTS_MAX 4096 /* failing topics tracked at once */
#define LT_FORWARD_EMPTY 0        /* free slot of the in-flight set (sequences start at 1) */

/* One record handed to Kafka: the delivery report's opaque. */
struct lt_forward_item {
	uint64_t seq;
	Lienthong__Store__OutKind kind;
	char doc_id[LT_DOCID_LEN + 1];
	char dest[LT_CODE_MAX + 1];
	char topic[LT_TOPIC_MAX + 1];
	char reason[200]; /* set when producing failed before Kafka saw it */
};

struct lt_forward_result {
	struct lt_forward_item *item;
	rd_kafka_resp_err_t err;
	int32_t partition;
	int64_t offset;
};

/* A topic whose records fail: they wait, the others go on. */
struct lt_forward_dest {
	char topic[LT_TOPIC_MAX + 1];
	int64_t since_ms;
	int64_t retry_at_ms;
	struct lt_backoff backoff;
	int probing; /* retry due: its records are produced again until one reports */
};

struct lt_forward {
	const struct lt_config *cfg;
	struct lt_store *store;
	rd_kafka_t *rk;
	uint64_t cursor; /* highest sequence looked at in this pass */
	int rescan;      /* start the next scan from the beginning */
	int64_t next_scan_ms;
	size_t in_flight;
	uint64_t *inflight;  /* open-addressing set of sequences in flight */
	size_t inflight_cap; /* power of two, at least twice max_in_flight */
	struct lt_forward_dest *dests;
	size_t n_dests;
	struct lt_forward_result *results; /* capacity max_in_flight */
	size_t n_results;
	unsigned renewals; /* producers replaced after a fatal error */
};

static size_t lt_forward_slot(const struct lt_forward *fw, uint64_t seq)
{
	return (size_t)(seq * 0x9E3779B97F4A7C15ull) & (fw->inflight_cap - 1);
}

static int lt_forward_inflight_has(const struct lt_forward *fw, uint64_t seq)
{
	for (size_t i = lt_forward_slot(fw, seq);; i = (i + 1) & (fw->inflight_cap - 1)) {
		if (fw->inflight[i] == seq)
			return 1;
		if (fw->inflight[i] == LT_FORWARD_EMPTY)
			return 0;
	}
}

static void lt_forward_inflight_add(struct lt_forward *fw, uint64_t seq)
{
	size_t i = lt_forward_slot(fw, seq);
	while (fw->inflight[i] != LT_FORWARD_EMPTY)
		i = (i + 1) & (fw->inflight_cap - 1);
	fw->inflight[i] = seq;
	fw->in_flight++;
}

/*
 * Deletes by shifting later entries of the probe run back (no tombstones),
 * so the table never fills with deleted slots and every lookup ends at an
 * empty slot: the table is at most half full (capacity >= 2 * max_in_flight).
 */
static void lt_forward_inflight_del(struct lt_forward *fw, uint64_t seq)
{
	size_t mask = fw->inflight_cap - 1, i = lt_forward_slot(fw, seq);
	while (fw->inflight[i] != seq) {
		if (fw->inflight[i] == LT_FORWARD_EMPTY)
			return;
		i = (i + 1) & mask;
	}
	for (size_t j = i;;) {
		j = (j + 1) & mask;
		if (fw->inflight[j] == LT_FORWARD_EMPTY)
			break;
		size_t home = lt_forward_slot(fw, fw->inflight[j]);
		/* The entry at j may move to i unless its home lies cyclically in (i, j]. */
		int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
		if (stays)
			continue;
		fw->inflight[i] = fw->inflight[j];
		i = j;
	}
	fw->inflight[i] = LT_FORWARD_EMPTY;
	fw->in_flight--;
}

static void lt_forward_dr(void *ctx, void *opaque, rd_kafka_resp_err_t err, int32_t partition,
                          int64_t offset)
{
	struct lt_forward *fw = ctx;
	/* Every result belongs to an item in flight, and in_flight <= capacity. */
	fw->results[fw->n_results++] = (struct lt_forward_result){
	    .item = opaque, .err = err, .partition = partition, .offset = offset};
}

struct lt_forward *lt_forward_new(const struct lt_config *cfg, struct lt_store *store, lt_err *err)
{
	struct lt_forward *fw = calloc(1, sizeof *fw);
	if (fw == NULL)
		goto oom;
	fw->cfg = cfg;
	fw->store = store;
	fw->inflight_cap = 16;
	while (fw->inflight_cap < 2 * (size_t)cfg->max_in_flight)
		fw->inflight_cap *= 2;
	fw->inflight = calloc(fw->inflight_cap, sizeof *fw->inflight);
	fw->dests = calloc(LT_FORWARD_DESTS_MAX, sizeof *fw->dests);
	fw->results = calloc((size_t)cfg->max_in_flight, sizeof *fw->results);
	if (fw->inflight == NULL || fw->dests == NULL || fw->results == NULL)
		goto oom;
	fw->rk = lt_kafka_producer_new(cfg, lt_forward_dr, fw, err);
	if (fw->rk == NULL)
		goto fail;
	return fw;
oom:
	lt_err_set(err, LT_EIO, "out of memory");
fail:
	if (fw != NULL) {
		free(fw->inflight);
		free(fw->dests);
		free(fw->results);
		free(fw);
	}
	return NULL;
}

size_t lt_forward_failing(const struct lt_forward *fw, int64_t *since_ms, char *topic, size_t size)
{
	*since_ms = 0;
	if (size > 0)
		topic[0] = '\0';
	for (size_t i = 0; i < fw->n_dests; i++) {
		if (*since_ms == 0 || fw->dests[i].since_ms < *since_ms) {
			*since_ms = fw->dests[i].since_ms;
			snprintf(topic, size, "%s", fw->dests[i].topic);
		}
	}
	return fw->n_dests;
}

unsigned lt_forward_renewals(const struct lt_forward *fw)
{
	return fw->renewals;
}

struct rd_kafka_s *lt_forward_producer(struct lt_forward *fw)
{
	return fw->rk;
}

void lt_forward_wake(struct lt_forward *fw)
{
	fw->next_scan_ms = 0;
}

static struct lt_forward_dest *lt_forward_dest_find(struct lt_forward *fw, const char *topic)
{
	for (size_t i = 0; i < fw->n_dests; i++) {
		if (strcmp(fw->dests[i].topic, topic) == 0)
			return &fw->dests[i];
	}
	return NULL;
}

/* A record for topic failed: its records wait with a growing backoff; logged once. */
static struct lt_forward_dest *lt_forward_dest_fail(struct lt_forward *fw, const char *topic,
                                                    const char *reason, int64_t now_ms)
{
	struct lt_forward_dest *d = lt_forward_dest_find(fw, topic);
	if (d == NULL) {
		if (fw->n_dests == LT_FORWARD_DESTS_MAX) {
			fw->rescan = 1; /* cannot track it: it is simply tried again */
			return NULL;
		}
		d = &fw->dests[fw->n_dests++];
		snprintf(d->topic, sizeof d->topic, "%s", topic);
		d->since_ms = now_ms;
		lt_backoff_init(&d->backoff, fw->cfg->retry_backoff_min_ms,
		                fw->cfg->retry_backoff_max_ms);
		lt_log_warn("forwarding to %s fails (%s); its records wait in the outbox and are "
		            "retried with backoff, the others go on",
		            topic, reason);
		d->retry_at_ms = now_ms + lt_backoff_jitter(lt_backoff_next(&d->backoff));
	} else if (d->probing) {
		d->probing = 0;
		d->retry_at_ms = now_ms + lt_backoff_jitter(lt_backoff_next(&d->backoff));
	}
	return d;
}

static void lt_forward_dest_ok(struct lt_forward *fw, const char *topic, int64_t now_ms)
{
	struct lt_forward_dest *d = lt_forward_dest_find(fw, topic);
	if (d == NULL)
		return;
	lt_log_info("forwarding to %s works again after %.1f s", topic,
	            (double)(now_ms - d->since_ms) / 1000.0);
	*d = fw->dests[--fw->n_dests];
	fw->rescan = 1; /* records of the topic skipped meanwhile are behind the cursor */
}

/* Records a document's outcome in its status (attempts, sent, or why it waits). */
static int lt_forward_status(struct lt_txn *t, const struct lt_forward_result *r,
                             const struct lt_forward_dest *d, int64_t now_ms, lt_err *err)
{
	const struct lt_forward_item *it = r->item;
	char reason[400], since[LT_TIME_TEXT];
	struct lt_life_change ch = {.event = LT_LIFE_KAFKA_ACK,
	                            .at_ms = now_ms,
	                            .partition = r->partition,
	                            .offset = r->offset};
	if (r->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		lt_time_format(d != NULL ? d->since_ms : now_ms, since, sizeof since);
		snprintf(reason, sizeof reason, "waiting: Kafka fails since %s: %s", since,
		         it->reason[0] ? it->reason : rd_kafka_err2str(r->err));
		ch.event = LT_LIFE_KAFKA_WAIT;
		ch.reason = reason;
	}
	return lt_life_apply(t, it->doc_id, it->dest, &ch, err) < 0 ? -1 : 0;
}

/* Records the outcomes of a batch of delivery reports in one transaction. */
static int lt_forward_apply(struct lt_forward *fw, int64_t now_ms, lt_err *err)
{
	struct lt_txn *t = NULL;
	int rc = -1;
	if (lt_txn_begin(fw->store, 1, &t, err) != 0)
		goto out;
	for (size_t i = 0; i < fw->n_results; i++) {
		struct lt_forward_result *r = &fw->results[i];
		struct lt_forward_item *it = r->item;
		struct lt_forward_dest *d = NULL;
		uint8_t key[8];
		if (r->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			lt_seq_key(it->seq, key);
			if (lt_txn_del(t, LT_DB_OUTQ, key, sizeof key, err) != 0)
				goto out;
			lt_forward_dest_ok(fw, it->topic, now_ms);
		} else {
			d = lt_forward_dest_fail(
			    fw, it->topic, it->reason[0] ? it->reason : rd_kafka_err2str(r->err),
			    now_ms);
		}
		if (it->kind == LIENTHONG__STORE__OUT_KIND__OUT_DOCUMENT &&
		    lt_forward_status(t, r, d, now_ms, err) != 0)
			goto out;
	}
	rc = lt_txn_commit(t, err);
	t = NULL;
out:
	lt_txn_abort(t);
	/* Outcomes not recorded leave the records queued: they are sent again. */
	if (rc != 0)
		fw->rescan = 1;
	for (size_t i = 0; i < fw->n_results; i++) {
		lt_forward_inflight_del(fw, fw->results[i].item->seq);
		free(fw->results[i].item);
	}
	fw->n_results = 0;
	return rc;
}

struct lt_forward_scan {
	struct lt_forward *fw;
	struct lt_txn *t;
	size_t produced;
};

static int lt_forward_one(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                          lt_err *err)
{
	struct lt_forward_scan *sc = ctx;
	struct lt_forward *fw = sc->fw;
	if ((int64_t)fw->in_flight >= fw->cfg->max_in_flight)
		return 1;
	if (klen != 8)
		return 0;
	uint64_t seq = lt_seq_from_key(key);
	if (lt_forward_inflight_has(fw, seq)) {
		fw->cursor = seq;
		return 0;
	}
	Lienthong__Store__OutItem *item = lienthong__store__out_item__unpack(NULL, vlen, val);
	if (item == NULL) {
		lt_log_error("outbox record %llu is corrupt; skipped (inspect with mdb_dump)",
		             (unsigned long long)seq);
		fw->cursor = seq;
		return 0;
	}
	int ret = 0;
	const void *payload = item->payload.data;
	size_t plen = item->payload.len;
	char topic[LT_TOPIC_MAX + 1];
	if (item->kind == LIENTHONG__STORE__OUT_KIND__OUT_DOCUMENT)
		lt_config_inbox_topic(fw->cfg, item->destination, topic, sizeof topic);
	else if (item->kind == LIENTHONG__STORE__OUT_KIND__OUT_RELEASE)
		snprintf(topic, sizeof topic, "%s", item->topic);
	else
		lt_config_receipt_topic(fw->cfg, item->destination, topic, sizeof topic);
	const struct lt_forward_dest *d = lt_forward_dest_find(fw, topic);
	if (d != NULL && !d->probing) {
		fw->cursor = seq; /* waits for its topic's retry, which rescans */
		goto out;
	}
	if (item->kind == LIENTHONG__STORE__OUT_KIND__OUT_DOCUMENT) {
		if (lt_txn_get(sc->t, LT_DB_DOCS, item->document_id, strlen(item->document_id),
		               &payload, &plen, err) != 0) {
			ret = -1;
			goto out;
		}
		if (payload == NULL) {
			lt_log_error("outbox record %llu names document %s, which is missing; "
			             "skipped",
			             (unsigned long long)seq, item->document_id);
			fw->cursor = seq;
			goto out;
		}
	}
	struct lt_forward_item *it = calloc(1, sizeof *it);
	if (it == NULL) {
		ret = 1;
		goto out;
	}
	it->seq = seq;
	it->kind = item->kind;
	snprintf(it->doc_id, sizeof it->doc_id, "%s", item->document_id);
	snprintf(it->dest, sizeof it->dest, "%s", item->destination);
	snprintf(it->topic, sizeof it->topic, "%s", topic);
	lt_err perr;
	if (lt_kafka_produce(fw->rk, topic, fw->cfg->agency_code, strlen(fw->cfg->agency_code),
	                     payload, plen, it, &perr) != 0) {
		if (perr.code == LT_EFULL) {
			free(it);
			ret = 1; /* librdkafka's queue is full: go on at the next tick */
			goto out;
		}
		/* Refused before reaching Kafka (unknown topic...): an outcome like a report. */
		snprintf(it->reason, sizeof it->reason, "%s", perr.msg);
		fw->results[fw->n_results++] = (struct lt_forward_result){
		    .item = it, .err = RD_KAFKA_RESP_ERR__FAIL, .partition = -1, .offset = -1};
	}
	lt_forward_inflight_add(fw, seq);
	fw->cursor = seq;
	sc->produced++;
out:
	lienthong__store__out_item__free_unpacked(item, NULL);
	return ret;
}

static int lt_forward_scan(struct lt_forward *fw, lt_err *err)
{
	struct lt_forward_scan sc = {.fw = fw};
	uint8_t from[8];
	lt_seq_key(fw->cursor + 1, from);
	if (lt_txn_begin(fw->store, 0, &sc.t, err) != 0)
		return -1;
	int rc = lt_txn_scan(sc.t, LT_DB_OUTQ, from, sizeof from, lt_forward_one, &sc, err);
	lt_txn_abort(sc.t);
	if (sc.produced > 0)
		lt_log_debug("handed %zu outbox record(s) to Kafka", sc.produced);
	return rc;
}

/*
 * Replaces a producer that raised a fatal (idempotence) error; the outbox
 * makes it safe. A new handle from the configuration that made the first one
 * can only fail for want of memory or threads: then the agent exits (its
 * supervisor restarts it) rather than run on without a producer.
 */
static int lt_forward_renew(struct lt_forward *fw, int64_t now_ms, lt_err *err)
{
	lt_err ferr;
	if (!lt_kafka_fatal(fw->rk, &ferr))
		return 0;
	lt_log_warn("%s; recreating the producer (unacknowledged records are sent again)",
	            ferr.msg);
	rd_kafka_purge(fw->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(fw->rk, 0);
	if (fw->n_results > 0)
		lt_forward_apply(fw, now_ms, err);
	lt_kafka_destroy(fw->rk, 0);
	/* Anything still unreported died with the handle and is sent again. */
	memset(fw->inflight, 0, fw->inflight_cap * sizeof *fw->inflight);
	fw->in_flight = 0;
	fw->rescan = 1;
	fw->rk = lt_kafka_producer_new(fw->cfg, lt_forward_dr, fw, err);
	if (fw->rk == NULL)
		lt_log_fatal("cannot recreate the Kafka producer: %s", err->msg);
	fw->renewals++;
	lt_log_info("Kafka producer replaced (%u time(s) since start)", fw->renewals);
	return 0;
}

int lt_forward_tick(struct lt_forward *fw, int64_t now_ms, lt_err *err)
{
	rd_kafka_poll(fw->rk, 0);
	if (fw->n_results > 0 && lt_forward_apply(fw, now_ms, err) != 0)
		return -1;
	if (lt_forward_renew(fw, now_ms, err) != 0)
		return -1;
	for (size_t i = 0; i < fw->n_dests; i++) {
		if (!fw->dests[i].probing && fw->dests[i].retry_at_ms <= now_ms) {
			fw->dests[i].probing = 1;
			fw->rescan = 1;
		}
	}
	if (fw->rescan) {
		fw->rescan = 0;
		fw->cursor = 0;
		fw->next_scan_ms = 0;
	}
	if (now_ms < fw->next_scan_ms)
		return 0;
	fw->next_scan_ms = now_ms + fw->cfg->poll_interval_ms;
	int rc = lt_forward_scan(fw, err);
	/* Produce failures found by the scan are recorded like delivery reports. */
	if (rc == 0 && fw->n_results > 0)
		rc = lt_forward_apply(fw, now_ms, err);
	return rc;
}

void lt_forward_free(struct lt_forward *fw, int timeout_ms)
{
	if (fw == NULL)
		return;
	lt_err err;
	rd_kafka_flush(fw->rk, timeout_ms);
	rd_kafka_purge(fw->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(fw->rk, 0);
	if (fw->n_results > 0 && lt_forward_apply(fw, lt_now_ms(), &err) != 0)
		lt_log_warn("recording delivery reports at shutdown: %s (the records are sent "
		            "again at the next start)",
		            err.msg);
	lt_kafka_destroy(fw->rk, 0);
	free(fw->inflight);
	free(fw->dests);
	free(fw->results);
	free(fw);
}
