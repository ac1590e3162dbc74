/*
 * lt-forge: a test tool that plays an attacker or a broken sender by
 * publishing straight to an inbox topic, bypassing the agent.
 *
 *   lt-forge -c SENDER.conf --to CODE[,CODE] [mode...] [--record] FILE
 *
 * Seals FILE as a document of the sender (signed with the sender's key as
 * configured), applies the modes, and publishes the bytes to the inbox topic
 * of the first --to agency (or of --publish-to). Prints the document id.
 * --record also records the document as `sent` in the sender's store, so the
 * sender's status shows what the receipt says.
 *
 * Modes (several may be combined):
 *   --tamper            change one byte of the first part after signing
 *   --forge-signature   change one byte of the signature
 *   --claim-sender CODE put CODE in the header as the sender (signed with our key)
 *   --reuse-id ID       use ID as the document id
 *   --publish-to CODE   publish to CODE's inbox although --to names others
 *   --expired           the document expired one second before it was made
 *   --parts N           N parts (copies of FILE named part-1...), not one
 *   --truncate N        publish only the first N bytes of the envelope
 *   --random N          publish N random bytes instead of an envelope
 *   --count M           with --random: publish M such records (a flood), each its own
 *   --submit-to CONF    instead of publishing, hand the document to the submission
 *                       service of the agent of CONF (its submit.sock), as
 *                       lienthong-upload would; prints the agent's refusal and exits 1
 *   --wrong-recipients  (with --submit-to) the stored recipients differ from the envelope's
 *   --wrong-digest      (with --submit-to) the stored digest differs from the envelope's
 *   --huge-length       publish a record whose parts field claims 1 GiB
 * For tests only; never installed.
 */
#include <getopt.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../broker-adapter/lt_kafka.h"
#include "../../clock/lt_clock.h"
#include "../../log/lt_log.h"
#include "../../producers/lt_submitd.h"
#include "../../proto/lt_envelope.h"
#include "../../store/lt_store.h"

struct lt_forge_dr {
	long done, failed;
	rd_kafka_resp_err_t err;
	int32_t partition;
	int64_t offset;
};

struct lt_forge_opts {
	const char *config, *to, *claim_sender, *reuse_id, *publish_to, *submit_to;
	int tamper, forge_signature, expired, record, huge_length, wrong_recipients, wrong_digest;
	long parts, truncate, random, count;
};

static void lt_forge_on_dr(void *ctx, void *opaque, rd_kafka_resp_err_t err, int32_t partition,
                           int64_t offset)
{
	struct lt_forge_dr *d = ctx;
	(void)opaque;
	d->done++;
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		d->failed++, d->err = err;
	d->partition = partition;
	d->offset = offset;
}

static uint8_t *lt_forge_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	uint8_t *buf = malloc(8 << 20);
	*len = buf ? fread(buf, 1, 8 << 20, f) : 0;
	fclose(f);
	return buf;
}

/* Re-signs nothing: changes the packed envelope the way the modes say. */
static int lt_forge_mutate(const struct lt_forge_opts *o, uint8_t *buf, size_t len, lt_err *err)
{
	if (!o->tamper && !o->forge_signature)
		return 0;
	Lienthong__Envelope *env = lienthong__envelope__unpack(NULL, len, buf);
	if (env == NULL || env->n_parts == 0 || env->parts[0]->data.len == 0 ||
	    env->signature == NULL)
		return lt_err_set(err, LT_EINVAL, "nothing to tamper with (empty part?)");
	if (o->tamper)
		env->parts[0]->data.data[env->parts[0]->data.len / 2] ^= 0x01;
	if (o->forge_signature)
		env->signature->value.data[env->signature->value.len / 2] ^= 0x01;
	lienthong__envelope__pack(env, buf); /* same length: bytes changed in place */
	lienthong__envelope__free_unpacked(env, NULL);
	return 0;
}

/* Hands the document to the submission service of another configuration's agent. */
static int lt_forge_submit(const struct lt_forge_opts *o, const char *id, const uint8_t *env,
                           size_t len, uint8_t digest[LT_DIGEST_LEN], const char *const *recipients,
                           size_t n_recipients, lt_err *err)
{
	static struct lt_config victim;
	static const char *const other[] = {"WRONG.X01"};
	if (lt_config_load(&victim, o->submit_to, err) != 0)
		return -1;
	if (o->wrong_digest)
		digest[0] ^= 0x01;
	struct lt_submit_doc doc = {
	    .document_id = id,
	    .envelope = env,
	    .len = len,
	    .digest = digest,
	    .recipients = o->wrong_recipients ? other : recipients,
	    .n_recipients = o->wrong_recipients ? 1 : n_recipients,
	    .subject = "forged",
	};
	int rc = lt_submitd_send(&victim, &doc, 1, err);
	lt_config_free(&victim);
	return rc;
}

