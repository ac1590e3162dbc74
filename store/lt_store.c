#include "lt_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define LT_STORE_RESTORE                                                                           \
	"the store is damaged: stop using it, keep a copy of the folder for analysis, and "        \
	"restore data_dir from a backup taken with lienthong-agent --backup (README, 'Backups "    \
	"and damaged stores': stop the agent, move data_dir aside, copy the backup's data.mdb "    \
	"and store-id into a new data_dir, run --check, start the agent)"

/* Below this much free space, an I/O error while writing is taken for a full disk. */
#define LT_STORE_LOW_SPACE (8u << 20)

#include "../log/lt_log.h"
#include "../monitor/lt_counters.h"
#include "../pki/lt_hash.h"

struct lt_store {
	MDB_env *env;
	MDB_dbi dbi[LT_DB_COUNT];
	char dir[4096];
	int64_t map_size;
	int64_t quarantine_max_bytes;  /* 0: no bound */
	int64_t quarantine_keep_bytes; /* 0: no bound */
};

struct lt_txn {
	struct lt_store *s;
	MDB_txn *txn;
	struct lt_txn *parent;   /* a nested transaction's */
	struct lt_counts counts; /* counted when it commits (monitor/lt_counters.h) */
};

static const char *const lt_db_names[LT_DB_COUNT] = {
    [LT_DB_META] = "meta",           [LT_DB_DOCS] = "docs",
    [LT_DB_STATUS] = "status",       [LT_DB_OUTQ] = "outq",
    [LT_DB_INBOX] = "inbox",         [LT_DB_QUARANTINE] = "quarantine",
    [LT_DB_HISTORY] = "history",     [LT_DB_INDEX] = "index",
    [LT_DB_BUSINESS] = "business",   [LT_DB_KEYS] = "keys",
    [LT_DB_TRANSFERS] = "transfers", [LT_DB_SENDPROG] = "sendprog",
    [LT_DB_DIRECTORY] = "directory", [LT_DB_RELAYQ] = "relayq",
    [LT_DB_DIRSEEN] = "dirseen",
};

const char *lt_db_name(enum lt_db db)
{
	return db < LT_DB_COUNT ? lt_db_names[db] : "?";
}

/* The one place LMDB errors become lt_err. */
static int lt_store_fail(const struct lt_store *s, lt_err *err, int rc, const char *what)
{
	if (rc == MDB_MAP_FULL)
		return lt_err_set(err, LT_EFULL,
		                  "LMDB store %s is full (lmdb_map_size = %lld bytes) while %s: "
		                  "raise lmdb_map_size in the configuration and restart",
		                  s->dir, (long long)s->map_size, what);
	/*
	 * A full disk shows as ENOSPC, or as EIO when LMDB's write came back short
	 * (mdb_page_flush): ask the filesystem which it is.
	 */
	struct statvfs fs;
	if ((rc == ENOSPC || rc == EIO) && statvfs(s->dir, &fs) == 0 &&
	    (uint64_t)fs.f_bavail * fs.f_frsize < LT_STORE_LOW_SPACE)
		return lt_err_set(
		    err, LT_EFULL,
		    "no space left on the filesystem of data_dir %s (%llu bytes free) "
		    "while %s: free space there; nothing already accepted is lost, "
		    "and what was refused can be submitted again",
		    s->dir, (unsigned long long)fs.f_bavail * fs.f_frsize, what);
	if (rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND ||
	    rc == MDB_VERSION_MISMATCH || rc == MDB_BAD_TXN || rc == MDB_INCOMPATIBLE)
		return lt_err_set(err, LT_EINVAL, "LMDB store %s: %s while %s: %s", s->dir,
		                  mdb_strerror(rc), what, LT_STORE_RESTORE);
	return lt_err_set(err, rc == EACCES ? LT_EINVAL : LT_EIO, "LMDB store %s: %s while %s",
	                  s->dir, mdb_strerror(rc), what);
}

/* Opens every named database; write: in a write transaction, creating missing ones. */
static int lt_store_open_dbs(struct lt_store *s, int write)
{
	MDB_txn *txn = NULL;
	int rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &txn);
	for (int i = 0; rc == 0 && i < LT_DB_COUNT; i++)
		rc = mdb_dbi_open(txn, lt_db_names[i], write ? MDB_CREATE : 0, &s->dbi[i]);
	if (rc == 0)
		return mdb_txn_commit(txn); /* the handles stay open in the environment */
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

