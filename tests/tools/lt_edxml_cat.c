/*
 * lt-edxml-cat: a test tool that reads an edXML message with lienthong's own
 * reader (edxml/lt_edxml.h), so the integration tests can check what a
 * target received.
 *
 *   lt-edxml-cat -c CONF doc FILE OUTDIR   a document message: prints
 *       sender=, recipient=, subject=, number=, business_type=, concerns=,
 *       then meta KEY=VALUE lines, and writes each attachment, decoded, as
 *       OUTDIR/<part name>
 *   lt-edxml-cat -c CONF status FILE       a status message: prints from=,
 *       code=, description=, reported_by=, rf_document_id=, rf_organ_id=
 *
 * CONF gives the bounds (max_parts, max_document_bytes, agency_code_pattern).
 * Exit status 1 with the reader's message when the file is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../edxml/lt_edxml.h"

struct cat_out {
	const char *dir;
};

static int cat_open_part(void *arg, size_t index, lt_err *err)
{
	const struct cat_out *o = arg;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/.part-%zu", o->dir, index);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return lt_err_errno(err, errno, "cannot create %s", path);
	return fd;
}

static int cat_doc(const struct lt_config *cfg, const char *file, const char *dir)
{
	struct lt_edxml_doc d;
	struct cat_out o = {dir};
	lt_err err;
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || lt_edxml_read(fd, file, cfg, cat_open_part, &o, &d, &err) != 0) {
		fprintf(stderr, "lt-edxml-cat: %s\n", fd < 0 ? "cannot open the file" : err.msg);
		return 1;
	}
	close(fd);
	printf("sender=%s\n", d.sender);
	for (size_t i = 0; i < d.n_recipients; i++)
		printf("recipient=%s\n", d.recipients[i]);
	printf("subject=%s\nnumber=%s\nbusiness_type=%d\nconcerns=%s\n", d.subject,
	       d.document_number, (int)d.business_type, d.concerns ? d.concerns : "");
	for (size_t i = 0; i < d.n_meta; i++)
		printf("%s=%s\n", d.meta[i].key, d.meta[i].value);
	for (size_t i = 0; i < d.n_parts; i++) {
		char from[PATH_MAX], to[PATH_MAX];
		snprintf(from, sizeof from, "%s/.part-%zu", dir, i);
		snprintf(to, sizeof to, "%s/%s", dir, d.parts[i].name);
		if (rename(from, to) != 0) {
			fprintf(stderr, "lt-edxml-cat: cannot rename %s\n", from);
			lt_edxml_doc_free(&d);
			return 1;
		}
	}
	lt_edxml_doc_free(&d);
	return 0;
}

static int cat_status(const struct lt_config *cfg, const char *file)
{
	struct lt_edxml_status st;
	lt_err err;
	char by[256];
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || lt_edxml_status_read(fd, file, cfg, &st, &err) != 0) {
		fprintf(stderr, "lt-edxml-cat: %s\n", fd < 0 ? "cannot open the file" : err.msg);
		return 1;
	}
	close(fd);
	printf("from=%s\ncode=%s\ndescription=%s\nreported_by=%s\nrf_document_id=%s\n"
	       "rf_organ_id=%s\n",
	       st.from.organ_id, st.code, st.description ? st.description : "",
	       lt_edxml_status_reported_by(&st, by, sizeof by),
	       st.rf_document_id ? st.rf_document_id : "", st.rf_organ_id ? st.rf_organ_id : "");
	lt_edxml_status_free(&st);
	return 0;
}

int main(int argc, char **argv)
{
	static struct lt_config cfg;
	lt_err err;
	if (argc < 5 || strcmp(argv[1], "-c") != 0 ||
	    (strcmp(argv[3], "doc") == 0 ? argc != 6 : strcmp(argv[3], "status") != 0)) {
		fprintf(stderr,
		        "usage: lt-edxml-cat -c CONF doc FILE OUTDIR | -c CONF status FILE\n");
		return 2;
	}
	if (lt_config_load(&cfg, argv[2], &err) != 0) {
		fprintf(stderr, "lt-edxml-cat: %s\n", err.msg);
		return 2;
	}
	int rc = strcmp(argv[3], "doc") == 0 ? cat_doc(&cfg, argv[4], argv[5])
	                                     : cat_status(&cfg, argv[4]);
	lt_config_free(&cfg);
	return rc;
}
