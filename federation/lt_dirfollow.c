#include "lt_dirfollow.h"

#include <stdlib.h>
#include <string.h>

#include "../broker-adapter/lt_kafka.h"
#include "../clock/lt_clock.h"
#include "../log/lt_log.h"

#define LT_DIRFOLLOW_BATCH 256

struct lt_dirfollow {
	const struct lt_config *cfg;
	const struct lt_trust *trust;
	struct lt_store *store;
	lt_dirfollow_fn fn;
	void *ctx;
	char topic[LT_TOPIC_MAX + 1];
	rd_kafka_t *rk;
};

int lt_dirfollow_keep(void *ctx, struct lt_txn *t, const Lienthong__DirectoryEntry *e,
                      const uint8_t *raw, size_t len, lt_err *err)
{
	(void)ctx;
	int v = lt_dir_keep(t, LT_DB_DIRECTORY, e->code, strlen(e->code), e, raw, len, err);
	if (v == 1)
		lt_log_info("directory: %s %s %s (serial %llu)", e->code,
		            e->withdrawn ? "withdrawn from" : "on platform", e->platform,
		            (unsigned long long)e->serial);
	return v;
}

static int lt_dirfollow_open(struct lt_dirfollow *f, lt_err *err)
{
	f->rk = lt_kafka_reader_new(f->cfg, f->topic, err);
	return f->rk == NULL ? -1 : 0;
}

struct lt_dirfollow *lt_dirfollow_new(const struct lt_config *cfg, const struct lt_trust *trust,
                                      struct lt_store *store, lt_dirfollow_fn fn, void *ctx,
                                      lt_err *err)
{
	struct lt_dirfollow *f = calloc(1, sizeof *f);
	if (f == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		return NULL;
	}
	*f =
	    (struct lt_dirfollow){.cfg = cfg, .trust = trust, .store = store, .fn = fn, .ctx = ctx};
	lt_dir_topic(cfg->topic_prefix, f->topic, sizeof f->topic);
	if (lt_dirfollow_open(f, err) != 0) {
		free(f);
		return NULL;
	}
	return f;
}

int lt_dirfollow_tick(struct lt_dirfollow *f, lt_err *err)
{
	rd_kafka_message_t *msgs[LT_DIRFOLLOW_BATCH];
	size_t n = 0;
	int changed = 0;
	struct lt_txn *t = NULL;
	if (f->rk == NULL && lt_dirfollow_open(f, err) != 0)
		return -1;
	while (n < LT_DIRFOLLOW_BATCH) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(f->rk, 0);
		if (m == NULL)
			break;
		if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				lt_log_debug("directory %s: %s", f->topic,
				             rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		msgs[n++] = m;
	}
	if (n == 0)
		return 0;
	if (lt_txn_begin(f->store, 1, &t, err) != 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		lt_err why;
		char signer[LT_CODE_MAX + 1];
		if (msgs[i]->len == 0)
			continue; /* a tombstone: entries are withdrawn by a signed entry, not
			             deleted */
		Lienthong__DirectoryEntry *e = lt_dir_open(msgs[i]->payload, msgs[i]->len, f->cfg,
		                                           f->trust, signer, sizeof signer, &why);
		if (e == NULL) {
			lt_log_warn("directory %s: record at offset %lld ignored: %s", f->topic,
			            (long long)msgs[i]->offset, why.msg);
			continue;
		}
		int v = f->fn(f->ctx, t, e, msgs[i]->payload, msgs[i]->len, err);
		lienthong__directory_entry__free_unpacked(e, NULL);
		if (v < 0)
			goto fail;
		changed += v;
	}
	if (lt_txn_commit(t, err) != 0) {
		t = NULL;
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		rd_kafka_message_destroy(msgs[i]);
	return changed;
fail:
	if (t != NULL)
		lt_txn_abort(t);
	for (size_t i = 0; i < n; i++)
		rd_kafka_message_destroy(msgs[i]);
	/* Read the topic again from its beginning: nothing is lost. */
	lt_kafka_destroy(f->rk, 0);
	f->rk = NULL;
	return -1;
}

void lt_dirfollow_free(struct lt_dirfollow *f)
{
	if (f == NULL)
		return;
	lt_kafka_destroy(f->rk, 0);
	free(f);
}

int lt_dir_read_all(const struct lt_config *cfg, const struct lt_trust *trust,
                    void (*fn)(void *ctx, const Lienthong__DirectoryEntry *e), void *ctx,
                    lt_err *err)
{
	char topic[LT_TOPIC_MAX + 1];
	lt_dir_topic(cfg->topic_prefix, topic, sizeof topic);
	rd_kafka_t *rk = lt_kafka_reader_new(cfg, topic, err);
	if (rk == NULL)
		return -1;
	int64_t quiet_until = lt_now_ms() + 10000;
	for (;;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		if (m == NULL) {
			if (lt_now_ms() > quiet_until)
				break;
			continue;
		}
		quiet_until = lt_now_ms() + 10000;
		int eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->len > 0) {
			lt_err why;
			Lienthong__DirectoryEntry *e =
			    lt_dir_open(m->payload, m->len, cfg, trust, NULL, 0, &why);
			if (e != NULL) {
				fn(ctx, e);
				lienthong__directory_entry__free_unpacked(e, NULL);
			} else {
				lt_log_warn("%s offset %lld: ignored: %s", topic,
				            (long long)m->offset, why.msg);
			}
		}
		rd_kafka_message_destroy(m);
		if (eof)
			break;
	}
	lt_kafka_destroy(rk, 0);
	return 0;
}
