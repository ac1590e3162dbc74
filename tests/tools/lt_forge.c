/*
 * lt-forge: a test tool that plays an attacker or a broken sender by
 * publishing straight to a recipient's inbox topic, bypassing the agent.
 *
 *   lt-forge -c SENDER.conf --to CODE [--tamper] FILE
 *
 * Seals FILE as a document of the sender (signed with the sender's key), and
 * with --tamper changes one byte of the part after signing. Publishes the
 * envelope to the recipient's inbox topic and records the document as `sent`
 * in the sender's store (so the sender's status shows what the receipt says).
 * Prints the document id. For tests only; never installed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../broker-adapter/lt_kafka.h"
#include "../../clock/lt_clock.h"
#include "../../log/lt_log.h"
#include "../../proto/lt_envelope.h"
#include "../../store/lt_store.h"

struct lt_forge_dr {
	int done;
	rd_kafka_resp_err_t err;
	int32_t partition;
	int64_t offset;
};

static void lt_forge_on_dr(void *ctx, void *opaque, rd_kafka_resp_err_t err, int32_t partition,
			   int64_t offset)
{
	struct lt_forge_dr *d = ctx;
	(void)opaque;
	d->done = 1;
	d->err = err;
	d->partition = partition;
	d->offset = offset;
}

static uint8_t *lt_forge_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	uint8_t *buf = malloc(1 << 20);
	*len = buf ? fread(buf, 1, 1 << 20, f) : 0;
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"to", required_argument, NULL, 't'},
					     {"tamper", no_argument, NULL, 'x'},
					     {NULL, 0, NULL, 0}};
	const char *config = NULL, *to = NULL;
	int tamper = 0, c;
	lt_log_init(argv[0], LT_LOG_WARN);
	while ((c = getopt_long(argc, argv, "c:t:", opts, NULL)) != -1) {
		if (c == 'c')
			config = optarg;
		else if (c == 't')
			to = optarg;
		else if (c == 'x')
			tamper = 1;
		else
			return 2;
	}
	if (config == NULL || to == NULL || optind != argc - 1) {
		fprintf(stderr, "usage: lt-forge -c SENDER.conf --to CODE [--tamper] FILE\n");
		return 2;
	}
	static struct lt_config cfg;
	struct lt_signer signer = {0};
	struct lt_store *store = NULL;
	struct lt_txn *t = NULL;
	rd_kafka_t *rk = NULL;
	uint8_t *file = NULL, *env_buf = NULL, digest[LT_DIGEST_LEN];
	size_t file_len = 0, env_len = 0;
	char id[LT_DOCID_LEN + 1], topic[LT_TOPIC_MAX + 1];
	struct lt_forge_dr dr = {0};
	lt_err err;
	int rc = 1;
	const char *path = argv[optind];

	if (lt_config_load(&cfg, config, &err) != 0 ||
	    lt_signer_load(&signer, cfg.key_file, cfg.cert_file, &err) != 0 ||
	    lt_docid_new(id, &err) != 0)
		goto fail;
	if ((file = lt_forge_read(path, &file_len)) == NULL) {
		lt_err_set(&err, LT_EIO, "cannot read %s", path);
		goto fail;
	}
	const char *recipients[] = {to};
	struct lt_part_in part = {
		.name = "forged.bin", .media_type = "application/octet-stream", .data = file,
		.len = file_len};
	struct lt_envelope_in in = {.document_id = id,
				    .recipients = recipients,
				    .n_recipients = 1,
				    .subject = "forged",
				    .created_at_ms = lt_now_ms(),
				    .parts = &part,
				    .n_parts = 1};
	if (lt_envelope_seal(&in, &signer, &cfg, &env_buf, &env_len, digest, &err) != 0)
		goto fail;
	if (tamper) {
		Lienthong__Envelope *env = lienthong__envelope__unpack(NULL, env_len, env_buf);
		if (env == NULL || env->n_parts == 0 || env->parts[0]->data.len == 0) {
			lt_err_set(&err, LT_EINVAL, "cannot tamper an empty part");
			goto fail;
		}
		env->parts[0]->data.data[env->parts[0]->data.len / 2] ^= 0x01;
		lienthong__envelope__pack(env, env_buf);
		lienthong__envelope__free_unpacked(env, NULL);
	}
	rk = lt_kafka_producer_new(&cfg, lt_forge_on_dr, &dr, &err);
	if (rk == NULL)
		goto fail;
	lt_config_inbox_topic(&cfg, to, topic, sizeof topic);
	if (lt_kafka_produce(rk, topic, cfg.agency_code, strlen(cfg.agency_code), env_buf, env_len,
			     NULL, &err) != 0)
		goto fail;
	rd_kafka_flush(rk, 30000);
	rd_kafka_poll(rk, 0);
	if (!dr.done || dr.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		lt_err_set(&err, LT_EIO, "publishing failed: %s",
			   dr.done ? rd_kafka_err2str(dr.err) : "no delivery report");
		goto fail;
	}
	Lienthong__Store__StatusRecord rec = LIENTHONG__STORE__STATUS_RECORD__INIT;
	rec.status = LIENTHONG__STORE__DOC_STATUS__SENT;
	rec.queued_at_ms = rec.updated_at_ms = lt_now_ms();
	rec.partition = dr.partition;
	rec.offset = dr.offset;
	rec.subject = (char *)"forged";
	if (lt_store_open(&store, cfg.data_dir, cfg.lmdb_map_size, &err) != 0 ||
	    lt_txn_begin(store, 1, &t, &err) != 0 || lt_status_put(t, id, to, &rec, &err) != 0)
		goto fail;
	int crc = lt_txn_commit(t, &err);
	t = NULL;
	if (crc != 0)
		goto fail;
	printf("%s\n", id);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "lt-forge: %s\n", err.msg);
out:
	lt_txn_abort(t);
	lt_store_close(store);
	lt_kafka_destroy(rk);
	free(file);
	free(env_buf);
	lt_signer_free(&signer);
	lt_config_free(&cfg);
	return rc;
}
