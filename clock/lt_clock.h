/*
 * lt_clock: wall-clock milliseconds and their one text form (UTC ISO 8601,
 * e.g. 2026-11-28T03:50:00.123Z), used in statuses, receipts and logs.
 * Thread-safe.
 */
#ifndef LT_CLOCK_H
#define LT_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define LT_TIME_TEXT 32

int64_t lt_now_ms(void);
/* Writes the UTC ISO 8601 form of ms into buf (at least LT_TIME_TEXT bytes). */
void lt_time_format(int64_t ms, char *buf, size_t size);

#endif
