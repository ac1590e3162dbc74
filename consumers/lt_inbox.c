#include "lt_inbox.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../clock/lt_clock.h"
#include "../log/lt_log.h"
#include "../monitor/lt_counters.h"
#include "../proto/lt_crypt.h"
#include "../proto/lt_envelope.h"
#include "../proto/lt_receipt.h"
#include "lt_business.h"
#include "lt_deliver.h"
#include "lt_xfer.h"

#define LT_INBOX_KEY_MAX (LT_CODE_MAX + 1 + LT_DOCID_LEN)

/* Seals a receipt for env's sender and queues it in t. */
static int lt_inbox_queue_receipt(const struct lt_recv *rc, struct lt_txn *t, const char *doc_id,
                                  const char *sender, Lienthong__ReceiptStatus status,
                                  const char *reason, const uint8_t *digest, int64_t now_ms,
                                  lt_err *err)
{
	const struct lt_receipt_in in = {
	    .document_id = doc_id,
	    .sender = sender,
	    .status = status,
	    .time_ms = now_ms,
	    .reason = reason,
	    .document_digest = digest,
	};
	return lt_recv_receipt(rc, t, &in, err);
}

static int lt_inbox_put(struct lt_txn *t, const char *doc_id, Lienthong__Store__InboxStatus st,
                        const char *sender, const uint8_t *digest, const char *reason,
                        const char *path, int64_t now_ms, lt_err *err)
{
	char key[LT_INBOX_KEY_MAX];
	size_t klen = lt_pair_key(sender, doc_id, key, sizeof key);
	if (klen == 0)
		return lt_err_set(err, LT_EINVAL, "sender or document id too long");
	Lienthong__Store__InboxRecord r = LIENTHONG__STORE__INBOX_RECORD__INIT;
	r.status = st;
	r.sender = (char *)sender;
	r.digest.data = (uint8_t *)digest;
	r.digest.len = LT_DIGEST_LEN;
	r.at_ms = now_ms;
	r.reason = (char *)reason;
	r.path = (char *)path;
	if (st != LIENTHONG__STORE__INBOX_STATUS__INBOX_PENDING)
		lt_counts_add(
		    lt_txn_counts(t),
		    st == LIENTHONG__STORE__INBOX_STATUS__INBOX_DELIVERED ? LT_C_RECEIVED_DELIVERED
		    : st == LIENTHONG__STORE__INBOX_STATUS__INBOX_FAILED  ? LT_C_RECEIVED_FAILED
		                                                          : LT_C_RECEIVED_REJECTED,
		    1);
	return lt_txn_put_pb(t, LT_DB_INBOX, key, klen, &r.base, err);
}

static int lt_inbox_addressed_to(const Lienthong__Envelope *env, const char *code)
{
	for (size_t i = 0; i < env->header->n_recipients; i++) {
		if (strcmp(env->header->recipients[i], code) == 0)
			return 1;
	}
	return 0;
}

/*
 * Quarantines the record. A verified record (digest set) also gets a signed
 * `status` receipt (rejected or failed) carrying its digest, and with
 * remember its outcome is recorded under (sender, document id), so a resend
 * gets the same answer. An unverified record (digest NULL) gets no receipt:
 * the sender it names is not proven, and a receipt would let anyone make
 * this agency write to any sender about any document id.
 */
