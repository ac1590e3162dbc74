#include "lt_receive.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../broker-adapter/lt_kafka.h"
#include "../broker-adapter/lt_reaper.h"
#include "../clock/lt_backoff.h"
#include "../clock/lt_clock.h"
#include "../log/lt_log.h"
#include "../monitor/lt_counters.h"
#include "lt_deliver.h"
#include "lt_inbox.h"
#include "lt_receipts.h"
#include "lt_watch.h"
#include "lt_xfer.h"

#define LT_RECEIVE_BATCH 256             /* records handled per LMDB commit, at most */
#define LT_RECEIVE_BATCH_BYTES (4 << 20) /* ... and bytes of them (chunks are large) */
#define LT_RECEIVE_CLOSE_MS 5000         /* longest wait for a consumer to close */
#define LT_RECEIVE_DESTROY_MS 30000      /* a replaced consumer not destroyed by then: stuck */
#define LT_RECEIVE_VERIFY_SPLIT 8        /* records from which a batch is verified on 2 threads */

/* Restarting a fetch stopped at a full queue (lt_receive_refill). */
#define LT_RECEIVE_REFILL_BYTES (1 << 20) /* a batch this large may have emptied the queue... */
#define LT_RECEIVE_REFILL_BELOW (8 << 20) /* ...when less than this is left: fetch at once */
#define LT_RECEIVE_REFILL_MS 1000         /* longest wait for that request */
#define LT_RECEIVE_REFILL_OFF_MS 10000    /* after it failed, not asked for this long */

/*
 * A partition whose record could not be handled yet (target down, store
 * error): the consumer is rewound to that record and the partition paused
 * until retry_at; then the record comes again. Records after it in the
 * partition wait, so offsets are only ever stored in order.
 */
struct lt_blocked {
	char topic[LT_TOPIC_MAX + 1];
	int32_t partition;
	int64_t offset;
	int64_t failing_since_ms; /* first failure of this record */
	struct lt_backoff backoff;
	int64_t retry_at_ms;
	int paused; /* 0 once resumed, until the record comes again */
	int fresh;  /* blocked in the current batch: rewind and pause after it */
};

struct lt_receive {
	const struct lt_recv *recv;
	const struct lt_config *cfg;
	rd_kafka_t *consumer;
	pthread_mutex_t wake_lock; /* guards queue against lt_receive_wake of other threads */
	rd_kafka_queue_t *queue;   /* the consumer's queue, to yield; NULL while replaced */
	char inbox_topic[LT_TOPIC_MAX + 1];
	char receipt_topic[LT_TOPIC_MAX + 1];
	struct lt_blocked *blocked;
	size_t n_blocked, cap_blocked;
	struct lt_watch watch; /* progress */
	struct lt_receive_state state;
	struct lt_reaper reaper;     /* replaced consumers being destroyed, on helper threads */
	int64_t refill_off_until_ms; /* lt_receive_refill failed: not tried before */
	int refill_due;              /* large records taken since the last restart (refill)... */
	char refill_topic[LT_TOPIC_MAX + 1]; /* ...the last of them from this partition */
	int32_t refill_partition;
	struct lt_receive_refiller { /* lt_kafka_fetch_now on a thread of its own */
		pthread_t thread;
		int started;      /* created, not joined yet */
		atomic_int done;  /* it returned */
		atomic_int again; /* asked again while it ran: it asks once more */
		rd_kafka_t *consumer;
		char topic[LT_TOPIC_MAX + 1];
		int32_t partition;
		int rc;
		lt_err err;
	} refiller;
	struct lt_inbox_item items[LT_RECEIVE_BATCH]; /* the batch's inbox records, checked */
};

/* Forgets blocked partitions taken away: their new owner reads them from the commit. */
static void lt_receive_revoke(void *ctx, const rd_kafka_topic_partition_list_t *parts)
{
	struct lt_receive *r = ctx;
	size_t keep = 0;
	for (size_t i = 0; i < r->n_blocked; i++) {
		struct lt_blocked *b = &r->blocked[i];
		if (rd_kafka_topic_partition_list_find(parts, b->topic, b->partition) == NULL)
			r->blocked[keep++] = *b;
	}
	r->n_blocked = keep;
}

static struct lt_blocked *lt_receive_blocked(struct lt_receive *r, const char *topic,
                                             int32_t partition);

