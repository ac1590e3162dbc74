#include "lt_log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../text/lt_text.h"

#define LT_LOG_TEXT_MAX 2048 /* longest message, before escaping */

static const char *lt_log_program = "lienthong";
static enum lt_log_level lt_log_level_now = LT_LOG_INFO;
static enum lt_log_format lt_log_format_now = LT_LOG_TEXT;

static const char *const lt_log_names[] = {
    [LT_LOG_ERROR] = "error",
    [LT_LOG_WARN] = "warn",
    [LT_LOG_INFO] = "info",
    [LT_LOG_DEBUG] = "debug",
};

void lt_log_init(const char *program, enum lt_log_level level)
{
	const char *slash = strrchr(program, '/');
	lt_log_program = slash ? slash + 1 : program;
	lt_log_level_now = level;
}

void lt_log_set_level(enum lt_log_level level)
{
	lt_log_level_now = level;
}

int lt_log_level_parse(const char *name, enum lt_log_level *out)
{
	for (size_t i = 0; i < sizeof lt_log_names / sizeof lt_log_names[0]; i++) {
		if (strcmp(name, lt_log_names[i]) == 0) {
			*out = (enum lt_log_level)i;
			return 0;
		}
	}
	return -1;
}

int lt_log_format_parse(const char *name, enum lt_log_format *out)
{
	if (strcmp(name, "text") == 0)
		*out = LT_LOG_TEXT;
	else if (strcmp(name, "json") == 0)
		*out = LT_LOG_JSON;
	else
		return -1;
	return 0;
}

void lt_log_set_format(enum lt_log_format format)
{
	lt_log_format_now = format;
}

int lt_log_enabled(enum lt_log_level level)
{
	return level <= lt_log_level_now;
}

/* A string field of a JSON line, escaped like a message (valid UTF-8, no control byte). */
static void lt_log_json_set(json_t *o, const char *name, const char *value)
{
	char shown[4 * LT_LOG_TEXT_MAX];
	lt_text_escape(value, shown, sizeof shown);
	json_object_set_new(o, name, json_string(shown));
}

/* One JSON object a line; falls back to the text line should jansson fail (memory). */
static int lt_log_json_line(const char *stamp, enum lt_log_level level, const char *text,
                            const char *const *kv)
{
	json_t *o = json_object();
	int rc = -1;
	if (o == NULL)
		return -1;
	json_object_set_new(o, "time", json_string(stamp));
	json_object_set_new(o, "level", json_string(lt_log_names[level]));
	json_object_set_new(o, "program", json_string(lt_log_program));
	json_object_set_new(o, "pid", json_integer((json_int_t)getpid()));
	lt_log_json_set(o, "message", text);
	for (size_t i = 0; kv != NULL && kv[i] != NULL; i += 2) {
		/* The fixed fields keep their meaning. */
		if (kv[i + 1] != NULL && json_object_get(o, kv[i]) == NULL)
			lt_log_json_set(o, kv[i], kv[i + 1]);
	}
	char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line != NULL) {
		fprintf(stderr, "%s\n", line);
		free(line);
		rc = 0;
	}
	json_decref(o);
	return rc;
}

static void lt_log_vline(enum lt_log_level level, const char *const *kv, const char *fmt,
                         va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char stamp[40], secs[32];
	char text[LT_LOG_TEXT_MAX], shown[4 * LT_LOG_TEXT_MAX];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(secs, sizeof secs, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp, sizeof stamp, "%s.%03ldZ", secs, ts.tv_nsec / 1000000L);
	vsnprintf(text, sizeof text, fmt, ap);
	if (lt_log_format_now == LT_LOG_JSON && lt_log_json_line(stamp, level, text, kv) == 0)
		return;
	/* Messages quote names and reasons from the network: no raw control byte. */
	lt_text_escape(text, shown, sizeof shown);
	fprintf(stderr, "%s %s[%ld] %s: %s\n", stamp, lt_log_program, (long)getpid(),
	        lt_log_names[level], shown);
}

void lt_log(enum lt_log_level level, const char *fmt, ...)
{
	if (!lt_log_enabled(level))
		return;
	va_list ap;
	va_start(ap, fmt);
	lt_log_vline(level, NULL, fmt, ap);
	va_end(ap);
}

void lt_log_kv(enum lt_log_level level, const char *const *kv, const char *fmt, ...)
{
	if (!lt_log_enabled(level))
		return;
	va_list ap;
	va_start(ap, fmt);
	lt_log_vline(level, kv, fmt, ap);
	va_end(ap);
}

void lt_log_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lt_log_vline(LT_LOG_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