static int lt_inbox_refuse(const struct lt_recv *rc, struct lt_txn *t, const struct lt_record *rec,
                           const Lienthong__Envelope *env, Lienthong__ReceiptStatus status,
                           const char *reason, const uint8_t *digest, int remember, int64_t now_ms,
                           lt_err *err)
{
	const char *doc_id = NULL, *sender = NULL;
	lt_err ignore;
	if (env != NULL && env->header != NULL &&
	    lt_docid_check(env->header->document_id, &ignore) == 0 &&
	    lt_config_check_code(rc->cfg, env->header->sender, &ignore) == 0) {
		doc_id = env->header->document_id;
		sender = env->header->sender;
	}
	lt_log_kv(LT_LOG_WARN,
	          (const char *const[]){"topic", rec->topic, "document_id", doc_id, "sender",
	                                sender, NULL},
	          "%s %s [%d] @ %lld (document %s from %s%s): %s", lt_receipt_status_name(status),
	          rec->topic, (int)rec->partition, (long long)rec->offset, doc_id ? doc_id : "?",
	          sender ? sender : "?", digest == NULL ? ", not proven: no receipt" : "", reason);
	if (lt_recv_quarantine(t, rec, reason, doc_id, sender, now_ms, err) != 0)
		return -1;
	if (digest == NULL)
		return 0;
	if (lt_inbox_queue_receipt(rc, t, doc_id, sender, status, reason, digest, now_ms, err) != 0)
		return -1;
	if (remember && lt_inbox_put(t, doc_id,
	                             status == LIENTHONG__RECEIPT_STATUS__RECEIPT_FAILED
	                                 ? LIENTHONG__STORE__INBOX_STATUS__INBOX_FAILED
	                                 : LIENTHONG__STORE__INBOX_STATUS__INBOX_REJECTED,
	                             sender, digest, reason, "", now_ms, err) != 0)
		return -1;
	return 0;
}

/*
 * A verified document whose signer's revocation cannot be checked (the CRL
 * expired): it waits like one whose target fails (the partition is paused
 * and the record retried until a current CRL is read), without a deadline;
 * the sender is told why once, with a deferred receipt. 1: deferred (the
 * receipt is queued in t), -1: still waiting (err says why).
 */
static int lt_inbox_wait_crl(const struct lt_recv *rc, struct lt_txn *t,
                             const Lienthong__Envelope *env, const uint8_t *digest,
                             const lt_err *why, int64_t failing_since_ms, int64_t now_ms,
                             lt_err *err)
{
	const Lienthong__Header *h = env->header;
	*err = *why;
	if (failing_since_ms != 0)
		return -1;
	lt_log_error("document %s from %s waits: %s", h->document_id, h->sender, why->msg);
	if (lt_inbox_queue_receipt(rc, t, h->document_id, h->sender,
	                           LIENTHONG__RECEIPT_STATUS__RECEIPT_DEFERRED, why->msg, digest,
	                           now_ms, err) != 0)
		return -1;
	*err = *why;
	return 1;
}

/* The inbox record of (sender, document id) in t; *out NULL when there is none. */
static int lt_inbox_lookup(struct lt_txn *t, const Lienthong__Header *h,
                           Lienthong__Store__InboxRecord **out, lt_err *err)
{
	const void *val;
	size_t vlen;
	char key[LT_INBOX_KEY_MAX];
	size_t klen = lt_pair_key(h->sender, h->document_id, key, sizeof key);
	*out = NULL;
	if (klen == 0)
		return lt_err_set(err, LT_EINVAL, "sender or document id too long");
	if (lt_txn_get(t, LT_DB_INBOX, key, klen, &val, &vlen, err) != 0)
		return -1;
	if (val == NULL)
		return 0;
	*out = lienthong__store__inbox_record__unpack(NULL, vlen, val);
	if (*out == NULL)
		return lt_err_set(err, LT_EIO, "inbox record of %s from %s is corrupt",
		                  h->document_id, h->sender);
	return 0;
}

static int lt_inbox_same(const Lienthong__Store__InboxRecord *old, const uint8_t *digest)
{
	return old->digest.len == LT_DIGEST_LEN &&
	       memcmp(old->digest.data, digest, LT_DIGEST_LEN) == 0;
}

/*
 * A document (sender, document id) seen before: same content gets the
 * verdict given before again, whatever happened since (expiry included);
 * other content from the same sender is a conflict. Returns 1 when handled
 * here, 0 when it is to be checked and delivered (new, or pending: then
 * *pending_since is when its target began to fail, kept across restarts),
 * -1 on error.
 */