/* Partitions held back on purpose (waiting for a retry) do not count as lag. */
static int lt_receive_held(void *ctx, const char *topic, int32_t partition)
{
	return lt_receive_blocked(ctx, topic, partition) != NULL;
}

static void lt_receive_stats(void *ctx, int member, int64_t lag)
{
	struct lt_receive *r = ctx;
	lt_watch_observe(&r->watch, member, lag, lt_now_ms());
}

static int lt_receive_consumer_new(struct lt_receive *r, lt_err *err)
{
	const char *topics[] = {r->inbox_topic, r->receipt_topic};
	const struct lt_kafka_consumer_cbs cbs = {.revoke = lt_receive_revoke,
	                                          .held = lt_receive_held,
	                                          .stats = lt_receive_stats,
	                                          .ctx = r};
	r->consumer = lt_kafka_consumer_new(r->cfg, topics, 2, &cbs, err);
	if (r->consumer == NULL)
		return -1;
	pthread_mutex_lock(&r->wake_lock);
	r->queue = rd_kafka_queue_get_consumer(r->consumer);
	pthread_mutex_unlock(&r->wake_lock);
	return 0;
}

static void *lt_receive_refill_run(void *arg)
{
	struct lt_receive_refiller *f = arg;
	do
		f->rc = lt_kafka_fetch_now(f->consumer, f->topic, f->partition,
		                           LT_RECEIVE_REFILL_MS, &f->err);
	while (f->rc == 0 && atomic_exchange(&f->again, 0));
	atomic_store(&f->done, 1);
	return NULL;
}

/* Waits for the refill thread (at most LT_RECEIVE_REFILL_MS) and takes its outcome. */
static void lt_receive_refill_join(struct lt_receive *r, int64_t now_ms)
{
	struct lt_receive_refiller *f = &r->refiller;
	if (!f->started)
		return;
	pthread_join(f->thread, NULL);
	f->started = 0;
	if (f->rc != 0) {
		lt_log_debug("receiving: %s; not asked again for %d s", f->err.msg,
		             LT_RECEIVE_REFILL_OFF_MS / 1000);
		r->refill_off_until_ms = now_ms + LT_RECEIVE_REFILL_OFF_MS;
	}
}

/* A consumer handed to the reaper: closed, then destroyed, on the reaper's thread. */
static void lt_receive_consumer_destroy(void *consumer)
{
	lt_kafka_destroy(consumer, LT_RECEIVE_CLOSE_MS);
}

/*
 * Hands the consumer to the reaper: lt_receive_wake no longer reaches it,
 * its callbacks no longer reach this receiver (it is closed on another
 * thread; the caller forgets the blocked partitions). Without a reaper slot
 * or thread it is destroyed here, when ending (end), or the agent exits.
 */
static void lt_receive_consumer_drop(struct lt_receive *r, int64_t now_ms, int end)
{
	lt_err err;
	lt_receive_refill_join(r, now_ms); /* it may be using this consumer */
	r->refill_due = 0;
	pthread_mutex_lock(&r->wake_lock);
	if (r->queue != NULL)
		rd_kafka_queue_destroy(r->queue);
	r->queue = NULL;
	pthread_mutex_unlock(&r->wake_lock);
	lt_kafka_consumer_forget(r->consumer);
	if (lt_reaper_add(&r->reaper, r->consumer, lt_mono_ms(), &err) != 0) {
		if (!end)
			lt_log_fatal(
			    "receiving: %s; exiting so that the agent is restarted without "
			    "them (nothing accepted is lost, nothing is delivered twice)",
			    err.msg);
		lt_receive_consumer_destroy(r->consumer);
	}
	r->consumer = NULL;
}

void lt_receive_wake(struct lt_receive *r)
{
	pthread_mutex_lock(&r->wake_lock);
	if (r->queue != NULL)
		rd_kafka_queue_yield(r->queue);
	pthread_mutex_unlock(&r->wake_lock);
}

