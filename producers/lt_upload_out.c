#include "lt_upload_out.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../text/lt_text.h"

const char *lt_outcome_name(enum lt_outcome o)
{
	return o == LT_OUTCOME_SUBMITTED ? "submitted"
	       : o == LT_OUTCOME_ALREADY ? "already-submitted"
	       : o == LT_OUTCOME_FAILED  ? "failed"
	                                 : "not-attempted";
}

int lt_report_open(struct lt_report *r, const char *path, lt_err *err)
{
	const char *dot = strrchr(path, '.');
	r->jsonl =
	    dot != NULL && (strcasecmp(dot, ".jsonl") == 0 || strcasecmp(dot, ".ndjson") == 0);
	if ((r->f = fopen(path, "w")) == NULL)
		return lt_err_errno(err, errno, "cannot create the report %s", path);
	if (!r->jsonl)
		fputs("row,line,source,key,document_id,outcome,reason\r\n", r->f);
	return 0;
}

/* One CSV field, quoted (RFC 4180), then sep. */
static void lt_report_csv(FILE *f, const char *s, const char *sep)
{
	fputc('"', f);
	for (; s != NULL && *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
	fputs(sep, f);
}

int lt_report_row(struct lt_report *r, size_t row, size_t line, const char *source, const char *key,
                  const char *doc_id, enum lt_outcome o, const char *reason, lt_err *err)
{
	if (r->f == NULL)
		return 0;
	if (r->jsonl) {
		json_t *j = json_object();
		json_object_set_new(j, "row", json_integer((json_int_t)row));
		json_object_set_new(j, "line", line ? json_integer((json_int_t)line) : json_null());
		json_object_set_new(j, "source", lt_text_json(source));
		json_object_set_new(j, "key", lt_text_json(key ? key : ""));
		json_object_set_new(j, "document_id", lt_text_json(doc_id ? doc_id : ""));
		json_object_set_new(j, "outcome", json_string(lt_outcome_name(o)));
		json_object_set_new(j, "reason", lt_text_json(reason ? reason : ""));
		char *s = lt_text_json_dumps(j, JSON_COMPACT);
		json_decref(j);
		if (s == NULL)
			return lt_err_set(err, LT_EIO, "out of memory writing the report");
		fprintf(r->f, "%s\n", s);
		free(s);
	} else {
		char num[48];
		snprintf(num, sizeof num, "%zu,", row);
		fputs(num, r->f);
		if (line)
			fprintf(r->f, "%zu", line);
		fputc(',', r->f);
		lt_report_csv(r->f, source, ",");
		lt_report_csv(r->f, key, ",");
		lt_report_csv(r->f, doc_id, ",");
		lt_report_csv(r->f, lt_outcome_name(o), ",");
		lt_report_csv(r->f, reason, "\r\n");
	}
	if (fflush(r->f) != 0)
		return lt_err_errno(err, errno, "cannot write the report");
	return 0;
}

int lt_report_close(struct lt_report *r, lt_err *err)
{
	if (r->f == NULL)
		return 0;
	int bad = ferror(r->f) | (fclose(r->f) != 0);
	r->f = NULL;
	return bad ? lt_err_set(err, LT_EIO, "the report could not be written completely") : 0;
}

void lt_progress_start(struct lt_progress *p, uint64_t docs_total, uint64_t bytes_total,
                       int64_t interval_s, int64_t now_ms)
{
	*p = (struct lt_progress){.tty = isatty(STDERR_FILENO),
	                          .interval_ms = interval_s * 1000,
	                          .start_ms = now_ms,
	                          .last_ms = now_ms,
	                          .docs_total = docs_total,
	                          .bytes_total = bytes_total};
}

/* "12.3 MB" */
static void lt_progress_bytes(double b, char *out, size_t size)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	int u = 0;
	while (b >= 1000 && u < 4) {
		b /= 1000;
		u++;
	}
	snprintf(out, size, u ? "%.1f %s" : "%.0f %s", b, units[u]);
}

void lt_progress_show(struct lt_progress *p, uint64_t docs, uint64_t bytes, int64_t now_ms,
                      int force)
{
	int64_t gap = p->tty ? 200 : p->interval_ms;
	if (!force && (gap <= 0 || now_ms - p->last_ms < gap))
		return;
	p->last_ms = now_ms;
	double s = (double)(now_ms - p->start_ms) / 1000;
	double rate = s > 0 ? (double)docs / s : 0, brate = s > 0 ? (double)bytes / s : 0;
	char done[24], total[24], bps[24], left[40] = "";
	lt_progress_bytes((double)bytes, done, sizeof done);
	lt_progress_bytes((double)p->bytes_total, total, sizeof total);
	lt_progress_bytes(brate, bps, sizeof bps);
	double todo = brate > 0 && p->bytes_total > bytes ? (double)(p->bytes_total - bytes) / brate
	              : rate > 0                          ? (double)(p->docs_total - docs) / rate
	                                                  : -1;
	if (todo >= 0 && docs < p->docs_total) {
		long long t = (long long)todo;
		if (t >= 3600)
			snprintf(left, sizeof left, ", about %lld h %02lld min left", t / 3600,
			         t / 60 % 60);
		else
			snprintf(left, sizeof left, ", about %lld min %02lld s left", t / 60,
			         t % 60);
	}
	fprintf(stderr, "%s%s%llu of %llu documents, %s of %s, %.1f documents/s, %s/s%s%s",
	        p->tty ? "\r" : "",
	        p->tty ? "" : "lienthong-upload: progress: ", (unsigned long long)docs,
	        (unsigned long long)p->docs_total, done, total, rate, bps, left,
	        p->tty ? "\033[K" : "\n");
	p->shown = p->tty;
}

void lt_progress_clear(struct lt_progress *p)
{
	if (p->shown)
		fputs("\r\033[K", stderr);
	p->shown = 0;
}

void lt_progress_end(struct lt_progress *p)
{
	if (p->shown)
		fputc('\n', stderr);
	p->shown = 0;
}
