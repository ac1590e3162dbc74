#include "lt_deliver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../clock/lt_clock.h"
#include "../config/lt_config.h"
#include "../log/lt_log.h"
#include "../proto/lt_envelope.h"
#include "lt_edxml_out.h"
#include "lt_http.h"
#include "lt_xfer.h"

/* The error for a name under target_dir that is not the folder it should be. */
static int lt_deliver_not_folder(int at, const char *name, const char *path, int errnum,
                                 lt_err *err)
{
	struct stat st;
	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		return lt_err_set(err, LT_EIO,
		                  "%s is a symbolic link: the folder target never follows links "
		                  "under target_dir (remove it; someone may be redirecting "
		                  "deliveries)",
		                  path);
	return lt_err_errno(err, errnum, "cannot open folder %s", path);
}

/*
 * Opens the folder name in at without following a symbolic link, after
 * creating it (0750) when create is set; *created says whether it was.
 * Returns the descriptor, or -1.
 */
static int lt_deliver_open_dir(int at, const char *name, const char *path, int create, int *created,
                               lt_err *err)
{
	*created = 0;
	if (create) {
		if (mkdirat(at, name, 0750) == 0)
			*created = 1;
		else if (errno != EEXIST)
			return lt_err_errno(err, errno, "cannot create folder %s", path);
	}
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return lt_deliver_not_folder(at, name, path, errno, err);
	return fd;
}

static int lt_deliver_fsync_dir(int fd, const char *path, lt_err *err)
{
	if (fsync(fd) != 0)
		return lt_err_errno(err, errno, "cannot fsync folder %s", path);
	return 0;
}

/*
 * Removes name in at (a temporary folder left by an interrupted
 * delivery, whatever it holds) without following links: a link is removed,
 * never what it points to.
 */
static int lt_deliver_remove_at(int at, const char *name, const char *path, int depth, lt_err *err)
{
	if (unlinkat(at, name, 0) == 0 || errno == ENOENT)
		return 0;
	if ((errno != EISDIR && errno != EPERM) || depth > 8)
		return lt_err_errno(err, errno, "cannot remove the leftover %s", path);
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return lt_err_errno(err, e, "cannot open the leftover folder %s", path);
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			rc = lt_deliver_remove_at(dirfd(d), de->d_name, path, depth + 1, err);
	}
	closedir(d);
	if (rc == 0 && unlinkat(at, name, AT_REMOVEDIR) != 0)
		return lt_err_errno(err, errno, "cannot remove the leftover folder %s", path);
	return rc;
}

/* Writes a new file; sync: fsync it (else the batch's syncfs makes it durable). */
static int lt_deliver_write_file(int at, const char *name, const char *path, const uint8_t *data,
                                 size_t len, int sync, lt_err *err)
{
	int fd = openat(at, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0)
		return lt_err_errno(err, errno, "cannot create %s", path);
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			return lt_err_errno(err, e, "cannot write %s", path);
		}
		done += (size_t)n;
	}
	if (sync && fsync(fd) != 0) {
		int e = errno;
		close(fd);
		return lt_err_errno(err, e, "cannot fsync %s", path);
	}
	if (close(fd) != 0)
		return lt_err_errno(err, errno, "cannot close %s", path);
	return 0;
}

/* Writes the parts into the new folder tmp_name in sender_fd and (sync) fsyncs them and it. */
static int lt_deliver_parts(int sender_fd, const char *tmp_name, const char *tmp,
                            const Lienthong__Envelope *env, int sync, lt_err *err)
{
	char file[PATH_MAX];
	int created, rc = -1;
	if (mkdirat(sender_fd, tmp_name, 0750) != 0)
		return lt_err_errno(err, errno, "cannot create folder %s", tmp);
	int fd = lt_deliver_open_dir(sender_fd, tmp_name, tmp, 0, &created, err);
	if (fd < 0)
		return -1;
	for (size_t i = 0; i < env->n_parts; i++) {
		const Lienthong__Part *p = env->parts[i];
		if (snprintf(file, sizeof file, "%s/%s", tmp, p->name) >= (int)sizeof file) {
			lt_err_set(err, LT_EINVAL, "path of part '%s' is too long", p->name);
			goto out;
		}
		if (lt_deliver_write_file(fd, p->name, file, p->data.data, p->data.len, sync,
		                          err) != 0)
			goto out;
	}
	rc = sync ? lt_deliver_fsync_dir(fd, tmp, err) : 0;
out:
	close(fd);
	return rc;
}

