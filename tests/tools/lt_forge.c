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
 *   --unsigned          remove the signature
 *   --part-name NAME    rename the first part to NAME after signing (any bytes)
 *   --subject TEXT      the document's subject (signed)
 *   --hold FILE         write the sealed envelope to FILE instead of publishing
 *                       it (with --record, recorded as sent all the same)
 *   --raw               FILE is an envelope as published (e.g. by --hold):
 *                       publish its bytes unchanged
 *   --streamed PART     (repeatable, up to 8) a large document: each PART file is a
 *                       streamed part (parts 0, 1, ... in order) and FILE the last,
 *                       inline part; publishes the signed manifest, then its chunk
 *                       records (as the forwarder would, same key), prints the id
 *   --chunk-bytes N     chunk size of the streamed parts (default: chunk_bytes)
 *   --skip-chunk P:I    never publish chunk I of part P
 *   --corrupt-chunk P:I publish a corrupted copy of chunk I of part P just before it
 *   --repeat-chunks     publish every chunk twice
 *   --reverse-chunks    publish the chunks of each part last to first
 *   --alien-chunk       also publish a chunk claiming another document id
 *   --pause-after N     publish the manifest and N chunks, then wait until the file
 *   --resume-file PATH  PATH exists before publishing the rest
 *   --key FILE --cert FILE  sign with this key and certificate instead of the
 *                       configured ones, without the checks lienthong's own
 *                       signer gets (purpose, CA, key file mode); the sender
 *                       is the certificate's CN
 *
 *   lt-forge -c FORGER.conf --to SENDER --reuse-id ID --receipt STATUS
 *            [--claim-recipient CODE] [--no-digest]
 *
 * publishes a receipt instead (delivered, rejected, failed or deferred) about
 * document ID of SENDER to SENDER's receipt topic, signed with the forger's
 * key, carrying the digest the forger has of ID in its own inbox (what a
 * co-recipient knows). --claim-recipient names CODE as the issuing recipient
 * (the signature stays the forger's); --no-digest leaves the digest out (and
 * signs that).
 *
 *   lt-forge -c RECIPIENT.conf --to SENDER --receipt-reason TEXT
 *            [--receipt-status deferred|failed|rejected|delivered] ENVELOPE
 *
 * plays a recipient that lies: signs (with its own key) a receipt for the
 * document in the file ENVELOPE (as published, its digest computed) with the
 * reason TEXT taken as it is (lienthong would escape it), and publishes it to
 * SENDER's receipt topic.
 * For tests only; never installed.
 */
#include <fcntl.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../broker-adapter/lt_kafka.h"
#include "../../clock/lt_clock.h"
#include "../../lifecycle/lt_lifecycle.h"
#include "../../log/lt_log.h"
#include "../../producers/lt_submitd.h"
#include "../../proto/lt_canon.h"
#include "../../proto/lt_envelope.h"
#include "../../proto/lt_receipt.h"
#include "../../store/lt_store.h"

struct lt_forge_dr {
	long done, failed;
	rd_kafka_resp_err_t err;
	int32_t partition;
	int64_t offset;
};

