/*
 * lt_check: the unit tests' framework, header only.
 *
 *   CHECK(cond)                  records a pass, or a failure naming file:line
 *                                and the expression; evaluates to cond (0 or 1)
 *                                so a test can stop early: if (!CHECK(p)) return;
 *   CHECK_STR_CONTAINS(s, part)  s (may be NULL) contains part
 *   CHECK_OK(call, err)          call returns 0; on failure shows err.msg
 *   LT_RUN(fn)                   runs the test function fn (void fn(void))
 *   return lt_check_summary();   from main: prints "N passed, N failed" (the
 *                                number of checks) as the program's last line
 *                                of standard output; 0 if none failed
 *
 * Failures go to standard error as they happen, each under the name of the
 * test that was running.
 */
#ifndef LT_CHECK_H
#define LT_CHECK_H

#include <stdio.h>
#include <string.h>

static int lt_check_passed;
static int lt_check_failed;
static const char *lt_check_test = "?";

__attribute__((unused)) static int lt_check(int ok, const char *file, int line, const char *expr,
                                            const char *detail)
{
	if (ok) {
		lt_check_passed++;
		return 1;
	}
	lt_check_failed++;
	fprintf(stderr, "%s:%d: %s: CHECK failed: %s%s%s\n", file, line, lt_check_test, expr,
	        detail != NULL ? "\n    " : "", detail != NULL ? detail : "");
	return 0;
}

__attribute__((unused)) static int lt_check_contains(const char *s, const char *part,
                                                     const char *file, int line, const char *expr)
{
	char detail[1200];
	int ok = s != NULL && strstr(s, part) != NULL;
	snprintf(detail, sizeof detail, "looked for \"%s\" in \"%s\"", part,
	         s != NULL ? s : "(null)");
	return lt_check(ok, file, line, expr, ok ? NULL : detail);
}

#define CHECK(cond) lt_check((cond) ? 1 : 0, __FILE__, __LINE__, #cond, NULL)
#define CHECK_STR_CONTAINS(s, part)                                                                \
	lt_check_contains((s), (part), __FILE__, __LINE__, "CHECK_STR_CONTAINS(" #s ", " #part ")")
#define CHECK_OK(call, err)                                                                        \
	lt_check((call) == 0 ? 1 : 0, __FILE__, __LINE__, #call " == 0", (err).msg)

#define LT_RUN(fn)                                                                                 \
	do {                                                                                       \
		lt_check_test = #fn;                                                               \
		fn();                                                                              \
		lt_check_test = "?";                                                               \
	} while (0)

__attribute__((unused)) static int lt_check_summary(void)
{
	printf("%d passed, %d failed\n", lt_check_passed, lt_check_failed);
	fflush(stdout);
	return lt_check_failed == 0 ? 0 : 1;
}

#endif
