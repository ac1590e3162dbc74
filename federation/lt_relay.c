#include "lt_relay.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../broker-adapter/lt_kafka.h"
#include "../broker-adapter/lt_reaper.h"
#include "../clock/lt_backoff.h"
#include "../clock/lt_clock.h"
#include "../consumers/lt_watch.h"
#include "../log/lt_log.h"
#include "lt_dir.h"
#include "lt_dirfollow.h"
#include "lt_hop.h"

#define LT_RELAY_BATCH 256
#define LT_RELAY_BATCH_BYTES (4 << 20)
#define LT_RELAY_FLIGHT_BYTES (8 << 20)
#define LT_RELAY_KEY 9            /* side (1 byte) || sequence (8 bytes big-endian) */
#define LT_RELAY_CLOSE_MS 5000    /* closing a replaced consumer (commit, leave) */
#define LT_RELAY_DESTROY_MS 30000 /* a replaced consumer not destroyed by then is stuck */
#define LT_RELAY_HEALTH_MS 10000  /* the health file is written at least this often */
#define LT_RELAY_MAX_HOPS 8       /* a document with more hops is in a loop */

struct lt_relay;

/* A list of names (topics subscribed, topics known to exist). */
struct lt_relay_names {
	char **v;
	size_t n, cap;
};

struct lt_relay_side {
	struct lt_relay *r;
	int idx;
	struct lt_config cfg; /* this cluster's settings */
	rd_kafka_t *consumer; /* records to carry to the other side */
	rd_kafka_t *producer; /* records for this side */
	struct lt_dirfollow *dir;
	struct lt_relay_names subs, made;
	size_t wanted; /* topics the directory says this side's consumer must read */
	rd_kafka_resp_err_t last_read_err; /* the last error the consumer reported */
	size_t batch_max; /* records read in one transaction: halved while the store is full */
	int64_t store_failing_ms; /* storing what its consumer read fails since (0: works) */
	char store_why[256];
	/* producing into this side */
	uint8_t cursor[LT_RELAY_KEY];
	size_t in_flight;
	int64_t in_flight_bytes;
	int failing;
	int64_t retry_ms;
	int64_t failing_ms;            /* writing has failed since (0: it works) */
	char failing_why[256];         /* the last refusal, for the health file */
	struct lt_backoff backoff;     /* between attempts after a failure */
	uint8_t (*acks)[LT_RELAY_KEY]; /* acknowledged, to delete */
	size_t n_acks, cap_acks;
	uint64_t queued; /* records in relayq for this side */
	int paused;      /* consuming this side is paused: the other side's queue is full */
	/* watching the consumer (lt_watch) and the producer */
	struct lt_watch watch;
	int stalled;
	int64_t since_ms;  /* stalled since, or fine since */
	unsigned replaced; /* consumers replaced since start */
	unsigned renewed;  /* producers recreated after a fatal error since start */
};

struct lt_relay {
	const struct lt_config *cfg;
	const struct lt_signer *signer;
	const struct lt_trust *trust;
	struct lt_store *store;
	struct lt_relay_side side[2];
	int route_dirty;
	struct lt_reaper reaper; /* replaced consumers being destroyed, on helper threads */
	int health_dirty;        /* the health file is to be written again */
	int64_t health_ms;       /* the health file was last written */
};

/* What a message in flight is, for its delivery report. */
struct lt_relay_msg {
	uint8_t key[LT_RELAY_KEY];
	size_t bytes;
};

