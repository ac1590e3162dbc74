/*
 * lienthong-upload: submits documents to the agency's outbox, one or a batch
 * of thousands.
 *
 * Rows (one document each) come from FILE arguments (FILE + FILE joins files
 * into one document), folders (one document per file, or per sub-folder
 * whose files are its parts) or a manifest (producers/lt_manifest.h). Every
 * row is checked first (files regular and readable, sizes, recipients, fields);
 * if any is not sound, every problem is reported and nothing is submitted
 * (--dry-run stops there in any case).
 *
 * Then the rows go in batches: a pool of threads (one per online CPU, each
 * with its own signer) reads, hashes and signs the rows of a batch; the main
 * thread commits the batch in one submission (the running agent's submission
 * service, which group-commits, or the store itself when no agent runs), so
 * memory stays bounded by one batch. Each row has a stable key (the
 * manifest's key column, else derived from its files' content, recipients and
 * fields); lt_submit records it with the document in one transaction, and a
 * row whose key is recorded is reported "already submitted as <id>" and not
 * sent again: a re-run after any interruption submits only what is missing.
 *
 * A document too large for one record (max_message_bytes) has its largest
 * parts streamed: copied into the agent's spool while hashed, chunk by chunk
 * (producers/lt_spool.h), their chunk digests signed in the envelope (the
 * manifest); memory holds one chunk per copying thread, never a part. The
 * spool of a row that is not submitted is removed.
 *
 * Trusts its configuration and key; reads files with a size ceiling.
 * Threads: main, plus the workers of one batch at a time (lt_upload_worker),
 * which share only the read-only configuration and store handle and take rows
 * under a mutex.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../clock/lt_clock.h"
#include "../federation/lt_dir.h"
#include "../log/lt_log.h"
#include "../pki/lt_hash.h"
#include "../pki/lt_pki.h"
#include "../proto/lt_batch.h"
#include "../proto/lt_crypt.h"
#include "../proto/lt_envelope.h"
#include "../text/lt_text.h"
#include "lt_edxml_in.h"
#include "lt_manifest.h"
#include "lt_rows_args.h"
#include "lt_spool.h"
#include "lt_submit.h"
#include "lt_submitd.h"
#include "lt_upload_out.h"

#define LT_UPLOAD_BATCH 64                /* documents per commit, at most */
#define LT_UPLOAD_BATCH_BYTES (16u << 20) /* and about this many bytes */
#define LT_UPLOAD_THREADS_MAX 8
#define LT_UPLOAD_FAILS_SHOWN 50 /* failures repeated in the summary */

static void lt_upload_usage(FILE *out)
{
	fprintf(out,
	        "Usage: lienthong-upload -c FILE --to CODE[,CODE...] [options] FILE|FOLDER...\n"
	        "       lienthong-upload -c FILE -f MANIFEST [--to CODES] [options]\n"
	        "       lienthong-upload -c FILE [--edxml] MSG.xml...\n"
	        "\n"
	        "Submits documents for the recipient agencies: signs each with the agency's key\n"
	        "and stores it durably in the outbox, then prints one line per document:\n"
	        "  <document id> <TAB> <its files, joined by ' + '>\n"
	        "The running agent forwards it to Kafka; lienthong-status shows where it is.\n"
	        "Works while the agent is stopped.\n"
	        "\n"
	        "Each FILE is one document; FILE + FILE [+ FILE...] is one document with those\n"
	        "parts; a FOLDER gives one document per file in it, and one per sub-folder,\n"
	        "whose files are its parts. A manifest (CSV or JSON Lines) gives one document\n"
	        "per row (see the README). Every row is checked first; if any has a problem,\n"
	        "each problem is reported with its line and column, nothing is submitted and\n"
	        "the exit status is 1. A row already submitted (same key) is not sent again.\n"
	        "\n"
	        "Options:\n"
	        "  -c, --config FILE     the agency's configuration file (required)\n"
	        "  -t, --to CODES        recipient agency codes, comma-separated (required\n"
	        "                        unless the manifest has a recipients column)\n"
	        "  -f, --manifest FILE   the rows of a batch: .csv, or .jsonl / .ndjson\n"
	        "      --format FMT      the manifest's format, csv or jsonl (default: from\n"
	        "                        its name)\n"
	        "      --dry-run         check every row, report every problem, submit nothing\n"
	        "      --report FILE     write each row's document id and outcome to FILE:\n"
	        "                        JSON Lines when it ends in .jsonl, else CSV\n"
	        "      --progress SEC    off a terminal, a progress line every SEC seconds\n"
	        "                        (default 10; 0: none)\n"
	        "      --no-key          rows without a key column get no derived key: a\n"
	        "                        re-run submits them again\n"
	        "      --edxml           each FILE is an edXML message (QCVN 102:2016): its\n"
	        "                        header, attachments and business type make the\n"
	        "                        document, which also carries the message itself as\n"
	        "                        the part edxml-original.xml; no --to. A lone FILE\n"
	        "                        whose root is edXML is recognised without it\n"
	        "  -s, --subject TEXT    subject (default: the first file's name)\n"
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
	        "Options give the value of every row that leaves the column empty.\n"
	        "A recall, update or replacement moves ID's status to recall-requested (13)\n"
	        "until the recipient answers; it is refused when ID was not sent to a --to\n"
	        "agency or its status allows none (refused, rejected, recalled). It prints\n"
	        "the id of the request (a document of its own, with its own status).\n"
	        "\n"
	        "Exit status: 0 when every row was submitted or had been already; 1 when a\n"
	        "row has a problem or failed; 2 on a usage error.\n"
	        "Limits: a document has at most max_document_bytes (default 4 GiB) and\n"
	        "max_parts parts. One too large for one record (max_message_bytes) has its\n"
	        "largest parts copied into <data_dir>/spool and sent in chunks of\n"
	        "chunk_bytes; such parts cannot be encrypted yet.\n");
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

/* What lt_upload_read_part owns for one part of a document being sealed. */
struct lt_upload_part {
	uint8_t *data; /* the part's bytes */
	uint8_t sha256[LT_DIGEST_LEN];
};

/*
 * Reads the file at path into a part carried in the envelope: in->data,
 * in->len and in->sha256 (pointing into own, which owns the bytes: free
 * own->data). Files up to max bytes (one record); larger parts are streamed
 * (lt_upload_plan, lt_upload_spool).
 */
static int lt_upload_read_part(const char *path, size_t max, struct lt_part_in *in,
                               struct lt_upload_part *own, lt_err *err)
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
	if (EVP_Digest(buf, n, own->sha256, NULL, lt_sha256_md(), NULL) != 1) {
		free(buf);
		return lt_err_ssl(err, LT_EIO, "SHA-256 of %s", path);
	}
	own->data = buf;
	in->data = buf;
	in->len = n;
	in->sha256 = own->sha256;
	return 0;
}

/*
 * Which parts of a document travel as chunks: none when the whole fits one
 * record (max_file, the room left by the envelope), else the largest ones
 * until the others fit beside the streamed parts' chunk digests. sizes[i]
 * of each part; stream[i] set for a streamed part. 0 when sizes are
 * unknown (a file vanished: reading it says why).
 */
