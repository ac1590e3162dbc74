/*
 * lt_backoff: the one retry backoff of lienthong (forwarding to a failing
 * topic, a record whose delivery waits, a stalled consumer's replacement).
 *
 * Capped exponential: the first wait is min_ms, each further one twice the
 * last, never more than max_ms. lt_backoff_next gives the wait itself
 * (deterministic, for what the tests time); lt_backoff_jitter spreads a wait
 * over [wait/2, wait] so that many retries do not fall in step.
 *
 * A plain value owned by the caller; no locking.
 */
#ifndef LT_BACKOFF_H
#define LT_BACKOFF_H

#include <stdint.h>

struct lt_backoff {
	int64_t min_ms, max_ms;
	int64_t next_ms; /* the wait lt_backoff_next gives next */
};

void lt_backoff_init(struct lt_backoff *b, int64_t min_ms, int64_t max_ms);
/* The next wait; the one after it is twice as long, up to max_ms. */
int64_t lt_backoff_next(struct lt_backoff *b);
/* A wait drawn uniformly from [wait/2, wait]. */
int64_t lt_backoff_jitter(int64_t wait_ms);

#endif
