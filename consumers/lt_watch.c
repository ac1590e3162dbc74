#include "lt_watch.h"

#include <stdio.h>
#include <string.h>

static int64_t lt_watch_max(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

void lt_watch_init(struct lt_watch *w, int64_t stall_ms, int64_t now_ms)
{
	*w = (struct lt_watch){
	    .stall_ms = stall_ms, .started_ms = now_ms, .last_progress_ms = now_ms};
	lt_backoff_init(&w->backoff, stall_ms, LT_WATCH_BACKOFF_MAX_MS);
}

void lt_watch_progress(struct lt_watch *w, int64_t now_ms)
{
	w->last_progress_ms = now_ms;
	w->lag_since_ms = 0;
}

void lt_watch_observe(struct lt_watch *w, int member, int64_t lag, int64_t now_ms)
{
	w->last_stats_ms = now_ms;
	if (member)
		w->alone_since_ms = 0;
	else if (w->alone_since_ms == 0)
		w->alone_since_ms = now_ms;
	if (lag <= 0)
		w->lag_since_ms = 0;
	else if (w->lag_since_ms == 0)
		w->lag_since_ms = now_ms;
	w->lag = lag;
}

/* Whether receiving is stalled; if so since when (*since), and why (w->why). */
static int lt_watch_stalled(struct lt_watch *w, int64_t now_ms, int64_t *since)
{
	if (w->alone_since_ms != 0 && now_ms - w->alone_since_ms >= w->stall_ms) {
		snprintf(w->why, sizeof w->why,
		         "not a member of its Kafka consumer group for %lld s (broker unreachable, "
		         "or the group cannot be joined)",
		         (long long)((now_ms - w->alone_since_ms) / 1000));
		*since = w->alone_since_ms;
		return 1;
	}
	*since = lt_watch_max(w->lag_since_ms, w->last_progress_ms);
	if (w->lag_since_ms != 0 && now_ms - *since >= w->stall_ms) {
		snprintf(w->why, sizeof w->why,
		         "%lld record(s) wait in its topics and none was handled for %lld s",
		         (long long)w->lag, (long long)((now_ms - *since) / 1000));
		return 1;
	}
	*since = lt_watch_max(w->last_stats_ms, w->started_ms);
	if (now_ms - *since >= w->stall_ms) {
		snprintf(w->why, sizeof w->why,
		         "no statistics from its Kafka consumer for %lld s (the consumer is not "
		         "being served)",
		         (long long)((now_ms - *since) / 1000));
		return 1;
	}
	return 0;
}

enum lt_watch_action lt_watch_check(struct lt_watch *w, int64_t now_ms)
{
	int64_t since;
	if (lt_watch_stalled(w, now_ms, &since)) {
		if (!w->stalled) {
			w->stalled = 1;
			w->stalled_since_ms = since;
			w->next_replace_ms = now_ms;
			lt_backoff_init(&w->backoff, w->stall_ms, LT_WATCH_BACKOFF_MAX_MS);
		}
		return now_ms >= w->next_replace_ms ? LT_WATCH_REPLACE : LT_WATCH_NONE;
	}
	if (!w->stalled)
		return LT_WATCH_NONE;
	/* Recovered only on evidence from the consumer since it was replaced. */
	if (w->last_stats_ms <= w->started_ms && w->last_progress_ms <= w->stalled_since_ms)
		return LT_WATCH_NONE;
	w->stalled = 0;
	w->stalled_since_ms = 0;
	w->replacements = 0;
	w->why[0] = '\0';
	return LT_WATCH_RECOVERED;
}

void lt_watch_replaced(struct lt_watch *w, int64_t now_ms)
{
	w->replacements++;
	w->next_replace_ms = now_ms + lt_backoff_next(&w->backoff);
	w->started_ms = now_ms;
}