struct lt_forge_opts {
	const char *config, *to, *claim_sender, *reuse_id, *publish_to, *receipt, *claim_recipient;
	const char *part_name, *subject, *receipt_reason, *receipt_status, *key, *cert, *submit_to;
	const char *hold;
	int raw;
	int tamper, forge_signature, expired, record, huge_length, unsigned_, no_digest;
	int wrong_recipients, wrong_digest;
	long parts, truncate, random, count;
	const char *streamed[8];
	int n_streamed, repeat_chunks, reverse_chunks, alien_chunk;
	long chunk_bytes, skip_part, skip_index, corrupt_part, corrupt_index, pause_after;
	const char *resume_file;
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

/* Drops the signature: the envelope is packed again, shorter. */
static int lt_forge_unsign(uint8_t **buf, size_t *len, lt_err *err)
{
	Lienthong__Envelope *env = lienthong__envelope__unpack(NULL, *len, *buf);
	if (env == NULL)
		return lt_err_set(err, LT_EINVAL, "cannot unpack the sealed envelope");
	Lienthong__Signature *sig = env->signature;
	env->signature = NULL;
	*len = lienthong__envelope__pack(env, *buf);
	env->signature = sig;
	lienthong__envelope__free_unpacked(env, NULL);
	return 0;
}

struct lt_forge_digest {
	const char *sender, *id;
	uint8_t digest[LT_DIGEST_LEN];
	int found;
};

/* Finds the inbox record of document id from sender (its key ends with the id). */
static int lt_forge_digest_cb(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                              lt_err *err)
{
	struct lt_forge_digest *d = ctx;
	size_t idlen = strlen(d->id);
	(void)err;
	if (klen < idlen || memcmp((const char *)key + klen - idlen, d->id, idlen) != 0)
		return 0;
	Lienthong__Store__InboxRecord *r = lienthong__store__inbox_record__unpack(NULL, vlen, val);
	if (r != NULL && strcmp(r->sender, d->sender) == 0 && r->digest.len == LT_DIGEST_LEN) {
		memcpy(d->digest, r->digest.data, LT_DIGEST_LEN);
		d->found = 1;
	}
	if (r != NULL)
		lienthong__store__inbox_record__free_unpacked(r, NULL);
	return d->found;
}

/* The digest of document o->reuse_id from o->to as this agency received it. */
static int lt_forge_known_digest(const struct lt_forge_opts *o, const struct lt_config *cfg,
                                 uint8_t digest[LT_DIGEST_LEN], lt_err *err)
{
	struct lt_store *store = NULL;
	struct lt_txn *t = NULL;
	struct lt_forge_digest d = {.sender = o->to, .id = o->reuse_id};
	int rc = -1;
	if (lt_store_open(&store, cfg->data_dir, cfg->lmdb_map_size, err) != 0 ||
	    lt_txn_begin(store, 0, &t, err) != 0 ||
	    lt_txn_scan(t, LT_DB_INBOX, NULL, 0, lt_forge_digest_cb, &d, err) != 0)
		goto out;
	if (!d.found) {
		lt_err_set(err, LT_ENOTFOUND, "%s never received document %s from %s",
		           cfg->agency_code, o->reuse_id, o->to);
		goto out;
	}
	memcpy(digest, d.digest, LT_DIGEST_LEN);
	rc = 0;
out:
	lt_txn_abort(t);
	lt_store_close(store);
	return rc;
}

/* Seals the receipt the options describe (see the top of the file). */
static int lt_forge_receipt(const struct lt_forge_opts *o, const struct lt_config *cfg,
                            struct lt_signer *signer, uint8_t **buf, size_t *len, lt_err *err)
{
	uint8_t digest[LT_DIGEST_LEN] = {0}, *canon = NULL, *sig = NULL;
	size_t canon_len = 0, sig_len = 0;
	struct lt_receipt_in in = {.document_id = o->reuse_id,
	                           .sender = o->to,
	                           .time_ms = lt_now_ms(),
	                           .reason = "forged",
	                           .document_digest = digest};
	for (int s = 1; s <= 4 && in.status == 0; s++) {
		if (strcmp(o->receipt, lt_receipt_status_name((Lienthong__ReceiptStatus)s)) == 0)
			in.status = (Lienthong__ReceiptStatus)s;
	}
	if (in.status == 0 || o->reuse_id == NULL)
		return lt_err_set(err, LT_EINVAL, "--receipt wants a status and --reuse-id");
	if (!o->no_digest && lt_forge_known_digest(o, cfg, digest, err) != 0)
		return -1;
	if (o->claim_recipient != NULL)
		snprintf(signer->code, sizeof signer->code, "%s", o->claim_recipient);
	if (lt_receipt_seal(&in, signer, buf, len, err) != 0)
		return -1;
	if (!o->no_digest)
		return 0;
	/* The same receipt without its digest, signed as it is. */
	Lienthong__Receipt *r = lienthong__receipt__unpack(NULL, *len, *buf);
	ProtobufCBinaryData own_sig = {0};
	int rc = -1;
	if (r == NULL) {
		lt_err_set(err, LT_EINVAL, "cannot unpack the sealed receipt");
		goto out;
	}
	r->document_digest.len = 0;
	if (lt_canon_receipt(r, &canon, &canon_len, err) != 0 ||
	    lt_sign(signer, canon, canon_len, &sig, &sig_len, err) != 0)
		goto out;
	own_sig = r->signature->value;
	r->signature->value.data = sig;
	r->signature->value.len = sig_len;
	free(*buf);
	*len = lienthong__receipt__get_packed_size(r);
	*buf = malloc(*len);
	if (*buf == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		goto out;
	}
	lienthong__receipt__pack(r, *buf);
	rc = 0;
out:
	if (r != NULL) {
		/* As unpacked again, for free_unpacked. */
		r->document_digest.len = LT_DIGEST_LEN;
		if (own_sig.data != NULL)
			r->signature->value = own_sig;
		lienthong__receipt__free_unpacked(r, NULL);
	}
	free(sig);
	free(canon);
	return rc;
}

/* Renames the first part after signing; the envelope may change length. */
static int lt_forge_rename(const char *name, uint8_t **buf, size_t *len, lt_err *err)
{
	Lienthong__Envelope *env = lienthong__envelope__unpack(NULL, *len, *buf);
	if (env == NULL || env->n_parts == 0) {
		lienthong__envelope__free_unpacked(env, NULL);
		return lt_err_set(err, LT_EINVAL, "no part to rename");
	}
	char *own = env->parts[0]->name;
	env->parts[0]->name = (char *)name;
	size_t n = lienthong__envelope__get_packed_size(env);
	uint8_t *out = malloc(n);
	if (out != NULL)
		lienthong__envelope__pack(env, out);
	env->parts[0]->name = own; /* free_unpacked frees what unpack allocated */
	lienthong__envelope__free_unpacked(env, NULL);
	if (out == NULL)
		return lt_err_set(err, LT_EIO, "out of memory");
	free(*buf);
	*buf = out;
	*len = n;
	return 0;
}

/*
 * A receipt for the envelope in env_buf, signed by signer, with the reason as
 * given (no escaping, no cut): what a lying recipient can publish.
 */
static int lt_forge_lying_receipt(const struct lt_forge_opts *o, const struct lt_config *cfg,
                                  const struct lt_signer *signer, const uint8_t *env_buf,
                                  size_t env_len, uint8_t **out, size_t *out_len, lt_err *err)
{
	Lienthong__Envelope *env = NULL;
	Lienthong__Receipt r = LIENTHONG__RECEIPT__INIT;
	Lienthong__Signature sig = LIENTHONG__SIGNATURE__INIT;
	uint8_t *canon = NULL, *sigval = NULL, digest[LT_DIGEST_LEN];
	size_t canon_len = 0, sig_len = 0;
	const char *st = o->receipt_status ? o->receipt_status : "deferred";
	int rc = -1;
	r.status = strcmp(st, "failed") == 0      ? LIENTHONG__RECEIPT_STATUS__RECEIPT_FAILED
	           : strcmp(st, "rejected") == 0  ? LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED
	           : strcmp(st, "delivered") == 0 ? LIENTHONG__RECEIPT_STATUS__RECEIPT_DELIVERED
	                                          : LIENTHONG__RECEIPT_STATUS__RECEIPT_DEFERRED;
	if (lt_envelope_decode(env_buf, env_len, cfg, &env, err) != 0 ||
	    lt_canon_envelope(env, &canon, &canon_len, err) != 0)
		goto out;
	SHA256(canon, canon_len, digest);
	free(canon);
	canon = NULL;
	r.version = 1;
	r.document_id = env->header->document_id;
	r.sender = env->header->sender;
	r.recipient = (char *)signer->code;
	r.time_ms = lt_now_ms();
	r.reason = (char *)o->receipt_reason;
	r.document_digest.data = digest;
	r.document_digest.len = LT_DIGEST_LEN;
	if (lt_canon_receipt(&r, &canon, &canon_len, err) != 0 ||
	    lt_sign(signer, canon, canon_len, &sigval, &sig_len, err) != 0)
		goto out;
	sig.algorithm = (char *)signer->algorithm;
	sig.signer_certificate.data = signer->cert_der;
	sig.signer_certificate.len = signer->cert_der_len;
	sig.value.data = sigval;
	sig.value.len = sig_len;
	r.signature = &sig;
	*out_len = lienthong__receipt__get_packed_size(&r);
	if ((*out = malloc(*out_len)) == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		goto out;
	}
	lienthong__receipt__pack(&r, *out);
	rc = 0;
out:
	free(sigval);
	free(canon);
	if (env != NULL)
		lienthong__envelope__free_unpacked(env, NULL);
	return rc;
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
	                                     {"count", required_argument, NULL, 'M'},
	                                     {"submit-to", required_argument, NULL, 'O'},
	                                     {"wrong-recipients", no_argument, NULL, 'X'},
	                                     {"wrong-digest", no_argument, NULL, 'G'},
	                                     {"record", no_argument, NULL, 'r'},
	                                     {"unsigned", no_argument, NULL, 'u'},
	                                     {"receipt", required_argument, NULL, 'P'},
	                                     {"claim-recipient", required_argument, NULL, 'C'},
	                                     {"no-digest", no_argument, NULL, 'D'},
	                                     {"part-name", required_argument, NULL, 'N'},
	                                     {"subject", required_argument, NULL, 'S'},
	                                     {"receipt-reason", required_argument, NULL, 'W'},
	                                     {"receipt-status", required_argument, NULL, 'Y'},
	                                     {"key", required_argument, NULL, 'K'},
	                                     {"cert", required_argument, NULL, 'E'},
	                                     {"hold", required_argument, NULL, 'L'},
	                                     {"raw", no_argument, NULL, 'A'},
	                                     {"streamed", required_argument, NULL, 1000},
	                                     {"chunk-bytes", required_argument, NULL, 1001},
	                                     {"skip-chunk", required_argument, NULL, 1002},
	                                     {"corrupt-chunk", required_argument, NULL, 1003},
	                                     {"repeat-chunks", no_argument, NULL, 1004},
	                                     {"reverse-chunks", no_argument, NULL, 1005},
	                                     {"alien-chunk", no_argument, NULL, 1006},
	                                     {"pause-after", required_argument, NULL, 1007},
	                                     {"resume-file", required_argument, NULL, 1008},
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
		case 'M':
			o->count = strtol(optarg, NULL, 10);
			break;
		case 'O':
			o->submit_to = optarg;
			break;
		case 'X':
			o->wrong_recipients = 1;
			break;
		case 'G':
			o->wrong_digest = 1;
			break;
		case 'r':
			o->record = 1;
			break;
		case 'u':
			o->unsigned_ = 1;
			break;
		case 'P':
			o->receipt = optarg;
			break;
		case 'C':
			o->claim_recipient = optarg;
			break;
		case 'D':
			o->no_digest = 1;
			break;
		case 'N':
			o->part_name = optarg;
			break;
		case 'S':
			o->subject = optarg;
			break;
		case 'W':
			o->receipt_reason = optarg;
			break;
		case 'Y':
			o->receipt_status = optarg;
			break;
		case 'K':
			o->key = optarg;
			break;
		case 'E':
			o->cert = optarg;
			break;
		case 'L':
			o->hold = optarg;
			break;
		case 'A':
			o->raw = 1;
			break;
		case 1000:
			if (o->n_streamed == 8)
				return -1;
			o->streamed[o->n_streamed++] = optarg;
			break;
		case 1001:
			o->chunk_bytes = strtol(optarg, NULL, 10);
			break;
		case 1002:
			if (sscanf(optarg, "%ld:%ld", &o->skip_part, &o->skip_index) != 2)
				return -1;
			break;
		case 1003:
			if (sscanf(optarg, "%ld:%ld", &o->corrupt_part, &o->corrupt_index) != 2)
				return -1;
			break;
		case 1004:
			o->repeat_chunks = 1;
			break;
		case 1005:
			o->reverse_chunks = 1;
			break;
		case 1006:
			o->alien_chunk = 1;
			break;
		case 1007:
			o->pause_after = strtol(optarg, NULL, 10);
			break;
		case 1008:
			o->resume_file = optarg;
			break;
		default:
			return -1;
		}
	}
	if (o->config == NULL || o->to == NULL || optind != argc - (o->receipt == NULL) ||
	    (o->key == NULL) != (o->cert == NULL))
		return -1;
	if (o->parts <= 0)
		o->parts = 1;
	if (o->count <= 0 || o->random <= 0)
		o->count = 1;
	return 0;
}

