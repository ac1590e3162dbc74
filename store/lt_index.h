/*
 * lt_index: the history of each status record this agency keeps as a sender,
 * and the indexes that answer lienthong-status without reading every record.
 *
 * Kept in the same transaction as the status record, by the one function
 * that writes it (lt_index_status_write, called by lt_life_apply), so a
 * query never sees a record without its index entries or the reverse:
 *
 *   history  "<doc>\0<recipient>\0" seq(8 BE) -> HistoryEvent (store.proto),
 *            seq from meta "history-seq":
 *            each applied change, in the order applied
 *   index    's' status(1) time(8 BE) "<doc>\0<recipient>"   by status, then
 *                                                           time of last change
 *            'r' "<recipient>\0" time(8 BE) "<doc>"         by recipient, then time
 *            't' time(8 BE) "<doc>\0<recipient>"            by time of last change
 *            'w' "<word>\0<doc>\0<recipient>"               by subject word
 *            'c' 's' status(1)             -> count(8 BE)   records per status
 *            'c' 'r' "<recipient>\0" status(1) -> count(8 BE)
 *   (index values other than counts are empty)
 *
 * The time indexed is the time of the last change of status: when the
 * record entered its status (status_since_ms, kept here). A change that
 * keeps the status (a Kafka retry, a deferral's reason) leaves it, so a
 * document queued through a long outage shows as queued since it was
 * submitted, and its index entries are not rewritten at every retry.
 *
 * Subject words: the subject's maximal runs of letters and digits (ASCII
 * letters and digits and every non-ASCII character but punctuation and
 * controls), lowercased (ASCII, Latin-1, Latin Extended-A, the Vietnamese
 * letters Ơ Ư and Latin Extended Additional), cut to LT_INDEX_WORD_MAX
 * bytes at a character boundary; invalid UTF-8 ends a word.
 *
 * Threads and ownership: as store/lt_store.h (each call works in the
 * caller's transaction, the one of the calling thread). Records and events
 * handed to callbacks are valid during the callback only.
 */
#ifndef LT_INDEX_H
#define LT_INDEX_H

#include <stdint.h>

#include "../errors/lt_err.h"
#include "lt_store.h"

#define LT_INDEX_WORD_MAX 64

/* What an applied change says, for the history. */
struct lt_history_in {
	const char *event;         /* its name, as stored text */
	int64_t at_ms;             /* when it happened */
	const char *reason;        /* NULL: none */
	int32_t partition;         /* Kafka position when offset >= 0 */
	int64_t offset;            /* -1: none */
	const char *who;           /* the reporting person or unit; NULL: none */
	const char *business_code; /* edXML status code as given; NULL: none */
};

/* The time a record is indexed under: when it entered its status. */
int64_t lt_index_time(const Lienthong__Store__StatusRecord *r);

/*
 * Writes rec as the status of (doc_id, recipient), moving its index entries
 * and counters from old (the record before, NULL if none), and appends ev
 * to its history (ev NULL: no event). Sets the record's status_since_ms
 * (rec's own is ignored). The one writer of status records.
 */
int lt_index_status_write(struct lt_txn *t, const char *doc_id, const char *recipient,
                          const Lienthong__Store__StatusRecord *old,
                          const Lienthong__Store__StatusRecord *rec, const struct lt_history_in *ev,
                          lt_err *err);

/*
 * Removes the status record of (doc_id, recipient) with its index entries,
 * counters and history; recipient NULL: those of every recipient of doc_id.
 * An absent record is not an error. The document itself (docs) and anything
 * still queued for Kafka (outq) are the caller's (retention) to remove.
 */
int lt_status_forget(struct lt_txn *t, const char *doc_id, const char *recipient, lt_err *err);

/*
 * Indexes the status records of a store written before the indexes existed
 * (an earlier version), once per store (meta "index-version" marks it done);
 * their history starts empty. Records already indexed are left as they are.
 * Works in its own write transactions, of a bounded size: called by the
 * agent at start, before anything else writes.
 */
int lt_index_upgrade(struct lt_store *s, lt_err *err);

/* A query: records matching every condition given. */
struct lt_index_query {
	const char *doc_id;    /* NULL: any */
	const char *recipient; /* NULL: any */
	uint64_t statuses;     /* bit s set: status s wanted; 0: any */
	int64_t since_ms;      /* last change of status at or after; 0: any */
	int64_t until_ms;      /* last change of status before; 0: any */
	const char *word;      /* the subject has every word of this text; NULL: any */
};

/* cb returns 0 to go on, 1 to stop (the query returns 0), -1 on error (err set). */
typedef int (*lt_index_cb)(void *ctx, const char *doc_id, const char *recipient,
                           const Lienthong__Store__StatusRecord *rec, lt_err *err);

/*
 * Calls cb for each record matching q, read through the most selective
 * index q allows: doc_id, word, recipient, statuses, time, else all. Order:
 * by time of last change for the recipient, status (per status) and time
 * indexes, else by document id. Returns 0, or -1 with err set.
 */
int lt_index_query(struct lt_txn *t, const struct lt_index_query *q, lt_index_cb cb, void *ctx,
                   lt_err *err);

/* recipient NULL: the count of status over all recipients. */
typedef int (*lt_count_cb)(void *ctx, const char *recipient, Lienthong__Store__DocStatus status,
                           uint64_t count, lt_err *err);
/* Calls cb for each non-zero counter: totals per status first, then per recipient. */
int lt_index_counts(struct lt_txn *t, lt_count_cb cb, void *ctx, lt_err *err);

typedef int (*lt_history_cb)(void *ctx, const char *recipient,
                             const Lienthong__Store__HistoryEvent *ev, lt_err *err);
/* Calls cb for each event of doc_id (recipient NULL: every recipient's, by recipient). */
int lt_history_list(struct lt_txn *t, const char *doc_id, const char *recipient, lt_history_cb cb,
                    void *ctx, lt_err *err);

/*
 * The words of s as indexed, one at a time: *pos starts at 0; writes the next
 * word into word and returns 1, or returns 0 when there is none left.
 */
int lt_index_next_word(const char *s, size_t *pos, char word[LT_INDEX_WORD_MAX + 1]);

#endif
