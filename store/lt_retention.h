/*
 * lt_retention: what the agent forgets, and when, so that its LMDB store does
 * not grow for ever.
 *
 *   docs        the signed envelope of a document sent is deleted once every
 *               recipient's status is final (delivered, rejected, failed) and
 *               the last of them changed more than sent_body_ms ago; its
 *               status rows stay (or once it has no status row left); its
 *               spool (streamed parts, producers/lt_spool.h) goes with it,
 *               after the commit
 *   spool       after each full pass, orphaned spool folders are swept
 *               (lt_spool_sweep)
 *   status      a final status is deleted final_status_ms after its last change
 *   inbox       a document received is forgotten inbox_ms after its verdict;
 *               one whose target still fails (pending) is kept
 *   business    the business status of a document received goes once its
 *               inbox record is gone and it did not change for inbox_ms
 *   keys        a batch key (lienthong-upload) is deleted once its document
 *               has no status row left (its statuses were forgotten)
 *   quarantine  bounded when records are added (lt_quarantine_add): the
 *               ceiling and the size kept of one record come from here
 *
 * The sweep goes through the status, docs, inbox, business and keys databases in key order,
 * a bounded step at a time: each step visits at most LT_RETENTION_VISITS
 * records and deletes at most LT_RETENTION_DELETES in one short write
 * transaction (aborted, so not fsync'd, when it deleted nothing), then
 * resumes after the last key visited. A full pass is followed by a pause of
 * the configuration's retention_pass_s.
 *
 * Threads: an lt_retention belongs to one thread (the agent's main loop).
 */
#ifndef LT_RETENTION_H
#define LT_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "../config/lt_config.h"
#include "../errors/lt_err.h"
#include "lt_store.h"

#define LT_RETENTION_VISITS 1000
#define LT_RETENTION_DELETES 200

struct lt_retention_limits {
	int64_t sent_body_ms, final_status_ms, inbox_ms;
};

/* Where the sweep is: the database it walks and the key it resumes at. */
struct lt_retention {
	int phase; /* 0 status, 1 docs, 2 inbox, 3 business, 4 keys */
	uint8_t from[512];
	size_t flen; /* 0: from the first key */
	int64_t next_pass_ms;
};

struct lt_retention_counts {
	uint64_t bodies, statuses, inbox, business, keys;
};

/*
 * One bounded step of the sweep at now_ms; *pass_done is set when it ended a
 * full pass over the five databases. Deletions are added to *counts.
 */
int lt_retention_step(struct lt_retention *r, struct lt_store *s,
                      const struct lt_retention_limits *lim, int64_t now_ms, int *pass_done,
                      struct lt_retention_counts *counts, lt_err *err);

/*
 * Called by the agent's main loop on every turn: applies cfg's quarantine
 * bounds to s, and runs one step of the sweep unless a pass ended less than
 * retention_pass_s ago. Logs what it deleted and any error (the sweep is
 * tried again at the next pass); never fails. Keeps its place in a static
 * lt_retention: main loop thread only.
 */
void lt_retention_tick(struct lt_store *s, const struct lt_config *cfg, int64_t now_ms);

#endif
