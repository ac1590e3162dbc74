/*
 * lt_log: messages to standard error, one line each:
 *   2026-11-28T03:50:00.123Z lienthong-agent[1234] warn: text
 *
 * Three levels of trouble, after Postfix: lt_log_warn for what is retried or
 * quarantined, lt_log_fatal for a broken environment (logs and exits 1), and
 * assert() for broken invariants. Info and debug are for progress.
 *
 * The text of every message is escaped (lt_text_escape): a control byte or
 * invalid UTF-8 quoted from the network shows as \xNN, one message stays one
 * line.
 *
 * lt_log_init is called once by main before any thread starts; the logging
 * calls are then safe from any thread (one fprintf per line).
 */
#ifndef LT_LOG_H
#define LT_LOG_H

#include "../errors/lt_err.h"

enum lt_log_level { LT_LOG_ERROR, LT_LOG_WARN, LT_LOG_INFO, LT_LOG_DEBUG };

void lt_log_init(const char *program, enum lt_log_level level);
void lt_log_set_level(enum lt_log_level level);
/* Parses "error", "warn", "info", "debug"; returns -1 for anything else. */
int lt_log_level_parse(const char *name, enum lt_log_level *out);
int lt_log_enabled(enum lt_log_level level);

void lt_log(enum lt_log_level level, const char *fmt, ...) LT_PRINTF(2, 3);
_Noreturn void lt_log_fatal(const char *fmt, ...) LT_PRINTF(1, 2);

#define lt_log_error(...) lt_log(LT_LOG_ERROR, __VA_ARGS__)
#define lt_log_warn(...) lt_log(LT_LOG_WARN, __VA_ARGS__)
#define lt_log_info(...) lt_log(LT_LOG_INFO, __VA_ARGS__)
#define lt_log_debug(...) lt_log(LT_LOG_DEBUG, __VA_ARGS__)

#endif
