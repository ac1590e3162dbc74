/*
 * lt_edxml: reading edXML document and status messages (lt_edxml.h).
 *
 * One SAX2 pass over the input, pulled 64 KiB at a time through libxml2's
 * I/O parser (which hands out text in small pieces and forgets what it has
 * parsed, so an attachment's base64 is never held whole). A stack of
 * frames, one per open element, knows each element's place; a leaf's text
 * becomes a header field, a meta field (its key built from the frames), or
 * for ContentTransferEncoded is decoded into the part's descriptor.
 */
#include "lt_edxml.h"
#include "../pki/lt_hash.h"

#include <errno.h>
#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../text/lt_text.h"
#include "lt_edxml_int.h"

#define RD_FEED 65536
#define RD_OUTBUF 65536
#define RD_SUBJECT_MAX LT_SUBJECT_MAX
#define RD_NUMBER_MAX 256

/* What an open element is, as far as the reader cares. */
enum rd_kind {
	K_ROOT,     /* edXML, or Status */
	K_ENVELOPE, /* edXMLEnvelope */
	K_HEADER,   /* edXMLHeader */
	K_BODY,     /* edXMLBody */
	K_SECTION,  /* MessageHeader, TraceHeaderList, edXMLManifest, AttachmentEncoded,
	               MessageStatus */
	K_FIELD,    /* anything below a section: flattened into keys */
	K_DATA,     /* Attachment/ContentTransferEncoded: base64 streamed out */
	K_STHEADER, /* Status/Header */
	K_SIG,      /* inside a kept ds:Signature */
};

struct rd_frame {
	char name[LT_EDXML_NAME_MAX + 1];
	char seg[LT_EDXML_NAME_MAX + 12]; /* "Name", "Name.N", or "" (transparent) */
	enum rd_kind kind;
	unsigned children;
	unsigned rep[LT_EDXML_NREP]; /* numbering of repeated children */
	unsigned structural;         /* structural children seen (bits) */
	long line;
};

struct rd_part_state {
	int fd;
	EVP_ENCODE_CTX *b64;
	EVP_MD_CTX *sha;
	int had_data;
	char *orig_name;
	char *orig_type;
	long line;
};

struct rd {
	xmlParserCtxtPtr ctxt;
	enum lt_edxml_mode mode;
	const char *what;
	const struct lt_config *cfg;
	lt_err *err;
	int failed;
	/* input */
	int fd;
	const uint8_t *buf;
	size_t len, pos;
	uint64_t fed, max_input;
	/* elements */
	struct rd_frame st[LT_EDXML_DEPTH_MAX];
	int depth;
	size_t elements;
	char text[LT_META_VALUE_MAX + 1];
	size_t text_len;
	/* kept signature */
	char *sig;
	size_t sig_len;
	int sig_depth;
	const xmlChar *sig_prefix, *sig_uri; /* the signature element's namespace */
	/* document */
	struct lt_edxml_doc *doc;
	size_t meta_cap, meta_bytes;
	size_t parts_cap;
	int have_code, have_number, have_notation, have_type, have_subject;
	char *number, *notation;
	long to_line[LT_RECIPIENTS_MAX];
	struct rd_part_state ps;
	uint64_t decoded;
	lt_edxml_open_part_fn open_part;
	void *open_arg;
	uint8_t *out;
	size_t out_len;
	/* status */
	struct lt_edxml_status *status;
};

static const char lt_edxml_dsig_ns[] = "http://www.w3.org/2000/09/xmldsig#";

/* Repeated elements: numbered from 1 under their parent (lt_edxml_int.h). */
const struct lt_edxml_rep lt_edxml_reps[LT_EDXML_NREP] = {
    {"MessageHeader", "To", NULL},
    {"MessageHeader", "ResponseFor", NULL},
    {"TraceHeaderList", "TraceHeader", NULL},
    {"ReplacementInfoList", "ReplacementInfo", "ReplacementInfoList"},
    {"OrganIdList", "OrganId", "OrganIdList"},
    {"ToPlaces", "Place", "ToPlaces"},
    {"Appendixes", "Appendix", "Appendixes"},
    {"edXMLManifest", "Reference", NULL},
    {"AttachmentEncoded", "Attachment", NULL},
};

static long rd_line(const struct rd *r)
{
	if (r->ctxt != NULL && r->ctxt->input != NULL)
		return r->ctxt->input->line;
	return 0;
}

/*
 * Records the first error (what, where, what to do) and stops the parser:
 * libxml2 then drops its input, so a callback touches none of the strings
 * it was given after this.
 */