static int lt_inbox_seen(const struct lt_recv *rc, struct lt_txn *t, const struct lt_record *rec,
                         const Lienthong__Envelope *env, const uint8_t *digest, int64_t now_ms,
                         int64_t *pending_since, lt_err *err)
{
	const Lienthong__Header *h = env->header;
	Lienthong__Store__InboxRecord *old = NULL;
	int ret;
	if (lt_inbox_lookup(t, h, &old, err) != 0)
		return -1;
	if (old == NULL)
		return 0;
	int same = lt_inbox_same(old, digest);
	if (same && old->status == LIENTHONG__STORE__INBOX_STATUS__INBOX_PENDING) {
		*pending_since = old->at_ms;
		lienthong__store__inbox_record__free_unpacked(old, NULL);
		return 0;
	}
	if (same) {
		Lienthong__ReceiptStatus again =
		    old->status == LIENTHONG__STORE__INBOX_STATUS__INBOX_DELIVERED
		        ? LIENTHONG__RECEIPT_STATUS__RECEIPT_DELIVERED
		    : old->status == LIENTHONG__STORE__INBOX_STATUS__INBOX_FAILED
		        ? LIENTHONG__RECEIPT_STATUS__RECEIPT_FAILED
		        : LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED;
		lt_log_kv(
		    LT_LOG_INFO,
		    (const char *const[]){"document_id", h->document_id, "sender", h->sender, NULL},
		    "document %s from %s received again: not delivered twice, receipt "
		    "sent again",
		    h->document_id, h->sender);
		ret = lt_inbox_queue_receipt(rc, t, h->document_id, h->sender, again, old->reason,
		                             digest, now_ms, err);
		lienthong__store__inbox_record__free_unpacked(old, NULL);
		return ret == 0 ? 1 : -1;
	}
	lienthong__store__inbox_record__free_unpacked(old, NULL);
	char reason[200];
	snprintf(reason, sizeof reason,
	         "conflict: document id %s from %s was received before with other content",
	         h->document_id, h->sender);
	return lt_inbox_refuse(rc, t, rec, env, LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED, reason,
	                       digest, 0, now_ms, err) == 0
	           ? 1
	           : -1;
}

/* Whether env passes the arrival checks (addressee, expiry); why says why not. */
static int lt_inbox_acceptable(const struct lt_recv *rc, const Lienthong__Envelope *env,
                               int64_t now_ms, lt_err *why)
{
	const Lienthong__Header *h = env->header;
	if (!lt_inbox_addressed_to(env, rc->cfg->agency_code))
		return lt_err_set(why, LT_EINVAL,
		                  "misdirected: the document is not addressed to this agency (%s)",
		                  rc->cfg->agency_code);
	if (h->expires_at_ms != 0 && h->expires_at_ms < now_ms) {
		char when[LT_TIME_TEXT];
		lt_time_format(h->expires_at_ms, when, sizeof when);
		return lt_err_set(why, LT_EINVAL, "expired: the document expired at %s", when);
	}
	return 0;
}

/*
 * Whether the verified document of it is to be delivered now, read in t:
 * new (or waiting for its target) and acceptable, and neither a recall or
 * update nor a document a recall holds back (lt_business_holds).
 */
static int lt_inbox_deliverable(const struct lt_recv *rc, struct lt_txn *t,
                                const struct lt_inbox_item *it, int64_t now_ms, int *deliver,
                                lt_err *err)
{
	Lienthong__Store__InboxRecord *old = NULL;
	lt_err ignore;
	int holds = 0;
	*deliver = 0;
	if (lt_inbox_lookup(t, it->env->header, &old, err) != 0)
		return -1;
	int pending = old != NULL && lt_inbox_same(old, it->digest) &&
	              old->status == LIENTHONG__STORE__INBOX_STATUS__INBOX_PENDING;
	int fresh = old == NULL;
	if (old != NULL)
		lienthong__store__inbox_record__free_unpacked(old, NULL);
	int64_t at = it->arrived_ms ? it->arrived_ms : now_ms;
	if (!pending && (!fresh || lt_inbox_acceptable(rc, it->env, at, &ignore) != 0))
		return 0;
	if (lt_business_holds(t, it->env->header, &holds, err) != 0)
		return -1;
	*deliver = !holds;
	return 0;
}

/*
 * Records chunk c (of the record rec) in t: written into its transfer, or
 * quarantined (it fails lt_chunk_check; or neither a transfer nor an inbox
 * record knows its document), or skipped (recorded before; its document was
 * delivered or failed). The sender a chunk names is not proven: no receipt.
 */