/*
 * Every page the store's meta page counts must be in data.mdb: a page read
 * past the end of a truncated file is a SIGBUS, not an error.
 */
static int lt_store_check_size(struct lt_store *s, lt_err *err)
{
	MDB_envinfo info;
	MDB_stat st;
	struct stat fst;
	char path[sizeof s->dir + 16];
	snprintf(path, sizeof path, "%s/data.mdb", s->dir);
	if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &st) != 0)
		return lt_err_set(err, LT_EIO, "LMDB store %s: cannot read its size", s->dir);
	if (stat(path, &fst) != 0)
		return lt_err_errno(err, errno, "cannot stat %s", path);
	uint64_t need = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	if ((uint64_t)fst.st_size < need)
		return lt_err_set(
		    err, LT_EINVAL,
		    "%s has %lld bytes, but its pages reach %llu bytes (truncated): %s", path,
		    (long long)fst.st_size, (unsigned long long)need, LT_STORE_RESTORE);
	return 0;
}

#define LT_STORE_ID_LEN 16
#define LT_STORE_MARKER "store-id"

/* The marker outside the store: "<32 hex digits>\n", or *found = 0 when absent. */
static int lt_store_marker_read(const struct lt_store *s, char hex[2 * LT_STORE_ID_LEN + 1],
                                int *found, lt_err *err)
{
	char path[sizeof s->dir + 16], buf[2 * LT_STORE_ID_LEN + 2];
	snprintf(path, sizeof path, "%s/" LT_STORE_MARKER, s->dir);
	*found = 0;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return errno == ENOENT ? 0 : lt_err_errno(err, errno, "cannot read %s", path);
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	if (n != sizeof buf - 1 || buf[n - 1] != '\n' ||
	    strspn(buf, "0123456789abcdef") != 2 * LT_STORE_ID_LEN)
		return lt_err_set(err, LT_EINVAL,
		                  "%s is not a store marker (32 hex digits and a newline): restore "
		                  "it from the backup of the store, or remove it if this folder's "
		                  "store is to start afresh",
		                  path);
	memcpy(hex, buf, 2 * LT_STORE_ID_LEN);
	hex[2 * LT_STORE_ID_LEN] = '\0';
	*found = 1;
	return 0;
}

/* Writes the marker of dir atomically (temporary file, fsync, rename, fsync of the folder). */
static int lt_store_marker_write(const char *dir, const char *hex, lt_err *err)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/" LT_STORE_MARKER, dir);
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	if (f == NULL)
		return lt_err_errno(err, errno, "cannot write %s", tmp);
	int bad = fprintf(f, "%s\n", hex) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return lt_err_errno(err, e, "cannot write %s", path);
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

