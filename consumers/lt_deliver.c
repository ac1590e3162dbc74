#include "lt_deliver.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../config/lt_config.h"
#include "../log/lt_log.h"
#include "lt_http.h"

static int lt_deliver_fsync_dir(const char *dir, lt_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return lt_err_errno(err, errno, "cannot open folder %s", dir);
	int rc = fsync(fd);
	int e = errno;
	close(fd);
	if (rc != 0)
		return lt_err_errno(err, e, "cannot fsync folder %s", dir);
	return 0;
}

static int lt_deliver_mkdir(const char *dir, lt_err *err)
{
	if (mkdir(dir, 0750) != 0 && errno != EEXIST)
		return lt_err_errno(err, errno, "cannot create folder %s", dir);
	return 0;
}

static int lt_deliver_unlink(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Removes a temporary folder left by an interrupted delivery, whatever it holds. */
static int lt_deliver_remove_tmp(const char *tmp, lt_err *err)
{
	struct stat st;
	if (lstat(tmp, &st) != 0)
		return errno == ENOENT ? 0 : lt_err_errno(err, errno, "cannot examine %s", tmp);
	if (nftw(tmp, lt_deliver_unlink, 16, FTW_DEPTH | FTW_PHYS) != 0)
		return lt_err_errno(err, errno, "cannot remove the leftover folder %s", tmp);
	return 0;
}

static int lt_deliver_write_file(const char *path, const uint8_t *data, size_t len, lt_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
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
	if (fsync(fd) != 0) {
		int e = errno;
		close(fd);
		return lt_err_errno(err, e, "cannot fsync %s", path);
	}
	if (close(fd) != 0)
		return lt_err_errno(err, errno, "cannot close %s", path);
	return 0;
}

int lt_deliver_folder(const char *target_dir, const Lienthong__Envelope *env, char *path,
                      size_t path_size, lt_err *err)
{
	const Lienthong__Header *h = env->header;
	char sender_dir[PATH_MAX], tmp[PATH_MAX], file[PATH_MAX];
	struct stat st;

	if (snprintf(sender_dir, sizeof sender_dir, "%s/%s", target_dir, h->sender) >=
	        (int)sizeof sender_dir ||
	    snprintf(tmp, sizeof tmp, "%s/.tmp-%s", sender_dir, h->document_id) >=
	        (int)sizeof tmp ||
	    snprintf(path, path_size, "%s/%s", sender_dir, h->document_id) >= (int)path_size)
		return lt_err_set(err, LT_EINVAL, "target path under %s is too long", target_dir);
	if (stat(path, &st) == 0) {
		/* Delivered before an interruption that kept it from being recorded. */
		lt_log_info("%s is already in the target folder: not written again", path);
		return 0;
	}
	if (lt_deliver_mkdir(target_dir, err) != 0 || lt_deliver_mkdir(sender_dir, err) != 0 ||
	    lt_deliver_remove_tmp(tmp, err) != 0)
		return -1;
	if (mkdir(tmp, 0750) != 0)
		return lt_err_errno(err, errno, "cannot create folder %s", tmp);
	for (size_t i = 0; i < env->n_parts; i++) {
		const Lienthong__Part *p = env->parts[i];
		if (snprintf(file, sizeof file, "%s/%s", tmp, p->name) >= (int)sizeof file)
			return lt_err_set(err, LT_EINVAL, "path of part '%s' is too long", p->name);
		if (lt_deliver_write_file(file, p->data.data, p->data.len, err) != 0)
			return -1;
	}
	if (lt_deliver_fsync_dir(tmp, err) != 0)
		return -1;
	if (rename(tmp, path) != 0) {
		if ((errno == EEXIST || errno == ENOTEMPTY) && stat(path, &st) == 0)
			return lt_deliver_remove_tmp(tmp, err);
		return lt_err_errno(err, errno, "cannot rename %s to %s", tmp, path);
	}
	if (lt_deliver_fsync_dir(sender_dir, err) != 0)
		return -1;
	lt_log_debug("wrote %zu part(s) into %s", env->n_parts, path);
	return 0;
}

struct lt_target {
	const struct lt_config *cfg;
	struct lt_http *http; /* NULL: folder target */
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
	lt_http_free(t->http);
	free(t);
}

int lt_target_deliver(struct lt_target *t, const Lienthong__Envelope *env, char *where,
                      size_t where_size, lt_err *err)
{
	if (t->http == NULL)
		return lt_deliver_folder(t->cfg->target_dir, env, where, where_size, err);
	snprintf(where, where_size, "%s", t->cfg->target_url);
	return lt_http_deliver(t->http, env, err);
}