static int lt_inbox_chunk(const struct lt_recv *rc, struct lt_txn *t, const struct lt_record *rec,
                          const Lienthong__Chunk *c, int64_t now_ms, lt_err *err)
{
	enum lt_xfer_outcome out;
	int complete = 0;
	lt_err why = {0};
	char reason[sizeof why.msg + 64];
	if (lt_xfer_chunk(rc->xfer, t, c, now_ms, &out, &complete, &why, err) != 0)
		return -1;
	switch (out) {
	case LT_XFER_WRITTEN:
		if (complete)
			lt_log_info("document %s from %s: every chunk is in", c->document_id,
			            c->sender);
		return 0;
	case LT_XFER_REPEAT:
		return 0;
	case LT_XFER_BAD:
		snprintf(reason, sizeof reason, "bad chunk (the real one is still awaited): %s",
		         why.msg);
		break;
	case LT_XFER_UNKNOWN: {
		const Lienthong__Header h = {.document_id = c->document_id, .sender = c->sender};
		Lienthong__Store__InboxRecord *old = NULL;
		if (lt_inbox_lookup(t, &h, &old, err) != 0)
			return -1;
		if (old != NULL) {
			lienthong__store__inbox_record__free_unpacked(old, NULL);
			lt_log_debug("chunk %u of part %u of document %s from %s: the document was "
			             "delivered or failed before; ignored",
			             c->index, c->part, c->document_id, c->sender);
			return 0;
		}
		snprintf(reason, sizeof reason,
		         "chunk %u of part %u of document %s from %s: no manifest was received for "
		         "this document (unknown document)",
		         c->index, c->part, c->document_id, c->sender);
		break;
	}
	}
	lt_log_kv(LT_LOG_WARN,
	          (const char *const[]){"topic", rec->topic, "document_id", c->document_id,
	                                "sender", c->sender, NULL},
	          "%s [%d] @ %lld quarantined: %s", rec->topic, (int)rec->partition,
	          (long long)rec->offset, reason);
	return lt_recv_quarantine(t, rec, reason, c->document_id, c->sender, now_ms, err);
}

void lt_inbox_verify(const struct lt_recv *rc, const struct lt_record *rec,
                     struct lt_inbox_item *it)
{
	*it = (struct lt_inbox_item){0};
	if (lt_envelope_decode_any(rec->value, rec->len, rc->cfg, &it->env, &it->why) == 0 &&
	    it->env->chunk != NULL) {
		it->chunk = 1; /* judged against its transfer when recorded */
		return;
	}
	if (it->why.code != LT_OK ||
	    lt_crypt_open_parts(it->env, rc->signer, (size_t)rc->cfg->max_message_bytes,
	                        &it->why) != 0 ||
	    lt_envelope_verify(it->env, rc->trust, it->digest, &it->why) != 0)
		return; /* refused when recorded */
	it->verified = 1;
	/* A manifest opens a transfer when recorded; its document is delivered once complete. */
	it->manifest = lt_xfer_streamed(it->env);
}

int lt_inbox_deliver(const struct lt_recv *rc, int64_t now_ms, struct lt_inbox_item *it,
                     lt_err *err)
{
	if (!it->verified || it->manifest)
		return 0;

	/* Delivered only when new (or waiting for its target), acceptable and not held back. */
	struct lt_txn *t = NULL;
	int deliver = 0;
	if (lt_txn_begin(rc->store, 0, &t, err) != 0)
		return -1;
	int rc_read = lt_inbox_deliverable(rc, t, it, now_ms, &deliver, err);
	lt_txn_abort(t); /* before the target works */
	if (rc_read != 0)
		return -1;
	if (!deliver)
		return 0;
	/* The slow part, in no transaction: readers and submissions go on meanwhile. */
	it->attempted = 1;
	lt_target_deliver_deferred(rc->target, it->env, it->path, sizeof it->path, &it->delivered,
	                           &it->deliver_err);
	return 0;
}

void lt_inbox_item_free(struct lt_inbox_item *it)
{
	if (it->env != NULL)
		lienthong__envelope__free_unpacked(it->env, NULL);
	it->env = NULL;
}