static int lt_relay_names_has(const struct lt_relay_names *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

static int lt_relay_names_add(struct lt_relay_names *l, const char *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **v = realloc(l->v, cap * sizeof *v);
		if (v == NULL)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	if ((l->v[l->n] = strdup(s)) == NULL)
		return -1;
	l->n++;
	return 0;
}

static void lt_relay_names_clear(struct lt_relay_names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

/* p is one of the comma-separated names of list. */
static int lt_relay_listed(const char *list, const char *p)
{
	size_t n = strlen(p);
	for (const char *s = list; *s != '\0';) {
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		while (len > 0 && *s == ' ')
			s++, len--;
		while (len > 0 && s[len - 1] == ' ')
			len--;
		if (len == n && strncmp(s, p, n) == 0)
			return 1;
		if (e == NULL)
			break;
		s = e + 1;
	}
	return 0;
}

int lt_relay_reaches(const struct lt_config *via, const struct lt_config *other, const char *p)
{
	if (strcmp(p, via->platform) == 0)
		return 1;
	if (strcmp(p, other->platform) == 0 || lt_relay_listed(other->routes, p))
		return 0;
	return lt_relay_listed(via->routes, p) || strcmp(via->routes, "*") == 0;
}

/* Whether the agency of entry e is reached through side via (not on other's platform). */
static int lt_relay_behind(const Lienthong__DirectoryEntry *e, const struct lt_relay_side *via,
                           const struct lt_relay_side *other)
{
	return !e->withdrawn && strcmp(e->platform, other->cfg.platform) != 0 &&
	       lt_relay_reaches(&via->cfg, &other->cfg, e->platform);
}

static void lt_relay_key(int side, uint64_t seq, uint8_t key[LT_RELAY_KEY])
{
	key[0] = (uint8_t)side;
	lt_seq_key(seq, key + 1);
}

/* Appends one record for side `to` to relayq in t. */
static int lt_relay_put(struct lt_relay *r, struct lt_txn *t, int to, const char *topic,
                        const void *key, size_t klen, const void *val, size_t vlen,
                        const char *platform, int64_t now_ms, lt_err *err)
{
	Lienthong__Store__RelayItem it = LIENTHONG__STORE__RELAY_ITEM__INIT;
	uint8_t k[LT_RELAY_KEY];
	uint64_t seq;
	if (lt_txn_next_seq(t, &seq, err) != 0)
		return -1;
	lt_relay_key(to, seq, k);
	it.topic = (char *)topic;
	it.key.data = (uint8_t *)key;
	it.key.len = klen;
	it.value.data = (uint8_t *)val;
	it.value.len = vlen;
	it.enqueued_at_ms = now_ms;
	it.platform = (char *)platform;
	if (lt_txn_put_pb(t, LT_DB_RELAYQ, k, sizeof k, &it.base, err) != 0)
		return -1;
	r->side[to].queued++;
	return 0;
}

/* ---- the directory: followed on both sides, copied across ---- */

static int lt_relay_on_entry(void *ctx, struct lt_txn *t, const Lienthong__DirectoryEntry *e,
                             const uint8_t *raw, size_t len, lt_err *err)
{
	struct lt_relay_side *s = ctx;
	struct lt_relay *r = s->r;
	struct lt_relay_side *o = &r->side[!s->idx];
	char key[2 * LT_CODE_MAX + 2], topic[LT_TOPIC_MAX + 1];
	size_t klen = lt_pair_key(s->cfg.platform, e->code, key, sizeof key);
	if (klen == 0 || lt_dir_keep(t, LT_DB_DIRSEEN, key, klen, e, raw, len, err) < 0)
		return -1;
	int v = lt_dir_keep(t, LT_DB_DIRECTORY, e->code, strlen(e->code), e, raw, len, err);
	if (v < 0)
		return -1;
	if (v == 1) {
		r->route_dirty = 1;
		lt_log_info("directory: %s %s %s (serial %llu, from %s)", e->code,
		            e->withdrawn ? "withdrawn from" : "on platform", e->platform,
		            (unsigned long long)e->serial, s->cfg.platform);
	}
	/* The other side's directory gets it unless it has it (or a newer one) already. */
	klen = lt_pair_key(o->cfg.platform, e->code, key, sizeof key);
	int w = lt_dir_keep(t, LT_DB_DIRSEEN, key, klen, e, raw, len, err);
	if (w < 0)
		return -1;
	if (w == 1) {
		lt_dir_topic(o->cfg.topic_prefix, topic, sizeof topic);
		if (lt_relay_put(r, t, o->idx, topic, e->code, strlen(e->code), raw, len,
		                 o->cfg.platform, lt_now_ms(), err) != 0)
			return -1;
	}
	return v;
}

/* Makes sure topic exists on side s (created once; not allowed: provisioned). */
static int lt_relay_topic(struct lt_relay_side *s, const char *topic, lt_err *err)
{
	char dir[LT_TOPIC_MAX + 1];
	if (lt_relay_names_has(&s->made, topic))
		return 0;
	lt_dir_topic(s->cfg.topic_prefix, dir, sizeof dir);
	int rc = strcmp(topic, dir) == 0
	             ? lt_kafka_create_compacted(s->producer, topic, (int)s->cfg.topic_replication,
	                                         (int)s->cfg.topic_min_insync, 5000, err)
	             : lt_kafka_create_topics(s->producer, &topic, 1, (int)s->cfg.topic_partitions,
	                                      (int)s->cfg.topic_replication,
	                                      (int)s->cfg.topic_min_insync, 5000, err);
	if (rc != 0 && err->code != LT_EINVAL)
		return -1;
	if (lt_relay_names_add(&s->made, topic) != 0)
		return lt_err_set(err, LT_EIO, "out of memory");
	return 0;
}

struct lt_relay_subs_scan {
	struct lt_relay_side *s, *o;
	struct lt_relay_names *want;
};

static int lt_relay_subs_one(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                             lt_err *err)
{
	struct lt_relay_subs_scan *sc = ctx;
	char topic[LT_TOPIC_MAX + 1];
	(void)key, (void)klen;
	Lienthong__DirectoryEntry *e = lienthong__directory_entry__unpack(NULL, vlen, val);
	if (e == NULL)
		return 0;
	int take = lt_relay_behind(e, sc->o, sc->s);
	int rc = 0;
	if (take) {
		lt_config_inbox_topic(&sc->s->cfg, e->code, topic, sizeof topic);
		rc |= lt_relay_names_add(sc->want, topic);
		lt_config_receipt_topic(&sc->s->cfg, e->code, topic, sizeof topic);
		rc |= lt_relay_names_add(sc->want, topic);
	}
	lienthong__directory_entry__free_unpacked(e, NULL);
	return rc != 0 ? (lt_err_set(err, LT_EIO, "out of memory"), -1) : 0;
}

/* Subscribes side s to the topics of the agencies reached through the other side. */
static int lt_relay_subscribe(struct lt_relay *r, struct lt_relay_side *s, lt_err *err)
{
	struct lt_relay_names want = {0};
	struct lt_relay_subs_scan sc = {.s = s, .o = &r->side[!s->idx], .want = &want};
	struct lt_txn *t = NULL;
	int rc = -1;
	if (lt_txn_begin(r->store, 0, &t, err) != 0)
		return -1;
	if (lt_txn_scan(t, LT_DB_DIRECTORY, NULL, 0, lt_relay_subs_one, &sc, err) != 0)
		goto out;
	lt_txn_abort(t);
	t = NULL;
	s->wanted = want.n;
	/* The agents of this side write to these (shadow) topics: they must exist. */
	for (size_t i = 0; i < want.n; i++)
		if (lt_relay_topic(s, want.v[i], err) != 0)
			goto out;
	int same = want.n == s->subs.n;
	for (size_t i = 0; same && i < want.n; i++)
		same = lt_relay_names_has(&s->subs, want.v[i]);
	if (!same) {
		rd_kafka_topic_partition_list_t *list =
		    rd_kafka_topic_partition_list_new((int)(want.n ? want.n : 1));
		for (size_t i = 0; i < want.n; i++)
			rd_kafka_topic_partition_list_add(list, want.v[i], RD_KAFKA_PARTITION_UA);
		rd_kafka_resp_err_t e = want.n ? rd_kafka_subscribe(s->consumer, list)
		                               : rd_kafka_unsubscribe(s->consumer);
		rd_kafka_topic_partition_list_destroy(list);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
			lt_err_set(err, LT_EIO, "cannot subscribe on %s: %s", s->cfg.platform,
			           rd_kafka_err2str(e));
			goto out;
		}
		lt_log_info("%s: carrying the records of %zu agencies to %s", s->cfg.platform,
		            want.n / 2, r->side[!s->idx].cfg.platform);
		struct lt_relay_names tmp = s->subs;
		s->subs = want;
		want = tmp;
	}
	rc = 0;
out:
	if (t != NULL)
		lt_txn_abort(t);
	lt_relay_names_clear(&want);
	free(want.v);
	return rc;
}

/* ---- reading one side ---- */

/* The platform a topic's agency is on (for the operator's view), or "?". */
static void lt_relay_platform_of(struct lt_txn *t, const char *code, char *out, size_t size)
{
	Lienthong__DirectoryEntry *e = NULL;
	lt_err err;
	snprintf(out, size, "?");
	if (lt_dir_get(t, code, &e, &err) == 0 && e != NULL) {
		snprintf(out, size, "%s", e->platform);
		lienthong__directory_entry__free_unpacked(e, NULL);
	}
}

/* Whether a document has crossed this relay already, or too many relays. */
static int lt_relay_looping(const struct lt_relay *r, const Lienthong__Envelope *env)
{
	if (env->n_hops >= LT_RELAY_MAX_HOPS)
		return 1;
	for (size_t i = 0; i < env->n_hops; i++)
		if (env->hops[i] != NULL && env->hops[i]->relay != NULL &&
		    strcmp(env->hops[i]->relay, r->cfg->agency_code) == 0)
			return 1;
	return 0;
}

/* Whether code is a valid agency code the directory places behind side s. */
static int lt_relay_known_sender(struct lt_txn *t, const char *code, const struct lt_relay_side *s)
{
	lt_err err;
	Lienthong__DirectoryEntry *e = NULL;
	if (code == NULL || lt_config_check_code(&s->cfg, code, &err) != 0 ||
	    lt_dir_get(t, code, &e, &err) != 0 || e == NULL)
		return 0;
	int ok = lt_relay_behind(e, s, &s->r->side[!s->idx]);
	lienthong__directory_entry__free_unpacked(e, NULL);
	return ok;
}

/* Stores one record read on side s for the other side (and a hop notice for s). */
static int lt_relay_take(struct lt_relay *r, struct lt_relay_side *s, struct lt_txn *t,
                         const rd_kafka_message_t *m, int64_t now_ms, lt_err *err)
{
	struct lt_relay_side *o = &r->side[!s->idx];
	const char *topic = rd_kafka_topic_name(m->rkt);
	size_t plen = strlen(s->cfg.topic_prefix);
	char out_topic[LT_TOPIC_MAX + 1], platform[LT_CODE_MAX + 1], notice_topic[LT_TOPIC_MAX + 1];
	const char *rest = topic + plen + 1, *code = NULL;
	if (strncmp(topic, s->cfg.topic_prefix, plen) != 0 || topic[plen] != '.')
		return lt_err_set(err, LT_EINVAL, "record of unexpected topic %s", topic);
	if (strncmp(rest, "inbox.", 6) == 0)
		code = rest + 6;
	else if (strncmp(rest, "receipts.", 9) == 0)
		code = rest + 9;
	else
		return lt_err_set(err, LT_EINVAL, "record of unexpected topic %s", topic);
	snprintf(out_topic, sizeof out_topic, "%s.%s", o->cfg.topic_prefix, rest);
	lt_relay_platform_of(t, code, platform, sizeof platform);
	uint8_t *rec = NULL, *notice = NULL;
	size_t rec_len = 0, notice_len = 0;
	Lienthong__Envelope *env = NULL;
	if (code == rest + 6 && m->len <= (size_t)r->cfg->max_message_bytes)
		env = lienthong__envelope__unpack(NULL, m->len, m->payload);
	if (env != NULL && lt_relay_looping(r, env)) {
		/* A configuration loop between relays: carrying it again would never end. */
		lt_log_error("%s [%d] @ %lld: document %s from %s already crossed this relay or %d "
		             "relays: not carried again (check the routes of the relays on its "
		             "way: it is in its sender's outbox)",
		             topic, (int)m->partition, (long long)m->offset,
		             env->header != NULL ? env->header->document_id : "?",
		             env->header != NULL ? env->header->sender : "?", LT_RELAY_MAX_HOPS);
		lienthong__envelope__free_unpacked(env, NULL);
		return 0;
	}
	if (env != NULL && env->header != NULL && env->signature != NULL) {
		struct lt_hop_in in = {.from_platform = s->cfg.platform,
		                       .to_platform = o->cfg.platform,
		                       .at_ms = now_ms};
		lt_err why;
		if (lt_hop_make(env, m->payload, m->len, code, &in, r->signer, &rec, &rec_len,
		                &notice, &notice_len, &why) != 0)
			lt_log_warn("%s [%d] @ %lld: no hop record (%s): carried as it is", topic,
			            (int)m->partition, (long long)m->offset, why.msg);
	}
	int rc = -1;
	if (lt_relay_put(r, t, o->idx, out_topic, m->key, m->key_len, rec ? rec : m->payload,
	                 rec ? rec_len : m->len, platform, now_ms, err) != 0)
		goto out;
	if (notice != NULL && !lt_relay_known_sender(t, env->header->sender, s)) {
		/* Only a sender of the directory, on a platform behind this side, gets a
		 * notice: the topic's name comes from the record (anyone may write it). */
		lt_log_warn("%s [%d] @ %lld: sender %s is not in the directory behind %s: carried "
		            "without a hop notice",
		            topic, (int)m->partition, (long long)m->offset, env->header->sender,
		            s->cfg.platform);
	} else if (notice != NULL) {
		lt_config_receipt_topic(&s->cfg, env->header->sender, notice_topic,
		                        sizeof notice_topic);
		if (lt_relay_put(r, t, s->idx, notice_topic, code, strlen(code), notice, notice_len,
		                 s->cfg.platform, now_ms, err) != 0)
			goto out;
	}
	rc = 0;
out:
	if (env != NULL)
		lienthong__envelope__free_unpacked(env, NULL);
	free(rec);
	free(notice);
	return rc;
}

/* Pauses reading side s while the other side's queue is full, resumes at half. */
static void lt_relay_flow(struct lt_relay_side *s, const struct lt_relay_side *o)
{
	int want = s->paused ? o->queued > LT_RELAY_QUEUE_MAX / 2 : o->queued >= LT_RELAY_QUEUE_MAX;
	rd_kafka_topic_partition_list_t *parts = NULL;
	if (rd_kafka_assignment(s->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return;
	if (want)
		rd_kafka_pause_partitions(s->consumer, parts);
	else if (s->paused)
		rd_kafka_resume_partitions(s->consumer, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	if (want != s->paused)
		lt_log_warn("%s: %s reading: %llu records wait for %s", s->cfg.platform,
		            want ? "paused" : "resumed", (unsigned long long)o->queued,
		            o->cfg.platform);
	s->paused = want;
}

/* Whether msgs[i]'s partition came earlier in msgs. */
static int lt_relay_seen_before(rd_kafka_message_t *const *msgs, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (msgs[j]->rkt == msgs[i]->rkt && msgs[j]->partition == msgs[i]->partition)
			return 1;
	return 0;
}

static void lt_relay_replace(struct lt_relay *r, struct lt_relay_side *s, int64_t now_ms);

static int lt_relay_read(struct lt_relay *r, struct lt_relay_side *s, int64_t now_ms)
{
	rd_kafka_message_t *msgs[LT_RELAY_BATCH];
	size_t n = 0, bytes = 0;
	struct lt_txn *t = NULL;
	lt_err err;
	lt_relay_flow(s, &r->side[!s->idx]);
	if (s->batch_max == 0)
		s->batch_max = LT_RELAY_BATCH;
	while (n < s->batch_max && bytes < LT_RELAY_BATCH_BYTES) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(s->consumer, 0);
		if (m == NULL)
			break;
		if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			/* Each kind once as a warning (a topic not allowed, a partition gone),
			 * its repeats at debug level. */
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				lt_log(m->err == s->last_read_err ? LT_LOG_DEBUG : LT_LOG_WARN,
				       "reading %s: %s", s->cfg.platform,
				       rd_kafka_message_errstr(m));
				s->last_read_err = m->err;
			}
			rd_kafka_message_destroy(m);
			continue;
		}
		bytes += m->len;
		msgs[n++] = m;
	}
	if (n == 0)
		return 0;
	lt_watch_progress(&s->watch, now_ms);
	int again = 0; /* a partition could not be rewound */
	uint64_t queued[2] = {r->side[0].queued, r->side[1].queued};
	int rc = lt_txn_begin(r->store, 1, &t, &err);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = lt_relay_take(r, s, t, msgs[i], now_ms, &err);
	if (rc == 0) {
		rc = lt_txn_commit(t, &err);
	} else if (t != NULL) {
		lt_txn_abort(t);
	}
	if (rc != 0) {
		/* Nothing stored: read these records again. */
		r->side[0].queued = queued[0];
		r->side[1].queued = queued[1];
		/* Logged once while it lasts; --status shows it until it works again. */
		lt_log(s->store_failing_ms == 0 ? LT_LOG_ERROR : LT_LOG_DEBUG,
		       "%s: cannot store what was read: %s; reading it again", s->cfg.platform,
		       err.msg);
		if (s->store_failing_ms == 0)
			s->store_failing_ms = now_ms;
		/* A full map: smaller batches, down to one record, while the far
		 * sides' acknowledgements make room (doubled again after each success). */
		if (err.code == LT_EFULL)
			s->batch_max = n > 1 ? n / 2 : 1;
		snprintf(s->store_why, sizeof s->store_why, "%s", err.msg);
		r->health_dirty = 1;
		/* Each partition back to its first record of the batch (the batch
		 * interleaves partitions: only a partition's first occurrence). */
		for (size_t i = 0; i < n; i++) {
			lt_err e2;
			if (lt_relay_seen_before(msgs, i))
				continue;
			if (lt_kafka_rewind(s->consumer, rd_kafka_topic_name(msgs[i]->rkt),
			                    msgs[i]->partition, msgs[i]->offset, &e2) != 0) {
				lt_log_warn("%s: %s", s->cfg.platform, e2.msg);
				again = 1;
			}
		}
	} else {
		if (s->batch_max < LT_RELAY_BATCH)
			s->batch_max =
			    s->batch_max * 2 < LT_RELAY_BATCH ? s->batch_max * 2 : LT_RELAY_BATCH;
		if (s->store_failing_ms != 0) {
			lt_log_info("%s: storing works again", s->cfg.platform);
			s->store_failing_ms = 0;
			r->health_dirty = 1;
		}
		for (size_t i = 0; i < n; i++) {
			lt_err e2;
			if (lt_kafka_consumer_done(s->consumer, msgs[i], &e2) != 0)
				lt_log_warn("%s: %s", s->cfg.platform, e2.msg);
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (rc != 0 && !again) /* rewound (and paused by the rewind): fetched again */
			lt_kafka_pause(s->consumer, rd_kafka_topic_name(msgs[i]->rkt),
			               msgs[i]->partition, 0, &err);
		rd_kafka_message_destroy(msgs[i]);
	}
	/* Not rewound: a new consumer starts again from the committed offsets
	 * (offsets are stored only for what was stored). */
	if (again)
		lt_relay_replace(r, s, now_ms);
	return rc == 0; /* a failing store is tried again at the next tick, not at once */
}

/* ---- writing one side ---- */

/* Writing side s failed (why): sent again from the oldest record waiting, shown by --status. */
static void lt_relay_write_failed(struct lt_relay_side *s, const char *why)
{
	s->failing = 1;
	if (s->failing_ms == 0)
		s->failing_ms = lt_now_ms();
	snprintf(s->failing_why, sizeof s->failing_why, "%s", why);
	s->r->health_dirty = 1;
}

static void lt_relay_on_dr(void *ctx, void *opaque, rd_kafka_resp_err_t e, int32_t partition,
                           int64_t offset)
{
	struct lt_relay_side *s = ctx;
	struct lt_relay_msg *m = opaque;
	(void)partition, (void)offset;
	s->in_flight--;
	s->in_flight_bytes -= (int64_t)m->bytes;
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (!s->failing)
			lt_log_warn("%s: a record was not acknowledged: %s; sending again from the "
			            "oldest one waiting",
			            s->cfg.platform, rd_kafka_err2str(e));
		lt_relay_write_failed(s, rd_kafka_err2str(e));
	} else {
		if (s->n_acks == s->cap_acks) {
			size_t cap = s->cap_acks ? s->cap_acks * 2 : 256;
			void *v = realloc(s->acks, cap * sizeof *s->acks);
			if (v == NULL) { /* sent again later: harmless */
				free(m);
				return;
			}
			s->acks = v;
			s->cap_acks = cap;
		}
		memcpy(s->acks[s->n_acks++], m->key, LT_RELAY_KEY);
	}
	free(m);
}

struct lt_relay_send {
	struct lt_relay_side *s;
	int stop;
	lt_err *err;
};

static int lt_relay_send_one(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                             lt_err *err)
{
	struct lt_relay_send *sc = ctx;
	struct lt_relay_side *s = sc->s;
	if (klen != LT_RELAY_KEY || ((const uint8_t *)key)[0] != s->idx)
		return 1; /* past this side's records */
	if (s->in_flight >= LT_RELAY_WINDOW || s->in_flight_bytes >= LT_RELAY_FLIGHT_BYTES)
		return 1;
	Lienthong__Store__RelayItem *it = lienthong__store__relay_item__unpack(NULL, vlen, val);
	if (it == NULL)
		return lt_err_set(err, LT_EIO, "relay queue record is corrupt"), -1;
	int rc = 1;
	if (lt_relay_topic(s, it->topic, err) != 0) {
		lt_log_warn("%s: %s", s->cfg.platform, err->msg);
		lt_relay_write_failed(s, err->msg);
		goto out;
	}
	struct lt_relay_msg *m = malloc(sizeof *m);
	if (m == NULL)
		goto out;
	memcpy(m->key, key, LT_RELAY_KEY);
	m->bytes = it->value.len;
	if (lt_kafka_produce(s->producer, it->topic, it->key.data, it->key.len, it->value.data,
	                     it->value.len, m, err) != 0) {
		free(m);
		if (err->code != LT_EFULL) {
			lt_log_warn("%s: %s", s->cfg.platform, err->msg);
			lt_relay_write_failed(s, err->msg);
		}
		goto out;
	}
	s->in_flight++;
	s->in_flight_bytes += (int64_t)it->value.len;
	lt_relay_key(s->idx, lt_seq_from_key((const uint8_t *)key + 1) + 1, s->cursor);
	rc = 0;
out:
	lienthong__store__relay_item__free_unpacked(it, NULL);
	return rc;
}

static int lt_relay_send(struct lt_relay *r, struct lt_relay_side *s, int64_t now_ms)
{
	struct lt_txn *t = NULL;
	lt_err err;
	if (s->failing) {
		if (s->in_flight > 0)
			return 0;
		if (s->retry_ms == 0) {
			s->retry_ms = now_ms + lt_backoff_jitter(lt_backoff_next(&s->backoff));
			return 0;
		}
		if (now_ms < s->retry_ms)
			return 0;
		s->failing = 0;
		s->retry_ms = 0;
		lt_relay_key(s->idx, 0, s->cursor); /* from the oldest record not acknowledged */
	}
	if (s->in_flight >= LT_RELAY_WINDOW || s->queued == 0)
		return 0;
	struct lt_relay_send sc = {.s = s, .err = &err};
	size_t before = s->in_flight;
	if (lt_txn_begin(r->store, 0, &t, &err) != 0 ||
	    lt_txn_scan(t, LT_DB_RELAYQ, s->cursor, LT_RELAY_KEY, lt_relay_send_one, &sc, &err) !=
	        0)
		lt_log_warn("%s: %s", s->cfg.platform, err.msg);
	if (t != NULL)
		lt_txn_abort(t);
	return s->in_flight > before;
}

/* Deletes what the side acknowledged, in one transaction. */
static void lt_relay_done(struct lt_relay *r, struct lt_relay_side *s)
{
	struct lt_txn *t = NULL;
	lt_err err;
	rd_kafka_poll(s->producer, 0);
	if (s->n_acks == 0)
		return;
	int rc = lt_txn_begin(r->store, 1, &t, &err);
	for (size_t i = 0; rc == 0 && i < s->n_acks; i++)
		rc = lt_txn_del(t, LT_DB_RELAYQ, s->acks[i], LT_RELAY_KEY, &err);
	if (rc == 0)
		rc = lt_txn_commit(t, &err);
	else
		lt_txn_abort(t);
	if (rc != 0) {
		/* Kept: sent again later (the recipient de-duplicates). */
		lt_log_warn("%s: cannot record acknowledgements: %s", s->cfg.platform, err.msg);
	} else {
		s->queued -= s->n_acks < s->queued ? s->n_acks : s->queued;
		lt_backoff_init(&s->backoff, s->cfg.retry_backoff_min_ms,
		                s->cfg.retry_backoff_max_ms);
		if (s->failing_ms != 0 && !s->failing) {
			s->failing_ms = 0;
			r->health_dirty = 1;
		}
	}
	s->n_acks = 0;
}

/* Paused partitions (the other side's queue is full) do not count as lag. */
static int lt_relay_held(void *ctx, const char *topic, int32_t partition)
{
	const struct lt_relay_side *s = ctx;
	(void)topic, (void)partition;
	return s->paused;
}

/* A side with nothing to read is no group member, and not stalled either; one
 * with topics to read and no subscription (it keeps failing) is. */
static void lt_relay_stats(void *ctx, int member, int64_t lag)
{
	struct lt_relay_side *s = ctx;
	lt_watch_observe(&s->watch, member || s->wanted == 0, lag, lt_now_ms());
}

static int lt_relay_consumer_new(struct lt_relay_side *s, lt_err *err)
{
	const struct lt_kafka_consumer_cbs cbs = {
	    .held = lt_relay_held, .stats = lt_relay_stats, .ctx = s};
	s->consumer = lt_kafka_consumer_new(&s->cfg, NULL, 0, &cbs, err);
	return s->consumer != NULL ? 0 : -1;
}

/* ---- watching: stalled or dead consumers, dead producers (lt_watch, lt_reaper) ---- */

/* A consumer handed to the reaper: closed, then destroyed, on the reaper's thread. */
static void lt_relay_consumer_destroy(void *consumer)
{
	lt_kafka_destroy(consumer, LT_RELAY_CLOSE_MS);
}

/*
 * The relay's state for lienthong-relay --status, in data_dir/relay-health
 * (written whole, then renamed: a reader never sees half of it).
 */
static void lt_relay_health(struct lt_relay *r, int64_t now_ms)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 40], at[LT_TIME_TEXT], since[LT_TIME_TEXT];
	r->health_dirty = 0;
	r->health_ms = now_ms;
	snprintf(path, sizeof path, "%s/relay-health", r->cfg->data_dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (f == NULL) {
		lt_log_warn("cannot write %s: --status will not show the relay's health", tmp);
		return;
	}
	lt_time_format(now_ms, at, sizeof at);
	fprintf(f, "health as of %s (relay pid %ld)\n", at, (long)getpid());
	for (int i = 0; i < 2; i++) {
		const struct lt_relay_side *s = &r->side[i];
		lt_time_format(s->since_ms, since, sizeof since);
		fprintf(f,
		        "reading %s: %s since %s%s%s; consumers replaced: %u, producers recreated: "
		        "%u\n",
		        s->cfg.platform, s->stalled ? "STALLED" : "moving", since,
		        s->stalled ? ": " : "", s->stalled ? s->watch.why : "", s->replaced,
		        s->renewed);
	}
	for (int i = 0; i < 2; i++) {
		const struct lt_relay_side *s = &r->side[i];
		if (s->failing_ms == 0) {
			fprintf(f, "writing %s: working (%llu records wait)\n", s->cfg.platform,
			        (unsigned long long)s->queued);
			continue;
		}
		lt_time_format(s->failing_ms, since, sizeof since);
		fprintf(f, "writing %s: FAILING since %s: %s (%llu records wait)\n",
		        s->cfg.platform, since, s->failing_why, (unsigned long long)s->queued);
	}
	for (int i = 0; i < 2; i++) {
		const struct lt_relay_side *s = &r->side[i];
		if (s->store_failing_ms == 0) {
			fprintf(f, "storing what %s sends: working\n", s->cfg.platform);
			continue;
		}
		lt_time_format(s->store_failing_ms, since, sizeof since);
		fprintf(f,
		        "storing what %s sends: FAILING since %s: %s (read again at each turn, in "
		        "smaller batches)\n",
		        s->cfg.platform, since, s->store_why);
	}
	fprintf(f, "replaced consumers whose destroy did not return in %d s: %u\n",
	        LT_RELAY_DESTROY_MS / 1000, r->reaper.stuck);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		lt_log_warn("cannot write %s: --status will not show the relay's health", path);
}

