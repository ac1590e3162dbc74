#include "lt_xfer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../log/lt_log.h"
#include "../pki/lt_hash.h"
#include "lt_recv.h"

#define LT_XFER_KEY_MAX (LT_CODE_MAX + 1 + LT_DOCID_LEN)
#define LT_XFER_SCAN_MS 2000       /* deadlines and leftovers looked at this often */
#define LT_XFER_RETRY_MS 5000      /* a delivery that failed is tried again after */
#define LT_XFER_HASH_BUF (1 << 20) /* read buffer of the SHA-256 check */
#define LT_XFER_RUN_OFF UINT64_MAX /* lt_xfer_slot.next: this part's running hash cannot finish */

/* A transfer written lately: its key, manifest, open staged files and running hashes. */
struct lt_xfer_slot {
	char key[LT_XFER_KEY_MAX];
	size_t klen;
	uint8_t digest[LT_DIGEST_LEN];
	Lienthong__Envelope *env;
	char staging[PATH_MAX];
	int *fds;   /* per part, -1 when not open */
	int *dirty; /* per part: written since the last sync */
	size_t n_fds;
	/* Per part: SHA-256 of its chunks 0 .. next-1 as they were written (NULL before
	 * chunk 0 and once final), or next = LT_XFER_RUN_OFF. */
	EVP_MD_CTX **run;
	uint64_t *next;
	uint64_t used; /* lt_xfer.uses when last written: the least recent goes first */
};

struct lt_xfer {
	const struct lt_config *cfg;
	struct lt_xfer_slot slots[LT_XFER_SLOTS];
	uint64_t uses;
	int due; /* a transfer completed: scan at once */
	int64_t next_scan_ms;
	int64_t started_ms; /* first scan */
	int swept;
};

struct lt_xfer *lt_xfer_new(const struct lt_config *cfg, lt_err *err)
{
	struct lt_xfer *x = calloc(1, sizeof *x);
	if (x == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		return NULL;
	}
	x->cfg = cfg;
	return x;
}

/* Forgets the transfer of slot x, closing its files (unsynced writes are dropped: sync first). */
static void lt_xfer_forget(struct lt_xfer_slot *x)
{
	for (size_t i = 0; i < x->n_fds; i++) {
		if (x->fds[i] >= 0)
			close(x->fds[i]);
		if (x->run != NULL)
			EVP_MD_CTX_free(x->run[i]);
	}
	free(x->fds);
	free(x->dirty);
	free(x->run);
	free(x->next);
	x->fds = NULL;
	x->dirty = NULL;
	x->run = NULL;
	x->next = NULL;
	x->n_fds = 0;
	if (x->env != NULL)
		lienthong__envelope__free_unpacked(x->env, NULL);
	x->env = NULL;
	x->klen = 0;
	x->staging[0] = '\0';
	x->used = 0; /* an empty slot is taken first */
}

/* fdatasync of every staged file of slot x written since its last sync. */
static int lt_xfer_slot_sync(struct lt_xfer_slot *x, lt_err *err)
{
	for (size_t i = 0; i < x->n_fds; i++) {
		if (!x->dirty[i])
			continue;
		if (fdatasync(x->fds[i]) != 0)
			return lt_err_errno(err, errno, "cannot fdatasync staged part %s/%zu",
			                    x->staging, i);
		x->dirty[i] = 0;
	}
	return 0;
}

void lt_xfer_free(struct lt_xfer *x)
{
	if (x == NULL)
		return;
	lt_err ignore;
	lt_xfer_sync(x, &ignore);
	for (size_t i = 0; i < LT_XFER_SLOTS; i++)
		lt_xfer_forget(&x->slots[i]);
	free(x);
}

int lt_xfer_streamed(const Lienthong__Envelope *env)
{
	for (size_t i = 0; i < env->n_parts; i++) {
		if (env->parts[i]->chunk_bytes > 0)
			return 1;
	}
	return 0;
}