static void rd_fail(struct rd *r, enum lt_code code, const char *fmt, ...) LT_PRINTF(3, 4);
static void rd_fail(struct rd *r, enum lt_code code, const char *fmt, ...)
{
	char msg[LT_ERR_MSG_MAX];
	va_list ap;
	if (r->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	lt_err_set(r->err, code, "%s line %ld: %s", r->what, rd_line(r), msg);
	r->failed = 1;
	if (r->ctxt != NULL)
		xmlStopParser(r->ctxt);
}

static char *rd_strdup(struct rd *r, const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p == NULL) {
		rd_fail(r, LT_EIO, "out of memory");
		return NULL;
	}
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* ---- input ---- */

static int rd_read(void *ctx, char *buf, int len)
{
	struct rd *r = ctx;
	size_t n;
	if (r->failed)
		return -1;
	if (r->buf != NULL) {
		n = r->len - r->pos;
		if (n > (size_t)len)
			n = (size_t)len;
		memcpy(buf, r->buf + r->pos, n);
		r->pos += n;
	} else {
		ssize_t got;
		do
			got = read(r->fd, buf, (size_t)len);
		while (got < 0 && errno == EINTR);
		if (got < 0) {
			lt_err_errno(r->err, errno, "%s: cannot read", r->what);
			r->failed = 1;
			return -1;
		}
		n = (size_t)got;
	}
	r->fed += n;
	if (r->fed > r->max_input) {
		/* not rd_fail: stopping the parser from inside its read would pull its buffer away
		 */
		lt_err_set(r->err, LT_EINVAL,
		           "%s: the message is larger than %llu bytes (3/2 of max_document_bytes "
		           "plus 16 MiB): split it or raise max_document_bytes",
		           r->what, (unsigned long long)r->max_input);
		r->failed = 1;
		return -1;
	}
	return (int)n;
}

static int rd_close(void *ctx)
{
	(void)ctx;
	return 0;
}

/* ---- meta fields ---- */

static int rd_key_ok(const char *k)
{
	size_t n = strlen(k);
	return n >= 1 && n <= LT_META_KEY_MAX &&
	       strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static void rd_meta_add(struct rd *r, const char *key, const char *value, size_t vlen)
{
	struct lt_edxml_doc *d = r->doc;
	size_t klen = strlen(key);
	if (!rd_key_ok(key)) {
		rd_fail(r, LT_EINVAL,
		        "the field %s has too long a path for a meta key (at most %d bytes of "
		        "[A-Za-z0-9._-]): shorten the element names or nest less",
		        key, LT_META_KEY_MAX);
		return;
	}
	for (size_t i = 0; i < d->n_meta; i++) {
		if (strcmp(d->meta[i].key, key) == 0) {
			rd_fail(r, LT_EINVAL,
			        "the field %s appears twice: edXML has it once here; remove the "
			        "repeat",
			        key + 6);
			return;
		}
	}
	if (d->n_meta == LT_META_MAX || r->meta_bytes + klen + vlen > LT_META_TOTAL_MAX) {
		rd_fail(r, LT_EINVAL,
		        "the message has more header fields than one lienthong header holds "
		        "(%d fields, %d bytes): send fewer recipients or attachments per message",
		        LT_META_MAX, LT_META_TOTAL_MAX);
		return;
	}
	if (d->n_meta == r->meta_cap) {
		size_t cap = r->meta_cap ? 2 * r->meta_cap : 32;
		struct lt_meta_in *m = realloc(d->meta, cap * sizeof *m);
		if (m == NULL) {
			rd_fail(r, LT_EIO, "out of memory");
			return;
		}
		d->meta = m;
		r->meta_cap = cap;
	}
	char *k = rd_strdup(r, key, klen), *v = rd_strdup(r, value, vlen);
	if (k == NULL || v == NULL) {
		free(k);
		free(v);
		return;
	}
	d->meta[d->n_meta].key = k;
	d->meta[d->n_meta].value = v;
	d->n_meta++;
	r->meta_bytes += klen + vlen;
}

static const char *rd_meta_get(const struct lt_edxml_doc *d, const char *key)
{
	for (size_t i = 0; i < d->n_meta; i++) {
		if (strcmp(d->meta[i].key, key) == 0)
			return d->meta[i].value;
	}
	return NULL;
}

/* The key of the top frame: "edxml" and the segments below its section. */
static int rd_key(const struct rd *r, char *key, size_t size)
{
	size_t n = (size_t)snprintf(key, size, "edxml");
	int from = 0;
	for (int i = r->depth - 1; i >= 0; i--) {
		if (r->st[i].kind == K_SECTION) {
			from = i + 1;
			break;
		}
	}
	for (int i = from; i < r->depth; i++) {
		const char *seg = r->st[i].seg;
		if (seg[0] == '\0' && i == r->depth - 1)
			seg = r->st[i].name; /* an empty list element is a field of its own */
		if (seg[0] == '\0')
			continue;
		n += (size_t)snprintf(key + n, n < size ? size - n : 0, ".%s", seg);
	}
	return n < size ? 0 : -1;
}

/* ---- structure ---- */

static int rd_is(const xmlChar *a, const char *b)
{
	return strcmp((const char *)a, b) == 0;
}

static int rd_name_ok(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= LT_EDXML_NAME_MAX &&
	       ((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_') &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static int rd_transparent(const char *name)
{
	for (size_t i = 0; i < LT_EDXML_NREP; i++) {
		if (lt_edxml_reps[i].wrapper != NULL && strcmp(lt_edxml_reps[i].wrapper, name) == 0)
			return 1;
	}
	return 0;
}

/* Which structural child this is (a bit), for "appears twice". */
static void rd_structural(struct rd *r, struct rd_frame *parent, unsigned bit, const char *name)
{
	if (parent->structural & bit) {
		rd_fail(r, LT_EINVAL, "element %s appears twice in %s: keep one", name,
		        parent->name);
		return;
	}
	parent->structural |= bit;
}

static void rd_part_begin(struct rd *r);
static void rd_part_end(struct rd *r);
static void rd_data_begin(struct rd *r);
static void rd_data_end(struct rd *r);
static void rd_leaf(struct rd *r);
static void rd_sig_append(struct rd *r, const char *s, size_t n);
static void rd_sig_text(struct rd *r, const char *s, size_t n);
static void rd_sig_keep(struct rd *r);
static void rd_b64_feed(struct rd *r, const uint8_t *in, size_t n);
static void rd_sig_start(struct rd *r, const xmlChar *local, const xmlChar *prefix,
                         const xmlChar *uri, int nb_ns, const xmlChar **ns, int nb_attr,
                         const xmlChar **attrs);

/* Where a new element may stand, by its parent; sets the frame's kind and segment. */
static void rd_place(struct rd *r, struct rd_frame *f, struct rd_frame *parent)
{
	const char *n = f->name;
	if (parent == NULL) {
		const char *want = r->mode == LT_EDXML_MODE_DOC ? "edXML" : "Status";
		if (strcmp(n, want) != 0) {
			rd_fail(r, LT_EINVAL,
			        "the root element is %s: an edXML %s message has the root %s%s", n,
			        r->mode == LT_EDXML_MODE_DOC ? "document" : "status", want,
			        r->mode == LT_EDXML_MODE_DOC
			            ? " (a status message, root Status, is read as a status)"
			            : " (a document message has the root edXML)");
			return;
		}
		f->kind = K_ROOT;
		return;
	}
	switch (parent->kind) {
	case K_ROOT:
		if (r->mode == LT_EDXML_MODE_STATUS && strcmp(n, "Header") == 0) {
			f->kind = K_STHEADER;
			rd_structural(r, parent, 1, n);
		} else if (r->mode == LT_EDXML_MODE_DOC && strcmp(n, "edXMLEnvelope") == 0) {
			f->kind = K_ENVELOPE;
			rd_structural(r, parent, 1, n);
		} else if (r->mode == LT_EDXML_MODE_DOC && strcmp(n, "AttachmentEncoded") == 0) {
			f->kind = K_SECTION;
			rd_structural(r, parent, 2, n);
		} else {
			rd_fail(r, LT_EINVAL, "element %s is not expected in %s (expected %s)", n,
			        parent->name,
			        r->mode == LT_EDXML_MODE_DOC ? "edXMLEnvelope, AttachmentEncoded"
			                                     : "Header");
		}
		return;
	case K_STHEADER:
		if (strcmp(n, "MessageStatus") != 0) {
			rd_fail(r, LT_EINVAL,
			        "element %s is not expected in Header (expected MessageStatus)", n);
			return;
		}
		f->kind = K_SECTION;
		rd_structural(r, parent, 1, n);
		return;
	case K_ENVELOPE:
		if (strcmp(n, "edXMLHeader") == 0) {
			f->kind = K_HEADER;
			rd_structural(r, parent, 1, n);
		} else if (strcmp(n, "edXMLBody") == 0) {
			f->kind = K_BODY;
			rd_structural(r, parent, 2, n);
		} else {
			rd_fail(
			    r, LT_EINVAL,
			    "element %s is not expected in edXMLEnvelope (expected edXMLHeader, "
			    "edXMLBody)",
			    n);
		}
		return;
	case K_HEADER:
		if (strcmp(n, "MessageHeader") == 0) {
			f->kind = K_SECTION;
			rd_structural(r, parent, 1, n);
		} else if (strcmp(n, "TraceHeaderList") == 0) {
			f->kind = K_SECTION;
			rd_structural(r, parent, 2, n);
		} else {
			rd_fail(
			    r, LT_EINVAL,
			    "element %s is not expected in edXMLHeader (expected MessageHeader, "
			    "TraceHeaderList, ds:Signature)",
			    n);
		}
		return;
	case K_BODY:
		if (strcmp(n, "edXMLManifest") != 0) {
			rd_fail(r, LT_EINVAL,
			        "element %s is not expected in edXMLBody (expected edXMLManifest)",
			        n);
			return;
		}
		f->kind = K_SECTION;
		rd_structural(r, parent, 1, n);
		return;
	case K_SECTION:
	case K_FIELD:
		break;
	default:
		rd_fail(r, LT_EINVAL, "element %s is not expected in %s", n, parent->name);
		return;
	}
	/* Below a section: a field. */
	if (!rd_name_ok(n)) {
		rd_fail(r, LT_EINVAL,
		        "element name %s cannot be kept as a field (1 to %d of [A-Za-z0-9_-]): "
		        "rename it",
		        n, LT_EDXML_NAME_MAX);
		return;
	}
	f->kind = K_FIELD;
	if (parent->kind == K_SECTION) {
		const char *p = parent->name, *only = NULL;
		if (strcmp(p, "TraceHeaderList") == 0 && strcmp(n, "TraceHeader") != 0 &&
		    strcmp(n, "Bussiness") != 0)
			only = "TraceHeader, Bussiness";
		else if (strcmp(p, "edXMLManifest") == 0 && strcmp(n, "Reference") != 0)
			only = "Reference";
		else if (strcmp(p, "AttachmentEncoded") == 0 && strcmp(n, "Attachment") != 0)
			only = "Attachment";
		else if (strcmp(p, "MessageHeader") == 0 &&
		         (strcmp(n, "TraceHeader") == 0 || strcmp(n, "Bussiness") == 0 ||
		          strcmp(n, "Signature") == 0 || strcmp(n, "Reference") == 0 ||
		          strcmp(n, "Attachment") == 0))
			only = "the MessageHeader fields (this name belongs elsewhere)";
		if (only != NULL) {
			rd_fail(r, LT_EINVAL, "element %s is not expected in %s (expected %s)", n,
			        p, only);
			return;
		}
	}
	if (r->mode != LT_EDXML_MODE_DOC) {
		/* a status message has no lists and no attachments */
		memcpy(f->seg, n, strlen(n) + 1);
		return;
	}
	for (size_t i = 0; i < LT_EDXML_NREP; i++) {
		/* items without a list element repeat only directly in their section */
		if (strcmp(lt_edxml_reps[i].parent, parent->name) == 0 &&
		    strcmp(lt_edxml_reps[i].item, n) == 0 &&
		    (lt_edxml_reps[i].wrapper != NULL || parent->kind == K_SECTION)) {
			unsigned idx = ++parent->rep[i];
			size_t nl = strlen(n);
			memcpy(f->seg, n, nl);
			snprintf(f->seg + nl, sizeof f->seg - nl, ".%u", idx);
			if (strcmp(n, "Attachment") == 0)
				rd_part_begin(r);
			return;
		}
	}
	if (rd_transparent(parent->name)) {
		rd_fail(r, LT_EINVAL, "element %s is not expected in %s (a list of one kind)", n,
		        parent->name);
		return;
	}
	if (rd_transparent(n))
		f->seg[0] = '\0';
	else
		memcpy(f->seg, n, strlen(n) + 1);
	if (parent->seg[0] != '\0' && strncmp(parent->seg, "Attachment.", 11) == 0 &&
	    strcmp(n, "ContentTransferEncoded") == 0) {
		f->kind = K_DATA;
		rd_data_begin(r);
	}
}

static void rd_start(void *ctx, const xmlChar *local, const xmlChar *prefix, const xmlChar *uri,
                     int nb_ns, const xmlChar **ns, int nb_attr, int nb_def, const xmlChar **attrs)
{
	struct rd *r = ctx;
	(void)nb_def;
	if (r->failed)
		return;
	if (++r->elements > LT_EDXML_ELEMENTS_MAX) {
		rd_fail(r, LT_EINVAL, "more than %d elements: this is not an edXML message",
		        LT_EDXML_ELEMENTS_MAX);
		return;
	}
	if (r->depth == LT_EDXML_DEPTH_MAX) {
		rd_fail(r, LT_EINVAL,
		        "elements nested deeper than %d levels: this is not an edXML message",
		        LT_EDXML_DEPTH_MAX);
		return;
	}
	struct rd_frame *parent = r->depth > 0 ? &r->st[r->depth - 1] : NULL;
	if (parent != NULL && parent->kind == K_SIG) {
		r->st[r->depth].kind = K_SIG;
		r->st[r->depth].children = 0;
		r->depth++;
		rd_sig_start(r, local, prefix, uri, nb_ns, ns, nb_attr, attrs);
		return;
	}
	if (parent != NULL) {
		for (size_t i = 0; i < r->text_len; i++) {
			if (!strchr(" \t\r\n", r->text[i])) {
				rd_fail(
				    r, LT_EINVAL,
				    "element %s holds text and elements: edXML fields hold one or "
				    "the other",
				    parent->name);
				return;
			}
		}
		if (parent->kind == K_DATA) {
			rd_fail(r, LT_EINVAL,
			        "ContentTransferEncoded holds an element: it holds base64 only");
			return;
		}
		parent->children++;
	}
	r->text_len = 0;
	struct rd_frame *f = &r->st[r->depth];
	memset(f, 0, sizeof *f);
	f->line = rd_line(r);
	if (strlen((const char *)local) > LT_EDXML_NAME_MAX) {
		rd_fail(r, LT_EINVAL, "element name %.40s... is longer than %d bytes", local,
		        LT_EDXML_NAME_MAX);
		return;
	}
	snprintf(f->name, sizeof f->name, "%s", (const char *)local);
	if (r->mode == LT_EDXML_MODE_DOC && parent != NULL && parent->kind == K_HEADER &&
	    uri != NULL && rd_is(uri, lt_edxml_dsig_ns) && rd_is(local, "Signature")) {
		rd_structural(r, parent, 4, "ds:Signature");
		f->kind = K_SIG;
		r->sig_depth = r->depth;
		r->sig_len = 0;
		r->depth++;
		rd_sig_start(r, local, prefix, uri, nb_ns, ns, nb_attr, attrs);
		return;
	}
	if (r->mode == LT_EDXML_MODE_SIG) {
		if (parent == NULL && uri != NULL && rd_is(uri, lt_edxml_dsig_ns) &&
		    rd_is(local, "Signature")) {
			f->kind = K_SIG;
			r->depth++;
			return;
		}
		rd_fail(r, LT_EINVAL, "the kept signature is not a ds:Signature element");
		return;
	}
	if (uri == NULL) {
		rd_fail(r, LT_EINVAL,
		        "element %s has no namespace: edXML elements are in the namespace %s "
		        "(declare it, e.g. xmlns:edXML=\"%s\")",
		        f->name, LT_EDXML_NS, LT_EDXML_NS);
		return;
	}
	if (!rd_is(uri, LT_EDXML_NS)) {
		rd_fail(r, LT_EINVAL,
		        "element %s is in the unknown namespace %.200s: edXML elements are in "
		        "%s",
		        f->name, (const char *)uri, LT_EDXML_NS);
		return;
	}
	if (nb_attr > 0 && parent != NULL) {
		rd_fail(r, LT_EINVAL,
		        "element %s has the attribute %s: edXML fields have none (it would be "
		        "lost); remove it",
		        f->name, (const char *)attrs[0]);
		return;
	}
	rd_place(r, f, parent);
	r->depth++;
}

static void rd_end(void *ctx, const xmlChar *local, const xmlChar *prefix, const xmlChar *uri)
{
	struct rd *r = ctx;
	(void)local;
	(void)prefix;
	(void)uri;
	if (r->failed || r->depth == 0)
		return;
	struct rd_frame *f = &r->st[r->depth - 1];
	if (f->kind == K_SIG && r->mode != LT_EDXML_MODE_DOC) {
		r->depth--;
		return;
	}
	if (f->kind == K_SIG) {
		char close[2 * LT_EDXML_NAME_MAX + 8];
		if (prefix != NULL)
			snprintf(close, sizeof close, "</%s:%s>", (const char *)prefix,
			         (const char *)local);
		else
			snprintf(close, sizeof close, "</%s>", (const char *)local);
		rd_sig_append(r, close, strlen(close));
		if (r->depth - 1 == r->sig_depth)
			rd_sig_keep(r);
		r->depth--;
		return;
	}
	int attachment = f->kind == K_FIELD && strncmp(f->seg, "Attachment.", 11) == 0 &&
	                 r->depth >= 2 && r->st[r->depth - 2].kind == K_SECTION;
	if (f->kind == K_DATA)
		rd_data_end(r);
	else if (f->kind == K_FIELD && f->children == 0 && !attachment)
		rd_leaf(r); /* an empty Attachment is an empty part, not a field */
	if (r->failed)
		return;
	if (f->kind == K_FIELD && r->depth >= 2 && r->st[r->depth - 2].kind == K_SECTION) {
		unsigned idx;
		if (strncmp(f->seg, "Attachment.", 11) == 0)
			rd_part_end(r);
		else if (r->mode == LT_EDXML_MODE_DOC && sscanf(f->seg, "To.%u", &idx) == 1 &&
		         idx > r->doc->n_recipients)
			rd_fail(r, LT_EINVAL,
			        "To %u (from line %ld) has no OrganId: each To names a recipient "
			        "agency in OrganId",
			        idx, f->line);
	}
	r->text_len = 0;
	r->depth--;
}

static void rd_chars(void *ctx, const xmlChar *ch, int len)
{
	struct rd *r = ctx;
	if (r->failed || r->depth == 0)
		return;
	struct rd_frame *f = &r->st[r->depth - 1];
	if (f->kind == K_SIG) {
		if (r->mode == LT_EDXML_MODE_DOC)
			rd_sig_text(r, (const char *)ch, (size_t)len);
		return;
	}
	if (f->kind == K_DATA) {
		rd_b64_feed(r, ch, (size_t)len);
		return;
	}
	if (f->children > 0 || f->kind != K_FIELD) {
		for (int i = 0; i < len; i++) {
			if (!strchr(" \t\r\n", ch[i])) {
				rd_fail(
				    r, LT_EINVAL,
				    "element %s holds text where edXML has elements only: remove "
				    "the text",
				    f->name);
				return;
			}
		}
		return;
	}
	if ((size_t)len > LT_META_VALUE_MAX - r->text_len) {
		rd_fail(r, LT_EINVAL,
		        "the text of element %s is longer than %d bytes: shorten it (edXML "
		        "header fields are short)",
		        f->name, LT_META_VALUE_MAX);
		return;
	}
	memcpy(r->text + r->text_len, ch, (size_t)len);
	r->text_len += (size_t)len;
	r->text[r->text_len] = '\0';
}

static void rd_doctype(void *ctx, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
	struct rd *r = ctx;
	(void)ext;
	(void)sys;
	if (r->failed) { /* an earlier error: stop here all the same, before any subset */
		xmlStopParser(r->ctxt);
		return;
	}
	rd_fail(r, LT_EINVAL,
	        "a DOCTYPE declaration (<!DOCTYPE %.40s>) is refused: edXML needs none, and the "
	        "entities a DTD declares can expand without bound or read local files; remove "
	        "it",
	        name != NULL ? (const char *)name : "");
}

static void rd_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *pub,
                           const xmlChar *sys, xmlChar *content)
{
	struct rd *r = ctx;
	(void)type;
	(void)pub;
	(void)sys;
	(void)content;
	rd_fail(r, LT_EINVAL, "the entity declaration %.40s is refused: remove the DTD",
	        (const char *)name);
	xmlStopParser(r->ctxt);
}

static void rd_reference(void *ctx, const xmlChar *name)
{
	struct rd *r = ctx;
	rd_fail(r, LT_EINVAL, "the entity reference &%.40s; is refused: edXML uses none",
	        (const char *)name);
}

static void rd_xml_error(void *ctx, xmlErrorPtr e)
{
	struct rd *r = ctx;
	char msg[400];
	size_t n;
	if (r->failed || e == NULL || e->level < XML_ERR_ERROR)
		return;
	snprintf(msg, sizeof msg, "%s", e->message != NULL ? e->message : "malformed XML");
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	lt_err_set(r->err, LT_EINVAL, "%s line %d: not well-formed XML: %s: fix the XML", r->what,
	           e->line, msg);
	/* not stopped from here (libxml2 may go on using its buffer): the next read fails */
	r->failed = 1;
}

/* ---- the kept signature ---- */

static const char *rd_chars_esc(char c)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\r':
		return "&#13;";
	default:
		return NULL;
	}
}

static void rd_sig_append(struct rd *r, const char *s, size_t n)
{
	if (r->failed)
		return;
	if (n > LT_EDXML_SIGNATURE_MAX - r->sig_len) {
		rd_fail(r, LT_EINVAL,
		        "the XML signature is larger than %d bytes: it cannot be kept; remove it "
		        "(lienthong signs the document itself)",
		        LT_EDXML_SIGNATURE_MAX);
		return;
	}
	if (r->sig == NULL) {
		r->sig = malloc(LT_EDXML_SIGNATURE_MAX);
		if (r->sig == NULL) {
			rd_fail(r, LT_EIO, "out of memory");
			return;
		}
	}
	memcpy(r->sig + r->sig_len, s, n);
	r->sig_len += n;
}

static void rd_sig_text(struct rd *r, const char *s, size_t n)
{
	size_t from = 0;
	for (size_t i = 0; i < n; i++) {
		if (r->failed)
			return; /* the parser is stopped: s may be gone */
		const char *e = rd_chars_esc(s[i]);
		if (e == NULL)
			continue;
		rd_sig_append(r, s + from, i - from);
		rd_sig_append(r, e, strlen(e));
		from = i + 1;
	}
	rd_sig_append(r, s + from, n - from);
}

/*
 * A start tag inside the signature, written back with the namespace of the
 * element (and of prefixed attributes) declared on it, so the kept text
 * stands alone.
 */
static void rd_sig_start(struct rd *r, const xmlChar *local, const xmlChar *prefix,
                         const xmlChar *uri, int nb_ns, const xmlChar **ns, int nb_attr,
                         const xmlChar **attrs)
{
	char buf[2 * LT_EDXML_NAME_MAX + 8];
	if (r->mode != LT_EDXML_MODE_DOC)
		return;
	if (strlen((const char *)local) > LT_EDXML_NAME_MAX ||
	    (prefix != NULL && strlen((const char *)prefix) > LT_EDXML_NAME_MAX)) {
		rd_fail(r, LT_EINVAL, "an element name in the XML signature is too long");
		return;
	}
	if (prefix != NULL)
		snprintf(buf, sizeof buf, "<%s:%s", (const char *)prefix, (const char *)local);
	else
		snprintf(buf, sizeof buf, "<%s", (const char *)local);
	rd_sig_append(r, buf, strlen(buf));
	/* the declarations made here, then the element's own namespace if declared outside */
	int own = 0;
	for (int i = 0; i < nb_ns && !r->failed; i++) {
		const xmlChar *p = ns[2 * i], *u = ns[2 * i + 1];
		if (p != NULL && strlen((const char *)p) > LT_EDXML_NAME_MAX) {
			rd_fail(r, LT_EINVAL,
			        "a namespace prefix in the XML signature is too long");
			return;
		}
		if (p != NULL)
			snprintf(buf, sizeof buf, " xmlns:%s=\"", (const char *)p);
		else
			snprintf(buf, sizeof buf, " xmlns=\"");
		rd_sig_append(r, buf, strlen(buf));
		rd_sig_text(r, (const char *)u, u != NULL ? strlen((const char *)u) : 0);
		rd_sig_append(r, "\"", 1);
		if ((p == prefix || (p != NULL && prefix != NULL && xmlStrEqual(p, prefix))))
			own = 1;
	}
	if (r->depth - 1 == r->sig_depth) {
		r->sig_prefix = prefix;
		r->sig_uri = uri;
	}
	if (uri != NULL && !own &&
	    (r->depth - 1 == r->sig_depth || !xmlStrEqual(prefix, r->sig_prefix) ||
	     !xmlStrEqual(uri, r->sig_uri))) {
		if (prefix != NULL)
			snprintf(buf, sizeof buf, " xmlns:%s=\"", (const char *)prefix);
		else
			snprintf(buf, sizeof buf, " xmlns=\"");
		rd_sig_append(r, buf, strlen(buf));
		rd_sig_text(r, (const char *)uri, strlen((const char *)uri));
		rd_sig_append(r, "\"", 1);
	}
	for (int i = 0; i < nb_attr && !r->failed; i++) {
		const xmlChar *alocal = attrs[5 * i], *apfx = attrs[5 * i + 1],
		              *auri = attrs[5 * i + 2];
		const char *v = (const char *)attrs[5 * i + 3],
		           *vend = (const char *)attrs[5 * i + 4];
		if (strlen((const char *)alocal) > LT_EDXML_NAME_MAX ||
		    (apfx != NULL && strlen((const char *)apfx) > LT_EDXML_NAME_MAX)) {
			rd_fail(r, LT_EINVAL, "an attribute name in the XML signature is too long");
			return;
		}
		if (apfx != NULL && auri != NULL &&
		    (prefix == NULL || strcmp((const char *)apfx, (const char *)prefix) != 0)) {
			snprintf(buf, sizeof buf, " xmlns:%s=\"", (const char *)apfx);
			rd_sig_append(r, buf, strlen(buf));
			rd_sig_text(r, (const char *)auri, strlen((const char *)auri));
			rd_sig_append(r, "\"", 1);
		}
		if (apfx != NULL)
			snprintf(buf, sizeof buf, " %s:%s=\"", (const char *)apfx,
			         (const char *)alocal);
		else
			snprintf(buf, sizeof buf, " %s=\"", (const char *)alocal);
		rd_sig_append(r, buf, strlen(buf));
		rd_sig_text(r, v, (size_t)(vend - v));
		rd_sig_append(r, "\"", 1);
	}
	rd_sig_append(r, ">", 1);
}

/* The finished signature text as edxml.Signature.1..4, cut between characters. */
static void rd_sig_keep(struct rd *r)
{
	size_t off = 0;
	unsigned n = 0;
	char key[32];
	while (off < r->sig_len && !r->failed) {
		size_t take = lt_text_utf8_cut(r->sig + off, r->sig_len - off, LT_META_VALUE_MAX);
		if (take == 0 || ++n > LT_EDXML_SIGNATURE_MAX / LT_META_VALUE_MAX) {
			rd_fail(
			    r, LT_EINVAL,
			    "the XML signature cannot be kept in %d fields: remove it (lienthong "
			    "signs the document itself)",
			    LT_EDXML_SIGNATURE_MAX / LT_META_VALUE_MAX);
			return;
		}
		snprintf(key, sizeof key, "edxml.Signature.%u", n);
		rd_meta_add(r, key, r->sig + off, take);
		off += take;
	}
}

/* ---- attachments ---- */

static void rd_out_flush(struct rd *r)
{
	size_t off = 0;
	while (off < r->out_len && !r->failed) {
		ssize_t w = write(r->ps.fd, r->out + off, r->out_len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			lt_err_errno(r->err, errno, "%s: cannot write attachment %zu", r->what,
			             r->doc->n_parts);
			r->failed = 1;
			xmlStopParser(r->ctxt);
			return;
		}
		off += (size_t)w;
	}
	r->out_len = 0;
}

static void rd_part_begin(struct rd *r)
{
	struct lt_edxml_doc *d = r->doc;
	if (d->n_parts == (size_t)r->cfg->max_parts) {
		rd_fail(r, LT_EINVAL,
		        "more than %lld attachments (max_parts): send them in several messages",
		        (long long)r->cfg->max_parts);
		return;
	}
	if (d->n_parts == r->parts_cap) {
		size_t cap = r->parts_cap ? 2 * r->parts_cap : 4;
		struct lt_edxml_part *p = realloc(d->parts, cap * sizeof *p);
		if (p == NULL) {
			rd_fail(r, LT_EIO, "out of memory");
			return;
		}
		d->parts = p;
		r->parts_cap = cap;
	}
	memset(&d->parts[d->n_parts], 0, sizeof d->parts[0]);
	d->n_parts++;
	r->ps.fd = -1;
	r->ps.had_data = 0;
	r->ps.line = rd_line(r);
}

/* Asks the caller for the part's descriptor and starts decoding and hashing. */
static void rd_part_open(struct rd *r)
{
	lt_err e;
	size_t i = r->doc->n_parts - 1;
	lt_err_clear(&e);
	r->ps.fd = r->open_part(r->open_arg, i, &e);
	if (r->ps.fd < 0) {
		rd_fail(r, e.code != LT_OK ? e.code : LT_EIO, "attachment %zu: %s", i + 1, e.msg);
		return;
	}
	if (r->ps.sha == NULL)
		r->ps.sha = EVP_MD_CTX_new();
	if (r->ps.b64 == NULL)
		r->ps.b64 = EVP_ENCODE_CTX_new();
	if (r->ps.sha == NULL || r->ps.b64 == NULL ||
	    EVP_DigestInit_ex(r->ps.sha, lt_sha256_md(), NULL) != 1) {
		rd_fail(r, LT_EIO, "cannot start SHA-256 (OpenSSL)");
		return;
	}
	EVP_DecodeInit(r->ps.b64);
	r->out_len = 0;
}

static void rd_data_begin(struct rd *r)
{
	if (r->ps.had_data) {
		rd_fail(r, LT_EINVAL,
		        "attachment %zu has ContentTransferEncoded twice: one attachment holds one "
		        "content",
		        r->doc->n_parts);
		return;
	}
	r->ps.had_data = 1;
	rd_part_open(r);
}

static void rd_b64_feed(struct rd *r, const uint8_t *in, size_t n)
{
	struct lt_edxml_part *p = &r->doc->parts[r->doc->n_parts - 1];
	while (n > 0 && !r->failed) {
		int take = n > 4096 ? 4096 : (int)n, outl = 0;
		if (RD_OUTBUF - r->out_len < 4096)
			rd_out_flush(r);
		if (r->failed)
			return;
		if (EVP_DecodeUpdate(r->ps.b64, r->out + r->out_len, &outl, in, take) < 0) {
			rd_fail(r, LT_EINVAL,
			        "attachment %zu: ContentTransferEncoded is not valid base64 (a "
			        "character outside A-Z a-z 0-9 + / =, or data after the padding): "
			        "encode the file again",
			        r->doc->n_parts);
			return;
		}
		if (outl > 0) {
			if ((uint64_t)outl > (uint64_t)r->cfg->max_document_bytes - r->decoded) {
				rd_fail(r, LT_EINVAL,
				        "the attachments decode to more than max_document_bytes "
				        "(%lld): send them in several messages",
				        (long long)r->cfg->max_document_bytes);
				return;
			}
			r->decoded += (uint64_t)outl;
			p->size += (uint64_t)outl;
			EVP_DigestUpdate(r->ps.sha, r->out + r->out_len, (size_t)outl);
			r->out_len += (size_t)outl;
		}
		in += take;
		n -= (size_t)take;
	}
}

static void rd_data_end(struct rd *r)
{
	struct lt_edxml_part *p = &r->doc->parts[r->doc->n_parts - 1];
	int outl = 0;
	if (RD_OUTBUF - r->out_len < 4096)
		rd_out_flush(r);
	if (r->failed)
		return;
	if (EVP_DecodeFinal(r->ps.b64, r->out + r->out_len, &outl) < 0) {
		rd_fail(r, LT_EINVAL,
		        "attachment %zu: ContentTransferEncoded ends in the middle of a base64 "
		        "group: the content is cut short; encode the file again",
		        r->doc->n_parts);
		return;
	}
	if (outl > 0) {
		p->size += (uint64_t)outl;
		r->decoded += (uint64_t)outl;
		EVP_DigestUpdate(r->ps.sha, r->out + r->out_len, (size_t)outl);
		r->out_len += (size_t)outl;
	}
	rd_out_flush(r);
	if (!r->failed && EVP_DigestFinal_ex(r->ps.sha, p->sha256, NULL) != 1)
		rd_fail(r, LT_EIO, "SHA-256 failed (OpenSSL)");
}

/* A lienthong media type: printable ASCII type/subtype without spaces, at most 127 bytes. */
static int rd_media_ok(const char *s, size_t n)
{
	const char *slash = memchr(s, '/', n);
	if (n == 0 || n > 127 || slash == NULL || slash == s || slash == s + n - 1)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return 0;
	}
	return 1;
}

/* A part name from AttachmentName: no path, no controls, no leading '.', unique. */
static char *rd_part_name(struct rd *r, const char *orig, size_t index)
{
	char name[LT_PART_NAME_MAX + 1];
	size_t n = 0;
	lt_err e;
	if (orig == NULL || orig[0] == '\0') {
		snprintf(name, sizeof name, "attachment-%zu", index + 1);
	} else {
		size_t len = lt_text_utf8_cut(orig, strlen(orig), LT_PART_NAME_MAX - 8);
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)orig[i];
			name[n++] =
			    (c < 0x20 || c == 0x7f || c == '/' || c == '\\') ? '_' : (char)c;
		}
		name[n] = '\0';
		if (name[0] == '.')
			name[0] = '_';
	}
	/* unique: "name-2.ext" for a repeat */
	for (unsigned k = 2; k < 1000; k++) {
		int taken = 0;
		for (size_t i = 0; i < index; i++) {
			if (strcmp(r->doc->parts[i].name, name) == 0)
				taken = 1;
		}
		if (!taken)
			break;
		char base[LT_PART_NAME_MAX + 1];
		const char *dot = strrchr(name, '.');
		size_t bl = dot != NULL && dot != name ? (size_t)(dot - name) : strlen(name);
		snprintf(base, sizeof base, "%.*s-%u%s", (int)bl, name, k,
		         dot != NULL && dot != name ? dot : "");
		snprintf(name, sizeof name, "%s", base);
	}
	if (lt_part_name_check(name, &e) != 0) {
		rd_fail(r, LT_EINVAL,
		        "attachment %zu: AttachmentName cannot be made a part name: %s", index + 1,
		        e.msg);
		return NULL;
	}
	return rd_strdup(r, name, strlen(name));
}

