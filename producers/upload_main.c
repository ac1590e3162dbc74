/*
 * lienthong-upload: submits documents to the agency's outbox.
 *
 * Each FILE becomes one document with one part, signed with the agency's key
 * and written durably to the outbox (LMDB, fsync'd) before its id is
 * printed; the agent forwards it whenever Kafka can be reached, so this works
 * while the agent or the link is down. All FILEs are checked first (exist,
 * regular, small enough); if any is not, nothing is submitted. Then they are
 * read, signed and committed in batches that share one fsync, so memory stays
 * bounded by one batch whatever the number of files. While the agent runs,
 * batches go through its submission service, which commits the batches of
 * concurrent uploads together (lt_submitd.h).
 *
 * A file whose signed envelope would not fit one record (max_message_bytes)
 * becomes a streamed part: it is copied into the spool (producers/lt_spool.h)
 * while its SHA-256 and its chunks' are computed, and the envelope signs
 * those digests (a manifest); memory stays one chunk (chunk_bytes), never the
 * file. A spool whose submission fails is removed.
 *
 * Trusts its configuration and key; reads files with a size ceiling
 * (max_document_bytes).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../clock/lt_clock.h"
#include "../log/lt_log.h"
#include "../pki/lt_pki.h"
#include "../proto/lt_crypt.h"
#include "../proto/lt_envelope.h"
#include "lt_spool.h"
#include "lt_submit.h"
#include "lt_submitd.h"

#define LT_UPLOAD_BATCH 256               /* documents per commit, at most */
#define LT_UPLOAD_BATCH_BYTES (16u << 20) /* and about this many bytes */

struct lt_upload_doc {
	char id[LT_DOCID_LEN + 1];
	uint8_t *file;
	size_t file_len;
	uint8_t *envelope;
	size_t envelope_len;
	uint8_t digest[LT_DIGEST_LEN];
	uint64_t spooled; /* bytes in the spool of id not yet submitted (removed on failure) */
};

static void lt_upload_usage(FILE *out)
{
	fprintf(out,
	        "Usage: lienthong-upload -c FILE --to CODE[,CODE...] [options] FILE...\n"
	        "\n"
	        "Submits one document per FILE for the given recipient agencies: signs it with\n"
	        "the agency's key and stores it durably in the outbox, then prints one line per\n"
	        "document:  <document id> <TAB> <FILE>\n"
	        "The running agent forwards it to Kafka; lienthong-status shows where it is.\n"
	        "Works while the agent is stopped. If any FILE cannot be read or signed,\n"
	        "nothing is submitted and the exit status is 1.\n"
	        "\n"
	        "Options:\n"
	        "  -c, --config FILE     the agency's configuration file (required)\n"
	        "  -t, --to CODES        recipient agency codes, comma-separated (required)\n"
	        "  -s, --subject TEXT    subject (default: the file name)\n"
	        "  -n, --number TEXT     official document number/symbol (default: none)\n"
	        "  -m, --type MIME       media type of the files (default: from the file\n"
	        "                        extension, else application/octet-stream)\n"
	        "  -e, --expires-in SEC  recipients reject the document after SEC seconds\n"
	        "      --recall ID       recall document ID (sent before to the --to agencies):\n"
	        "                        no FILE; each recipient answers 15 (agreed) or 16\n"
	        "      --update ID       send corrected metadata of document ID (--subject,\n"
	        "                        --number): no FILE; answered 15 or 16\n"
	        "      --replaces ID     the one FILE is a new document that supersedes ID\n"
	        "                        (delivered; ID is answered 15 or 16)\n"
	        "  -h, --help            this text\n"
	        "\n"
	        "A recall, update or replacement moves ID's status to recall-requested (13)\n"
	        "until the recipient answers; it is refused when ID was not sent to a --to\n"
	        "agency or its status allows none (refused, rejected, recalled). It prints\n"
	        "the id of the request (a document of its own, with its own status).\n"
	        "\n"
	        "Limits: a file may have up to max_document_bytes (configuration); one whose\n"
	        "signed document would not fit max_message_bytes is streamed: copied into\n"
	        "<data_dir>/spool, sent in chunks of chunk_bytes. Streamed files cannot be\n"
	        "encrypted yet.\n");
}

