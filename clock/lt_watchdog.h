/*
 * lt_watchdog: ends a process whose main loop stopped moving.
 *
 * A main loop stuck in a library call that never returns (librdkafka 2.0.2
 * was seen to hang for hours in rd_kafka_destroy of a consumer replaced
 * while its broker was gone) must not leave a process that looks alive and
 * does nothing. The main loop calls lt_watchdog_beat on every turn; a
 * thread started by lt_watchdog_start looks every second, and a loop silent
 * for limit_s ends the process with status 1 (for its supervisor to restart
 * it) after the error line "the <who>'s main loop has not moved for N s"
 * (stable: operators may alert on "main loop has not moved for"). Time is
 * the monotonic clock's: a step of the wall clock neither fires it nor
 * blinds it.
 *
 * Threads: lt_watchdog_beat from the main loop, the watch on its own
 * (detached) thread; one watchdog per process.
 */
#ifndef LT_WATCHDOG_H
#define LT_WATCHDOG_H

#include <stdint.h>

/* who ("agent", "relay") must outlive the process; 0, or -1 (logged) without a thread. */
int lt_watchdog_start(const char *who, int64_t limit_s);
void lt_watchdog_beat(void);

#endif