static void rd_part_end(struct rd *r)
{
	struct lt_edxml_doc *d = r->doc;
	size_t i = d->n_parts - 1;
	struct lt_edxml_part *p = &d->parts[i];
	char key[64];
	if (!r->ps.had_data) {
		rd_part_open(r);
		if (r->failed)
			return;
		if (EVP_DigestFinal_ex(r->ps.sha, p->sha256, NULL) != 1) {
			rd_fail(r, LT_EIO, "SHA-256 failed (OpenSSL)");
			return;
		}
	}
	p->name = rd_part_name(r, r->ps.orig_name, i);
	if (r->failed)
		return;
	if (r->ps.orig_name == NULL || strcmp(p->name, r->ps.orig_name) != 0) {
		snprintf(key, sizeof key, "edxml.Attachment.%zu.AttachmentName", i + 1);
		if (r->ps.orig_name != NULL)
			rd_meta_add(r, key, r->ps.orig_name, strlen(r->ps.orig_name));
		else
			rd_meta_add(r, key, "", 0); /* absent: kept as absent */
	}
	const char *t = r->ps.orig_type;
	if (t != NULL && rd_media_ok(t, strlen(t))) {
		p->media_type = rd_strdup(r, t, strlen(t));
	} else {
		p->media_type = rd_strdup(r, "application/octet-stream", 24);
		snprintf(key, sizeof key, "edxml.Attachment.%zu.ContentType", i + 1);
		if (t != NULL)
			rd_meta_add(r, key, t, strlen(t));
		else
			rd_meta_add(r, key, "", 0);
	}
	free(r->ps.orig_name);
	free(r->ps.orig_type);
	r->ps.orig_name = r->ps.orig_type = NULL;
}