static int lt_forge_parse(int argc, char **argv, struct lt_forge_opts *o)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"to", required_argument, NULL, 't'},
	                                     {"tamper", no_argument, NULL, 'x'},
	                                     {"forge-signature", no_argument, NULL, 'g'},
	                                     {"claim-sender", required_argument, NULL, 's'},
	                                     {"reuse-id", required_argument, NULL, 'i'},
	                                     {"publish-to", required_argument, NULL, 'p'},
	                                     {"expired", no_argument, NULL, 'e'},
	                                     {"parts", required_argument, NULL, 'n'},
	                                     {"truncate", required_argument, NULL, 'T'},
	                                     {"random", required_argument, NULL, 'R'},
	                                     {"huge-length", no_argument, NULL, 'H'},
	                                     {"count", required_argument, NULL, 'C'},
	                                     {"submit-to", required_argument, NULL, 'S'},
	                                     {"wrong-recipients", no_argument, NULL, 'W'},
	                                     {"wrong-digest", no_argument, NULL, 'D'},
	                                     {"record", no_argument, NULL, 'r'},
	                                     {NULL, 0, NULL, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "c:t:", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 't':
			o->to = optarg;
			break;
		case 'x':
			o->tamper = 1;
			break;
		case 'g':
			o->forge_signature = 1;
			break;
		case 's':
			o->claim_sender = optarg;
			break;
		case 'i':
			o->reuse_id = optarg;
			break;
		case 'p':
			o->publish_to = optarg;
			break;
		case 'e':
			o->expired = 1;
			break;
		case 'n':
			o->parts = strtol(optarg, NULL, 10);
			break;
		case 'T':
			o->truncate = strtol(optarg, NULL, 10);
			break;
		case 'R':
			o->random = strtol(optarg, NULL, 10);
			break;
		case 'H':
			o->huge_length = 1;
			break;
		case 'C':
			o->count = strtol(optarg, NULL, 10);
			break;
		case 'S':
			o->submit_to = optarg;
			break;
		case 'W':
			o->wrong_recipients = 1;
			break;
		case 'D':
			o->wrong_digest = 1;
			break;
		case 'r':
			o->record = 1;
			break;
		default:
			return -1;
		}
	}
	if (o->config == NULL || o->to == NULL || optind != argc - 1)
		return -1;
	if (o->parts <= 0)
		o->parts = 1;
	if (o->count <= 0 || o->random <= 0)
		o->count = 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct lt_forge_opts o = {0};
	lt_log_init(argv[0], LT_LOG_WARN);
	if (lt_forge_parse(argc, argv, &o) != 0) {
		fprintf(stderr, "usage: lt-forge -c SENDER.conf --to CODE[,CODE] [mode...] "
		                "[--record] FILE (modes: see tests/tools/lt_forge.c)\n");
		return 2;
	}
	static struct lt_config cfg;
	struct lt_signer signer = {0};
	struct lt_store *store = NULL;
	struct lt_txn *t = NULL;
	rd_kafka_t *rk = NULL;
	struct lt_part_in *parts = NULL;
	char(*names)[32] = NULL;
	uint8_t *file = NULL, *env_buf = NULL, digest[LT_DIGEST_LEN];
	size_t file_len = 0, env_len = 0;
	char id[LT_DOCID_LEN + 1], topic[LT_TOPIC_MAX + 1], to[512];
	const char *recipients[16];
	size_t n_recipients = 0;
	struct lt_forge_dr dr = {0};
	lt_err err;
	int rc = 1;
	const char *path = argv[optind];

	snprintf(to, sizeof to, "%s", o.to);
	for (char *save = NULL, *tok = strtok_r(to, ",", &save); tok && n_recipients < 16;
	     tok = strtok_r(NULL, ",", &save))
		recipients[n_recipients++] = tok;
	if (lt_config_load(&cfg, o.config, &err) != 0 ||
	    lt_signer_load(&signer, cfg.key_file, cfg.cert_file, &err) != 0 ||
	    lt_docid_new(id, &err) != 0)
		goto fail;
	if (o.reuse_id != NULL)
		snprintf(id, sizeof id, "%s", o.reuse_id);
	if (o.claim_sender != NULL)
		snprintf(signer.code, sizeof signer.code, "%s", o.claim_sender);
	if ((file = lt_forge_read(path, &file_len)) == NULL) {
		lt_err_set(&err, LT_EIO, "cannot read %s", path);
		goto fail;
	}
	parts = calloc((size_t)o.parts, sizeof *parts);
	names = calloc((size_t)o.parts, sizeof *names);
	if (parts == NULL || names == NULL) {
		lt_err_set(&err, LT_EIO, "out of memory");
		goto fail;
	}
	for (long i = 0; i < o.parts; i++) {
		snprintf(names[i], sizeof names[i], o.parts == 1 ? "forged.bin" : "part-%ld",
		         i + 1);
		parts[i] = (struct lt_part_in){.name = names[i],
		                               .media_type = "application/octet-stream",
		                               .data = file,
		                               .len = file_len};
	}
	/* The sealing limits are the attacker's, not the recipient's. */
	cfg.max_parts = 1000000;
	cfg.max_message_bytes = 64 << 20;
	int64_t now = lt_now_ms();
	struct lt_envelope_in in = {.document_id = id,
	                            .recipients = recipients,
	                            .n_recipients = n_recipients,
	                            .subject = "forged",
	                            .created_at_ms = now,
	                            .expires_at_ms = o.expired ? now - 1000 : 0,
	                            .parts = parts,
	                            .n_parts = (size_t)o.parts};
	if (lt_envelope_seal(&in, &signer, &cfg, &env_buf, &env_len, digest, &err) != 0 ||
	    lt_forge_mutate(&o, env_buf, env_len, &err) != 0)
		goto fail;
	if (o.truncate > 0 && (size_t)o.truncate < env_len)
		env_len = (size_t)o.truncate;
	if (o.random > 0) {
		free(env_buf);
		env_len = (size_t)o.random;
		env_buf = malloc(env_len);
		if (env_buf == NULL || RAND_bytes(env_buf, (int)env_len) != 1) {
			lt_err_set(&err, LT_EIO, "no random bytes");
			goto fail;
		}
	}
	if (o.huge_length) {
		/* version 1, then field 3 (parts, length-delimited) claiming 2^30 bytes. */
		static const uint8_t huge[] = {0x08, 0x01, 0x1a, 0x80, 0x80, 0x80,
		                               0x80, 0x04, 0x0a, 0x01, 'x'};
		memcpy(env_buf, huge, sizeof huge);
		env_len = sizeof huge;
	}
	if (o.submit_to != NULL) {
		rc = lt_forge_submit(&o, id, env_buf, env_len, digest, recipients, n_recipients,
		                     &err);
		if (rc != 0)
			goto fail;
		printf("%s\n", id);
		goto out;
	}
	rk = lt_kafka_producer_new(&cfg, lt_forge_on_dr, &dr, &err);
	if (rk == NULL)
		goto fail;
	lt_config_inbox_topic(&cfg, o.publish_to ? o.publish_to : recipients[0], topic,
	                      sizeof topic);
	for (long i = 0; i < o.count; i++) {
		if (i > 0 && RAND_bytes(env_buf, (int)env_len) != 1) {
			lt_err_set(&err, LT_EIO, "no random bytes");
			goto fail;
		}
		/* A bounded producer queue: wait for acknowledgements when it is full. */
		while (lt_kafka_produce(rk, topic, cfg.agency_code, strlen(cfg.agency_code),
		                        env_buf, env_len, NULL, &err) != 0) {
			if (err.code != LT_EFULL)
				goto fail;
			rd_kafka_poll(rk, 100);
		}
		rd_kafka_poll(rk, 0);
	}
	rd_kafka_flush(rk, 60000);
	rd_kafka_poll(rk, 0);
	if (dr.done != o.count || dr.failed != 0) {
		lt_err_set(&err, LT_EIO, "publishing failed: %ld of %ld acknowledged: %s", dr.done,
		           o.count, dr.failed ? rd_kafka_err2str(dr.err) : "no delivery report");
		goto fail;
	}
	if (o.record) {
		Lienthong__Store__StatusRecord rec = LIENTHONG__STORE__STATUS_RECORD__INIT;
		rec.status = LIENTHONG__STORE__DOC_STATUS__SENT;
		rec.queued_at_ms = rec.updated_at_ms = now;
		rec.partition = dr.partition;
		rec.offset = dr.offset;
		rec.subject = (char *)"forged";
		if (lt_store_open(&store, cfg.data_dir, cfg.lmdb_map_size, &err) != 0 ||
		    lt_txn_begin(store, 1, &t, &err) != 0)
			goto fail;
		for (size_t i = 0; i < n_recipients; i++) {
			if (lt_status_put(t, id, recipients[i], &rec, &err) != 0)
				goto fail;
		}
		int crc = lt_txn_commit(t, &err);
		t = NULL;
		if (crc != 0)
			goto fail;
	}
	printf("%s\n", id);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "lt-forge: %s\n", err.msg);
out:
	lt_txn_abort(t);
	lt_store_close(store);
	lt_kafka_destroy(rk);
	free(parts);
	free(names);
	free(file);
	free(env_buf);
	lt_signer_free(&signer);
	lt_config_free(&cfg);
	return rc;
}
