#include "lt_forward.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../broker-adapter/lt_kafka.h"
#include "../clock/lt_backoff.h"
#include "../clock/lt_clock.h"
#include "../lifecycle/lt_lifecycle.h"
#include "../log/lt_log.h"
#include "../proto/lt_envelope.h"
#include "lt_spool.h"

#define LT_FORWARD_DESTS_MAX 4096        /* failing topics tracked at once */
#define LT_FORWARD_EMPTY 0               /* free slot of the in-flight set (sequences start at 1) */
#define LT_FORWARD_STREAMS 4             /* streamed documents being sent at once */
#define LT_FORWARD_WINDOW 16             /* chunks of one document in flight */
#define LT_FORWARD_CHUNK_BYTES (8 << 20) /* chunk records in flight: half the producer queue */
#define LT_FORWARD_REASON_MS 1000        /* "sending: N of M chunks" at most this often */
#define LT_FORWARD_HELD 64 /* streamed documents this configuration refuses, remembered */
/* Records of streams in flight: each stream's manifest or window. */
#define LT_FORWARD_STREAM_RECORDS (LT_FORWARD_STREAMS * (LT_FORWARD_WINDOW + 1))
#define LT_FORWARD_SPARE 16 /* chunk record buffers kept for the next chunks */

enum lt_forward_what {
	LT_FORWARD_RECORD,   /* an outbox record as one Kafka record */
	LT_FORWARD_MANIFEST, /* a streamed document's envelope */
	LT_FORWARD_CHUNK,    /* one chunk of it */
};