/* ---- leaves: header fields, meta fields, status fields ---- */

static int rd_code_ok(struct rd *r, const char *field, const char *v)
{
	lt_err e;
	if (lt_config_check_code(r->cfg, v, &e) != 0) {
		rd_fail(r, LT_EINVAL, "%s: %s: write the agency's electronic identifier there",
		        field, e.msg);
		return 0;
	}
	return 1;
}

static void rd_status_leaf(struct rd *r, const char *rel)
{
	static const struct {
		const char *path;
		size_t off;
	} fields[] = {
	    {"From.OrganId", offsetof(struct lt_edxml_status, from.organ_id)},
	    {"From.OrganizationInCharge",
	     offsetof(struct lt_edxml_status, from.organization_in_charge)},
	    {"From.OrganName", offsetof(struct lt_edxml_status, from.organ_name)},
	    {"From.OrganAdd", offsetof(struct lt_edxml_status, from.organ_add)},
	    {"From.Email", offsetof(struct lt_edxml_status, from.email)},
	    {"From.Telephone", offsetof(struct lt_edxml_status, from.telephone)},
	    {"From.Fax", offsetof(struct lt_edxml_status, from.fax)},
	    {"From.Website", offsetof(struct lt_edxml_status, from.website)},
	    {"ResponseFor.OrganId", offsetof(struct lt_edxml_status, rf_organ_id)},
	    {"ResponseFor.Code", offsetof(struct lt_edxml_status, rf_code)},
	    {"ResponseFor.PromulgationDate",
	     offsetof(struct lt_edxml_status, rf_promulgation_date)},
	    {"ResponseFor.DocumentId", offsetof(struct lt_edxml_status, rf_document_id)},
	    {"StaffInfo.Department", offsetof(struct lt_edxml_status, staff_department)},
	    {"StaffInfo.Staff", offsetof(struct lt_edxml_status, staff)},
	    {"StaffInfo.Email", offsetof(struct lt_edxml_status, staff_email)},
	    {"StaffInfo.Mobile", offsetof(struct lt_edxml_status, staff_mobile)},
	    {"Description", offsetof(struct lt_edxml_status, description)},
	    {"Timestamp", offsetof(struct lt_edxml_status, timestamp)},
	};
	struct lt_edxml_status *st = r->status;
	if (strcmp(rel, "StatusCode") == 0) {
		lt_err e;
		if (st->code[0] != '\0') {
			rd_fail(r, LT_EINVAL, "StatusCode appears twice: keep one");
			return;
		}
		if (lt_edxml_status_code_check(r->text, &e) != 0) {
			rd_fail(r, LT_EINVAL, "%s", e.msg);
			return;
		}
		memcpy(st->code, r->text, 3);
		return;
	}
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		if (strcmp(rel, fields[i].path) != 0)
			continue;
		char **slot = (char **)((char *)st + fields[i].off);
		if (*slot != NULL) {
			rd_fail(r, LT_EINVAL, "%s appears twice: keep one", rel);
			return;
		}
		*slot = rd_strdup(r, r->text, r->text_len);
		return;
	}
	/* other elements of a status message are not used */
}