int lt_inbox_handle(const struct lt_recv *rc, struct lt_txn *t, const struct lt_record *rec,
                    const struct lt_inbox_item *it, int64_t now_ms, int64_t failing_since_ms,
                    lt_err *err)
{
	const Lienthong__Envelope *env = it->env;
	const uint8_t *digest = it->digest;
	lt_err why;

	if (it->chunk)
		return lt_inbox_chunk(rc, t, rec, env->chunk, now_ms, err);
	if (!it->verified && it->why.code == LT_EAGAIN && env != NULL)
		return lt_inbox_wait_crl(rc, t, env, digest, &it->why, failing_since_ms, now_ms,
		                         err);
	if (!it->verified)
		return lt_inbox_refuse(rc, t, rec, env, LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED,
		                       it->why.msg, NULL, 0, now_ms, err);
	const Lienthong__Header *h = env->header;
	/* A verdict once given is given again: the duplicate check comes first. */
	int64_t pending_since = 0;
	int seen = lt_inbox_seen(rc, t, rec, env, digest, now_ms, &pending_since, err);
	if (seen != 0)
		return seen > 0 ? 0 : -1;
	/* Addressee and expiry are checked on arrival: a document waiting for its target
	 * arrived in time. */
	if (pending_since == 0 &&
	    lt_inbox_acceptable(rc, env, it->arrived_ms ? it->arrived_ms : now_ms, &why) != 0)
		return lt_inbox_refuse(rc, t, rec, env, LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED,
		                       why.msg, digest, 1, now_ms, err);
	if (it->manifest) {
		/* Its parts come as chunks: delivered by lt_inbox_transfers once all are in. */
		if (lt_xfer_open(rc->xfer, t, rec, env, digest, now_ms, &why) == 0)
			return 0;
		if (why.code != LT_ECONFLICT) {
			*err = why;
			return -1;
		}
		return lt_inbox_refuse(rc, t, rec, env, LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED,
		                       why.msg, digest, 0, now_ms, err);
	}
	/* Recall, update, replacement; a document recalled before it came (lt_business.h). */
	char control[PATH_MAX] = "";
	int b = lt_business_inbound(rc, t, env, digest, now_ms, control, sizeof control, why.msg,
	                            sizeof why.msg, err);
	if (b < 0)
		return -1;
	if (b == LT_BUSINESS_HELD)
		return lt_inbox_refuse(rc, t, rec, env, LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED,
		                       why.msg, digest, 1, now_ms, err);
	const char *path = control;
	if (b == LT_BUSINESS_DELIVER && !it->attempted)
		return lt_err_set(err, LT_EAGAIN,
		                  "document %s from %s: its delivery was not attempted yet",
		                  h->document_id, h->sender);
	if (b == LT_BUSINESS_DELIVER && !it->delivered) {
		*err = it->deliver_err;
		int64_t deadline = rc->cfg->delivery_deadline_s * 1000;
		if (pending_since != 0)
			failing_since_ms = pending_since; /* failing since before a restart */
		if (err->code != LT_EINVAL &&
		    (failing_since_ms == 0 || now_ms - failing_since_ms < deadline)) {
			lt_err_wrap(err, "delivering document %s from %s", h->document_id,
			            h->sender);
			/*
			 * First failure: the sender learns why its document waits, and the
			 * time it began to fail is kept, so restarts do not reset the deadline.
			 */
			if (failing_since_ms == 0 &&
			    lt_inbox_put(t, h->document_id,
			                 LIENTHONG__STORE__INBOX_STATUS__INBOX_PENDING, h->sender,
			                 digest, err->msg, "", now_ms, &why) == 0 &&
			    lt_inbox_queue_receipt(rc, t, h->document_id, h->sender,
			                           LIENTHONG__RECEIPT_STATUS__RECEIPT_DEFERRED,
			                           err->msg, digest, now_ms, &why) == 0)
				return 1;
			return -1;
		}
		snprintf(why.msg, sizeof why.msg, "%s%s",
		         err->code == LT_EINVAL ? "target refused the document: "
		                                : "target kept failing past delivery_deadline_s: ",
		         err->msg);
		return lt_inbox_refuse(rc, t, rec, env, LIENTHONG__RECEIPT_STATUS__RECEIPT_FAILED,
		                       why.msg, digest, 1, now_ms, err);
	}
	if (b == LT_BUSINESS_DELIVER)
		path = it->path;
	if (lt_inbox_put(t, h->document_id, LIENTHONG__STORE__INBOX_STATUS__INBOX_DELIVERED,
	                 h->sender, digest, "", path, now_ms, err) != 0 ||
	    lt_inbox_queue_receipt(rc, t, h->document_id, h->sender,
	                           LIENTHONG__RECEIPT_STATUS__RECEIPT_DELIVERED, "", digest, now_ms,
	                           err) != 0)
		return -1;
	lt_log_kv(LT_LOG_INFO,
	          (const char *const[]){"document_id", h->document_id, "sender", h->sender, NULL},
	          "delivered document %s from %s (%zu part(s)) to %s", h->document_id, h->sender,
	          env->n_parts, path);
	return 0;
}