static void lt_upload_plan(const uint64_t *sizes, size_t n, size_t max_file, uint64_t chunk_bytes,
                           int *stream)
{
	uint64_t inline_bytes = 0, room = max_file;
	for (size_t i = 0; i < n; i++) {
		stream[i] = 0;
		inline_bytes += sizes[i];
	}
	while (inline_bytes > room) {
		size_t big = n;
		for (size_t i = 0; i < n; i++) {
			if (!stream[i] && sizes[i] > 0 && (big == n || sizes[i] > sizes[big]))
				big = i;
		}
		if (big == n)
			return;
		stream[big] = 1;
		inline_bytes -= sizes[big];
		/* Its chunk digests and declarations take room in the manifest. */
		uint64_t cost =
		    lt_part_chunks(sizes[big], (uint32_t)chunk_bytes) * LT_DIGEST_LEN + 128;
		room = room > cost ? room - cost : 0;
	}
}

/*
 * Copies the streamed parts of document id into its spool (lt_spool.h) in
 * one go and points their part inputs at the digests in sp[] (freed by the
 * caller with lt_spool_part_free).
 */
static int lt_upload_spool(const struct lt_config *cfg, const char *id, char *const *files,
                           const int *stream, size_t n, struct lt_part_in *parts,
                           struct lt_spool_part *sp, lt_err *err)
{
	struct lt_spool_src *src = calloc(n, sizeof *src);
	size_t m = 0;
	int rc = src ? 0 : lt_err_set(err, LT_EIO, "out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct stat st;
		if (!stream[i])
			continue;
		int fd = open(files[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			rc = lt_err_errno(err, errno, "cannot open %s", files[i]);
		} else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			rc = lt_err_set(err, LT_EINVAL, "%s is not a regular file", files[i]);
		} else {
			src[m++] = (struct lt_spool_src){.index = (uint32_t)i,
			                                 .fd = fd,
			                                 .name = files[i],
			                                 .size = (uint64_t)st.st_size};
		}
	}
	if (rc == 0)
		rc = lt_spool_write(cfg->data_dir, id, (uint32_t)cfg->chunk_bytes, src, m, sp, err);
	for (size_t k = 0; k < m; k++)
		close(src[k].fd);
	for (size_t k = 0; rc == 0 && k < m; k++) {
		struct lt_part_in *in = &parts[src[k].index];
		in->data = NULL;
		in->len = sp[k].size;
		in->chunk_bytes = sp[k].chunk_bytes;
		in->sha256 = sp[k].sha256;
		in->chunk_sha256 = sp[k].chunk_sha256;
	}
	free(src);
	return rc;
}

/* lt_spool_discard, its error told. */
static void lt_upload_unspool(const struct lt_config *cfg, struct lt_store *store, const char *id)
{
	lt_err err;
	if (lt_spool_discard(cfg->data_dir, store, id, &err) != 0)
		fprintf(stderr, "lienthong-upload: %s\n", err.msg);
}

/* What every document of one invocation shares. */
struct lt_upload_opts {
	const char *const *recipients;
	size_t n_recipients;
	const char *subject, *number, *type;
	long long expires_in;
	STACK_OF(X509) * encrypt_to;  /* for recipients: NULL, parts travel in the clear */
	const struct lt_trust *trust; /* encrypting: checks a manifest row's own recipients */
	const char *replaces_id;      /* --recall, --update, --replaces: the document concerned */
	Lienthong__BusinessType business_type;
	int no_key; /* --no-key */
};

/* One row of the batch: one document. */
struct lt_job {
	struct lt_manifest_row row; /* files as paths; options filled in */
	char *label;                /* its files, joined by " + " */
	const char *const *recipients;
	size_t n_recipients;
	uint64_t bytes; /* of its files, when checked */
	/* the outcome */
	enum lt_outcome outcome;
	char *reason;
	char key[LT_BATCH_KEY_MAX + 1];
	char id[LT_DOCID_LEN + 1];
	uint8_t *envelope;
	size_t envelope_len;
	uint8_t digest[LT_DIGEST_LEN];
	int spooled; /* its streamed parts are in the spool under id (removed unless submitted) */
	struct lt_edxml_in *edxml; /* an edXML message: its decoded parts, fields, meta */
};

/* The batch being submitted. */
struct lt_upload {
	const struct lt_config *cfg;
	const struct lt_upload_opts *o;
	struct lt_store *store;
	const char *manifest; /* NULL: rows from the command line */
	int jsonl;
	struct lt_job *jobs;
	size_t n_jobs;
	size_t max_file; /* largest file that fits one record */
	int64_t now;
	/* workers: the rows [next, end) of the current batch are still to be prepared */
	pthread_mutex_t mu;
	size_t next, end;
};

static const char *lt_job_subject(const struct lt_job *j)
{
	if (j->row.subject != NULL)
		return j->row.subject;
	const char *f = j->row.files[0], *slash = strrchr(f, '/');
	return slash ? slash + 1 : f;
}

/* The document a row's recall, update or replacement concerns, and its business type. */
static const char *lt_job_replaces(const struct lt_upload *u, const struct lt_job *j)
{
	if (j->edxml != NULL)
		return j->edxml->replaces_id[0] ? j->edxml->replaces_id : NULL;
	return u->o->replaces_id;
}

static Lienthong__BusinessType lt_job_btype(const struct lt_upload *u, const struct lt_job *j)
{
	return j->edxml != NULL ? j->edxml->doc.business_type : u->o->business_type;
}