/* Seals FILE as a document of the forger and applies the modes; *id gets its id. */
static int lt_forge_document(const struct lt_forge_opts *o, const char *path, struct lt_config *cfg,
                             struct lt_signer *signer, const char *id,
                             const char *const *recipients, size_t n_recipients, int64_t now,
                             uint8_t **env_buf, size_t *env_len, uint8_t digest[LT_DIGEST_LEN],
                             lt_err *err)
{
	struct lt_part_in *parts = NULL;
	char(*names)[32] = NULL;
	uint8_t *file = NULL;
	size_t file_len = 0;
	int rc = -1;
	if ((file = lt_forge_read(path, &file_len)) == NULL) {
		lt_err_set(err, LT_EIO, "cannot read %s", path);
		goto out;
	}
	parts = calloc((size_t)o->parts, sizeof *parts);
	names = calloc((size_t)o->parts, sizeof *names);
	if (parts == NULL || names == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		goto out;
	}
	for (long i = 0; i < o->parts; i++) {
		snprintf(names[i], sizeof names[i], o->parts == 1 ? "forged.bin" : "part-%ld",
		         i + 1);
		parts[i] = (struct lt_part_in){.name = names[i],
		                               .media_type = "application/octet-stream",
		                               .data = file,
		                               .len = file_len};
	}
	/* The sealing limits are the attacker's, not the recipient's. */
	cfg->max_parts = 1000000;
	cfg->max_message_bytes = 64 << 20;
	struct lt_envelope_in in = {.document_id = id,
	                            .recipients = recipients,
	                            .n_recipients = n_recipients,
	                            .subject = o->subject ? o->subject : "forged",
	                            .created_at_ms = now,
	                            .expires_at_ms = o->expired ? now - 1000 : 0,
	                            .parts = parts,
	                            .n_parts = (size_t)o->parts};
	if (lt_envelope_seal(&in, signer, cfg, env_buf, env_len, digest, err) != 0 ||
	    lt_forge_mutate(o, *env_buf, *env_len, err) != 0 ||
	    (o->unsigned_ && lt_forge_unsign(env_buf, env_len, err) != 0) ||
	    (o->part_name != NULL && lt_forge_rename(o->part_name, env_buf, env_len, err) != 0))
		goto out;
	if (o->truncate > 0 && (size_t)o->truncate < *env_len)
		*env_len = (size_t)o->truncate;
	if (o->random > 0) {
		free(*env_buf);
		*env_len = (size_t)o->random;
		*env_buf = malloc(*env_len);
		if (*env_buf == NULL || RAND_bytes(*env_buf, (int)*env_len) != 1) {
			lt_err_set(err, LT_EIO, "no random bytes");
			goto out;
		}
	}
	if (o->huge_length) {
		/* version 1, then field 3 (parts, length-delimited) claiming 2^30 bytes. */
		static const uint8_t huge[] = {0x08, 0x01, 0x1a, 0x80, 0x80, 0x80,
		                               0x80, 0x04, 0x0a, 0x01, 'x'};
		memcpy(*env_buf, huge, sizeof huge);
		*env_len = sizeof huge;
	}
	rc = 0;
out:
	free(parts);
	free(names);
	free(file);
	return rc;
}

