/*
 * Unit tests of lt_manifest: CSV (RFC 4180 quoting, header, line numbers,
 * bounds, UTF-8) and JSON Lines manifests, and the expiry syntax.
 */
#include <stdlib.h>
#include <string.h>

#include "../../producers/lt_manifest.h"
#include "../../proto/lt_envelope.h"
#include "../../store/lt_store.h"
#include "lt_check.h"

static struct lt_manifest m;
static struct lt_problems p;

static void parse(enum lt_manifest_format fmt, const char *text)
{
	lt_err err;
	lt_manifest_free(&m);
	lt_problems_free(&p);
	CHECK_OK(lt_manifest_parse("m", text, strlen(text), fmt, &m, &p, &err), err);
}

/* Whether one of the problems contains every one of the (up to three) parts. */
static int problem(const char *a, const char *b, const char *c)
{
	for (size_t i = 0; i < p.n; i++) {
		if (strstr(p.msg[i], a) && (!b || strstr(p.msg[i], b)) &&
		    (!c || strstr(p.msg[i], c)))
			return 1;
	}
	for (size_t i = 0; i < p.n; i++)
		fprintf(stderr, "    problem: %s\n", p.msg[i]);
	return 0;
}

static void test_csv_quoting(void)
{
	parse(LT_MANIFEST_CSV,
	      "\xef\xbb\xbf"
	      "key,files,recipients,subject,number,type,expires\r\n"
	      "r1,a.pdf|b.pdf,A.01|B.02,\"Quy\xe1\xba\xbft, \"\"s\"\"\",12/QD,,3600\r\n"
	      "\n"
	      "r2,\"c,d.pdf\",A.01,\"two\nlines\",,application/pdf,"
	      "2030-01-02T03:04:05Z\n"
	      "r3,e.pdf,,,,,");
	CHECK(p.total == 1); /* the subject with a line break: a control character */
	CHECK(problem("line 4, field 'subject'", "control character 0x0a", NULL));
	if (!CHECK(m.n_rows == 2))
		return;
	struct lt_manifest_row *r = &m.rows[0];
	CHECK(r->line == 2 && strcmp(r->key, "r1") == 0);
	CHECK(r->n_files == 2 && strcmp(r->files[1], "b.pdf") == 0);
	CHECK(r->n_recipients == 2 && strcmp(r->recipients[1], "B.02") == 0);
	CHECK(strcmp(r->subject, "Quy\xe1\xba\xbft, \"s\"") == 0);
	CHECK(strcmp(r->number, "12/QD") == 0 && r->type == NULL);
	CHECK(r->has_expires && r->expires_in_s == 3600 && r->expires_at_ms == 0);
	r = &m.rows[1];
	CHECK(r->line == 6 && r->n_recipients == 0 && r->subject == NULL && !r->has_expires);
	CHECK(m.has_recipients);
}

static void test_csv_problems(void)
{
	parse(LT_MANIFEST_CSV, "files,subject,expires\n"
	                       "ok.pdf,fine,\n"
	                       "b.pdf,caf\xe9,\n"           /* line 3: bad UTF-8 */
	                       "c.pdf,x,yesterday\n"        /* line 4: bad expiry */
	                       "d.pdf,\"unterminated\"x,\n" /* line 5: text after quote */
	                       "e\"f.pdf,x,\n"              /* line 6: quote in the middle */
	                       "g.pdf,x\n"                  /* line 7: field count */
	                       ",no file,\n"                /* line 8: no file */
	                       "a.pdf||b.pdf,x,\n"          /* line 9: empty list item */
	                       "h.pdf,x,2030-02-30T00:00:00Z\n");
	CHECK(problem("line 3, field 'subject'", "not valid UTF-8", NULL));
	CHECK(problem("line 4, field 'expires'", "yesterday", NULL));
	CHECK(problem("line 5", "closing quote", NULL));
	CHECK(problem("line 6", "quote inside an unquoted field", NULL));
	CHECK(problem("line 7", "2 fields", "3 columns"));
	CHECK(problem("line 8, field 'files'", "no file", NULL));
	CHECK(problem("line 9, field 'files'", "empty", NULL));
	CHECK(problem("line 10, field 'expires'", "not a valid date", NULL));
	CHECK(p.total == 8);
	CHECK(m.n_rows == 1 && m.rows[0].line == 2);
	CHECK(!m.has_recipients);

	parse(LT_MANIFEST_CSV, "files,subjetc,subject,subject\na.pdf,x,y,z\n");
	CHECK(problem("header", "'subjetc' is not one of", NULL));
	CHECK(problem("header", "'subject' appears twice", NULL));
	CHECK(m.n_rows == 0);
	parse(LT_MANIFEST_CSV, "subject\nx\n");
	CHECK(problem("no 'files' column", NULL, NULL));
	parse(LT_MANIFEST_CSV, "");
	CHECK(problem("empty", NULL, NULL));
	parse(LT_MANIFEST_CSV, "files,subject\na.pdf,\"never closed\nb.pdf,x\n");
	CHECK(problem("line 2", "opened on line 2 never closes", NULL) && m.n_rows == 0);
}

