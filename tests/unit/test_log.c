/*
 * Unit tests of lt_log's JSON lines (log_format = json): one JSON object a
 * line, valid whatever bytes the message quotes (quotes, backslashes,
 * newlines, control bytes, invalid UTF-8), with the structured fields of
 * lt_log_kv; and the text lines stay as they were.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../log/lt_log.h"
#include "lt_check.h"

/* What the logging calls in fn write to standard error, in out[size]. */
static void capture(void (*fn)(void), char *out, size_t size)
{
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	out[0] = '\0';
	if (!CHECK(f != NULL && saved >= 0))
		return;
	fflush(stderr);
	dup2(fileno(f), STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	size_t n = fread(out, 1, size - 1, f);
	out[n] = '\0';
	fclose(f);
}

static const char hostile[] = "disk \"full\" \\ here\nsecond\x01\x1b[2J \xff\xfe caf\xc3\xa9";

static void log_hostile(void)
{
	lt_log_kv(LT_LOG_WARN,
	          (const char *const[]){"document_id", "doc-1", "sender", "S\"\n\xff", "recipient",
	                                NULL, "level", "forged", NULL},
	          "reason: %s", hostile);
	lt_log_info("plain %d", 42);
	lt_log_debug("not shown at info");
}

static void test_json_lines(void)
{
	char out[8192];
	lt_log_init("/usr/bin/lienthong-agent", LT_LOG_INFO);
	lt_log_set_format(LT_LOG_JSON);
	capture(log_hostile, out, sizeof out);
	lt_log_set_format(LT_LOG_TEXT);
	char *nl = strchr(out, '\n');
	if (!CHECK(nl != NULL))
		return;
	*nl = '\0';
	char *second = nl + 1;
	CHECK(strchr(second, '\n') != NULL && strchr(strchr(second, '\n') + 1, '\n') == NULL);
	json_error_t jerr;
	json_t *o = json_loads(out, JSON_REJECT_DUPLICATES, &jerr);
	if (!CHECK(o != NULL && json_is_object(o))) {
		fprintf(stderr, "    %s: %s\n", jerr.text, out);
		return;
	}
	CHECK(strcmp(json_string_value(json_object_get(o, "level")), "warn") == 0); /* not forged */
	CHECK(strcmp(json_string_value(json_object_get(o, "program")), "lienthong-agent") == 0);
	CHECK(json_integer_value(json_object_get(o, "pid")) == (json_int_t)getpid());
	const char *t = json_string_value(json_object_get(o, "time"));
	CHECK(t != NULL && strlen(t) == 24 && t[10] == 'T' && t[23] == 'Z');
	CHECK(strcmp(
	          json_string_value(json_object_get(o, "message")),
	          "reason: disk \"full\" \\ here\\x0asecond\\x01\\x1b[2J \\xff\\xfe caf\xc3\xa9") ==
	      0);
	CHECK(strcmp(json_string_value(json_object_get(o, "document_id")), "doc-1") == 0);
	CHECK(strcmp(json_string_value(json_object_get(o, "sender")), "S\"\\x0a\\xff") == 0);
	CHECK(json_object_get(o, "recipient") == NULL); /* a NULL value: no field */
	json_decref(o);
	o = json_loads(second, JSON_DISABLE_EOF_CHECK, &jerr);
	if (CHECK(o != NULL)) {
		CHECK(strcmp(json_string_value(json_object_get(o, "message")), "plain 42") == 0);
		CHECK(strcmp(json_string_value(json_object_get(o, "level")), "info") == 0);
		json_decref(o);
	}
}

static void test_text_lines(void)
{
	char out[8192];
	lt_log_init("lienthong-agent", LT_LOG_INFO);
	capture(log_hostile, out, sizeof out);
	CHECK_STR_CONTAINS(out, "] warn: reason: disk \"full\" \\ here\\x0asecond\\x01");
	CHECK_STR_CONTAINS(out, "] info: plain 42\n");
	CHECK(strstr(out, "doc-1") == NULL); /* fields: in JSON only */
	CHECK(strstr(out, "{") == NULL);
	enum lt_log_format f;
	CHECK(lt_log_format_parse("json", &f) == 0 && f == LT_LOG_JSON);
	CHECK(lt_log_format_parse("text", &f) == 0 && f == LT_LOG_TEXT);
	CHECK(lt_log_format_parse("xml", &f) == -1);
}

int main(void)
{
	LT_RUN(test_json_lines);
	LT_RUN(test_text_lines);
	return lt_check_summary();
}
