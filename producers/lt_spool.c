#include "lt_spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../pki/lt_hash.h"
#include "../proto/lt_envelope.h"

#define LT_SPOOL_TMP ".tmp-"

int lt_spool_path(const char *data_dir, const char *doc_id, int64_t part, char *buf, size_t size,
                  lt_err *err)
{
	int n = part < 0
	            ? snprintf(buf, size, "%s/spool/%s", data_dir, doc_id)
	            : snprintf(buf, size, "%s/spool/%s/%lld", data_dir, doc_id, (long long)part);
	if (n < 0 || (size_t)n >= size)
		return lt_err_set(err, LT_EINVAL, "spool path under %s too long", data_dir);
	return 0;
}

static int lt_spool_fsync_path(const char *path, lt_err *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return lt_err_errno(err, errno, "cannot open folder %s", path);
	int rc = fsync(fd);
	int e = errno;
	close(fd);
	return rc == 0 ? 0 : lt_err_errno(err, e, "cannot fsync folder %s", path);
}

/* <data_dir>/spool, created (and made durable in data_dir) when absent. */
static int lt_spool_dir(const char *data_dir, char *buf, size_t size, lt_err *err)
{
	int n = snprintf(buf, size, "%s/spool", data_dir);
	if (n < 0 || (size_t)n >= size)
		return lt_err_set(err, LT_EINVAL, "spool path under %s too long", data_dir);
	if (mkdir(buf, 0700) == 0)
		return lt_spool_fsync_path(data_dir, err);
	if (errno != EEXIST)
		return lt_err_errno(err, errno, "cannot create the spool folder %s", buf);
	return 0;
}

/* Removes folder name in dirfd with the files in it (a spool holds no sub-folder). */
static int lt_spool_rmtree(int at, const char *name, const char *where, lt_err *err)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return lt_err_errno(err, errno, "cannot open %s/%s", where, name);
	}
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return lt_err_errno(err, errno, "cannot read %s/%s", where, name);
	}
	int rc = 0;
	for (struct dirent *e; rc == 0 && (e = readdir(d)) != NULL;) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT)
			rc = lt_err_errno(err, errno, "cannot remove %s/%s/%s", where, name,
			                  e->d_name);
	}
	closedir(d);
	if (rc == 0 && unlinkat(at, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		rc = lt_err_errno(err, errno, "cannot remove %s/%s", where, name);
	return rc;
}

/* lt_spool_rmtree, then an fsync of dir; nothing when name is absent. */
static int lt_spool_rmtree_path(const char *dir, const char *name, lt_err *err)
{
	struct stat st;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : lt_err_errno(err, errno, "cannot open folder %s", dir);
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) {
		close(fd);
		return 0;
	}
	int rc = lt_spool_rmtree(fd, name, dir, err);
	if (rc == 0 && fsync(fd) != 0)
		rc = lt_err_errno(err, errno, "cannot fsync folder %s", dir);
	close(fd);
	return rc;
}