uint64_t lt_xfer_total(const Lienthong__Envelope *env)
{
	uint64_t n = 0;
	for (size_t i = 0; i < env->n_parts; i++)
		n += lt_part_chunks(env->parts[i]->size, env->parts[i]->chunk_bytes);
	return n;
}

uint64_t lt_xfer_number(const Lienthong__Envelope *env, uint32_t part, uint32_t index)
{
	uint64_t base = 0;
	for (uint32_t i = 0; i < part; i++)
		base += lt_part_chunks(env->parts[i]->size, env->parts[i]->chunk_bytes);
	return base + index;
}

int lt_xfer_has(const uint8_t *have, size_t len, uint64_t k)
{
	return k / 8 < len && (have[k / 8] >> (k % 8) & 1);
}

void lt_xfer_mark(uint8_t *have, uint64_t k)
{
	have[k / 8] |= (uint8_t)(1u << (k % 8));
}

int lt_xfer_complete(const Lienthong__Store__TransferRecord *r)
{
	return r->chunks_in >= r->chunks_total;
}

int lt_xfer_expired(const Lienthong__Store__TransferRecord *r, int64_t deadline_ms,
                    int64_t start_ms, int64_t now_ms)
{
	int64_t since = r->progress_ms > start_ms ? r->progress_ms : start_ms;
	return !lt_xfer_complete(r) && now_ms - since >= deadline_ms;
}

/* Appends the text to out (used bytes in *at) if it fits, else "..."; -1 when it did not. */
static int lt_xfer_add(char *out, size_t size, size_t *at, const char *text)
{
	size_t n = strlen(text);
	if (*at + n + 4 > size) {
		if (*at + 4 <= size)
			*at += (size_t)snprintf(out + *at, size - *at, "...");
		return -1;
	}
	memcpy(out + *at, text, n + 1);
	*at += n;
	return 0;
}

void lt_xfer_missing(const Lienthong__Envelope *env, const Lienthong__Store__TransferRecord *r,
                     char *out, size_t size)
{
	size_t at = 0;
	uint64_t base = 0;
	char piece[80];
	out[0] = '\0';
	for (size_t p = 0; p < env->n_parts; p++) {
		uint64_t n = lt_part_chunks(env->parts[p]->size, env->parts[p]->chunk_bytes);
		int first = 1;
		for (uint64_t i = 0; i < n; i++) {
			if (lt_xfer_has(r->have.data, r->have.len, base + i))
				continue;
			uint64_t j = i;
			while (j + 1 < n && !lt_xfer_has(r->have.data, r->have.len, base + j + 1))
				j++;
			int len =
			    snprintf(piece, sizeof piece, "%s%s%llu", first && at > 0 ? "; " : "",
			             first ? "" : ", ", (unsigned long long)i);
			if (first)
				len = snprintf(piece, sizeof piece, "%spart %zu chunks %llu",
				               at > 0 ? "; " : "", p, (unsigned long long)i);
			if (j > i)
				snprintf(piece + len, sizeof piece - (size_t)len, "-%llu",
				         (unsigned long long)j);
			if (lt_xfer_add(out, size, &at, piece) != 0)
				return;
			first = 0;
			i = j;
		}
		base += n;
	}
}

static size_t lt_xfer_key(const char *sender, const char *doc_id, char *key)
{
	return lt_pair_key(sender, doc_id, key, LT_XFER_KEY_MAX);
}

int lt_xfer_get(struct lt_txn *t, const char *sender, const char *doc_id,
                Lienthong__Store__TransferRecord **out, lt_err *err)
{
	char key[LT_XFER_KEY_MAX];
	size_t klen = lt_xfer_key(sender, doc_id, key);
	const void *val;
	size_t vlen;
	*out = NULL;
	if (klen == 0)
		return lt_err_set(err, LT_EINVAL, "sender or document id too long");
	if (lt_txn_get(t, LT_DB_TRANSFERS, key, klen, &val, &vlen, err) != 0)
		return -1;
	if (val == NULL)
		return 0;
	*out = lienthong__store__transfer_record__unpack(NULL, vlen, val);
	if (*out == NULL)
		return lt_err_set(err, LT_EIO, "transfer record of %s from %s is corrupt", doc_id,
		                  sender);
	return 0;
}