static void rd_doc_leaf(struct rd *r, const char *key)
{
	struct lt_edxml_doc *d = r->doc;
	const char *rel = key + 6, *v = r->text;
	unsigned idx;
	int end = 0;
	if (strcmp(rel, "From.OrganId") == 0) {
		if (d->sender != NULL) {
			rd_fail(r, LT_EINVAL, "From appears twice: a message has one sender");
			return;
		}
		if (rd_code_ok(r, "From/OrganId", v))
			d->sender = rd_strdup(r, v, r->text_len);
		return;
	}
	if (sscanf(rel, "To.%u.OrganId%n", &idx, &end) == 1 && rel[end] == '\0') {
		if (!rd_code_ok(r, "To/OrganId", v))
			return;
		if (idx <= d->n_recipients) {
			rd_fail(r, LT_EINVAL, "To %u has OrganId twice: keep one", idx);
			return;
		}
		for (size_t i = 0; i < d->n_recipients; i++) {
			if (strcmp(d->recipients[i], v) == 0) {
				rd_fail(
				    r, LT_EINVAL,
				    "recipient %s appears twice in To (also line %ld): list each "
				    "agency once",
				    v, r->to_line[i]);
				return;
			}
		}
		if (d->n_recipients == LT_RECIPIENTS_MAX) {
			rd_fail(r, LT_EINVAL, "more than %d recipients (To): send several messages",
			        LT_RECIPIENTS_MAX);
			return;
		}
		char **rc = realloc(d->recipients, (d->n_recipients + 1) * sizeof *rc);
		if (rc == NULL) {
			rd_fail(r, LT_EIO, "out of memory");
			return;
		}
		d->recipients = rc;
		r->to_line[d->n_recipients] = rd_line(r);
		rc[d->n_recipients] = rd_strdup(r, v, r->text_len);
		if (rc[d->n_recipients] != NULL)
			d->n_recipients++;
		return;
	}
	if (strcmp(rel, "Subject") == 0) {
		if (r->text_len > RD_SUBJECT_MAX) {
			rd_fail(r, LT_EINVAL, "Subject is longer than %d bytes: shorten it",
			        RD_SUBJECT_MAX);
			return;
		}
		if (r->have_subject) {
			rd_fail(r, LT_EINVAL, "Subject appears twice: keep one");
			return;
		}
		d->subject = rd_strdup(r, v, r->text_len);
		r->have_subject = 1;
		return;
	}
	if (strcmp(rel, "Code.CodeNumber") == 0 || strcmp(rel, "Code.CodeNotation") == 0) {
		int num = strcmp(rel, "Code.CodeNumber") == 0;
		if (r->text_len > RD_NUMBER_MAX - 1) {
			rd_fail(r, LT_EINVAL, "%s is longer than %d bytes: shorten it", rel + 5,
			        RD_NUMBER_MAX - 1);
			return;
		}
		if (num && memchr(v, '/', r->text_len) != NULL) {
			rd_fail(r, LT_EINVAL,
			        "CodeNumber '%s' holds a '/': the number goes into CodeNumber, the "
			        "notation after the '/' into CodeNotation",
			        v);
			return;
		}
		char **slot = num ? &r->number : &r->notation;
		if (*slot != NULL) {
			rd_fail(r, LT_EINVAL, "%s appears twice: keep one", rel + 5);
			return;
		}
		*slot = rd_strdup(r, v, r->text_len);
		return;
	}
	if (strcmp(rel, "Bussiness.BussinessDocType") == 0) {
		if (r->text_len != 1 || v[0] < '0' || v[0] > '3') {
			rd_fail(
			    r, LT_EINVAL,
			    "BussinessDocType '%.20s' is not 0 (new), 1 (revoke), 2 (update) or "
			    "3 (replace)",
			    v);
			return;
		}
		d->business_type = (Lienthong__BusinessType)(v[0] - '0');
		r->have_type = 1;
		return;
	}
	if (sscanf(rel, "Attachment.%u.%n", &idx, &end) == 1 && end > 0) {
		if (strcmp(rel + end, "AttachmentName") == 0) {
			free(r->ps.orig_name);
			r->ps.orig_name = rd_strdup(r, v, r->text_len);
			return;
		}
		if (strcmp(rel + end, "ContentType") == 0) {
			free(r->ps.orig_type);
			r->ps.orig_type = rd_strdup(r, v, r->text_len);
			return;
		}
	}
	rd_meta_add(r, key, v, r->text_len);
}

