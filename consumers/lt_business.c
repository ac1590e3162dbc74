#include "lt_business.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../clock/lt_clock.h"
#include "../edxml/lt_edxml.h"
#include "../lifecycle/lt_lifecycle.h"
#include "../log/lt_log.h"
#include "../proto/lt_envelope.h"
#include "../proto/lt_receipt.h"
#include "lt_deliver.h"

#define LT_BUSINESS_KEY_MAX (LT_CODE_MAX + 1 + LT_DOCID_LEN)
#define LT_BUSINESS_FILE_MAX 65536 /* bytes of one status file */
#define LT_BUSINESS_SCAN_FILES 64  /* status files applied per scan */
#define LT_BUSINESS_SCAN_EVERY_MS 1000

#define ST(x) LIENTHONG__STORE__DOC_STATUS__##x
#define TYPE(x) LIENTHONG__BUSINESS_TYPE__BUSINESS_##x

/* Reads the record of (sender, doc_id) in db; *out NULL when absent. */
static int lt_business_get(struct lt_txn *t, enum lt_db db, const char *sender, const char *doc_id,
                           const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
                           lt_err *err)
{
	char key[LT_BUSINESS_KEY_MAX];
	const void *val;
	size_t vlen, klen = lt_pair_key(sender, doc_id, key, sizeof key);
	*out = NULL;
	if (klen == 0)
		return lt_err_set(err, LT_EINVAL, "sender or document id too long");
	if (lt_txn_get(t, db, key, klen, &val, &vlen, err) != 0)
		return -1;
	if (val == NULL)
		return 0;
	*out = protobuf_c_message_unpack(desc, NULL, vlen, val);
	if (*out == NULL)
		return lt_err_set(err, LT_EIO, "%s record of document %s from %s is corrupt",
		                  db == LT_DB_INBOX ? "inbox" : "business", doc_id, sender);
	return 0;
}

static int lt_business_inbox(struct lt_txn *t, const char *sender, const char *doc_id,
                             Lienthong__Store__InboxRecord **out, lt_err *err)
{
	return lt_business_get(t, LT_DB_INBOX, sender, doc_id,
	                       &lienthong__store__inbox_record__descriptor,
	                       (ProtobufCMessage **)out, err);
}

/* The business record of (sender, doc_id); a new one (status delivered) when absent. */
static int lt_business_record(struct lt_txn *t, const char *sender, const char *doc_id,
                              Lienthong__Store__BusinessRecord **out, lt_err *err)
{
	if (lt_business_get(t, LT_DB_BUSINESS, sender, doc_id,
	                    &lienthong__store__business_record__descriptor,
	                    (ProtobufCMessage **)out, err) != 0)
		return -1;
	if (*out != NULL)
		return 0;
	*out = calloc(1, sizeof **out);
	if (*out == NULL)
		return lt_err_set(err, LT_EIO, "out of memory");
	lienthong__store__business_record__init(*out);
	(*out)->status = ST(DELIVERED);
	return 0;
}

static int lt_business_put(struct lt_txn *t, const char *sender, const char *doc_id,
                           const Lienthong__Store__BusinessRecord *b, lt_err *err)
{
	char key[LT_BUSINESS_KEY_MAX];
	size_t klen = lt_pair_key(sender, doc_id, key, sizeof key);
	if (klen == 0)
		return lt_err_set(err, LT_EINVAL, "sender or document id too long");
	return lt_txn_put_pb(t, LT_DB_BUSINESS, key, klen, &b->base, err);
}

/*
 * Replaces a string of a record (freed with it, as free_unpacked frees all
 * but the shared empty default) with a copy of s.
 */
static int lt_business_set(char **field, const char *s, lt_err *err)
{
	char *copy = strdup(s ? s : "");
	if (copy == NULL)
		return lt_err_set(err, LT_EIO, "out of memory");
	if (*field != protobuf_c_empty_string)
		free(*field);
	*field = copy;
	return 0;
}

