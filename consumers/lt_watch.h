/*
 * lt_watch: notices when the agent's receiving makes no progress.
 *
 * Receiving can stop without any error reaching the agent: a consumer
 * handle fenced or otherwise dead, a group membership lost and never
 * regained, a fetcher wedged after a link flap. The watch takes what the
 * agent observes, and says when to act:
 *
 *   lt_watch_progress   a record was handled (progress)
 *   lt_watch_observe    the consumer's statistics: group member or not, and
 *                       the lag (records waiting) on partitions it is not
 *                       holding back on purpose (a blocked partition waits)
 *   lt_watch_check      what to do now
 *
 * Receiving is stalled when, for stall_ms: the consumer is no group member;
 * or records wait (lag > 0) and none was handled; or no statistics came at
 * all. The first check that finds it stalled says LT_WATCH_REPLACE (the
 * caller logs why, replaces the consumer and calls lt_watch_replaced); while
 * it stays stalled, REPLACE comes again after a backoff (lt_backoff, without
 * jitter) that doubles from stall_ms up to LT_WATCH_BACKOFF_MAX_MS. When receiving moves again the
 * check says LT_WATCH_RECOVERED once.
 *
 * Pure logic over the times it is given (no clock, no Kafka), so it is
 * unit-tested with made-up times. One watch per consumer; not thread-safe.
 */
#ifndef LT_WATCH_H
#define LT_WATCH_H

#include <stdint.h>

#include "../clock/lt_backoff.h"

#define LT_WATCH_BACKOFF_MAX_MS (10 * 60 * 1000)

enum lt_watch_action {
	LT_WATCH_NONE,      /* nothing to do */
	LT_WATCH_REPLACE,   /* stalled: replace the consumer (why says why) */
	LT_WATCH_RECOVERED, /* was stalled, moves again */
};

struct lt_watch {
	int64_t stall_ms;
	int64_t started_ms;       /* the current consumer's creation */
	int64_t last_progress_ms; /* last record handled (or start) */
	int64_t last_stats_ms;    /* last statistics observed, 0 none yet */
	int64_t lag_since_ms;     /* records waiting since, 0 when none */
	int64_t alone_since_ms;   /* no group membership since, 0 when member */
	int64_t lag;              /* records waiting at the last observation */
	int stalled;
	int64_t stalled_since_ms; /* when stalled */
	int64_t next_replace_ms;  /* while stalled: when to replace again */
	struct lt_backoff backoff;
	unsigned replacements; /* consumers replaced in this stall */
	char why[256];         /* why receiving is stalled, when it is */
};

void lt_watch_init(struct lt_watch *w, int64_t stall_ms, int64_t now_ms);
void lt_watch_progress(struct lt_watch *w, int64_t now_ms);
void lt_watch_observe(struct lt_watch *w, int member, int64_t lag, int64_t now_ms);
enum lt_watch_action lt_watch_check(struct lt_watch *w, int64_t now_ms);
/* The consumer was replaced: statistics and membership start again from now. */
void lt_watch_replaced(struct lt_watch *w, int64_t now_ms);

#endif
