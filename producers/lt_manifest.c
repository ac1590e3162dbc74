#include "lt_manifest.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../config/lt_config.h"
#include "../proto/lt_envelope.h"
#include "../store/lt_store.h"
#include "../text/lt_text.h"

void lt_problem_add(struct lt_problems *p, const char *fmt, ...)
{
	p->total++;
	if (p->n >= LT_PROBLEMS_KEPT)
		return;
	if (p->n % 64 == 0) {
		char **m = realloc(p->msg, (p->n + 64) * sizeof *m);
		if (m == NULL)
			return;
		p->msg = m;
	}
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&p->msg[p->n], fmt, ap) >= 0)
		p->n++;
	va_end(ap);
}

void lt_problems_free(struct lt_problems *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->msg[i]);
	free(p->msg);
	*p = (struct lt_problems){0};
}

enum lt_col {
	LT_COL_FILES,
	LT_COL_RECIPIENTS,
	LT_COL_SUBJECT,
	LT_COL_NUMBER,
	LT_COL_TYPE,
	LT_COL_EXPIRES,
	LT_COL_KEY,
	LT_COL_N
};

static const char *const lt_col_names[LT_COL_N] = {
    "files", "recipients", "subject", "number", "type", "expires", "key",
};

/* Longest text of a scalar column, or of one item of a list. */
static const size_t lt_col_max[LT_COL_N] = {
    PATH_MAX - 1, LT_CODE_MAX, LT_SUBJECT_MAX, 256, 255, 64, LT_BATCH_KEY_MAX,
};

static int lt_col_find(const char *name, size_t len)
{
	for (int i = 0; i < LT_COL_N; i++) {
		if (strlen(lt_col_names[i]) == len && memcmp(lt_col_names[i], name, len) == 0)
			return i;
	}
	return -1;
}

/* Where a row is, for messages. */
struct lt_mf_ctx {
	const char *name;
	enum lt_manifest_format fmt;
	size_t line;
	int bad; /* the current row has a problem */
	struct lt_problems *p;
};

static void lt_mf_problem(struct lt_mf_ctx *c, int col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void lt_mf_problem(struct lt_mf_ctx *c, int col, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	c->bad = 1;
	if (col < 0)
		lt_problem_add(c->p, "%s: line %zu: %s", c->name, c->line, what);
	else
		lt_problem_add(c->p, "%s: line %zu, %s '%s': %s", c->name, c->line,
		               c->fmt == LT_MANIFEST_CSV ? "field" : "key", lt_col_names[col],
		               what);
}

/* Valid UTF-8 of 1..max bytes without NUL or control characters. */
static int lt_mf_text_ok(struct lt_mf_ctx *c, int col, const char *s, size_t len, size_t max)
{
	if (len == 0) {
		lt_mf_problem(c, col, "empty");
		return 0;
	}
	if (len > max) {
		lt_mf_problem(c, col, "has %zu bytes; at most %zu are allowed", len, max);
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f) {
			lt_mf_problem(c, col, "control character 0x%02x at byte %zu", ch, i + 1);
			return 0;
		}
	}
	if (!lt_text_utf8_valid(s, len)) {
		lt_mf_problem(c, col, "not valid UTF-8");
		return 0;
	}
	return 1;
}

static int lt_mf_list_add(struct lt_mf_ctx *c, struct lt_manifest_row *row, int col, const char *s,
                          size_t len)
{
	char ***list = col == LT_COL_FILES ? &row->files : &row->recipients;
	size_t *n = col == LT_COL_FILES ? &row->n_files : &row->n_recipients;
	size_t max = col == LT_COL_FILES ? LT_MANIFEST_FILES_MAX : LT_RECIPIENTS_MAX;
	if (!lt_mf_text_ok(c, col, s, len, lt_col_max[col]))
		return 0;
	if (*n == max) {
		lt_mf_problem(c, col, "more than %zu items", max);
		return 0;
	}
	if (*n % 16 == 0) {
		char **l = realloc(*list, (*n + 16) * sizeof *l);
		if (l == NULL)
			return -1;
		*list = l;
	}
	if (((*list)[*n] = strndup(s, len)) == NULL)
		return -1;
	(*n)++;
	return 0;
}

