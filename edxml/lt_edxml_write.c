/*
 * lt_edxml: writing edXML document and status messages (lt_edxml.h).
 *
 * The meta fields edxml.<path> are put back into a tree (numbered items,
 * their list elements restored), the header's own fields added, children
 * written in the standard's order, every text escaped; attachments are
 * base64-encoded as they are read. Output goes through one 64 KiB buffer.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../text/lt_text.h"
#include "lt_edxml.h"
#include "lt_edxml_int.h"

#define WR_BUF 65536
#define WR_IN 49152 /* bytes of a part read at a time (a multiple of 48: whole lines) */
#define WR_INDEX_MAX 100000

struct wr {
	int fd;
	uint8_t buf[WR_BUF];
	size_t n;
	lt_err *err;
	int failed;
};

/* A writer to fd, its failures into err; NULL (err set) without memory. */
static struct wr *wr_new(int fd, lt_err *err)
{
	struct wr *w = malloc(sizeof *w);
	if (w == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		return NULL;
	}
	w->fd = fd;
	w->n = 0;
	w->err = err;
	w->failed = 0;
	return w;
}

static void wr_flush(struct wr *w)
{
	size_t off = 0;
	while (off < w->n && !w->failed) {
		ssize_t k = write(w->fd, w->buf + off, w->n - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			lt_err_errno(w->err, errno, "cannot write the edXML message");
			w->failed = 1;
			return;
		}
		off += (size_t)k;
	}
	w->n = 0;
}

static void wr_put(struct wr *w, const void *p, size_t n)
{
	const uint8_t *s = p;
	while (n > 0 && !w->failed) {
		size_t room = WR_BUF - w->n, take = n < room ? n : room;
		memcpy(w->buf + w->n, s, take);
		w->n += take;
		s += take;
		n -= take;
		if (w->n == WR_BUF)
			wr_flush(w);
	}
}

static void wr_str(struct wr *w, const char *s)
{
	wr_put(w, s, strlen(s));
}

static void wr_esc(struct wr *w, const char *s)
{
	const char *from = s;
	for (; *s != '\0'; s++) {
		const char *e = NULL;
		switch (*s) {
		case '&':
			e = "&amp;";
			break;
		case '<':
			e = "&lt;";
			break;
		case '>':
			e = "&gt;";
			break;
		case '"':
			e = "&quot;";
			break;
		case '\r':
			e = "&#13;";
			break;
		default:
			continue;
		}
		wr_put(w, from, (size_t)(s - from));
		wr_str(w, e);
		from = s + 1;
	}
	wr_put(w, from, (size_t)(s - from));
}

/* 1 if s is UTF-8 made only of characters XML 1.0 can carry. */
static int wr_xml_ok(const char *s)
{
	size_t len = strlen(s);
	while (len > 0) {
		uint32_t cp;
		size_t k = lt_text_utf8_char(s, len, &cp);
		if (k == 0)
			return 0;
		if (!(cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
		      (cp >= 0xE000 && cp <= 0xFFFD) || cp >= 0x10000))
			return 0;
		s += k;
		len -= k;
	}
	return 1;
}

static void wr_open(struct wr *w, const char *name)
{
	wr_str(w, "<edXML:");
	wr_str(w, name);
	wr_str(w, ">");
}

static void wr_close(struct wr *w, const char *name)
{
	wr_str(w, "</edXML:");
	wr_str(w, name);
	wr_str(w, ">\n");
}

static void wr_field(struct wr *w, const char *name, const char *value)
{
	wr_open(w, name);
	wr_esc(w, value);
	wr_close(w, name);
}

/* ---- the tree of fields ---- */

struct wn {
	char name[LT_EDXML_NAME_MAX + 1];
	unsigned idx;
	const char *value; /* a field; NULL for a group */
	size_t part;       /* ContentTransferEncoded of part - 1 */
	int root;          /* MessageHeader, TraceHeaderList, edXMLManifest themselves */
	struct wn *kid;
	size_t n, cap;
};

static void wn_free(struct wn *n)
{
	for (size_t i = 0; i < n->n; i++)
		wn_free(&n->kid[i]);
	free(n->kid);
}

