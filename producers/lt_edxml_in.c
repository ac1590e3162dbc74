#include "lt_edxml_in.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lienthong.pb-c.h"

int lt_edxml_in_sniff(const char *path)
{
	char buf[LT_EDXML_SNIFF_BYTES + 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	struct stat st;
	ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, buf, sizeof buf - 1) : -1;
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The root: the first element after the XML declaration, comments and processing
	 * instructions. */
	const char *p = buf;
	for (;;) {
		p = strchr(p, '<');
		if (p == NULL)
			return 0;
		if (p[1] == '?' || p[1] == '!') {
			p++;
			continue;
		}
		break;
	}
	size_t len = strcspn(p + 1, " \t\r\n/>");
	const char *name = p + 1, *colon = memchr(name, ':', len);
	if (colon != NULL) {
		len -= (size_t)(colon + 1 - name);
		name = colon + 1;
	}
	return len == 5 && memcmp(name, "edXML", 5) == 0 && strstr(p, LT_EDXML_NS) != NULL;
}

struct lt_edxml_in_ctx {
	const char *pdir; /* dir/p */
	int fd;           /* the attachment being written, or -1 */
	size_t index;
};

static int lt_edxml_in_open_part(void *arg, size_t index, lt_err *err)
{
	struct lt_edxml_in_ctx *c = arg;
	char path[PATH_MAX];
	if (c->fd >= 0)
		close(c->fd);
	snprintf(path, sizeof path, "%s/.%zu", c->pdir, index);
	c->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	c->index = index;
	if (c->fd < 0)
		return lt_err_errno(err, errno, "cannot create %s", path);
	return c->fd;
}

struct lt_concerns_ctx {
	const char *edxml_id;
	char *out;
	int found;
};

static int lt_concerns_one(void *arg, const void *key, size_t klen, const void *val, size_t vlen,
                           lt_err *err)
{
	(void)err;
	struct lt_concerns_ctx *c = arg;
	Lienthong__Envelope *env = lienthong__envelope__unpack(NULL, vlen, val);
	const Lienthong__Header *h = env ? env->header : NULL;
	if (h != NULL && klen == LT_DOCID_LEN &&
	    (h->business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_NEW ||
	     h->business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_REPLACE)) {
		for (size_t i = 0; i < h->n_meta; i++) {
			if (strcmp(h->meta[i]->key, "edxml.DocumentId") == 0 &&
			    strcmp(h->meta[i]->value, c->edxml_id) == 0) {
				memcpy(c->out, key, LT_DOCID_LEN); /* ids are time-ordered: the
				                                      newest wins */
				c->out[LT_DOCID_LEN] = '\0';
				c->found = 1;
				break;
			}
		}
	}
	lienthong__envelope__free_unpacked(env, NULL);
	return 0;
}

int lt_edxml_in_concerns(struct lt_store *store, const char *edxml_id, char out[LT_DOCID_LEN + 1],
                         lt_err *err)
{
	struct lt_txn *t = NULL;
	struct lt_concerns_ctx c = {.edxml_id = edxml_id, .out = out};
	if (lt_txn_begin(store, 0, &t, err) != 0)
		return -1;
	int rc = lt_txn_scan(t, LT_DB_DOCS, NULL, 0, lt_concerns_one, &c, err);
	lt_txn_abort(t);
	if (rc != 0)
		return -1;
	if (!c.found)
		return lt_err_set(err, LT_ENOTFOUND,
		                  "no document this agency sent has the edXML DocumentId '%s' "
		                  "(or its envelope is past retention_sent_body_s): send the "
		                  "document concerned first, or correct the DocumentId",
		                  edxml_id);
	return 0;
}

static int lt_edxml_in_files(const char *path, const char *pdir, const char *dir,
                             struct lt_edxml_in *x, lt_err *err)
{
	const struct lt_edxml_doc *d = &x->doc;
	int control = d->business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_REVOKE ||
	              d->business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_UPDATE;
	if (control && d->n_parts > 0)
		return lt_err_set(err, LT_EINVAL,
		                  "%s: a recall or update (BussinessDocType %d) carries no "
		                  "attachments in lienthong, this one has %zu: send the corrected "
		                  "document as a replacement (3) instead",
		                  path, (int)d->business_type, d->n_parts);
	size_t n = control ? 0 : d->n_parts + 1;
	x->files = calloc(n ? n : 1, sizeof *x->files);
	x->types = calloc(n ? n : 1, sizeof *x->types);
	if (x->files == NULL || x->types == NULL)
		return lt_err_set(err, LT_EIO, "out of memory");
	for (size_t i = 0; !control && i < d->n_parts; i++) {
		char from[PATH_MAX];
		snprintf(from, sizeof from, "%s/.%zu", pdir, i);
		if (asprintf(&x->files[i], "%s/%s", pdir, d->parts[i].name) < 0) {
			x->files[i] = NULL;
			return lt_err_set(err, LT_EIO, "out of memory");
		}
		x->n_files = i + 1;
		x->types[i] = d->parts[i].media_type;
		if (rename(from, x->files[i]) != 0)
			return lt_err_errno(err, errno, "cannot rename %s to %s", from,
			                    x->files[i]);
	}
	if (control)
		return 0;
	char *real = realpath(path, NULL);
	if (real == NULL)
		return lt_err_errno(err, errno, "cannot resolve %s", path);
	int rc = asprintf(&x->files[n - 1], "%s/%s", dir, LT_EDXML_ORIGINAL);
	if (rc < 0) {
		x->files[n - 1] = NULL;
		free(real);
		return lt_err_set(err, LT_EIO, "out of memory");
	}
	x->n_files = n;
	x->types[n - 1] = "application/xml";
	rc = symlink(real, x->files[n - 1]);
	free(real);
	if (rc != 0)
		return lt_err_errno(err, errno, "cannot link %s", x->files[n - 1]);
	return 0;
}