static void rd_leaf(struct rd *r)
{
	char key[LT_META_KEY_MAX + 32];
	if (rd_key(r, key, sizeof key) != 0) {
		rd_fail(r, LT_EINVAL,
		        "the path of element %s is too long for a meta key (%d bytes): nest less",
		        r->st[r->depth - 1].name, LT_META_KEY_MAX);
		return;
	}
	if (r->mode == LT_EDXML_MODE_STATUS)
		rd_status_leaf(r, key + 6);
	else
		rd_doc_leaf(r, key);
}

/* ---- the pass ---- */

static void rd_init_once(void)
{
	xmlInitParser();
}

/* libxml2's unstructured messages (encoding errors): the structured ones are reported. */
static void rd_quiet(void *ctx, const char *fmt, ...)
{
	(void)ctx;
	(void)fmt;
}

static int rd_run(struct rd *r)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	xmlSAXHandler sax;
	pthread_once(&once, rd_init_once);
	xmlSetGenericErrorFunc(NULL, rd_quiet); /* this thread's: lienthong has no other use */
	memset(&sax, 0, sizeof sax);
	sax.initialized = XML_SAX2_MAGIC;
	sax.startElementNs = rd_start;
	sax.endElementNs = rd_end;
	sax.characters = rd_chars;
	sax.cdataBlock = rd_chars;
	sax.internalSubset = rd_doctype;
	sax.externalSubset = rd_doctype;
	sax.entityDecl = rd_entity_decl;
	sax.reference = rd_reference;
	sax.serror = rd_xml_error;
	r->ctxt = xmlCreateIOParserCtxt(&sax, r, rd_read, rd_close, r, XML_CHAR_ENCODING_NONE);
	if (r->ctxt == NULL) {
		if (!r->failed)
			lt_err_set(r->err, LT_EIO, "%s: cannot start the XML parser (libxml2)",
			           r->what);
		return -1;
	}
	/* No XML_PARSE_NOENT, DTDLOAD, DTDATTR, HUGE: no entity is substituted, nothing loaded. */
	xmlCtxtUseOptions(r->ctxt, XML_PARSE_NONET | XML_PARSE_NOCDATA);
	r->ctxt->sax->serror = rd_xml_error;
	r->ctxt->userData = r;
	int rc = xmlParseDocument(r->ctxt);
	if (!r->failed && (rc != 0 || !r->ctxt->wellFormed)) {
		lt_err_set(r->err, LT_EINVAL, "%s line %ld: not well-formed XML: fix the XML",
		           r->what, rd_line(r));
		r->failed = 1;
	}
	if (!r->failed && r->elements == 0) {
		lt_err_set(r->err, LT_EINVAL, "%s: no XML element: this is not an edXML message",
		           r->what);
		r->failed = 1;
	}
	if (r->ctxt->myDoc != NULL) /* made by libxml2 for a refused DTD's declarations */
		xmlFreeDoc(r->ctxt->myDoc);
	xmlFreeParserCtxt(r->ctxt);
	r->ctxt = NULL;
	return r->failed ? -1 : 0;
}