static void test_csv_bounds(void)
{
	size_t n = LT_SUBJECT_MAX + 1;
	char *text = malloc(LT_MANIFEST_FIELD_MAX + 200);
	if (!CHECK(text != NULL))
		return;
	strcpy(text, "files,subject,key\na.pdf,");
	memset(text + strlen(text), 's', n);
	strcpy(text + 24 + n, ",k\n");
	parse(LT_MANIFEST_CSV, text);
	CHECK(problem("line 2, field 'subject'", "1025 bytes", "at most 1024"));
	strcpy(text, "files,subject,key\nb.pdf,x,");
	memset(text + 26, 'k', LT_MANIFEST_FIELD_MAX + 10);
	strcpy(text + 26 + LT_MANIFEST_FIELD_MAX + 10, "\nc.pdf,y,k2\n");
	parse(LT_MANIFEST_CSV, text);
	CHECK(problem("line 2, field 'key'", "longer than", NULL));
	CHECK(m.n_rows == 1 && m.rows[0].line == 3);
	strcpy(text, "files,key\nb.pdf,");
	memset(text + 16, 'k', LT_BATCH_KEY_MAX + 1);
	strcpy(text + 16 + LT_BATCH_KEY_MAX + 1, "\n");
	parse(LT_MANIFEST_CSV, text);
	CHECK(problem("line 2, field 'key'", "at most 200", NULL));
	free(text);
}

static void test_jsonl(void)
{
	parse(LT_MANIFEST_JSONL,
	      "{\"files\": [\"a.pdf\", \"b.pdf\"], \"recipients\": \"A.01\", \"key\": \"k1\", "
	      "\"expires\": 60}\n"
	      "\r\n"
	      "{\"files\": \"c.pdf\", \"subject\": \"Quy\\u1ebft\", \"number\": null}\r\n"
	      "{\"files\": [\"d.pdf\"], \"subjet\": \"x\"}\n"            /* line 4: unknown key */
	      "{\"files\": [\"d.pdf\", 3]}\n"                            /* line 5: not a string */
	      "{\"files\": \"e.pdf\"\n"                                  /* line 6: bad JSON */
	      "[\"f.pdf\"]\n"                                            /* line 7: not an object */
	      "{\"files\": \"g.pdf\", \"subject\": \"caf\xe9\"}\n"       /* line 8: bad UTF-8 */
	      "{\"files\": \"h.pdf\", \"files\": \"i.pdf\"}\n"           /* line 9: duplicate key */
	      "{\"files\": \"j.pdf\", \"expires\": \"2031-01-01\"}\n"    /* line 10: expiry */
	      "{\"recipients\": [\"A.01\"]}\n"                           /* line 11: no file */
	      "{\"files\": [\"k.pdf\"], \"subject\": \"a\\u0007b\"}\n"); /* line 12: control */
	CHECK(problem("line 4", "'subjet' is not one of", NULL));
	CHECK(problem("line 5, key 'files'", "item 2 is not a string", NULL));
	CHECK(problem("line 6", "not valid JSON", NULL));
	CHECK(problem("line 7", "not a JSON object", NULL));
	CHECK(problem("line 8", "JSON", NULL));
	CHECK(problem("line 9", "duplicate", NULL));
	CHECK(problem("line 10, key 'expires'", NULL, NULL));
	CHECK(problem("line 11, key 'files'", "no file", NULL));
	CHECK(problem("line 12, key 'subject'", "control character 0x07", NULL));
	CHECK(p.total == 9);
	if (!CHECK(m.n_rows == 2))
		return;
	CHECK(m.rows[0].line == 1 && m.rows[0].n_files == 2 && m.rows[0].n_recipients == 1);
	CHECK(m.rows[0].expires_in_s == 60 && strcmp(m.rows[0].key, "k1") == 0);
	CHECK(m.rows[1].line == 3 && strcmp(m.rows[1].subject, "Quy\xe1\xba\xbft") == 0);
	CHECK(m.rows[1].number == NULL);
}

static void test_expires(void)
{
	int64_t in, at;
	lt_err err;
	CHECK(lt_manifest_expires("86400", &in, &at, &err) == 0 && in == 86400 && at == 0);
	CHECK(lt_manifest_expires("1970-01-02T00:00:00Z", &in, &at, &err) == 0 && at == 86400000 &&
	      in == 0);
	CHECK(lt_manifest_expires("0", &in, &at, &err) == -1);
	CHECK(lt_manifest_expires("99999999999", &in, &at, &err) == -1);
	CHECK(lt_manifest_expires("2030-01-01T00:00:00", &in, &at, &err) == -1);
	CHECK(lt_manifest_expires("2030-13-01T00:00:00Z", &in, &at, &err) == -1);
	CHECK(lt_manifest_format_of("x/rows.CSV") == LT_MANIFEST_CSV);
	CHECK(lt_manifest_format_of("rows.jsonl") == LT_MANIFEST_JSONL);
	CHECK(lt_manifest_format_of("rows.txt") == -1);
}

int main(void)
{
	LT_RUN(test_csv_quoting);
	LT_RUN(test_csv_problems);
	LT_RUN(test_csv_bounds);
	LT_RUN(test_jsonl);
	LT_RUN(test_expires);
	lt_manifest_free(&m);
	lt_problems_free(&p);
	return lt_check_summary();
}