/* Seals a business receipt (code) about (sender, doc_id) and queues it in t. */
static int lt_business_receipt(struct lt_txn *t, const struct lt_signer *signer, const char *sender,
                               const char *doc_id, const uint8_t *digest, const char *code,
                               const char *reason, const char *comment, const char *by,
                               int64_t now_ms, lt_err *err)
{
	const struct lt_receipt_in in = {
	    .document_id = doc_id,
	    .sender = sender,
	    .status = LIENTHONG__RECEIPT_STATUS__RECEIPT_BUSINESS,
	    .time_ms = now_ms,
	    .reason = reason,
	    .document_digest = digest,
	    .business_code = code,
	    .comment = comment,
	    .reported_by = by,
	};
	return lt_recv_queue_receipt(t, signer, &in, err);
}

/* Why the table refuses ev in cur, in the words of the order rules. */
static int lt_business_order_error(const struct lt_business_report *rep,
                                   Lienthong__Store__DocStatus cur, enum lt_life_event ev,
                                   lt_err *err)
{
	const char *what = lt_life_event_text(ev);
	if (cur == ST(REFUSED) || cur == ST(RECALL_AGREED))
		return lt_err_set(
		    err, LT_ECONFLICT,
		    "document %s from %s: %s after %s is not allowed: nothing follows "
		    "it",
		    rep->document_id, rep->sender, what, lt_life_status_text(cur));
	if ((ev == LT_LIFE_AWAITING || ev == LT_LIFE_PROCESSING || ev == LT_LIFE_PROCESSED) &&
	    (cur == ST(DELIVERED) || cur == ST(ARRIVED)))
		return lt_err_set(err, LT_ECONFLICT,
		                  "document %s from %s: %s before 03 accepted is not allowed",
		                  rep->document_id, rep->sender, what);
	return lt_err_set(err, LT_ECONFLICT,
	                  "document %s from %s: %s after %s is not allowed: a status never goes "
	                  "back",
	                  rep->document_id, rep->sender, what, lt_life_status_text(cur));
}

/* Checks a report's fields; *ev is its event. */
static int lt_business_check(const struct lt_config *cfg, const struct lt_business_report *rep,
                             enum lt_life_event *ev, lt_err *err)
{
	if (rep->sender == NULL || lt_config_check_code(cfg, rep->sender, err) != 0)
		return rep->sender == NULL ? lt_err_set(err, LT_EINVAL, "no sender given")
		                           : lt_err_wrap(err, "sender");
	if (rep->document_id == NULL || lt_docid_check(rep->document_id, err) != 0)
		return rep->document_id == NULL ? lt_err_set(err, LT_EINVAL, "no document id given")
		                                : -1;
	if (rep->code == NULL || lt_life_business_event(rep->code, ev) != 0 ||
	    *ev == LT_LIFE_RECALL || *ev == LT_LIFE_AGREED || *ev == LT_LIFE_DISAGREED)
		return lt_err_set(
		    err, LT_EINVAL,
		    "status code '%.8s' is not one a recipient reports: use 01 arrived, "
		    "02 refused, 03 accepted, 04 awaiting assignment, 05 in "
		    "processing or 06 processed (15 and 16 answer a recall: the "
		    "agent gives them)",
		    rep->code ? rep->code : "");
	const char *c = rep->comment ? rep->comment : "",
	           *by = rep->reported_by ? rep->reported_by : "";
	if (!lt_utf8_valid(c) || strlen(c) > LT_REASON_MAX)
		return lt_err_set(err, LT_EINVAL, "the comment must be UTF-8 of at most %d bytes",
		                  LT_REASON_MAX);
	if (!lt_utf8_valid(by) || strlen(by) > LT_REPORTED_BY_MAX)
		return lt_err_set(err, LT_EINVAL,
		                  "the reporter (--by) must be UTF-8 of at most %d bytes",
		                  LT_REPORTED_BY_MAX);
	return 0;
}

