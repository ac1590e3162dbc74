/*
 * Unit tests of the forwarder (producers/lt_forward.c) and the Kafka
 * adapter against librdkafka's mock cluster: a fatal producer error, provoked
 * with rd_kafka_test_fatal_error while records are in flight, makes the
 * forwarder replace its producer, and every outbox record still reaches the
 * topic (read back from the mock cluster) and leaves the outbox; a consumer
 * closed with fetched records still in its queue closes cleanly; a consumer
 * subscribed to a topic the broker does not know yet reads it within 10 s of
 * its creation (librdkafka's default would look again after 5 minutes: the
 * relay's receipts stopped so when a topic's metadata lagged its creation).
 *
 * Streamed documents: the manifest, then every chunk read from the spool, in
 * order and byte for byte (read back from the mock cluster); a broker down in
 * the middle costs at most the window again (chunks recorded as acknowledged
 * come once); a damaged spool chunk is never sent, the status names the file,
 * and once it is restored the document goes on to `sent`.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../../broker-adapter/lt_kafka.h"
#include "../../clock/lt_clock.h"
#include "../../lifecycle/lt_lifecycle.h"
#include "../../log/lt_log.h"
#include "../../producers/lt_forward.h"
#include "../../producers/lt_submit.h"
#include "../../proto/lt_envelope.h"
#include "lt_check.h"
#include "lt_testpki.h"

#define N 50
#define TOPIC "lienthong.receipts.B.1"

static char tmp[PATH_MAX];
static char bootstraps[256];
static rd_kafka_mock_cluster_t *mock;

static void enqueue(struct lt_store *s, int from, int count)
{
	struct lt_txn *t = NULL;
	lt_err err;
	if (!CHECK_OK(lt_txn_begin(s, 1, &t, &err), err))
		return;
	for (int i = from; i < from + count; i++) {
		char payload[32];
		int len = snprintf(payload, sizeof payload, "receipt-%d", i);
		CHECK_OK(lt_outq_add(t, LIENTHONG__STORE__OUT_KIND__OUT_RECEIPT,
		                     "01a2214a-2c8c-79f1-bea3-66a211fab3d8", "B.1",
		                     (const uint8_t *)payload, (size_t)len, lt_now_ms(), &err),
		         err);
	}
	CHECK_OK(lt_txn_commit(t, &err), err);
}

static uint64_t outq_count(struct lt_store *s)
{
	struct lt_txn *t = NULL;
	uint64_t n = UINT64_MAX;
	lt_err err;
	if (lt_txn_begin(s, 0, &t, &err) == 0) {
		lt_txn_count(t, LT_DB_OUTQ, &n, &err);
		lt_txn_abort(t);
	}
	return n;
}

/* Ticks until the outbox is empty or 30 s passed. */
static int drain(struct lt_forward *fw, struct lt_store *s)
{
	lt_err err;
	int64_t until = lt_now_ms() + 30000;
	while (outq_count(s) != 0 && lt_now_ms() < until) {
		if (lt_forward_tick(fw, lt_now_ms(), &err) != 0)
			fprintf(stderr, "tick: %s\n", err.msg);
		nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
	}
	return outq_count(s) == 0;
}

/*
 * Reads partition 0 of topic from its beginning to its end as it is now (the
 * high watermark: everything acknowledged so far), handing each record to fn.
 */
static void read_all(const char *topic, void (*fn)(const rd_kafka_message_t *m, void *ctx),
                     void *ctx)
{
	char errstr[256];
	int64_t low = 0, high = 0;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, errstr, sizeof errstr);
	rd_kafka_conf_set(conf, "group.id", "test-forward", errstr, sizeof errstr);
	rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
	if (!CHECK(c != NULL))
		return;
	CHECK(rd_kafka_query_watermark_offsets(c, topic, 0, &low, &high, 10000) ==
	      RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(c, l);
	rd_kafka_topic_partition_list_destroy(l);
	int64_t next = low, until = lt_now_ms() + 30000;
	while (next < high && lt_now_ms() < until) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
		if (m == NULL)
			continue;
		if (m->err == 0) {
			fn(m, ctx);
			next = m->offset + 1;
		}
		rd_kafka_message_destroy(m);
	}
	CHECK(next >= high); /* read to the end */
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
}

/* Distinct "receipt-i" payloads, 0 <= i < max. */
struct distinct {
	unsigned char seen[2 * N];
	int max, n;
};

static void distinct_one(const rd_kafka_message_t *m, void *ctx)
{
	struct distinct *d = ctx;
	char buf[32];
	int i = -1;
	if (m->len < sizeof buf) {
		memcpy(buf, m->payload, m->len);
		buf[m->len] = '\0';
		if (sscanf(buf, "receipt-%d", &i) != 1)
			i = -1;
	}
	if (i >= 0 && i < d->max && !d->seen[i]) {
		d->seen[i] = 1;
		d->n++;
	}
}