/* pread until len bytes or the end of the file; *got is what was read. */
static int lt_spool_pread(int fd, uint8_t *buf, size_t len, uint64_t off, size_t *got)
{
	*got = 0;
	while (*got < len) {
		ssize_t r = pread(fd, buf + *got, len - *got, (off_t)(off + *got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

static int lt_spool_write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Copies one part into tmp/<index>, hashing it whole and chunk by chunk. */
static int lt_spool_copy(const char *tmp, const struct lt_spool_src *s, uint32_t chunk_bytes,
                         uint8_t *buf, struct lt_spool_part *out, lt_err *err)
{
	char path[4200];
	uint64_t n_chunks = lt_part_chunks(s->size, chunk_bytes);
	EVP_MD_CTX *whole = EVP_MD_CTX_new(), *chunk = EVP_MD_CTX_new();
	int fd = -1, rc = -1;
	*out = (struct lt_spool_part){.size = s->size, .chunk_bytes = chunk_bytes};
	snprintf(path, sizeof path, "%s/%u", tmp, s->index);
	out->chunk_sha256 = malloc(n_chunks ? n_chunks * LT_DIGEST_LEN : 1);
	if (whole == NULL || chunk == NULL || out->chunk_sha256 == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		goto out;
	}
	if (EVP_DigestInit_ex(whole, lt_sha256_md(), NULL) != 1) {
		lt_err_ssl(err, LT_EIO, "SHA-256");
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		lt_err_errno(err, errno, "cannot create %s", path);
		goto out;
	}
	for (uint64_t i = 0; i < n_chunks; i++) {
		uint64_t off = i * chunk_bytes;
		size_t want = s->size - off < chunk_bytes ? (size_t)(s->size - off) : chunk_bytes;
		size_t got;
		unsigned int dlen;
		if (lt_spool_pread(s->fd, buf, want, off, &got) != 0) {
			lt_err_errno(err, errno, "cannot read %s", s->name);
			goto out;
		}
		if (got != want) {
			lt_err_set(err, LT_EINVAL,
			           "%s ended at %llu bytes, not %llu: changed while it was read?",
			           s->name, (unsigned long long)(off + got),
			           (unsigned long long)s->size);
			goto out;
		}
		if (EVP_DigestUpdate(whole, buf, got) != 1 ||
		    EVP_DigestInit_ex(chunk, lt_sha256_md(), NULL) != 1 ||
		    EVP_DigestUpdate(chunk, buf, got) != 1 ||
		    EVP_DigestFinal_ex(chunk, out->chunk_sha256 + i * LT_DIGEST_LEN, &dlen) != 1) {
			lt_err_ssl(err, LT_EIO, "SHA-256 of %s", s->name);
			goto out;
		}
		if (lt_spool_write_all(fd, buf, got) != 0) {
			lt_err_errno(err, errno, "cannot write %s", path);
			goto out;
		}
	}
	size_t extra;
	if (lt_spool_pread(s->fd, buf, 1, s->size, &extra) != 0 || extra != 0) {
		lt_err_set(err, LT_EINVAL,
		           "%s is longer than %llu bytes now: changed while it was read?", s->name,
		           (unsigned long long)s->size);
		goto out;
	}
	unsigned int dlen;
	if (EVP_DigestFinal_ex(whole, out->sha256, &dlen) != 1) {
		lt_err_ssl(err, LT_EIO, "SHA-256 of %s", s->name);
		goto out;
	}
	if (fsync(fd) != 0) {
		lt_err_errno(err, errno, "cannot fsync %s", path);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0 && close(fd) != 0 && rc == 0)
		rc = lt_err_errno(err, errno, "cannot write %s", path);
	EVP_MD_CTX_free(whole);
	EVP_MD_CTX_free(chunk);
	if (rc != 0)
		lt_spool_part_free(out);
	return rc;
}

/* The parts of one document, shared by the threads that copy them. */
struct lt_spool_job {
	const char *tmp;
	const struct lt_spool_src *src;
	size_t n;
	uint32_t chunk_bytes;
	struct lt_spool_part *out;
	int *rc;
	lt_err *errs;
	atomic_size_t next;
	atomic_int failed;
};

static void *lt_spool_worker(void *arg)
{
	struct lt_spool_job *j = arg;
	uint8_t *buf = malloc(j->chunk_bytes);
	for (size_t i; (i = atomic_fetch_add(&j->next, 1)) < j->n;) {
		if (atomic_load(&j->failed)) {
			j->rc[i] = 1; /* skipped: another part failed */
			continue;
		}
		if (buf == NULL)
			j->rc[i] = lt_err_set(&j->errs[i], LT_EIO, "out of memory for a chunk");
		else
			j->rc[i] = lt_spool_copy(j->tmp, &j->src[i], j->chunk_bytes, buf,
			                         &j->out[i], &j->errs[i]);
		if (j->rc[i] != 0)
			atomic_store(&j->failed, 1);
	}
	free(buf);
	return NULL;
}

/* Copies every part into tmp; on failure err is the first failed part's. */
static int lt_spool_copy_all(const char *tmp, uint32_t chunk_bytes, const struct lt_spool_src *src,
                             size_t n, struct lt_spool_part *out, lt_err *err)
{
	struct lt_spool_job j = {
	    .tmp = tmp, .src = src, .n = n, .chunk_bytes = chunk_bytes, .out = out};
	j.rc = calloc(n, sizeof *j.rc);
	j.errs = calloc(n, sizeof *j.errs);
	int rc = -1;
	if (j.rc == NULL || j.errs == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		goto out;
	}
	atomic_init(&j.next, 0);
	atomic_init(&j.failed, 0);
	/* Helpers when there are several parts; this thread works too. */
	pthread_t th[LT_SPOOL_THREADS - 1];
	size_t helpers = 0;
	while (helpers + 1 < n && helpers < LT_SPOOL_THREADS - 1 &&
	       pthread_create(&th[helpers], NULL, lt_spool_worker, &j) == 0)
		helpers++;
	lt_spool_worker(&j);
	while (helpers > 0)
		pthread_join(th[--helpers], NULL);
	rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (j.rc[i] < 0 && rc == 0) {
			*err = j.errs[i];
			rc = -1;
		}
	}
	if (rc != 0) {
		for (size_t i = 0; i < n; i++) {
			if (j.rc[i] == 0)
				lt_spool_part_free(&out[i]);
		}
	}
out:
	free(j.rc);
	free(j.errs);
	return rc;
}

int lt_spool_write(const char *data_dir, const char *doc_id, uint32_t chunk_bytes,
                   const struct lt_spool_src *src, size_t n, struct lt_spool_part *out, lt_err *err)
{
	char spool[4096], tmp[4200], final[4200];
	if (chunk_bytes == 0 || n == 0)
		return lt_err_set(err, LT_EINVAL, "nothing to spool (chunk_bytes %u, %zu parts)",
		                  chunk_bytes, n);
	if (lt_docid_check(doc_id, err) != 0 ||
	    lt_spool_dir(data_dir, spool, sizeof spool, err) != 0)
		return -1;
	snprintf(tmp, sizeof tmp, "%s/" LT_SPOOL_TMP "%s", spool, doc_id);
	snprintf(final, sizeof final, "%s/%s", spool, doc_id);
	char tmp_name[LT_DOCID_LEN + sizeof LT_SPOOL_TMP];
	snprintf(tmp_name, sizeof tmp_name, LT_SPOOL_TMP "%s", doc_id);
	/* A leftover of an earlier try with this id is never whole: start afresh. */
	if (lt_spool_rmtree_path(spool, tmp_name, err) != 0)
		return -1;
	if (mkdir(tmp, 0700) != 0)
		return lt_err_errno(err, errno, "cannot create %s", tmp);
	if (lt_spool_copy_all(tmp, chunk_bytes, src, n, out, err) != 0)
		goto fail;
	if (lt_spool_fsync_path(tmp, err) != 0)
		goto fail_parts;
	if (rename(tmp, final) != 0) {
		lt_err_errno(err, errno, "cannot rename %s to %s", tmp, final);
		goto fail_parts;
	}
	if (lt_spool_fsync_path(spool, err) != 0) {
		lt_err rm;
		lt_spool_rmtree_path(spool, doc_id, &rm);
		goto fail_parts;
	}
	return 0;
fail_parts:
	for (size_t i = 0; i < n; i++)
		lt_spool_part_free(&out[i]);
fail:;
	lt_err rm;
	lt_spool_rmtree_path(spool, tmp_name, &rm);
	return -1;
}

void lt_spool_part_free(struct lt_spool_part *p)
{
	free(p->chunk_sha256);
	p->chunk_sha256 = NULL;
}

/* Opens (fd != NULL) or looks at the spool file of a part, checking its size. */
static int lt_spool_find(const char *data_dir, const char *doc_id, uint32_t part, const char *name,
                         uint64_t size, int *fd, lt_err *err)
{
	char path[4200];
	struct stat st;
	if (lt_docid_check(doc_id, err) != 0 ||
	    lt_spool_path(data_dir, doc_id, part, path, sizeof path, err) != 0)
		return -1;
	int f = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (f < 0 && errno == ENOENT)
		return lt_err_set(err, LT_ENOTFOUND,
		                  "document %s, part index %u%s%s%s: its spool file %s is missing",
		                  doc_id, part, *name ? " ('" : "", name, *name ? "')" : "", path);
	if (f < 0)
		return lt_err_errno(err, errno, "cannot open spool file %s", path);
	if (fstat(f, &st) != 0) {
		int e = errno;
		close(f);
		return lt_err_errno(err, e, "cannot stat spool file %s", path);
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != size) {
		close(f);
		return lt_err_set(err, LT_EVERIFY,
		                  "document %s, part index %u%s%s%s: its spool file %s has %lld "
		                  "bytes, the envelope declares %llu",
		                  doc_id, part, *name ? " ('" : "", name, *name ? "')" : "", path,
		                  (long long)st.st_size, (unsigned long long)size);
	}
	if (fd != NULL)
		*fd = f;
	else
		close(f);
	return 0;
}

int lt_spool_check(const char *data_dir, const char *doc_id, uint32_t part, const char *name,
                   uint64_t size, lt_err *err)
{
	return lt_spool_find(data_dir, doc_id, part, name, size, NULL, err);
}

int lt_spool_check_envelope(const char *data_dir, const Lienthong__Envelope *env, lt_err *err)
{
	for (size_t i = 0; i < env->n_parts; i++) {
		const Lienthong__Part *p = env->parts[i];
		if (p->chunk_bytes == 0)
			continue;
		if (env->header == NULL)
			return lt_err_set(err, LT_EINVAL, "a manifest without a header");
		if (lt_spool_check(data_dir, env->header->document_id, (uint32_t)i, p->name,
		                   p->size, err) != 0)
			return -1;
	}
	return 0;
}

int lt_spool_open(const char *data_dir, const char *doc_id, uint32_t part, uint64_t size, int *fd,
                  lt_err *err)
{
	return lt_spool_find(data_dir, doc_id, part, "", size, fd, err); /* no name: none shown */
}

int lt_spool_read_chunk(int fd, uint64_t size, uint32_t chunk_bytes, uint64_t index, uint8_t *buf,
                        size_t *len, lt_err *err)
{
	uint64_t n = lt_part_chunks(size, chunk_bytes);
	if (index >= n)
		return lt_err_set(err, LT_EINVAL, "chunk %llu of a part of %llu chunks",
		                  (unsigned long long)index, (unsigned long long)n);
	uint64_t off = index * chunk_bytes;
	size_t want = size - off < chunk_bytes ? (size_t)(size - off) : chunk_bytes, got;
	if (lt_spool_pread(fd, buf, want, off, &got) != 0)
		return lt_err_errno(err, errno, "cannot read chunk %llu of a spool file",
		                    (unsigned long long)index);
	if (got != want)
		return lt_err_set(
		    err, LT_EVERIFY,
		    "spool file shorter than declared: chunk %llu has %zu of %zu bytes",
		    (unsigned long long)index, got, want);
	*len = got;
	return 0;
}

int lt_spool_chunk_verify(const Lienthong__Part *p, uint64_t index, const uint8_t *data, size_t len,
                          lt_err *err)
{
	uint64_t n = lt_part_chunks(p->size, p->chunk_bytes);
	if (index >= n || p->chunk_sha256.len != n * LT_DIGEST_LEN)
		return lt_err_set(err, LT_EINVAL, "part '%s' has no chunk %llu", p->name,
		                  (unsigned long long)index);
	uint64_t want = index + 1 < n ? p->chunk_bytes : p->size - index * p->chunk_bytes;
	uint8_t d[LT_DIGEST_LEN];
	unsigned int dlen;
	if (len != want)
		return lt_err_set(err, LT_EVERIFY, "chunk %llu of part '%s': %zu bytes, not %llu",
		                  (unsigned long long)index, p->name, len,
		                  (unsigned long long)want);
	if (EVP_Digest(data, len, d, &dlen, lt_sha256_md(), NULL) != 1)
		return lt_err_ssl(err, LT_EIO, "SHA-256");
	if (memcmp(d, p->chunk_sha256.data + index * LT_DIGEST_LEN, LT_DIGEST_LEN) != 0)
		return lt_err_set(err, LT_EVERIFY,
		                  "chunk %llu of part '%s': SHA-256 of the spooled bytes differs "
		                  "from the signed one (the spool file was changed)",
		                  (unsigned long long)index, p->name);
	return 0;
}

int lt_spool_remove(const char *data_dir, const char *doc_id, lt_err *err)
{
	char spool[4096];
	if (lt_docid_check(doc_id, err) != 0)
		return -1;
	int n = snprintf(spool, sizeof spool, "%s/spool", data_dir);
	if (n < 0 || (size_t)n >= sizeof spool)
		return lt_err_set(err, LT_EINVAL, "spool path under %s too long", data_dir);
	/* A document without streamed parts (the common case) has none: nothing to do. */
	return lt_spool_rmtree_path(spool, doc_id, err);
}

/* Time of the last change to folder name in dirfd or to a file in it. */
static int64_t lt_spool_touched_ms(int at, const char *name)
{
	struct stat st;
	int64_t t = 0;
	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return -1;
	t = (int64_t)st.st_mtime > (int64_t)st.st_ctime ? (int64_t)st.st_mtime
	                                                : (int64_t)st.st_ctime;
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return t * 1000;
	}
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if ((int64_t)st.st_mtime > t)
			t = (int64_t)st.st_mtime;
		if ((int64_t)st.st_ctime > t)
			t = (int64_t)st.st_ctime;
	}
	closedir(d);
	return t * 1000;
}

int lt_spool_has_doc(struct lt_store *store, const char *doc_id, lt_err *err)
{
	struct lt_txn *t = NULL;
	const void *v;
	size_t vlen;
	if (lt_txn_begin(store, 0, &t, err) != 0)
		return -1;
	int rc = lt_txn_get(t, LT_DB_DOCS, doc_id, strlen(doc_id), &v, &vlen, err);
	lt_txn_abort(t);
	return rc != 0 ? -1 : v != NULL;
}

int lt_spool_discard(const char *data_dir, struct lt_store *store, const char *doc_id, lt_err *err)
{
	lt_err why;
	int has = store != NULL ? lt_spool_has_doc(store, doc_id, &why) : 0;
	if (has != 0)
		return 0; /* stored after all, or cannot tell: the orphan sweep decides later */
	return lt_spool_remove(data_dir, doc_id, err);
}

int lt_spool_sweep(const char *data_dir, struct lt_store *store, int64_t now_ms, size_t *removed,
                   lt_err *err)
{
	char spool[4096];
	int n = snprintf(spool, sizeof spool, "%s/spool", data_dir);
	if (n < 0 || (size_t)n >= sizeof spool)
		return lt_err_set(err, LT_EINVAL, "spool path under %s too long", data_dir);
	DIR *d = opendir(spool);
	if (d == NULL)
		return errno == ENOENT ? 0 : lt_err_errno(err, errno, "cannot read %s", spool);
	int rc = 0;
	size_t gone = 0;
	for (struct dirent *e; rc == 0 && (e = readdir(d)) != NULL;) {
		const char *name = e->d_name;
		lt_err ignore;
		int tmp = strncmp(name, LT_SPOOL_TMP, strlen(LT_SPOOL_TMP)) == 0;
		if (!tmp && lt_docid_check(name, &ignore) != 0)
			continue; /* ".", "..", or not a name the spool uses */
		int64_t touched = lt_spool_touched_ms(dirfd(d), name);
		if (touched < 0 || touched > now_ms - LT_SPOOL_ORPHAN_MS)
			continue;
		if (!tmp) {
			int has = lt_spool_has_doc(store, name, err);
			if (has < 0) {
				rc = -1;
				break;
			}
			if (has)
				continue;
		}
		if (lt_spool_rmtree(dirfd(d), name, spool, err) != 0)
			rc = -1;
		else
			gone++;
	}
	if (rc == 0 && gone > 0 && fsync(dirfd(d)) != 0)
		rc = lt_err_errno(err, errno, "cannot fsync folder %s", spool);
	closedir(d);
	*removed += gone;
	return rc;
}