int lt_business_report(const struct lt_config *cfg, struct lt_txn *t,
                       const struct lt_signer *signer, const struct lt_business_report *rep,
                       int64_t now_ms, lt_err *err)
{
	Lienthong__Store__InboxRecord *in = NULL;
	Lienthong__Store__BusinessRecord *b = NULL;
	Lienthong__Store__DocStatus next;
	enum lt_life_event ev;
	int ret = -1;
	if (lt_business_check(cfg, rep, &ev, err) != 0 ||
	    lt_business_inbox(t, rep->sender, rep->document_id, &in, err) != 0)
		goto out;
	if (in == NULL) {
		lt_err_set(err, LT_ENOTFOUND, "document %s from %s was never received here",
		           rep->document_id, rep->sender);
		goto out;
	}
	if (in->status != LIENTHONG__STORE__INBOX_STATUS__INBOX_DELIVERED ||
	    in->digest.len != LT_DIGEST_LEN) {
		lt_err_set(err, LT_ECONFLICT,
		           "document %s from %s was not delivered here (%s): there is nothing to "
		           "report on",
		           rep->document_id, rep->sender,
		           in->status == LIENTHONG__STORE__INBOX_STATUS__INBOX_PENDING
		               ? "its delivery to the target is still being tried"
		               : "it was refused or failed");
		goto out;
	}
	if (lt_business_record(t, rep->sender, rep->document_id, &b, err) != 0)
		goto out;
	switch (lt_life_next(b->status, ev, &next)) {
	case LT_LIFE_MOVED:
		break;
	case LT_LIFE_KEPT:
		lt_log_info("document %s from %s: %s again: already recorded, nothing sent",
		            rep->document_id, rep->sender, lt_life_event_text(ev));
		ret = 1;
		goto out;
	default:
		lt_business_order_error(rep, b->status, ev, err);
		goto out;
	}
	b->status = next;
	b->at_ms = now_ms;
	if (lt_business_set(&b->comment, rep->comment, err) != 0 ||
	    lt_business_set(&b->reported_by, rep->reported_by, err) != 0 ||
	    lt_business_put(t, rep->sender, rep->document_id, b, err) != 0 ||
	    lt_business_receipt(t, signer, rep->sender, rep->document_id, in->digest.data,
	                        rep->code, "", rep->comment, rep->reported_by, now_ms, err) != 0)
		goto out;
	lt_log_info("document %s from %s: %s%s%s, receipt queued to the sender", rep->document_id,
	            rep->sender, lt_life_event_text(ev), rep->reported_by ? " by " : "",
	            rep->reported_by ? rep->reported_by : "");
	ret = 0;
out:
	if (in != NULL)
		lienthong__store__inbox_record__free_unpacked(in, NULL);
	if (b != NULL)
		lienthong__store__business_record__free_unpacked(b, NULL);
	return ret;
}

/* ---- recall, update, replacement ---- */

static const char *lt_business_type_word(Lienthong__BusinessType type)
{
	return type == TYPE(REVOKE) ? "recall" : type == TYPE(UPDATE) ? "update" : "replace";
}

/* The control record telling the target what was asked and answered (JSON text). */
static char *lt_business_control_text(const Lienthong__Header *h, int agree, const char *reason)
{
	char when[LT_TIME_TEXT];
	json_t *o = json_object();
	if (o == NULL)
		return NULL;
	lt_time_format(h->created_at_ms, when, sizeof when);
	json_object_set_new(o, "type", json_string(lt_business_type_word(h->business_type)));
	json_object_set_new(o, "sender", json_string(h->sender));
	json_object_set_new(o, "document_id", json_string(h->replaces_id));
	json_object_set_new(o, "request_id", json_string(h->document_id));
	json_object_set_new(o, "requested_at", json_string(when));
	json_object_set_new(o, "decision", json_string(agree ? "agreed" : "refused"));
	json_object_set_new(o, "code", json_string(agree ? "15" : "16"));
	json_object_set_new(o, "reason", json_string(reason));
	if (h->business_type == TYPE(UPDATE)) {
		json_object_set_new(o, "subject", json_string(h->subject));
		json_object_set_new(o, "document_number", json_string(h->document_number));
	}
	if (h->business_type == TYPE(REPLACE))
		json_object_set_new(o, "replacement_id", json_string(h->document_id));
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return text;
}