/* --record: the document is recorded as sent to each recipient, as the agent would. */
static int lt_forge_record(const struct lt_config *cfg, const char *id,
                           const char *const *recipients, size_t n_recipients,
                           const uint8_t digest[LT_DIGEST_LEN], const struct lt_forge_dr *dr,
                           int64_t now, lt_err *err)
{
	struct lt_store *store = NULL;
	struct lt_txn *t = NULL;
	int rc = -1;
	struct lt_life_change submitted = {
	    .event = LT_LIFE_SUBMITTED, .at_ms = now, .digest = digest, .subject = "forged"};
	struct lt_life_change ack = {.event = LT_LIFE_KAFKA_ACK,
	                             .at_ms = now,
	                             .partition = dr->partition,
	                             .offset = dr->offset};
	if (lt_store_open(&store, cfg->data_dir, cfg->lmdb_map_size, err) != 0 ||
	    lt_txn_begin(store, 1, &t, err) != 0)
		goto out;
	for (size_t i = 0; i < n_recipients; i++) {
		int v = lt_life_apply(t, id, recipients[i], &submitted, err);
		if (v == LT_LIFE_MOVED)
			v = lt_life_apply(t, id, recipients[i], &ack, err);
		if (v != LT_LIFE_MOVED) {
			if (v >= 0)
				lt_err_set(err, LT_ECONFLICT, "cannot record %s as sent to %s: %s",
				           id, recipients[i], lt_life_verdict_name(v));
			goto out;
		}
	}
	rc = lt_txn_commit(t, err);
	t = NULL;
out:
	lt_txn_abort(t);
	lt_store_close(store);
	return rc;
}