static const char *lt_upload_media_type(const char *name)
{
	static const char *const map[][2] = {
	    {".pdf", "application/pdf"},
	    {".xml", "application/xml"},
	    {".json", "application/json"},
	    {".txt", "text/plain"},
	    {".doc", "application/msword"},
	    {".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
	    {".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
	    {".png", "image/png"},
	    {".jpg", "image/jpeg"},
	    {".zip", "application/zip"},
	};
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot != NULL && i < sizeof map / sizeof map[0]; i++) {
		if (strcasecmp(dot, map[i][0]) == 0)
			return map[i][1];
	}
	return "application/octet-stream";
}

static int lt_upload_read(const char *path, size_t max, uint8_t **out, size_t *len, lt_err *err)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	if (f == NULL)
		return lt_err_errno(err, errno, "cannot open %s", path);
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return lt_err_set(err, LT_EINVAL, "%s is not a regular file", path);
	}
	if ((size_t)st.st_size > max) {
		fclose(f);
		return lt_err_set(err, LT_EFULL,
		                  "%s has %lld bytes; a document may have at most %zu "
		                  "(max_message_bytes less envelope overhead)",
		                  path, (long long)st.st_size, max);
	}
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	size_t n = buf ? fread(buf, 1, (size_t)st.st_size + 1, f) : 0;
	int bad = buf == NULL || ferror(f) || n != (size_t)st.st_size;
	fclose(f);
	if (bad) {
		free(buf);
		return lt_err_set(err, LT_EIO, "cannot read %s (changed while reading?)", path);
	}
	*out = buf;
	*len = n;
	return 0;
}

/* Splits "A,B,C" into codes (in place), checking each. */
static int lt_upload_recipients(const struct lt_config *cfg, char *list, const char **codes,
                                size_t max, size_t *n, lt_err *err)
{
	*n = 0;
	for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (*n == max)
			return lt_err_set(err, LT_EINVAL, "more than %zu recipients", max);
		if (lt_config_check_code(cfg, tok, err) != 0)
			return lt_err_wrap(err, "--to");
		for (size_t i = 0; i < *n; i++) {
			if (strcmp(codes[i], tok) == 0)
				return lt_err_set(err, LT_EINVAL, "--to names %s twice", tok);
		}
		codes[(*n)++] = tok;
	}
	if (*n == 0)
		return lt_err_set(err, LT_EINVAL, "--to names no recipient");
	return 0;
}

/*
 * Makes a batch durable: through the running agent, which commits concurrent
 * submissions together (one fsync), or, when no agent listens or it went
 * away mid-way, straight into the store (the same bytes twice are accepted).
 */
static int lt_upload_commit(const struct lt_config *cfg, struct lt_store *store,
                            const struct lt_submit_doc *docs, size_t n, int64_t now, lt_err *err)
{
	if (lt_submitd_send(cfg, docs, n, err) == 0)
		return 0;
	if (err->code != LT_ENOTFOUND && err->code != LT_EAGAIN)
		return -1;
	return lt_submit(store, docs, n, now, err);
}

/* What every document of one invocation shares. */
struct lt_upload_opts {
	const char *const *recipients;
	size_t n_recipients;
	const char *subject, *number, *type;
	long long expires_in;
	STACK_OF(X509) * encrypt_to; /* NULL: parts travel in the clear (TLS aside) */
	const char *replaces_id;     /* --recall, --update, --replaces: the document concerned */
	Lienthong__BusinessType business_type;
};

/* The largest file carried in the envelope: room for header, certificate, signature. */
static size_t lt_upload_inline_max(const struct lt_config *cfg, const struct lt_signer *signer)
{
	size_t overhead = 4096 + signer->cert_der_len;
	return (size_t)cfg->max_message_bytes > overhead ? (size_t)cfg->max_message_bytes - overhead
	                                                 : 0;
}