/*
 * The automatic answer to a request about a document in the inbox: *agree
 * and the reason; *hold when the document is not at the target yet and is
 * to be held back.
 */
static void lt_business_decide(const Lienthong__Header *h, const Lienthong__Store__InboxRecord *in,
                               const Lienthong__Store__BusinessRecord *b, int *agree, int *hold,
                               char *reason, size_t size)
{
	int update = h->business_type == TYPE(UPDATE);
	*hold = 0;
	switch (in->status) {
	case LIENTHONG__STORE__INBOX_STATUS__INBOX_DELIVERED:
		*agree = b->status == ST(DELIVERED) || b->status == ST(ARRIVED) ||
		         b->status == ST(ACCEPTED) || b->status == ST(AWAITING_ASSIGNMENT) ||
		         (b->status == ST(RECALL_AGREED) && !update);
		if (*agree)
			snprintf(reason, size, "%s agreed: not in processing yet (%s)",
			         lt_business_type_word(h->business_type),
			         lt_life_status_text(b->status));
		else
			snprintf(reason, size, "%s refused: the document is %s here",
			         lt_business_type_word(h->business_type),
			         lt_life_status_text(b->status));
		return;
	case LIENTHONG__STORE__INBOX_STATUS__INBOX_PENDING:
		*agree = !update;
		*hold = !update;
		snprintf(
		    reason, size, "%s",
		    update ? "update refused: the document is not at the target system yet; "
		             "send the update again later"
		           : "recall agreed: the document was not delivered yet and never will be");
		return;
	default:
		*agree = !update;
		snprintf(reason, size, "%s: the document was never delivered here (%s)",
		         update ? "update refused" : "recall agreed", in->reason);
		return;
	}
}

/* A recall, update or replacement of h->replaces_id. */
static int lt_business_request(const struct lt_recv *rc, struct lt_txn *t,
                               const Lienthong__Header *h, int64_t now_ms, char *path,
                               size_t path_size, lt_err *err)
{
	Lienthong__Store__InboxRecord *in = NULL;
	Lienthong__Store__BusinessRecord *b = NULL;
	char reason[600], name[32];
	char *text = NULL;
	int agree, hold, ret = -1;
	path[0] = '\0';
	if (lt_business_inbox(t, h->sender, h->replaces_id, &in, err) != 0 ||
	    lt_business_record(t, h->sender, h->replaces_id, &b, err) != 0 ||
	    lt_business_set(&b->request_id, h->document_id, err) != 0)
		goto out;
	b->request_type = (uint32_t)h->business_type;
	b->answered = 0;
	if (in == NULL) {
		/* It overtook its document: answered when the document comes. */
		b->held = h->business_type != TYPE(UPDATE);
		lt_log_info("%s %s from %s came before document %s: %s",
		            lt_business_type_word(h->business_type), h->document_id, h->sender,
		            h->replaces_id,
		            b->held ? "the document will not be delivered"
		                    : "answered when the document comes");
		ret = lt_business_put(t, h->sender, h->replaces_id, b, err);
		goto out;
	}
	lt_business_decide(h, in, b, &agree, &hold, reason, sizeof reason);
	b->held = hold;
	if (in->status == LIENTHONG__STORE__INBOX_STATUS__INBOX_DELIVERED) {
		snprintf(name, sizeof name, ".%s.json", lt_business_type_word(h->business_type));
		text = lt_business_control_text(h, agree, reason);
		if (text == NULL) {
			lt_err_set(err, LT_EIO, "out of memory");
			goto out;
		}
		if (lt_target_control(rc->target, h->sender, h->replaces_id, name, text, path,
		                      path_size, err) != 0) {
			lt_err_wrap(err, "telling the target of %s %s",
			            lt_business_type_word(h->business_type), h->document_id);
			if (err->code != LT_EINVAL)
				goto out; /* tried again with the record */
			/* Refused for good: answered all the same, the sender told why. */
			lt_log_warn("%s; answered without it", err->msg);
			size_t used = strlen(reason);
			snprintf(reason + used, sizeof reason - used,
			         "; the target system was not told: %.200s", err->msg);
		}
		if (agree && h->business_type != TYPE(UPDATE))
			b->status = ST(RECALL_AGREED); /* recalled or replaced: final here */
	}
	b->answered = 1;
	b->at_ms = now_ms;
	if (lt_business_put(t, h->sender, h->replaces_id, b, err) != 0 ||
	    lt_business_receipt(t, rc->signer, h->sender, h->replaces_id, in->digest.data,
	                        agree ? "15" : "16", reason, "", "", now_ms, err) != 0)
		goto out;
	lt_log_info("document %s from %s: %s", h->replaces_id, h->sender, reason);
	ret = 0;
out:
	free(text);
	if (in != NULL)
		lienthong__store__inbox_record__free_unpacked(in, NULL);
	if (b != NULL)
		lienthong__store__business_record__free_unpacked(b, NULL);
	return ret;
}

