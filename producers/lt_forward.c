#include "lt_forward.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "../broker-adapter/lt_kafka.h"
#include "../clock/lt_clock.h"
#include "../log/lt_log.h"
#include "../proto/lt_envelope.h"

struct lt_forward_item {
	uint64_t seq;
	Lienthong__Store__OutKind kind;
	char doc_id[LT_DOCID_LEN + 1];
	char dest[LT_CODE_MAX + 1];
};

struct lt_forward_result {
	struct lt_forward_item *item;
	rd_kafka_resp_err_t err;
	int32_t partition;
	int64_t offset;
};

struct lt_forward {
	const struct lt_config *cfg;
	struct lt_store *store;
	rd_kafka_t *rk;
	uint64_t cursor; /* highest sequence handed to Kafka in this pass */
	size_t in_flight;
	int stalled;
	int64_t retry_at_ms;
	int64_t backoff_ms;
	int64_t outage_since_ms; /* 0: no outage */
	int64_t next_scan_ms;
	struct lt_forward_result *results; /* capacity max_in_flight */
	size_t n_results;
};

static void lt_forward_dr(void *ctx, void *opaque, rd_kafka_resp_err_t err, int32_t partition,
			  int64_t offset)
{
	struct lt_forward *fw = ctx;
	/* Every result belongs to an item in flight, and in_flight <= capacity. */
	fw->results[fw->n_results++] = (struct lt_forward_result){
		.item = opaque, .err = err, .partition = partition, .offset = offset};
}

struct lt_forward *lt_forward_new(const struct lt_config *cfg, struct lt_store *store,
				  lt_err *err)
{
	struct lt_forward *fw = calloc(1, sizeof *fw);
	if (fw == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		return NULL;
	}
	fw->cfg = cfg;
	fw->store = store;
	fw->results = calloc((size_t)cfg->max_in_flight, sizeof *fw->results);
	if (fw->results == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		free(fw);
		return NULL;
	}
	fw->rk = lt_kafka_producer_new(cfg, lt_forward_dr, fw, err);
	if (fw->rk == NULL) {
		free(fw->results);
		free(fw);
		return NULL;
	}
	return fw;
}

struct rd_kafka_s *lt_forward_producer(struct lt_forward *fw)
{
	return fw->rk;
}

void lt_forward_wake(struct lt_forward *fw)
{
	fw->next_scan_ms = 0;
}

static int64_t lt_forward_jitter(int64_t backoff)
{
	uint32_t r = 0;
	RAND_bytes((unsigned char *)&r, sizeof r);
	return backoff / 2 + (backoff > 1 ? (int64_t)(r % (uint32_t)(backoff / 2 + 1)) : 0);
}

