/*
 * lt_upload_out: what lienthong-upload tells while a batch runs: the report
 * file (--report: one line per row, CSV or JSON Lines) and the progress
 * display.
 *
 * Report columns: row (from 1, in batch order), line (of the manifest; empty
 * for rows from the command line), source (the row's files, or the manifest
 * and line), key, document_id, outcome (submitted, already-submitted,
 * failed), reason (why it failed, else empty). Lines are written as rows
 * finish and flushed, so a report of an interrupted run holds the rows done.
 *
 * Progress: on a terminal (isatty(stderr)) one line rewritten in place at most
 * every 200 ms: documents and bytes done of the total, rate, time left; off a
 * terminal a plain line every interval_s seconds.
 *
 * Threads: the main thread only.
 */
#ifndef LT_UPLOAD_OUT_H
#define LT_UPLOAD_OUT_H

#include <stdint.h>
#include <stdio.h>

#include "../errors/lt_err.h"

enum lt_outcome { LT_OUTCOME_PENDING, LT_OUTCOME_SUBMITTED, LT_OUTCOME_ALREADY, LT_OUTCOME_FAILED };

const char *lt_outcome_name(enum lt_outcome o);

struct lt_report {
	FILE *f;
	int jsonl;
};

/* Creates (truncates) path: JSON Lines when it ends in .jsonl or .ndjson, else CSV. */
int lt_report_open(struct lt_report *r, const char *path, lt_err *err);
int lt_report_row(struct lt_report *r, size_t row, size_t line, const char *source, const char *key,
                  const char *doc_id, enum lt_outcome o, const char *reason, lt_err *err);
/* Closes; an error when something could not be written. */
int lt_report_close(struct lt_report *r, lt_err *err);

struct lt_progress {
	int tty;
	int64_t interval_ms, start_ms, last_ms;
	uint64_t docs_total, bytes_total;
	int shown; /* a terminal line is on screen */
};

void lt_progress_start(struct lt_progress *p, uint64_t docs_total, uint64_t bytes_total,
                       int64_t interval_s, int64_t now_ms);
/* Shows docs and bytes done when it is time (force: now). */
void lt_progress_show(struct lt_progress *p, uint64_t docs, uint64_t bytes, int64_t now_ms,
                      int force);
/* Clears the terminal line (before other output), if any. */
void lt_progress_clear(struct lt_progress *p);
/* Ends the terminal line, if any. */
void lt_progress_end(struct lt_progress *p);

#endif