/*
 * A document from edXML (meta edxml.DocumentId) gets its business record at
 * once, keeping that DocumentId: an edXML status message names the document
 * by it (lt_business_find_edxml).
 */
static int lt_business_remember_edxml(struct lt_txn *t, const Lienthong__Header *h, int64_t now_ms,
                                      lt_err *err)
{
	const char *id = NULL;
	for (size_t i = 0; i < h->n_meta && id == NULL; i++) {
		if (strcmp(h->meta[i]->key, "edxml.DocumentId") == 0)
			id = h->meta[i]->value;
	}
	if (id == NULL || h->business_type == TYPE(REVOKE) || h->business_type == TYPE(UPDATE))
		return 0;
	Lienthong__Store__BusinessRecord b;
	lienthong__store__business_record__init(&b);
	b.status = ST(DELIVERED);
	b.at_ms = now_ms;
	b.edxml_document_id = (char *)id;
	return lt_business_put(t, h->sender, h->document_id, &b, err);
}

/*
 * A document arriving after a request about it: held back (answered 15 now
 * if not yet), or an update that came first answered 16. Returns the verdict.
 */
static int lt_business_arrived(const struct lt_recv *rc, struct lt_txn *t,
                               const Lienthong__Header *h, const uint8_t *digest, int64_t now_ms,
                               char *why, size_t why_size, lt_err *err)
{
	Lienthong__Store__BusinessRecord *b = NULL;
	int ret = -1;
	if (lt_business_get(t, LT_DB_BUSINESS, h->sender, h->document_id,
	                    &lienthong__store__business_record__descriptor, (ProtobufCMessage **)&b,
	                    err) != 0)
		return -1;
	if (b == NULL) {
		ret = lt_business_remember_edxml(t, h, now_ms, err) == 0 ? LT_BUSINESS_DELIVER : -1;
		goto out;
	}
	if ((!b->held && b->answered) || b->request_id[0] == '\0') {
		ret = LT_BUSINESS_DELIVER;
		goto out;
	}
	const char *reason =
	    b->held ? "recall agreed: the recall came before the document, which is not delivered"
	            : "update refused: it came before its document; send the update again";
	if (!b->answered &&
	    lt_business_receipt(t, rc->signer, h->sender, h->document_id, digest,
	                        b->held ? "15" : "16", reason, "", "", now_ms, err) != 0)
		goto out;
	b->answered = 1;
	b->at_ms = now_ms;
	if (b->held)
		b->status = ST(RECALL_AGREED);
	if (lt_business_put(t, h->sender, h->document_id, b, err) != 0)
		goto out;
	snprintf(why, why_size,
	         "recalled: %s %s from %s came before it was delivered; not delivered",
	         lt_business_type_word((Lienthong__BusinessType)b->request_type), b->request_id,
	         h->sender);
	ret = b->held ? LT_BUSINESS_HELD : LT_BUSINESS_DELIVER;
out:
	if (b != NULL)
		lienthong__store__business_record__free_unpacked(b, NULL);
	return ret;
}