int lt_manifest_expires(const char *text, int64_t *in_s, int64_t *at_ms, lt_err *err)
{
	const int64_t max_s = 100LL * 365 * 86400;
	char *end;
	*in_s = *at_ms = 0;
	if (text[0] >= '0' && text[0] <= '9' && strchr(text, '-') == NULL) {
		errno = 0;
		long long v = strtoll(text, &end, 10);
		if (*end != '\0' || errno != 0 || v <= 0 || v > max_s)
			return lt_err_set(err, LT_EINVAL,
			                  "'%s' is not a number of seconds from 1 to 100 years",
			                  text);
		*in_s = v;
		return 0;
	}
	struct tm tm = {0};
	int used = 0;
	if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6 ||
	    used != 20 || text[used] != '\0')
		return lt_err_set(err, LT_EINVAL,
		                  "'%s' is neither seconds nor a UTC time YYYY-MM-DDTHH:MM:SSZ",
		                  text);
	struct tm want = tm;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	struct tm back;
	if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL || back.tm_year + 1900 != want.tm_year ||
	    back.tm_mon + 1 != want.tm_mon || back.tm_mday != want.tm_mday ||
	    back.tm_hour != want.tm_hour || back.tm_min != want.tm_min ||
	    back.tm_sec != want.tm_sec)
		return lt_err_set(err, LT_EINVAL, "'%s' is not a valid date and time", text);
	*at_ms = (int64_t)t * 1000;
	return 0;
}

/* Stores one scalar value (or splits a CSV list); 0, or -1 out of memory. */
static int lt_mf_set(struct lt_mf_ctx *c, struct lt_manifest_row *row, int col, const char *s,
                     size_t len, int split)
{
	if (len == 0)
		return 0; /* absent */
	if (col == LT_COL_FILES || col == LT_COL_RECIPIENTS) {
		for (size_t i = 0, start = 0; split && i <= len; i++) {
			if (i == len || s[i] == '|') {
				if (lt_mf_list_add(c, row, col, s + start, i - start) < 0)
					return -1;
				start = i + 1;
			}
		}
		return split ? 0 : lt_mf_list_add(c, row, col, s, len);
	}
	if (!lt_mf_text_ok(c, col, s, len, lt_col_max[col]))
		return 0;
	char *v = strndup(s, len);
	if (v == NULL)
		return -1;
	if (col == LT_COL_EXPIRES) {
		lt_err e;
		if (lt_manifest_expires(v, &row->expires_in_s, &row->expires_at_ms, &e) != 0)
			lt_mf_problem(c, col, "%s", e.msg);
		else
			row->has_expires = 1;
		free(v);
		return 0;
	}
	char **slot = col == LT_COL_SUBJECT  ? &row->subject
	              : col == LT_COL_NUMBER ? &row->number
	              : col == LT_COL_TYPE   ? &row->type
	                                     : &row->key;
	free(*slot);
	*slot = v;
	return 0;
}

/* Ends a row: added when it has no problem, else freed. */
static int lt_mf_finish(struct lt_mf_ctx *c, struct lt_manifest *m, struct lt_manifest_row *row,
                        lt_err *err)
{
	if (!c->bad && row->n_files == 0)
		lt_mf_problem(c, LT_COL_FILES, "no file: a document needs at least one");
	if (!c->bad && m->n_rows == LT_MANIFEST_ROWS_MAX)
		lt_mf_problem(c, -1, "more than %d rows; split the manifest", LT_MANIFEST_ROWS_MAX);
	row->line = c->line;
	if (c->bad) {
		lt_manifest_row_free(row);
		return 0;
	}
	return lt_manifest_add(m, row, err);
}

/* --- CSV ------------------------------------------------------------------ */

struct lt_csv {
	const char *d;
	size_t len, pos, line;
	char *buf; /* the fields of a record, each NUL-terminated */
	size_t blen, bcap;
	size_t *off, *flen; /* field offsets and lengths in buf */
	size_t nf, fcap;
	int too_long; /* a field passed LT_MANIFEST_FIELD_MAX (1 + its index) */
};

static int lt_csv_append(struct lt_csv *r, char ch)
{
	if (r->blen + 1 > r->bcap) {
		size_t cap = r->bcap ? r->bcap * 2 : 1024;
		char *b = realloc(r->buf, cap);
		if (b == NULL)
			return -1;
		r->buf = b;
		r->bcap = cap;
	}
	r->buf[r->blen++] = ch;
	return 0;
}

/* One character of the current field; past LT_MANIFEST_FIELD_MAX only noted. */
static int lt_csv_put(struct lt_csv *r, char ch)
{
	if (r->flen[r->nf] >= LT_MANIFEST_FIELD_MAX) {
		if (!r->too_long)
			r->too_long = (int)r->nf + 1;
		return 0;
	}
	r->flen[r->nf]++;
	return lt_csv_append(r, ch);
}

