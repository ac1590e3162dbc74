/*
 * lt_counters: what the agent did since it started, as counters for its
 * metrics (monitor/lt_monitor.h): documents received and their outcome,
 * quarantined records, changes of status of documents sent, retries, and
 * the delivery latency of documents sent (from submission to the
 * recipient's signed `delivered` receipt, both times on this agency's clock).
 *
 * What is recorded in a store transaction is counted only when that
 * transaction commits: callers add to the transaction's pending counts
 * (lt_txn_counts, store/lt_store.h); a nested transaction's counts join its
 * parent's when it commits, a top-level commit publishes them here, and an
 * aborted transaction's counts vanish with it. So a record handled again
 * after a failed commit is counted once.
 *
 * Threads: lt_counters_publish, lt_counter_add and lt_counters_read use
 * atomics and may be called from any thread; struct lt_counts belongs to
 * its caller (one transaction, one thread). Counters are of this process.
 */
#ifndef LT_COUNTERS_H
#define LT_COUNTERS_H

#include <stdint.h>

#include "store.pb-c.h"

/* Upper bounds (seconds) of the delivery latency histogram's buckets; +Inf follows. */
#define LT_LATENCY_BUCKETS 12
extern const double lt_latency_bounds_s[LT_LATENCY_BUCKETS];

#define LT_STATUS_SLOTS 16 /* Lienthong__Store__DocStatus values, 0 to 14, with room */
_Static_assert(LIENTHONG__STORE__DOC_STATUS__RECALL_REFUSED < LT_STATUS_SLOTS,
               "a status has no counter");

enum lt_counter {
	LT_C_RECEIVED_DELIVERED, /* received documents delivered to the target */
	LT_C_RECEIVED_REJECTED,  /* received documents refused (a check failed) */
	LT_C_RECEIVED_FAILED,    /* received documents the target refused, or past the deadline */
	LT_C_QUARANTINED,        /* records kept in the quarantine */
	LT_C_RETRY_FORWARD,      /* outbox records handed to Kafka again */
	LT_C_RETRY_RECEIVE,      /* received records to be handled again (target or store failed) */
	LT_C_STATUS,             /* + status: documents sent that entered that status */
	LT_C_LATENCY = LT_C_STATUS + LT_STATUS_SLOTS, /* + bucket: latency histogram (+Inf last) */
	LT_C_LATENCY_SUM_MS = LT_C_LATENCY + LT_LATENCY_BUCKETS + 1,
	LT_C_COUNT
};

struct lt_counts {
	uint64_t v[LT_C_COUNT];
};

void lt_counts_add(struct lt_counts *c, enum lt_counter k, uint64_t n);
/* One delivery that took ms (negative: 0) into the histogram. */
void lt_counts_latency(struct lt_counts *c, int64_t ms);
/* c += d */
void lt_counts_merge(struct lt_counts *c, const struct lt_counts *d);

/* Adds c to the process's counters (a commit). */
void lt_counters_publish(const struct lt_counts *c);
/* Adds n to one of the process's counters directly (not recorded in a transaction). */
void lt_counter_add(enum lt_counter k, uint64_t n);
/* A copy of the process's counters. */
void lt_counters_read(struct lt_counts *out);

#endif