/*
 * Replaces side s's consumer (dead after a fatal error, or stalled). The new
 * one is subscribed again at once and resumes from the committed offsets:
 * records read again are stored again and carried again, and the recipient's
 * de-duplication keeps delivery exactly once. The old one is destroyed on a
 * helper thread (lt_reaper): a destroy that hangs does not stop the relay. A
 * relay that cannot (LT_REAPER_MAX destroys pending, no memory or threads)
 * exits 1 for its supervisor: everything stored is in its LMDB.
 */
static void lt_relay_replace(struct lt_relay *r, struct lt_relay_side *s, int64_t now_ms)
{
	lt_err err;
	lt_kafka_consumer_forget(s->consumer);
	if (lt_reaper_add(&r->reaper, s->consumer, lt_mono_ms(), &err) != 0)
		lt_log_fatal("reading %s: %s; exiting so that the relay is restarted without them "
		             "(nothing stored is lost, nothing is delivered twice)",
		             s->cfg.platform, err.msg);
	s->consumer = NULL;
	if (lt_relay_consumer_new(s, &err) != 0)
		lt_log_fatal("reading %s: cannot create a new Kafka consumer: %s", s->cfg.platform,
		             err.msg);
	lt_relay_names_clear(&s->subs); /* subscribed again by the next tick */
	s->paused = 0;
	r->route_dirty = 1;
	lt_watch_replaced(&s->watch, now_ms);
	s->replaced++;
	r->health_dirty = 1;
	lt_log_info("reading %s: Kafka consumer replaced (%u time(s) since start)", s->cfg.platform,
	            s->replaced);
}

