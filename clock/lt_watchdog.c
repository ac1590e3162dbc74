#include "lt_watchdog.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "../log/lt_log.h"
#include "lt_clock.h"

static _Atomic int64_t lt_watchdog_beat_ms;
static const char *lt_watchdog_who;
static int64_t lt_watchdog_limit_ms;

static void *lt_watchdog_run(void *arg)
{
	(void)arg;
	for (;;) {
		sleep(1);
		int64_t last = atomic_load(&lt_watchdog_beat_ms);
		if (last != 0 && lt_mono_ms() - last > lt_watchdog_limit_ms) {
			lt_log_error(
			    "the %s's main loop has not moved for %lld s (a call that never "
			    "returns); exiting with status 1 so that its supervisor restarts "
			    "it: nothing accepted is lost, nothing is delivered twice",
			    lt_watchdog_who, (long long)((lt_mono_ms() - last) / 1000));
			_exit(1);
		}
	}
	return NULL;
}

int lt_watchdog_start(const char *who, int64_t limit_s)
{
	pthread_t t;
	lt_watchdog_who = who;
	lt_watchdog_limit_ms = limit_s * 1000;
	atomic_store(&lt_watchdog_beat_ms, lt_mono_ms());
	if (pthread_create(&t, NULL, lt_watchdog_run, NULL) != 0) {
		lt_log_warn(
		    "cannot start the watchdog thread: a stuck main loop would go unnoticed");
		return -1;
	}
	pthread_detach(t);
	return 0;
}

void lt_watchdog_beat(void)
{
	atomic_store(&lt_watchdog_beat_ms, lt_mono_ms());
}