/* Records the outcomes of a batch of delivery reports in one transaction. */
static int lt_forward_apply(struct lt_forward *fw, int64_t now_ms, lt_err *err)
{
	struct lt_txn *t = NULL;
	int failed = 0, ok = 0;
	char first_error[256] = "";
	if (lt_txn_begin(fw->store, 1, &t, err) != 0)
		goto out;
	for (size_t i = 0; i < fw->n_results; i++) {
		struct lt_forward_result *r = &fw->results[i];
		struct lt_forward_item *it = r->item;
		uint8_t key[8];
		if (r->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			ok++;
			lt_seq_key(it->seq, key);
			if (lt_txn_del(t, LT_DB_OUTQ, key, sizeof key, err) != 0)
				goto abort;
		} else {
			failed++;
			if (first_error[0] == '\0')
				snprintf(first_error, sizeof first_error, "%s",
					 rd_kafka_err2str(r->err));
		}
		if (it->kind != LIENTHONG__STORE__OUT_KIND__OUT_DOCUMENT)
			continue;
		Lienthong__Store__StatusRecord *rec = NULL;
		if (lt_status_get(t, it->doc_id, it->dest, &rec, err) != 0)
			goto abort;
		if (rec == NULL)
			continue;
		char reason[300];
		char *own_reason = rec->reason; /* restored before free: see below */
		rec->attempts++;
		if (r->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			if (rec->status == LIENTHONG__STORE__DOC_STATUS__QUEUED) {
				rec->status = LIENTHONG__STORE__DOC_STATUS__SENT;
				rec->updated_at_ms = now_ms;
				rec->reason = NULL;
			}
			rec->partition = r->partition;
			rec->offset = r->offset;
		} else if (rec->status == LIENTHONG__STORE__DOC_STATUS__QUEUED) {
			snprintf(reason, sizeof reason, "waiting for Kafka: %s",
				 rd_kafka_err2str(r->err));
			rec->reason = reason;
		}
		int rc = lt_status_put(t, it->doc_id, it->dest, rec, err);
		rec->reason = own_reason; /* free_unpacked frees only what unpack allocated */
		lienthong__store__status_record__free_unpacked(rec, NULL);
		if (rc != 0)
			goto abort;
	}
	if (lt_txn_commit(t, err) != 0) {
		t = NULL;
		goto out;
	}
	t = NULL;
	if (failed > 0) {
		fw->stalled = 1;
		fw->backoff_ms = fw->backoff_ms == 0
					 ? fw->cfg->retry_backoff_min_ms
					 : (fw->backoff_ms * 2 > fw->cfg->retry_backoff_max_ms
						    ? fw->cfg->retry_backoff_max_ms
						    : fw->backoff_ms * 2);
		fw->retry_at_ms = now_ms + lt_forward_jitter(fw->backoff_ms);
		if (fw->outage_since_ms == 0) {
			fw->outage_since_ms = now_ms;
			lt_log_warn("forwarding to Kafka failed (%s); %d record(s) stay in the "
				    "outbox and are retried with backoff",
				    first_error, failed);
		}
	} else if (ok > 0) {
		fw->backoff_ms = 0;
		if (fw->outage_since_ms != 0) {
			lt_log_info("forwarding to Kafka works again after %.1f s",
				    (double)(now_ms - fw->outage_since_ms) / 1000.0);
			fw->outage_since_ms = 0;
		}
	}
	for (size_t i = 0; i < fw->n_results; i++)
		free(fw->results[i].item);
	fw->in_flight -= fw->n_results;
	fw->n_results = 0;
	return 0;
abort:
	lt_txn_abort(t);
out:
	/* Outcomes not recorded: the records stay queued and are sent again. */
	for (size_t i = 0; i < fw->n_results; i++)
		free(fw->results[i].item);
	fw->in_flight -= fw->n_results;
	fw->n_results = 0;
	fw->stalled = 1;
	fw->retry_at_ms = now_ms + fw->cfg->retry_backoff_min_ms;
	return -1;
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
	int is_doc = item->kind == LIENTHONG__STORE__OUT_KIND__OUT_DOCUMENT;
	if (is_doc) {
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
		lt_config_inbox_topic(fw->cfg, item->destination, topic, sizeof topic);
	} else if (item->kind == LIENTHONG__STORE__OUT_KIND__OUT_RELEASE) {
		snprintf(topic, sizeof topic, "%s", item->topic);
	} else {
		lt_config_receipt_topic(fw->cfg, item->destination, topic, sizeof topic);
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
	lt_err perr;
	if (lt_kafka_produce(fw->rk, topic, fw->cfg->agency_code, strlen(fw->cfg->agency_code),
			     payload, plen, it, &perr) != 0) {
		free(it);
		if (perr.code != LT_EFULL)
			lt_log_warn("outbox record %llu: %s", (unsigned long long)seq, perr.msg);
		ret = 1; /* queue full or producer trouble: continue at the next tick */
		goto out;
	}
	fw->in_flight++;
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

/* Replaces a producer that raised a fatal (idempotence) error; the outbox makes it safe. */
static int lt_forward_renew(struct lt_forward *fw, int64_t now_ms, lt_err *err)
{
	lt_err ferr;
	if (!lt_kafka_fatal(fw->rk, &ferr))
		return 0;
	lt_log_warn("%s; recreating the producer (unacknowledged records are sent again)",
		    ferr.msg);
	rd_kafka_purge(fw->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(fw->rk, 0);
	lt_forward_apply(fw, now_ms, err);
	lt_kafka_destroy(fw->rk);
	fw->rk = NULL;
	/* Purged messages that did not report are gone with the handle. */
	fw->in_flight = 0;
	fw->rk = lt_kafka_producer_new(fw->cfg, lt_forward_dr, fw, err);
	if (fw->rk == NULL)
		return -1;
	fw->stalled = 1;
	fw->retry_at_ms = now_ms;
	return 0;
}

int lt_forward_tick(struct lt_forward *fw, int64_t now_ms, lt_err *err)
{
	rd_kafka_poll(fw->rk, 0);
	if (fw->n_results > 0 && lt_forward_apply(fw, now_ms, err) != 0)
		return -1;
	if (lt_forward_renew(fw, now_ms, err) != 0)
		return -1;
	if (fw->stalled) {
		if (fw->in_flight > 0 || now_ms < fw->retry_at_ms)
			return 0;
		fw->stalled = 0;
		fw->cursor = 0;
		fw->next_scan_ms = 0;
	}
	if (now_ms < fw->next_scan_ms)
		return 0;
	fw->next_scan_ms = now_ms + fw->cfg->poll_interval_ms;
	return lt_forward_scan(fw, err);
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
	lt_kafka_destroy(fw->rk);
	free(fw->results);
	free(fw);
}