/*
 * Recreates side s's producer after a fatal error (an idempotent producer's
 * sequence broken): what it had in flight is forgotten and sent again from
 * the relay's store, from the oldest record not acknowledged, after the
 * usual backoff. Exits 1 when no new producer can be made (no memory or
 * threads: the configuration made the first one).
 */
static void lt_relay_renew(struct lt_relay *r, struct lt_relay_side *s, const lt_err *why)
{
	lt_err err;
	lt_log_error("writing %s: %s; recreating the Kafka producer (records not acknowledged "
	             "are sent again from the relay's store)",
	             s->cfg.platform, why->msg);
	rd_kafka_purge(s->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(s->producer, 0);
	lt_kafka_destroy(s->producer, 0);
	s->in_flight = 0; /* anything still unreported died with the handle */
	s->in_flight_bytes = 0;
	s->failing = 1;
	s->retry_ms = 0;
	if ((s->producer = lt_kafka_producer_new(&s->cfg, lt_relay_on_dr, s, &err)) == NULL)
		lt_log_fatal("writing %s: cannot recreate the Kafka producer: %s", s->cfg.platform,
		             err.msg);
	s->renewed++;
	r->health_dirty = 1;
}

static void lt_relay_watch(struct lt_relay *r, struct lt_relay_side *s, int64_t now_ms)
{
	char since[LT_TIME_TEXT];
	lt_err err;
	if (lt_kafka_fatal(s->producer, &err))
		lt_relay_renew(r, s, &err);
	if (lt_kafka_fatal(s->consumer, &err)) {
		lt_log_error(
		    "reading %s: %s; replacing the Kafka consumer: the new one resumes from "
		    "the committed offsets (records read again are not delivered twice)",
		    s->cfg.platform, err.msg);
		lt_relay_replace(r, s, now_ms);
		return;
	}
	switch (lt_watch_check(&s->watch, now_ms)) {
	case LT_WATCH_REPLACE:
		lt_time_format(s->watch.stalled_since_ms, since, sizeof since);
		lt_log_warn("reading %s: stalled since %s: %s; replacing the Kafka consumer "
		            "(replacement %u of this stall; again in %lld s if still stalled)",
		            s->cfg.platform, since, s->watch.why, s->watch.replacements + 1,
		            (long long)(s->watch.backoff.next_ms / 1000));
		s->stalled = 1;
		s->since_ms = s->watch.stalled_since_ms;
		lt_relay_replace(r, s, now_ms);
		break;
	case LT_WATCH_RECOVERED:
		lt_log_info("reading %s: moving again after %lld s stalled", s->cfg.platform,
		            (long long)((now_ms - s->since_ms) / 1000));
		s->stalled = 0;
		s->since_ms = now_ms;
		r->health_dirty = 1;
		break;
	case LT_WATCH_NONE:
		break;
	}
}

/* ---- life ---- */

struct lt_relay_count {
	int side;
	uint64_t n;
};

static int lt_relay_count_one(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                              lt_err *err)
{
	struct lt_relay_count *c = ctx;
	(void)val, (void)vlen, (void)err;
	if (klen != LT_RELAY_KEY || ((const uint8_t *)key)[0] != c->side)
		return 1;
	c->n++;
	return 0;
}

static int lt_relay_side_open(struct lt_relay *r, int idx, lt_err *err)
{
	struct lt_relay_side *s = &r->side[idx];
	char topic[LT_TOPIC_MAX + 1];
	s->r = r;
	s->idx = idx;
	char prefix[sizeof s->cfg.topic_prefix];
	memcpy(prefix, s->cfg.topic_prefix, sizeof prefix);
	snprintf(s->cfg.group_id, sizeof s->cfg.group_id, "%s.relay.%s", prefix, r->signer->code);
	lt_relay_key(idx, 0, s->cursor);
	lt_backoff_init(&s->backoff, s->cfg.retry_backoff_min_ms, s->cfg.retry_backoff_max_ms);
	lt_watch_init(&s->watch, s->cfg.receive_stall_s * 1000, lt_now_ms());
	s->since_ms = lt_now_ms();
	if ((s->producer = lt_kafka_producer_new(&s->cfg, lt_relay_on_dr, s, err)) == NULL ||
	    lt_relay_consumer_new(s, err) != 0)
		return lt_err_wrap(err, "platform %s", s->cfg.platform);
	lt_dir_topic(s->cfg.topic_prefix, topic, sizeof topic);
	if (lt_relay_topic(s, topic, err) != 0) /* not recorded: tried again when used */
		lt_log_warn("%s: %s; created when it can be", s->cfg.platform, err->msg);
	if ((s->dir = lt_dirfollow_new(&s->cfg, r->trust, r->store, lt_relay_on_entry, s, err)) ==
	    NULL)
		return -1;
	struct lt_relay_count c = {.side = idx};
	uint8_t from[LT_RELAY_KEY];
	struct lt_txn *t = NULL;
	lt_relay_key(idx, 0, from);
	if (lt_txn_begin(r->store, 0, &t, err) != 0)
		return -1;
	int rc = lt_txn_scan(t, LT_DB_RELAYQ, from, sizeof from, lt_relay_count_one, &c, err);
	lt_txn_abort(t);
	s->queued = c.n;
	if (c.n > 0)
		lt_log_info("%llu records stored earlier wait for %s", (unsigned long long)c.n,
		            s->cfg.platform);
	return rc;
}

struct lt_relay *lt_relay_new(const struct lt_config *cfg, const struct lt_signer *signer,
                              const struct lt_trust *trust, struct lt_store *store, lt_err *err)
{
	struct lt_relay *r = calloc(1, sizeof *r);
	if (r == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		return NULL;
	}
	r->cfg = cfg;
	r->signer = signer;
	r->trust = trust;
	r->store = store;
	r->route_dirty = 1;
	r->health_dirty = 1;
	lt_reaper_init(&r->reaper, "Kafka consumer", lt_relay_consumer_destroy,
	               LT_RELAY_DESTROY_MS);
	r->side[0].cfg = *cfg;
	r->side[0].cfg.code_re_ok = 0; /* the compiled pattern stays cfg's */
	if (lt_config_peer(cfg, &r->side[1].cfg, err) != 0 || lt_relay_side_open(r, 0, err) != 0 ||
	    lt_relay_side_open(r, 1, err) != 0) {
		lt_relay_free(r, 0);
		return NULL;
	}
	return r;
}

int lt_relay_tick(struct lt_relay *r, int64_t now_ms)
{
	lt_err err;
	int did = 0;
	for (int i = 0; i < 2; i++) {
		int v = lt_dirfollow_tick(r->side[i].dir, &err);
		if (v < 0)
			lt_log_warn("directory of %s: %s; reading it again",
			            r->side[i].cfg.platform, err.msg);
		did |= v > 0;
	}
	if (r->route_dirty) {
		r->route_dirty = 0;
		for (int i = 0; i < 2; i++) {
			if (lt_relay_subscribe(r, &r->side[i], &err) != 0) {
				lt_log_warn("%s; trying again", err.msg);
				r->route_dirty = 1;
			}
		}
	}
	for (int i = 0; i < 2; i++)
		did |= lt_relay_read(r, &r->side[i], now_ms);
	for (int i = 0; i < 2; i++) {
		did |= lt_relay_send(r, &r->side[i], now_ms);
		lt_relay_done(r, &r->side[i]);
	}
	/* A replaced consumer not destroyed in time? */
	if (lt_reaper_tick(&r->reaper, lt_mono_ms()))
		r->health_dirty = 1;
	for (int i = 0; i < 2; i++)
		lt_relay_watch(r, &r->side[i], now_ms);
	/* Written again at least every LT_RELAY_HEALTH_MS: its time says the relay lives. */
	if (r->health_dirty || now_ms - r->health_ms >= LT_RELAY_HEALTH_MS)
		lt_relay_health(r, now_ms);
	return did;
}

void lt_relay_free(struct lt_relay *r, int timeout_ms)
{
	if (r == NULL)
		return;
	int64_t until = lt_now_ms() + timeout_ms;
	for (int i = 0; i < 2; i++) {
		struct lt_relay_side *s = &r->side[i];
		while (s->producer != NULL && s->in_flight > 0 && lt_now_ms() < until) {
			rd_kafka_poll(s->producer, 100);
			lt_relay_done(r, s);
		}
	}
	for (int i = 0; i < 2; i++) {
		struct lt_relay_side *s = &r->side[i];
		lt_dirfollow_free(s->dir);
		lt_kafka_destroy(s->consumer, 5000);
		lt_kafka_destroy(s->producer, 0);
		lt_relay_names_clear(&s->subs);
		lt_relay_names_clear(&s->made);
		free(s->subs.v);
		free(s->made.v);
		free(s->acks);
	}
	lt_reaper_finish(&r->reaper, LT_RELAY_CLOSE_MS + 5000);
	free(r);
}

/* ---- the operator's view ---- */

#define LT_RELAY_GROUPS 256

struct lt_relay_wait {
	int side;
	char platform[LT_CODE_MAX + 1];
	uint64_t n;
	int64_t since_ms;
};

struct lt_relay_waits {
	struct lt_relay_wait w[LT_RELAY_GROUPS];
	size_t n;
	uint64_t other;
};

static int lt_relay_wait_one(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                             lt_err *err)
{
	struct lt_relay_waits *ws = ctx;
	(void)err;
	if (klen != LT_RELAY_KEY)
		return 0;
	Lienthong__Store__RelayItem *it = lienthong__store__relay_item__unpack(NULL, vlen, val);
	if (it == NULL)
		return 0;
	int side = ((const uint8_t *)key)[0];
	size_t i = 0;
	while (i < ws->n && (ws->w[i].side != side || strcmp(ws->w[i].platform, it->platform) != 0))
		i++;
	if (i == ws->n && ws->n < LT_RELAY_GROUPS) {
		ws->w[i] = (struct lt_relay_wait){.side = side, .since_ms = it->enqueued_at_ms};
		snprintf(ws->w[i].platform, sizeof ws->w[i].platform, "%s", it->platform);
		ws->n++;
	}
	if (i < ws->n) {
		ws->w[i].n++;
		if (it->enqueued_at_ms < ws->w[i].since_ms)
			ws->w[i].since_ms = it->enqueued_at_ms;
	} else {
		ws->other++;
	}
	lienthong__store__relay_item__free_unpacked(it, NULL);
	return 0;
}

/* The running (or last) relay's health file, as it wrote it. */
static void lt_relay_status_health(const struct lt_config *cfg, FILE *out)
{
	char path[PATH_MAX + 32], line[1024];
	snprintf(path, sizeof path, "%s/relay-health", cfg->data_dir);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(out, "no health recorded (the relay never ran with this data_dir)\n");
		return;
	}
	long pid = 0;
	int first = 1;
	while (fgets(line, sizeof line, f) != NULL) {
		fputs(line, out);
		if (first &&
		    (sscanf(line, "health as of %*s (relay pid %ld)", &pid) != 1 || pid <= 0))
			pid = 0;
		first = 0;
	}
	fclose(f);
	struct stat st;
	if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		fprintf(out,
		        "NOT RUNNING: relay pid %ld is gone; the lines above are its last state\n",
		        pid);
	else if (stat(path, &st) == 0 && time(NULL) - st.st_mtime > 3 * LT_RELAY_HEALTH_MS / 1000)
		fprintf(out, "STALE: the relay has not written its health for %lld s (hung?)\n",
		        (long long)(time(NULL) - st.st_mtime));
}