struct lt_receive *lt_receive_new(const struct lt_recv *recv, const char *inbox_topic,
                                  const char *receipt_topic, int64_t now_ms, lt_err *err)
{
	struct lt_receive *r = calloc(1, sizeof *r);
	if (r == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		return NULL;
	}
	r->recv = recv;
	r->cfg = recv->cfg;
	snprintf(r->inbox_topic, sizeof r->inbox_topic, "%s", inbox_topic);
	snprintf(r->receipt_topic, sizeof r->receipt_topic, "%s", receipt_topic);
	lt_watch_init(&r->watch, r->cfg->receive_stall_s * 1000, now_ms);
	lt_reaper_init(&r->reaper, "Kafka consumer", lt_receive_consumer_destroy,
	               LT_RECEIVE_DESTROY_MS);
	r->state.since_ms = now_ms;
	pthread_mutex_init(&r->wake_lock, NULL);
	if (lt_receive_consumer_new(r, err) != 0) {
		pthread_mutex_destroy(&r->wake_lock);
		free(r);
		return NULL;
	}
	return r;
}

/*
 * Replaces the consumer (dead after a fatal error, or stalled). The new one
 * resumes from the committed offsets: records read again are found in the
 * inbox records and not delivered twice. Blocked partitions are forgotten:
 * their records come again. A consumer from the configuration that made the
 * first one can only fail for want of memory or threads: then the agent exits
 * (its supervisor restarts it) rather than run on without receiving. The old
 * one is destroyed on a helper thread (lt_reaper): a destroy that hangs does
 * not stop the main loop; one stuck longer than LT_RECEIVE_DESTROY_MS is
 * logged and counted, and the agent exits when LT_REAPER_MAX are pending.
 */
static void lt_receive_replace(struct lt_receive *r, int64_t now_ms)
{
	lt_err err;
	lt_receive_consumer_drop(r, now_ms, 0);
	r->n_blocked = 0;
	if (lt_receive_consumer_new(r, &err) != 0)
		lt_log_fatal("cannot create a new Kafka consumer: %s", err.msg);
	lt_watch_replaced(&r->watch, now_ms);
	r->state.replaced++;
}

int lt_receive_watch(struct lt_receive *r, int64_t now_ms)
{
	struct lt_receive_state *st = &r->state;
	char since[LT_TIME_TEXT];
	lt_err err;
	st->stats_ms = r->watch.last_stats_ms;
	st->alone_since_ms = r->watch.alone_since_ms;
	st->lag = r->watch.lag;
	st->blocked = (unsigned)r->n_blocked;
	st->blocked_since_ms = 0;
	for (size_t i = 0; i < r->n_blocked; i++) {
		if (st->blocked_since_ms == 0 ||
		    r->blocked[i].failing_since_ms < st->blocked_since_ms)
			st->blocked_since_ms = r->blocked[i].failing_since_ms;
	}
	if (r->n_blocked == 0)
		st->blocked_reason[0] = '\0';
	/* A replaced consumer not destroyed in time? */
	int stuck = lt_reaper_tick(&r->reaper, lt_mono_ms());
	st->stuck = r->reaper.stuck;
	if (lt_kafka_fatal(r->consumer, &err)) {
		lt_log_error(
		    "receiving: %s; replacing the Kafka consumer: the new one resumes from "
		    "the committed offsets (records read again are not delivered twice)",
		    err.msg);
		lt_receive_replace(r, now_ms);
		lt_log_info("receiving: Kafka consumer replaced (%u time(s) since start)",
		            st->replaced);
		return 1;
	}
	switch (lt_watch_check(&r->watch, now_ms)) {
	case LT_WATCH_REPLACE:
		lt_time_format(r->watch.stalled_since_ms, since, sizeof since);
		lt_log_warn("receiving: stalled since %s: %s; replacing the Kafka consumer "
		            "(replacement %u of this stall; again in %lld s if still stalled)",
		            since, r->watch.why, r->watch.replacements + 1,
		            (long long)(r->watch.backoff.next_ms / 1000));
		lt_receive_replace(r, now_ms);
		st->stalled = 1;
		st->since_ms = r->watch.stalled_since_ms;
		snprintf(st->reason, sizeof st->reason,
		         "%s; Kafka consumer replaced %u time(s), next in %lld s if still stalled",
		         r->watch.why, r->watch.replacements,
		         (long long)((r->watch.next_replace_ms - now_ms) / 1000));
		return 1;
	case LT_WATCH_RECOVERED:
		lt_log_info("receiving: moving again after %lld s stalled",
		            (long long)((now_ms - st->since_ms) / 1000));
		st->stalled = 0;
		st->since_ms = now_ms;
		st->reason[0] = '\0';
		return 1;
	case LT_WATCH_NONE:
		break;
	}
	return stuck;
}

