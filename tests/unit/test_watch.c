/*
 * Unit tests of lt_watch (consumers/lt_watch.c): when receiving counts as
 * stalled, when the consumer is replaced (and the backoff between
 * replacements), and when it counts as moving again. Times are made up;
 * stall_ms is 10 s throughout.
 */
#include "../../consumers/lt_watch.h"
#include "../../log/lt_log.h"
#include "lt_check.h"

#define S(x) ((int64_t)(x)*1000)

/* A member with no lag, statistics every 5 s and no records: never stalled. */
static void test_idle_is_fine(void)
{
	struct lt_watch w;
	lt_watch_init(&w, S(10), S(100));
	for (int64_t t = 100; t <= 400; t += 5) {
		lt_watch_observe(&w, 1, 0, S(t));
		CHECK(lt_watch_check(&w, S(t)) == LT_WATCH_NONE);
	}
	CHECK(!w.stalled);
}

/* Records wait and none is handled: stalled stall_ms after the lag appeared. */
static void test_lag_without_progress(void)
{
	struct lt_watch w;
	lt_watch_init(&w, S(10), S(0));
	lt_watch_observe(&w, 1, 0, S(5));
	lt_watch_observe(&w, 1, 12, S(20)); /* lag appears at 20 s */
	CHECK(lt_watch_check(&w, S(25)) == LT_WATCH_NONE);
	lt_watch_observe(&w, 1, 12, S(29));
	CHECK(lt_watch_check(&w, S(29)) == LT_WATCH_NONE);
	lt_watch_observe(&w, 1, 12, S(30));
	CHECK(lt_watch_check(&w, S(30)) == LT_WATCH_REPLACE);
	CHECK(w.stalled_since_ms == S(20));
	CHECK_STR_CONTAINS(w.why, "12 record(s) wait");
}

/* Lag with records being handled is progress, not a stall. */
static void test_lag_with_progress(void)
{
	struct lt_watch w;
	lt_watch_init(&w, S(10), S(0));
	for (int64_t t = 5; t <= 100; t += 5) {
		lt_watch_observe(&w, 1, 500, S(t));
		lt_watch_progress(&w, S(t) + 1);
		CHECK(lt_watch_check(&w, S(t) + 2) == LT_WATCH_NONE);
	}
}

/* Lost membership: stalled after stall_ms; replaced, then again after 2x, 4x. */
static void test_no_membership_backoff(void)
{
	struct lt_watch w;
	lt_watch_init(&w, S(10), S(0));
	lt_watch_observe(&w, 1, 0, S(5));
	lt_watch_observe(&w, 0, 0, S(10)); /* alone from 10 s */
	lt_watch_observe(&w, 0, 0, S(15));
	CHECK(lt_watch_check(&w, S(15)) == LT_WATCH_NONE);
	lt_watch_observe(&w, 0, 0, S(20));
	CHECK(lt_watch_check(&w, S(20)) == LT_WATCH_REPLACE);
	CHECK_STR_CONTAINS(w.why, "not a member");
	lt_watch_replaced(&w, S(20));
	CHECK(w.replacements == 1);
	/* The new consumer is no member either: next replacement 10 s later, then 20 s. */
	int64_t replaced_at[3] = {0}, n = 0;
	for (int64_t t = 21; t <= 80 && n < 3; t++) {
		if (t % 5 == 0)
			lt_watch_observe(&w, 0, 0, S(t));
		enum lt_watch_action act = lt_watch_check(&w, S(t));
		CHECK(act != LT_WATCH_RECOVERED);
		if (act == LT_WATCH_REPLACE) {
			lt_watch_replaced(&w, S(t));
			replaced_at[n++] = t;
		}
	}
	CHECK(n == 2);
	CHECK(replaced_at[0] == 30);
	CHECK(replaced_at[1] == 50);
	CHECK(w.stalled_since_ms == S(10));
	/* Membership back: recovered once, then fine. */
	lt_watch_observe(&w, 1, 0, S(81));
	CHECK(lt_watch_check(&w, S(81)) == LT_WATCH_RECOVERED);
	CHECK(!w.stalled);
	CHECK(w.replacements == 0);
	CHECK(lt_watch_check(&w, S(82)) == LT_WATCH_NONE);
}

/* No statistics at all (a consumer not served): stalled; the replacement's own
 * statistics are needed before it counts as recovered. */
static void test_no_statistics(void)
{
	struct lt_watch w;
	lt_watch_init(&w, S(10), S(0));
	CHECK(lt_watch_check(&w, S(9)) == LT_WATCH_NONE);
	CHECK(lt_watch_check(&w, S(10)) == LT_WATCH_REPLACE);
	CHECK_STR_CONTAINS(w.why, "no statistics");
	lt_watch_replaced(&w, S(10));
	CHECK(lt_watch_check(&w, S(11)) == LT_WATCH_NONE); /* no evidence yet */
	CHECK(w.stalled_since_ms == S(0));
	lt_watch_observe(&w, 1, 0, S(13));
	CHECK(lt_watch_check(&w, S(13)) == LT_WATCH_RECOVERED);
}

/* The backoff between replacements is capped. */
static void test_backoff_cap(void)
{
	struct lt_watch w;
	lt_watch_init(&w, S(300), S(0));
	for (int i = 0; i < 10; i++)
		lt_watch_replaced(&w, S(0));
	CHECK(w.next_replace_ms == LT_WATCH_BACKOFF_MAX_MS);
	CHECK(w.backoff.next_ms == LT_WATCH_BACKOFF_MAX_MS);
}

int main(void)
{
	lt_log_set_level(LT_LOG_WARN);
	LT_RUN(test_idle_is_fine);
	LT_RUN(test_lag_without_progress);
	LT_RUN(test_lag_with_progress);
	LT_RUN(test_no_membership_backoff);
	LT_RUN(test_no_statistics);
	LT_RUN(test_backoff_cap);
	return lt_check_summary();
}