int lt_business_holds(struct lt_txn *t, const Lienthong__Header *h, int *holds, lt_err *err)
{
	Lienthong__Store__BusinessRecord *b = NULL;
	*holds = h->business_type == TYPE(REVOKE) || h->business_type == TYPE(UPDATE);
	if (*holds)
		return 0;
	if (lt_business_get(t, LT_DB_BUSINESS, h->sender, h->document_id,
	                    &lienthong__store__business_record__descriptor, (ProtobufCMessage **)&b,
	                    err) != 0)
		return -1;
	/* As lt_business_arrived decides: a recall that came first and holds it. */
	*holds = b != NULL && b->request_id[0] != '\0' && b->held;
	if (b != NULL)
		lienthong__store__business_record__free_unpacked(b, NULL);
	return 0;
}

int lt_business_inbound(const struct lt_recv *rc, struct lt_txn *t, const Lienthong__Envelope *env,
                        const uint8_t *digest, int64_t now_ms, char *path, size_t path_size,
                        char *why, size_t why_size, lt_err *err)
{
	const Lienthong__Header *h = env->header;
	int v = lt_business_arrived(rc, t, h, digest, now_ms, why, why_size, err);
	if (v != LT_BUSINESS_DELIVER || h->business_type == TYPE(NEW))
		return v;
	if (lt_business_request(rc, t, h, now_ms, path, path_size, err) != 0)
		return -1;
	return h->business_type == TYPE(REPLACE) ? LT_BUSINESS_DELIVER : LT_BUSINESS_CONTROL;
}

/* ---- status files from the target system ---- */

/* A string member of o, or NULL (absent); -1 when present but not a string. */
static int lt_business_json_str(json_t *o, const char *key, const char **out, lt_err *err)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return lt_err_set(err, LT_EINVAL, "\"%s\" must be a string", key);
	*out = json_string_value(v);
	return 0;
}

/* lt_business_report of rep in a transaction of its own, committed. */
static int lt_business_report_commit(const struct lt_recv *rc, const struct lt_business_report *rep,
                                     int64_t now_ms, lt_err *err)
{
	struct lt_txn *t = NULL;
	if (lt_txn_begin(rc->store, 1, &t, err) != 0)
		return -1;
	if (lt_business_report(rc->cfg, t, rc->signer, rep, now_ms, err) < 0) {
		lt_txn_abort(t);
		return -1;
	}
	return lt_txn_commit(t, err);
}

/* Reads and applies one status file in its own transaction. */
static int lt_business_file(const struct lt_recv *rc, int dir_fd, const char *name, int64_t now_ms,
                            lt_err *err)
{
	static const char *const keys[] = {"sender", "document_id", "code", "comment",
	                                   "reported_by"};
	char buf[LT_BUSINESS_FILE_MAX + 1];
	struct stat st;
	ssize_t n;
	json_error_t jerr;
	int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return lt_err_set(err, LT_EINVAL, "cannot open it: %s", strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > LT_BUSINESS_FILE_MAX) {
		close(fd);
		return lt_err_set(err, LT_EINVAL, "not a regular file of at most %d bytes",
		                  LT_BUSINESS_FILE_MAX);
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return lt_err_set(err, LT_EINVAL, "cannot read it: %s", strerror(errno));
	json_t *o = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		return lt_err_set(err, LT_EINVAL, "not a JSON object (line %d: %s)", jerr.line,
		                  o == NULL ? jerr.text : "another JSON value");
	}
	const char *key;
	json_t *val;
	int ret = 0;
	json_object_foreach(o, key, val)
	{
		size_t i = 0;
		while (i < sizeof keys / sizeof keys[0] && strcmp(keys[i], key) != 0)
			i++;
		if (i == sizeof keys / sizeof keys[0]) {
			ret = lt_err_set(err, LT_EINVAL, "unknown field \"%.40s\"", key);
			break;
		}
	}
	struct lt_business_report rep = {0};
	if (ret == 0 && (lt_business_json_str(o, "sender", &rep.sender, err) != 0 ||
	                 lt_business_json_str(o, "document_id", &rep.document_id, err) != 0 ||
	                 lt_business_json_str(o, "code", &rep.code, err) != 0 ||
	                 lt_business_json_str(o, "comment", &rep.comment, err) != 0 ||
	                 lt_business_json_str(o, "reported_by", &rep.reported_by, err) != 0))
		ret = -1;
	if (ret == 0)
		ret = lt_business_report_commit(rc, &rep, now_ms, err);
	json_decref(o);
	return ret;
}

