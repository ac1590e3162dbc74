/*
 * Unit tests of lt_reaper (broker-adapter/lt_reaper.c): a handle whose
 * destroy really blocks (it reads a pipe nobody writes yet) does not block
 * the owner, is logged and counted once after the limit, counts against the
 * bound, and is freed when it returns, before or after lt_reaper_finish.
 */
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "../../broker-adapter/lt_reaper.h"
#include "../../clock/lt_clock.h"
#include "../../log/lt_log.h"
#include "lt_check.h"

/* A handle whose destroy waits until a byte is written to its pipe. */
struct blocker {
	int fd[2];
	atomic_int returned;
};

static void blocker_destroy(void *h)
{
	struct blocker *b = h;
	char c;
	while (read(b->fd[0], &c, 1) < 0)
		;
	atomic_store(&b->returned, 1);
}

static void blocker_init(struct blocker *b)
{
	atomic_init(&b->returned, 0);
	if (pipe(b->fd) != 0)
		b->fd[0] = b->fd[1] = -1;
}

static void blocker_release(struct blocker *b)
{
	(void)!write(b->fd[1], "x", 1);
}

static void blocker_close(struct blocker *b)
{
	close(b->fd[0]);
	close(b->fd[1]);
}

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Ticks until nothing is pending, at most 10 s; 1 if it got there. */
static int drain(struct lt_reaper *rp)
{
	for (int i = 0; i < 1000 && lt_reaper_pending(rp) > 0; i++) {
		lt_reaper_tick(rp, lt_mono_ms());
		nap_ms(10);
	}
	return lt_reaper_pending(rp) == 0;
}

static void test_destroy_returns(void)
{
	struct lt_reaper rp;
	struct blocker b;
	lt_err err;
	blocker_init(&b);
	blocker_release(&b); /* its destroy returns at once */
	lt_reaper_init(&rp, "test handle", blocker_destroy, 1000);
	CHECK_OK(lt_reaper_add(&rp, &b, lt_mono_ms(), &err), err);
	CHECK(drain(&rp));
	CHECK(atomic_load(&b.returned));
	CHECK(rp.destroyed == 1 && rp.stuck == 0);
	blocker_close(&b);
}

/* Blocked: add returns at once, stuck counted once after the limit, freed when it returns. */
static void test_destroy_hangs(void)
{
	struct lt_reaper rp;
	struct blocker b;
	lt_err err;
	blocker_init(&b);
	lt_reaper_init(&rp, "test handle", blocker_destroy, 100);
	int64_t t0 = lt_mono_ms();
	CHECK_OK(lt_reaper_add(&rp, &b, t0, &err), err);
	CHECK(lt_reaper_tick(&rp, t0 + 50) == 0); /* within the limit */
	CHECK(rp.stuck == 0);
	CHECK(lt_reaper_tick(&rp, t0 + 150) == 1); /* past it: logged and counted */
	CHECK(lt_reaper_tick(&rp, t0 + 300) == 0); /* once */
	CHECK(rp.stuck == 1 && lt_reaper_pending(&rp) == 1 && !atomic_load(&b.returned));
	blocker_release(&b);
	CHECK(drain(&rp));
	CHECK(rp.destroyed == 1 && rp.stuck == 1);
	blocker_close(&b);
}

/* At most LT_REAPER_MAX at once: the next one stays the caller's. */
static void test_bound(void)
{
	struct lt_reaper rp;
	struct blocker b[LT_REAPER_MAX + 1];
	lt_err err;
	lt_reaper_init(&rp, "test handle", blocker_destroy, 100);
	for (int i = 0; i <= LT_REAPER_MAX; i++)
		blocker_init(&b[i]);
	for (int i = 0; i < LT_REAPER_MAX; i++)
		CHECK_OK(lt_reaper_add(&rp, &b[i], lt_mono_ms(), &err), err);
	CHECK(lt_reaper_add(&rp, &b[LT_REAPER_MAX], lt_mono_ms(), &err) == -1);
	CHECK(err.code == LT_EFULL);
	CHECK_STR_CONTAINS(err.msg, "still being destroyed");
	/* One returns: its slot is free again. */
	blocker_release(&b[0]);
	for (int i = 0; i < 1000 && lt_reaper_pending(&rp) == LT_REAPER_MAX; i++) {
		lt_reaper_tick(&rp, lt_mono_ms());
		nap_ms(10);
	}
	CHECK_OK(lt_reaper_add(&rp, &b[LT_REAPER_MAX], lt_mono_ms(), &err), err);
	for (int i = 1; i <= LT_REAPER_MAX; i++)
		blocker_release(&b[i]);
	CHECK(drain(&rp));
	CHECK(rp.destroyed == LT_REAPER_MAX + 1);
	for (int i = 0; i <= LT_REAPER_MAX; i++)
		blocker_close(&b[i]);
}

/* finish leaves a destroy that does not return to its thread, which frees its slot later. */
static void test_finish_leaves_it(void)
{
	struct lt_reaper rp;
	struct blocker b;
	lt_err err;
	blocker_init(&b);
	lt_reaper_init(&rp, "test handle", blocker_destroy, 100);
	CHECK_OK(lt_reaper_add(&rp, &b, lt_mono_ms(), &err), err);
	int64_t t0 = lt_mono_ms();
	lt_reaper_finish(&rp, 50);
	CHECK(lt_mono_ms() - t0 < 5000); /* returned: bounded by its wait, not by the destroy */
	CHECK(lt_reaper_pending(&rp) == 0 && !atomic_load(&b.returned));
	blocker_release(&b);
	for (int i = 0; i < 1000 && !atomic_load(&b.returned); i++)
		nap_ms(10);
	CHECK(atomic_load(&b.returned));
	nap_ms(100); /* the thread frees its slot (a leak would show under ASan) */
	blocker_close(&b);
}

int main(void)
{
	lt_log_set_level(LT_LOG_WARN);
	LT_RUN(test_destroy_returns);
	LT_RUN(test_destroy_hangs);
	LT_RUN(test_bound);
	LT_RUN(test_finish_leaves_it);
	return lt_check_summary();
}