static const char *lt_base(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static void lt_job_fail(struct lt_job *j, const char *reason)
{
	free(j->reason);
	j->reason = strdup(reason);
	j->outcome = LT_OUTCOME_FAILED;
}

/* A row prepared but not to be submitted after all: its spool goes. */
static void lt_job_unspool(const struct lt_upload *u, struct lt_job *j)
{
	lt_err rm;
	if (j->spooled && lt_spool_remove(u->cfg->data_dir, j->id, &rm) != 0)
		fprintf(stderr, "lienthong-upload: %s\n", rm.msg);
	j->spooled = 0;
}

/* "m.csv: line 12, field 'files'" for a manifest row, the row's files otherwise. */
static void lt_job_where(const struct lt_upload *u, const struct lt_job *j, const char *col,
                         char *out, size_t size)
{
	if (j->row.line > 0)
		snprintf(out, size, "%s: line %zu, %s '%s'", u->manifest, j->row.line,
		         u->jsonl ? "key" : "field", col);
	else
		snprintf(out, size, "%s", j->label);
}

/*
 * The row's stable key when it has none: SHA-256 (hex) over the names and
 * SHA-256 of its parts, its recipients and the fields that will be signed.
 */
static int lt_job_derive_key(const struct lt_upload *u, struct lt_job *j,
                             const struct lt_part_in *parts, lt_err *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t h[LT_DIGEST_LEN];
	char num[64];
	int ok = md != NULL && EVP_DigestInit_ex(md, lt_sha256_md(), NULL) == 1;
#define LT_KEY_ADD(p, n) (ok = ok && EVP_DigestUpdate(md, (p), (n)) == 1)
#define LT_KEY_STR(s) LT_KEY_ADD((s) ? (s) : "", strlen((s) ? (s) : "") + 1)
	LT_KEY_ADD("lienthong-upload row key 1", 27);
	for (size_t i = 0; i < j->row.n_files; i++) {
		LT_KEY_STR(parts[i].name);
		LT_KEY_STR(parts[i].media_type);
		LT_KEY_ADD(parts[i].sha256, LT_DIGEST_LEN);
	}
	for (size_t i = 0; i < j->n_recipients; i++)
		LT_KEY_STR(j->recipients[i]);
	snprintf(num, sizeof num, "%d %lld %lld", j->row.has_expires,
	         (long long)j->row.expires_in_s, (long long)j->row.expires_at_ms);
	LT_KEY_ADD(num, strlen(num) + 1);
	LT_KEY_STR(lt_job_subject(j));
	LT_KEY_STR(j->row.number);
	LT_KEY_STR(lt_job_replaces(u, j));
#undef LT_KEY_ADD
#undef LT_KEY_STR
	ok = ok && EVP_DigestFinal_ex(md, h, NULL) == 1;
	EVP_MD_CTX_free(md);
	if (!ok)
		return lt_err_ssl(err, LT_EIO, "SHA-256 of a row key");
	for (size_t i = 0; i < LT_DIGEST_LEN; i++)
		snprintf(j->key + 2 * i, 3, "%02x", h[i]);
	return 0;
}

/* Whether j's key is recorded already: then its outcome is decided. */
static int lt_job_known(const struct lt_upload *u, struct lt_job *j, lt_err *err)
{
	struct lt_txn *t = NULL;
	if (lt_txn_begin(u->store, 0, &t, err) != 0)
		return -1;
	int v = lt_batch_key_get(t, j->key, j->id, sizeof j->id, err);
	lt_txn_abort(t);
	if (v == 1)
		j->outcome = LT_OUTCOME_ALREADY;
	return v;
}

/*
 * Prepares one row (worker thread): reads its files, finds its key, and
 * unless that key is recorded already seals the document into j->envelope.
 */
static void lt_job_prepare(const struct lt_upload *u, const struct lt_signer *signer,
                           struct lt_job *j)
{
	size_t n = j->row.n_files;
	struct lt_part_in *parts = calloc(n, sizeof *parts);
	struct lt_upload_part *own = calloc(n, sizeof *own);
	lt_err err;
	STACK_OF(X509) *row_certs = NULL;
	int rc = parts && own ? 0 : lt_err_set(&err, LT_EIO, "out of memory");
	if (rc == 0 && j->row.key != NULL) { /* known already: no need to read its files */
		snprintf(j->key, sizeof j->key, "%s", j->row.key);
		if (lt_job_known(u, j, &err) < 0)
			rc = -1;
		else if (j->outcome == LT_OUTCOME_ALREADY)
			n = 0;
	}
	if (rc == 0 && j->outcome == LT_OUTCOME_PENDING)
		rc = lt_docid_new(j->id, &err); /* before the parts: a spool is kept by id */
	uint64_t *sizes = calloc(n ? n : 1, sizeof *sizes);
	int *stream = calloc(n ? n : 1, sizeof *stream);
	struct lt_spool_part *sp = calloc(n ? n : 1, sizeof *sp);
	if (rc == 0 && (sizes == NULL || stream == NULL || sp == NULL))
		rc = lt_err_set(&err, LT_EIO, "out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct stat st;
		sizes[i] = stat(j->row.files[i], &st) == 0 ? (uint64_t)st.st_size : 0;
		parts[i].name = lt_base(j->row.files[i]);
		parts[i].media_type = j->edxml      ? j->edxml->types[i]
		                      : j->row.type ? j->row.type
		                                    : lt_upload_media_type(parts[i].name);
	}
	lt_upload_plan(sizes, n, u->max_file, (uint64_t)u->cfg->chunk_bytes, stream);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (stream[i] && !j->spooled) {
			rc = lt_upload_spool(u->cfg, j->id, j->row.files, stream, n, parts, sp,
			                     &err);
			j->spooled = rc == 0;
		} else if (!stream[i]) {
			rc = lt_upload_read_part(j->row.files[i], u->max_file, &parts[i], &own[i],
			                         &err);
		}
	}
	if (rc == 0 && j->row.key == NULL && !u->o->no_key) {
		rc = lt_job_derive_key(u, j, parts, &err);
		if (rc == 0)
			rc = lt_job_known(u, j, &err) < 0 ? -1 : 0;
	}
	/* A manifest row of its own recipients is encrypted to their certificates. */
	if (rc == 0 && j->outcome == LT_OUTCOME_PENDING && u->o->trust != NULL &&
	    j->recipients != u->o->recipients &&
	    (row_certs = lt_crypt_recipients(u->cfg->agency_certs_dir, j->recipients,
	                                     j->n_recipients, u->o->trust, &err)) == NULL)
		rc = -1;
	if (rc == 0 && j->outcome == LT_OUTCOME_PENDING) {
		int64_t expires = !j->row.has_expires        ? 0
		                  : j->row.expires_at_ms > 0 ? j->row.expires_at_ms
		                                             : u->now + j->row.expires_in_s * 1000;
		struct lt_envelope_in in = {0};
		if (j->edxml != NULL) /* its meta; the fields below are the row's, made from it */
			lt_edxml_envelope_in(&j->edxml->doc, &in);
		in.recipients = j->recipients;
		in.n_recipients = j->n_recipients;
		in.subject = lt_job_subject(j);
		in.document_number = j->row.number;
		in.created_at_ms = u->now;
		in.expires_at_ms = expires;
		in.parts = parts;
		in.n_parts = n;
		in.encrypt_to = row_certs ? row_certs : u->o->encrypt_to;
		in.replaces_id = lt_job_replaces(u, j);
		in.business_type = lt_job_btype(u, j);
		in.document_id = j->id;
		rc = lt_envelope_build(&in, signer, u->cfg, &j->envelope, &j->envelope_len,
		                       j->digest, &err);
	}
	if (rc != 0)
		lt_job_fail(j, err.msg);
	/* Not to be submitted (failed, or submitted before under its key): no spool kept. */
	if (rc != 0 || j->outcome != LT_OUTCOME_PENDING)
		lt_job_unspool(u, j);
	if (row_certs != NULL)
		sk_X509_pop_free(row_certs, X509_free);
	for (size_t i = 0; own != NULL && i < n; i++)
		free(own[i].data);
	for (size_t i = 0; sp != NULL && i < n; i++)
		lt_spool_part_free(&sp[i]);
	free(sp);
	free(stream);
	free(sizes);
	free(own);
	free(parts);
}

struct lt_worker {
	struct lt_upload *u;
	const struct lt_signer *signer;
	pthread_t thread;
};

static void *lt_upload_worker(void *arg)
{
	struct lt_worker *w = arg;
	struct lt_upload *u = w->u;
	for (;;) {
		pthread_mutex_lock(&u->mu);
		size_t i = u->next < u->end ? u->next++ : SIZE_MAX;
		pthread_mutex_unlock(&u->mu);
		if (i == SIZE_MAX)
			return NULL;
		lt_job_prepare(u, w->signer, &u->jobs[i]);
	}
}