struct lt_business_find {
	const char *sender, *edxml_id;
	char *out;
	int found;
};

static int lt_business_find_one(void *arg, const void *key, size_t klen, const void *val,
                                size_t vlen, lt_err *err)
{
	(void)err;
	struct lt_business_find *f = arg;
	size_t slen = strlen(f->sender);
	if (klen != slen + 1 + LT_DOCID_LEN || memcmp(key, f->sender, slen + 1) != 0)
		return 1; /* past this sender's records */
	Lienthong__Store__BusinessRecord *b =
	    lienthong__store__business_record__unpack(NULL, vlen, val);
	if (b != NULL && strcmp(b->edxml_document_id, f->edxml_id) == 0) {
		memcpy(f->out, (const char *)key + slen + 1, LT_DOCID_LEN);
		f->out[LT_DOCID_LEN] = '\0';
		f->found = 1;
	}
	if (b != NULL)
		lienthong__store__business_record__free_unpacked(b, NULL);
	return 0; /* ids are time-ordered: the newest match wins */
}

/*
 * The lienthong id of the document from sender named by an edXML status
 * message's ResponseFor/DocumentId: the id lienthong gave it ("<sender>,
 * <date>,<id>", consumers/lt_edxml_out.h), else the one it came with from
 * edXML (its business record). LT_ENOTFOUND when none.
 */
static int lt_business_find_edxml(const struct lt_recv *rc, const char *sender,
                                  const char *edxml_id, char out[LT_DOCID_LEN + 1], lt_err *err)
{
	const char *comma = strrchr(edxml_id, ',');
	lt_err ignored;
	if (comma != NULL && strncmp(edxml_id, sender, strlen(sender)) == 0 &&
	    edxml_id[strlen(sender)] == ',' && lt_docid_check(comma + 1, &ignored) == 0) {
		snprintf(out, LT_DOCID_LEN + 1, "%s", comma + 1);
		return 0;
	}
	char from[LT_CODE_MAX + 2];
	struct lt_business_find f = {.sender = sender, .edxml_id = edxml_id, .out = out};
	struct lt_txn *t = NULL;
	size_t flen = (size_t)snprintf(from, sizeof from, "%s", sender) + 1;
	if (lt_txn_begin(rc->store, 0, &t, err) != 0)
		return -1;
	int ret = lt_txn_scan(t, LT_DB_BUSINESS, from, flen, lt_business_find_one, &f, err);
	lt_txn_abort(t);
	if (ret != 0)
		return -1;
	if (!f.found)
		return lt_err_set(err, LT_ENOTFOUND,
		                  "no document received from %s has the edXML DocumentId '%s'",
		                  sender, edxml_id);
	return 0;
}

/*
 * Reads an edXML status message (lt_edxml_status_read) and applies it as a
 * report: the code, Description as the comment, StaffInfo as the reporter;
 * From must be this agency, ResponseFor/OrganId the sender, and the document
 * is the one ResponseFor/DocumentId names.
 */