/* Reads a whole file into memory; NULL on failure (or when it is empty). */
static uint8_t *lt_forge_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (*len = (size_t)ftell(f)) == 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc(*len)) == NULL ||
	    fread(buf, 1, *len, f) != *len) {
		free(buf);
		buf = NULL;
	}
	if (f != NULL)
		fclose(f);
	return buf;
}

/* Publishes one record to topic with the sender's key, waiting when the queue is full. */
static int lt_forge_publish(rd_kafka_t *rk, const char *topic, const char *key, const uint8_t *buf,
                            size_t len, lt_err *err)
{
	while (lt_kafka_produce(rk, topic, key, strlen(key), buf, len, NULL, err) != 0) {
		if (err->code != LT_EFULL)
			return -1;
		rd_kafka_poll(rk, 100);
	}
	rd_kafka_poll(rk, 0);
	return 0;
}

/* Publishes chunk index of part (data, len) of document id; corrupt: one byte changed. */
static int lt_forge_chunk(rd_kafka_t *rk, const char *topic, const char *sender, const char *id,
                          uint32_t part, uint32_t index, const uint8_t *data, size_t len,
                          int corrupt, long *published, lt_err *err)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	if (lt_chunk_pack(id, sender, part, index, data, len, &buf, &n, err) != 0)
		return -1;
	if (corrupt)
		buf[n - 1] ^= 0x5a; /* the last byte of the data */
	int rc = lt_forge_publish(rk, topic, sender, buf, n, err);
	free(buf);
	*published += rc == 0;
	return rc;
}