const struct lt_receive_state *lt_receive_state(const struct lt_receive *r)
{
	return &r->state;
}

void lt_receive_free(struct lt_receive *r)
{
	if (r == NULL)
		return;
	lt_receive_consumer_drop(r, lt_now_ms(), 1);
	lt_reaper_finish(&r->reaper, LT_RECEIVE_CLOSE_MS + 5000);
	pthread_mutex_destroy(&r->wake_lock);
	free(r->blocked);
	free(r);
}

static struct lt_blocked *lt_receive_blocked(struct lt_receive *r, const char *topic,
                                             int32_t partition)
{
	for (size_t i = 0; i < r->n_blocked; i++) {
		if (r->blocked[i].partition == partition && strcmp(r->blocked[i].topic, topic) == 0)
			return &r->blocked[i];
	}
	return NULL;
}

static void lt_receive_unblock(struct lt_receive *r, struct lt_blocked *b)
{
	*b = r->blocked[--r->n_blocked];
}

/*
 * The record at offset failed: rewind and pause its partition after this
 * batch. Within one batch the earliest offset of a partition wins, so no
 * record before the rewind point is skipped.
 */
static void lt_receive_block(struct lt_receive *r, const char *topic, int32_t partition,
                             int64_t offset, int64_t now_ms, const char *why)
{
	struct lt_blocked *b = lt_receive_blocked(r, topic, partition);
	if (b != NULL && b->fresh) {
		if (offset < b->offset)
			b->offset = offset;
		return;
	}
	if (b == NULL || b->offset != offset) {
		if (b == NULL) {
			if (r->n_blocked == r->cap_blocked) {
				size_t cap = r->cap_blocked ? r->cap_blocked * 2 : 8;
				struct lt_blocked *nb = realloc(r->blocked, cap * sizeof *nb);
				if (nb == NULL)
					lt_log_fatal("out of memory blocking a partition");
				r->blocked = nb;
				r->cap_blocked = cap;
			}
			b = &r->blocked[r->n_blocked++];
		}
		*b = (struct lt_blocked){
		    .partition = partition, .offset = offset, .failing_since_ms = now_ms};
		lt_backoff_init(&b->backoff, r->cfg->retry_backoff_min_ms,
		                r->cfg->retry_backoff_max_ms);
		snprintf(b->topic, sizeof b->topic, "%s", topic);
	}
	int64_t wait = lt_backoff_next(&b->backoff);
	b->retry_at_ms = now_ms + wait;
	lt_counter_add(LT_C_RETRY_RECEIVE, 1);
	snprintf(r->state.blocked_reason, sizeof r->state.blocked_reason, "%s", why);
	b->paused = 1;
	b->fresh = 1;
	lt_log_warn("%s [%d] @ %lld: %s; retrying in %.1f s, partition paused", topic,
	            (int)partition, (long long)offset, why, (double)wait / 1000.0);
}

/*
 * Whether a record waits behind a blocked one of its partition (it comes
 * again after the rewind); *failing_since is when the record itself began to
 * fail, when it is the blocked one.
 */
static int lt_receive_waits(struct lt_receive *r, const rd_kafka_message_t *m,
                            int64_t *failing_since)
{
	struct lt_blocked *b = lt_receive_blocked(r, rd_kafka_topic_name(m->rkt), m->partition);
	*failing_since = 0;
	if (b == NULL)
		return 0;
	if (b->paused || b->fresh || m->offset > b->offset)
		return 1;
	if (m->offset == b->offset)
		*failing_since = b->failing_since_ms;
	return 0;
}

static struct lt_record lt_receive_record(const rd_kafka_message_t *m)
{
	return (struct lt_record){.topic = rd_kafka_topic_name(m->rkt),
	                          .partition = m->partition,
	                          .offset = m->offset,
	                          .value = m->payload,
	                          .len = m->len};
}

/*
 * Records one record's outcome in a nested transaction of t; 0 handled, -1
 * blocked (or waiting behind a blocked one). it: the inbox item checked
 * (and delivered) outside the transaction; NULL for a receipt.
 */