static int lt_xfer_put(struct lt_txn *t, const char *sender, const char *doc_id,
                       const Lienthong__Store__TransferRecord *r, lt_err *err)
{
	char key[LT_XFER_KEY_MAX];
	size_t klen = lt_xfer_key(sender, doc_id, key);
	if (klen == 0)
		return lt_err_set(err, LT_EINVAL, "sender or document id too long");
	return lt_txn_put_pb(t, LT_DB_TRANSFERS, key, klen, &r->base, err);
}

int lt_xfer_del(struct lt_txn *t, const char *sender, const char *doc_id, lt_err *err)
{
	char key[LT_XFER_KEY_MAX];
	size_t klen = lt_xfer_key(sender, doc_id, key);
	if (klen == 0)
		return lt_err_set(err, LT_EINVAL, "sender or document id too long");
	return lt_txn_del(t, LT_DB_TRANSFERS, key, klen, err);
}

/* The staging root: beside the delivered folders when the target is a folder. */
static int lt_xfer_root(const struct lt_config *cfg, char *out, size_t size)
{
	int n = cfg->target_url[0] != '\0'
	            ? snprintf(out, size, "%s/staging", cfg->data_dir)
	            : snprintf(out, size, "%s/.lienthong-staging", cfg->target_dir);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Creates the folder path (its parent exists) unless it is there; never follows a link. */
static int lt_xfer_mkdir(const char *path, lt_err *err)
{
	if (mkdir(path, 0750) != 0 && errno != EEXIST)
		return lt_err_errno(err, errno, "cannot create folder %s", path);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return lt_err_errno(
		    err, errno, "cannot open folder %s (a symbolic link is never followed)", path);
	int rc = fsync(fd) == 0 ? 0 : lt_err_errno(err, errno, "cannot fsync folder %s", path);
	close(fd);
	return rc;
}

int lt_xfer_open(struct lt_xfer *x, struct lt_txn *t, const struct lt_record *rec,
                 const Lienthong__Envelope *env, const uint8_t digest[LT_DIGEST_LEN],
                 int64_t now_ms, lt_err *err)
{
	const Lienthong__Header *h = env->header;
	Lienthong__Store__TransferRecord *old = NULL;
	char root[PATH_MAX], staging[PATH_MAX];
	if (lt_xfer_get(t, h->sender, h->document_id, &old, err) != 0)
		return -1;
	if (old != NULL) {
		int same = old->digest.len == LT_DIGEST_LEN &&
		           memcmp(old->digest.data, digest, LT_DIGEST_LEN) == 0;
		lienthong__store__transfer_record__free_unpacked(old, NULL);
		return same ? 0
		            : lt_err_set(err, LT_ECONFLICT,
		                         "conflict: document id %s from %s is being received with "
		                         "other content",
		                         h->document_id, h->sender);
	}
	if (lt_xfer_root(x->cfg, root, sizeof root) != 0 ||
	    snprintf(staging, sizeof staging, "%s/%s.%s", root, h->sender, h->document_id) >=
	        (int)sizeof staging)
		return lt_err_set(err, LT_EINVAL, "staging path under %s is too long", root);
	if (x->cfg->target_url[0] == '\0' && lt_xfer_mkdir(x->cfg->target_dir, err) != 0)
		return -1;
	if (lt_xfer_mkdir(root, err) != 0 || lt_xfer_mkdir(staging, err) != 0)
		return -1;
	uint64_t total = lt_xfer_total(env);
	uint8_t *have = calloc(1, (size_t)(total + 7) / 8);
	if (have == NULL)
		return lt_err_set(err, LT_EIO, "out of memory");
	Lienthong__Store__TransferRecord r = LIENTHONG__STORE__TRANSFER_RECORD__INIT;
	r.manifest.data = (uint8_t *)rec->value;
	r.manifest.len = rec->len;
	r.digest.data = (uint8_t *)digest;
	r.digest.len = LT_DIGEST_LEN;
	r.topic = (char *)rec->topic;
	r.partition = rec->partition;
	r.offset = rec->offset;
	r.staging = staging;
	r.have.data = have;
	r.have.len = (size_t)(total + 7) / 8;
	r.chunks_total = total;
	r.opened_ms = now_ms;
	r.progress_ms = now_ms;
	int rc = lt_xfer_put(t, h->sender, h->document_id, &r, err);
	free(have);
	if (rc == 0)
		lt_log_info("transfer of document %s from %s opened: %llu chunk(s) expected in %s",
		            h->document_id, h->sender, (unsigned long long)total, staging);
	return rc;
}

/*
 * The slot of the transfer of key and record r: the one that has it, else the
 * least recently written (synced and forgotten), loaded with r's manifest.
 */
static struct lt_xfer_slot *lt_xfer_load(struct lt_xfer *xf, const char *key, size_t klen,
                                         const Lienthong__Store__TransferRecord *r, lt_err *err)
{
	struct lt_xfer_slot *x = &xf->slots[0];
	for (size_t i = 0; i < LT_XFER_SLOTS; i++) {
		struct lt_xfer_slot *y = &xf->slots[i];
		if (y->klen == klen && memcmp(y->key, key, klen) == 0 &&
		    r->digest.len == LT_DIGEST_LEN &&
		    memcmp(y->digest, r->digest.data, LT_DIGEST_LEN) == 0) {
			y->used = ++xf->uses;
			return y;
		}
		if (y->used < x->used)
			x = y;
	}
	if (lt_xfer_slot_sync(x, err) != 0)
		return NULL;
	lt_xfer_forget(x);
	if (r->digest.len != LT_DIGEST_LEN || strlen(r->staging) >= sizeof x->staging) {
		lt_err_set(err, LT_EIO, "transfer record is corrupt (digest or staging)");
		return NULL;
	}
	lt_err why;
	if (lt_envelope_decode(r->manifest.data, r->manifest.len, xf->cfg, &x->env, &why) != 0) {
		lt_xfer_forget(x);
		lt_err_set(err, LT_EIO, "manifest of a transfer record no longer decodes: %s",
		           why.msg);
		return NULL;
	}
	x->fds = malloc(x->env->n_parts * sizeof *x->fds);
	x->dirty = calloc(x->env->n_parts, sizeof *x->dirty);
	x->run = calloc(x->env->n_parts, sizeof *x->run);
	x->next = calloc(x->env->n_parts, sizeof *x->next);
	if (x->fds == NULL || x->dirty == NULL || x->run == NULL || x->next == NULL) {
		lt_xfer_forget(x);
		lt_err_set(err, LT_EIO, "out of memory");
		return NULL;
	}
	x->n_fds = x->env->n_parts;
	for (size_t i = 0; i < x->n_fds; i++)
		x->fds[i] = -1;
	memcpy(x->key, key, klen);
	x->klen = klen;
	memcpy(x->digest, r->digest.data, LT_DIGEST_LEN);
	snprintf(x->staging, sizeof x->staging, "%s", r->staging);
	x->used = ++xf->uses;
	return x;
}

/* The staged file of part p, opened (and made durable as an entry) on first use. */
static int lt_xfer_file(struct lt_xfer_slot *x, uint32_t p, lt_err *err)
{
	char name[16];
	if (x->fds[p] >= 0)
		return x->fds[p];
	snprintf(name, sizeof name, "%u", p);
	int dfd = open(x->staging, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return lt_err_errno(err, errno, "cannot open staging folder %s", x->staging);
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0 || fsync(dfd) != 0) {
		lt_err_errno(err, errno, "cannot create staged part %s/%s", x->staging, name);
		if (fd >= 0)
			close(fd);
		close(dfd);
		return -1;
	}
	close(dfd);
	x->fds[p] = fd;
	return fd;
}

/*
 * Feeds chunk c (checked, just written) to its part's running SHA-256: 1 when
 * that completes the part with the signed digest. Only chunk next of a part
 * goes in: one already in (written again because its record did not commit)
 * changes nothing, since a chunk's bytes are fixed by its signed SHA-256; a
 * later one means the earlier were written before this cache, so the part is
 * read back at delivery instead (lt_xfer_part_check).
 */
static int lt_xfer_run(struct lt_xfer_slot *x, const Lienthong__Chunk *c)
{
	const Lienthong__Part *p = x->env->parts[c->part];
	uint64_t *next = &x->next[c->part];
	EVP_MD_CTX **run = &x->run[c->part];
	uint8_t d[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	if (*next == LT_XFER_RUN_OFF || c->index < *next)
		return 0;
	if (c->index == 0 && *run == NULL) {
		*run = EVP_MD_CTX_new();
		if (*run != NULL && EVP_DigestInit_ex(*run, lt_sha256_md(), NULL) != 1) {
			EVP_MD_CTX_free(*run);
			*run = NULL;
		}
	}
	if (c->index > *next || *run == NULL ||
	    EVP_DigestUpdate(*run, c->data.data, c->data.len) != 1) {
		*next = LT_XFER_RUN_OFF;
		EVP_MD_CTX_free(*run);
		*run = NULL;
		return 0;
	}
	if (++*next < lt_part_chunks(p->size, p->chunk_bytes))
		return 0;
	int ok = EVP_DigestFinal_ex(*run, d, &dlen) == 1 && dlen == LT_DIGEST_LEN &&
	         p->sha256.len == LT_DIGEST_LEN && memcmp(d, p->sha256.data, LT_DIGEST_LEN) == 0;
	EVP_MD_CTX_free(*run);
	*run = NULL;
	lt_log_debug("part %u of document %s from %s: the SHA-256 of its chunks as written %s",
	             c->part, c->document_id, c->sender,
	             ok ? "is the signed one"
	                : "differs from the signed one (read back at delivery)");
	return ok;
}

/* lt_xfer_put of r with part set in its `hashed` bitmap (n_parts bits). */
static int lt_xfer_put_hashed(struct lt_txn *t, const Lienthong__Chunk *c, size_t n_parts,
                              Lienthong__Store__TransferRecord *r, lt_err *err)
{
	ProtobufCBinaryData kept = r->hashed;
	size_t len = (n_parts + 7) / 8;
	uint8_t *bits = calloc(1, len);
	if (bits == NULL)
		return lt_xfer_put(t, c->sender, c->document_id, r, err); /* read back instead */
	if (kept.len > 0) /* none set yet: kept.data may be NULL */
		memcpy(bits, kept.data, kept.len < len ? kept.len : len);
	lt_xfer_mark(bits, c->part);
	r->hashed.data = bits;
	r->hashed.len = len;
	int rc = lt_xfer_put(t, c->sender, c->document_id, r, err);
	r->hashed = kept; /* the unpacked record frees its own */
	free(bits);
	return rc;
}

int lt_xfer_chunk(struct lt_xfer *xf, struct lt_txn *t, const Lienthong__Chunk *c, int64_t now_ms,
                  enum lt_xfer_outcome *out, int *complete, lt_err *why, lt_err *err)
{
	struct lt_xfer_slot *x;
	Lienthong__Store__TransferRecord *r = NULL;
	char key[LT_XFER_KEY_MAX];
	size_t klen = lt_xfer_key(c->sender, c->document_id, key);
	int rc = -1;
	*complete = 0;
	*out = LT_XFER_UNKNOWN;
	if (lt_xfer_get(t, c->sender, c->document_id, &r, err) != 0)
		return -1;
	if (r == NULL)
		return 0;
	if ((x = lt_xfer_load(xf, key, klen, r, err)) == NULL)
		goto out;
	if (lt_chunk_check(x->env, c, why) != 0) {
		*out = LT_XFER_BAD;
		rc = 0;
		goto out;
	}
	uint64_t k = lt_xfer_number(x->env, c->part, c->index);
	if (lt_xfer_has(r->have.data, r->have.len, k)) {
		lt_log_debug("chunk %u of part %u of document %s from %s: recorded before, not "
		             "written again",
		             c->index, c->part, c->document_id, c->sender);
		*out = LT_XFER_REPEAT;
		rc = 0;
		goto out;
	}
	int fd = lt_xfer_file(x, c->part, err);
	if (fd < 0)
		goto out;
	off_t at = (off_t)c->index * (off_t)x->env->parts[c->part]->chunk_bytes;
	for (size_t done = 0; done < c->data.len;) {
		ssize_t n = pwrite(fd, c->data.data + done, c->data.len - done, at + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			lt_err_errno(err, errno, "cannot write staged part %s/%u", x->staging,
			             c->part);
			goto out;
		}
		done += (size_t)n;
	}
	x->dirty[c->part] = 1;
	lt_xfer_mark(r->have.data, k);
	r->chunks_in++;
	r->progress_ms = now_ms;
	if ((lt_xfer_run(x, c) ? lt_xfer_put_hashed(t, c, x->n_fds, r, err)
	                       : lt_xfer_put(t, c->sender, c->document_id, r, err)) != 0)
		goto out;
	lt_log_debug("chunk %u of part %u of document %s from %s written (%llu of %llu)", c->index,
	             c->part, c->document_id, c->sender, (unsigned long long)r->chunks_in,
	             (unsigned long long)r->chunks_total);
	*out = LT_XFER_WRITTEN;
	*complete = lt_xfer_complete(r);
	if (*complete)
		xf->due = 1;
	rc = 0;
out:
	lienthong__store__transfer_record__free_unpacked(r, NULL);
	return rc;
}

int lt_xfer_sync(struct lt_xfer *x, lt_err *err)
{
	for (size_t i = 0; i < LT_XFER_SLOTS; i++) {
		if (lt_xfer_slot_sync(&x->slots[i], err) != 0)
			return -1;
	}
	return 0;
}

/* Removes the files of the folder path, then the folder; nothing is followed. */
static int lt_xfer_rmdir(const char *path, lt_err *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : lt_err_errno(err, errno, "cannot open %s", path);
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return lt_err_errno(err, errno, "cannot read %s", path);
	}
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    unlinkat(dirfd(d), de->d_name, 0) != 0 && errno != ENOENT)
			rc = lt_err_errno(err, errno, "cannot remove %s/%s", path, de->d_name);
	}
	closedir(d);
	if (rc == 0 && rmdir(path) != 0 && errno != ENOENT)
		rc = lt_err_errno(err, errno, "cannot remove folder %s", path);
	return rc;
}

