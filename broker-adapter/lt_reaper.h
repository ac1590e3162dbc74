/*
 * lt_reaper: destroys library handles on helper threads, with a time limit.
 *
 * librdkafka 2.0.2 was found hanging for hours in rd_kafka_destroy of a
 * consumer replaced while its broker was gone (a reference it keeps after
 * the broker went away: librdkafka issue 4674, fixed upstream after 2.3). A
 * caller that must keep running, the agent's main loop, hands the handle
 * over with lt_reaper_add and goes on at once; a helper thread destroys it.
 * A destroy that has not returned after limit_ms is logged once (an error
 * line) and counted in `stuck`: the handle is left to its thread (leaked:
 * its memory and threads stay until the process ends). At most
 * LT_REAPER_MAX handles are being destroyed at any time, stuck ones
 * included: lt_reaper_add refuses more (the caller decides: the agent
 * exits, for its supervisor to start a clean process).
 *
 * Threads: one thread, the owner, calls every function here; each handle is
 * destroyed on a thread of its own, which touches nothing but its slot.
 * Ownership: a handle given to lt_reaper_add is the reaper's (then its
 * thread's); slots of finished destroys are freed by lt_reaper_tick, those
 * still running at lt_reaper_finish by their thread when it ends (if ever).
 */
#ifndef LT_REAPER_H
#define LT_REAPER_H

#include <stddef.h>
#include <stdint.h>

#include "../errors/lt_err.h"

#define LT_REAPER_MAX 4 /* handles being destroyed at once, stuck ones included */

typedef void (*lt_reaper_fn)(void *handle);

struct lt_reaping; /* one destroy in progress */

struct lt_reaper {
	const char *what; /* for the log: "Kafka consumer" */
	lt_reaper_fn destroy;
	int64_t limit_ms;
	struct lt_reaping *slots[LT_REAPER_MAX];
	unsigned stuck;     /* destroys that passed limit_ms since start (each counted once) */
	unsigned destroyed; /* destroys that returned */
};

void lt_reaper_init(struct lt_reaper *rp, const char *what, lt_reaper_fn destroy, int64_t limit_ms);
/*
 * Starts destroying handle on a helper thread and returns at once: 0, or -1
 * with LT_EFULL when LT_REAPER_MAX destroys are still running, or LT_EIO
 * when no thread can be started; then handle is still the caller's.
 */
/* now_ms here and in lt_reaper_tick: lt_mono_ms(), which a wall-clock step does not move. */
int lt_reaper_add(struct lt_reaper *rp, void *handle, int64_t now_ms, lt_err *err);
/*
 * Frees the slots of finished destroys; logs (once) and counts each one
 * running longer than limit_ms. Returns 1 when `stuck` grew, else 0.
 */
int lt_reaper_tick(struct lt_reaper *rp, int64_t now_ms);
/* How many destroys are running (stuck ones included). */
size_t lt_reaper_pending(const struct lt_reaper *rp);
/*
 * At the end: waits up to wait_ms for the running destroys, then leaves
 * those still running to their threads (logged). The reaper is empty after.
 */
void lt_reaper_finish(struct lt_reaper *rp, int64_t wait_ms);

#endif