static int lt_receive_handle(struct lt_receive *r, struct lt_txn *t, const rd_kafka_message_t *m,
                             const struct lt_inbox_item *it, int64_t now_ms)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	int64_t failing_since;
	if (lt_receive_waits(r, m, &failing_since))
		return -1;
	struct lt_blocked *b = lt_receive_blocked(r, topic, m->partition);
	struct lt_record rec = lt_receive_record(m);
	struct lt_txn *child = NULL;
	lt_err err;
	int rc = 0;
	if (it != NULL && !it->checked)
		/* It waited when the batch was checked; it comes again after a rewind. */
		rc = lt_err_set(&err, LT_EAGAIN, "not checked with its batch");
	else
		rc = lt_txn_begin_nested(t, &child, &err);
	if (rc == 0) {
		struct lt_recv_receipts *rr = r->recv->receipts;
		size_t mark = rr != NULL ? lt_recv_receipts_mark(rr) : 0;
		rc = it != NULL
		         ? lt_inbox_handle(r->recv, child, &rec, it, now_ms, failing_since, &err)
		         : lt_receipts_handle(r->recv, child, &rec, now_ms, &err);
		int committed = 0;
		if (rc < 0) {
			lt_txn_abort(child);
		} else {
			/* 1, deferred: its receipt is kept and the record comes again. */
			lt_err why = err;
			int deferred = rc == 1;
			rc = lt_txn_commit(child, &err);
			committed = rc == 0;
			if (rc == 0 && deferred) {
				err = why;
				rc = -1;
			}
		}
		if (!committed && rr != NULL) /* its receipt went with the nested transaction */
			lt_recv_receipts_drop(rr, mark);
	}
	if (rc != 0) {
		lt_receive_block(r, topic, m->partition, m->offset, now_ms, err.msg);
		return -1;
	}
	if (b != NULL) {
		lt_log_info("%s [%d] @ %lld handled after retry", topic, (int)m->partition,
		            (long long)m->offset);
		lt_receive_unblock(r, b);
	}
	return 0;
}

/* Rewinds and pauses partitions blocked in this batch; resumes those due. */
static void lt_receive_partitions(struct lt_receive *r, int64_t now_ms)
{
	lt_err err;
	for (size_t i = 0; i < r->n_blocked; i++) {
		struct lt_blocked *b = &r->blocked[i];
		if (b->fresh) {
			b->fresh = 0;
			if (lt_kafka_rewind(r->consumer, b->topic, b->partition, b->offset, &err) !=
			    0)
				lt_log_warn("%s", err.msg);
		} else if (b->paused && now_ms >= b->retry_at_ms) {
			b->paused = 0;
			if (lt_kafka_pause(r->consumer, b->topic, b->partition, 0, &err) != 0)
				lt_log_warn("%s", err.msg);
		}
	}
}

/*
 * Records the outcomes of msgs[from, to) in one LMDB transaction (one fsync),
 * then stores their offsets: a record's offset is stored only after what it
 * changed is durable. Returns how many inbox records it handled.
 */
