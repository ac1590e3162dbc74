/*
 * Unit tests of lt_text: UTF-8 decoding, cutting on character boundaries,
 * escaping for terminals and logs, JSON strings from untrusted text.
 */
#include <stdlib.h>
#include <string.h>

#include "../../text/lt_text.h"
#include "lt_check.h"

static void test_utf8_char(void)
{
	uint32_t cp = 0;
	CHECK(lt_text_utf8_char("A", 1, &cp) == 1 && cp == 'A');
	CHECK(lt_text_utf8_char("\xc3\xa9", 2, &cp) == 2 && cp == 0xE9);       /* é */
	CHECK(lt_text_utf8_char("\xe1\xba\xbf", 3, &cp) == 3 && cp == 0x1EBF); /* ế */
	CHECK(lt_text_utf8_char("\xf0\x9f\x98\x80", 4, &cp) == 4 && cp == 0x1F600);
	CHECK(lt_text_utf8_char("\xe1\xba\xbf", 2, &cp) == 0);     /* truncated by len */
	CHECK(lt_text_utf8_char("\xba", 1, &cp) == 0);             /* stray continuation */
	CHECK(lt_text_utf8_char("\xc0\xaf", 2, &cp) == 0);         /* overlong '/' */
	CHECK(lt_text_utf8_char("\xed\xa0\x80", 3, &cp) == 0);     /* surrogate U+D800 */
	CHECK(lt_text_utf8_char("\xf4\x90\x80\x80", 4, &cp) == 0); /* beyond U+10FFFF */
	CHECK(lt_text_utf8_char("\xff", 1, &cp) == 0);
	CHECK(lt_text_utf8_valid("Quy\xe1\xba\xbft \xc4\x91\xe1\xbb\x8bnh", 16));
	CHECK(!lt_text_utf8_valid("caf\xe9", 4));
}

/* Every cut of a multi-byte character straddling the limit keeps it whole or leaves it out. */
static void test_utf8_cut(void)
{
	static const char *const chars[] = {"\xc4\x91", "\xe1\xba\xbf", "\xf0\x9f\x98\x80"};
	for (size_t c = 0; c < sizeof chars / sizeof chars[0]; c++) {
		size_t clen = strlen(chars[c]);
		char s[32];
		snprintf(s, sizeof s, "abcd%sxyz", chars[c]);
		size_t len = strlen(s);
		for (size_t max = 4; max <= 4 + clen; max++) {
			size_t cut = lt_text_utf8_cut(s, len, max);
			CHECK(cut == (max < 4 + clen ? 4 : 4 + clen));
			CHECK(lt_text_utf8_valid(s, cut));
		}
	}
	CHECK(lt_text_utf8_cut("abc", 3, 10) == 3);
	CHECK(lt_text_utf8_cut("abcdef", 6, 3) == 3);
	CHECK(lt_text_utf8_cut("\xba\xba\xba\xba\xba", 5, 4) == 4); /* not UTF-8: cut at max */
	CHECK(lt_text_utf8_cut("\xc4\x91", 2, 1) == 0);
}

static void test_escape(void)
{
	char out[256];
	CHECK(strcmp(lt_text_escape("plain text", out, sizeof out), "plain text") == 0);
	CHECK(strcmp(lt_text_escape("a\x1b[2Jb", out, sizeof out), "a\\x1b[2Jb") == 0);
	CHECK(strcmp(lt_text_escape("t\tn\nr\rdel\x7f", out, sizeof out),
	             "t\\x09n\\x0ar\\x0ddel\\x7f") == 0);
	/* C1 controls: U+009B (CSI) and U+0085 (NEL). */
	CHECK(strcmp(lt_text_escape("x\xc2\x9b"
	                            "31m\xc2\x85",
	                            out, sizeof out),
	             "x\\u009b31m\\u0085") == 0);
	/* Invalid UTF-8: each stray byte alone. */
	CHECK(strcmp(lt_text_escape("caf\xe9!\xff\xe1\xba", out, sizeof out),
	             "caf\\xe9!\\xff\\xe1\\xba") == 0);
	/* Letters beyond ASCII stay as they are. */
	CHECK(strcmp(lt_text_escape("Quy\xe1\xba\xbft \xc4\x91\xe1\xbb\x8bnh", out, sizeof out),
	             "Quy\xe1\xba\xbft \xc4\x91\xe1\xbb\x8bnh") == 0);
	/* The output is cut before an escape or a character that does not fit. */
	CHECK(strcmp(lt_text_escape("ab\x1b", out, 6), "ab") == 0);
	CHECK(strcmp(lt_text_escape("ab\x1b", out, 7), "ab\\x1b") == 0);
	CHECK(strcmp(lt_text_escape("ab\xe1\xba\xbf", out, 5), "ab") == 0);
	CHECK(strcmp(lt_text_escape("ab\xe1\xba\xbf", out, 6), "ab\xe1\xba\xbf") == 0);
	CHECK(strcmp(lt_text_escape("anything", out, 1), "") == 0);
	/* Nothing escaped contains a control byte. */
	char all[256], big[4 * 256 + 1];
	for (int i = 0; i < 255; i++)
		all[i] = (char)(i + 1);
	all[255] = '\0';
	lt_text_escape(all, big, sizeof big);
	int raw = 0;
	for (const unsigned char *p = (const unsigned char *)big; *p; p++)
		raw += *p < 0x20 || *p == 0x7f;
	CHECK(raw == 0);
	CHECK(lt_text_utf8_valid(big, strlen(big)));
}

static void test_fputs(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!CHECK(f != NULL))
		return;
	lt_text_fputs("name\x1b]0;title\x07\xc2\x9b\xff.pdf", f);
	fclose(f);
	CHECK(strcmp(buf, "name\\x1b]0;title\\x07\\u009b\\xff.pdf") == 0);
	free(buf);
}

static void test_json(void)
{
	json_t *j = lt_text_json("ok\x1b[1m\xc2\x9b");
	char *text = json_dumps(j, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
	CHECK(text != NULL && strcmp(text, "\"ok\\u001B[1m\\u009B\"") == 0);
	free(text);
	json_decref(j);
	/* lt_text_json_dumps escapes DEL too, which jansson leaves raw. */
	json_t *o = json_object();
	json_object_set_new(o, "r", lt_text_json("a\x7f\x1b\xc2\x85"));
	text = lt_text_json_dumps(o, JSON_COMPACT);
	CHECK(text != NULL && strcmp(text, "{\"r\":\"a\\u007f\\u001B\\u0085\"}") == 0);
	free(text);
	json_decref(o);
	/* Invalid UTF-8 (json_string would refuse it): the escaped text instead. */
	j = lt_text_json("bad\xff\xfe");
	CHECK(j != NULL && strcmp(json_string_value(j), "bad\\xff\\xfe") == 0);
	json_decref(j);
}

int main(void)
{
	LT_RUN(test_utf8_char);
	LT_RUN(test_utf8_cut);
	LT_RUN(test_escape);
	LT_RUN(test_fputs);
	LT_RUN(test_json);
	return lt_check_summary();
}