/* Prepares rows [from, to) on n workers (the calling thread is one of them). */
static void lt_upload_prepare(struct lt_upload *u, struct lt_worker *w, size_t n, size_t from,
                              size_t to)
{
	size_t started = 1;
	u->next = from;
	u->end = to;
	for (size_t i = 1; i < n && to - from > i; i++, started++) {
		if (pthread_create(&w[i].thread, NULL, lt_upload_worker, &w[i]) != 0)
			break;
	}
	lt_upload_worker(&w[0]);
	for (size_t i = 1; i < started; i++)
		pthread_join(w[i].thread, NULL);
}

/* A row that cannot be signed after all: failed, its envelope and spool gone. */
static void lt_job_unsigned(const struct lt_upload *u, struct lt_job *j, const char *reason)
{
	lt_job_fail(j, reason);
	free(j->envelope);
	j->envelope = NULL;
	lt_job_unspool(u, j);
}

/*
 * Signs the envelopes built for rows [from, to) with one batch signature
 * (proto/lt_batch.h): one signature, not one per document. A row the
 * signature would take above max_message_bytes fails alone.
 */
static void lt_upload_sign_rows(struct lt_upload *u, const struct lt_signer *signer, size_t from,
                                size_t to)
{
	size_t n = 0;
	uint8_t **envs = calloc(to - from, sizeof *envs);
	size_t *lens = calloc(to - from, sizeof *lens), *idx = calloc(to - from, sizeof *idx);
	uint8_t(*digests)[LT_DIGEST_LEN] = calloc(to - from, sizeof *digests);
	lt_err *errs = calloc(to - from, sizeof *errs), err;
	int rc = envs && lens && idx && digests && errs
	             ? 0
	             : lt_err_set(&err, LT_EIO, "out of memory for signing a batch");
	for (size_t i = from; i < to; i++) {
		struct lt_job *j = &u->jobs[i];
		if (j->envelope == NULL || j->outcome != LT_OUTCOME_PENDING)
			continue;
		if (rc != 0) {
			lt_job_unsigned(u, j, err.msg);
			continue;
		}
		envs[n] = j->envelope;
		lens[n] = j->envelope_len;
		memcpy(digests[n], j->digest, LT_DIGEST_LEN);
		idx[n++] = i;
	}
	if (n > 0)
		rc = lt_batch_seal(envs, lens, digests, n, LT_BATCH_FIELD_ENVELOPE, signer,
		                   (size_t)u->cfg->max_message_bytes, errs, &err);
	for (size_t k = 0; k < n; k++) {
		struct lt_job *j = &u->jobs[idx[k]];
		if (rc != 0) {
			lt_job_unsigned(u, j, err.msg);
			continue;
		}
		j->envelope = envs[k]; /* realloc'd, or NULL when refused */
		j->envelope_len = lens[k];
		if (j->envelope == NULL)
			lt_job_unsigned(u, j, errs[k].msg);
	}
	free(errs);
	free(digests);
	free(idx);
	free(lens);
	free(envs);
}

/*
 * Commits the sealed rows of [from, to) in one submission; when that fails,
 * each alone, so that one bad row does not fail the others. Then asks the
 * store which document each key went to: a row whose key another
 * submission recorded first is already submitted.
 */
static void lt_upload_commit_rows(struct lt_upload *u, size_t from, size_t to)
{
	struct lt_submit_doc *subs = calloc(to - from, sizeof *subs);
	size_t *idx = calloc(to - from, sizeof *idx), n = 0;
	lt_err err;
	if (subs == NULL || idx == NULL) {
		for (size_t i = from; i < to; i++) {
			if (u->jobs[i].envelope != NULL)
				lt_job_fail(&u->jobs[i], "out of memory");
		}
		goto out;
	}
	for (size_t i = from; i < to; i++) {
		struct lt_job *j = &u->jobs[i];
		if (j->envelope == NULL || j->outcome != LT_OUTCOME_PENDING)
			continue;
		subs[n] = (struct lt_submit_doc){.document_id = j->id,
		                                 .envelope = j->envelope,
		                                 .len = j->envelope_len,
		                                 .digest = j->digest,
		                                 .recipients = j->recipients,
		                                 .n_recipients = j->n_recipients,
		                                 .subject = lt_job_subject(j),
		                                 .replaces_id = lt_job_replaces(u, j),
		                                 .business_type = (uint32_t)lt_job_btype(u, j),
		                                 .batch_key = j->key};
		idx[n++] = i;
	}
	if (n == 0)
		goto out;
	int all = lt_upload_commit(u->cfg, u->store, subs, n, u->now, &err) == 0;
	for (size_t k = 0; k < n; k++) {
		struct lt_job *j = &u->jobs[idx[k]];
		if (!all && (n == 1 ||
		             lt_upload_commit(u->cfg, u->store, &subs[k], 1, u->now, &err) != 0)) {
			lt_job_fail(j, err.msg);
			if (j->spooled)
				lt_upload_unspool(u->cfg, u->store, j->id);
			j->spooled = 0;
			continue;
		}
		char recorded[LT_DOCID_LEN + 1];
		struct lt_txn *t = NULL;
		int v = j->key[0] == '\0' ? 0 : lt_txn_begin(u->store, 0, &t, &err);
		if (v == 0 && t != NULL) {
			v = lt_batch_key_get(t, j->key, recorded, sizeof recorded, &err);
			lt_txn_abort(t);
		}
		if (v < 0) {
			lt_job_fail(j, err.msg);
		} else if (v == 1 && strcmp(recorded, j->id) != 0) {
			if (j->spooled) /* another submission of the row won: this one was not
			                   stored */
				lt_upload_unspool(u->cfg, u->store, j->id);
			memcpy(j->id, recorded, sizeof j->id);
			j->outcome = LT_OUTCOME_ALREADY;
		} else {
			j->outcome = LT_OUTCOME_SUBMITTED;
		}
	}
out:
	for (size_t i = from; i < to; i++) {
		free(u->jobs[i].envelope);
		u->jobs[i].envelope = NULL;
		u->jobs[i].spooled = 0; /* submitted: the spool is the agent's now */
	}
	free(subs);
	free(idx);
}

/* --- checking the rows ------------------------------------------------------ */

/* The one check of a document's size (parts together). */
static int lt_upload_size_ok(const struct lt_upload *u, uint64_t bytes, char *why, size_t size)
{
	if (bytes > (uint64_t)u->cfg->max_document_bytes) {
		snprintf(why, size, "the document has %llu bytes; max_document_bytes allows %lld",
		         (unsigned long long)bytes, (long long)u->cfg->max_document_bytes);
		return 0;
	}
	if (bytes > u->max_file && (u->o->encrypt_to != NULL || u->o->trust != NULL)) {
		snprintf(why, size,
		         "the document has %llu bytes, more than one record holds (%zu), so its "
		         "large parts are streamed, and streamed parts cannot be encrypted yet: "
		         "send it without --encrypt",
		         (unsigned long long)bytes, u->max_file);
		return 0;
	}
	return 1;
}