/*
 * Copies the file at path into the spool of document id as part `index`
 * (lt_spool.h): part (name and type set by the caller) gets its size and
 * digests, which point into sp (the caller frees it with lt_spool_part_free).
 */
static int lt_upload_spool(const struct lt_config *cfg, const char *path, const char *id,
                           uint32_t index, struct lt_part_in *part, struct lt_spool_part *sp,
                           lt_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lt_err_errno(err, errno, "cannot open %s", path);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return lt_err_set(err, LT_EINVAL, "%s is not a regular file", path);
	}
	if (st.st_size > cfg->max_document_bytes) {
		close(fd);
		return lt_err_set(err, LT_EFULL,
		                  "%s has %lld bytes; a document may have at most %lld "
		                  "(max_document_bytes)",
		                  path, (long long)st.st_size, (long long)cfg->max_document_bytes);
	}
	struct lt_spool_src src = {
	    .index = index, .fd = fd, .name = path, .size = (uint64_t)st.st_size};
	int rc = lt_spool_write(cfg->data_dir, id, (uint32_t)cfg->chunk_bytes, &src, 1, sp, err);
	close(fd);
	if (rc != 0)
		return -1;
	part->data = NULL;
	part->len = sp->size;
	part->chunk_bytes = sp->chunk_bytes;
	part->sha256 = sp->sha256;
	part->chunk_sha256 = sp->chunk_sha256;
	return 0;
}

/*
 * Removes the spool of a document whose submission failed, unless the store
 * has it after all (the agent committed it, then went away before saying so).
 */
static void lt_upload_unspool(const struct lt_config *cfg, struct lt_store *store, const char *id)
{
	struct lt_txn *t = NULL;
	const void *v = NULL;
	size_t vlen;
	lt_err err;
	if (store != NULL &&
	    (lt_txn_begin(store, 0, &t, &err) != 0 ||
	     lt_txn_get(t, LT_DB_DOCS, id, strlen(id), &v, &vlen, &err) != 0 || v != NULL)) {
		lt_txn_abort(t);
		return; /* when in doubt the agent's orphan sweep decides */
	}
	lt_txn_abort(t);
	if (lt_spool_remove(cfg->data_dir, id, &err) != 0)
		lt_log_warn("%s", err.msg);
}

/* Reads and signs one file into d and its submission record. */
static int lt_upload_seal(const struct lt_config *cfg, const struct lt_signer *signer,
                          const struct lt_upload_opts *o, const char *path, int64_t now,
                          struct lt_upload_doc *d, struct lt_submit_doc *sub, lt_err *err)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t max = lt_upload_inline_max(cfg, signer);
	struct stat st;
	struct lt_spool_part sp = {0};
	struct lt_part_in part = {.name = base,
	                          .media_type = o->type ? o->type : lt_upload_media_type(base)};
	if (lt_docid_new(d->id, err) != 0)
		return -1;
	if (stat(path, &st) == 0 && (uint64_t)st.st_size > max) {
		if (lt_upload_spool(cfg, path, d->id, 0, &part, &sp, err) != 0)
			return -1;
		d->spooled = sp.size;
	} else {
		if (lt_upload_read(path, max, &d->file, &d->file_len, err) != 0)
			return -1;
		part.data = d->file;
		part.len = d->file_len;
	}
	struct lt_envelope_in in = {
	    .document_id = d->id,
	    .recipients = o->recipients,
	    .n_recipients = o->n_recipients,
	    .subject = o->subject ? o->subject : base,
	    .document_number = o->number,
	    .created_at_ms = now,
	    .expires_at_ms = o->expires_in ? now + o->expires_in * 1000 : 0,
	    .parts = &part,
	    .n_parts = 1,
	    .encrypt_to = o->encrypt_to,
	    .replaces_id = o->replaces_id,
	    .business_type = o->business_type,
	};
	int rc = lt_envelope_seal(&in, signer, cfg, &d->envelope, &d->envelope_len, d->digest, err);
	lt_spool_part_free(&sp);
	if (rc != 0) {
		lt_err rm;
		if (d->spooled > 0 && lt_spool_remove(cfg->data_dir, d->id, &rm) == 0)
			d->spooled = 0;
		return lt_err_wrap(err, "%s", path);
	}
	*sub = (struct lt_submit_doc){.document_id = d->id,
	                              .envelope = d->envelope,
	                              .len = d->envelope_len,
	                              .digest = d->digest,
	                              .recipients = o->recipients,
	                              .n_recipients = o->n_recipients,
	                              .subject = in.subject,
	                              .replaces_id = o->replaces_id,
	                              .business_type = (uint32_t)o->business_type};
	return 0;
}