static void lt_store_hex(const uint8_t *id, char hex[2 * LT_STORE_ID_LEN + 1])
{
	for (int i = 0; i < LT_STORE_ID_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
}

/*
 * The store's identity: a random id in meta "store_id", and the same id in
 * the marker file beside data.mdb. A data.mdb that lost its contents (made
 * anew, truncated to nothing) has no id while the marker says a store was
 * here: that is refused, never taken for a new agency's empty store. A
 * data.mdb of another store is refused too. A store without an id (new, or
 * of an earlier version) gets one, and its marker.
 */
static int lt_store_identity(struct lt_store *s, lt_err *err)
{
	char have[2 * LT_STORE_ID_LEN + 1] = "", mark[2 * LT_STORE_ID_LEN + 1];
	int found = 0;
	MDB_txn *txn = NULL;
	MDB_val k = {.mv_size = 8, .mv_data = "store_id"}, v;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc == 0 && (rc = mdb_get(txn, s->dbi[LT_DB_META], &k, &v)) == 0 &&
	    v.mv_size == LT_STORE_ID_LEN)
		lt_store_hex(v.mv_data, have);
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return lt_store_fail(s, err, rc, "reading the store's identity");
	if (lt_store_marker_read(s, mark, &found, err) != 0)
		return -1;
	if (have[0] != '\0' && found && strcmp(have, mark) != 0)
		return lt_err_set(err, LT_EINVAL,
		                  "data.mdb in %s is store %s, but the folder held store %s "
		                  "(file " LT_STORE_MARKER
		                  "): it is another store, not this folder's; put "
		                  "back this folder's data.mdb or its backup",
		                  s->dir, have, mark);
	if (have[0] == '\0' && found)
		return lt_err_set(
		    err, LT_EINVAL,
		    "data.mdb in %s is empty or new, but the folder held store %s "
		    "(file " LT_STORE_MARKER "): its history would be lost silently; %s, or "
		    "remove %s/" LT_STORE_MARKER " if this agency's store is to start "
		    "afresh",
		    s->dir, mark, LT_STORE_RESTORE, s->dir);
	if (have[0] == '\0') {
		uint8_t id[LT_STORE_ID_LEN];
		if (RAND_bytes(id, sizeof id) != 1)
			return lt_err_ssl(err, LT_EIO, "no random bytes for the store's identity");
		rc = mdb_txn_begin(s->env, NULL, 0, &txn);
		if (rc == 0 && (rc = mdb_get(txn, s->dbi[LT_DB_META], &k, &v)) == 0 &&
		    v.mv_size == LT_STORE_ID_LEN)
			memcpy(id, v.mv_data, sizeof id); /* another process was first */
		else if (rc == 0 || rc == MDB_NOTFOUND)
			rc = mdb_put(txn, s->dbi[LT_DB_META], &k,
			             &(MDB_val){.mv_size = sizeof id, .mv_data = id}, 0);
		rc = rc == 0 ? mdb_txn_commit(txn) : (mdb_txn_abort(txn), rc);
		if (rc != 0)
			return lt_store_fail(s, err, rc, "recording the store's identity");
		lt_store_hex(id, have);
	}
	if (!found && lt_store_marker_write(s->dir, have, err) != 0) {
		/* A reader without write access to data_dir (another user) goes on. */
		if (access(s->dir, W_OK) == 0)
			return -1;
		lt_err_clear(err);
	}
	return 0;
}

const char *lt_store_dir(const struct lt_store *s)
{
	return s->dir;
}

int lt_store_open(struct lt_store **out, const char *dir, int64_t map_size, lt_err *err)
{
	struct lt_store *s = calloc(1, sizeof *s);
	int rc;
	if (s == NULL)
		return lt_err_set(err, LT_EIO, "out of memory");
	snprintf(s->dir, sizeof s->dir, "%s", dir);
	s->map_size = map_size;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		lt_err_errno(err, errno, "cannot create data_dir %s", dir);
		goto fail;
	}
	if ((rc = mdb_env_create(&s->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(s->env, LT_DB_COUNT)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, (size_t)map_size)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, 126)) != 0) {
		lt_store_fail(s, err, rc, "creating the environment");
		goto fail;
	}
	if ((rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600)) != 0) {
		lt_store_fail(s, err, rc, "opening the environment");
		goto fail;
	}
	if (lt_store_check_size(s, err) != 0)
		goto fail;
	int dead = 0;
	mdb_reader_check(s->env, &dead);
	/*
	 * Open the databases in a read-only transaction, so that a reader
	 * (lienthong-status, an upload) never waits for the agent's write
	 * transaction; only a new store needs a write transaction to create them.
	 */
	if ((rc = lt_store_open_dbs(s, 0)) == MDB_NOTFOUND)
		rc = lt_store_open_dbs(s, 1);
	if (rc != 0) {
		lt_store_fail(s, err, rc, "opening the databases");
		goto fail;
	}
	if (lt_store_identity(s, err) != 0)
		goto fail;
	*out = s;
	return 0;
fail:
	lt_store_close(s);
	return -1;
}

/* dir is created, or exists and is empty. */
static int lt_store_new_dir(const char *dir, lt_err *err)
{
	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return lt_err_errno(err, errno, "cannot create backup folder %s", dir);
	DIR *d = opendir(dir);
	if (d == NULL)
		return lt_err_errno(err, errno, "cannot open backup folder %s", dir);
	struct dirent *e;
	int empty = 1;
	while (empty && (e = readdir(d)) != NULL)
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	closedir(d);
	if (!empty)
		return lt_err_set(
		    err, LT_EINVAL,
		    "backup folder %s is not empty: give a new folder for each backup", dir);
	return 0;
}