/* Checks one recipient of a manifest row: the code, and its certificate when known. */
static void lt_upload_check_recipient(const struct lt_upload *u, const char *where,
                                      const char *code, struct lt_problems *p)
{
	lt_err err;
	char path[PATH_MAX];
	if (lt_config_check_code(u->cfg, code, &err) != 0) {
		lt_problem_add(p, "%s: %s", where, err.msg);
		return;
	}
	if (u->cfg->platform[0] != '\0' && u->store != NULL &&
	    lt_dir_check_recipients(u->store, u->cfg, &code, 1, &err) != 0) {
		lt_problem_add(p, "%s: %s", where, err.msg);
		return;
	}
	if (u->cfg->agency_certs_dir[0] == '\0')
		return;
	snprintf(path, sizeof path, "%s/%s.crt", u->cfg->agency_certs_dir, code);
	if (access(path, R_OK) != 0)
		lt_problem_add(p,
		               "%s: recipient %s is unknown: no certificate of recipient %s "
		               "(agency_certs_dir) at %s",
		               where, code, code, path);
}

/* Every problem of row j (files, sizes, recipients, fields) goes to p. */
static void lt_upload_check_row(struct lt_upload *u, struct lt_job *j, struct lt_problems *p)
{
	char where[PATH_MAX + 64];
	lt_err err;
	lt_job_where(u, j, "files", where, sizeof where);
	if (j->row.n_files > (size_t)u->cfg->max_parts)
		lt_problem_add(p, "%s: %zu files; a document has at most %lld parts (max_parts)",
		               where, j->row.n_files, (long long)u->cfg->max_parts);
	j->bytes = 0;
	int sizes_known = 1;
	for (size_t i = 0; i < j->row.n_files; i++) {
		const char *f = j->row.files[i];
		struct stat st;
		if (stat(f, &st) != 0) {
			lt_problem_add(p, "%s: %s: %s", where, f, strerror(errno));
			sizes_known = 0;
		} else if (!S_ISREG(st.st_mode)) {
			lt_problem_add(p, "%s: %s is not a regular file", where, f);
			sizes_known = 0;
		} else if (access(f, R_OK) != 0) {
			lt_problem_add(p, "%s: %s cannot be read: %s", where, f, strerror(errno));
		} else {
			j->bytes += (uint64_t)st.st_size;
		}
		if (lt_part_name_check(lt_base(f), &err) != 0)
			lt_problem_add(p, "%s: %s: %s", where, f, err.msg);
		for (size_t k = 0; k < i; k++) {
			if (strcmp(lt_base(j->row.files[k]), lt_base(f)) == 0) {
				lt_problem_add(
				    p, "%s: two parts are named %s: parts need distinct names",
				    where, lt_base(f));
				break;
			}
		}
	}
	char why[256];
	if (sizes_known && !lt_upload_size_ok(u, j->bytes, why, sizeof why))
		lt_problem_add(p, "%s: %s", where, why);
	lt_job_where(u, j, "recipients", where, sizeof where);
	if (j->n_recipients == 0)
		lt_problem_add(p, "%s: no recipient (give the column, or --to for every row)",
		               where);
	for (size_t i = 0;
	     j->row.line > 0 && j->recipients == (const char *const *)j->row.recipients &&
	     i < j->n_recipients;
	     i++) {
		lt_upload_check_recipient(u, where, j->recipients[i], p);
		for (size_t k = 0; k < i; k++) {
			if (strcmp(j->recipients[k], j->recipients[i]) == 0)
				lt_problem_add(p, "%s: names %s twice", where, j->recipients[i]);
		}
	}
	lt_job_where(u, j, "subject", where, sizeof where);
	const char *subject = lt_job_subject(j);
	if (strlen(subject) > LT_SUBJECT_MAX || !lt_utf8_valid(subject))
		lt_problem_add(p, "%s: the subject must be UTF-8 of at most %d bytes", where,
		               LT_SUBJECT_MAX);
	lt_job_where(u, j, "number", where, sizeof where);
	if (j->row.number != NULL && (strlen(j->row.number) > 256 || !lt_utf8_valid(j->row.number)))
		lt_problem_add(p, "%s: the number must be UTF-8 of at most 256 bytes", where);
	lt_job_where(u, j, "expires", where, sizeof where);
	if (j->row.has_expires && j->row.expires_at_ms > 0 && j->row.expires_at_ms <= u->now)
		lt_problem_add(p, "%s: the time is past", where);
}

struct lt_key_ref {
	const char *key;
	size_t job;
};

static int lt_key_ref_cmp(const void *a, const void *b)
{
	const struct lt_key_ref *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : x->job < y->job ? -1 : x->job > y->job;
}

/* Checks every row, and that no key of the manifest is given twice. */
static void lt_upload_check(struct lt_upload *u, struct lt_problems *p)
{
	for (size_t i = 0; i < u->n_jobs; i++)
		lt_upload_check_row(u, &u->jobs[i], p);
	struct lt_key_ref *refs = malloc((u->n_jobs ? u->n_jobs : 1) * sizeof *refs);
	size_t n = 0;
	if (refs == NULL) {
		lt_problem_add(p, "out of memory checking the keys");
		return;
	}
	for (size_t i = 0; i < u->n_jobs; i++) {
		if (u->jobs[i].row.key != NULL)
			refs[n++] = (struct lt_key_ref){u->jobs[i].row.key, i};
	}
	qsort(refs, n, sizeof *refs, lt_key_ref_cmp);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(refs[i].key, refs[i - 1].key) == 0) {
			char where[PATH_MAX + 64];
			lt_job_where(u, &u->jobs[refs[i].job], "key", where, sizeof where);
			lt_problem_add(p, "%s: '%s' is also the key of line %zu: keys must differ",
			               where, refs[i].key, u->jobs[refs[i - 1].job].row.line);
		}
	}
	free(refs);
}

/* --- the jobs -------------------------------------------------------------- */

/*
 * Makes the jobs of m's rows (taking them): manifest paths relative to the
 * manifest's folder, options where a row leaves a column empty, the label.
 */
static int lt_upload_jobs(struct lt_upload *u, struct lt_manifest *m, lt_err *err)
{
	const struct lt_upload_opts *o = u->o;
	const char *slash = u->manifest ? strrchr(u->manifest, '/') : NULL;
	int dlen = slash ? (int)(slash - u->manifest) : 0;
	u->jobs = calloc(m->n_rows ? m->n_rows : 1, sizeof *u->jobs);
	if (u->jobs == NULL)
		return lt_err_set(err, LT_EIO, "out of memory for %zu rows", m->n_rows);
	for (size_t i = 0; i < m->n_rows; i++) {
		struct lt_job *j = &u->jobs[u->n_jobs++];
		struct lt_manifest_row *r = &j->row;
		*r = m->rows[i];
		m->rows[i] = (struct lt_manifest_row){0};
		for (size_t k = 0; slash != NULL && k < r->n_files; k++) {
			char *abs = NULL;
			if (r->files[k][0] == '/')
				continue;
			if (asprintf(&abs, "%.*s/%s", dlen, u->manifest, r->files[k]) < 0)
				return lt_err_set(err, LT_EIO, "out of memory");
			free(r->files[k]);
			r->files[k] = abs;
		}
		if (r->subject == NULL && o->subject != NULL)
			r->subject = strdup(o->subject);
		if (r->number == NULL && o->number != NULL && o->number[0] != '\0')
			r->number = strdup(o->number);
		if (r->type == NULL && o->type != NULL)
			r->type = strdup(o->type);
		if (!r->has_expires && o->expires_in > 0) {
			r->has_expires = 1;
			r->expires_in_s = o->expires_in;
		}
		j->recipients =
		    r->n_recipients ? (const char *const *)r->recipients : o->recipients;
		j->n_recipients = r->n_recipients ? r->n_recipients : o->n_recipients;
		size_t len = 1;
		for (size_t k = 0; k < r->n_files; k++)
			len += strlen(r->files[k]) + 3;
		if ((j->label = malloc(len)) == NULL)
			return lt_err_set(err, LT_EIO, "out of memory");
		j->label[0] = '\0';
		for (size_t k = 0; k < r->n_files; k++) {
			if (k > 0)
				strcat(j->label, " + ");
			strcat(j->label, r->files[k]);
		}
	}
	return 0;
}