/* Reads the topic back; counts distinct "receipt-i" payloads 0 <= i < max. */
static int distinct_records(int max)
{
	struct distinct d = {.max = max};
	read_all(TOPIC, distinct_one, &d);
	return d.n;
}

static void test_fatal_error_replaces_producer(void)
{
	struct lt_config cfg;
	struct lt_store *store = NULL;
	struct lt_forward *fw = NULL;
	lt_err err;
	char text[1024];
	snprintf(text, sizeof text,
	         "agency_code = A.1\n"
	         "data_dir = %s/data\n"
	         "key_file = /k.pem\ncert_file = /c.pem\nca_file = /ca.pem\n"
	         "poll_interval_ms = 10\n"
	         "retry_backoff_min_ms = 10\nretry_backoff_max_ms = 200\n"
	         "kafka.bootstrap.servers = %s\n",
	         tmp, bootstraps);
	if (!CHECK_OK(lt_config_parse(&cfg, "cfg", text, strlen(text), &err), err))
		return;
	if (!CHECK_OK(lt_store_open(&store, cfg.data_dir, cfg.lmdb_map_size, &err), err))
		goto out;
	fw = lt_forward_new(&cfg, store, &err);
	if (!CHECK_OK(fw == NULL ? -1 : 0, err))
		goto out;

	enqueue(store, 0, N);
	CHECK(drain(fw, store));
	CHECK(lt_forward_renewals(fw) == 0);

	/* The next records are handed to the producer, then it dies. */
	enqueue(store, N, N);
	CHECK_OK(lt_forward_tick(fw, lt_now_ms(), &err), err);
	CHECK(rd_kafka_test_fatal_error(lt_forward_producer(fw),
	                                RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
	                                "provoked by test_forward") == RD_KAFKA_RESP_ERR_NO_ERROR);
	CHECK(drain(fw, store));
	CHECK(lt_forward_renewals(fw) == 1);
	CHECK(distinct_records(2 * N) == 2 * N);
out:
	lt_forward_free(fw, 1000);
	lt_store_close(store);
	lt_config_free(&cfg);
}

static int assigned;
static void ignore_dr(void *ctx, void *opaque, rd_kafka_resp_err_t err, int32_t partition,
                      int64_t offset)
{
	(void)ctx, (void)opaque, (void)err, (void)partition, (void)offset;
}

static void on_stats(void *ctx, int member, int64_t lag)
{
	(void)ctx;
	(void)lag;
	assigned |= member;
}

/* Closing a consumer whose queue holds fetched records (the agent stopping mid-batch). */
static void test_close_with_fetched_records(void)
{
	struct lt_config cfg;
	lt_err err;
	char text[1024];
	snprintf(text, sizeof text,
	         "agency_code = B.1\n"
	         "data_dir = %s/data-b\n"
	         "key_file = /k.pem\ncert_file = /c.pem\nca_file = /ca.pem\n"
	         "receive_stall_s = 6\n"
	         "kafka.bootstrap.servers = %s\n",
	         tmp, bootstraps);
	if (!CHECK_OK(lt_config_parse(&cfg, "cfg", text, strlen(text), &err), err))
		return;
	const char *topics[] = {TOPIC};
	const struct lt_kafka_consumer_cbs cbs = {.stats = on_stats};
	rd_kafka_t *c = lt_kafka_consumer_new(&cfg, topics, 1, &cbs, &err);
	if (!CHECK_OK(c == NULL ? -1 : 0, err))
		goto out;
	/* Joined (served through poll), then records fetched but not taken. */
	int64_t until = lt_now_ms() + 20000;
	while (!assigned && lt_now_ms() < until) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
		if (m != NULL)
			rd_kafka_message_destroy(m);
	}
	CHECK(assigned);
	rd_kafka_t *p = lt_kafka_producer_new(&cfg, ignore_dr, NULL, &err);
	if (CHECK_OK(p == NULL ? -1 : 0, err)) {
		for (int i = 0; i < 20; i++)
			lt_kafka_produce(p, TOPIC, "k", 1, "late", 4, NULL, &err);
		rd_kafka_flush(p, 5000);
		lt_kafka_destroy(p, 0);
	}
	nanosleep(&(struct timespec){.tv_sec = 2}, NULL); /* the fetcher queues them */
	lt_kafka_destroy(c, 3000);                        /* aborted here before the fix */
	CHECK(1);
out:
	lt_config_free(&cfg);
}