static int lt_csv_field_start(struct lt_csv *r)
{
	if (r->nf + 1 >= r->fcap) {
		size_t cap = r->fcap ? r->fcap * 2 : 16;
		size_t *o = realloc(r->off, cap * sizeof *o), *l;
		if (o != NULL)
			r->off = o;
		l = o ? realloc(r->flen, cap * sizeof *l) : NULL;
		if (l == NULL)
			return -1;
		r->flen = l;
		r->fcap = cap;
	}
	r->off[r->nf] = r->blen;
	r->flen[r->nf] = 0;
	return 0;
}

static int lt_csv_field_end(struct lt_csv *r)
{
	if (lt_csv_append(r, '\0') != 0)
		return -1;
	r->nf++;
	return 0;
}

/* Skips to the start of the next line (after a bad record). */
static void lt_csv_skip_line(struct lt_csv *r)
{
	while (r->pos < r->len && r->d[r->pos] != '\n')
		r->pos++;
	if (r->pos < r->len) {
		r->pos++;
		r->line++;
	}
}

/*
 * Reads one record at r->pos: 1 read (r->nf fields), 0 end of data, 2 a bad
 * record (reported, skipped), 3 bad and nothing more can be read, -1 out of
 * memory.
 */
static int lt_csv_record(struct lt_csv *r, struct lt_mf_ctx *c)
{
	r->nf = r->blen = 0;
	r->too_long = 0;
	c->line = r->line;
	if (r->pos >= r->len)
		return 0;
	for (;;) {
		if (lt_csv_field_start(r) != 0)
			return -1;
		if (r->pos < r->len && r->d[r->pos] == '"') {
			size_t opened = r->line;
			r->pos++;
			for (;;) {
				if (r->pos >= r->len) {
					lt_mf_problem(
					    c, -1, "quoted field opened on line %zu never closes",
					    opened);
					return 3;
				}
				char ch = r->d[r->pos++];
				if (ch == '"') {
					if (r->pos < r->len && r->d[r->pos] == '"')
						r->pos++;
					else
						break;
				} else if (ch == '\n') {
					r->line++;
				}
				if (lt_csv_put(r, ch) != 0)
					return -1;
			}
			if (r->pos < r->len && r->d[r->pos] != ',' && r->d[r->pos] != '\n' &&
			    !(r->d[r->pos] == '\r' && r->pos + 1 < r->len &&
			      r->d[r->pos + 1] == '\n')) {
				lt_mf_problem(c, -1,
				              "field %zu: text after its closing quote (quote the "
				              "whole field, double quotes inside it)",
				              r->nf + 1);
				lt_csv_skip_line(r);
				return 2;
			}
		} else {
			while (r->pos < r->len && r->d[r->pos] != ',' && r->d[r->pos] != '\n' &&
			       !(r->d[r->pos] == '\r' && r->pos + 1 < r->len &&
			         r->d[r->pos + 1] == '\n')) {
				if (r->d[r->pos] == '"') {
					lt_mf_problem(
					    c, -1,
					    "field %zu: a quote inside an unquoted field "
					    "(quote the whole field, double quotes inside it)",
					    r->nf + 1);
					lt_csv_skip_line(r);
					return 2;
				}
				if (lt_csv_put(r, r->d[r->pos++]) != 0)
					return -1;
			}
		}
		if (lt_csv_field_end(r) != 0)
			return -1;
		if (r->pos >= r->len)
			return 1;
		char ch = r->d[r->pos++];
		if (ch == ',')
			continue;
		if (ch == '\r')
			r->pos++; /* the \n of \r\n */
		r->line++;
		return 1;
	}
}

