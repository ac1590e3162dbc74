/*
 * lt_edxml: edXML (QCVN 102:2016, namespace http://www.mic.gov.vn/TBT/QCVN_102_2016),
 * the exchange format of agencies' document-management systems, read into
 * what a lienthong envelope holds and written back from it.
 *
 * Document messages (root edXML): lt_edxml_read turns the MessageHeader
 * and TraceHeaderList into the header's own fields (sender, recipients,
 * subject, document number, business type) and every other field into
 * signed meta fields named edxml.<path> (README, "edXML", gives the scheme);
 * each AttachmentEncoded/Attachment becomes a part whose base64 is decoded
 * chunk by chunk into a file descriptor the caller hands out, with its size
 * and SHA-256 computed on the way: an attachment is never held whole.
 * lt_edxml_write is the inverse: read(write(x)) gives the same fields,
 * meta fields and attachment bytes.
 *
 * Status messages (root Status): lt_edxml_status_read and _write, for the
 * business receipts (code, comment = Description, reported_by = StaffInfo).
 *
 * What it trusts: nothing in the input. Parsing is libxml2's SAX2 push
 * parser, fed 64 KiB at a time: a DOCTYPE is refused (so no entity is ever
 * declared or expanded, no DTD or external entity loaded), no network, the
 * namespace checked, and everything bounded: the input (3/2 of
 * max_document_bytes plus 16 MiB), nesting (LT_EDXML_DEPTH_MAX), elements
 * (LT_EDXML_ELEMENTS_MAX), every field (LT_META_VALUE_MAX bytes, tighter
 * for codes and the subject), recipients (LT_RECIPIENTS_MAX), attachments
 * (max_parts), decoded bytes (max_document_bytes), meta fields (the
 * LT_META_* bounds). Errors say what, where (line) and what to do.
 *
 * The XML digital signature of a document message is kept (as meta fields
 * edxml.Signature.N, written back as it came) but not verified: lienthong
 * signs the envelope with its own signature.
 *
 * Ownership: results are malloc'd and freed with lt_edxml_doc_free or
 * lt_edxml_status_free; the file descriptors given by the open_part
 * callback and to the writers stay the caller's (never closed here).
 * Thread-safe (no global state; libxml2 is initialized once, thread-safely).
 */
#ifndef LT_EDXML_H
#define LT_EDXML_H

#include <stddef.h>
#include <stdint.h>

#include "../config/lt_config.h"
#include "../errors/lt_err.h"
#include "../proto/lt_envelope.h"

#define LT_EDXML_NS "http://www.mic.gov.vn/TBT/QCVN_102_2016"
#define LT_EDXML_DEPTH_MAX 24
#define LT_EDXML_ELEMENTS_MAX 20000
#define LT_EDXML_SIGNATURE_MAX (4 * LT_META_VALUE_MAX) /* edxml.Signature.1..4 */

/* An attachment read: a part of the envelope to build. */
struct lt_edxml_part {
	char *name;       /* AttachmentName made a valid, unique part name */
	char *media_type; /* ContentType, or application/octet-stream */
	uint64_t size;    /* decoded bytes written to the part's descriptor */
	uint8_t sha256[LT_DIGEST_LEN];
};

/* A document message read. */
struct lt_edxml_doc {
	char *sender;      /* From/OrganId */
	char **recipients; /* To/OrganId, in order, no repeats */
	size_t n_recipients;
	char *subject;         /* Subject ("" when absent) */
	char *document_number; /* CodeNumber "/" CodeNotation, CodeNumber alone, or "" */
	Lienthong__BusinessType business_type; /* TraceHeaderList/Bussiness/BussinessDocType */
	/*
	 * For business types 1..3: the edXML DocumentId ("OrganId,yyyy/mm/dd,
	 * Number/Notation") of the document concerned: the first
	 * ReplacementInfo/DocumentId for a replacement when there is one, else
	 * Bussiness/DocumentId. The caller looks it up among the documents it
	 * knows (meta edxml.DocumentId of documents sent and received) to fill
	 * the envelope's replaces_id (a lienthong UUID). NULL for type 0.
	 */
	const char *concerns;
	const char *document_id; /* MessageHeader/DocumentId, or NULL */
	struct lt_meta_in *meta; /* every other field; strings owned here */
	size_t n_meta;
	struct lt_edxml_part *parts; /* in the order of the message */
	size_t n_parts;
};

/*
 * Asked for the descriptor to write attachment index (from 0) into, when
 * its bytes begin (or at its end if it has none), in order. Name the file
 * by the index: the part's name is known only once the attachment is read
 * (lt_edxml_doc.parts). Returns a descriptor open for writing (the caller
 * keeps it and closes it), or -1 with err filled, which stops the reading.
 */
typedef int (*lt_edxml_open_part_fn)(void *arg, size_t index, lt_err *err);

