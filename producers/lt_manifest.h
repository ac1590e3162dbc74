/*
 * lt_manifest: the rows of a batch for lienthong-upload, read from a CSV or
 * JSON Lines manifest (one row per document), and the list of problems found
 * in them.
 *
 * CSV (RFC 4180, UTF-8, an optional BOM): a header row names the columns, in
 * any order; fields are separated by commas, records by LF or CRLF; a field
 * with a comma, quote or line break is quoted ("..."), a quote inside it
 * doubled. Lists (files, recipients) are separated by '|' in one field.
 * JSON Lines: one object per line; lists are arrays of strings (or one
 * string); expires may also be a number. Empty lines are skipped in both.
 *
 * Columns (keys): files (required: the parts, in order, relative to the
 * manifest's folder unless absolute), recipients (agency codes; may be left
 * out when --to gives them), subject, number (document number), type (media
 * type of every part), expires (seconds from submission, or a UTC time
 * YYYY-MM-DDTHH:MM:SSZ), key (the row's stable key). An unknown or repeated
 * column is a problem, as is a missing files column.
 *
 * Bounds: LT_MANIFEST_BYTES_MAX for the file, LT_MANIFEST_ROWS_MAX rows,
 * LT_MANIFEST_FIELD_MAX bytes for one field (a JSON line: LT_MANIFEST_LINE_MAX),
 * LT_MANIFEST_FILES_MAX files and LT_RECIPIENTS_MAX recipients per row; a
 * subject has at most LT_SUBJECT_MAX bytes, a number 256, a type 255, a key
 * LT_BATCH_KEY_MAX; every text is valid UTF-8 without control characters.
 * Each problem names the line where its row starts and the column (CSV:
 * "line 12, field 'subject'"; JSON Lines: "line 12, key 'subject'"); parsing
 * goes on after a bad row so that every problem is reported.
 *
 * Ownership: an lt_manifest owns its rows and their strings (lt_manifest_free);
 * an lt_problems owns its messages (lt_problems_free). Not shared between
 * threads while being filled.
 */
#ifndef LT_MANIFEST_H
#define LT_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "../errors/lt_err.h"

#define LT_MANIFEST_BYTES_MAX (256u << 20)
#define LT_MANIFEST_ROWS_MAX 1000000
#define LT_MANIFEST_FIELD_MAX 65536
#define LT_MANIFEST_LINE_MAX (1u << 20)
#define LT_MANIFEST_FILES_MAX 10000
#define LT_PROBLEMS_KEPT 1000 /* messages kept; all are counted */

struct lt_problems {
	char **msg;
	size_t n;     /* kept, at most LT_PROBLEMS_KEPT */
	size_t total; /* found */
};

/* Adds a problem (printf-like); never fails (out of memory: counted only). */
void lt_problem_add(struct lt_problems *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void lt_problems_free(struct lt_problems *p);

/* One document. Strings are NULL when the column is absent or empty. */
struct lt_manifest_row {
	size_t line; /* where the row starts, from 1 (0: not from a manifest) */
	char **files;
	size_t n_files;
	char **recipients;
	size_t n_recipients;
	char *subject, *number, *type, *key;
	int has_expires;
	int64_t expires_in_s;  /* has_expires and expires_at_ms == 0: seconds from submission */
	int64_t expires_at_ms; /* an absolute time, or 0 */
};

enum lt_manifest_format { LT_MANIFEST_CSV, LT_MANIFEST_JSONL };

struct lt_manifest {
	struct lt_manifest_row *rows;
	size_t n_rows, cap;
	int has_recipients; /* the manifest has a recipients column (or key) */
};

/* The format a file name asks for: .jsonl, .ndjson → JSON Lines; .csv → CSV; else -1. */
int lt_manifest_format_of(const char *path);

/*
 * Parses data[len] (the whole manifest) into m, adding each problem to p
 * (prefixed with name). Returns 0, or -1 only when m could not be built at
 * all (out of memory, err); a row with problems is not added to m.
 */
int lt_manifest_parse(const char *name, const char *data, size_t len, enum lt_manifest_format fmt,
                      struct lt_manifest *m, struct lt_problems *p, lt_err *err);

/* Reads path (at most LT_MANIFEST_BYTES_MAX bytes) and parses it. */
int lt_manifest_load(const char *path, enum lt_manifest_format fmt, struct lt_manifest *m,
                     struct lt_problems *p, lt_err *err);

/*
 * Parses an expiry: seconds from submission (1 to 100 years), or a UTC time
 * YYYY-MM-DDTHH:MM:SSZ; 0, or -1 with a message in err.
 */
int lt_manifest_expires(const char *text, int64_t *in_s, int64_t *at_ms, lt_err *err);

/* Appends a row (takes ownership of its strings, also on failure). */
int lt_manifest_add(struct lt_manifest *m, struct lt_manifest_row *row, lt_err *err);
void lt_manifest_row_free(struct lt_manifest_row *row);
void lt_manifest_free(struct lt_manifest *m);

#endif