/*
 * Makes the rows that are edXML messages (every row with --edxml, else a
 * lone file that lt_edxml_in_sniff recognises; never a manifest row) into
 * their documents: parts decoded into tmp (created on first use), the
 * original message as the last part, recipients, subject, number, meta and
 * business type from the message. Each message's problem goes to p.
 * tmp_lock: the lock of tmp (lt_edxml_in_tmpdir), held until tmp is removed.
 */
static int lt_upload_edxml(struct lt_upload *u, struct lt_store **store, int force, char *tmp,
                           size_t tmp_size, int *tmp_lock, struct lt_problems *p, lt_err *err)
{
	for (size_t i = 0; i < u->n_jobs; i++) {
		struct lt_job *j = &u->jobs[i];
		if (j->row.line > 0 ||
		    (!force && (j->row.n_files != 1 || !lt_edxml_in_sniff(j->row.files[0]))))
			continue;
		if (j->row.n_files != 1) {
			lt_problem_add(p,
			               "%s: --edxml takes one edXML message per FILE, not files "
			               "joined by +",
			               j->label);
			continue;
		}
		if (*store == NULL &&
		    lt_store_open(store, u->cfg->data_dir, u->cfg->lmdb_map_size, err) != 0)
			return -1;
		if (tmp[0] == '\0' &&
		    lt_edxml_in_tmpdir(u->cfg->data_dir, tmp, tmp_size, tmp_lock, err) != 0)
			return -1;
		char dir[PATH_MAX];
		lt_err e;
		struct lt_edxml_in *x = calloc(1, sizeof *x);
		if (x == NULL)
			return lt_err_set(err, LT_EIO, "out of memory");
		snprintf(dir, sizeof dir, "%s/%zu", tmp, i);
		if (lt_edxml_in_open(u->cfg, *store, j->row.files[0], dir, x, &e) != 0) {
			lt_problem_add(p, "%s", e.msg);
			lt_edxml_in_free(x);
			free(x);
			continue;
		}
		j->edxml = x;
		if (u->o->n_recipients > 0)
			lt_problem_add(p,
			               "%s: an edXML message names its recipients (To/OrganId): "
			               "leave out --to",
			               j->label);
		char **files = calloc(x->n_files ? x->n_files : 1, sizeof *files);
		if (files == NULL)
			return lt_err_set(err, LT_EIO, "out of memory");
		for (size_t k = 0; k < x->n_files; k++) {
			if ((files[k] = strdup(x->files[k])) == NULL) {
				for (size_t m = 0; m < k; m++)
					free(files[m]);
				free(files);
				return lt_err_set(err, LT_EIO, "out of memory");
			}
		}
		for (size_t k = 0; k < j->row.n_files; k++)
			free(j->row.files[k]);
		free(j->row.files);
		j->row.files = files;
		j->row.n_files = x->n_files;
		free(j->row.subject);
		free(j->row.number);
		free(j->row.type);
		j->row.type = NULL;
		j->row.subject = strdup(x->doc.subject[0] ? x->doc.subject : lt_base(j->label));
		j->row.number = x->doc.document_number[0] ? strdup(x->doc.document_number) : NULL;
		if (j->row.subject == NULL || (x->doc.document_number[0] && j->row.number == NULL))
			return lt_err_set(err, LT_EIO, "out of memory");
		j->recipients = (const char *const *)x->doc.recipients;
		j->n_recipients = x->doc.n_recipients;
		for (size_t k = 0; k < j->n_recipients; k++)
			lt_upload_check_recipient(u, j->label, j->recipients[k], p);
	}
	return 0;
}

/* --- submitting ------------------------------------------------------------ */

/* Tells how row i ended: stdout for a document submitted, stderr otherwise, the report. */
static int lt_upload_tell(struct lt_upload *u, struct lt_report *rep, size_t i, lt_err *err)
{
	struct lt_job *j = &u->jobs[i];
	char where[PATH_MAX + 64];
	if (j->row.line > 0)
		snprintf(where, sizeof where, "%s: line %zu", u->manifest, j->row.line);
	else
		snprintf(where, sizeof where, "%s", j->label);
	if (j->outcome == LT_OUTCOME_SUBMITTED)
		printf("%s\t%s\n", j->id, j->label);
	else if (j->outcome == LT_OUTCOME_ALREADY)
		fprintf(stderr, "lienthong-upload: %s: already submitted as %s\n", where, j->id);
	else
		fprintf(stderr, "lienthong-upload: %s: failed: %s\n", where,
		        j->reason ? j->reason : "not attempted");
	return lt_report_row(rep, i + 1, j->row.line, j->label, j->key,
	                     j->outcome == LT_OUTCOME_FAILED ? "" : j->id, j->outcome, j->reason,
	                     err);
}

/* Submits every row in batches; the counts of each outcome go to counts. */
static int lt_upload_run(struct lt_upload *u, struct lt_worker *w, size_t n_workers,
                         struct lt_report *rep, int64_t progress_s, size_t counts[4], lt_err *err)
{
	struct lt_progress pg;
	uint64_t total = 0, bytes = 0;
	for (size_t i = 0; i < u->n_jobs; i++)
		total += u->jobs[i].bytes;
	lt_progress_start(&pg, u->n_jobs, total, progress_s, lt_now_ms());
	for (size_t i = 0, end; i < u->n_jobs; i = end) {
		uint64_t b = 0;
		for (end = i;
		     end < u->n_jobs && end - i < LT_UPLOAD_BATCH && b < LT_UPLOAD_BATCH_BYTES;
		     end++)
			b += u->jobs[end].bytes;
		u->now = lt_now_ms();
		lt_upload_prepare(u, w, n_workers, i, end);
		lt_upload_sign_rows(u, w[0].signer, i, end);
		lt_upload_commit_rows(u, i, end);
		lt_progress_clear(&pg);
		for (size_t k = i; k < end; k++) {
			counts[u->jobs[k].outcome]++;
			if (lt_upload_tell(u, rep, k, err) != 0)
				return -1;
		}
		fflush(stdout);
		bytes += b;
		lt_progress_show(&pg, end, bytes, lt_now_ms(), pg.tty);
	}
	lt_progress_show(&pg, u->n_jobs, bytes, lt_now_ms(), pg.tty);
	lt_progress_end(&pg);
	return 0;
}