/* A topic whose metadata the broker does not give yet when the consumer
 * subscribes (as after a creation not yet known to every broker). */
static void test_topic_created_late(void)
{
	struct lt_config cfg;
	lt_err err;
	char text[1024];
	snprintf(text, sizeof text,
	         "agency_code = B.2\n"
	         "data_dir = %s/data-b2\n"
	         "key_file = /k.pem\ncert_file = /c.pem\nca_file = /ca.pem\n"
	         "kafka.bootstrap.servers = %s\n",
	         tmp, bootstraps);
	if (!CHECK_OK(lt_config_parse(&cfg, "cfg", text, strlen(text), &err), err))
		return;
	/* With one topic of the subscription known, the group joins with that
	 * one and librdkafka looks for the other only at its periodic refresh. */
	const char *topics[] = {"lienthong.receipts.LATE", TOPIC};
	CHECK(rd_kafka_mock_topic_create(mock, topics[0], 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_mock_topic_set_error(mock, topics[0], RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
	rd_kafka_t *c = lt_kafka_consumer_new(&cfg, topics, 2, NULL, &err);
	if (!CHECK_OK(c == NULL ? -1 : 0, err))
		goto out;
	/* Subscribed and joined while the topic is "unknown". */
	int64_t until = lt_now_ms() + 3000;
	while (lt_now_ms() < until) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
		if (m != NULL)
			rd_kafka_message_destroy(m);
	}
	rd_kafka_mock_topic_set_error(mock, topics[0], RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_t *p = lt_kafka_producer_new(&cfg, ignore_dr, NULL, &err);
	if (CHECK_OK(p == NULL ? -1 : 0, err)) {
		CHECK_OK(lt_kafka_produce(p, topics[0], "k", 1, "late", 4, NULL, &err), err);
		rd_kafka_flush(p, 5000);
		lt_kafka_destroy(p, 0);
	}
	int got = 0;
	int64_t t0 = lt_now_ms();
	until = t0 + 30000;
	while (!got && lt_now_ms() < until) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
		if (m != NULL) {
			got = m->err == RD_KAFKA_RESP_ERR_NO_ERROR &&
			      strcmp(rd_kafka_topic_name(m->rkt), topics[0]) == 0 && m->len == 4 &&
			      memcmp(m->payload, "late", 4) == 0;
			rd_kafka_message_destroy(m);
		}
	}
	if (!CHECK(got))
		fprintf(stderr, "  the record on the late topic did not come within 30 s\n");
	else
		printf("figure: record on a topic known only after the subscription read after "
		       "%lld ms\n",
		       (long long)(lt_now_ms() - t0));
	lt_kafka_destroy(c, 3000);
out:
	lt_config_free(&cfg);
}

/* Streamed documents: chunks of 4 KiB; CHUNKS of them, the last one shorter. */
#define CHUNK 4096
#define CHUNKS 40
#define STREAM_BYTES ((CHUNKS - 1) * CHUNK + 1000)

static struct lt_tpki pki;
static struct lt_tca ca;
static struct lt_tagency agency;

struct stream_doc {
	char id[LT_DOCID_LEN + 1];
	const char *to;
	char spool[PATH_MAX];
	uint8_t *data; /* the part's bytes, as written to the spool */
	uint8_t *env;  /* the signed manifest */
	size_t env_len;
};

static void stream_doc_free(struct stream_doc *d)
{
	free(d->data);
	free(d->env);
}

/*
 * Writes a part of STREAM_BYTES random bytes to the spool of a new document
 * for `to`, seals its manifest and submits it to the outbox.
 */
static int stream_submit(const struct lt_config *cfg, struct lt_store *store, const char *to,
                         struct stream_doc *d)
{
	lt_err err;
	struct lt_signer signer;
	uint8_t sha[LT_DIGEST_LEN], chunk_sha[CHUNKS * LT_DIGEST_LEN], digest[LT_DIGEST_LEN];
	char dir[PATH_MAX];
	int ok = 0;
	memset(d, 0, sizeof *d);
	d->to = to;
	if (!CHECK_OK(lt_docid_new(d->id, &err), err) ||
	    !CHECK((d->data = malloc(STREAM_BYTES)) != NULL))
		return 0;
	for (size_t i = 0; i < STREAM_BYTES; i++)
		d->data[i] = (uint8_t)(rand() >> 7);
	EVP_Digest(d->data, STREAM_BYTES, sha, NULL, EVP_sha256(), NULL);
	for (size_t c = 0; c < CHUNKS; c++) {
		size_t len = c + 1 < CHUNKS ? CHUNK : STREAM_BYTES - c * CHUNK;
		EVP_Digest(d->data + c * CHUNK, len, chunk_sha + c * LT_DIGEST_LEN, NULL,
		           EVP_sha256(), NULL);
	}
	snprintf(dir, sizeof dir, "%s/spool", cfg->data_dir);
	mkdir(dir, 0700);
	snprintf(dir, sizeof dir, "%s/spool/%s", cfg->data_dir, d->id);
	snprintf(d->spool, sizeof d->spool, "%s/0", dir);
	FILE *f = NULL;
	if (!CHECK(mkdir(dir, 0700) == 0) || !CHECK((f = fopen(d->spool, "wb")) != NULL))
		return 0;
	CHECK(fwrite(d->data, 1, STREAM_BYTES, f) == STREAM_BYTES);
	fclose(f);
	const char *recipients[] = {to};
	struct lt_part_in part = {.name = "big.pdf",
	                          .media_type = "application/pdf",
	                          .len = STREAM_BYTES,
	                          .chunk_bytes = CHUNK,
	                          .sha256 = sha,
	                          .chunk_sha256 = chunk_sha};
	struct lt_envelope_in in = {.document_id = d->id,
	                            .recipients = recipients,
	                            .n_recipients = 1,
	                            .subject = "streamed",
	                            .created_at_ms = lt_now_ms(),
	                            .parts = &part,
	                            .n_parts = 1};
	if (!CHECK_OK(lt_signer_load(&signer, cfg->key_file, cfg->cert_file, &err), err))
		return 0;
	if (CHECK_OK(lt_envelope_seal(&in, &signer, cfg, &d->env, &d->env_len, digest, &err),
	             err)) {
		struct lt_submit_doc sd = {.document_id = d->id,
		                           .envelope = d->env,
		                           .len = d->env_len,
		                           .digest = digest,
		                           .recipients = recipients,
		                           .n_recipients = 1,
		                           .subject = "streamed"};
		ok = CHECK_OK(lt_submit(store, &sd, 1, lt_now_ms(), &err), err);
	}
	lt_signer_free(&signer);
	return ok;
}

/* What came back from a topic: the manifest's copies and each chunk's. */
struct readback {
	int manifests;
	int64_t manifest_offset;
	int copies[CHUNKS];
	int in_order;   /* every first copy of chunk i came after the manifest and chunk i-1 */
	int bytes_same; /* every copy equals the part's bytes at its place */
	int records;
};

struct readback_run {
	const struct stream_doc *d;
	struct readback *rb;
	int next;
};

static void readback_one(const rd_kafka_message_t *m, void *ctx)
{
	struct readback_run *run = ctx;
	const struct stream_doc *d = run->d;
	struct readback *rb = run->rb;
	Lienthong__Envelope *e = lienthong__envelope__unpack(NULL, m->len, m->payload);
	if (e != NULL && e->chunk == NULL) {
		rb->records++;
		rb->manifests++;
		rb->manifest_offset = m->offset;
		rb->bytes_same &= m->len == d->env_len && memcmp(m->payload, d->env, m->len) == 0;
	} else if (e != NULL) {
		const Lienthong__Chunk *ch = e->chunk;
		rb->records++;
		if (ch->index < CHUNKS && ch->part == 0 && strcmp(ch->document_id, d->id) == 0) {
			size_t want =
			    ch->index + 1 < CHUNKS ? CHUNK : STREAM_BYTES - ch->index * CHUNK;
			rb->bytes_same &=
			    ch->data.len == want &&
			    memcmp(ch->data.data, d->data + ch->index * CHUNK, want) == 0;
			if (rb->copies[ch->index]++ == 0) {
				rb->in_order &= rb->manifests > 0 && (int)ch->index == run->next;
				run->next++;
			}
		} else {
			rb->bytes_same = 0;
		}
	}
	if (e != NULL)
		lienthong__envelope__free_unpacked(e, NULL);
}

static void read_topic(const char *topic, const struct stream_doc *d, struct readback *rb)
{
	struct readback_run run = {.d = d, .rb = rb};
	memset(rb, 0, sizeof *rb);
	rb->in_order = rb->bytes_same = 1;
	rb->manifest_offset = -1;
	read_all(topic, readback_one, &run);
}

static Lienthong__Store__StatusRecord *status_of(struct lt_store *s, const char *id, const char *to)
{
	struct lt_txn *t = NULL;
	Lienthong__Store__StatusRecord *rec = NULL;
	lt_err err;
	if (lt_txn_begin(s, 0, &t, &err) == 0) {
		lt_status_get(t, id, to, &rec, &err);
		lt_txn_abort(t);
	}
	return rec;
}

static uint64_t count_db(struct lt_store *s, enum lt_db db)
{
	struct lt_txn *t = NULL;
	uint64_t n = UINT64_MAX;
	lt_err err;
	if (lt_txn_begin(s, 0, &t, &err) == 0) {
		lt_txn_count(t, db, &n, &err);
		lt_txn_abort(t);
	}
	return n;
}

/* Chunks recorded as acknowledged (sendprog), or -1 when there is no record. */
static int64_t chunks_acked(struct lt_store *s)
{
	struct lt_txn *t = NULL;
	int64_t n = -1;
	lt_err err;
	uint8_t key[8];
	const void *val;
	size_t vlen;
	if (lt_txn_begin(s, 0, &t, &err) != 0)
		return -1;
	for (uint64_t seq = 1; seq < 100 && n < 0; seq++) {
		lt_seq_key(seq, key);
		if (lt_txn_get(t, LT_DB_SENDPROG, key, sizeof key, &val, &vlen, &err) == 0 &&
		    val != NULL) {
			Lienthong__Store__SendProgress *p =
			    lienthong__store__send_progress__unpack(NULL, vlen, val);
			if (p != NULL) {
				n = (int64_t)p->chunks_acked;
				lienthong__store__send_progress__free_unpacked(p, NULL);
			}
		}
	}
	lt_txn_abort(t);
	return n;
}

static int stream_config_with(struct lt_config *cfg, const char *stem, const char *more,
                              lt_err *err)
{
	char extra[1024];
	snprintf(extra, sizeof extra,
	         "poll_interval_ms = 10\n"
	         "retry_backoff_min_ms = 10\nretry_backoff_max_ms = 200\n"
	         "kafka.bootstrap.servers = %s\n"
	         "kafka.message.timeout.ms = 3000\n"
	         /* back at once when the mock broker is up again (default: up to 10 s) */
	         "kafka.reconnect.backoff.max.ms = 200\n%s",
	         bootstraps, more);
	return lt_tpki_config(&pki, stem, "A.1", &ca, &agency, extra, cfg, err);
}

/*
 * What every stream test starts from: a configuration (stem), a store with
 * one streamed document for `to` in its outbox, and a forwarder, made with
 * the configuration plus fw_more when given (else the same one).
 */
struct stream_fx {
	struct lt_config cfg, fw_cfg;
	int have_cfg, have_fw_cfg;
	struct lt_store *store;
	struct lt_forward *fw;
	struct stream_doc d;
};

static int stream_setup(struct stream_fx *x, const char *stem, const char *to, const char *fw_more)
{
	lt_err err;
	memset(x, 0, sizeof *x);
	if (!CHECK_OK(stream_config_with(&x->cfg, stem, "", &err), err))
		return 0;
	x->have_cfg = 1;
	if (!CHECK_OK(lt_store_open(&x->store, x->cfg.data_dir, x->cfg.lmdb_map_size, &err), err) ||
	    !stream_submit(&x->cfg, x->store, to, &x->d))
		return 0;
	if (fw_more != NULL) {
		if (!CHECK_OK(stream_config_with(&x->fw_cfg, stem, fw_more, &err), err))
			return 0;
		x->have_fw_cfg = 1;
	}
	x->fw = lt_forward_new(fw_more != NULL ? &x->fw_cfg : &x->cfg, x->store, &err);
	return CHECK_OK(x->fw == NULL ? -1 : 0, err);
}

/* Whether the status of the fixture's document has part in its reason. */
static int reason_has(struct stream_fx *x, const char *part)
{
	Lienthong__Store__StatusRecord *st = status_of(x->store, x->d.id, x->d.to);
	int has = st != NULL && strstr(st->reason, part) != NULL;
	if (st != NULL)
		lienthong__store__status_record__free_unpacked(st, NULL);
	return has;
}

/* n more turns of the forwarder, 10 ms apart. */
static void ticks(struct stream_fx *x, int n)
{
	lt_err err;
	for (int i = 0; i < n; i++) {
		lt_forward_tick(x->fw, lt_now_ms(), &err);
		nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
	}
}

static void stream_teardown(struct stream_fx *x)
{
	lt_forward_free(x->fw, 1000);
	lt_store_close(x->store);
	if (x->have_fw_cfg)
		lt_config_free(&x->fw_cfg);
	if (x->have_cfg)
		lt_config_free(&x->cfg);
	stream_doc_free(&x->d);
}

/* The manifest, then every chunk in order, bytes as in the spool; then `sent`. */
static void test_stream_in_order(void)
{
	struct stream_fx x;
	struct readback rb;
	if (!stream_setup(&x, "s1", "S.1", NULL))
		goto out;
	CHECK(drain(x.fw, x.store));
	CHECK(count_db(x.store, LT_DB_SENDPROG) == 0);
	read_topic("lienthong.inbox.S.1", &x.d, &rb);
	CHECK(rb.manifests == 1);
	CHECK(rb.in_order);
	CHECK(rb.bytes_same);
	int all_once = 1;
	for (int i = 0; i < CHUNKS; i++)
		all_once &= rb.copies[i] == 1;
	CHECK(all_once);
	CHECK(rb.records == CHUNKS + 1);
	Lienthong__Store__StatusRecord *st = status_of(x.store, x.d.id, "S.1");
	if (CHECK(st != NULL)) {
		CHECK(st->status == LIENTHONG__STORE__DOC_STATUS__SENT);
		CHECK(st->offset == rb.manifest_offset);
		/* One send: the progress written meanwhile ("sending: N of M") is no attempt. */
		CHECK(st->attempts == 1);
		lienthong__store__status_record__free_unpacked(st, NULL);
	}
out:
	stream_teardown(&x);
}

/*
 * The broker goes down with part of the document acknowledged: once it is
 * back, the forwarder goes on from the first chunk not acknowledged, so the
 * chunks recorded before come once and at most the window comes twice.
 */
static void test_stream_broker_down(void)
{
	struct stream_fx x;
	struct readback rb;
	lt_err err;
	if (!stream_setup(&x, "s2", "S.2", NULL))
		goto out;
	/* Slow acknowledgements, so that the broker fails with chunks in flight. */
	rd_kafka_mock_broker_set_rtt(mock, 1, 200);
	int64_t until = lt_now_ms() + 30000;
	while (chunks_acked(x.store) < 10 && lt_now_ms() < until) {
		lt_forward_tick(x.fw, lt_now_ms(), &err);
		nanosleep(&(struct timespec){.tv_nsec = 5000000}, NULL);
	}
	rd_kafka_mock_broker_set_down(mock, 1);
	int64_t before = chunks_acked(x.store);
	CHECK(before >= 10 && before < CHUNKS);
	/* Down until what was in flight failed (message.timeout.ms) and the status says so. */
	Lienthong__Store__StatusRecord *st = NULL;
	until = lt_now_ms() + 30000;
	while (lt_now_ms() < until) {
		lt_forward_tick(x.fw, lt_now_ms(), &err);
		nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
		st = status_of(x.store, x.d.id, "S.2");
		int waiting = st != NULL && strstr(st->reason, "waiting") != NULL;
		if (st != NULL)
			lienthong__store__status_record__free_unpacked(st, NULL);
		if (waiting)
			break;
	}
	st = status_of(x.store, x.d.id, "S.2");
	if (CHECK(st != NULL)) {
		CHECK(st->status == LIENTHONG__STORE__DOC_STATUS__QUEUED);
		CHECK_STR_CONTAINS(st->reason, "waiting: Kafka fails since");
		lienthong__store__status_record__free_unpacked(st, NULL);
	}
	rd_kafka_mock_broker_set_rtt(mock, 1, 0);
	rd_kafka_mock_broker_set_up(mock, 1);
	CHECK(drain(x.fw, x.store));
	read_topic("lienthong.inbox.S.2", &x.d, &rb);
	CHECK(rb.manifests == 1);
	CHECK(rb.bytes_same);
	int all = 1, acked_once = 1;
	for (int i = 0; i < CHUNKS; i++) {
		all &= rb.copies[i] >= 1;
		if (i < before)
			acked_once &= rb.copies[i] == 1;
	}
	CHECK(all);
	CHECK(acked_once);
	CHECK(rb.records <= CHUNKS + 1 + 16); /* at most one window again */
	printf("  broker down after %lld acknowledged chunks: %d records for %d chunks\n",
	       (long long)before, rb.records - 1, CHUNKS);
	st = status_of(x.store, x.d.id, "S.2");
	if (CHECK(st != NULL)) {
		CHECK(st->status == LIENTHONG__STORE__DOC_STATUS__SENT);
		lienthong__store__status_record__free_unpacked(st, NULL);
	}
out:
	stream_teardown(&x);
}

/*
 * The producer dies (fatal idempotence error), or the forwarder is freed and
 * made again (an agent restart), with chunks in flight: it goes on from the
 * progress recorded, the manifest is not sent again, the chunks recorded
 * before come once and at most the window twice.
 */
static void stream_interrupted(const char *stem, const char *to, int fatal)
{
	struct stream_fx x;
	struct readback rb;
	char topic[64];
	lt_err err;
	snprintf(topic, sizeof topic, "lienthong.inbox.%s", to);
	if (!stream_setup(&x, stem, to, NULL))
		goto out;
	rd_kafka_mock_broker_set_rtt(mock, 1, 100);
	int64_t until = lt_now_ms() + 30000;
	while (chunks_acked(x.store) < 10 && lt_now_ms() < until) {
		lt_forward_tick(x.fw, lt_now_ms(), &err);
		nanosleep(&(struct timespec){.tv_nsec = 5000000}, NULL);
	}
	int64_t before = chunks_acked(x.store);
	CHECK(before >= 10 && before < CHUNKS);
	if (fatal) {
		CHECK(rd_kafka_test_fatal_error(
		          lt_forward_producer(x.fw), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
		          "provoked by test_forward") == RD_KAFKA_RESP_ERR_NO_ERROR);
	} else {
		lt_forward_free(x.fw, 0);
		x.fw = lt_forward_new(&x.cfg, x.store, &err);
		if (!CHECK_OK(x.fw == NULL ? -1 : 0, err))
			goto out;
	}
	rd_kafka_mock_broker_set_rtt(mock, 1, 0);
	CHECK(drain(x.fw, x.store));
	if (fatal)
		CHECK(lt_forward_renewals(x.fw) == 1);
	CHECK(count_db(x.store, LT_DB_SENDPROG) == 0);
	read_topic(topic, &x.d, &rb);
	CHECK(rb.manifests == 1);
	CHECK(rb.bytes_same);
	int all = 1, acked_once = 1;
	for (int i = 0; i < CHUNKS; i++) {
		all &= rb.copies[i] >= 1;
		if (i < before)
			acked_once &= rb.copies[i] == 1;
	}
	CHECK(all);
	CHECK(acked_once);
	CHECK(rb.records <= CHUNKS + 1 + 16);
	printf("  %s after %lld acknowledged chunks: %d records for %d chunks\n",
	       fatal ? "fatal producer error" : "restart", (long long)before, rb.records - 1,
	       CHUNKS);
	Lienthong__Store__StatusRecord *st = status_of(x.store, x.d.id, to);
	if (CHECK(st != NULL)) {
		CHECK(st->status == LIENTHONG__STORE__DOC_STATUS__SENT);
		CHECK(st->offset == rb.manifest_offset);
		lienthong__store__status_record__free_unpacked(st, NULL);
	}
out:
	stream_teardown(&x);
}

static void test_stream_fatal_error(void)
{
	stream_interrupted("s5", "S.5", 1);
}

static void test_stream_restart(void)
{
	stream_interrupted("s6", "S.6", 0);
}

/*
 * A spool chunk that no longer matches the signed digest is not sent: the
 * chunks before it go, the status stays queued and names the file; restored,
 * the document goes on and is sent.
 */
static void test_stream_damaged_spool(void)
{
	struct stream_fx x;
	struct readback rb;
	lt_err err;
	if (!stream_setup(&x, "s3", "S.3", NULL))
		goto out;
	/* Damaged before the forwarder's first look at it. */
	FILE *f = fopen(x.d.spool, "r+b");
	if (!CHECK(f != NULL))
		goto out;
	fseek(f, 3 * CHUNK + 17, SEEK_SET);
	fputc(x.d.data[3 * CHUNK + 17] ^ 0x20, f);
	fclose(f);
	/* Until the chunks before the damage are acknowledged and the status names it. */
	int64_t until = lt_now_ms() + 30000;
	while (lt_now_ms() < until && !(chunks_acked(x.store) == 3 && reason_has(&x, "damaged"))) {
		lt_forward_tick(x.fw, lt_now_ms(), &err);
		nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
	}
	ticks(&x, 50); /* and it goes no further */
	CHECK(outq_count(x.store) == 1);
	CHECK(chunks_acked(x.store) == 3);
	Lienthong__Store__StatusRecord *st = status_of(x.store, x.d.id, "S.3");
	if (CHECK(st != NULL)) {
		CHECK(st->status == LIENTHONG__STORE__DOC_STATUS__QUEUED);
		CHECK_STR_CONTAINS(st->reason, "damaged");
		CHECK_STR_CONTAINS(st->reason, x.d.spool);
		CHECK_STR_CONTAINS(st->reason, "chunk 3 of part 0");
		lienthong__store__status_record__free_unpacked(st, NULL);
	}
	read_topic("lienthong.inbox.S.3", &x.d, &rb);
	CHECK(rb.manifests == 1);
	CHECK(rb.records == 1 + 3);
	CHECK(rb.copies[3] == 0);
	/* Other records flow meanwhile. */
	enqueue(x.store, 2 * N, 20);
	until = lt_now_ms() + 30000;
	while (outq_count(x.store) != 1 && lt_now_ms() < until) {
		lt_forward_tick(x.fw, lt_now_ms(), &err);
		nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
	}
	CHECK(outq_count(x.store) == 1);
	/* Restored: it goes on from chunk 3. */
	f = fopen(x.d.spool, "r+b");
	if (CHECK(f != NULL)) {
		fseek(f, 3 * CHUNK + 17, SEEK_SET);
		fputc(x.d.data[3 * CHUNK + 17], f);
		fclose(f);
	}
	CHECK(drain(x.fw, x.store));
	read_topic("lienthong.inbox.S.3", &x.d, &rb);
	CHECK(rb.records == CHUNKS + 1);
	CHECK(rb.in_order);
	CHECK(rb.bytes_same);
	st = status_of(x.store, x.d.id, "S.3");
	if (CHECK(st != NULL)) {
		CHECK(st->status == LIENTHONG__STORE__DOC_STATUS__SENT);
		lienthong__store__status_record__free_unpacked(st, NULL);
	}
out:
	stream_teardown(&x);
}

/*
 * A streamed manifest the forwarder's configuration refuses (chunks larger
 * than its max_message_bytes allows): nothing is sent, the status says why.
 */
static void test_stream_refused(void)
{
	struct stream_fx x;
	struct readback rb;
	lt_err err;
	if (!stream_setup(&x, "s4", "S.4", "max_message_bytes = 4096\n"))
		goto out;
	int64_t until = lt_now_ms() + 30000;
	while (lt_now_ms() < until && !reason_has(&x, "configuration refuses the manifest")) {
		lt_forward_tick(x.fw, lt_now_ms(), &err);
		nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
	}
	ticks(&x, 50); /* scans after the first (poll_interval_ms = 10) */
	CHECK(outq_count(x.store) == 1);
	Lienthong__Store__StatusRecord *st = status_of(x.store, x.d.id, "S.4");
	if (CHECK(st != NULL)) {
		CHECK(st->status == LIENTHONG__STORE__DOC_STATUS__QUEUED);
		CHECK_STR_CONTAINS(st->reason, "configuration refuses the manifest");
		CHECK(st->attempts == 1); /* recorded once, not at every scan */
		lienthong__store__status_record__free_unpacked(st, NULL);
	}
	read_topic("lienthong.inbox.S.4", &x.d, &rb);
	CHECK(rb.records == 0);
out:
	stream_teardown(&x);
}

int main(void)
{
	char errstr[256];
	lt_log_set_level(LT_LOG_ERROR);
	if (lt_tmpdir_new(tmp, sizeof tmp) != 0)
		return 1;
	rd_kafka_t *host =
	    rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), errstr, sizeof errstr);
	rd_kafka_mock_cluster_t *mc = host ? rd_kafka_mock_cluster_new(host, 1) : NULL;
	if (mc == NULL) {
		fprintf(stderr, "cannot start librdkafka's mock cluster\n");
		return 1;
	}
	snprintf(bootstraps, sizeof bootstraps, "%s", rd_kafka_mock_cluster_bootstraps(mc));
	rd_kafka_mock_topic_create(mc, TOPIC, 1, 1);
	LT_RUN(test_fatal_error_replaces_producer);
	LT_RUN(test_close_with_fetched_records);
	mock = mc;
	LT_RUN(test_topic_created_late);
	struct lt_tagency_opts o = {.cn = "A.1", .type = "ec", .issuer = &ca};
	if (CHECK(lt_tpki_init(&pki) == 0) && CHECK(lt_tpki_ca(&pki, "ca", "Test CA", &ca) == 0) &&
	    CHECK(lt_tpki_agency(&pki, &o, &agency) == 0)) {
		rd_kafka_mock_topic_create(mc, "lienthong.inbox.S.1", 1, 1);
		rd_kafka_mock_topic_create(mc, "lienthong.inbox.S.2", 1, 1);
		rd_kafka_mock_topic_create(mc, "lienthong.inbox.S.3", 1, 1);
		LT_RUN(test_stream_in_order);
		LT_RUN(test_stream_broker_down);
		LT_RUN(test_stream_damaged_spool);
		rd_kafka_mock_topic_create(mc, "lienthong.inbox.S.4", 1, 1);
		LT_RUN(test_stream_refused);
		rd_kafka_mock_topic_create(mc, "lienthong.inbox.S.5", 1, 1);
		rd_kafka_mock_topic_create(mc, "lienthong.inbox.S.6", 1, 1);
		LT_RUN(test_stream_fatal_error);
		LT_RUN(test_stream_restart);
	}
	lt_tca_free(&ca);
	lt_tpki_done(&pki);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(host);
	lt_tmpdir_remove(tmp);
	return lt_check_summary();
}