int lt_relay_status(const struct lt_config *cfg, struct lt_store *store, FILE *out, lt_err *err)
{
	static struct lt_relay_waits ws;
	struct lt_txn *t = NULL;
	const char *names[2] = {cfg->platform, cfg->peer_platform};
	uint64_t dirs = 0;
	ws.n = 0;
	ws.other = 0;
	if (lt_txn_begin(store, 0, &t, err) != 0)
		return -1;
	int rc = lt_txn_scan(t, LT_DB_RELAYQ, NULL, 0, lt_relay_wait_one, &ws, err);
	if (rc == 0)
		rc = lt_txn_count(t, LT_DB_DIRECTORY, &dirs, err);
	lt_txn_abort(t);
	if (rc != 0)
		return -1;
	fprintf(out, "relay %s: %s <-> %s, %llu directory entries\n", cfg->agency_code,
	        cfg->platform, cfg->peer_platform, (unsigned long long)dirs);
	if (ws.n == 0)
		fprintf(out, "nothing waits\n");
	for (size_t i = 0; i < ws.n; i++) {
		char since[LT_TIME_TEXT];
		lt_time_format(ws.w[i].since_ms, since, sizeof since);
		fprintf(out, "waiting for %s: %llu records to write on %s, since %s\n",
		        ws.w[i].platform, (unsigned long long)ws.w[i].n, names[ws.w[i].side & 1],
		        since);
	}
	if (ws.other > 0)
		fprintf(out, "and %llu records for other platforms\n",
		        (unsigned long long)ws.other);
	lt_relay_status_health(cfg, out);
	return 0;
}