/* One record handed to Kafka: the delivery report's opaque. */
struct lt_forward_item {
	uint64_t seq;
	Lienthong__Store__OutKind kind;
	enum lt_forward_what what;
	unsigned slot; /* manifest, chunk: its stream's slot and generation */
	uint64_t gen;
	uint64_t chunk; /* chunk: its number in send order (part 0's chunks first) */
	size_t bytes;   /* chunk: the record's size */
	uint8_t *rec;   /* chunk: its buffer, lent to librdkafka (lt_forward.lent) */
	int counted;    /* manifest, chunk: its report is counted in its stream */
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

/*
 * A streamed document on its way to one recipient (outbox record seq): the
 * manifest, then its chunks in order, at most LT_FORWARD_WINDOW in flight.
 * Progress is recorded in the sendprog database as reports come in.
 */
struct lt_forward_stream {
	uint64_t gen; /* 0: a free slot; reports of an older generation are ignored */
	uint64_t seq;
	char doc_id[LT_DOCID_LEN + 1];
	char dest[LT_CODE_MAX + 1];
	char topic[LT_TOPIC_MAX + 1];
	Lienthong__Envelope *env;        /* the manifest decoded: parts, chunk digests */
	uint64_t total;                  /* chunks of all its streamed parts */
	uint64_t acked;                  /* chunks 0 .. acked-1 acknowledged */
	uint64_t next;                   /* the next chunk to produce */
	uint8_t done[LT_FORWARD_WINDOW]; /* chunk n (acked < n < next) acknowledged: n % WINDOW */
	unsigned in_flight;              /* its records not reported yet */
	size_t bytes;                    /* of its chunk records in flight */
	int manifest_acked;
	int32_t partition; /* the manifest's position */
	int64_t offset;
	int failed;   /* a record failed: nothing more is produced; dropped once in_flight is 0 */
	int dirty;    /* progress to record */
	int finished; /* recorded as sent: dropped */
	int refused;  /* this configuration refuses its manifest: recorded, then held */
	int64_t reason_at_ms;
	int64_t broken_until_ms; /* its spool is damaged: no chunk is read before then */
	char broken[600];        /* why, for the status reason; "" once recorded */
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
	struct lt_forward_stream streams[LT_FORWARD_STREAMS];
	uint64_t gens;      /* generations given to streams */
	size_t chunk_bytes; /* of chunk records in flight */
	uint8_t *buf;       /* one chunk read from the spool (max_message_bytes) */
	/*
	 * Chunk records are packed into buffers of max_message_bytes lent to
	 * librdkafka until their reports, then kept for the next ones: a fresh
	 * buffer per record cost a page fault per 4 KiB (bench/PROFILE.md).
	 * In all no more than were lent at once, itself bounded by
	 * LT_FORWARD_CHUNK_BYTES and LT_FORWARD_STREAM_RECORDS.
	 */
	uint8_t *lent[LT_FORWARD_STREAM_RECORDS];
	size_t n_lent;
	uint8_t *spare[LT_FORWARD_SPARE];
	size_t n_spare;
	int pending;                    /* a stream has something to record without a report */
	uint64_t held[LT_FORWARD_HELD]; /* outbox records not looked at again until a restart */
	size_t n_held;                  /* the oldest is replaced when full (looked at again) */
	void (*on_report)(void *ctx);   /* lt_forward_on_report: called from librdkafka */
	void *on_report_ctx;
	atomic_int streaming; /* a stream is open: its reports call on_report */
};

/* A buffer of max_message_bytes lent until lt_forward_buf_back; NULL: out of memory. */
static uint8_t *lt_forward_buf_lend(struct lt_forward *fw)
{
	assert(fw->n_lent < LT_FORWARD_STREAM_RECORDS);
	uint8_t *b =
	    fw->n_spare > 0 ? fw->spare[--fw->n_spare] : malloc((size_t)fw->cfg->max_message_bytes);
	if (b != NULL)
		fw->lent[fw->n_lent++] = b;
	return b;
}

/* The lent buffer b is no longer librdkafka's: kept for the next chunk, or freed. */
static void lt_forward_buf_back(struct lt_forward *fw, uint8_t *b)
{
	size_t i = 0;
	while (i < fw->n_lent && fw->lent[i] != b)
		i++;
	assert(i < fw->n_lent);
	fw->lent[i] = fw->lent[--fw->n_lent];
	if (fw->n_spare < LT_FORWARD_SPARE)
		fw->spare[fw->n_spare++] = b;
	else
		free(b);
}

/* The producer is destroyed: every lent buffer is free (reports left unserved drop theirs). */
static void lt_forward_buf_reclaim(struct lt_forward *fw)
{
	for (size_t i = 0; i < fw->n_results; i++)
		fw->results[i].item->rec = NULL;
	while (fw->n_lent > 0)
		free(fw->lent[--fw->n_lent]);
}

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
	fw->results =
	    calloc((size_t)cfg->max_in_flight + LT_FORWARD_STREAM_RECORDS, sizeof *fw->results);
	fw->buf = malloc((size_t)cfg->max_message_bytes);
	if (fw->inflight == NULL || fw->dests == NULL || fw->results == NULL || fw->buf == NULL)
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
		free(fw->buf);
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

size_t lt_forward_failing_list(const struct lt_forward *fw, struct lt_forward_topic *out,
                               size_t max)
{
	for (size_t i = 0; i < fw->n_dests && i < max; i++) {
		snprintf(out[i].topic, sizeof out[i].topic, "%s", fw->dests[i].topic);
		out[i].since_ms = fw->dests[i].since_ms;
		out[i].retry_at_ms = fw->dests[i].retry_at_ms;
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

/* librdkafka's thread: a report arrived; while streaming, the main loop refills the windows. */
static void lt_forward_report_cb(rd_kafka_t *rk, void *ctx)
{
	struct lt_forward *fw = ctx;
	(void)rk;
	if (atomic_load(&fw->streaming))
		fw->on_report(fw->on_report_ctx);
}

void lt_forward_on_report(struct lt_forward *fw, void (*fn)(void *ctx), void *ctx)
{
	lt_kafka_on_report(fw->rk, NULL, NULL); /* no call runs once this returns */
	fw->on_report = fn;
	fw->on_report_ctx = ctx;
	if (fn != NULL)
		lt_kafka_on_report(fw->rk, lt_forward_report_cb, fw);
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

static void lt_forward_stream_drop(struct lt_forward *fw, struct lt_forward_stream *s)
{
	if (s->gen == 0)
		return;
	fw->chunk_bytes -= s->bytes;
	if (s->env != NULL)
		lienthong__envelope__free_unpacked(s->env, NULL);
	memset(s, 0, sizeof *s);
	fw->rescan = 1; /* a slot is free: streamed documents skipped meanwhile are behind */
}

static int lt_forward_held(const struct lt_forward *fw, uint64_t seq)
{
	for (size_t i = 0; i < fw->n_held && i < LT_FORWARD_HELD; i++) {
		if (fw->held[i] == seq)
			return 1;
	}
	return 0;
}

static struct lt_forward_stream *lt_forward_stream_find(struct lt_forward *fw, uint64_t seq)
{
	for (size_t i = 0; i < LT_FORWARD_STREAMS; i++) {
		if (fw->streams[i].gen != 0 && fw->streams[i].seq == seq)
			return &fw->streams[i];
	}
	return NULL;
}

/* Chunk n in send order: its part and number within the part. */
static void lt_forward_locate(const struct lt_forward_stream *s, uint64_t n, uint32_t *part,
                              uint64_t *index)
{
	for (size_t p = 0; p < s->env->n_parts; p++) {
		const Lienthong__Part *pt = s->env->parts[p];
		uint64_t c = lt_part_chunks(pt->size, pt->chunk_bytes);
		*part = (uint32_t)p;
		*index = n;
		if (n < c || p + 1 == s->env->n_parts)
			break; /* n < total: the caller's rule */
		n -= c;
	}
}

/*
 * Reads chunk idx of streamed part p of the stream's document from the
 * spool (producers/lt_spool.h) into buf and checks it against the signed
 * chunk list: a damaged spool is never sent. *len its length.
 */
static int lt_forward_spool_chunk(const struct lt_config *cfg, const struct lt_forward_stream *s,
                                  uint32_t p, uint64_t idx, uint8_t *buf, size_t *len, lt_err *err)
{
	const Lienthong__Part *part = s->env->parts[p];
	int fd = -1;
	if (lt_spool_open(cfg->data_dir, s->doc_id, p, part->size, &fd, err) != 0)
		return -1; /* its message names the file */
	int rc = lt_spool_read_chunk(fd, part->size, part->chunk_bytes, idx, buf, len, err);
	close(fd);
	if (rc == 0)
		rc = lt_spool_chunk_verify(part, idx, buf, *len, err);
	char path[PATH_MAX];
	lt_err perr;
	if (rc != 0 && lt_spool_path(cfg->data_dir, s->doc_id, p, path, sizeof path, &perr) == 0)
		lt_err_wrap(err, "%s (chunk %llu of part %u)", path, (unsigned long long)idx, p);
	return rc;
}

/* The spool cannot give the next chunk: nothing is read for a while, the status says why. */
static void lt_forward_stream_broken(struct lt_forward *fw, struct lt_forward_stream *s,
                                     const char *why, int64_t now_ms)
{
	snprintf(s->broken, sizeof s->broken,
	         "waiting: the spool is damaged: %s; not sent (restore the file or submit the "
	         "document again)",
	         why);
	if (s->broken_until_ms == 0)
		lt_log_error("document %s to %s: %s", s->doc_id, s->dest, s->broken);
	s->broken_until_ms = now_ms + fw->cfg->retry_backoff_max_ms;
	fw->pending = 1;
}

/*
 * Reads, checks and produces the stream's next chunk. 0: produced (or
 * refused, recorded as its report), 1: no room now (queue full, spool
 * damaged), -1: out of memory.
 */
static int lt_forward_chunk(struct lt_forward *fw, struct lt_forward_stream *s, int64_t now_ms)
{
	uint32_t p = 0;
	uint64_t idx = 0;
	lt_forward_locate(s, s->next, &p, &idx);
	size_t len = 0;
	lt_err rerr;
	if (lt_forward_spool_chunk(fw->cfg, s, p, idx, fw->buf, &len, &rerr) != 0) {
		lt_forward_stream_broken(fw, s, rerr.msg, now_ms);
		return 1;
	}
	s->broken_until_ms = 0;
	struct lt_forward_item *it = calloc(1, sizeof *it);
	uint8_t *rec = it != NULL ? lt_forward_buf_lend(fw) : NULL;
	if (rec == NULL) {
		free(it);
		return -1;
	}
	/* Its manifest decoded with this configuration: chunk_bytes leaves LT_CHUNK_OVERHEAD. */
	size_t n = lt_chunk_pack_into(s->doc_id, s->env->header->sender, p, (uint32_t)idx, fw->buf,
	                              len, rec, (size_t)fw->cfg->max_message_bytes);
	assert(n > 0);
	*it = (struct lt_forward_item){.seq = s->seq,
	                               .kind = LIENTHONG__STORE__OUT_KIND__OUT_DOCUMENT,
	                               .what = LT_FORWARD_CHUNK,
	                               .slot = (unsigned)(s - fw->streams),
	                               .gen = s->gen,
	                               .chunk = s->next,
	                               .bytes = n,
	                               .rec = rec};
	memcpy(it->doc_id, s->doc_id, sizeof it->doc_id);
	memcpy(it->dest, s->dest, sizeof it->dest);
	memcpy(it->topic, s->topic, sizeof it->topic);
	lt_err perr;
	if (lt_kafka_produce_lent(fw->rk, s->topic, fw->cfg->agency_code,
	                          strlen(fw->cfg->agency_code), rec, n, it, &perr) != 0) {
		lt_forward_buf_back(fw, rec);
		it->rec = NULL;
		if (perr.code == LT_EFULL) {
			free(it);
			return 1;
		}
		snprintf(it->reason, sizeof it->reason, "%s", perr.msg);
		fw->results[fw->n_results++] = (struct lt_forward_result){
		    .item = it, .err = RD_KAFKA_RESP_ERR__FAIL, .partition = -1, .offset = -1};
	}
	s->next++;
	s->in_flight++;
	s->bytes += n;
	fw->chunk_bytes += n;
	return 0;
}

/* Fills the windows of the streams whose manifest is acknowledged. */
static void lt_forward_pump(struct lt_forward *fw, int64_t now_ms)
{
	for (size_t i = 0; i < LT_FORWARD_STREAMS; i++) {
		struct lt_forward_stream *s = &fw->streams[i];
		if (s->gen == 0 || s->failed || s->finished || !s->manifest_acked ||
		    s->broken_until_ms > now_ms)
			continue;
		const struct lt_forward_dest *d = lt_forward_dest_find(fw, s->topic);
		if (d != NULL && !d->probing)
			continue;
		while (
		    s->next < s->total && s->next - s->acked < LT_FORWARD_WINDOW &&
		    (fw->chunk_bytes == 0 || fw->chunk_bytes + (size_t)fw->cfg->max_message_bytes <=
		                                 LT_FORWARD_CHUNK_BYTES)) {
			int rc = lt_forward_chunk(fw, s, now_ms);
			if (rc < 0)
				return; /* out of memory: tried again at the next tick */
			if (rc > 0)
				break;
		}
	}
}

/* The stream of a reported record, or NULL once dropped; its report counted there once. */
static struct lt_forward_stream *lt_forward_stream_count(struct lt_forward *fw,
                                                         struct lt_forward_item *it)
{
	struct lt_forward_stream *s = &fw->streams[it->slot];
	if (s->gen != it->gen || it->counted)
		return NULL; /* its stream was dropped (producer replaced): sent again anyway */
	it->counted = 1;
	s->in_flight--;
	if (it->what == LT_FORWARD_CHUNK) {
		s->bytes -= it->bytes;
		fw->chunk_bytes -= it->bytes;
	}
	return s;
}

/* A report of a stream's record (manifest or chunk). */
static int lt_forward_stream_report(struct lt_forward *fw, struct lt_txn *t,
                                    const struct lt_forward_result *r, int64_t now_ms, lt_err *err)
{
	struct lt_forward_item *it = r->item;
	struct lt_forward_stream *s = lt_forward_stream_count(fw, it);
	if (s == NULL)
		return 0;
	if (r->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* Sent again from the first chunk not acknowledged once the topic works. */
		struct lt_forward_dest *d = lt_forward_dest_fail(
		    fw, it->topic, it->reason[0] ? it->reason : rd_kafka_err2str(r->err), now_ms);
		int first = !s->failed;
		s->failed = 1;
		return first ? lt_forward_status(t, r, d, now_ms, err) : 0;
	}
	lt_forward_dest_ok(fw, it->topic, now_ms);
	if (it->what == LT_FORWARD_MANIFEST) {
		s->manifest_acked = 1;
		s->partition = r->partition;
		s->offset = r->offset;
	} else {
		s->done[it->chunk % LT_FORWARD_WINDOW] = 1;
		while (s->acked < s->next && s->done[s->acked % LT_FORWARD_WINDOW]) {
			s->done[s->acked % LT_FORWARD_WINDOW] = 0;
			s->acked++;
		}
	}
	s->dirty = 1;
	return 0;
}

/*
 * Records a stream's progress: the sendprog record, or, after the last
 * chunk, the outbox record and its progress removed and the status `sent`
 * with the manifest's position; the status reason says how far it is.
 */
static int lt_forward_stream_record(struct lt_txn *t, struct lt_forward_stream *s, int64_t now_ms,
                                    lt_err *err)
{
	uint8_t key[8];
	char reason[200];
	lt_seq_key(s->seq, key);
	struct lt_life_change ch = {.event = LT_LIFE_KAFKA_WAIT, .at_ms = now_ms};
	if (s->manifest_acked && s->acked == s->total) {
		if (lt_txn_del(t, LT_DB_OUTQ, key, sizeof key, err) != 0 ||
		    lt_txn_del(t, LT_DB_SENDPROG, key, sizeof key, err) != 0)
			return -1;
		ch = (struct lt_life_change){.event = LT_LIFE_KAFKA_ACK,
		                             .at_ms = now_ms,
		                             .partition = s->partition,
		                             .offset = s->offset};
		s->finished = 1;
	} else if (s->dirty) {
		Lienthong__Store__SendProgress pr = LIENTHONG__STORE__SEND_PROGRESS__INIT;
		pr.manifest_acked = s->manifest_acked;
		pr.partition = s->partition;
		pr.offset = s->offset;
		pr.chunks_acked = s->acked;
		pr.chunks_total = s->total;
		pr.updated_at_ms = now_ms;
		if (lt_txn_put_pb(t, LT_DB_SENDPROG, key, sizeof key, &pr.base, err) != 0)
			return -1;
	}
	if (s->broken[0] != '\0' && !s->finished) {
		ch.reason = s->broken;
	} else if (!s->finished) {
		if (now_ms - s->reason_at_ms < LT_FORWARD_REASON_MS)
			goto out;
		snprintf(reason, sizeof reason, "sending: %llu of %llu chunks",
		         (unsigned long long)s->acked, (unsigned long long)s->total);
		ch.reason = reason;
		ch.progress = 1; /* the send goes on: no attempt of its own */
		s->reason_at_ms = now_ms;
	}
	if (lt_life_apply(t, s->doc_id, s->dest, &ch, err) < 0)
		return -1;
out:
	s->broken[0] = '\0';
	s->dirty = 0;
	return 0;
}

/*
 * Outbox record seq is a document: when its envelope has a streamed part, a
 * stream is opened for it (from its recorded progress) and its manifest
 * produced unless acknowledged before. 0: not streamed (sent as one record),
 * 1: handled, 2: no room now (stop the scan), 3: waits for a free stream,
 * -1: error. A streamed manifest this configuration refuses (a smaller
 * max_message_bytes since it was sealed...) is not sent: its status says why.
 */
static int lt_forward_stream_open(struct lt_forward *fw, struct lt_txn *t, uint64_t seq,
                                  const Lienthong__Store__OutItem *item, const char *topic,
                                  const void *env_buf, size_t env_len, lt_err *err)
{
	Lienthong__Envelope *env = NULL;
	Lienthong__Store__SendProgress *pr = NULL;
	struct lt_forward_stream *s = NULL;
	uint64_t total = 0;
	int streamed = 0, ret = 1;
	lt_err derr;
	int bad = lt_envelope_decode(env_buf, env_len, fw->cfg, &env, &derr) != 0;
	for (size_t p = 0; env != NULL && p < env->n_parts; p++) {
		streamed |= env->parts[p]->chunk_bytes > 0;
		total += lt_part_chunks(env->parts[p]->size, env->parts[p]->chunk_bytes);
	}
	if (!streamed) {
		if (env != NULL)
			lienthong__envelope__free_unpacked(env, NULL);
		return 0; /* one record; a bad one is sent as it is, the recipient says why */
	}
	for (size_t i = 0; i < LT_FORWARD_STREAMS && s == NULL; i++)
		s = fw->streams[i].gen == 0 ? &fw->streams[i] : NULL;
	if (s == NULL) {
		ret = 3; /* looked at again when a stream ends */
		goto out;
	}
	if (bad) {
		/* Its chunks could not be read safely: it waits, saying why, until a restart. */
		*s = (struct lt_forward_stream){.gen = ++fw->gens, .seq = seq, .refused = 1};
		snprintf(s->doc_id, sizeof s->doc_id, "%s", item->document_id);
		snprintf(s->dest, sizeof s->dest, "%s", item->destination);
		snprintf(s->broken, sizeof s->broken,
		         "waiting: this agent's configuration refuses the manifest (%s); not sent "
		         "(fix the configuration and restart the agent)",
		         derr.msg);
		lt_log_error("document %s to %s: %s", s->doc_id, s->dest, s->broken);
		fw->pending = 1;
		goto out;
	}
	uint8_t key[8];
	const void *val;
	size_t vlen;
	lt_seq_key(seq, key);
	if (lt_txn_get(t, LT_DB_SENDPROG, key, sizeof key, &val, &vlen, err) != 0) {
		ret = -1;
		goto out;
	}
	if (val != NULL && (pr = lienthong__store__send_progress__unpack(NULL, vlen, val)) == NULL)
		lt_log_error("progress record of outbox record %llu is corrupt; document %s is "
		             "sent again from its start",
		             (unsigned long long)seq, item->document_id);
	*s = (struct lt_forward_stream){.gen = ++fw->gens,
	                                .seq = seq,
	                                .env = env,
	                                .total = total,
	                                .partition = -1,
	                                .offset = -1};
	env = NULL;
	snprintf(s->doc_id, sizeof s->doc_id, "%s", item->document_id);
	snprintf(s->dest, sizeof s->dest, "%s", item->destination);
	snprintf(s->topic, sizeof s->topic, "%s", topic);
	if (pr != NULL && pr->manifest_acked) {
		s->manifest_acked = 1;
		s->partition = pr->partition;
		s->offset = pr->offset;
		s->acked = s->next = pr->chunks_acked < total ? pr->chunks_acked : total;
	}
	lt_log_info("sending document %s to %s: %llu chunk(s), from chunk %llu%s", s->doc_id,
	            s->dest, (unsigned long long)total, (unsigned long long)s->acked + 1,
	            s->manifest_acked ? " (manifest acknowledged before)" : "");
	if (s->manifest_acked) {
		s->dirty = 1; /* a document all sent before a crash is recorded as sent */
		fw->pending = 1;
		goto out;
	}
	struct lt_forward_item *it = calloc(1, sizeof *it);
	if (it == NULL) {
		lt_forward_stream_drop(fw, s);
		ret = 2;
		goto out;
	}
	*it = (struct lt_forward_item){.seq = seq,
	                               .kind = item->kind,
	                               .what = LT_FORWARD_MANIFEST,
	                               .slot = (unsigned)(s - fw->streams),
	                               .gen = s->gen};
	memcpy(it->doc_id, s->doc_id, sizeof it->doc_id);
	memcpy(it->dest, s->dest, sizeof it->dest);
	memcpy(it->topic, s->topic, sizeof it->topic);
	lt_err perr;
	if (lt_kafka_produce(fw->rk, topic, fw->cfg->agency_code, strlen(fw->cfg->agency_code),
	                     env_buf, env_len, it, &perr) != 0) {
		if (perr.code == LT_EFULL) {
			free(it);
			lt_forward_stream_drop(fw, s);
			ret = 2;
			goto out;
		}
		snprintf(it->reason, sizeof it->reason, "%s", perr.msg);
		fw->results[fw->n_results++] = (struct lt_forward_result){
		    .item = it, .err = RD_KAFKA_RESP_ERR__FAIL, .partition = -1, .offset = -1};
	}
	s->in_flight++;
out:
	if (env != NULL)
		lienthong__envelope__free_unpacked(env, NULL);
	if (pr != NULL)
		lienthong__store__send_progress__free_unpacked(pr, NULL);
	return ret;
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
		if (it->what != LT_FORWARD_RECORD) {
			if (lt_forward_stream_report(fw, t, r, now_ms, err) != 0)
				goto out;
			continue;
		}
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
	for (size_t i = 0; i < LT_FORWARD_STREAMS; i++) {
		struct lt_forward_stream *s = &fw->streams[i];
		if (s->gen != 0 && (s->dirty || s->broken[0] != '\0') &&
		    lt_forward_stream_record(t, s, now_ms, err) != 0)
			goto out;
	}
	rc = lt_txn_commit(t, err);
	t = NULL;
out:
	lt_txn_abort(t);
	fw->pending = 0;
	/* Outcomes not recorded leave the records queued: they are sent again. */
	if (rc != 0)
		fw->rescan = 1;
	for (size_t i = 0; i < fw->n_results; i++) {
		struct lt_forward_item *it = fw->results[i].item;
		struct lt_forward_stream *s;
		if (it->what == LT_FORWARD_RECORD)
			lt_forward_inflight_del(fw, it->seq);
		else if ((s = lt_forward_stream_count(fw, it)) != NULL)
			s->failed = 1; /* not recorded: it goes on from its recorded progress */
		if (it->rec != NULL)
			lt_forward_buf_back(fw, it->rec);
		free(it);
	}
	fw->n_results = 0;
	/* Finished streams, and failed ones once quiet (sent again from their progress). */
	for (size_t i = 0; i < LT_FORWARD_STREAMS; i++) {
		struct lt_forward_stream *s = &fw->streams[i];
		if (s->gen != 0 && s->refused && rc == 0)
			fw->held[fw->n_held++ % LT_FORWARD_HELD] = s->seq;
		if (s->gen != 0 && s->in_flight == 0 &&
		    (s->finished || s->failed || s->refused || rc != 0))
			lt_forward_stream_drop(fw, s);
	}
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
	if (lt_forward_inflight_has(fw, seq) || lt_forward_stream_find(fw, seq) != NULL ||
	    lt_forward_held(fw, seq)) {
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
		int st = lt_forward_stream_open(fw, sc->t, seq, item, topic, payload, plen, err);
		if (st != 0) {
			if (st == 1 || st == 3)
				fw->cursor = seq;
			sc->produced += st == 1;
			ret = st < 0 ? -1 : st == 2 ? 1 : 0;
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
	lt_forward_buf_reclaim(fw);
	/* Anything still unreported died with the handle and is sent again. */
	memset(fw->inflight, 0, fw->inflight_cap * sizeof *fw->inflight);
	fw->in_flight = 0;
	for (size_t i = 0; i < LT_FORWARD_STREAMS; i++)
		lt_forward_stream_drop(fw, &fw->streams[i]);
	fw->rescan = 1;
	fw->rk = lt_kafka_producer_new(fw->cfg, lt_forward_dr, fw, err);
	if (fw->rk == NULL)
		lt_log_fatal("cannot recreate the Kafka producer: %s", err->msg);
	if (fw->on_report != NULL)
		lt_kafka_on_report(fw->rk, lt_forward_report_cb, fw);
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
	int rc = 0;
	if (now_ms >= fw->next_scan_ms) {
		fw->next_scan_ms = now_ms + fw->cfg->poll_interval_ms;
		rc = lt_forward_scan(fw, err);
	}
	if (rc == 0)
		lt_forward_pump(fw, now_ms);
	/* Produce failures found by the scan are recorded like delivery reports. */
	if (rc == 0 && (fw->n_results > 0 || fw->pending))
		rc = lt_forward_apply(fw, now_ms, err);
	int streaming = 0;
	for (size_t i = 0; i < LT_FORWARD_STREAMS; i++)
		streaming |= fw->streams[i].gen != 0;
	atomic_store(&fw->streaming, streaming);
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
	lt_forward_buf_reclaim(fw);
	while (fw->n_spare > 0)
		free(fw->spare[--fw->n_spare]);
	for (size_t i = 0; i < LT_FORWARD_STREAMS; i++)
		lt_forward_stream_drop(fw, &fw->streams[i]);
	free(fw->inflight);
	free(fw->dests);
	free(fw->results);
	free(fw->buf);
	free(fw);
}
