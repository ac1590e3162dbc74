/*
 * lt_clock: wall-clock milliseconds and their one text form (UTC ISO 8601,
 * e.g. 2026-11-28T03:50:00.123Z), used in statuses, receipts and logs; and
 * the monotonic milliseconds that time waits and deadlines inside a process,
 * which a step of the wall clock (NTP, an operator, a resumed VM) must not
 * cut short or stretch. Thread-safe.
 */
#ifndef LT_CLOCK_H
#define LT_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define LT_TIME_TEXT 32

/* Wall clock: what is stored, signed, shown or compared across processes. */
int64_t lt_now_ms(void);
/* Monotonic clock (CLOCK_MONOTONIC): durations within this process only. */
int64_t lt_mono_ms(void);
/* Writes the UTC ISO 8601 form of ms into buf (at least LT_TIME_TEXT bytes). */
void lt_time_format(int64_t ms, char *buf, size_t size);

#endif