static int lt_csv_parse(struct lt_mf_ctx *c, const char *d, size_t len, struct lt_manifest *m,
                        lt_err *err)
{
	struct lt_csv r = {.d = d, .len = len, .line = 1};
	int cols[LT_MANIFEST_FIELD_MAX / 64]; /* header field -> column */
	size_t ncols = 0;
	int rc = -1, v, seen[LT_COL_N] = {0};
	if (len >= 3 && memcmp(d, "\xef\xbb\xbf", 3) == 0)
		r.pos = 3;
	while ((v = lt_csv_record(&r, c)) == 1 && r.nf == 1 && r.flen[0] == 0)
		; /* empty lines before the header */
	if (v < 0)
		goto oom;
	if (v != 1) {
		if (v == 0)
			lt_problem_add(c->p,
			               "%s: empty: the first line must name the columns (%s, "
			               "%s, ...)",
			               c->name, lt_col_names[0], lt_col_names[1]);
		rc = 0;
		goto out;
	}
	for (size_t i = 0; i < r.nf; i++) {
		const char *h = r.buf + r.off[i];
		if (ncols == sizeof cols / sizeof cols[0]) {
			lt_mf_problem(c, -1, "header: too many columns");
			break;
		}
		int col = lt_col_find(h, r.flen[i]);
		if (col < 0)
			lt_mf_problem(c, -1,
			              "header: column %zu '%.64s' is not one of files, recipients, "
			              "subject, number, type, expires, key",
			              i + 1, h);
		else if (seen[col]++)
			lt_mf_problem(c, -1, "header: column '%s' appears twice", h);
		cols[ncols++] = col;
	}
	if (!seen[LT_COL_FILES])
		lt_mf_problem(c, -1, "header: no 'files' column (the parts of each document)");
	if (c->bad) {
		rc = 0; /* without a sound header no row can be read */
		goto out;
	}
	m->has_recipients = seen[LT_COL_RECIPIENTS] > 0;
	for (;;) {
		c->bad = 0;
		v = lt_csv_record(&r, c);
		if (v < 0)
			goto oom;
		if (v == 0 || v == 3)
			break;
		if (v == 2 || (r.nf == 1 && r.flen[0] == 0))
			continue;
		if (r.nf != ncols) {
			lt_mf_problem(c, -1, "%zu fields, but the header names %zu columns", r.nf,
			              ncols);
			continue;
		}
		struct lt_manifest_row row = {0};
		if (r.too_long)
			lt_mf_problem(c, cols[r.too_long - 1], "longer than %d bytes",
			              LT_MANIFEST_FIELD_MAX);
		for (size_t i = 0; i < r.nf && !r.too_long; i++) {
			if (lt_mf_set(c, &row, cols[i], r.buf + r.off[i], r.flen[i], 1) != 0) {
				lt_manifest_row_free(&row);
				goto oom;
			}
		}
		if (lt_mf_finish(c, m, &row, err) != 0)
			goto out;
	}
	rc = 0;
	goto out;
oom:
	lt_err_set(err, LT_EIO, "out of memory reading %s", c->name);
out:
	free(r.buf);
	free(r.off);
	free(r.flen);
	return rc;
}

/* --- JSON Lines ----------------------------------------------------------- */

static int lt_jsonl_value(struct lt_mf_ctx *c, struct lt_manifest_row *row, int col, json_t *v)
{
	if (json_is_null(v))
		return 0;
	if (col == LT_COL_EXPIRES && json_is_integer(v)) {
		char num[32];
		snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
		return lt_mf_set(c, row, col, num, strlen(num), 0);
	}
	if (json_is_string(v))
		return lt_mf_set(c, row, col, json_string_value(v), json_string_length(v), 0);
	if ((col == LT_COL_FILES || col == LT_COL_RECIPIENTS) && json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
		{
			if (!json_is_string(e)) {
				lt_mf_problem(c, col, "item %zu is not a string", i + 1);
				return 0;
			}
			if (lt_mf_list_add(c, row, col, json_string_value(e),
			                   json_string_length(e)) != 0)
				return -1;
		}
		return 0;
	}
	lt_mf_problem(c, col, "wants %s",
	              col == LT_COL_FILES || col == LT_COL_RECIPIENTS ? "an array of strings"
	              : col == LT_COL_EXPIRES ? "a number of seconds or a time string"
	                                      : "a string");
	return 0;
}

static int lt_jsonl_line(struct lt_mf_ctx *c, const char *s, size_t n, struct lt_manifest *m,
                         lt_err *err)
{
	json_error_t je;
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == n)
		return 0;
	if (n > LT_MANIFEST_LINE_MAX) {
		lt_mf_problem(c, -1, "longer than %u bytes", LT_MANIFEST_LINE_MAX);
		return 0;
	}
	json_t *o = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL) {
		lt_mf_problem(c, -1, "not valid JSON at byte %d: %s", je.position, je.text);
		return 0;
	}
	struct lt_manifest_row row = {0};
	int rc = 0;
	if (!json_is_object(o)) {
		lt_mf_problem(c, -1, "not a JSON object");
	} else {
		const char *k;
		json_t *v;
		json_object_foreach(o, k, v)
		{
			int col = lt_col_find(k, strlen(k));
			if (col < 0) {
				lt_mf_problem(
				    c, -1,
				    "key '%.64s' is not one of files, recipients, subject, "
				    "number, type, expires, key",
				    k);
				continue;
			}
			if (col == LT_COL_RECIPIENTS)
				m->has_recipients = 1;
			if (lt_jsonl_value(c, &row, col, v) != 0) {
				rc = lt_err_set(err, LT_EIO, "out of memory reading %s", c->name);
				break;
			}
		}
	}
	json_decref(o);
	if (rc != 0) {
		lt_manifest_row_free(&row);
		return -1;
	}
	return lt_mf_finish(c, m, &row, err);
}