static int lt_business_edxml_file(const struct lt_recv *rc, int dir_fd, const char *name,
                                  int64_t now_ms, lt_err *err)
{
	struct lt_edxml_status st;
	char doc_id[LT_DOCID_LEN + 1], by[LT_REPORTED_BY_MAX + 1];
	int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return lt_err_set(err, LT_EINVAL, "cannot open it: %s", strerror(errno));
	int ret = lt_edxml_status_read(fd, name, rc->cfg, &st, err);
	close(fd);
	if (ret != 0) {
		err->code = LT_EINVAL; /* malformed: to failed/ */
		return -1;
	}
	if (strcmp(st.from.organ_id, rc->cfg->agency_code) != 0)
		ret = lt_err_set(err, LT_EINVAL,
		                 "From/OrganId is %s, not this agency (%s): report only on "
		                 "documents this agency received",
		                 st.from.organ_id, rc->cfg->agency_code);
	else if (st.rf_organ_id == NULL || st.rf_document_id == NULL)
		ret = lt_err_set(err, LT_EINVAL,
		                 "ResponseFor needs the document's sender (OrganId) and its "
		                 "DocumentId");
	else
		ret = lt_business_find_edxml(rc, st.rf_organ_id, st.rf_document_id, doc_id, err);
	struct lt_business_report rep = {.sender = st.rf_organ_id,
	                                 .document_id = doc_id,
	                                 .code = st.code,
	                                 .comment = st.description,
	                                 .reported_by =
	                                     lt_edxml_status_reported_by(&st, by, sizeof by)};
	if (ret == 0)
		ret = lt_business_report_commit(rc, &rep, now_ms, err);
	lt_edxml_status_free(&st);
	return ret;
}

/* Moves name into sub/ (created if needed) of dir_fd; with why, writes sub/<name>.error. */
static void lt_business_file_done(int dir_fd, const char *dir, const char *name, const char *sub,
                                  const char *why)
{
	char errname[NAME_MAX + 8];
	if (mkdirat(dir_fd, sub, 0750) != 0 && errno != EEXIST) {
		lt_log_error("cannot create %s/%s: %s: status files stay in %s", dir, sub,
		             strerror(errno), dir);
		return;
	}
	int sub_fd = openat(dir_fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub_fd < 0) {
		lt_log_error("cannot open %s/%s: %s", dir, sub, strerror(errno));
		return;
	}
	if (why != NULL &&
	    snprintf(errname, sizeof errname, "%s.error", name) < (int)sizeof errname) {
		int fd = openat(sub_fd, errname,
		                O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
		if (fd >= 0) {
			dprintf(fd, "%s\n", why);
			close(fd);
		}
	}
	if (renameat(dir_fd, name, sub_fd, name) != 0)
		lt_log_error("cannot move %s/%s into %s/: %s", dir, name, sub, strerror(errno));
	close(sub_fd);
}

size_t lt_business_scan(const struct lt_recv *rc, int64_t now_ms)
{
	static int64_t last_ms; /* main loop thread only */
	const char *dir = rc->cfg->report_dir;
	size_t applied = 0, seen = 0;
	if (dir[0] == '\0' || now_ms - last_ms < LT_BUSINESS_SCAN_EVERY_MS)
		return 0;
	last_ms = now_ms;
	DIR *d = opendir(dir);
	if (d == NULL) {
		if (errno != ENOENT)
			lt_log_warn("report_dir %s: %s", dir, strerror(errno));
		return 0;
	}
	struct dirent *de;
	while (seen < LT_BUSINESS_SCAN_FILES && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		int json = len >= 6 && strcmp(de->d_name + len - 5, ".json") == 0;
		int edxml = (len >= 5 && strcmp(de->d_name + len - 4, ".xml") == 0) ||
		            (len >= 7 && strcmp(de->d_name + len - 6, ".edxml") == 0);
		if (de->d_name[0] == '.' || (!json && !edxml))
			continue; /* hidden (being written), done/, failed/, other files */
		seen++;
		lt_err err;
		if ((json ? lt_business_file(rc, dirfd(d), de->d_name, now_ms, &err)
		          : lt_business_edxml_file(rc, dirfd(d), de->d_name, now_ms, &err)) == 0) {
			applied++;
			lt_business_file_done(dirfd(d), dir, de->d_name, "done", NULL);
		} else if (err.code == LT_EINVAL || err.code == LT_ENOTFOUND ||
		           err.code == LT_ECONFLICT) {
			lt_log_warn("status file %s/%s refused, moved to failed/: %s", dir,
			            de->d_name, err.msg);
			lt_business_file_done(dirfd(d), dir, de->d_name, "failed", err.msg);
		} else {
			lt_log_warn("status file %s/%s: %s (tried again)", dir, de->d_name,
			            err.msg);
		}
	}
	closedir(d);
	return applied;
}
