#include "lt_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../text/lt_text.h"

static const char *lt_log_program = "lienthong";
static enum lt_log_level lt_log_level_now = LT_LOG_INFO;

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

int lt_log_enabled(enum lt_log_level level)
{
	return level <= lt_log_level_now;
}

static void lt_log_vline(enum lt_log_level level, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	char text[2048], shown[4 * 2048];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	vsnprintf(text, sizeof text, fmt, ap);
	/* Messages quote names and reasons from the network: no raw control byte. */
	lt_text_escape(text, shown, sizeof shown);
	fprintf(stderr, "%s.%03ldZ %s[%ld] %s: %s\n", stamp, ts.tv_nsec / 1000000L, lt_log_program,
	        (long)getpid(), lt_log_names[level], shown);
}

void lt_log(enum lt_log_level level, const char *fmt, ...)
{
	if (!lt_log_enabled(level))
		return;
	va_list ap;
	va_start(ap, fmt);
	lt_log_vline(level, fmt, ap);
	va_end(ap);
}

void lt_log_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lt_log_vline(LT_LOG_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}
