/*
 * lt_quarantine: what an operator does with quarantined records (records
 * that failed a check, or documents the target refused): list them, inspect
 * one (and save its raw bytes), and release one for a second attempt once
 * the cause is fixed (a CA or CRL was missing, the target is repaired).
 *
 * Release does not bypass any check: the raw record is queued in the outbox
 * to be published again to the topic it came from, and the agent consumes
 * and verifies it like any other record. The quarantine entry is removed in
 * the same transaction. Records are numbered by their quarantine sequence.
 * A record kept truncated (quarantine_keep_bytes) cannot be released.
 *
 * Used by lienthong-status (list, show) and lienthong-quarantine (release).
 */
#ifndef LT_QUARANTINE_H
#define LT_QUARANTINE_H

#include <stdint.h>
#include <stdio.h>

#include "../errors/lt_err.h"
#include "../store/lt_store.h"

/* One line per record (or one JSON object per line); *count receives how many. */
int lt_quarantine_list(struct lt_store *s, int json, FILE *out, uint64_t *count, lt_err *err);
/* Details of one record; raw_path (may be NULL) receives its raw bytes. */
int lt_quarantine_show(struct lt_store *s, uint64_t seq, int json, const char *raw_path, FILE *out,
                       lt_err *err);
int lt_quarantine_release(struct lt_store *s, uint64_t seq, int64_t now_ms, lt_err *err);

#endif