static size_t lt_receive_record_range(struct lt_receive *r, rd_kafka_message_t **msgs, size_t from,
                                      size_t to, int64_t now_ms)
{
	int done[LT_RECEIVE_BATCH] = {0};
	size_t handled_inbox = 0;
	struct lt_txn *t = NULL;
	lt_err err;
	/* The deliveries checked so far become durable (or fail) before they are recorded, */
	lt_target_flush(r->recv->target);
	now_ms = lt_now_ms(); /* with the time they were delivered at */
	if (from == to)
		return 0;
	if (lt_txn_begin(r->recv->store, 1, &t, &err) != 0) {
		for (size_t i = from; i < to; i++)
			lt_receive_block(r, rd_kafka_topic_name(msgs[i]->rkt), msgs[i]->partition,
			                 msgs[i]->offset, now_ms, err.msg);
		return 0;
	}
	struct lt_recv_receipts *rr = r->recv->receipts;
	if (rr != NULL)
		lt_recv_receipts_begin(rr);
	for (size_t i = from; i < to; i++) {
		int inbox = strcmp(rd_kafka_topic_name(msgs[i]->rkt), r->inbox_topic) == 0;
		done[i] =
		    lt_receive_handle(r, t, msgs[i], inbox ? &r->items[i] : NULL, now_ms) == 0;
		handled_inbox += done[i] && inbox;
	}
	/* The range's receipts, one signature for all, go into the same commit. */
	int rc =
	    rr != NULL ? lt_recv_receipts_flush(rr, t, r->recv->signer, r->recv->cfg, &err) : 0;
	/* Chunks written for this range reach the disk before the commit that records them. */
	if (rc == 0)
		rc = lt_xfer_sync(r->recv->xfer, &err);
	if (rc != 0)
		lt_txn_abort(t);
	else
		rc = lt_txn_commit(t, &err);
	if (rc != 0) {
		/* Nothing of the range is durable: each partition goes back to its first record. */
		for (size_t i = from; i < to; i++) {
			if (done[i])
				lt_receive_block(r, rd_kafka_topic_name(msgs[i]->rkt),
				                 msgs[i]->partition, msgs[i]->offset, now_ms,
				                 err.msg);
			done[i] = 0;
		}
		handled_inbox = 0;
	}
	for (size_t i = from; i < to; i++) {
		if (!done[i])
			continue;
		if (lt_kafka_consumer_done(r->consumer, msgs[i], &err) != 0)
			lt_log_warn("%s (the record is read again after a restart and not "
			            "delivered twice)",
			            err.msg);
		lt_watch_progress(&r->watch, now_ms);
		r->state.last_handled_ms = now_ms;
	}
	return handled_inbox;
}

/* Records of a batch verified by one thread: every step-th from first. */
struct lt_receive_verifier {
	struct lt_receive *r;
	rd_kafka_message_t **msgs;
	size_t n, first, step;
};

static void *lt_receive_verify_some(void *arg)
{
	const struct lt_receive_verifier *v = arg;
	for (size_t i = v->first; i < v->n; i += v->step) {
		struct lt_record rec = lt_receive_record(v->msgs[i]);
		if (strcmp(rec.topic, v->r->inbox_topic) == 0)
			lt_inbox_verify(v->r->recv, &rec, &v->r->items[i]);
		else
			v->r->items[i] = (struct lt_inbox_item){0};
	}
	return NULL;
}

/*
 * Decodes and verifies the inbox records of a batch (lt_inbox_verify) on
 * two threads, this one and a helper that lives for the batch: the
 * signature checks of a full batch take both cores. A small batch, or no
 * helper thread to be had, is verified here alone.
 */
static void lt_receive_verify(struct lt_receive *r, rd_kafka_message_t **msgs, size_t n)
{
	struct lt_receive_verifier mine = {r, msgs, n, 0, 1}, other = {r, msgs, n, 1, 2};
	pthread_t helper;
	if (n >= LT_RECEIVE_VERIFY_SPLIT &&
	    pthread_create(&helper, NULL, lt_receive_verify_some, &other) == 0) {
		mine.step = 2;
		lt_receive_verify_some(&mine);
		pthread_join(helper, NULL);
		return;
	}
	lt_receive_verify_some(&mine);
}

/*
 * After a batch of large records (document chunks) that left little in the
 * consumer's queue: librdkafka stops fetching when the queue is full
 * (queued.max.messages.kbytes) and 2.0 then looks again only after a second,
 * so a receiver slower than the broker would wait most of each second. The
 * fetch is restarted at once (lt_kafka_fetch_now), while this batch is
 * handled: the queue, and the memory it takes, stay as configured.
 *
 * Whether the fetcher stopped cannot be asked, and guessing it from the
 * queue's length missed: a fetch in flight fills the queue just after a
 * restart, and the receiver then idled for 0.8-1 s, twice in a run of 64
 * documents of 8 MiB. So every batch of large records that leaves less than
 * LT_RECEIVE_REFILL_BELOW queued asks for a restart, and so does an empty
 * poll after large records not yet followed by one (refill_due). It runs on
 * a thread of its own, one at a time: lt_kafka_fetch_now waits for a
 * broker's answer, which comes after a fetch waiting there for data (up to
 * 500 ms); waited for here, it stalled a receiver that was keeping up (a
 * document of 8 MiB at a tenth of full load: 600 ms instead of 100). Asked
 * while it runs, the thread asks once more (again) before it ends.
 */