int lt_xfer_remove(struct lt_xfer *x, const char *staging, lt_err *err)
{
	for (size_t i = 0; i < LT_XFER_SLOTS; i++) {
		if (strcmp(x->slots[i].staging, staging) == 0)
			lt_xfer_forget(&x->slots[i]);
	}
	return lt_xfer_rmdir(staging, err);
}

/* Removes the folders under root without a transfer record. */
static void lt_xfer_sweep_root(struct lt_store *store, const char *root)
{
	DIR *d = opendir(root);
	struct dirent *de;
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char name[NAME_MAX + 1], path[PATH_MAX];
		Lienthong__Store__TransferRecord *r = NULL;
		struct lt_txn *t = NULL;
		lt_err err;
		snprintf(name, sizeof name, "%s", de->d_name);
		char *dot = strrchr(name, '.');
		if (name[0] == '.' || dot == NULL ||
		    snprintf(path, sizeof path, "%s/%s", root, de->d_name) >= (int)sizeof path)
			continue;
		*dot = '\0';
		if (lt_txn_begin(store, 0, &t, &err) != 0)
			break;
		int rc = lt_xfer_get(t, name, dot + 1, &r, &err);
		lt_txn_abort(t);
		if (rc == 0 && r == NULL) {
			lt_log_info("removing %s: its transfer ended (delivered or failed)", path);
			if (lt_xfer_rmdir(path, &err) != 0)
				lt_log_warn("%s", err.msg);
		}
		if (r != NULL)
			lienthong__store__transfer_record__free_unpacked(r, NULL);
	}
	closedir(d);
}

