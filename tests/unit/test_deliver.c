/* Unit tests of lt_deliver_folder: the folder target (files, and edXML), one by one and in batches.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../config/lt_config.h"
#include "../../consumers/lt_deliver.h"
#include "../../edxml/lt_edxml.h"
#include "../../log/lt_log.h"
#include "lt_check.h"
#include "lt_testpki.h"

#define SENDER "000.00.00.G22"
#define DOC1 "0190f3a2-0001-7000-8000-000000000001"
#define DOC2 "0190f3a2-0002-7000-8000-000000000002"
#define DOC3 "0190f3a2-0003-7000-8000-000000000003"
#define SENDER2 "000.00.00.H33"

static char tmp[64];
static char target[PATH_MAX];

static uint8_t data0[100000];
static uint8_t data1[] = {'a', 0, 'b', '\n', 0xff};
static Lienthong__Header hdr = LIENTHONG__HEADER__INIT;
static Lienthong__Part p0 = LIENTHONG__PART__INIT, p1 = LIENTHONG__PART__INIT,
                       p2 = LIENTHONG__PART__INIT;
static Lienthong__Part *parts[] = {&p0, &p1, &p2};
static Lienthong__Envelope env = LIENTHONG__ENVELOPE__INIT;

static void build_envelope(const char *docid)
{
	for (size_t i = 0; i < sizeof data0; i++)
		data0[i] = (uint8_t)(i * 13);
	hdr.document_id = (char *)docid;
	hdr.sender = SENDER;
	p0.name = "Quyết định 12.pdf";
	p0.data.data = data0;
	p0.data.len = sizeof data0;
	p1.name = "b.bin";
	p1.data.data = data1;
	p1.data.len = sizeof data1;
	p2.name = "empty";
	p2.data.data = NULL;
	p2.data.len = 0;
	env.header = &hdr;
	env.parts = parts;
	env.n_parts = 3;
}

/* 1 if path holds exactly len bytes equal to data. */
static int file_is(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return 0;
	uint8_t *buf = malloc(len + 1);
	size_t n = buf != NULL ? fread(buf, 1, len + 1, f) : 0;
	fclose(f);
	int same = buf != NULL && n == len && (len == 0 || memcmp(buf, data, len) == 0);
	free(buf);
	return same;
}

/* Names in dir (without . and ..), sorted, joined by '|' into out; -1 if dir cannot be read. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(const char *dir, char *out, size_t size)
{
	DIR *d = opendir(dir);
	char *names[64];
	size_t n = 0;
	out[0] = '\0';
	if (d == NULL)
		return -1;
	struct dirent *de;
	while ((de = readdir(d)) != NULL && n < 64) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof names[0], cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strncat(out, "|", size - strlen(out) - 1);
		strncat(out, names[i] != NULL ? names[i] : "?", size - strlen(out) - 1);
		free(names[i]);
	}
	return 0;
}

/* The parts of env, byte for byte, and nothing else, in folder dir. */
static void check_delivered(const char *dir)
{
	char path[PATH_MAX + 300], names[1024];
	for (size_t i = 0; i < env.n_parts; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, env.parts[i]->name);
		CHECK(file_is(path, env.parts[i]->data.data, env.parts[i]->data.len));
	}
	CHECK(list_dir(dir, names, sizeof names) == 0);
	CHECK(strcmp(names, "Quyết định 12.pdf|b.bin|empty") == 0);
}

static void test_deliver(void)
{
	char path[PATH_MAX], want[PATH_MAX + 100], names[1024];
	lt_err err;
	build_envelope(DOC1);
	/* target_dir itself is created if missing. */
	if (!CHECK_OK(lt_deliver_folder(target, &env, path, sizeof path, &err), err))
		return;
	snprintf(want, sizeof want, "%s/%s/%s", target, SENDER, DOC1);
	CHECK(strcmp(path, want) == 0);
	check_delivered(path);
	/* Nothing else in the sender's folder: no temporary folder left. */
	snprintf(want, sizeof want, "%s/%s", target, SENDER);
	CHECK(list_dir(want, names, sizeof names) == 0);
	CHECK(strcmp(names, DOC1) == 0);

	/* Again (a crash before the inbox record): success, and the first copy stays as it was. */
	data1[0] = 'Z';
	char path2[PATH_MAX];
	CHECK_OK(lt_deliver_folder(target, &env, path2, sizeof path2, &err), err);
	CHECK(strcmp(path2, path) == 0);
	snprintf(want, sizeof want, "%s/b.bin", path);
	CHECK(!file_is(want, data1, sizeof data1));
	data1[0] = 'a';
	CHECK(file_is(want, data1, sizeof data1));
	snprintf(want, sizeof want, "%s/%s", target, SENDER);
	CHECK(list_dir(want, names, sizeof names) == 0);
	CHECK(strcmp(names, DOC1) == 0);
}