int lt_store_copy(struct lt_store *s, const char *dest, int64_t *bytes, lt_err *err)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 32], hex[2 * LT_STORE_ID_LEN + 1] = "";
	MDB_txn *txn = NULL;
	MDB_val k = {.mv_size = 8, .mv_data = "store_id"}, v;
	struct stat st;
	int rc, fd;
	if (snprintf(path, sizeof path, "%s/data.mdb", dest) >= (int)sizeof path ||
	    snprintf(tmp, sizeof tmp, "%s/data.mdb.partial", dest) >= (int)sizeof tmp)
		return lt_err_set(err, LT_EINVAL, "backup folder name too long: %s", dest);
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return lt_store_fail(s, err, rc, "reading the store's identity");
	if (mdb_get(txn, s->dbi[LT_DB_META], &k, &v) == 0 && v.mv_size == LT_STORE_ID_LEN)
		lt_store_hex(v.mv_data, hex);
	mdb_txn_abort(txn);
	if (hex[0] == '\0')
		return lt_err_set(err, LT_EINVAL, "store %s has no identity to back up", s->dir);
	if (lt_store_new_dir(dest, err) != 0)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return lt_err_errno(err, errno, "cannot create %s", tmp);
	/* One read transaction: a consistent snapshot, writers are not held up. */
	rc = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT);
	if (rc != 0) {
		close(fd);
		unlink(tmp);
		return lt_store_fail(s, err, rc, "copying it");
	}
	if (fsync(fd) != 0 || fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return lt_err_errno(err, e, "cannot write %s", tmp);
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return lt_err_errno(err, e, "cannot rename %s to %s", tmp, path);
	}
	if (lt_store_marker_write(dest, hex, err) != 0) /* fsyncs the folder too */
		return -1;
	*bytes = (int64_t)st.st_size;
	return 0;
}

void lt_store_close(struct lt_store *s)
{
	if (s == NULL)
		return;
	if (s->env != NULL)
		mdb_env_close(s->env);
	free(s);
}

int lt_txn_begin(struct lt_store *s, int write, struct lt_txn **out, lt_err *err)
{
	struct lt_txn *t = calloc(1, sizeof *t);
	if (t == NULL)
		return lt_err_set(err, LT_EIO, "out of memory");
	t->s = s;
	int rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
	if (rc == MDB_MAP_RESIZED) {
		/* Another process grew the map: adopt its size and retry once. */
		mdb_env_set_mapsize(s->env, 0);
		rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
	}
	if (rc != 0) {
		free(t);
		return lt_store_fail(s, err, rc, "beginning a transaction");
	}
	*out = t;
	return 0;
}

int lt_txn_begin_nested(struct lt_txn *parent, struct lt_txn **out, lt_err *err)
{
	struct lt_txn *t = calloc(1, sizeof *t);
	if (t == NULL)
		return lt_err_set(err, LT_EIO, "out of memory");
	t->s = parent->s;
	t->parent = parent;
	int rc = mdb_txn_begin(parent->s->env, parent->txn, 0, &t->txn);
	if (rc != 0) {
		free(t);
		return lt_store_fail(parent->s, err, rc, "beginning a nested transaction");
	}
	*out = t;
	return 0;
}

int lt_txn_commit(struct lt_txn *t, lt_err *err)
{
	int rc = mdb_txn_commit(t->txn);
	struct lt_store *s = t->s;
	if (rc == 0 && t->parent != NULL)
		lt_counts_merge(&t->parent->counts, &t->counts);
	else if (rc == 0)
		lt_counters_publish(&t->counts);
	free(t);
	if (rc != 0)
		return lt_store_fail(s, err, rc, "committing");
	return 0;
}

struct lt_counts *lt_txn_counts(struct lt_txn *t)
{
	return &t->counts;
}

int lt_store_usage(struct lt_store *s, uint64_t *used, uint64_t *map_size, lt_err *err)
{
	MDB_envinfo info;
	MDB_stat st;
	int rc = mdb_env_info(s->env, &info);
	if (rc == 0)
		rc = mdb_env_stat(s->env, &st);
	if (rc != 0)
		return lt_store_fail(s, err, rc, "reading the size of the map");
	*used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	*map_size = (uint64_t)info.me_mapsize;
	return 0;
}