/*
 * --streamed: seals a document whose --streamed files are streamed parts and
 * FILE the inline last part, publishes the manifest and the chunks as the
 * modes say. *published counts the records.
 */
static int lt_forge_stream(const struct lt_forge_opts *o, const char *path, struct lt_config *cfg,
                           const struct lt_signer *signer, const char *id,
                           const char *const *recipients, size_t n_recipients, int64_t now,
                           rd_kafka_t *rk, const char *topic, long *published, lt_err *err)
{
	struct lt_part_in parts[9] = {{0}};
	uint8_t sha[9][LT_DIGEST_LEN], *chunk_sha[9] = {0}, *env = NULL, *inline_data = NULL;
	uint8_t *buf = NULL;
	int fds[9] = {-1, -1, -1, -1, -1, -1, -1, -1, -1};
	size_t n = (size_t)o->n_streamed + 1, env_len = 0, inline_len = 0;
	uint32_t cb = (uint32_t)(o->chunk_bytes > 0 ? o->chunk_bytes : cfg->chunk_bytes);
	char names[9][32], alien[LT_DOCID_LEN + 1];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;
	if (ctx == NULL || (buf = malloc(cb)) == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		goto out;
	}
	for (size_t p = 0; p < n; p++) {
		snprintf(names[p], sizeof names[p], "part-%zu.bin", p + 1);
		parts[p] =
		    (struct lt_part_in){.name = names[p], .media_type = "application/octet-stream"};
		if (p + 1 == n) { /* the inline part */
			if ((inline_data = lt_forge_slurp(path, &inline_len)) == NULL) {
				lt_err_set(err, LT_EIO, "cannot read %s (or it is empty)", path);
				goto out;
			}
			parts[p].data = inline_data;
			parts[p].len = inline_len;
			break;
		}
		/* A streamed part is read a chunk at a time, as the sender's forwarder does. */
		struct stat st;
		if ((fds[p] = open(o->streamed[p], O_RDONLY)) < 0 || fstat(fds[p], &st) != 0 ||
		    st.st_size == 0) {
			lt_err_set(err, LT_EIO, "cannot read %s (or it is empty)", o->streamed[p]);
			goto out;
		}
		size_t len = (size_t)st.st_size;
		uint64_t k = lt_part_chunks(len, cb);
		if ((chunk_sha[p] = malloc((size_t)k * LT_DIGEST_LEN)) == NULL) {
			lt_err_set(err, LT_EIO, "out of memory");
			goto out;
		}
		EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
		for (uint64_t i = 0; i < k; i++) {
			size_t at = (size_t)i * cb, clen = len - at < cb ? len - at : cb;
			if (pread(fds[p], buf, clen, (off_t)at) != (ssize_t)clen) {
				lt_err_set(err, LT_EIO, "cannot read %s", o->streamed[p]);
				goto out;
			}
			SHA256(buf, clen, chunk_sha[p] + i * LT_DIGEST_LEN);
			EVP_DigestUpdate(ctx, buf, clen);
		}
		EVP_DigestFinal_ex(ctx, sha[p], NULL);
		parts[p].len = len;
		parts[p].chunk_bytes = cb;
		parts[p].sha256 = sha[p];
		parts[p].chunk_sha256 = chunk_sha[p];
	}
	cfg->max_parts = 1000000;
	cfg->max_message_bytes = 64 << 20;
	struct lt_envelope_in in = {.document_id = id,
	                            .recipients = recipients,
	                            .n_recipients = n_recipients,
	                            .subject = o->subject ? o->subject : "forged, streamed",
	                            .created_at_ms = now,
	                            .expires_at_ms = o->expired ? now - 1000 : 0,
	                            .parts = parts,
	                            .n_parts = n};
	uint8_t digest[LT_DIGEST_LEN];
	if (lt_envelope_seal(&in, signer, cfg, &env, &env_len, digest, err) != 0 ||
	    lt_forge_publish(rk, topic, signer->code, env, env_len, err) != 0)
		goto out;
	++*published;
	if (o->alien_chunk &&
	    (lt_docid_new(alien, err) != 0 || pread(fds[0], buf, cb, 0) != (ssize_t)cb ||
	     lt_forge_chunk(rk, topic, signer->code, alien, 0, 0, buf, cb, 0, published, err) != 0))
		goto out;
	long sent = 0;
	for (size_t p = 0; p + 1 < n; p++) {
		uint64_t k = lt_part_chunks(parts[p].len, cb);
		for (uint64_t j = 0; j < k; j++) {
			uint64_t i = o->reverse_chunks ? k - 1 - j : j;
			size_t at = (size_t)i * cb,
			       clen = parts[p].len - at < cb ? parts[p].len - at : cb;
			if ((long)p == o->skip_part && (long)i == o->skip_index)
				continue;
			if (sent == o->pause_after && o->resume_file != NULL) {
				rd_kafka_flush(rk, 60000);
				fprintf(stderr, "lt-forge: paused after %ld chunk(s)\n", sent);
				while (access(o->resume_file, F_OK) != 0)
					usleep(100000);
			}
			if (pread(fds[p], buf, clen, (off_t)at) != (ssize_t)clen) {
				lt_err_set(err, LT_EIO, "cannot read %s", o->streamed[p]);
				goto out;
			}
			int corrupt = (long)p == o->corrupt_part && (long)i == o->corrupt_index;
			for (int copy = corrupt ? -1 : 0; copy < (o->repeat_chunks ? 2 : 1);
			     copy++) {
				if (lt_forge_chunk(rk, topic, signer->code, id, (uint32_t)p,
				                   (uint32_t)i, buf, clen, copy < 0, published,
				                   err) != 0)
					goto out;
			}
			sent++;
		}
	}
	rc = 0;
out:
	for (size_t p = 0; p < n; p++) {
		if (fds[p] >= 0)
			close(fds[p]);
		free(chunk_sha[p]);
	}
	EVP_MD_CTX_free(ctx);
	free(inline_data);
	free(buf);
	free(env);
	return rc;
}