#define LT_INBOX_XFER_BATCH 16 /* transfers finished per call, at most */

struct lt_inbox_due {
	int64_t deadline_ms, start_ms, now_ms;
	size_t n;
	char keys[LT_INBOX_XFER_BATCH][LT_INBOX_KEY_MAX];
};

/* Collects the transfers that are complete or past their deadline. */
static int lt_inbox_due_cb(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                           lt_err *err)
{
	struct lt_inbox_due *d = ctx;
	(void)err;
	Lienthong__Store__TransferRecord *r =
	    lienthong__store__transfer_record__unpack(NULL, vlen, val);
	if (r == NULL || klen >= LT_INBOX_KEY_MAX || memchr(key, '\0', klen) == NULL) {
		lt_log_warn("a transfer record is corrupt: left as it is");
	} else if (lt_xfer_complete(r) ||
	           lt_xfer_expired(r, d->deadline_ms, d->start_ms, d->now_ms)) {
		memcpy(d->keys[d->n], key, klen);
		d->keys[d->n][klen] = '\0';
		d->n++;
	}
	if (r != NULL)
		lienthong__store__transfer_record__free_unpacked(r, NULL);
	return d->n == LT_INBOX_XFER_BATCH;
}

/*
 * The transfer r of the manifest it->env (decoded; verified when it->verified)
 * has no chunk since transfer_deadline_s: failed, with the missing chunks
 * named. An undecodable manifest (the limits changed) is refused as any.
 */
static int lt_inbox_expire(const struct lt_recv *rc, struct lt_txn *t, const struct lt_record *rec,
                           const struct lt_inbox_item *it,
                           const Lienthong__Store__TransferRecord *r, int64_t now_ms, lt_err *err)
{
	char missing[400], reason[600];
	if (!it->verified)
		return lt_inbox_handle(rc, t, rec, it, now_ms, 0, err);
	lt_xfer_missing(it->env, r, missing, sizeof missing);
	snprintf(reason, sizeof reason,
	         "transfer incomplete: no chunk came for %lld s (transfer_deadline_s); %llu of "
	         "%llu chunk(s) missing: %s",
	         (long long)(now_ms - r->progress_ms) / 1000,
	         (unsigned long long)(r->chunks_total - r->chunks_in),
	         (unsigned long long)r->chunks_total, missing);
	return lt_inbox_refuse(rc, t, rec, it->env, LIENTHONG__RECEIPT_STATUS__RECEIPT_FAILED,
	                       reason, it->digest, 1, now_ms, err);
}

/*
 * Finishes the transfer of (sender, document id) if it is complete (delivered
 * or refused as any document) or expired. 1 finished, 0 waiting (its target
 * fails: a deferred receipt went out the first time), -1 error.
 */