void lt_txn_abort(struct lt_txn *t)
{
	if (t == NULL)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

int lt_txn_get(struct lt_txn *t, enum lt_db db, const void *key, size_t klen, const void **val,
               size_t *vlen, lt_err *err)
{
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key}, v;
	int rc = mdb_get(t->txn, t->s->dbi[db], &k, &v);
	*val = NULL;
	*vlen = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return lt_store_fail(t->s, err, rc, "reading");
	*val = v.mv_data;
	*vlen = v.mv_size;
	return 0;
}

int lt_txn_put(struct lt_txn *t, enum lt_db db, const void *key, size_t klen, const void *val,
               size_t vlen, lt_err *err)
{
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
	MDB_val v = {.mv_size = vlen, .mv_data = (void *)val};
	int rc = mdb_put(t->txn, t->s->dbi[db], &k, &v, 0);
	if (rc != 0)
		return lt_store_fail(t->s, err, rc, "writing");
	return 0;
}

int lt_txn_del(struct lt_txn *t, enum lt_db db, const void *key, size_t klen, lt_err *err)
{
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
	int rc = mdb_del(t->txn, t->s->dbi[db], &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return lt_store_fail(t->s, err, rc, "deleting");
	return 0;
}

int lt_txn_put_pb(struct lt_txn *t, enum lt_db db, const void *key, size_t klen,
                  const ProtobufCMessage *msg, lt_err *err)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
	MDB_val v = {.mv_size = n, .mv_data = NULL};
	/* Reserve space in the map and pack straight into it: no copy. */
	int rc = mdb_put(t->txn, t->s->dbi[db], &k, &v, MDB_RESERVE);
	if (rc != 0)
		return lt_store_fail(t->s, err, rc, "writing");
	protobuf_c_message_pack(msg, v.mv_data);
	return 0;
}

int lt_txn_next_seq(struct lt_txn *t, uint64_t *seq, lt_err *err)
{
	const void *val;
	size_t vlen;
	uint8_t key[8];
	if (lt_txn_get(t, LT_DB_META, "seq", 3, &val, &vlen, err) != 0)
		return -1;
	uint64_t next = val != NULL && vlen == 8 ? lt_seq_from_key(val) : 1;
	lt_seq_key(next + 1, key);
	if (lt_txn_put(t, LT_DB_META, "seq", 3, key, sizeof key, err) != 0)
		return -1;
	*seq = next;
	return 0;
}

/* Forward from `from` (or the first key), or back from the last key. */
static int lt_txn_walk(struct lt_txn *t, enum lt_db db, const void *from, size_t flen, int back,
                       lt_scan_cb cb, void *ctx, lt_err *err)
{
	MDB_cursor *cur = NULL;
	MDB_val k = {.mv_size = flen, .mv_data = (void *)from}, v;
	int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &cur);
	if (rc != 0)
		return lt_store_fail(t->s, err, rc, "opening a cursor");
	int ret = 0;
	rc = mdb_cursor_get(cur, &k, &v,
	                    back           ? MDB_LAST
	                    : from != NULL ? MDB_SET_RANGE
	                                   : MDB_FIRST);
	while (rc == 0) {
		int c = cb(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size, err);
		if (c < 0) {
			ret = -1;
			break;
		}
		if (c > 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, back ? MDB_PREV : MDB_NEXT);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		ret = lt_store_fail(t->s, err, rc, "scanning");
	mdb_cursor_close(cur);
	return ret;
}

int lt_txn_scan(struct lt_txn *t, enum lt_db db, const void *from, size_t flen, lt_scan_cb cb,
                void *ctx, lt_err *err)
{
	return lt_txn_walk(t, db, from, flen, 0, cb, ctx, err);
}

int lt_txn_scan_back(struct lt_txn *t, enum lt_db db, lt_scan_cb cb, void *ctx, lt_err *err)
{
	return lt_txn_walk(t, db, NULL, 0, 1, cb, ctx, err);
}

int lt_txn_count(struct lt_txn *t, enum lt_db db, uint64_t *count, lt_err *err)
{
	MDB_stat st;
	int rc = mdb_stat(t->txn, t->s->dbi[db], &st);
	if (rc != 0)
		return lt_store_fail(t->s, err, rc, "counting");
	*count = st.ms_entries;
	return 0;
}

