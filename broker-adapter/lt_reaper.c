#include "lt_reaper.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "../clock/lt_clock.h"
#include "../log/lt_log.h"

enum { LT_REAPING_RUNNING, LT_REAPING_DONE, LT_REAPING_ORPHANED };

struct lt_reaping {
	void *handle;
	lt_reaper_fn destroy;
	int64_t started_ms;
	_Atomic int64_t took_ms; /* set by the thread before it says DONE */
	atomic_int state;        /* RUNNING, then DONE (thread) or ORPHANED (owner) */
	int reported;            /* passed the limit: logged and counted (owner only) */
	pthread_t thread;
};

static void *lt_reaper_run(void *arg)
{
	struct lt_reaping *s = arg;
	s->destroy(s->handle);
	atomic_store(&s->took_ms, lt_mono_ms() - s->started_ms);
	/* Left by the owner (lt_reaper_finish): the slot is this thread's to free. */
	if (atomic_exchange(&s->state, LT_REAPING_DONE) == LT_REAPING_ORPHANED)
		free(s);
	return NULL;
}

void lt_reaper_init(struct lt_reaper *rp, const char *what, lt_reaper_fn destroy, int64_t limit_ms)
{
	*rp = (struct lt_reaper){.what = what, .destroy = destroy, .limit_ms = limit_ms};
}

size_t lt_reaper_pending(const struct lt_reaper *rp)
{
	size_t n = 0;
	for (size_t i = 0; i < LT_REAPER_MAX; i++)
		n += rp->slots[i] != NULL;
	return n;
}

int lt_reaper_add(struct lt_reaper *rp, void *handle, int64_t now_ms, lt_err *err)
{
	size_t i = 0;
	while (i < LT_REAPER_MAX && rp->slots[i] != NULL)
		i++;
	if (i == LT_REAPER_MAX)
		return lt_err_set(err, LT_EFULL,
		                  "%d replaced %ss are still being destroyed (%u stuck for more "
		                  "than %lld s)",
		                  LT_REAPER_MAX, rp->what, rp->stuck,
		                  (long long)(rp->limit_ms / 1000));
	struct lt_reaping *s = calloc(1, sizeof *s);
	if (s == NULL)
		return lt_err_set(err, LT_EIO, "out of memory destroying a %s", rp->what);
	s->handle = handle;
	s->destroy = rp->destroy;
	s->started_ms = now_ms;
	atomic_init(&s->state, LT_REAPING_RUNNING);
	int e = pthread_create(&s->thread, NULL, lt_reaper_run, s);
	if (e != 0) {
		free(s);
		return lt_err_errno(err, e, "cannot start a thread to destroy a %s", rp->what);
	}
	rp->slots[i] = s;
	return 0;
}

int lt_reaper_tick(struct lt_reaper *rp, int64_t now_ms)
{
	int grew = 0;
	for (size_t i = 0; i < LT_REAPER_MAX; i++) {
		struct lt_reaping *s = rp->slots[i];
		if (s == NULL)
			continue;
		if (atomic_load(&s->state) == LT_REAPING_DONE) {
			pthread_join(s->thread, NULL);
			int64_t took = atomic_load(&s->took_ms);
			if (s->reported)
				lt_log_info(
				    "a replaced %s was destroyed after all, %lld s after it "
				    "was replaced",
				    rp->what, (long long)(took / 1000));
			else
				lt_log_debug("replaced %s destroyed in %lld ms", rp->what,
				             (long long)took);
			rp->destroyed++;
			free(s);
			rp->slots[i] = NULL;
		} else if (!s->reported && now_ms - s->started_ms > rp->limit_ms) {
			s->reported = 1;
			rp->stuck++;
			grew = 1;
			lt_log_error(
			    "a replaced %s is not destroyed %lld s after it was replaced "
			    "(a library call that does not return): left as it is, its "
			    "memory and threads stay until the process ends; %u such since "
			    "start, at most %d are kept",
			    rp->what, (long long)((now_ms - s->started_ms) / 1000), rp->stuck,
			    LT_REAPER_MAX);
		}
	}
	return grew;
}

void lt_reaper_finish(struct lt_reaper *rp, int64_t wait_ms)
{
	int64_t until = lt_mono_ms() + wait_ms;
	while (lt_reaper_pending(rp) > 0 && lt_mono_ms() < until) {
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
		lt_reaper_tick(rp, lt_mono_ms());
	}
	lt_reaper_tick(rp, lt_mono_ms());
	for (size_t i = 0; i < LT_REAPER_MAX; i++) {
		struct lt_reaping *s = rp->slots[i];
		if (s == NULL)
			continue;
		rp->slots[i] = NULL;
		if (atomic_exchange(&s->state, LT_REAPING_ORPHANED) == LT_REAPING_DONE) {
			pthread_join(s->thread, NULL); /* finished just now */
			free(s);
			continue;
		}
		pthread_detach(s->thread);
		lt_log_warn("a %s is still being destroyed after %lld s: left to its thread",
		            rp->what, (long long)((lt_mono_ms() - s->started_ms) / 1000));
	}
}