int main(int argc, char **argv)
{
	struct lt_forge_opts o = {.skip_part = -1, .corrupt_part = -1, .pause_after = -1};
	lt_log_init(argv[0], LT_LOG_WARN);
	if (lt_forge_parse(argc, argv, &o) != 0) {
		fprintf(stderr, "usage: lt-forge -c SENDER.conf --to CODE[,CODE] [mode...] "
		                "[--record] FILE (modes: see tests/tools/lt_forge.c)\n");
		return 2;
	}
	static struct lt_config cfg;
	struct lt_signer signer = {0};
	rd_kafka_t *rk = NULL;
	uint8_t *buf = NULL, digest[LT_DIGEST_LEN];
	size_t len = 0;
	char id[LT_DOCID_LEN + 1], topic[LT_TOPIC_MAX + 1], to[512];
	const char *recipients[16];
	size_t n_recipients = 0;
	struct lt_forge_dr dr = {0};
	lt_err err;
	int rc = 1;
	int64_t now = lt_now_ms();

	snprintf(to, sizeof to, "%s", o.to);
	for (char *save = NULL, *tok = strtok_r(to, ",", &save); tok && n_recipients < 16;
	     tok = strtok_r(NULL, ",", &save))
		recipients[n_recipients++] = tok;
	if (lt_config_load(&cfg, o.config, &err) != 0 ||
	    lt_signer_load_any(&signer, o.key ? o.key : cfg.key_file,
	                       o.cert ? o.cert : cfg.cert_file, &err) != 0 ||
	    lt_docid_new(id, &err) != 0)
		goto fail;
	if (o.reuse_id != NULL)
		snprintf(id, sizeof id, "%s", o.reuse_id);
	if (o.receipt_reason != NULL) {
		size_t env_len = 0;
		uint8_t *env = lt_forge_read(argv[optind], &env_len);
		int frc = env == NULL ? lt_err_set(&err, LT_EIO, "cannot read %s", argv[optind])
		                      : lt_forge_lying_receipt(&o, &cfg, &signer, env, env_len,
		                                               &buf, &len, &err);
		free(env);
		if (frc != 0)
			goto fail;
		lt_config_receipt_topic(&cfg, recipients[0], topic, sizeof topic);
	} else if (o.receipt != NULL) {
		if (lt_forge_receipt(&o, &cfg, &signer, &buf, &len, &err) != 0)
			goto fail;
		lt_config_receipt_topic(&cfg, recipients[0], topic, sizeof topic);
	} else if (o.n_streamed > 0) {
		long published = 0;
		lt_config_inbox_topic(&cfg, o.publish_to ? o.publish_to : recipients[0], topic,
		                      sizeof topic);
		if (o.claim_sender != NULL)
			snprintf(signer.code, sizeof signer.code, "%s", o.claim_sender);
		if ((rk = lt_kafka_producer_new(&cfg, lt_forge_on_dr, &dr, &err)) == NULL ||
		    lt_forge_stream(&o, argv[optind], &cfg, &signer, id, recipients, n_recipients,
		                    now, rk, topic, &published, &err) != 0)
			goto fail;
		rd_kafka_flush(rk, 120000);
		rd_kafka_poll(rk, 0);
		if (dr.done != published || dr.failed != 0) {
			lt_err_set(&err, LT_EIO, "publishing failed: %ld of %ld acknowledged: %s",
			           dr.done, published,
			           dr.failed ? rd_kafka_err2str(dr.err) : "no delivery report");
			goto fail;
		}
		printf("%s\n", id);
		rc = 0;
		goto out;
	} else if (o.raw) {
		if ((buf = lt_forge_read(argv[optind], &len)) == NULL) {
			lt_err_set(&err, LT_EIO, "cannot read %s", argv[optind]);
			goto fail;
		}
		lt_config_inbox_topic(&cfg, o.publish_to ? o.publish_to : recipients[0], topic,
		                      sizeof topic);
	} else {
		if (o.claim_sender != NULL)
			snprintf(signer.code, sizeof signer.code, "%s", o.claim_sender);
		if (lt_forge_document(&o, argv[optind], &cfg, &signer, id, recipients, n_recipients,
		                      now, &buf, &len, digest, &err) != 0)
			goto fail;
		lt_config_inbox_topic(&cfg, o.publish_to ? o.publish_to : recipients[0], topic,
		                      sizeof topic);
	}
	if (o.submit_to != NULL) {
		if (lt_forge_submit(&o, id, buf, len, digest, recipients, n_recipients, &err) != 0)
			goto fail;
		printf("%s\n", id);
		rc = 0;
		goto out;
	}
	if (o.hold != NULL) {
		FILE *f = fopen(o.hold, "wb");
		int bad = f == NULL || fwrite(buf, 1, len, f) != len;
		if ((f != NULL && fclose(f) != 0) || bad) {
			lt_err_set(&err, LT_EIO, "cannot write %s", o.hold);
			goto fail;
		}
		dr.offset = -1;
		dr.done = o.count;
	} else {
		rk = lt_kafka_producer_new(&cfg, lt_forge_on_dr, &dr, &err);
		if (rk == NULL)
			goto fail;
		for (long i = 0; i < o.count; i++) {
			if (i > 0 && RAND_bytes(buf, (int)len) != 1) {
				lt_err_set(&err, LT_EIO, "no random bytes");
				goto fail;
			}
			/* A bounded producer queue: wait for acknowledgements when it is full. */
			while (lt_kafka_produce(rk, topic, cfg.agency_code, strlen(cfg.agency_code),
			                        buf, len, NULL, &err) != 0) {
				if (err.code != LT_EFULL)
					goto fail;
				rd_kafka_poll(rk, 100);
			}
			rd_kafka_poll(rk, 0);
		}
		rd_kafka_flush(rk, 60000);
		rd_kafka_poll(rk, 0);
	}
	if (dr.done != o.count || dr.failed != 0) {
		lt_err_set(&err, LT_EIO, "publishing failed: %ld of %ld acknowledged: %s", dr.done,
		           o.count, dr.failed ? rd_kafka_err2str(dr.err) : "no delivery report");
		goto fail;
	}
	if (o.record && o.receipt == NULL && !o.raw &&
	    lt_forge_record(&cfg, id, recipients, n_recipients, digest, &dr, now, &err) != 0)
		goto fail;
	printf("%s\n", id);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "lt-forge: %s\n", err.msg);
out:
	lt_kafka_destroy(rk, 0);
	free(buf);
	lt_signer_free(&signer);
	lt_config_free(&cfg);
	return rc;
}
