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
 * In the JSON format (log_format = json, for log collectors) each line is
 * one JSON object instead, encoded by jansson:
 *   {"time":"2026-11-28T03:50:00.123Z","level":"warn","program":"lienthong-agent",
 *    "pid":1234,"message":"text", ...fields}
 * the message escaped as above first (so it is valid UTF-8 whatever came in),
 * and the fields of lt_log_kv, when a message is about one document, topic...
 *
 * lt_log_init is called once by main before any thread starts; the logging
 * calls are then safe from any thread (one fprintf per line).
 */
#ifndef LT_LOG_H
#define LT_LOG_H

#include "../errors/lt_err.h"

enum lt_log_level { LT_LOG_ERROR, LT_LOG_WARN, LT_LOG_INFO, LT_LOG_DEBUG };

enum lt_log_format { LT_LOG_TEXT, LT_LOG_JSON };

void lt_log_init(const char *program, enum lt_log_level level);
void lt_log_set_level(enum lt_log_level level);
/* Parses "text" or "json"; returns -1 for anything else. Set before threads start. */
int lt_log_format_parse(const char *name, enum lt_log_format *out);
void lt_log_set_format(enum lt_log_format format);
/* Parses "error", "warn", "info", "debug"; returns -1 for anything else. */
int lt_log_level_parse(const char *name, enum lt_log_level *out);
int lt_log_enabled(enum lt_log_level level);

void lt_log(enum lt_log_level level, const char *fmt, ...) LT_PRINTF(2, 3);
/*
 * The same with structured fields: kv holds name, value, name, value... and
 * a NULL name at the end (a NULL value leaves its field out). Values are
 * escaped as messages are. In the text format only the message is written:
 * it says the same in words.
 */
void lt_log_kv(enum lt_log_level level, const char *const *kv, const char *fmt, ...)
    LT_PRINTF(3, 4);
_Noreturn void lt_log_fatal(const char *fmt, ...) LT_PRINTF(1, 2);

#define lt_log_error(...) lt_log(LT_LOG_ERROR, __VA_ARGS__)
#define lt_log_warn(...) lt_log(LT_LOG_WARN, __VA_ARGS__)
#define lt_log_info(...) lt_log(LT_LOG_INFO, __VA_ARGS__)
#define lt_log_debug(...) lt_log(LT_LOG_DEBUG, __VA_ARGS__)

#endif