static void lt_receive_refill(struct lt_receive *r, rd_kafka_message_t **msgs, size_t n,
                              size_t bytes, int64_t now_ms)
{
	struct lt_receive_refiller *f = &r->refiller;
	if (f->started && atomic_load(&f->done))
		lt_receive_refill_join(r, now_ms);
	if (n > 0 && bytes >= LT_RECEIVE_REFILL_BYTES) {
		r->refill_due = 1;
		snprintf(r->refill_topic, sizeof r->refill_topic, "%s",
		         rd_kafka_topic_name(msgs[n - 1]->rkt));
		r->refill_partition = msgs[n - 1]->partition;
		if ((size_t)rd_kafka_queue_length(r->queue) * (bytes / n) >=
		    LT_RECEIVE_REFILL_BELOW)
			return; /* enough queued for now: asked after a later batch */
	} else if (n > 0 || !r->refill_due) {
		return;
	}
	if (now_ms < r->refill_off_until_ms)
		return;
	if (f->started) {
		atomic_store(&f->again, 1);
		return;
	}
	f->consumer = r->consumer;
	memcpy(f->topic, r->refill_topic, sizeof f->topic);
	f->partition = r->refill_partition;
	atomic_store(&f->done, 0);
	atomic_store(&f->again, 0);
	if (pthread_create(&f->thread, NULL, lt_receive_refill_run, f) != 0)
		return; /* no thread to be had: librdkafka looks again within a second */
	f->started = 1;
	r->refill_due = 0;
}

/*
 * Takes up to LT_RECEIVE_BATCH records. The inbox records are verified
 * (lt_receive_verify: two threads), then each is delivered outside any LMDB
 * write transaction (lt_inbox_deliver); outcomes are
 * recorded in one transaction for the batch, or at once after a delivery
 * that failed (the partition must stop there) or went to a target that does
 * not itself recognise a second delivery (a crash then repeats at most the
 * one in flight). A batch stops at LT_RECEIVE_BATCH_BYTES (chunk records).
 */
size_t lt_receive_tick(struct lt_receive *r, int64_t now_ms)
{
	rd_kafka_message_t *msgs[LT_RECEIVE_BATCH];
	size_t n = 0, from = 0, handled = 0, bytes = 0;
	int remembers = lt_target_remembers(r->recv->target);
	lt_err err;

	while (n < LT_RECEIVE_BATCH && bytes < LT_RECEIVE_BATCH_BYTES) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(r->consumer, n == 0 ? 100 : 0);
		if (m == NULL)
			break;
		if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				lt_log(m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
				           ? LT_LOG_DEBUG
				           : LT_LOG_WARN,
				       "kafka consumer: %s", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		bytes += m->len;
		msgs[n++] = m;
	}
	if (n > 0)
		now_ms = lt_now_ms(); /* the wait above may have taken 100 ms: times are of now */
	lt_receive_refill(r, msgs, n, bytes, now_ms);
	lt_receive_verify(r, msgs, n);
	for (size_t i = 0; i < n; i++) {
		struct lt_inbox_item *it = &r->items[i];
		struct lt_record rec = lt_receive_record(msgs[i]);
		int64_t failing_since;
		if (strcmp(rec.topic, r->inbox_topic) != 0 ||
		    lt_receive_waits(r, msgs[i], &failing_since))
			continue;
		if (lt_inbox_deliver(r->recv, now_ms, it, &err) != 0) {
			lt_receive_block(r, rec.topic, rec.partition, rec.offset, now_ms, err.msg);
			continue;
		}
		it->checked = 1;
		/*
		 * Recorded at once: a failed delivery or a document that must wait for a
		 * current CRL (its partition stops here), a retried one (it unblocks the
		 * records behind it in this batch), one delivered to a target that does
		 * not recognise a second delivery.
		 */
		int waits = !it->verified && it->why.code == LT_EAGAIN;
		/* A manifest is recorded at once: its chunks in the batch find it. */
		if (waits || it->manifest ||
		    (it->attempted && (!it->delivered || !remembers || failing_since != 0))) {
			handled += lt_receive_record_range(r, msgs, from, i + 1, now_ms);
			from = i + 1;
		}
	}
	handled += lt_receive_record_range(r, msgs, from, n, now_ms);
	for (size_t i = 0; i < n; i++) {
		lt_inbox_item_free(&r->items[i]);
		rd_kafka_message_destroy(msgs[i]);
	}
	lt_receive_partitions(r, now_ms);
	return handled;
}