static struct wn *wn_child(struct wn *p, const char *name, size_t nlen, unsigned idx, int create)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->kid[i].idx == idx && strlen(p->kid[i].name) == nlen &&
		    memcmp(p->kid[i].name, name, nlen) == 0)
			return &p->kid[i];
	}
	if (!create)
		return NULL;
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 8;
		struct wn *k = realloc(p->kid, cap * sizeof *k);
		if (k == NULL)
			return NULL;
		p->kid = k;
		p->cap = cap;
	}
	struct wn *c = &p->kid[p->n++];
	memset(c, 0, sizeof *c);
	memcpy(c->name, name, nlen);
	c->name[nlen] = '\0';
	c->idx = idx;
	return c;
}

static const struct lt_edxml_rep *wr_rep(const char *item)
{
	for (size_t i = 0; i < LT_EDXML_NREP; i++) {
		if (strcmp(lt_edxml_reps[i].item, item) == 0)
			return &lt_edxml_reps[i];
	}
	return NULL;
}

static int wr_is_wrapper(const char *name)
{
	for (size_t i = 0; i < LT_EDXML_NREP; i++) {
		if (lt_edxml_reps[i].wrapper != NULL && strcmp(lt_edxml_reps[i].wrapper, name) == 0)
			return 1;
	}
	return 0;
}

/*
 * Puts path (segments "Name" or "Name.N" joined by '.') below root with
 * value. key names the meta field in messages.
 */