/*
 * Reads a document message from fd (to its end), or from buf[0..len).
 * what names the input in messages (a file name). The agency codes are
 * checked with cfg's agency_code_pattern; cfg also gives max_parts and
 * max_document_bytes. On error *doc is left empty (nothing to free) and the
 * descriptors handed out may hold partial bytes: the caller discards them.
 */
int lt_edxml_read(int fd, const char *what, const struct lt_config *cfg,
                  lt_edxml_open_part_fn open_part, void *arg, struct lt_edxml_doc *doc,
                  lt_err *err);
int lt_edxml_read_mem(const uint8_t *buf, size_t len, const char *what, const struct lt_config *cfg,
                      lt_edxml_open_part_fn open_part, void *arg, struct lt_edxml_doc *doc,
                      lt_err *err);
void lt_edxml_doc_free(struct lt_edxml_doc *doc);

/*
 * Fills what the envelope takes from the message: recipients, subject,
 * document number, business type and meta (pointing into doc, which must
 * outlive in). The caller sets document_id, created_at_ms, replaces_id (for
 * types 1..3, resolved from doc->concerns) and the parts (from the files).
 */
void lt_edxml_envelope_in(const struct lt_edxml_doc *doc, struct lt_envelope_in *in);

/* A part to write: from data[0..len), or when data is NULL from fd (to its end). */
struct lt_edxml_part_src {
	const char *name;
	const char *media_type;
	const uint8_t *data;
	size_t len;
	int fd;
};

/*
 * Writes a document message for header h (sender, recipients, subject,
 * document number, business type, and the meta fields edxml.*; other meta
 * fields are not edXML's and are left out) with the given parts (in order:
 * part i is Attachment i+1) to out_fd, base64 streamed from each part.
 * Refused (LT_EINVAL, nothing useful written): a meta key that does not fit
 * the scheme or repeats a header field, a value XML 1.0 cannot carry, a
 * business type 1..3 without edxml.Bussiness.DocumentId (the edXML
 * DocumentId of the document concerned: the caller adds it, looked up from
 * replaces_id, when the document did not come from edXML), a kept
 * signature that is not one well-formed ds:Signature element.
 */
int lt_edxml_write(int out_fd, const Lienthong__Header *h, const struct lt_edxml_part_src *parts,
                   size_t n_parts, lt_err *err);

/* The organization fields of From (and of To) in a status message. */
struct lt_edxml_organ {
	char *organ_id;
	char *organization_in_charge;
	char *organ_name;
	char *organ_add;
	char *email;
	char *telephone;
	char *fax;
	char *website;
};

/*
 * A status message: Status/Header/MessageStatus with From, ResponseFor,
 * StaffInfo, StatusCode, Description, Timestamp. Absent fields are NULL.
 */
struct lt_edxml_status {
	struct lt_edxml_organ from; /* organ_id required: the agency reporting */
	char *rf_organ_id;          /* ResponseFor/OrganId: the document's sender */
	char *rf_code;              /* ResponseFor/Code: its number/notation */
	char *rf_promulgation_date; /* ResponseFor/PromulgationDate */
	char *rf_document_id;       /* ResponseFor/DocumentId: its edXML DocumentId */
	char *staff_department;     /* StaffInfo/Department */
	char *staff;                /* StaffInfo/Staff */
	char *staff_email;          /* StaffInfo/Email */
	char *staff_mobile;         /* StaffInfo/Mobile */
	char code[3];               /* StatusCode: 01..06, 13, 15, 16 */
	char *description;          /* Description: the receipt's comment */
	char *timestamp;            /* Timestamp, as written */
};

/* Reads a status message (fd to its end, or memory); on error *st is empty. */
int lt_edxml_status_read(int fd, const char *what, const struct lt_config *cfg,
                         struct lt_edxml_status *st, lt_err *err);
int lt_edxml_status_read_mem(const uint8_t *buf, size_t len, const char *what,
                             const struct lt_config *cfg, struct lt_edxml_status *st, lt_err *err);
void lt_edxml_status_free(struct lt_edxml_status *st);

/*
 * The receipt's reported_by for a status read: the non-empty ones of
 * Staff, Department, Email, Mobile joined by ", ", cut (whole characters)
 * to size - 1 bytes. Returns out.
 */
char *lt_edxml_status_reported_by(const struct lt_edxml_status *st, char *out, size_t size);

/*
 * Writes a status message to out_fd. Required: from.organ_id, code (one of
 * the edXML codes), rf_document_id or rf_organ_id. Fields NULL are left
 * out; every text is escaped.
 */
int lt_edxml_status_write(int out_fd, const struct lt_edxml_status *st, lt_err *err);

/* 0 if code is an edXML status code (01..06, 13, 15, 16), else -1 with err. */
int lt_edxml_status_code_check(const char *code, lt_err *err);

/*
 * A Timestamp for a status message: "yyyy/MM/dd HH:mm:ss" in Vietnam's
 * time (UTC+7), from Unix time in milliseconds. Returns out.
 */
char *lt_edxml_timestamp(int64_t ms, char out[20]);

#endif