int lt_edxml_in_open(const struct lt_config *cfg, struct lt_store *store, const char *path,
                     const char *dir, struct lt_edxml_in *x, lt_err *err)
{
	char pdir[PATH_MAX];
	memset(x, 0, sizeof *x);
	snprintf(pdir, sizeof pdir, "%s/p", dir);
	if ((mkdir(dir, 0700) != 0 && errno != EEXIST) ||
	    (mkdir(pdir, 0700) != 0 && errno != EEXIST))
		return lt_err_errno(err, errno, "cannot create %s", pdir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lt_err_errno(err, errno, "cannot open %s", path);
	struct lt_edxml_in_ctx c = {.pdir = pdir, .fd = -1};
	int rc = lt_edxml_read(fd, path, cfg, lt_edxml_in_open_part, &c, &x->doc, err);
	close(fd);
	if (c.fd >= 0 && close(c.fd) != 0 && rc == 0)
		rc = lt_err_errno(err, errno, "cannot write %s/.%zu", pdir, c.index);
	if (rc != 0)
		return -1;
	if (strcmp(x->doc.sender, cfg->agency_code) != 0)
		return lt_err_set(err, LT_EINVAL,
		                  "%s: From/OrganId is %s but this agency is %s (agency_code): "
		                  "submit only messages this agency sends",
		                  path, x->doc.sender, cfg->agency_code);
	if (x->doc.business_type != LIENTHONG__BUSINESS_TYPE__BUSINESS_NEW) {
		if (x->doc.concerns == NULL)
			return lt_err_set(err, LT_EINVAL,
			                  "%s: BussinessDocType %d names no DocumentId of the "
			                  "document concerned",
			                  path, (int)x->doc.business_type);
		if (lt_edxml_in_concerns(store, x->doc.concerns, x->replaces_id, err) != 0)
			return lt_err_wrap(err, "%s", path);
	}
	return lt_edxml_in_files(path, pdir, dir, x, err);
}

void lt_edxml_in_free(struct lt_edxml_in *x)
{
	for (size_t i = 0; x->files != NULL && i < x->n_files; i++)
		free(x->files[i]);
	free(x->files);
	free(x->types);
	lt_edxml_doc_free(&x->doc);
	memset(x, 0, sizeof *x);
}

static int lt_edxml_in_rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void lt_edxml_in_rmdir(const char *dir)
{
	nftw(dir, lt_edxml_in_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#define LT_EDXML_IN_TMP_PREFIX "edxml-tmp."

int lt_edxml_in_tmpdir(const char *data_dir, char *out, size_t size, int *lock_fd, lt_err *err)
{
	if ((size_t)snprintf(out, size, "%s/" LT_EDXML_IN_TMP_PREFIX "XXXXXX", data_dir) >= size) {
		out[0] = '\0';
		return lt_err_set(err, LT_EINVAL, "data_dir %s: path too long", data_dir);
	}
	if (mkdtemp(out) == NULL) {
		int e = errno;
		out[0] = '\0';
		return lt_err_errno(err, e,
		                    "cannot create a folder in %s for the attachments of edXML "
		                    "messages",
		                    data_dir);
	}
	*lock_fd = open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*lock_fd < 0 || flock(*lock_fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		if (*lock_fd >= 0)
			close(*lock_fd);
		*lock_fd = -1;
		rmdir(out);
		out[0] = '\0';
		return lt_err_errno(err, e, "cannot lock a new folder in %s", data_dir);
	}
	return 0;
}

int lt_edxml_in_sweep(const char *data_dir, size_t *removed, lt_err *err)
{
	*removed = 0;
	DIR *d = opendir(data_dir);
	if (d == NULL)
		return lt_err_errno(err, errno, "cannot read data_dir %s", data_dir);
	struct dirent *de;
	time_t now = time(NULL);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, LT_EDXML_IN_TMP_PREFIX, strlen(LT_EDXML_IN_TMP_PREFIX)) !=
		    0)
			continue;
		char path[PATH_MAX];
		struct stat st;
		if ((size_t)snprintf(path, sizeof path, "%s/%s", data_dir, de->d_name) >=
		        sizeof path ||
		    lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) ||
		    now - st.st_mtime < LT_EDXML_IN_TMP_GRACE_S)
			continue;
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* Locked: an upload runs and uses it. */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			lt_edxml_in_rmdir(path);
			*removed += 1;
		}
		close(fd);
	}
	closedir(d);
	return 0;
}