void lt_seq_key(uint64_t seq, uint8_t key[8])
{
	for (int i = 0; i < 8; i++)
		key[i] = (uint8_t)(seq >> (8 * (7 - i)));
}

uint64_t lt_seq_from_key(const void *key)
{
	const uint8_t *b = key;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | b[i];
	return v;
}

size_t lt_pair_key(const char *first, const char *second, char *key, size_t size)
{
	size_t a = strlen(first), b = strlen(second);
	if (a + 1 + b > size)
		return 0;
	memcpy(key, first, a);
	key[a] = '\0';
	memcpy(key + a + 1, second, b);
	return a + 1 + b;
}

int lt_status_get(struct lt_txn *t, const char *doc_id, const char *recipient,
                  Lienthong__Store__StatusRecord **out, lt_err *err)
{
	char key[256];
	const void *val;
	size_t vlen, klen = lt_pair_key(doc_id, recipient, key, sizeof key);
	*out = NULL;
	if (klen == 0)
		return lt_err_set(err, LT_EINVAL, "document id or recipient too long");
	if (lt_txn_get(t, LT_DB_STATUS, key, klen, &val, &vlen, err) != 0)
		return -1;
	if (val == NULL)
		return 0;
	*out = lienthong__store__status_record__unpack(NULL, vlen, val);
	if (*out == NULL)
		return lt_err_set(err, LT_EIO, "status record of %s for %s is corrupt", doc_id,
		                  recipient);
	return 0;
}

int lt_status_put(struct lt_txn *t, const char *doc_id, const char *recipient,
                  const Lienthong__Store__StatusRecord *rec, lt_err *err)
{
	char key[256];
	size_t klen = lt_pair_key(doc_id, recipient, key, sizeof key);
	if (klen == 0)
		return lt_err_set(err, LT_EINVAL, "document id or recipient too long");
	return lt_txn_put_pb(t, LT_DB_STATUS, key, klen, &rec->base, err);
}

const char *lt_status_name(Lienthong__Store__DocStatus s)
{
	switch (s) {
	case LIENTHONG__STORE__DOC_STATUS__QUEUED:
		return "queued";
	case LIENTHONG__STORE__DOC_STATUS__SENT:
		return "sent";
	case LIENTHONG__STORE__DOC_STATUS__DELIVERED:
		return "delivered";
	case LIENTHONG__STORE__DOC_STATUS__REJECTED:
		return "rejected";
	case LIENTHONG__STORE__DOC_STATUS__FAILED:
		return "failed";
	case LIENTHONG__STORE__DOC_STATUS__ARRIVED:
		return "arrived";
	case LIENTHONG__STORE__DOC_STATUS__REFUSED:
		return "refused";
	case LIENTHONG__STORE__DOC_STATUS__ACCEPTED:
		return "accepted";
	case LIENTHONG__STORE__DOC_STATUS__AWAITING_ASSIGNMENT:
		return "awaiting-assignment";
	case LIENTHONG__STORE__DOC_STATUS__IN_PROCESSING:
		return "in-processing";
	case LIENTHONG__STORE__DOC_STATUS__PROCESSED:
		return "processed";
	case LIENTHONG__STORE__DOC_STATUS__RECALL_REQUESTED:
		return "recall-requested";
	case LIENTHONG__STORE__DOC_STATUS__RECALL_AGREED:
		return "recall-agreed";
	case LIENTHONG__STORE__DOC_STATUS__RECALL_REFUSED:
		return "recall-refused";
	default:
		return "unknown";
	}
}

static int lt_outq_put(struct lt_txn *t, Lienthong__Store__OutItem *item, lt_err *err)
{
	uint64_t seq;
	uint8_t key[8];
	if (lt_txn_next_seq(t, &seq, err) != 0)
		return -1;
	lt_seq_key(seq, key);
	return lt_txn_put_pb(t, LT_DB_OUTQ, key, sizeof key, &item->base, err);
}

int lt_outq_add(struct lt_txn *t, Lienthong__Store__OutKind kind, const char *doc_id,
                const char *destination, const uint8_t *payload, size_t len, int64_t now_ms,
                lt_err *err)
{
	Lienthong__Store__OutItem item = LIENTHONG__STORE__OUT_ITEM__INIT;
	item.kind = kind;
	item.document_id = (char *)doc_id;
	item.destination = (char *)destination;
	item.payload.data = (uint8_t *)payload;
	item.payload.len = len;
	item.enqueued_at_ms = now_ms;
	return lt_outq_put(t, &item, err);
}

