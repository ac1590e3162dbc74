#include "lt_rows_args.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *lt_rows_base(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* Appends path (taken, also on failure) to row's files. */
static int lt_row_push_file(struct lt_manifest_row *row, char *path, lt_err *err)
{
	char **f = realloc(row->files, (row->n_files + 1) * sizeof *f);
	if (f == NULL) {
		free(path);
		return lt_err_set(err, LT_EIO, "out of memory");
	}
	row->files = f;
	row->files[row->n_files++] = path;
	return 0;
}

static int lt_visible(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* A sub-folder: one row, its files the parts (in name order). */
static int lt_rows_add_subdir(struct lt_manifest *m, const char *dir, struct lt_problems *p,
                              lt_err *err)
{
	struct dirent **ents = NULL;
	struct lt_manifest_row row = {0};
	int n = scandir(dir, &ents, lt_visible, alphasort), rc = 0;
	if (n < 0) {
		lt_problem_add(p, "%s: cannot read the folder: %s", dir, strerror(errno));
		return 0;
	}
	for (int i = 0; i < n; i++) {
		char *path = NULL;
		struct stat st;
		if (rc == 0 && asprintf(&path, "%s/%s", dir, ents[i]->d_name) < 0) {
			path = NULL;
			rc = lt_err_set(err, LT_EIO, "out of memory");
		} else if (rc == 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			lt_problem_add(p,
			               "%s: a folder inside a document's folder is not taken; put "
			               "the parts of %s directly in it",
			               path, dir);
		} else if (rc == 0) {
			rc = lt_row_push_file(&row, path, err);
			path = NULL;
		}
		free(path);
		free(ents[i]);
	}
	free(ents);
	if (rc == 0 && row.n_files == 0)
		lt_problem_add(p, "%s: an empty folder is no document", dir);
	if (rc != 0 || row.n_files == 0) {
		lt_manifest_row_free(&row);
		return rc;
	}
	row.subject = strdup(lt_rows_base(dir));
	return lt_manifest_add(m, &row, err);
}

/* A folder: one row per file, one per sub-folder (in name order). */
static int lt_rows_add_dir(struct lt_manifest *m, const char *dir, struct lt_problems *p,
                           lt_err *err)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, lt_visible, alphasort), rc = 0;
	if (n < 0) {
		lt_problem_add(p, "%s: cannot read the folder: %s", dir, strerror(errno));
		return 0;
	}
	if (n == 0)
		lt_problem_add(p, "%s: an empty folder: no document to submit", dir);
	for (int i = 0; i < n; i++) {
		char *path = NULL;
		struct stat st;
		if (rc == 0 && asprintf(&path, "%s/%s", dir, ents[i]->d_name) < 0) {
			path = NULL;
			rc = lt_err_set(err, LT_EIO, "out of memory");
		} else if (rc == 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			rc = lt_rows_add_subdir(m, path, p, err);
		} else if (rc == 0) {
			struct lt_manifest_row row = {0};
			rc = lt_row_push_file(&row, path, err);
			path = NULL;
			if (rc == 0)
				rc = lt_manifest_add(m, &row, err);
		}
		free(path);
		free(ents[i]);
	}
	free(ents);
	return rc;
}

int lt_rows_from_args(struct lt_manifest *m, char **args, int n, struct lt_problems *p, lt_err *err)
{
	int join = 0, last_file = 0, rc = 0;
	for (int i = 0; rc == 0 && i < n; i++) {
		const char *a = args[i];
		struct stat st;
		if (strcmp(a, "+") == 0) {
			if (!last_file || join || i == n - 1)
				lt_problem_add(p,
				               "argument %d: '+' joins two files into one document "
				               "(FILE + FILE); write ./+ for a file named +",
				               i + 1);
			join = 1;
			continue;
		}
		if (stat(a, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (join || (i + 1 < n && strcmp(args[i + 1], "+") == 0))
				lt_problem_add(p, "%s: a folder cannot be joined with '+'", a);
			rc = lt_rows_add_dir(m, a, p, err);
			join = last_file = 0;
			continue;
		}
		char *path = strdup(a);
		if (path == NULL)
			return lt_err_set(err, LT_EIO, "out of memory");
		if (join && last_file && m->n_rows > 0) {
			rc = lt_row_push_file(&m->rows[m->n_rows - 1], path, err);
		} else {
			struct lt_manifest_row row = {0};
			rc = lt_row_push_file(&row, path, err);
			if (rc == 0)
				rc = lt_manifest_add(m, &row, err);
		}
		join = 0;
		last_file = 1;
	}
	return rc;
}