static void rd_init(struct rd *r, int fd, const uint8_t *buf, size_t len, const char *what,
                    const struct lt_config *cfg, enum lt_edxml_mode mode, lt_err *err)
{
	memset(r, 0, sizeof *r);
	r->fd = fd;
	r->buf = buf;
	r->len = len;
	r->what = what != NULL ? what : "edXML";
	r->cfg = cfg;
	r->mode = mode;
	r->err = err;
	r->ps.fd = -1;
	r->max_input = (uint64_t)cfg->max_document_bytes / 2 * 3 + (16u << 20);
	lt_err_clear(err);
}

static void rd_done(struct rd *r)
{
	free(r->sig);
	free(r->out);
	free(r->number);
	free(r->notation);
	free(r->ps.orig_name);
	free(r->ps.orig_type);
	EVP_MD_CTX_free(r->ps.sha);
	EVP_ENCODE_CTX_free(r->ps.b64);
}

/* The header's own fields, checked once the whole message is read. */
static int rd_doc_finish(struct rd *r)
{
	struct lt_edxml_doc *d = r->doc;
	static const char *const type_name[] = {"new", "revoke", "update", "replace"};
	if (d->sender == NULL)
		return lt_err_set(r->err, LT_EINVAL,
		                  "%s: no From/OrganId: the MessageHeader must name the sending "
		                  "agency in From/OrganId",
		                  r->what);
	if (d->n_recipients == 0)
		return lt_err_set(r->err, LT_EINVAL,
		                  "%s: no To/OrganId: the MessageHeader must name at least one "
		                  "recipient agency in To/OrganId",
		                  r->what);
	if (d->subject == NULL && (d->subject = strdup("")) == NULL)
		return lt_err_set(r->err, LT_EIO, "out of memory");
	if (r->number != NULL && r->notation != NULL) {
		size_t n = strlen(r->number) + strlen(r->notation) + 2;
		d->document_number = malloc(n);
		if (d->document_number != NULL)
			snprintf(d->document_number, n, "%s/%s", r->number, r->notation);
	} else if (r->notation != NULL) {
		size_t n = strlen(r->notation) + 2;
		d->document_number = malloc(n);
		if (d->document_number != NULL)
			snprintf(d->document_number, n, "/%s", r->notation);
	} else {
		d->document_number = strdup(r->number != NULL ? r->number : "");
	}
	if (d->document_number == NULL)
		return lt_err_set(r->err, LT_EIO, "out of memory");
	d->document_id = rd_meta_get(d, "edxml.DocumentId");
	if (d->business_type != LIENTHONG__BUSINESS_TYPE__BUSINESS_NEW) {
		int t = (int)d->business_type;
		const char *c = NULL;
		if (t == 3)
			c = rd_meta_get(d, "edxml.Bussiness.ReplacementInfo.1.DocumentId");
		if (c == NULL || c[0] == '\0')
			c = rd_meta_get(d, "edxml.Bussiness.DocumentId");
		if (c == NULL || c[0] == '\0')
			return lt_err_set(
			    r->err, LT_EINVAL,
			    "%s: BussinessDocType %d (%s) names no document: put the edXML "
			    "DocumentId of the document it concerns into "
			    "TraceHeaderList/Bussiness/DocumentId",
			    r->what, t, type_name[t]);
		d->concerns = c;
		if ((t == 1 || t == 2) && d->n_parts > 0)
			return lt_err_set(
			    r->err, LT_EINVAL,
			    "%s: a %s (BussinessDocType %d) carries no attachments, this "
			    "one has %zu: remove them, or send a replacement (3)",
			    r->what, type_name[t], t, d->n_parts);
	}
	return 0;
}