int lt_outq_add_release(struct lt_txn *t, const char *topic, const char *destination,
                        const uint8_t *payload, size_t len, int64_t now_ms, lt_err *err)
{
	Lienthong__Store__OutItem item = LIENTHONG__STORE__OUT_ITEM__INIT;
	item.kind = LIENTHONG__STORE__OUT_KIND__OUT_RELEASE;
	item.destination = (char *)destination;
	item.topic = (char *)topic;
	item.payload.data = (uint8_t *)payload;
	item.payload.len = len;
	item.enqueued_at_ms = now_ms;
	return lt_outq_put(t, &item, err);
}

void lt_store_set_quarantine_limits(struct lt_store *s, int64_t max_bytes, int64_t record_bytes)
{
	s->quarantine_max_bytes = max_bytes;
	s->quarantine_keep_bytes = record_bytes;
}

/* A counter in meta; absent reads as 0 with *found = 0. */
static int lt_meta_get_u64(struct lt_txn *t, const char *name, uint64_t *v, int *found, lt_err *err)
{
	const void *val;
	size_t vlen;
	if (lt_txn_get(t, LT_DB_META, name, strlen(name), &val, &vlen, err) != 0)
		return -1;
	*found = val != NULL && vlen == 8;
	*v = *found ? lt_seq_from_key(val) : 0;
	return 0;
}

static int lt_meta_put_u64(struct lt_txn *t, const char *name, uint64_t v, lt_err *err)
{
	uint8_t b[8];
	lt_seq_key(v, b);
	return lt_txn_put(t, LT_DB_META, name, strlen(name), b, sizeof b, err);
}

static int lt_quarantine_sum(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                             lt_err *err)
{
	(void)key, (void)klen, (void)val, (void)err;
	*(uint64_t *)ctx += vlen;
	return 0;
}

/* Bytes of the quarantine's records: kept in meta, counted once for an older store. */
static int lt_quarantine_bytes(struct lt_txn *t, uint64_t *bytes, lt_err *err)
{
	int found;
	if (lt_meta_get_u64(t, "q.bytes", bytes, &found, err) != 0)
		return -1;
	if (!found)
		return lt_txn_scan(t, LT_DB_QUARANTINE, NULL, 0, lt_quarantine_sum, bytes, err);
	return 0;
}