/* Seals and submits a recall or update of o->replaces_id: a document without parts. */
static int lt_upload_request(const struct lt_config *cfg, const struct lt_signer *signer,
                             struct lt_store *store, const struct lt_upload_opts *o, int64_t now,
                             lt_err *err)
{
	char id[LT_DOCID_LEN + 1], subject[LT_DOCID_LEN + 20];
	uint8_t *envelope = NULL, digest[LT_DIGEST_LEN];
	size_t len = 0;
	int recall = o->business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_REVOKE;
	snprintf(subject, sizeof subject, "%s of %s", recall ? "recall" : "update", o->replaces_id);
	if (lt_docid_new(id, err) != 0)
		return -1;
	/* The subject stored beside the envelope is the envelope's (the agent checks it). */
	const char *signed_subject = o->subject ? o->subject : recall ? subject : "";
	struct lt_envelope_in in = {
	    .document_id = id,
	    .recipients = o->recipients,
	    .n_recipients = o->n_recipients,
	    .subject = signed_subject,
	    .document_number = o->number,
	    .created_at_ms = now,
	    .expires_at_ms = o->expires_in ? now + o->expires_in * 1000 : 0,
	    .replaces_id = o->replaces_id,
	    .business_type = o->business_type,
	};
	if (lt_envelope_seal(&in, signer, cfg, &envelope, &len, digest, err) != 0)
		return -1;
	struct lt_submit_doc sub = {.document_id = id,
	                            .envelope = envelope,
	                            .len = len,
	                            .digest = digest,
	                            .recipients = o->recipients,
	                            .n_recipients = o->n_recipients,
	                            .subject = signed_subject,
	                            .replaces_id = o->replaces_id,
	                            .business_type = (uint32_t)o->business_type};
	int rc = lt_upload_commit(cfg, store, &sub, 1, now, err);
	free(envelope);
	if (rc == 0)
		printf("%s\t%s\n", id, subject);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"to", required_argument, NULL, 't'},
	    {"subject", required_argument, NULL, 's'},
	    {"number", required_argument, NULL, 'n'},
	    {"type", required_argument, NULL, 'm'},
	    {"expires-in", required_argument, NULL, 'e'},
	    {"encrypt", no_argument, NULL, 'E'},
	    {"no-encrypt", no_argument, NULL, 'P'},
	    {"recall", required_argument, NULL, 'R'},
	    {"update", required_argument, NULL, 'U'},
	    {"replaces", required_argument, NULL, 'X'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *replaces_id = NULL;
	Lienthong__BusinessType business_type = LIENTHONG__BUSINESS_TYPE__BUSINESS_NEW;
	const char *config = NULL, *subject = NULL, *number = "", *type = NULL;
	char *to = NULL;
	long long expires_in = 0;
	int encrypt = -1; /* -1: as encrypt_parts says */
	int c;
	lt_log_init(argv[0], LT_LOG_INFO);
	while ((c = getopt_long(argc, argv, "c:t:s:n:m:e:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 's':
			subject = optarg;
			break;
		case 'n':
			number = optarg;
			break;
		case 'm':
			type = optarg;
			break;
		case 'e': {
			char *end;
			expires_in = strtoll(optarg, &end, 10);
			if (*end != '\0' || expires_in <= 0 || expires_in > 100LL * 365 * 86400) {
				fprintf(stderr,
				        "lienthong-upload: --expires-in wants seconds "
				        "(1 to 100 years), not '%s'\n",
				        optarg);
				return 2;
			}
			break;
		}
		case 'E':
			encrypt = 1;
			break;
		case 'P':
			encrypt = 0;
			break;
		case 'R':
		case 'U':
		case 'X': {
			lt_err e;
			if (replaces_id != NULL || lt_docid_check(optarg, &e) != 0) {
				fprintf(stderr, "lienthong-upload: %s\n",
				        replaces_id != NULL
				            ? "give one of --recall, --update, --replaces"
				            : e.msg);
				return 2;
			}
			replaces_id = optarg;
			business_type = c == 'R'   ? LIENTHONG__BUSINESS_TYPE__BUSINESS_REVOKE
			                : c == 'U' ? LIENTHONG__BUSINESS_TYPE__BUSINESS_UPDATE
			                           : LIENTHONG__BUSINESS_TYPE__BUSINESS_REPLACE;
			break;
		}
		case 'h':
			lt_upload_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'lienthong-upload --help'.\n");
			return 2;
		}
	}
	int control = business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_REVOKE ||
	              business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_UPDATE;
	int files = argc - optind;
	const char *usage =
	    config == NULL         ? "-c FILE is required"
	    : to == NULL           ? "--to CODE[,CODE...] is required"
	    : control && files > 0 ? "--recall and --update take no FILE"
	    : business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_UPDATE && subject == NULL &&
	            number[0] == '\0'
	        ? "--update needs the corrected --subject or --number"
	    : business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_REPLACE && files != 1
	        ? "--replaces takes exactly one FILE"
	    : !control && files == 0 ? "no FILE to submit"
	                             : NULL;
	if (usage != NULL) {
		fprintf(stderr, "lienthong-upload: %s\nTry 'lienthong-upload --help'.\n", usage);
		return 2;
	}

	static struct lt_config cfg;
	struct lt_signer signer = {0};
	struct lt_store *store = NULL;
	struct lt_trust *trust = NULL;
	STACK_OF(X509) *encrypt_to = NULL;
	const char *recipients[LT_RECIPIENTS_MAX];
	size_t n_recipients = 0, n_docs = (size_t)(argc - optind);
	struct lt_upload_doc *docs = calloc(n_docs ? n_docs : 1, sizeof *docs);
	struct lt_submit_doc *subs = calloc(n_docs ? n_docs : 1, sizeof *subs);
	lt_err err;
	int rc = 1, failed = 0;

	if (docs == NULL || subs == NULL) {
		lt_log_error("out of memory for %zu documents", n_docs);
		goto out;
	}
	if (lt_config_load(&cfg, config, &err) != 0 ||
	    lt_upload_recipients(&cfg, to, recipients, LT_RECIPIENTS_MAX, &n_recipients, &err) !=
	        0 ||
	    lt_signer_load(&signer, cfg.key_file, cfg.cert_file, &err) != 0 ||
	    lt_pki_check_valid_now(signer.cert, cfg.cert_file, lt_now_ms(), &err) != 0) {
		lt_log_error("%s", err.msg);
		goto out;
	}
	if (strcmp(signer.code, cfg.agency_code) != 0) {
		lt_log_error("%s names agency '%s' but agency_code is '%s'", cfg.cert_file,
		             signer.code, cfg.agency_code);
		goto out;
	}
	struct lt_upload_opts uo = {.recipients = recipients,
	                            .n_recipients = n_recipients,
	                            .subject = subject,
	                            .number = number,
	                            .type = type,
	                            .expires_in = expires_in,
	                            .replaces_id = replaces_id,
	                            .business_type = business_type};
	if (encrypt == 1 || (encrypt == -1 && cfg.encrypt_parts)) {
		if (cfg.agency_certs_dir[0] == '\0') {
			lt_log_error("%s: set agency_certs_dir (the recipients' certificates) to "
			             "encrypt",
			             config);
			goto out;
		}
		if ((trust = lt_trust_load(cfg.ca_file, &err)) == NULL ||
		    (encrypt_to = lt_crypt_recipients(cfg.agency_certs_dir, recipients,
		                                      n_recipients, trust, &err)) == NULL) {
			lt_log_error("%s", err.msg);
			goto out;
		}
		uo.encrypt_to = encrypt_to;
	}
	int64_t now = lt_now_ms();
	size_t max_file = lt_upload_inline_max(&cfg, &signer);
	if (control) {
		if (lt_store_open(&store, cfg.data_dir, cfg.lmdb_map_size, &err) != 0 ||
		    lt_upload_request(&cfg, &signer, store, &uo, now, &err) != 0) {
			lt_log_error("%s", err.msg);
			goto out;
		}
		rc = 0;
		goto out;
	}
	/* First pass: every file exists, is regular and fits, before anything is submitted. */
	for (int i = optind; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			lt_log_error("cannot read %s: %s", argv[i], strerror(errno));
			failed++;
		} else if (!S_ISREG(st.st_mode)) {
			lt_log_error("%s is not a regular file", argv[i]);
			failed++;
		} else if (st.st_size > cfg.max_document_bytes) {
			lt_log_error("%s has %lld bytes; a document may have at most %lld "
			             "(max_document_bytes)",
			             argv[i], (long long)st.st_size,
			             (long long)cfg.max_document_bytes);
			failed++;
		} else if ((size_t)st.st_size > max_file && encrypt_to != NULL) {
			lt_log_error("%s has %lld bytes: it would be streamed (more than %zu), and "
			             "streamed parts cannot be encrypted yet: send it without "
			             "--encrypt",
			             argv[i], (long long)st.st_size, max_file);
			failed++;
		}
	}
	if (failed > 0) {
		lt_log_error("%d of %zu file(s) cannot be submitted; nothing was submitted", failed,
		             n_docs);
		goto out;
	}
	if (lt_store_open(&store, cfg.data_dir, cfg.lmdb_map_size, &err) != 0) {
		lt_log_error("%s", err.msg);
		goto out;
	}
	/* Then batches: read, sign, commit (one fsync), print, free: bounded memory. */
	for (size_t i = 0, n; i < n_docs; i += n) {
		size_t bytes = 0;
		for (n = 0; i + n < n_docs && n < LT_UPLOAD_BATCH && bytes < LT_UPLOAD_BATCH_BYTES;
		     n++) {
			size_t j = i + n;
			const char *path = argv[optind + (int)j];
			if (lt_upload_seal(&cfg, &signer, &uo, path, now, &docs[j], &subs[j],
			                   &err) != 0) {
				lt_log_error("%s; %zu of %zu document(s) were submitted (listed "
				             "above)",
				             err.msg, i, n_docs);
				goto out;
			}
			/* A spooled file ends its batch: its spool waits for no other. */
			bytes += docs[j].envelope_len + docs[j].spooled;
		}
		if (lt_upload_commit(&cfg, store, subs + i, n, now, &err) != 0) {
			lt_log_error("%s; %zu of %zu document(s) were submitted (listed above)",
			             err.msg, i, n_docs);
			goto out;
		}
		for (size_t j = i; j < i + n; j++) {
			docs[j].spooled = 0; /* submitted: the spool is the agent's now */
			printf("%s\t%s\n", docs[j].id, argv[optind + (int)j]);
			free(docs[j].file);
			free(docs[j].envelope);
			docs[j].file = docs[j].envelope = NULL;
		}
		fflush(stdout);
	}
	rc = 0;
out:
	for (size_t i = 0; docs != NULL && i < n_docs; i++) {
		if (docs[i].spooled > 0)
			lt_upload_unspool(&cfg, store, docs[i].id);
		free(docs[i].file);
		free(docs[i].envelope);
	}
	free(docs);
	free(subs);
	lt_store_close(store);
	if (encrypt_to != NULL)
		sk_X509_pop_free(encrypt_to, X509_free);
	lt_trust_free(trust);
	lt_signer_free(&signer);
	lt_config_free(&cfg);
	return rc;
}
