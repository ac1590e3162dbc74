/*
 * libFuzzer target: an edXML message, read as a document (attachments
 * decoded into /dev/null) and as a status message. Whatever reads as a
 * document is written again and read back, and must give the same fields
 * (read(write(x)) = x, but for the manifest the writer makes when there was
 * none); a status message likewise.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../edxml/lt_edxml.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int devnull = -1;

static int open_null(void *arg, size_t index, lt_err *err)
{
	(void)arg;
	(void)index;
	(void)err;
	return devnull;
}

/* The bytes written to a memory file, read back from its start. */
static int rewind_fd(int fd)
{
	return lseek(fd, 0, SEEK_SET) == 0 ? 0 : -1;
}

static int same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void doc_round_trip(const struct lt_edxml_doc *d)
{
	static const uint8_t bytes[] = "part";
	struct lt_edxml_part_src src[64];
	Lienthong__Header h = LIENTHONG__HEADER__INIT;
	Lienthong__Meta m[LT_META_MAX], *mp[LT_META_MAX];
	struct lt_edxml_doc b;
	lt_err err;
	int fd = memfd_create("edxml", 0);
	if (fd < 0 || d->n_parts > 64)
		abort();
	h.sender = d->sender;
	h.recipients = d->recipients;
	h.n_recipients = d->n_recipients;
	h.subject = d->subject;
	h.document_number = d->document_number;
	h.business_type = d->business_type;
	for (size_t i = 0; i < d->n_meta; i++) {
		lienthong__meta__init(&m[i]);
		m[i].key = (char *)d->meta[i].key;
		m[i].value = (char *)d->meta[i].value;
		mp[i] = &m[i];
	}
	h.meta = mp;
	h.n_meta = d->n_meta;
	for (size_t i = 0; i < d->n_parts; i++)
		src[i] = (struct lt_edxml_part_src){.name = d->parts[i].name,
		                                    .media_type = d->parts[i].media_type,
		                                    .data = bytes,
		                                    .len = sizeof bytes,
		                                    .fd = -1};
	if (lt_edxml_write(fd, &h, src, d->n_parts, &err) != 0) {
		fprintf(stderr, "write refused what was read: %s\n", err.msg);
		abort();
	}
	if (rewind_fd(fd) != 0 ||
	    lt_edxml_read(fd, "rewritten", &lt_fuzz_cfg, open_null, NULL, &b, &err) != 0) {
		fprintf(stderr, "what was written does not read: %s\n", err.msg);
		abort();
	}
	int ok = strcmp(b.sender, d->sender) == 0 && b.n_recipients == d->n_recipients &&
	         strcmp(b.subject, d->subject) == 0 &&
	         strcmp(b.document_number, d->document_number) == 0 &&
	         b.business_type == d->business_type && same(b.concerns, d->concerns) &&
	         b.n_parts == d->n_parts;
	/* the one addition allowed: a manifest made for the parts when none was kept */
	int had_manifest = 0;
	for (size_t i = 0; i < d->n_meta; i++)
		had_manifest |= strncmp(d->meta[i].key, "edxml.Reference.", 16) == 0;
	for (size_t j = 0; ok && j < b.n_meta; j++) {
		int found = 0;
		for (size_t i = 0; i < d->n_meta; i++)
			found |= strcmp(b.meta[j].key, d->meta[i].key) == 0;
		if (!found &&
		    (had_manifest || strncmp(b.meta[j].key, "edxml.Reference.", 16) != 0)) {
			fprintf(stderr, "meta %s added\n", b.meta[j].key);
			ok = 0;
		}
	}
	for (size_t i = 0; ok && i < d->n_meta; i++) {
		int found = 0;
		for (size_t j = 0; j < b.n_meta; j++) {
			if (strcmp(b.meta[j].key, d->meta[i].key) == 0)
				found = strcmp(b.meta[j].value, d->meta[i].value) == 0;
		}
		if (!found)
			fprintf(stderr, "meta %s lost or changed\n", d->meta[i].key);
		ok = found;
	}
	for (size_t i = 0; ok && i < d->n_parts; i++)
		ok = strcmp(b.parts[i].name, d->parts[i].name) == 0 &&
		     strcmp(b.parts[i].media_type, d->parts[i].media_type) == 0;
	for (size_t i = 0; ok && i < d->n_recipients; i++)
		ok = strcmp(b.recipients[i], d->recipients[i]) == 0;
	if (!ok) {
		fprintf(stderr, "read(write(x)) differs from x\n");
		abort();
	}
	lt_edxml_doc_free(&b);
	close(fd);
}

static void status_round_trip(const struct lt_edxml_status *st)
{
	struct lt_edxml_status b;
	lt_err err;
	int fd = memfd_create("edxml-status", 0);
	if (fd < 0)
		abort();
	if (lt_edxml_status_write(fd, st, &err) != 0 || rewind_fd(fd) != 0 ||
	    lt_edxml_status_read(fd, "rewritten", &lt_fuzz_cfg, &b, &err) != 0) {
		fprintf(stderr, "status round trip failed: %s\n", err.msg);
		abort();
	}
	if (strcmp(b.code, st->code) != 0 || !same(b.description, st->description) ||
	    !same(b.staff, st->staff) || !same(b.rf_document_id, st->rf_document_id) ||
	    !same(b.from.organ_name, st->from.organ_name)) {
		fprintf(stderr, "status read(write(x)) differs from x\n");
		abort();
	}
	lt_edxml_status_free(&b);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lt_edxml_doc d;
	struct lt_edxml_status st;
	lt_err err;
	lt_fuzz_init();
	if (devnull < 0)
		devnull = open("/dev/null", O_WRONLY);
	if (lt_edxml_read_mem(data, size, "fuzz", &lt_fuzz_cfg, open_null, NULL, &d, &err) == 0) {
		doc_round_trip(&d);
		lt_edxml_doc_free(&d);
	}
	if (lt_edxml_status_read_mem(data, size, "fuzz", &lt_fuzz_cfg, &st, &err) == 0) {
		status_round_trip(&st);
		lt_edxml_status_free(&st);
	}
	return 0;
}