/* Drops the oldest records until `need` more bytes fit under the ceiling. */
static int lt_quarantine_make_room(struct lt_txn *t, uint64_t *total, size_t need, lt_err *err)
{
	uint64_t max = (uint64_t)t->s->quarantine_max_bytes, dropped, dropped_bytes, n = 0;
	int found, rc = 0;
	if (max == 0 || *total + need <= max)
		return 0;
	if (lt_meta_get_u64(t, "q.dropped", &dropped, &found, err) != 0 ||
	    lt_meta_get_u64(t, "q.dropped_bytes", &dropped_bytes, &found, err) != 0)
		return -1;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[LT_DB_QUARANTINE], &cur)) != 0)
		return lt_store_fail(t->s, err, rc, "opening a cursor");
	while (*total + need > max && (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
		*total -= v.mv_size < *total ? v.mv_size : *total;
		dropped_bytes += v.mv_size;
		n++;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return lt_store_fail(t->s, err, rc, "dropping old quarantined records");
	if (n > 0 && (dropped == 0 || dropped / 1000 != (dropped + n) / 1000))
		lt_log_warn(
		    "quarantine at its ceiling (quarantine_max_bytes = %lld): oldest records "
		    "dropped, %llu so far (lienthong-status --summary)",
		    (long long)max, (unsigned long long)(dropped + n));
	if (lt_meta_put_u64(t, "q.dropped", dropped + n, err) != 0 ||
	    lt_meta_put_u64(t, "q.dropped_bytes", dropped_bytes, err) != 0)
		return -1;
	return 0;
}

int lt_quarantine_add(struct lt_txn *t, const Lienthong__Store__QuarantineRecord *rec, lt_err *err)
{
	lt_counts_add(&t->counts, LT_C_QUARANTINED, 1);
	Lienthong__Store__QuarantineRecord q = *rec;
	uint8_t sha[32], key[8];
	uint64_t seq, total;
	if (EVP_Digest(rec->raw.data, rec->raw.len, sha, NULL, lt_sha256_md(), NULL) != 1)
		return lt_err_set(err, LT_EIO, "cannot compute SHA-256 of a quarantined record");
	q.raw_length = rec->raw.len;
	q.raw_sha256.data = sha;
	q.raw_sha256.len = sizeof sha;
	if (t->s->quarantine_keep_bytes > 0 && q.raw.len > (size_t)t->s->quarantine_keep_bytes)
		q.raw.len = (size_t)t->s->quarantine_keep_bytes;
	size_t n = lienthong__store__quarantine_record__get_packed_size(&q);
	if (lt_quarantine_bytes(t, &total, err) != 0 ||
	    lt_quarantine_make_room(t, &total, n, err) != 0 || lt_txn_next_seq(t, &seq, err) != 0)
		return -1;
	lt_seq_key(seq, key);
	if (lt_txn_put_pb(t, LT_DB_QUARANTINE, key, sizeof key, &q.base, err) != 0)
		return -1;
	return lt_meta_put_u64(t, "q.bytes", total + n, err);
}

int lt_quarantine_del(struct lt_txn *t, uint64_t seq, lt_err *err)
{
	uint8_t key[8];
	const void *val;
	size_t vlen;
	uint64_t total;
	lt_seq_key(seq, key);
	if (lt_quarantine_bytes(t, &total, err) != 0 ||
	    lt_txn_get(t, LT_DB_QUARANTINE, key, sizeof key, &val, &vlen, err) != 0)
		return -1;
	if (val == NULL)
		return 0;
	if (lt_txn_del(t, LT_DB_QUARANTINE, key, sizeof key, err) != 0)
		return -1;
	return lt_meta_put_u64(t, "q.bytes", total - (vlen < total ? vlen : total), err);
}

int lt_quarantine_stats(struct lt_txn *t, struct lt_quarantine_stats *st, lt_err *err)
{
	int found;
	*st = (struct lt_quarantine_stats){0};
	if (lt_txn_count(t, LT_DB_QUARANTINE, &st->records, err) != 0 ||
	    lt_quarantine_bytes(t, &st->bytes, err) != 0 ||
	    lt_meta_get_u64(t, "q.dropped", &st->dropped, &found, err) != 0 ||
	    lt_meta_get_u64(t, "q.dropped_bytes", &st->dropped_bytes, &found, err) != 0)
		return -1;
	return 0;
}

static int lt_batch_key_check(const char *key, lt_err *err)
{
	size_t n = strlen(key);
	if (n == 0 || n > LT_BATCH_KEY_MAX)
		return lt_err_set(err, LT_EINVAL, "a batch key has 1 to %d bytes, not %zu",
		                  LT_BATCH_KEY_MAX, n);
	return 0;
}

int lt_batch_key_get(struct lt_txn *t, const char *key, char *doc_id, size_t size, lt_err *err)
{
	const void *val;
	size_t vlen;
	if (lt_batch_key_check(key, err) != 0 ||
	    lt_txn_get(t, LT_DB_KEYS, key, strlen(key), &val, &vlen, err) != 0)
		return -1;
	if (val == NULL)
		return 0;
	Lienthong__Store__KeyRecord *rec = lienthong__store__key_record__unpack(NULL, vlen, val);
	if (rec == NULL)
		return lt_err_set(err, LT_EIO, "key record of batch key '%s' is corrupt", key);
	snprintf(doc_id, size, "%s", rec->document_id);
	lienthong__store__key_record__free_unpacked(rec, NULL);
	return 1;
}

int lt_batch_key_put(struct lt_txn *t, const char *key, const char *doc_id, int64_t now_ms,
                     lt_err *err)
{
	Lienthong__Store__KeyRecord rec = LIENTHONG__STORE__KEY_RECORD__INIT;
	rec.document_id = (char *)doc_id;
	rec.at_ms = now_ms;
	if (lt_batch_key_check(key, err) != 0)
		return -1;
	return lt_txn_put_pb(t, LT_DB_KEYS, key, strlen(key), &rec.base, err);
}