static int rd_doc(struct rd *r, struct lt_edxml_doc *doc, lt_edxml_open_part_fn open_part,
                  void *arg)
{
	memset(doc, 0, sizeof *doc);
	r->doc = doc;
	r->open_part = open_part;
	r->open_arg = arg;
	r->out = malloc(RD_OUTBUF);
	int rc = -1;
	if (r->out == NULL)
		lt_err_set(r->err, LT_EIO, "out of memory");
	else if (rd_run(r) == 0)
		rc = rd_doc_finish(r);
	rd_done(r);
	if (rc != 0)
		lt_edxml_doc_free(doc);
	return rc;
}

int lt_edxml_read(int fd, const char *what, const struct lt_config *cfg,
                  lt_edxml_open_part_fn open_part, void *arg, struct lt_edxml_doc *doc, lt_err *err)
{
	struct rd *r = malloc(sizeof *r);
	if (r == NULL)
		return lt_err_set(err, LT_EIO, "out of memory");
	rd_init(r, fd, NULL, 0, what, cfg, LT_EDXML_MODE_DOC, err);
	int rc = rd_doc(r, doc, open_part, arg);
	free(r);
	return rc;
}

int lt_edxml_read_mem(const uint8_t *buf, size_t len, const char *what, const struct lt_config *cfg,
                      lt_edxml_open_part_fn open_part, void *arg, struct lt_edxml_doc *doc,
                      lt_err *err)
{
	static const uint8_t empty[1];
	struct rd *r = malloc(sizeof *r);
	if (r == NULL)
		return lt_err_set(err, LT_EIO, "out of memory");
	rd_init(r, -1, buf != NULL ? buf : empty, len, what, cfg, LT_EDXML_MODE_DOC, err);
	int rc = rd_doc(r, doc, open_part, arg);
	free(r);
	return rc;
}

void lt_edxml_doc_free(struct lt_edxml_doc *doc)
{
	free(doc->sender);
	for (size_t i = 0; i < doc->n_recipients; i++)
		free(doc->recipients[i]);
	free(doc->recipients);
	free(doc->subject);
	free(doc->document_number);
	for (size_t i = 0; i < doc->n_meta; i++) {
		free((char *)doc->meta[i].key);
		free((char *)doc->meta[i].value);
	}
	free(doc->meta);
	for (size_t i = 0; i < doc->n_parts; i++) {
		free(doc->parts[i].name);
		free(doc->parts[i].media_type);
	}
	free(doc->parts);
	memset(doc, 0, sizeof *doc);
}

void lt_edxml_envelope_in(const struct lt_edxml_doc *doc, struct lt_envelope_in *in)
{
	in->recipients = (const char *const *)doc->recipients;
	in->n_recipients = doc->n_recipients;
	in->subject = doc->subject;
	in->document_number = doc->document_number;
	in->business_type = doc->business_type;
	in->meta = doc->meta;
	in->n_meta = doc->n_meta;
}

/* ---- status messages ---- */

int lt_edxml_status_code_check(const char *code, lt_err *err)
{
	static const char *const codes[] = {"01", "02", "03", "04", "05", "06", "13", "15", "16"};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		if (code != NULL && strcmp(code, codes[i]) == 0)
			return 0;
	}
	return lt_err_set(err, LT_EINVAL,
	                  "StatusCode '%.20s' is not an edXML status code: use 01 to 06, 13, 15 "
	                  "or 16",
	                  code != NULL ? code : "");
}

static int rd_status(struct rd *r, struct lt_edxml_status *st)
{
	memset(st, 0, sizeof *st);
	r->status = st;
	int rc = rd_run(r);
	if (rc == 0) {
		if (st->from.organ_id == NULL)
			rc = lt_err_set(r->err, LT_EINVAL,
			                "%s: no From/OrganId: the status message must name the "
			                "reporting agency",
			                r->what);
		else if (lt_config_check_code(r->cfg, st->from.organ_id, r->err) != 0)
			rc = lt_err_wrap(r->err, "%s: From/OrganId", r->what);
		else if (st->code[0] == '\0')
			rc =
			    lt_err_set(r->err, LT_EINVAL,
			               "%s: no StatusCode: the status message must hold one (01 to "
			               "06, 13, 15 or 16)",
			               r->what);
		else if (st->rf_document_id == NULL && st->rf_organ_id == NULL)
			rc = lt_err_set(
			    r->err, LT_EINVAL,
			    "%s: no ResponseFor/DocumentId: the status message must name "
			    "the document it is about",
			    r->what);
	}
	rd_done(r);
	if (rc != 0)
		lt_edxml_status_free(st);
	return rc;
}

int lt_edxml_status_read(int fd, const char *what, const struct lt_config *cfg,
                         struct lt_edxml_status *st, lt_err *err)
{
	struct rd *r = malloc(sizeof *r);
	if (r == NULL)
		return lt_err_set(err, LT_EIO, "out of memory");
	rd_init(r, fd, NULL, 0, what, cfg, LT_EDXML_MODE_STATUS, err);
	int rc = rd_status(r, st);
	free(r);
	return rc;
}

int lt_edxml_status_read_mem(const uint8_t *buf, size_t len, const char *what,
                             const struct lt_config *cfg, struct lt_edxml_status *st, lt_err *err)
{
	static const uint8_t empty[1];
	struct rd *r = malloc(sizeof *r);
	if (r == NULL)
		return lt_err_set(err, LT_EIO, "out of memory");
	rd_init(r, -1, buf != NULL ? buf : empty, len, what, cfg, LT_EDXML_MODE_STATUS, err);
	int rc = rd_status(r, st);
	free(r);
	return rc;
}

void lt_edxml_status_free(struct lt_edxml_status *st)
{
	char **f[] = {&st->from.organ_id,
	              &st->from.organization_in_charge,
	              &st->from.organ_name,
	              &st->from.organ_add,
	              &st->from.email,
	              &st->from.telephone,
	              &st->from.fax,
	              &st->from.website,
	              &st->rf_organ_id,
	              &st->rf_code,
	              &st->rf_promulgation_date,
	              &st->rf_document_id,
	              &st->staff_department,
	              &st->staff,
	              &st->staff_email,
	              &st->staff_mobile,
	              &st->description,
	              &st->timestamp};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		free(*f[i]);
	memset(st, 0, sizeof *st);
}

char *lt_edxml_status_reported_by(const struct lt_edxml_status *st, char *out, size_t size)
{
	const char *parts[] = {st->staff, st->staff_department, st->staff_email, st->staff_mobile};
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < 4; i++) {
		const char *p = parts[i];
		if (p == NULL || p[0] == '\0')
			continue;
		size_t want = (n > 0 ? 2 : 0) + strlen(p);
		if (n + want >= size)
			want = size - 1 - n;
		char tmp[LT_META_VALUE_MAX + 3];
		snprintf(tmp, sizeof tmp, "%s%s", n > 0 ? ", " : "", p);
		size_t take = lt_text_utf8_cut(tmp, strlen(tmp), want);
		memcpy(out + n, tmp, take);
		n += take;
		out[n] = '\0';
		if (n + 1 >= size)
			break;
	}
	return out;
}

/* ---- checking a kept signature before it is written back ---- */

int lt_edxml_sig_check(const char *text, size_t len, lt_err *err)
{
	struct lt_config cfg;
	struct rd *r;
	int rc;
	if (len == 0 || text[0] != '<' || len < 2 || text[1] == '?' || text[1] == '!')
		return lt_err_set(err, LT_EINVAL,
		                  "the kept signature (edxml.Signature.N) is not one ds:Signature "
		                  "element");
	r = malloc(sizeof *r);
	if (r == NULL)
		return lt_err_set(err, LT_EIO, "out of memory");
	memset(&cfg, 0, sizeof cfg);
	cfg.max_document_bytes = LT_EDXML_SIGNATURE_MAX;
	rd_init(r, -1, (const uint8_t *)text, len, "edxml.Signature", &cfg, LT_EDXML_MODE_SIG, err);
	rc = rd_run(r);
	rd_done(r);
	free(r);
	return rc;
}