/* The summary on stderr: counts, then the failures again with their reasons. */
static void lt_upload_summary(const struct lt_upload *u, const size_t counts[4], int64_t ms)
{
	fprintf(stderr,
	        "lienthong-upload: %zu row(s): %zu submitted, %zu already submitted, %zu failed "
	        "(%.1f s)\n",
	        u->n_jobs, counts[LT_OUTCOME_SUBMITTED], counts[LT_OUTCOME_ALREADY],
	        counts[LT_OUTCOME_FAILED] + counts[LT_OUTCOME_PENDING], (double)ms / 1000);
	size_t shown = 0;
	for (size_t i = 0; i < u->n_jobs; i++) {
		const struct lt_job *j = &u->jobs[i];
		if (j->outcome == LT_OUTCOME_SUBMITTED || j->outcome == LT_OUTCOME_ALREADY)
			continue;
		if (shown++ == LT_UPLOAD_FAILS_SHOWN) {
			fprintf(stderr, "  ... and more (--report lists every row)\n");
			break;
		}
		fprintf(stderr, "  failed: row %zu (%s): %s\n", i + 1, j->label,
		        j->reason ? j->reason : "not attempted");
	}
}

static void lt_upload_free(struct lt_upload *u)
{
	for (size_t i = 0; u->jobs != NULL && i < u->n_jobs; i++) {
		lt_manifest_row_free(&u->jobs[i].row);
		free(u->jobs[i].label);
		free(u->jobs[i].reason);
		free(u->jobs[i].envelope);
		if (u->jobs[i].edxml != NULL)
			lt_edxml_in_free(u->jobs[i].edxml);
		free(u->jobs[i].edxml);
	}
	free(u->jobs);
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

struct lt_problem_ref {
	size_t line, i;
	const char *msg;
};

static int lt_problem_ref_cmp(const void *a, const void *b)
{
	const struct lt_problem_ref *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Prints the problems, a manifest's in the order of its lines. */
static void lt_upload_print_problems(const struct lt_problems *p, const char *manifest)
{
	struct lt_problem_ref *refs = calloc(p->n ? p->n : 1, sizeof *refs);
	size_t plen = manifest ? strlen(manifest) : 0;
	for (size_t i = 0; refs != NULL && i < p->n; i++) {
		refs[i] = (struct lt_problem_ref){.i = i, .msg = p->msg[i]};
		if (manifest != NULL && strncmp(p->msg[i], manifest, plen) == 0 &&
		    strncmp(p->msg[i] + plen, ": line ", 7) == 0)
			refs[i].line = strtoul(p->msg[i] + plen + 7, NULL, 10);
	}
	if (refs != NULL)
		qsort(refs, p->n, sizeof *refs, lt_problem_ref_cmp);
	for (size_t i = 0; i < p->n; i++)
		fprintf(stderr, "lienthong-upload: %s\n", refs ? refs[i].msg : p->msg[i]);
	if (p->total > p->n)
		fprintf(stderr, "lienthong-upload: ... and %zu more problem(s)\n", p->total - p->n);
	free(refs);
}

/* Checks the --to codes: the pattern, and a certificate when agency_certs_dir is set. */
static int lt_upload_check_to(const struct lt_config *cfg, const char *const *codes, size_t n)
{
	int bad = 0;
	for (size_t i = 0; cfg->agency_certs_dir[0] != '\0' && i < n; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s.crt", cfg->agency_certs_dir, codes[i]);
		if (access(path, R_OK) != 0) {
			lt_log_error("--to: recipient %s is unknown: no certificate of recipient "
			             "%s (agency_certs_dir) at %s",
			             codes[i], codes[i], path);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
	enum { OPT_FORMAT = 256, OPT_DRY, OPT_REPORT, OPT_PROGRESS, OPT_NOKEY, OPT_EDXML };
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
	    {"manifest", required_argument, NULL, 'f'},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"dry-run", no_argument, NULL, OPT_DRY},
	    {"report", required_argument, NULL, OPT_REPORT},
	    {"progress", required_argument, NULL, OPT_PROGRESS},
	    {"no-key", no_argument, NULL, OPT_NOKEY},
	    {"edxml", no_argument, NULL, OPT_EDXML},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *replaces_id = NULL;
	Lienthong__BusinessType business_type = LIENTHONG__BUSINESS_TYPE__BUSINESS_NEW;
	const char *config = NULL, *subject = NULL, *number = "", *type = NULL;
	const char *manifest = NULL, *report = NULL;
	char *to = NULL;
	long long expires_in = 0, progress_s = 10;
	int encrypt = -1; /* -1: as encrypt_parts says */
	int format = -1, dry_run = 0, no_key = 0, edxml = 0;
	char edxml_tmp[PATH_MAX] = "";
	int edxml_tmp_lock = -1;
	int c;
	lt_log_init(argv[0], LT_LOG_INFO);
	while ((c = getopt_long(argc, argv, "c:t:s:n:m:e:f:h", opts, NULL)) != -1) {
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
		case 'f':
			manifest = optarg;
			break;
		case OPT_FORMAT:
			format = strcmp(optarg, "csv") == 0     ? LT_MANIFEST_CSV
			         : strcmp(optarg, "jsonl") == 0 ? LT_MANIFEST_JSONL
			                                        : -2;
			if (format == -2) {
				fprintf(stderr,
				        "lienthong-upload: --format is csv or jsonl, not '%s'\n",
				        optarg);
				return 2;
			}
			break;
		case OPT_DRY:
			dry_run = 1;
			break;
		case OPT_REPORT:
			report = optarg;
			break;
		case OPT_PROGRESS: {
			char *end;
			progress_s = strtoll(optarg, &end, 10);
			if (*end != '\0' || progress_s < 0 || progress_s > 86400) {
				fprintf(stderr,
				        "lienthong-upload: --progress wants seconds (0 to 86400), "
				        "not '%s'\n",
				        optarg);
				return 2;
			}
			break;
		}
		case OPT_NOKEY:
			no_key = 1;
			break;
		case OPT_EDXML:
			edxml = 1;
			break;
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
	if (manifest != NULL && format == -1)
		format = lt_manifest_format_of(manifest);
	const char *usage =
	    config == NULL ? "-c FILE is required"
	    : to == NULL && manifest == NULL && (control || files == 0)
	        ? "--to CODE[,CODE...] is required"
	    : edxml && (manifest != NULL || replaces_id != NULL)
	        ? "--edxml takes FILEs (the message gives recipients and business type): no "
	          "--manifest, --recall, --update or --replaces"
	    : control && (files > 0 || manifest != NULL) ? "--recall and --update take no FILE"
	    : business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_UPDATE && subject == NULL &&
	            number[0] == '\0'
	        ? "--update needs the corrected --subject or --number"
	    : business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_REPLACE &&
	            (files != 1 || manifest != NULL)
	        ? "--replaces takes exactly one FILE"
	    : manifest != NULL && files > 0 ? "give FILEs or --manifest, not both"
	    : manifest != NULL && format < 0
	        ? "cannot tell the manifest's format from its name: give --format csv|jsonl"
	    : !control && files == 0 && manifest == NULL ? "no FILE to submit"
	                                                 : NULL;
	if (usage != NULL) {
		fprintf(stderr, "lienthong-upload: %s\nTry 'lienthong-upload --help'.\n", usage);
		return 2;
	}

	static struct lt_config cfg;
	struct lt_signer signer = {0}, *signers = NULL;
	struct lt_worker *workers = NULL;
	size_t n_workers = 0;
	struct lt_store *store = NULL;
	struct lt_trust *trust = NULL;
	STACK_OF(X509) *encrypt_to = NULL;
	const char *recipients[LT_RECIPIENTS_MAX];
	size_t n_recipients = 0, counts[4] = {0};
	struct lt_manifest rows = {0};
	struct lt_problems problems = {0};
	struct lt_report rep = {0};
	struct lt_upload u = {.manifest = manifest, .jsonl = format == LT_MANIFEST_JSONL};
	lt_err err;
	int rc = 1;
	int64_t started = lt_now_ms();

	if (lt_config_load(&cfg, config, &err) != 0 ||
	    (to != NULL && lt_upload_recipients(&cfg, to, recipients, LT_RECIPIENTS_MAX,
	                                        &n_recipients, &err) != 0) ||
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
	if (lt_upload_check_to(&cfg, recipients, n_recipients) != 0)
		goto out;
	/* Federation: recipients must be in the directory this agency's agent follows. */
	if (cfg.platform[0] != '\0' &&
	    (lt_store_open(&store, cfg.data_dir, cfg.lmdb_map_size, &err) != 0 ||
	     lt_dir_check_recipients(store, &cfg, recipients, n_recipients, &err) != 0)) {
		lt_log_error("%s", err.msg);
		goto out;
	}
	u.store = store;
	struct lt_upload_opts uo = {.recipients = recipients,
	                            .n_recipients = n_recipients,
	                            .subject = subject,
	                            .number = number,
	                            .type = type,
	                            .expires_in = expires_in,
	                            .replaces_id = replaces_id,
	                            .business_type = business_type,
	                            .no_key = no_key};
	if (encrypt == 1 || (encrypt == -1 && cfg.encrypt_parts)) {
		if (cfg.agency_certs_dir[0] == '\0') {
			lt_log_error("%s: set agency_certs_dir (the recipients' certificates) to "
			             "encrypt",
			             config);
			goto out;
		}
		if ((trust = lt_trust_load(cfg.ca_file, &err)) == NULL ||
		    (n_recipients > 0 &&
		     (encrypt_to = lt_crypt_recipients(cfg.agency_certs_dir, recipients,
		                                       n_recipients, trust, &err)) == NULL)) {
			lt_log_error("%s", err.msg);
			goto out;
		}
		uo.encrypt_to = encrypt_to;
		uo.trust = trust;
	}
	if (control) {
		if ((store == NULL &&
		     lt_store_open(&store, cfg.data_dir, cfg.lmdb_map_size, &err) != 0) ||
		    lt_upload_request(&cfg, &signer, store, &uo, lt_now_ms(), &err) != 0) {
			lt_log_error("%s", err.msg);
			goto out;
		}
		rc = 0;
		goto out;
	}
	u.cfg = &cfg;
	u.o = &uo;
	u.now = lt_now_ms();
	/* Room for the envelope around the parts: header, certificate, signature. */
	size_t overhead = 4096 + signer.cert_der_len;
	u.max_file =
	    (size_t)cfg.max_message_bytes > overhead ? (size_t)cfg.max_message_bytes - overhead : 0;
	if ((manifest != NULL
	         ? lt_manifest_load(manifest, (enum lt_manifest_format)format, &rows, &problems,
	                            &err)
	         : lt_rows_from_args(&rows, argv + optind, files, &problems, &err)) != 0 ||
	    lt_upload_jobs(&u, &rows, &err) != 0 ||
	    (manifest == NULL && lt_upload_edxml(&u, &store, edxml, edxml_tmp, sizeof edxml_tmp,
	                                         &edxml_tmp_lock, &problems, &err) != 0)) {
		lt_log_error("%s", err.msg);
		goto out;
	}
	if (manifest != NULL && !rows.has_recipients && to == NULL)
		lt_problem_add(&problems,
		               "%s: no recipients column: give the recipients of every row with "
		               "--to",
		               manifest);
	else
		lt_upload_check(&u, &problems);
	lt_upload_print_problems(&problems, manifest);
	if (dry_run) {
		uint64_t bytes = 0;
		for (size_t i = 0; i < u.n_jobs; i++)
			bytes += u.jobs[i].bytes;
		if (cfg.agency_certs_dir[0] == '\0')
			fprintf(stderr, "lienthong-upload: note: agency_certs_dir is not set: "
			                "recipients were checked against the code pattern only, "
			                "not against known agencies\n");
		fprintf(stderr,
		        "lienthong-upload: dry run: %zu row(s), %llu bytes, %zu problem(s); "
		        "nothing was submitted\n",
		        u.n_jobs, (unsigned long long)bytes, problems.total);
		rc = problems.total > 0;
		goto out;
	}
	if (problems.total > 0) {
		lt_log_error("%zu problem(s) in %zu row(s); nothing was submitted", problems.total,
		             u.n_jobs);
		goto out;
	}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	n_workers = cpus < 1                       ? 1
	            : cpus > LT_UPLOAD_THREADS_MAX ? LT_UPLOAD_THREADS_MAX
	                                           : (size_t)cpus;
	signers = calloc(n_workers, sizeof *signers);
	workers = calloc(n_workers, sizeof *workers);
	if (signers == NULL || workers == NULL || pthread_mutex_init(&u.mu, NULL) != 0) {
		lt_log_error("out of memory");
		goto out;
	}
	for (size_t i = 0; i < n_workers; i++) {
		workers[i] = (struct lt_worker){.u = &u, .signer = &signers[i]};
		if (lt_signer_load(&signers[i], cfg.key_file, cfg.cert_file, &err) != 0) {
			lt_log_error("%s", err.msg);
			goto out;
		}
	}
	if ((store == NULL && lt_store_open(&store, cfg.data_dir, cfg.lmdb_map_size, &err) != 0) ||
	    (report != NULL && lt_report_open(&rep, report, &err) != 0)) {
		lt_log_error("%s", err.msg);
		goto out;
	}
	u.store = store;
	if (lt_upload_run(&u, workers, n_workers, &rep, progress_s, counts, &err) != 0 ||
	    lt_report_close(&rep, &err) != 0) {
		lt_log_error("%s", err.msg);
		goto out;
	}
	lt_upload_summary(&u, counts, lt_now_ms() - started);
	rc = counts[LT_OUTCOME_SUBMITTED] + counts[LT_OUTCOME_ALREADY] == u.n_jobs ? 0 : 1;
out:
	lt_report_close(&rep, &err);
	if (edxml_tmp[0] != '\0')
		lt_edxml_in_rmdir(edxml_tmp);
	if (edxml_tmp_lock >= 0)
		close(edxml_tmp_lock);
	lt_upload_free(&u);
	lt_manifest_free(&rows);
	lt_problems_free(&problems);
	for (size_t i = 0; signers != NULL && i < n_workers; i++)
		lt_signer_free(&signers[i]);
	free(signers);
	free(workers);
	lt_store_close(store);
	if (encrypt_to != NULL)
		sk_X509_pop_free(encrypt_to, X509_free);
	lt_trust_free(trust);
	lt_signer_free(&signer);
	lt_config_free(&cfg);
	return rc;
}