static int lt_jsonl_parse(struct lt_mf_ctx *c, const char *d, size_t len, struct lt_manifest *m,
                          lt_err *err)
{
	size_t pos = 0;
	if (len >= 3 && memcmp(d, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	for (c->line = 1; pos < len; c->line++) {
		const char *nl = memchr(d + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (d + pos)) : len - pos;
		size_t trimmed = n > 0 && d[pos + n - 1] == '\r' ? n - 1 : n;
		c->bad = 0;
		if (lt_jsonl_line(c, d + pos, trimmed, m, err) != 0)
			return -1;
		pos += n + 1;
	}
	return 0;
}

/* --- the manifest --------------------------------------------------------- */

int lt_manifest_format_of(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (dot != NULL && (strcasecmp(dot, ".jsonl") == 0 || strcasecmp(dot, ".ndjson") == 0))
		return LT_MANIFEST_JSONL;
	if (dot != NULL && strcasecmp(dot, ".csv") == 0)
		return LT_MANIFEST_CSV;
	return -1;
}

int lt_manifest_parse(const char *name, const char *data, size_t len, enum lt_manifest_format fmt,
                      struct lt_manifest *m, struct lt_problems *p, lt_err *err)
{
	struct lt_mf_ctx c = {.name = name, .fmt = fmt, .p = p};
	if (len > LT_MANIFEST_BYTES_MAX) {
		lt_problem_add(p, "%s: %zu bytes; a manifest may have at most %u", name, len,
		               LT_MANIFEST_BYTES_MAX);
		return 0;
	}
	return fmt == LT_MANIFEST_CSV ? lt_csv_parse(&c, data, len, m, err)
	                              : lt_jsonl_parse(&c, data, len, m, err);
}

int lt_manifest_load(const char *path, enum lt_manifest_format fmt, struct lt_manifest *m,
                     struct lt_problems *p, lt_err *err)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	if (f == NULL) {
		lt_problem_add(p, "%s: cannot open: %s", path, strerror(errno));
		return 0;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > LT_MANIFEST_BYTES_MAX) {
		lt_problem_add(p, "%s: not a regular file of at most %u bytes", path,
		               LT_MANIFEST_BYTES_MAX);
		fclose(f);
		return 0;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t n = buf ? fread(buf, 1, (size_t)st.st_size + 1, f) : 0;
	int bad = ferror(f);
	fclose(f);
	if (buf == NULL)
		return lt_err_set(err, LT_EIO, "out of memory reading %s", path);
	int rc = 0;
	if (bad || n != (size_t)st.st_size)
		lt_problem_add(p, "%s: cannot read (changed while reading?)", path);
	else
		rc = lt_manifest_parse(path, buf, n, fmt, m, p, err);
	free(buf);
	return rc;
}

int lt_manifest_add(struct lt_manifest *m, struct lt_manifest_row *row, lt_err *err)
{
	if (m->n_rows == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct lt_manifest_row *r = realloc(m->rows, cap * sizeof *r);
		if (r == NULL) {
			lt_manifest_row_free(row);
			return lt_err_set(err, LT_EIO, "out of memory for %zu rows", cap);
		}
		m->rows = r;
		m->cap = cap;
	}
	m->rows[m->n_rows++] = *row;
	return 0;
}

void lt_manifest_row_free(struct lt_manifest_row *row)
{
	for (size_t i = 0; i < row->n_files; i++)
		free(row->files[i]);
	for (size_t i = 0; i < row->n_recipients; i++)
		free(row->recipients[i]);
	free(row->files);
	free(row->recipients);
	free(row->subject);
	free(row->number);
	free(row->type);
	free(row->key);
	*row = (struct lt_manifest_row){0};
}

void lt_manifest_free(struct lt_manifest *m)
{
	for (size_t i = 0; i < m->n_rows; i++)
		lt_manifest_row_free(&m->rows[i]);
	free(m->rows);
	*m = (struct lt_manifest){0};
}