static int wn_insert(struct wn *root, const char *path, const char *value, const char *key,
                     lt_err *err)
{
	struct wn *p = root;
	const char *s = path;
	while (*s != '\0') {
		size_t nlen = strcspn(s, ".");
		unsigned idx = 0;
		const char *next = s + nlen;
		char name[LT_EDXML_NAME_MAX + 1];
		if (nlen == 0 || nlen > LT_EDXML_NAME_MAX)
			return lt_err_set(err, LT_EINVAL,
			                  "meta field %s: an empty or too long name", key);
		memcpy(name, s, nlen);
		name[nlen] = '\0';
		if (!((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z') ||
		      name[0] == '_') ||
		    strspn(name,
		           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
		        nlen)
			return lt_err_set(
			    err, LT_EINVAL,
			    "meta field %s: '%s' is not an element name or a number in "
			    "the right place",
			    key, name);
		if (*next == '.' && next[1] >= '0' && next[1] <= '9') {
			char *end;
			unsigned long v = strtoul(next + 1, &end, 10);
			if (next[1] == '0' || v == 0 || v > WR_INDEX_MAX ||
			    (*end != '.' && *end != '\0'))
				return lt_err_set(err, LT_EINVAL,
				                  "meta field %s: bad number after %s", key, name);
			idx = (unsigned)v;
			next = end;
		}
		const struct lt_edxml_rep *rep = wr_rep(name);
		if (idx > 0 && rep == NULL)
			return lt_err_set(err, LT_EINVAL,
			                  "meta field %s: %s does not repeat in edXML, it takes no "
			                  "number",
			                  key, name);
		if (rep != NULL && rep->wrapper == NULL &&
		    (p->root && strcmp(p->name, rep->parent) == 0) != (idx > 0))
			return lt_err_set(
			    err, LT_EINVAL,
			    "meta field %s: %s is numbered exactly when it is directly in "
			    "%s",
			    key, name, rep->parent);
		if (wr_is_wrapper(name) && *next != '\0')
			return lt_err_set(err, LT_EINVAL,
			                  "meta field %s: %s is a list: name its items with their "
			                  "numbers instead",
			                  key, name);
		if (p->value != NULL)
			return lt_err_set(err, LT_EINVAL,
			                  "meta field %s: %s is a field and a group at once", key,
			                  p->name);
		p = wn_child(p, name, nlen, idx, 1);
		if (p == NULL)
			return lt_err_set(err, LT_EIO, "out of memory");
		s = *next == '.' ? next + 1 : next;
		if (*next == '.' && *s == '\0')
			return lt_err_set(err, LT_EINVAL, "meta field %s ends with '.'", key);
	}
	if (p->value != NULL || p->n > 0)
		return lt_err_set(err, LT_EINVAL, "meta field %s: given twice, or also a group",
		                  key);
	p->value = value;
	return 0;
}

/*
 * The children of an organ (From, To), in the standard's order: ranks the
 * meta fields of a document's From and To, and writes a status message's From.
 */
static const struct wr_organ_field {
	const char *name;
	size_t off; /* of its value in struct lt_edxml_organ */
} wr_organ_fields[] = {
    {"OrganId", offsetof(struct lt_edxml_organ, organ_id)},
    {"OrganizationInCharge", offsetof(struct lt_edxml_organ, organization_in_charge)},
    {"OrganName", offsetof(struct lt_edxml_organ, organ_name)},
    {"OrganAdd", offsetof(struct lt_edxml_organ, organ_add)},
    {"Email", offsetof(struct lt_edxml_organ, email)},
    {"Telephone", offsetof(struct lt_edxml_organ, telephone)},
    {"Fax", offsetof(struct lt_edxml_organ, fax)},
    {"Website", offsetof(struct lt_edxml_organ, website)},
};
#define WR_ORGAN_FIELDS (sizeof wr_organ_fields / sizeof wr_organ_fields[0])

static const char *wr_organ_value(const struct lt_edxml_organ *o, size_t i)
{
	return *(char *const *)((const char *)o + wr_organ_fields[i].off);
}

/* The standard's order of children, by the parent's name; others follow as given. */
static int wn_rank(const char *parent, const char *name)
{
	static const char *const mh[] = {"From",
	                                 "To",
	                                 "DocumentId",
	                                 "Code",
	                                 "PromulgationInfo",
	                                 "DocumentType",
	                                 "Subject",
	                                 "Content",
	                                 "SignerInfo",
	                                 "DueDate",
	                                 "Place",
	                                 "ToPlaces",
	                                 "OtherInfo",
	                                 "SteeringType",
	                                 "ResponseFor",
	                                 NULL};
	static const char *const code[] = {"CodeNumber", "CodeNotation", NULL};
	static const char *const th[] = {"TraceHeader", "Bussiness", NULL};
	static const char *const bus[] = {"DocumentId", "BussinessDocType", "BussinessDocReason",
	                                  "Paper",      "StaffInfo",        "ReplacementInfo",
	                                  NULL};
	static const char *const att[] = {"ContentId",   "AttachmentName",         "Description",
	                                  "ContentType", "ContentTransferEncoded", NULL};
	const char *const *t = NULL;
	if (strcmp(parent, "MessageHeader") == 0)
		t = mh;
	else if (strcmp(parent, "From") == 0 || strcmp(parent, "To") == 0) {
		for (size_t i = 0; i < WR_ORGAN_FIELDS; i++) {
			if (strcmp(wr_organ_fields[i].name, name) == 0)
				return (int)i;
		}
	} else if (strcmp(parent, "Code") == 0)
		t = code;
	else if (strcmp(parent, "TraceHeaderList") == 0)
		t = th;
	else if (strcmp(parent, "Bussiness") == 0)
		t = bus;
	else if (strcmp(parent, "Attachment") == 0 || strcmp(parent, "Reference") == 0)
		t = att;
	if (t != NULL) {
		for (int i = 0; t[i] != NULL; i++) {
			if (strcmp(t[i], name) == 0)
				return i;
		}
	}
	return 1000;
}

static void wn_sort(struct wn *p)
{
	for (size_t i = 1; i < p->n; i++) {
		struct wn tmp = p->kid[i];
		int rt = wn_rank(p->name, tmp.name);
		size_t j = i;
		while (j > 0) {
			int rj = wn_rank(p->name, p->kid[j - 1].name);
			if (rj < rt || (rj == rt && (strcmp(p->kid[j - 1].name, tmp.name) != 0 ||
			                             p->kid[j - 1].idx <= tmp.idx)))
				break;
			p->kid[j] = p->kid[j - 1];
			j--;
		}
		p->kid[j] = tmp;
	}
}

struct wr_parts {
	const struct lt_edxml_part_src *parts;
	size_t n;
};

static void wr_part_data(struct wr *w, const struct lt_edxml_part_src *p, size_t i);

/* Writes the children of p (p's own tags are the caller's). */
static void wn_emit_kids(struct wr *w, struct wn *p, const struct wr_parts *parts)
{
	wn_sort(p);
	for (size_t i = 0; i < p->n && !w->failed; i++) {
		struct wn *k = &p->kid[i];
		const struct lt_edxml_rep *rep = k->idx > 0 ? wr_rep(k->name) : NULL;
		const char *wrapper = rep != NULL ? rep->wrapper : NULL;
		int first =
		    i == 0 || strcmp(p->kid[i - 1].name, k->name) != 0 || p->kid[i - 1].idx == 0;
		int last = i + 1 == p->n || strcmp(p->kid[i + 1].name, k->name) != 0 ||
		           p->kid[i + 1].idx == 0;
		if (wrapper != NULL && first)
			wr_open(w, wrapper), wr_str(w, "\n");
		if (k->part > 0) {
			wr_open(w, k->name);
			wr_str(w, "\n");
			wr_part_data(w, &parts->parts[k->part - 1], k->part - 1);
			wr_close(w, k->name);
		} else if (k->value != NULL) {
			wr_field(w, k->name, k->value);
		} else {
			wr_open(w, k->name);
			wr_str(w, "\n");
			wn_emit_kids(w, k, parts);
			wr_close(w, k->name);
		}
		if (wrapper != NULL && last)
			wr_close(w, wrapper);
	}
}

/* A part's bytes as base64 lines, read and encoded a block at a time. */
static void wr_part_data(struct wr *w, const struct lt_edxml_part_src *p, size_t i)
{
	EVP_ENCODE_CTX *b64 = EVP_ENCODE_CTX_new();
	uint8_t *in = malloc(WR_IN), *out = malloc(WR_IN / 48 * 65 + 80);
	size_t off = 0;
	int outl;
	if (b64 == NULL || in == NULL || out == NULL) {
		lt_err_set(w->err, LT_EIO, "out of memory");
		w->failed = 1;
		goto out;
	}
	EVP_EncodeInit(b64);
	for (;;) {
		const uint8_t *src;
		size_t n;
		if (p->data != NULL) {
			n = p->len - off < WR_IN ? p->len - off : WR_IN;
			src = p->data + off;
			off += n;
		} else {
			ssize_t k;
			do
				k = read(p->fd, in, WR_IN);
			while (k < 0 && errno == EINTR);
			if (k < 0) {
				lt_err_errno(w->err, errno, "cannot read part %zu ('%s')", i + 1,
				             p->name);
				w->failed = 1;
				goto out;
			}
			n = (size_t)k;
			src = in;
		}
		if (n == 0)
			break;
		if (EVP_EncodeUpdate(b64, out, &outl, src, (int)n) != 1) {
			lt_err_ssl(w->err, LT_EIO, "base64 of part %zu failed", i + 1);
			w->failed = 1;
			goto out;
		}
		wr_put(w, out, (size_t)outl);
		if (w->failed)
			goto out;
	}
	EVP_EncodeFinal(b64, out, &outl);
	wr_put(w, out, (size_t)outl);
out:
	EVP_ENCODE_CTX_free(b64);
	free(in);
	free(out);
}

/* ---- the document message ---- */

struct wr_doc {
	struct wn mh, th, manifest;
	struct wn *att; /* one per part, named Attachment */
	const char *sig[LT_EDXML_SIGNATURE_MAX / LT_META_VALUE_MAX];
	char code_number[260];
	char type[2];
};

/* Where a meta field goes; refuses what the scheme cannot write back. */
static int wr_route(struct wr_doc *d, const Lienthong__Header *h, const char *key,
                    const char *value, size_t n_parts, lt_err *err)
{
	const char *rel = key + 6;
	unsigned idx;
	int end = 0;
	if (!wr_xml_ok(value))
		return lt_err_set(err, LT_EINVAL,
		                  "meta field %s holds a character XML 1.0 cannot carry (a control "
		                  "character or invalid UTF-8)",
		                  key);
	if (strcmp(rel, "From.OrganId") == 0 || strcmp(rel, "Subject") == 0 ||
	    strcmp(rel, "Code.CodeNumber") == 0 || strcmp(rel, "Code.CodeNotation") == 0 ||
	    strcmp(rel, "Bussiness.BussinessDocType") == 0 ||
	    (sscanf(rel, "To.%u.OrganId%n", &idx, &end) == 1 && rel[end] == '\0'))
		return lt_err_set(
		    err, LT_EINVAL,
		    "meta field %s repeats a field of the header (sender, recipients, "
		    "subject, document number or business type): remove it",
		    key);
	end = 0;
	if (sscanf(rel, "To.%u%n", &idx, &end) == 1 && (rel[end] == '.' || rel[end] == '\0') &&
	    (idx == 0 || idx > h->n_recipients))
		return lt_err_set(err, LT_EINVAL,
		                  "meta field %s names To %u, but the header has %zu recipients",
		                  key, idx, h->n_recipients);
	end = 0;
	if (sscanf(rel, "Signature.%u%n", &idx, &end) == 1 && rel[end] == '\0') {
		if (idx == 0 || idx > sizeof d->sig / sizeof d->sig[0] || d->sig[idx - 1] != NULL)
			return lt_err_set(err, LT_EINVAL, "meta field %s: no such signature piece",
			                  key);
		d->sig[idx - 1] = value;
		return 0;
	}
	end = 0;
	if (sscanf(rel, "Attachment.%u.%n", &idx, &end) == 1 && end > 0) {
		if (idx == 0 || idx > n_parts)
			return lt_err_set(
			    err, LT_EINVAL,
			    "meta field %s names attachment %u, but there are %zu parts", key, idx,
			    n_parts);
		if (strcmp(rel + end, "ContentTransferEncoded") == 0)
			return lt_err_set(err, LT_EINVAL,
			                  "meta field %s: the content comes from the part", key);
		return wn_insert(&d->att[idx - 1], rel + end, value, key, err);
	}
	if (strncmp(rel, "Signature", 9) == 0 || strncmp(rel, "Attachment", 10) == 0)
		return lt_err_set(err, LT_EINVAL, "meta field %s does not fit the edXML scheme",
		                  key);
	if (strncmp(rel, "Reference.", 10) == 0)
		return wn_insert(&d->manifest, rel, value, key, err);
	if (strncmp(rel, "TraceHeader.", 12) == 0 || strncmp(rel, "Bussiness.", 10) == 0 ||
	    strcmp(rel, "Bussiness") == 0)
		return wn_insert(&d->th, rel, value, key, err);
	return wn_insert(&d->mh, rel, value, key, err);
}

/* The header's own fields, as the reader takes them out. */
static int wr_header_fields(struct wr_doc *d, const Lienthong__Header *h, lt_err *err)
{
	char path[64];
	const char *num = h->document_number != NULL ? h->document_number : "";
	if (wn_insert(&d->mh, "From.OrganId", h->sender, "sender", err) != 0)
		return -1;
	for (size_t i = 0; i < h->n_recipients; i++) {
		snprintf(path, sizeof path, "To.%zu.OrganId", i + 1);
		if (wn_insert(&d->mh, path, h->recipients[i], "recipients", err) != 0)
			return -1;
	}
	if (num[0] != '\0') {
		const char *slash = strchr(num, '/');
		if (strlen(num) >= sizeof d->code_number)
			return lt_err_set(err, LT_EINVAL, "document number is too long");
		snprintf(d->code_number, sizeof d->code_number, "%.*s",
		         (int)(slash != NULL ? (size_t)(slash - num) : strlen(num)), num);
		if (wn_insert(&d->mh, "Code.CodeNumber", d->code_number, "document number", err) !=
		        0 ||
		    (slash != NULL && wn_insert(&d->mh, "Code.CodeNotation", slash + 1,
		                                "document number", err) != 0))
			return -1;
	}
	if (h->subject != NULL && h->subject[0] != '\0' &&
	    wn_insert(&d->mh, "Subject", h->subject, "subject", err) != 0)
		return -1;
	if ((int)h->business_type < 0 || (int)h->business_type > 3)
		return lt_err_set(err, LT_EINVAL, "business type %d is not 0 to 3",
		                  (int)h->business_type);
	d->type[0] = (char)('0' + (int)h->business_type);
	return 0;
}

/*
 * BussinessDocType, where the reader finds it: always for types 1..3; for
 * a new document only inside a Bussiness element that was kept.
 */
static int wr_business_type(struct wr_doc *d, const Lienthong__Header *h, lt_err *err)
{
	struct wn *bus = wn_child(&d->th, "Bussiness", 9, 0, 0);
	if (h->business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_NEW &&
	    (bus == NULL || bus->value != NULL))
		return 0;
	return wn_insert(&d->th, "Bussiness.BussinessDocType", d->type, "business type", err);
}

/* For types 1..3, the document concerned must be named as the reader needs it. */
static int wr_concerns(struct wr_doc *d, const Lienthong__Header *h, lt_err *err)
{
	struct wn *bus = wn_child(&d->th, "Bussiness", 9, 0, 0);
	struct wn *c = bus != NULL ? wn_child(bus, "DocumentId", 10, 0, 0) : NULL;
	if (h->business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_NEW)
		return 0;
	if (c != NULL && c->value != NULL && c->value[0] != '\0')
		return 0;
	if (h->business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_REPLACE && bus != NULL) {
		struct wn *ri = wn_child(bus, "ReplacementInfo", 15, 1, 0);
		c = ri != NULL ? wn_child(ri, "DocumentId", 10, 0, 0) : NULL;
		if (c != NULL && c->value != NULL && c->value[0] != '\0')
			return 0;
	}
	return lt_err_set(err, LT_EINVAL,
	                  "business type %d needs the edXML DocumentId of the document it "
	                  "concerns: add the meta field edxml.Bussiness.DocumentId (looked up "
	                  "from replaces_id %s)",
	                  (int)h->business_type, h->replaces_id != NULL ? h->replaces_id : "");
}

static int wr_check_header(const Lienthong__Header *h, lt_err *err)
{
	const char *texts[] = {h->sender, h->subject, h->document_number};
	if (h->sender == NULL || h->sender[0] == '\0' || h->n_recipients == 0)
		return lt_err_set(err, LT_EINVAL,
		                  "an edXML message needs a sender and a recipient");
	for (size_t i = 0; i < 3; i++) {
		if (texts[i] != NULL && !wr_xml_ok(texts[i]))
			return lt_err_set(err, LT_EINVAL,
			                  "the header holds a character XML 1.0 cannot carry");
	}
	for (size_t i = 0; i < h->n_recipients; i++) {
		if (!wr_xml_ok(h->recipients[i]))
			return lt_err_set(err, LT_EINVAL,
			                  "recipient %zu holds a character XML 1.0 cannot carry",
			                  i + 1);
	}
	return 0;
}

int lt_edxml_write(int out_fd, const Lienthong__Header *h, const struct lt_edxml_part_src *parts,
                   size_t n_parts, lt_err *err)
{
	struct wr_doc d;
	struct wr *w = NULL;
	struct wr_parts wp = {parts, n_parts};
	char *sig = NULL;
	size_t sig_len = 0;
	int rc = -1;
	memset(&d, 0, sizeof d);
	snprintf(d.mh.name, sizeof d.mh.name, "MessageHeader");
	snprintf(d.th.name, sizeof d.th.name, "TraceHeaderList");
	snprintf(d.manifest.name, sizeof d.manifest.name, "edXMLManifest");
	d.mh.root = d.th.root = d.manifest.root = 1;
	if (wr_check_header(h, err) != 0)
		return -1;
	d.att = calloc(n_parts ? n_parts : 1, sizeof *d.att);
	if (d.att == NULL)
		return lt_err_set(err, LT_EIO, "out of memory");
	if (wr_header_fields(&d, h, err) != 0)
		goto out;
	for (size_t i = 0; i < n_parts; i++)
		snprintf(d.att[i].name, sizeof d.att[i].name, "Attachment");
	for (size_t i = 0; i < h->n_meta; i++) {
		const char *k = h->meta[i]->key;
		if (strncmp(k, "edxml.", 6) != 0)
			continue;
		if (wr_route(&d, h, k, h->meta[i]->value, n_parts, err) != 0)
			goto out;
	}
	if (wr_business_type(&d, h, err) != 0 || wr_concerns(&d, h, err) != 0)
		goto out;
	/* parts: name, type (the kept originals win), content */
	for (size_t i = 0; i < n_parts; i++) {
		struct wn *a = &d.att[i], *c;
		if (!wr_xml_ok(parts[i].name) || !wr_xml_ok(parts[i].media_type)) {
			lt_err_set(err, LT_EINVAL, "part %zu: a name or type XML 1.0 cannot carry",
			           i + 1);
			goto out;
		}
		if (wn_child(a, "AttachmentName", 14, 0, 0) == NULL &&
		    wn_insert(a, "AttachmentName", parts[i].name, "part name", err) != 0)
			goto out;
		if (wn_child(a, "ContentType", 11, 0, 0) == NULL &&
		    wn_insert(a, "ContentType", parts[i].media_type, "media type", err) != 0)
			goto out;
		c = wn_child(a, "ContentTransferEncoded", 22, 0, 1);
		if (c == NULL) {
			lt_err_set(err, LT_EIO, "out of memory");
			goto out;
		}
		c->part = i + 1;
	}
	/* a kept original that was absent ("") stays absent */
	for (size_t i = 0; i < n_parts; i++) {
		for (size_t j = 0; j < d.att[i].n; j++) {
			struct wn *k = &d.att[i].kid[j];
			if (k->value != NULL && k->value[0] == '\0' &&
			    (strcmp(k->name, "AttachmentName") == 0 ||
			     strcmp(k->name, "ContentType") == 0)) {
				wn_free(k);
				memmove(k, k + 1, (d.att[i].n - j - 1) * sizeof *k);
				d.att[i].n--;
				j--;
			}
		}
	}
	/* a manifest of the parts when none was kept */
	if (d.manifest.n == 0) {
		for (size_t i = 0; i < n_parts; i++) {
			char path[64];
			snprintf(path, sizeof path, "Reference.%zu.AttachmentName", i + 1);
			if (wn_insert(&d.manifest, path, parts[i].name, "manifest", err) != 0)
				goto out;
			snprintf(path, sizeof path, "Reference.%zu.ContentType", i + 1);
			if (wn_insert(&d.manifest, path, parts[i].media_type, "manifest", err) != 0)
				goto out;
		}
	}
	/* the kept signature, checked to be one element */
	for (size_t i = 0; i < sizeof d.sig / sizeof d.sig[0]; i++) {
		if (d.sig[i] == NULL)
			break;
		sig_len += strlen(d.sig[i]);
	}
	if (sig_len > 0) {
		sig = malloc(sig_len + 1);
		if (sig == NULL) {
			lt_err_set(err, LT_EIO, "out of memory");
			goto out;
		}
		sig[0] = '\0';
		for (size_t i = 0; i < sizeof d.sig / sizeof d.sig[0] && d.sig[i] != NULL; i++)
			strcat(sig, d.sig[i]);
		for (size_t i = 0; i < sizeof d.sig / sizeof d.sig[0]; i++) {
			if (d.sig[i] == NULL && i + 1 < sizeof d.sig / sizeof d.sig[0] &&
			    d.sig[i + 1] != NULL) {
				lt_err_set(err, LT_EINVAL, "edxml.Signature.%zu is missing", i + 1);
				goto out;
			}
		}
		if (lt_edxml_sig_check(sig, sig_len, err) != 0)
			goto out;
	}
	if ((w = wr_new(out_fd, err)) == NULL)
		goto out;
	wr_str(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	          "<edXML:edXML xmlns:edXML=\"" LT_EDXML_NS "\">\n"
	          "<edXML:edXMLEnvelope>\n<edXML:edXMLHeader>\n<edXML:MessageHeader>\n");
	wn_emit_kids(w, &d.mh, &wp);
	wr_str(w, "</edXML:MessageHeader>\n<edXML:TraceHeaderList>\n");
	wn_emit_kids(w, &d.th, &wp);
	wr_str(w, "</edXML:TraceHeaderList>\n");
	if (sig != NULL) {
		wr_put(w, sig, sig_len);
		wr_str(w, "\n");
	}
	wr_str(w, "</edXML:edXMLHeader>\n");
	if (d.manifest.n > 0) {
		wr_str(w, "<edXML:edXMLBody>\n<edXML:edXMLManifest>\n");
		wn_emit_kids(w, &d.manifest, &wp);
		wr_str(w, "</edXML:edXMLManifest>\n</edXML:edXMLBody>\n");
	}
	wr_str(w, "</edXML:edXMLEnvelope>\n");
	if (n_parts > 0) {
		wr_str(w, "<edXML:AttachmentEncoded>\n");
		for (size_t i = 0; i < n_parts && !w->failed; i++) {
			wr_str(w, "<edXML:Attachment>\n");
			wn_emit_kids(w, &d.att[i], &wp);
			wr_str(w, "</edXML:Attachment>\n");
		}
		wr_str(w, "</edXML:AttachmentEncoded>\n");
	}
	wr_str(w, "</edXML:edXML>\n");
	wr_flush(w);
	rc = w->failed ? -1 : 0;
out:
	free(w);
	free(sig);
	wn_free(&d.mh);
	wn_free(&d.th);
	wn_free(&d.manifest);
	for (size_t i = 0; i < n_parts; i++)
		wn_free(&d.att[i]);
	free(d.att);
	return rc;
}

/* ---- status messages ---- */

static void wr_opt(struct wr *w, const char *name, const char *value)
{
	if (value != NULL)
		wr_field(w, name, value);
}

int lt_edxml_status_write(int out_fd, const struct lt_edxml_status *st, lt_err *err)
{
	const struct lt_edxml_organ *f = &st->from;
	const char *all[] = {st->rf_organ_id,    st->rf_code,          st->rf_promulgation_date,
	                     st->rf_document_id, st->staff_department, st->staff,
	                     st->staff_email,    st->staff_mobile,     st->description,
	                     st->timestamp};
	struct wr *w;
	int rc;
	if (f->organ_id == NULL || f->organ_id[0] == '\0')
		return lt_err_set(err, LT_EINVAL, "a status message needs From/OrganId");
	if (lt_edxml_status_code_check(st->code, err) != 0)
		return -1;
	if (st->rf_document_id == NULL && st->rf_organ_id == NULL)
		return lt_err_set(
		    err, LT_EINVAL,
		    "a status message needs ResponseFor/DocumentId (the document it is "
		    "about)");
	for (size_t i = 0; i < WR_ORGAN_FIELDS + sizeof all / sizeof all[0]; i++) {
		const char *v =
		    i < WR_ORGAN_FIELDS ? wr_organ_value(f, i) : all[i - WR_ORGAN_FIELDS];
		if (v != NULL && (!wr_xml_ok(v) || strlen(v) > LT_META_VALUE_MAX))
			return lt_err_set(
			    err, LT_EINVAL,
			    "a status field holds a character XML 1.0 cannot carry or more "
			    "than %d bytes",
			    LT_META_VALUE_MAX);
	}
	if ((w = wr_new(out_fd, err)) == NULL)
		return -1;
	wr_str(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	          "<edXML:Status xmlns:edXML=\"" LT_EDXML_NS "\">\n"
	          "<edXML:Header>\n<edXML:MessageStatus>\n<edXML:From>\n");
	for (size_t i = 0; i < WR_ORGAN_FIELDS; i++)
		wr_opt(w, wr_organ_fields[i].name, wr_organ_value(f, i));
	wr_str(w, "</edXML:From>\n<edXML:ResponseFor>\n");
	wr_opt(w, "OrganId", st->rf_organ_id);
	wr_opt(w, "Code", st->rf_code);
	wr_opt(w, "PromulgationDate", st->rf_promulgation_date);
	wr_opt(w, "DocumentId", st->rf_document_id);
	wr_str(w, "</edXML:ResponseFor>\n");
	if (st->staff_department != NULL || st->staff != NULL || st->staff_email != NULL ||
	    st->staff_mobile != NULL) {
		wr_str(w, "<edXML:StaffInfo>\n");
		wr_opt(w, "Department", st->staff_department);
		wr_opt(w, "Staff", st->staff);
		wr_opt(w, "Email", st->staff_email);
		wr_opt(w, "Mobile", st->staff_mobile);
		wr_str(w, "</edXML:StaffInfo>\n");
	}
	wr_field(w, "StatusCode", st->code);
	wr_opt(w, "Description", st->description);
	wr_opt(w, "Timestamp", st->timestamp);
	wr_str(w, "</edXML:MessageStatus>\n</edXML:Header>\n</edXML:Status>\n");
	wr_flush(w);
	rc = w->failed ? -1 : 0;
	free(w);
	return rc;
}

char *lt_edxml_timestamp(int64_t ms, char out[20])
{
	time_t t = (time_t)(ms / 1000) + 7 * 3600;
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || strftime(out, 20, "%Y/%m/%d %H:%M:%S", &tm) == 0)
		snprintf(out, 20, "1970/01/01 07:00:00");
	return out;
}