static int lt_inbox_finish(const struct lt_recv *rc, const char *sender, const char *doc_id,
                           int64_t now_ms, lt_err *err)
{
	Lienthong__Store__TransferRecord *r = NULL;
	struct lt_inbox_item it = {0};
	struct lt_txn *t = NULL;
	int rc_out = -1, deliver = 0;
	if (lt_txn_begin(rc->store, 0, &t, err) != 0)
		return -1;
	int got = lt_xfer_get(t, sender, doc_id, &r, err);
	lt_txn_abort(t);
	if (got != 0 || r == NULL)
		return got;
	const struct lt_record rec = {.topic = r->topic,
	                              .partition = r->partition,
	                              .offset = r->offset,
	                              .value = r->manifest.data,
	                              .len = r->manifest.len};
	it.checked = 1;
	it.arrived_ms = r->opened_ms;
	it.staging = r->staging;
	if (lt_envelope_decode(rec.value, rec.len, rc->cfg, &it.env, &it.why) == 0 &&
	    r->digest.len == LT_DIGEST_LEN) {
		it.verified = 1; /* on arrival */
		memcpy(it.digest, r->digest.data, LT_DIGEST_LEN);
	} else if (it.why.code == LT_OK) {
		lt_err_set(&it.why, LT_EIO, "transfer record without a digest");
	}
	int complete = lt_xfer_complete(r);
	if (complete && it.verified) {
		/* Outside any write transaction, as lt_inbox_deliver delivers. */
		if (lt_txn_begin(rc->store, 0, &t, err) != 0)
			goto out;
		int rd = lt_inbox_deliverable(rc, t, &it, now_ms, &deliver, err);
		lt_txn_abort(t);
		if (rd != 0)
			goto out;
		if (deliver) {
			it.attempted = 1;
			const struct lt_staged staged = {.dir = r->staging,
			                                 .hashed = r->hashed.data,
			                                 .hashed_len = r->hashed.len};
			it.delivered =
			    lt_target_deliver_staged(rc->target, it.env, &staged, it.path,
			                             sizeof it.path, &it.deliver_err) == 0;
		}
	}
	if (lt_txn_begin(rc->store, 1, &t, err) != 0)
		goto out;
	if (it.attempted)
		now_ms = lt_now_ms(); /* delivered (or refused) now, after its parts were moved */
	int h = complete ? lt_inbox_handle(rc, t, &rec, &it, now_ms, 0, err)
	                 : lt_inbox_expire(rc, t, &rec, &it, r, now_ms, err);
	if (h == 0 && lt_xfer_del(t, sender, doc_id, err) != 0)
		h = -1;
	if (h < 0) {
		lt_txn_abort(t);
		goto out;
	}
	lt_err why = *err;
	if (lt_txn_commit(t, err) != 0)
		goto out;
	if (h == 1) {
		lt_log_warn("document %s from %s waits: %s", doc_id, sender, why.msg);
		rc_out = 0;
		goto out;
	}
	if (lt_xfer_remove(rc->xfer, r->staging, err) != 0)
		lt_log_warn("%s (removed at the next start)", err->msg);
	rc_out = 1;
out:
	lt_inbox_item_free(&it);
	lienthong__store__transfer_record__free_unpacked(r, NULL);
	return rc_out;
}

size_t lt_inbox_transfers(const struct lt_recv *rc, int64_t now_ms)
{
	struct lt_inbox_due d = {.deadline_ms = rc->cfg->transfer_deadline_s * 1000,
	                         .now_ms = now_ms};
	struct lt_txn *t = NULL;
	size_t finished = 0;
	int failed = 0;
	lt_err err;
	if (!lt_xfer_due(rc->xfer, now_ms))
		return 0;
	/* Counted from this agent's first scan at the earliest: chunks may wait in Kafka. */
	d.start_ms = lt_xfer_started(rc->xfer) ? lt_xfer_started(rc->xfer) : now_ms;
	lt_xfer_sweep(rc->xfer, rc->store);
	if (lt_txn_begin(rc->store, 0, &t, &err) == 0) {
		if (lt_txn_scan(t, LT_DB_TRANSFERS, NULL, 0, lt_inbox_due_cb, &d, &err) != 0)
			d.n = 0;
		lt_txn_abort(t);
	}
	for (size_t i = 0; i < d.n; i++) {
		const char *sender = d.keys[i], *doc_id = sender + strlen(sender) + 1;
		int f = lt_inbox_finish(rc, sender, doc_id, now_ms, &err);
		if (f < 0)
			lt_log_warn("document %s from %s: %s; tried again shortly", doc_id, sender,
			            err.msg);
		failed |= f <= 0;
		finished += f > 0;
	}
	lt_xfer_scanned(rc->xfer, now_ms, failed);
	return finished;
}