static void test_leftover_tmp(void)
{
	char path[PATH_MAX], tmpdir[PATH_MAX + 100], file[PATH_MAX + 200], names[1024];
	lt_err err;
	build_envelope(DOC2);
	/* A crash left a half-written temporary folder, with a part of the same name. */
	snprintf(tmpdir, sizeof tmpdir, "%s/%s/.tmp-%s", target, SENDER, DOC2);
	if (!CHECK(mkdir(tmpdir, 0750) == 0))
		return;
	snprintf(file, sizeof file, "%s/b.bin", tmpdir);
	CHECK(lt_write_file(file, "half") == 0);
	snprintf(file, sizeof file, "%s/junk", tmpdir);
	CHECK(lt_write_file(file, "junk") == 0);
	if (!CHECK_OK(lt_deliver_folder(target, &env, path, sizeof path, &err), err))
		return;
	check_delivered(path);
	struct stat st;
	CHECK(stat(tmpdir, &st) == -1);
	snprintf(file, sizeof file, "%s/%s", target, SENDER);
	CHECK(list_dir(file, names, sizeof names) == 0);
	CHECK(strcmp(names, DOC1 "|" DOC2) == 0);
}

static void test_unwritable(void)
{
	char file[PATH_MAX], bad_target[PATH_MAX + 20], path[PATH_MAX];
	lt_err err;
	build_envelope(DOC1);
	/* The target's parent is a regular file: not even root can create it. */
	snprintf(file, sizeof file, "%s/plain-file", tmp);
	if (!CHECK(lt_write_file(file, "x") == 0))
		return;
	snprintf(bad_target, sizeof bad_target, "%s/target", file);
	lt_err_clear(&err);
	CHECK(lt_deliver_folder(bad_target, &env, path, sizeof path, &err) == -1);
	CHECK(err.code == LT_EIO);
	CHECK_STR_CONTAINS(err.msg, "cannot create folder");
	CHECK_STR_CONTAINS(err.msg, bad_target);
	CHECK_STR_CONTAINS(err.msg, "Not a directory");
	/* The sender's folder is a regular file. */
	snprintf(bad_target, sizeof bad_target, "%s/t2", tmp);
	CHECK(mkdir(bad_target, 0750) == 0);
	snprintf(file, sizeof file, "%s/%s", bad_target, SENDER);
	CHECK(lt_write_file(file, "x") == 0);
	CHECK(lt_deliver_folder(bad_target, &env, path, sizeof path, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, file);
	/* A path that does not fit. */
	char small[16];
	CHECK(lt_deliver_folder(target, &env, small, sizeof small, &err) == -1);
	CHECK(err.code == LT_EINVAL);
	CHECK_STR_CONTAINS(err.msg, "too long");
}

/*
 * Symbolic links planted under target_dir are never followed: a sender
 * folder or a document folder that is a link refuses delivery with a clear
 * error and nothing is written where it points; a leftover temporary folder
 * that is a link is removed as a link, what it points to is left alone.
 */
static void test_symlinks(void)
{
	char t[PATH_MAX], outside[PATH_MAX], link[PATH_MAX + 100], file[PATH_MAX + 100];
	char path[PATH_MAX], names[1024];
	lt_err err;
	build_envelope(DOC1);
	snprintf(outside, sizeof outside, "%s/outside", tmp);
	snprintf(t, sizeof t, "%s/t-links", tmp);
	if (!CHECK(mkdir(outside, 0750) == 0 && mkdir(t, 0750) == 0))
		return;

	/* target_dir/<sender> -> outside */
	snprintf(link, sizeof link, "%s/%s", t, SENDER);
	CHECK(symlink(outside, link) == 0);
	CHECK(lt_deliver_folder(t, &env, path, sizeof path, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "is a symbolic link");
	CHECK_STR_CONTAINS(err.msg, link);
	CHECK(list_dir(outside, names, sizeof names) == 0 && names[0] == '\0');
	CHECK(unlink(link) == 0);

	/* target_dir/<sender>/<document id> -> outside: not taken for "delivered before". */
	CHECK(mkdir(link, 0750) == 0);
	snprintf(file, sizeof file, "%s/%s", link, DOC1);
	CHECK(symlink(outside, file) == 0);
	CHECK(lt_deliver_folder(t, &env, path, sizeof path, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "is a symbolic link");
	CHECK_STR_CONTAINS(err.msg, file);
	CHECK(list_dir(outside, names, sizeof names) == 0 && names[0] == '\0');
	CHECK(list_dir(link, names, sizeof names) == 0 && strcmp(names, DOC1) == 0);
	CHECK(unlink(file) == 0);

	/* A leftover temporary folder that is a link to a folder with a file. */
	snprintf(file, sizeof file, "%s/keep.txt", outside);
	CHECK(lt_write_file(file, "keep") == 0);
	snprintf(file, sizeof file, "%s/.tmp-%s", link, DOC1);
	CHECK(symlink(outside, file) == 0);
	if (!CHECK_OK(lt_deliver_folder(t, &env, path, sizeof path, &err), err))
		return;
	check_delivered(path);
	CHECK(list_dir(outside, names, sizeof names) == 0 && strcmp(names, "keep.txt") == 0);
	CHECK(list_dir(link, names, sizeof names) == 0 && strcmp(names, DOC1) == 0);
}

struct edxml_parts {
	char dir[PATH_MAX];
};

static int edxml_open_part(void *arg, size_t index, lt_err *err)
{
	struct edxml_parts *p = arg;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%zu", p->dir, index);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return lt_err_errno(err, errno, "cannot create %s", path);
	return fd;
}

/*
 * target_format = edxml: the folder holds message.edxml alone, which reads
 * back (lienthong's reader) as the header, the DocumentId made from the id,
 * and every part byte-identical; a leftover temporary folder is replaced;
 * delivered again, nothing is rewritten.
 */
static void test_edxml(void)
{
	static struct lt_config cfg;
	static const char text[] = "agency_code = 000.00.01.H26\ndata_dir = /nonexistent\n"
	                           "key_file = k\ncert_file = c\nca_file = a\n"
	                           "target_dir = /nonexistent\n";
	char t[PATH_MAX], path[PATH_MAX], dir[PATH_MAX + 64], names[1024], file[PATH_MAX + 80];
	char *recipients[] = {"000.00.01.H26"};
	struct edxml_parts op;
	struct lt_edxml_doc doc;
	lt_err err;
	if (!CHECK_OK(lt_config_parse(&cfg, "t.conf", text, strlen(text), &err), err))
		return;
	build_envelope(DOC2);
	hdr.recipients = recipients;
	hdr.n_recipients = 1;
	hdr.subject = "Công văn";
	hdr.document_number = "7/CV";
	p0.media_type = p1.media_type = p2.media_type = "application/octet-stream";
	snprintf(t, sizeof t, "%s/edxml-target", tmp);
	snprintf(dir, sizeof dir, "%s/%s", t, SENDER);
	CHECK(mkdir(t, 0750) == 0 && mkdir(dir, 0750) == 0);
	snprintf(dir, sizeof dir, "%s/%s/.tmp-%s", t, SENDER, DOC2);
	CHECK(mkdir(dir, 0750) == 0); /* an interrupted attempt */
	if (!CHECK_OK(lt_deliver_folder_edxml(t, &env, NULL, path, sizeof path, &err), err))
		return;
	CHECK(list_dir(path, names, sizeof names) == 0);
	CHECK(strcmp(names, LT_DELIVER_EDXML_FILE) == 0);
	snprintf(dir, sizeof dir, "%s/%s", t, SENDER);
	CHECK(list_dir(dir, names, sizeof names) == 0);
	CHECK(strcmp(names, DOC2) == 0);
	snprintf(file, sizeof file, "%s/%s", path, LT_DELIVER_EDXML_FILE);
	snprintf(op.dir, sizeof op.dir, "%s/parts", tmp);
	CHECK(mkdir(op.dir, 0700) == 0);
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (!CHECK(fd >= 0) ||
	    !CHECK_OK(lt_edxml_read(fd, file, &cfg, edxml_open_part, &op, &doc, &err), err)) {
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	CHECK(strcmp(doc.sender, SENDER) == 0);
	CHECK(doc.n_recipients == 1 && strcmp(doc.recipients[0], "000.00.01.H26") == 0);
	CHECK(strcmp(doc.subject, "Công văn") == 0 && strcmp(doc.document_number, "7/CV") == 0);
	CHECK(doc.document_id != NULL &&
	      strcmp(doc.document_id, SENDER ",2024/07/27," DOC2) == 0); /* UUIDv7 time, UTC+7 */
	CHECK(doc.n_parts == 3 && strcmp(doc.parts[0].name, "Quyết định 12.pdf") == 0);
	snprintf(file, sizeof file, "%s/0", op.dir);
	CHECK(file_is(file, data0, sizeof data0));
	snprintf(file, sizeof file, "%s/1", op.dir);
	CHECK(file_is(file, data1, sizeof data1));
	snprintf(file, sizeof file, "%s/2", op.dir);
	CHECK(file_is(file, NULL, 0));
	lt_edxml_doc_free(&doc);
	/* Again: already delivered, not written again. */
	struct stat before, after;
	snprintf(file, sizeof file, "%s/%s", path, LT_DELIVER_EDXML_FILE);
	CHECK(stat(file, &before) == 0);
	CHECK_OK(lt_deliver_folder_edxml(t, &env, NULL, path, sizeof path, &err), err);
	CHECK(stat(file, &after) == 0 && after.st_ino == before.st_ino);
	hdr.recipients = NULL;
	hdr.n_recipients = 0;
	lt_config_free(&cfg);
}

/*
 * A batch: each document waits in its temporary folder until the flush,
 * which renames them all; the same document twice in a batch is written
 * once; a rename that fails in the flush says so in that document's outcome.
 */
static void test_batch(void)
{
	static struct lt_config cfg;
	char path1[PATH_MAX], path2[PATH_MAX], path3[PATH_MAX], path4[PATH_MAX],
	    dir[PATH_MAX + 100];
	char names[1024];
	int d1 = -1, d2 = -1, d3 = -1, d4 = -1;
	lt_err e1, e2, e3, e4, err;
	struct stat st;
	snprintf(cfg.target_dir, sizeof cfg.target_dir, "%s/t-batch", tmp);
	struct lt_target *t = lt_target_new(&cfg, &err);
	if (!CHECK_OK(t != NULL ? 0 : -1, err))
		return;
	build_envelope(DOC1);
	CHECK_OK(lt_target_deliver_deferred(t, &env, path1, sizeof path1, &d1, &e1), e1);
	hdr.document_id = DOC2;
	CHECK_OK(lt_target_deliver_deferred(t, &env, path2, sizeof path2, &d2, &e2), e2);
	CHECK(d1 == 1 && d2 == 1);
	/* Not there yet: only the temporary folders. */
	snprintf(dir, sizeof dir, "%s/%s", cfg.target_dir, SENDER);
	CHECK(list_dir(dir, names, sizeof names) == 0);
	CHECK(strcmp(names, ".tmp-" DOC1 "|.tmp-" DOC2) == 0);
	CHECK(stat(path1, &st) == -1);

	/* DOC1 again in the same batch: the first is completed, the second finds it. */
	hdr.document_id = DOC1;
	data1[0] = 'Z';
	CHECK_OK(lt_target_deliver_deferred(t, &env, path3, sizeof path3, &d3, &e3), e3);
	data1[0] = 'a';
	CHECK(d3 == 1 && strcmp(path3, path1) == 0);
	check_delivered(path1);
	check_delivered(path2);
	CHECK(lt_target_flush(t) == 0);

	/* Another sender; then its final name taken by a file before the flush. */
	hdr.sender = SENDER2;
	hdr.document_id = DOC3;
	CHECK_OK(lt_target_deliver_deferred(t, &env, path4, sizeof path4, &d4, &e4), e4);
	CHECK(lt_write_file(path4, "in the way") == 0);
	hdr.document_id = DOC2;
	CHECK_OK(lt_target_deliver_deferred(t, &env, path2, sizeof path2, &d2, &e2), e2);
	CHECK(lt_target_flush(t) == 2);
	CHECK(d4 == 0);
	CHECK_STR_CONTAINS(e4.msg, path4);
	CHECK(d2 == 1);
	check_delivered(path2);
	snprintf(dir, sizeof dir, "%s/%s", cfg.target_dir, SENDER2);
	CHECK(list_dir(dir, names, sizeof names) == 0);
	CHECK(strcmp(names, DOC2 "|" DOC3) == 0); /* the temporary folder went */
	snprintf(dir, sizeof dir, "%s/%s", cfg.target_dir, SENDER);
	CHECK(list_dir(dir, names, sizeof names) == 0);
	CHECK(strcmp(names, DOC1 "|" DOC2) == 0);
	hdr.sender = SENDER;
	lt_target_free(t);
}

int main(void)
{
	lt_log_set_level(LT_LOG_WARN);
	if (lt_tmpdir_new(tmp, sizeof tmp) != 0)
		return 1;
	snprintf(target, sizeof target, "%s/target", tmp);
	LT_RUN(test_deliver);
	LT_RUN(test_leftover_tmp);
	LT_RUN(test_unwritable);
	LT_RUN(test_symlinks);
	LT_RUN(test_edxml);
	LT_RUN(test_batch);
	lt_tmpdir_remove(tmp);
	return lt_check_summary();
}