void lt_xfer_sweep(struct lt_xfer *x, struct lt_store *store)
{
	char root[PATH_MAX];
	if (x->swept)
		return;
	x->swept = 1;
	if (lt_xfer_root(x->cfg, root, sizeof root) == 0)
		lt_xfer_sweep_root(store, root);
}

/* Checks that the file at (dirfd, name) has size bytes of SHA-256 sha256 (streamed read). */
static int lt_xfer_hash_check(int dirfd, const char *name, const char *path, uint64_t size,
                              const uint8_t sha256[LT_DIGEST_LEN], lt_err *err)
{
	uint8_t d[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	uint64_t got = 0;
	int rc = -1;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return lt_err_errno(err, errno, "cannot open %s", path);
	uint8_t *buf = malloc(LT_XFER_HASH_BUF);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (buf == NULL || ctx == NULL || EVP_DigestInit_ex(ctx, lt_sha256_md(), NULL) != 1) {
		lt_err_set(err, LT_EIO, "cannot hash %s: out of memory", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, LT_XFER_HASH_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			lt_err_errno(err, errno, "cannot read %s", path);
			goto out;
		}
		if (n == 0)
			break;
		got += (uint64_t)n;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	}
	EVP_DigestFinal_ex(ctx, d, &dlen);
	if (got != size || dlen != LT_DIGEST_LEN || memcmp(d, sha256, LT_DIGEST_LEN) != 0)
		lt_err_set(err, LT_EINVAL,
		           "%s: %llu bytes whose SHA-256 differs from the signed one (%llu bytes "
		           "declared)",
		           path, (unsigned long long)got, (unsigned long long)size);
	else
		rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	close(fd);
	return rc;
}

int lt_xfer_due(const struct lt_xfer *x, int64_t now_ms)
{
	return x->due || now_ms >= x->next_scan_ms;
}

int64_t lt_xfer_started(const struct lt_xfer *x)
{
	return x->started_ms;
}

void lt_xfer_scanned(struct lt_xfer *x, int64_t now_ms, int failed)
{
	if (x->started_ms == 0)
		x->started_ms = now_ms;
	x->due = 0;
	x->next_scan_ms = now_ms + (failed ? LT_XFER_RETRY_MS : LT_XFER_SCAN_MS);
}

int lt_xfer_part_check(int dirfd, const char *name, const char *path, const Lienthong__Part *p,
                       size_t index, const struct lt_staged *staged, lt_err *err)
{
	struct stat st;
	if (!lt_xfer_has(staged->hashed, staged->hashed_len, index))
		return lt_xfer_hash_check(dirfd, name, path, p->size, p->sha256.data, err);
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return lt_err_errno(err, errno, "cannot stat %s", path);
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != p->size)
		return lt_err_set(
		    err, LT_EINVAL,
		    "%s: %llu bytes (or not a file), but %llu were written and hashed", path,
		    (unsigned long long)st.st_size, (unsigned long long)p->size);
	return 0;
}