/*
 * Fills the folder tmp_name in sender_fd for a streamed document: each
 * streamed part is moved in from <staged->dir>/<index> and checked there
 * (lt_xfer_part_check); inline parts are written. A leftover folder of an interrupted
 * attempt is completed, not removed: it may hold parts already moved in.
 */
static int lt_deliver_staged_parts(int sender_fd, const char *tmp_name, const char *tmp,
                                   const Lienthong__Envelope *env, const struct lt_staged *staged,
                                   lt_err *err)
{
	const char *staging = staged->dir;
	char file[PATH_MAX], name[16];
	int created, rc = -1;
	if (mkdirat(sender_fd, tmp_name, 0750) != 0 && errno != EEXIST)
		return lt_err_errno(err, errno, "cannot create folder %s", tmp);
	int fd = lt_deliver_open_dir(sender_fd, tmp_name, tmp, 0, &created, err);
	if (fd < 0)
		return -1;
	int sfd = open(staging, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0 && errno != ENOENT) {
		lt_err_errno(err, errno, "cannot open staging folder %s", staging);
		goto out;
	}
	for (size_t i = 0; i < env->n_parts; i++) {
		const Lienthong__Part *p = env->parts[i];
		struct stat st;
		if (snprintf(file, sizeof file, "%s/%s", tmp, p->name) >= (int)sizeof file) {
			lt_err_set(err, LT_EINVAL, "path of part '%s' is too long", p->name);
			goto out;
		}
		if (p->chunk_bytes == 0) {
			if (unlinkat(fd, p->name, 0) != 0 && errno != ENOENT) {
				lt_err_errno(err, errno, "cannot remove the leftover %s", file);
				goto out;
			}
			if (lt_deliver_write_file(fd, p->name, file, p->data.data, p->data.len, 1,
			                          err) != 0)
				goto out;
			continue;
		}
		snprintf(name, sizeof name, "%zu", i);
		if (sfd < 0 || renameat(sfd, name, fd, p->name) != 0) {
			int e = sfd < 0 ? ENOENT : errno;
			if (e == EXDEV) {
				lt_err_errno(err, e,
				             "cannot move %s/%s to %s (staging is on another "
				             "filesystem)",
				             staging, name, file);
				goto out;
			}
			if (e != ENOENT || fstatat(fd, p->name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
				lt_err_errno(err, e, "cannot move staged part %s/%s to %s", staging,
				             name, file);
				goto out;
			}
		}
		if (lt_xfer_part_check(fd, p->name, file, p, i, staged, err) != 0)
			goto out;
	}
	rc = lt_deliver_fsync_dir(fd, tmp, err);
out:
	if (sfd >= 0)
		close(sfd);
	close(fd);
	return rc;
}

/*
 * target_format = edxml: the new folder tmp_name in sender_fd holds one
 * file, LT_DELIVER_EDXML_FILE (lt_edxml_out.h: every part inside), written
 * and fsync'd with the folder. A leftover of an interrupted attempt is
 * replaced (staged parts are only read, never moved).
 */
static int lt_deliver_edxml(int sender_fd, const char *tmp_name, const char *tmp,
                            const Lienthong__Envelope *env, const char *staging, lt_err *err)
{
	char file[PATH_MAX];
	int created, rc = -1;
	if (lt_deliver_remove_at(sender_fd, tmp_name, tmp, 0, err) != 0)
		return -1;
	if (mkdirat(sender_fd, tmp_name, 0750) != 0)
		return lt_err_errno(err, errno, "cannot create folder %s", tmp);
	int fd = lt_deliver_open_dir(sender_fd, tmp_name, tmp, 0, &created, err);
	if (fd < 0)
		return -1;
	snprintf(file, sizeof file, "%s/%s", tmp, LT_DELIVER_EDXML_FILE);
	int out = openat(fd, LT_DELIVER_EDXML_FILE,
	                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (out < 0) {
		lt_err_errno(err, errno, "cannot create %s", file);
	} else if (lt_edxml_out_write(out, env, staging, err) != 0) {
		lt_err_wrap(err, "%s", file);
	} else if (fsync(out) != 0) {
		lt_err_errno(err, errno, "cannot fsync %s", file);
	} else {
		rc = lt_deliver_fsync_dir(fd, tmp, err);
	}
	if (out >= 0 && close(out) != 0 && rc == 0)
		rc = lt_err_errno(err, errno, "cannot close %s", file);
	close(fd);
	if (rc != 0) {
		lt_err tmp_err;
		lt_deliver_remove_at(sender_fd, tmp_name, tmp, 0, &tmp_err);
	}
	return rc;
}

/*
 * A document of a batch written into its temporary folder without fsync,
 * waiting for lt_target_flush (the folder target's deferred deliveries).
 */
struct lt_deliver_pending {
	int sender_fd; /* owned */
	char sender[LT_CODE_MAX + 1];
	char doc_id[LT_DOCID_LEN + 1];
	char *tmp, *path, *sender_dir; /* owned */
	int *delivered;                /* the caller's outcome, borrowed */
	lt_err *err;
	size_t n_parts;
	int renamed; /* by lt_target_flush */
};

/*
 * Renames the temporary folder tmp_name to doc_id in sender_fd. A folder of
 * that name already there was delivered before: the temporary one goes and
 * that is success (*renamed stays 0). On failure the temporary folder goes
 * too, unless it holds staged parts (kept for the next attempt).
 */
static int lt_deliver_rename(int sender_fd, const char *tmp_name, const char *tmp,
                             const char *doc_id, const char *path, int staged, int *renamed,
                             lt_err *err)
{
	struct stat st;
	*renamed = 0;
	if (renameat(sender_fd, tmp_name, sender_fd, doc_id) == 0) {
		*renamed = 1;
		return 0;
	}
	int e = errno;
	if ((e == EEXIST || e == ENOTEMPTY) &&
	    fstatat(sender_fd, doc_id, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
		return lt_deliver_remove_at(sender_fd, tmp_name, tmp, 0, err);
	if (e == ENOTDIR)
		lt_deliver_not_folder(sender_fd, doc_id, path, e, err);
	else
		lt_err_errno(err, e, "cannot rename %s to %s", tmp, path);
	lt_err tmp_err;
	if (!staged)
		lt_deliver_remove_at(sender_fd, tmp_name, tmp, 0, &tmp_err);
	return -1;
}

int lt_deliver_folder(const char *target_dir, const Lienthong__Envelope *env, char *path,
                      size_t path_size, lt_err *err)
{
	return lt_deliver_folder_staged(target_dir, env, NULL, path, path_size, err);
}

/*
 * The folder delivery, of the parts as files or (edxml) of one edXML
 * message. With defer (parts as files, none staged) they are written without
 * fsync and the document is left in its temporary folder: *defer is filled
 * (its sender_fd kept open) and *deferred set, for lt_target_flush to make
 * durable and rename.
 */
static int lt_deliver_folder_at(const char *target_dir, const Lienthong__Envelope *env,
                                const struct lt_staged *staged, int edxml, char *path,
                                size_t path_size, struct lt_deliver_pending *defer, int *deferred,
                                lt_err *err)
{
	const Lienthong__Header *h = env->header;
	const char *staging = staged != NULL ? staged->dir : NULL;
	char sender_dir[PATH_MAX], tmp[PATH_MAX], tmp_name[LT_DOCID_LEN + 8];
	struct stat st;
	int target_fd = -1, sender_fd = -1, created, rc = -1;

	if (snprintf(sender_dir, sizeof sender_dir, "%s/%s", target_dir, h->sender) >=
	        (int)sizeof sender_dir ||
	    snprintf(tmp_name, sizeof tmp_name, ".tmp-%s", h->document_id) >=
	        (int)sizeof tmp_name ||
	    snprintf(tmp, sizeof tmp, "%s/%s", sender_dir, tmp_name) >= (int)sizeof tmp ||
	    snprintf(path, path_size, "%s/%s", sender_dir, h->document_id) >= (int)path_size)
		return lt_err_set(err, LT_EINVAL, "target path under %s is too long", target_dir);
	/* target_dir is the operator's choice (it may be a link); below it, nothing is
	 * followed. */
	if (mkdir(target_dir, 0750) != 0 && errno != EEXIST)
		return lt_err_errno(err, errno, "cannot create folder %s", target_dir);
	target_fd = open(target_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (target_fd < 0)
		return lt_err_errno(err, errno, "cannot open folder %s", target_dir);
	sender_fd = lt_deliver_open_dir(target_fd, h->sender, sender_dir, 1, &created, err);
	if (sender_fd < 0 || (created && lt_deliver_fsync_dir(target_fd, target_dir, err) != 0))
		goto out;
	if (fstatat(sender_fd, h->document_id, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			lt_deliver_not_folder(sender_fd, h->document_id, path, ENOTDIR, err);
			goto out;
		}
		/* Delivered before an interruption that kept it from being recorded. */
		lt_log_info("%s is already in the target folder: not written again", path);
		rc = 0;
		goto out;
	}
	if (edxml) {
		if (lt_deliver_edxml(sender_fd, tmp_name, tmp, env, staging, err) != 0)
			goto out;
	} else if (staging != NULL) {
		if (lt_deliver_staged_parts(sender_fd, tmp_name, tmp, env, staged, err) != 0) {
			lt_err tmp_err;
			if (err->code == LT_EINVAL) /* refused for good: its partial data goes */
				lt_deliver_remove_at(sender_fd, tmp_name, tmp, 0, &tmp_err);
			goto out;
		}
	} else if (lt_deliver_remove_at(sender_fd, tmp_name, tmp, 0, err) != 0 ||
	           lt_deliver_parts(sender_fd, tmp_name, tmp, env, defer == NULL, err) != 0) {
		goto out;
	}
	if (staging == NULL && !edxml && defer != NULL) {
		snprintf(defer->sender, sizeof defer->sender, "%s", h->sender);
		snprintf(defer->doc_id, sizeof defer->doc_id, "%s", h->document_id);
		defer->tmp = strdup(tmp);
		defer->path = strdup(path);
		defer->sender_dir = strdup(sender_dir);
		if (defer->tmp == NULL || defer->path == NULL || defer->sender_dir == NULL) {
			free(defer->tmp);
			free(defer->path);
			free(defer->sender_dir);
			lt_err_set(err, LT_EIO, "out of memory");
			goto out;
		}
		defer->n_parts = env->n_parts;
		defer->sender_fd = sender_fd;
		sender_fd = -1;
		*deferred = 1;
		rc = 0;
		goto out;
	}
	int renamed;
	if (lt_deliver_rename(sender_fd, tmp_name, tmp, h->document_id, path,
	                      staging != NULL && !edxml, &renamed, err) != 0) {
		goto out;
	}
	if (!renamed) {
		rc = 0;
		goto out;
	}
	if (lt_deliver_fsync_dir(sender_fd, sender_dir, err) != 0)
		goto out;
	lt_log_kv(LT_LOG_DEBUG,
	          (const char *const[]){"document_id", h->document_id, "sender", h->sender, NULL},
	          "wrote %zu part(s) into %s", env->n_parts, path);
	rc = 0;
out:
	if (sender_fd >= 0)
		close(sender_fd);
	close(target_fd);
	return rc;
}

int lt_deliver_folder_staged(const char *target_dir, const Lienthong__Envelope *env,
                             const struct lt_staged *staged, char *path, size_t path_size,
                             lt_err *err)
{
	return lt_deliver_folder_at(target_dir, env, staged, 0, path, path_size, NULL, NULL, err);
}

int lt_deliver_folder_edxml(const char *target_dir, const Lienthong__Envelope *env,
                            const char *staging, char *path, size_t path_size, lt_err *err)
{
	const struct lt_staged staged = {.dir = staging};
	return lt_deliver_folder_at(target_dir, env, staging != NULL ? &staged : NULL, 1, path,
	                            path_size, NULL, NULL, err);
}

struct lt_target {
	const struct lt_config *cfg;
	struct lt_http *http;               /* NULL: folder target */
	struct lt_deliver_pending *pending; /* deferred deliveries, for lt_target_flush */
	size_t n_pending, cap_pending;
};

struct lt_target *lt_target_new(const struct lt_config *cfg, lt_err *err)
{
	struct lt_target *t = calloc(1, sizeof *t);
	if (t == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		return NULL;
	}
	t->cfg = cfg;
	if (cfg->target_url[0] != '\0' && (t->http = lt_http_new(cfg, err)) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void lt_target_free(struct lt_target *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n_pending; i++) { /* never flushed: the next attempt rewrites */
		close(t->pending[i].sender_fd);
		free(t->pending[i].tmp);
		free(t->pending[i].path);
		free(t->pending[i].sender_dir);
	}
	free(t->pending);
	lt_http_free(t->http);
	free(t);
}

int lt_target_remembers(const struct lt_target *t)
{
	return t->http == NULL;
}

int lt_target_deliver(struct lt_target *t, const Lienthong__Envelope *env, char *where,
                      size_t where_size, lt_err *err)
{
	return lt_target_deliver_staged(t, env, NULL, where, where_size, err);
}

int lt_target_deliver_deferred(struct lt_target *t, const Lienthong__Envelope *env, char *where,
                               size_t where_size, int *delivered, lt_err *err)
{
	int deferred = 0;
	*delivered = 0;
	if (t->http != NULL || strcmp(t->cfg->target_format, "edxml") == 0) {
		*delivered = lt_target_deliver(t, env, where, where_size, err) == 0;
		return *delivered ? 0 : -1;
	}
	for (size_t i = 0; i < t->n_pending; i++) {
		if (strcmp(t->pending[i].doc_id, env->header->document_id) == 0 &&
		    strcmp(t->pending[i].sender, env->header->sender) == 0) {
			lt_target_flush(t); /* the same document again: it finds the first one */
			break;
		}
	}
	if (t->n_pending == t->cap_pending) {
		size_t cap = t->cap_pending ? 2 * t->cap_pending : 64;
		struct lt_deliver_pending *p = realloc(t->pending, cap * sizeof *p);
		if (p == NULL)
			return lt_err_set(err, LT_EIO, "out of memory");
		t->pending = p;
		t->cap_pending = cap;
	}
	struct lt_deliver_pending *p = &t->pending[t->n_pending];
	*p = (struct lt_deliver_pending){.sender_fd = -1, .delivered = delivered, .err = err};
	if (lt_deliver_folder_at(t->cfg->target_dir, env, NULL, 0, where, where_size, p, &deferred,
	                         err) != 0)
		return -1;
	*delivered = 1; /* for now: lt_target_flush says otherwise if the rename fails */
	t->n_pending += deferred;
	return 0;
}

/* Makes every file and folder written on the filesystems of the pending documents durable. */
static int lt_target_sync(struct lt_target *t, size_t n, lt_err *err)
{
	dev_t done[8];
	size_t n_done = 0;
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		int seen = 0;
		if (fstat(t->pending[i].sender_fd, &st) != 0)
			return lt_err_errno(err, errno, "cannot examine %s",
			                    t->pending[i].sender_dir);
		for (size_t j = 0; j < n_done && !seen; j++)
			seen = done[j] == st.st_dev;
		if (seen)
			continue;
		if (syncfs(t->pending[i].sender_fd) != 0)
			return lt_err_errno(err, errno, "cannot sync the filesystem of %s",
			                    t->pending[i].sender_dir);
		if (n_done < sizeof done / sizeof done[0])
			done[n_done++] = st.st_dev;
	}
	return 0;
}

size_t lt_target_flush(struct lt_target *t)
{
	size_t n = t->n_pending;
	lt_err sync_err;
	if (n == 0)
		return 0;
	t->n_pending = 0;
	/* 1. Every file and temporary folder of the batch durable: one syncfs, not 3 fsyncs
	 * each.
	 */
	int64_t t0 = lt_now_ms();
	int synced = lt_target_sync(t, n, &sync_err) == 0;
	lt_log_debug("made the files of %zu document(s) durable in %lld ms", n,
	             (long long)(lt_now_ms() - t0));
	/* 2. The renames. */
	for (size_t i = 0; i < n; i++) {
		struct lt_deliver_pending *p = &t->pending[i];
		char tmp_name[LT_DOCID_LEN + 8];
		lt_err ignore;
		snprintf(tmp_name, sizeof tmp_name, ".tmp-%s", p->doc_id);
		if (!synced) { /* not delivered: the next attempt writes it again */
			*p->err = sync_err;
			*p->delivered = 0;
			lt_deliver_remove_at(p->sender_fd, tmp_name, p->tmp, 0, &ignore);
		} else if (lt_deliver_rename(p->sender_fd, tmp_name, p->tmp, p->doc_id, p->path, 0,
		                             &p->renamed, p->err) != 0) {
			*p->delivered = 0;
		}
	}
	/* 3. One fsync of each sender folder renamed into. */
	for (size_t i = 0; i < n; i++) {
		struct lt_deliver_pending *p = &t->pending[i];
		lt_err err;
		int first = p->renamed;
		for (size_t j = 0; j < i && first; j++)
			first = !(t->pending[j].renamed &&
			          strcmp(t->pending[j].sender, p->sender) == 0);
		if (!first || lt_deliver_fsync_dir(p->sender_fd, p->sender_dir, &err) == 0)
			continue;
		for (size_t j = i; j < n; j++) { /* not durable: each of them is tried again */
			struct lt_deliver_pending *q = &t->pending[j];
			if (q->renamed && strcmp(q->sender, p->sender) == 0) {
				*q->delivered = 0;
				*q->err = err;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct lt_deliver_pending *p = &t->pending[i];
		if (p->renamed)
			lt_log_kv(LT_LOG_DEBUG,
			          (const char *const[]){"document_id", p->doc_id, "sender",
			                                p->sender, NULL},
			          "wrote %zu part(s) into %s", p->n_parts, p->path);
		close(p->sender_fd);
		free(p->tmp);
		free(p->path);
		free(p->sender_dir);
	}
	return n;
}

/* Checks every staged part of env (lt_xfer_part_check). */
static int lt_target_check_staged(const Lienthong__Envelope *env, const struct lt_staged *staged,
                                  lt_err *err)
{
	const char *staging = staged->dir;
	char file[PATH_MAX], name[16];
	int rc = 0;
	int sfd = open(staging, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return lt_err_errno(err, errno, "cannot open staging folder %s", staging);
	for (size_t i = 0; rc == 0 && i < env->n_parts; i++) {
		const Lienthong__Part *p = env->parts[i];
		if (p->chunk_bytes == 0)
			continue;
		snprintf(name, sizeof name, "%zu", i);
		snprintf(file, sizeof file, "%s/%s", staging, name);
		rc = lt_xfer_part_check(sfd, name, file, p, i, staged, err);
	}
	close(sfd);
	return rc;
}

int lt_target_deliver_staged(struct lt_target *t, const Lienthong__Envelope *env,
                             const struct lt_staged *staged, char *where, size_t where_size,
                             lt_err *err)
{
	int edxml = strcmp(t->cfg->target_format, "edxml") == 0;
	const char *staging = staged != NULL ? staged->dir : NULL;
	if (t->http == NULL && !edxml)
		return lt_deliver_folder_staged(t->cfg->target_dir, env, staged, where, where_size,
		                                err);
	if (staged != NULL && lt_target_check_staged(env, staged, err) != 0)
		return -1;
	if (t->http == NULL)
		return lt_deliver_folder_edxml(t->cfg->target_dir, env, staging, where, where_size,
		                               err);
	snprintf(where, where_size, "%s", t->cfg->target_url);
	if (edxml)
		return lt_http_deliver_edxml(t->http, env, staging, err);
	return lt_http_deliver_staged(t->http, env, staging, err);
}

int lt_deliver_folder_control(const char *target_dir, const char *sender, const char *doc_id,
                              const char *name, const char *text, char *path, size_t path_size,
                              lt_err *err)
{
	char sender_dir[PATH_MAX], doc_dir[PATH_MAX], tmp[PATH_MAX], tmp_name[64];
	int target_fd = -1, sender_fd = -1, doc_fd = -1, created, rc = -1;
	if (snprintf(sender_dir, sizeof sender_dir, "%s/%s", target_dir, sender) >=
	        (int)sizeof sender_dir ||
	    snprintf(doc_dir, sizeof doc_dir, "%s/%s", sender_dir, doc_id) >= (int)sizeof doc_dir ||
	    snprintf(tmp_name, sizeof tmp_name, ".tmp%s", name) >= (int)sizeof tmp_name ||
	    snprintf(tmp, sizeof tmp, "%s/%s", doc_dir, tmp_name) >= (int)sizeof tmp ||
	    snprintf(path, path_size, "%s/%s", doc_dir, name) >= (int)path_size)
		return lt_err_set(err, LT_EINVAL, "target path under %s is too long", target_dir);
	target_fd = open(target_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (target_fd < 0)
		return lt_err_errno(err, errno, "cannot open folder %s", target_dir);
	struct stat st;
	if ((sender_fd = lt_deliver_open_dir(target_fd, sender, sender_dir, 0, &created, err)) <
	        0 ||
	    (doc_fd = lt_deliver_open_dir(sender_fd, doc_id, doc_dir, 0, &created, err)) < 0) {
		/* Moved away by the target system: no retry brings it back. */
		int at = sender_fd >= 0 ? sender_fd : target_fd;
		if (fstatat(at, sender_fd >= 0 ? doc_id : sender, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
		    errno == ENOENT)
			lt_err_set(err, LT_EINVAL, "%s is gone (moved away by the target system?)",
			           sender_fd >= 0 ? doc_dir : sender_dir);
		goto out;
	}
	if (lt_deliver_remove_at(doc_fd, tmp_name, tmp, 0, err) != 0 ||
	    lt_deliver_write_file(doc_fd, tmp_name, tmp, (const uint8_t *)text, strlen(text), 1,
	                          err) != 0)
		goto out;
	if (renameat(doc_fd, tmp_name, doc_fd, name) != 0) {
		lt_err_errno(err, errno, "cannot rename %s to %s", tmp, path);
		goto out;
	}
	rc = lt_deliver_fsync_dir(doc_fd, doc_dir, err);
out:
	if (doc_fd >= 0)
		close(doc_fd);
	if (sender_fd >= 0)
		close(sender_fd);
	close(target_fd);
	return rc;
}

int lt_target_control(struct lt_target *t, const char *sender, const char *doc_id, const char *name,
                      const char *text, char *where, size_t where_size, lt_err *err)
{
	if (t->http == NULL)
		return lt_deliver_folder_control(t->cfg->target_dir, sender, doc_id, name, text,
		                                 where, where_size, err);
	snprintf(where, where_size, "%s", t->cfg->target_url);
	return lt_http_control(t->http, sender, doc_id, name, text, err);
}
