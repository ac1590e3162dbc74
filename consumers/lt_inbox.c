#include "lt_inbox.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../clock/lt_clock.h"
#include "../log/lt_log.h"
#include "../proto/lt_crypt.h"
#include "../proto/lt_envelope.h"
#include "../proto/lt_receipt.h"
#include "lt_deliver.h"

/* Seals a receipt for env's sender and queues it in t. */
static int lt_inbox_queue_receipt(const struct lt_recv *rc, struct lt_txn *t, const char *doc_id,
                                  const char *sender, Lienthong__ReceiptStatus status,
                                  const char *reason, const uint8_t *digest, int64_t now_ms,
                                  lt_err *err)
{
	struct lt_receipt_in in = {
	    .document_id = doc_id,
	    .sender = sender,
	    .status = status,
	    .time_ms = now_ms,
	    .reason = reason,
	    .document_digest = digest,
	};
	uint8_t *buf = NULL;
	size_t len = 0;
	if (lt_receipt_seal(&in, rc->signer, &buf, &len, err) != 0)
		return -1;
	int r = lt_outq_add(t, LIENTHONG__STORE__OUT_KIND__OUT_RECEIPT, doc_id, sender, buf, len,
	                    now_ms, err);
	free(buf);
	return r;
}

static int lt_inbox_put(struct lt_txn *t, const char *doc_id, Lienthong__Store__InboxStatus st,
                        const char *sender, const uint8_t *digest, const char *reason,
                        const char *path, int64_t now_ms, lt_err *err)
{
	Lienthong__Store__InboxRecord r = LIENTHONG__STORE__INBOX_RECORD__INIT;
	r.status = st;
	r.sender = (char *)sender;
	r.digest.data = (uint8_t *)digest;
	r.digest.len = LT_DIGEST_LEN;
	r.at_ms = now_ms;
	r.reason = (char *)reason;
	r.path = (char *)path;
	return lt_txn_put_pb(t, LT_DB_INBOX, doc_id, strlen(doc_id), &r.base, err);
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
 * Quarantines the record and answers the sender, if it can be named, with
 * `status` (rejected or failed). remember: record the outcome under the
 * document id, so a resend gets the same answer (only for verified content).
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
	lt_log_warn("%s %s [%d] @ %lld (document %s from %s): %s", lt_receipt_status_name(status),
	            rec->topic, (int)rec->partition, (long long)rec->offset, doc_id ? doc_id : "?",
	            sender ? sender : "?", reason);
	if (lt_recv_quarantine(t, rec, reason, doc_id, sender, now_ms, err) != 0)
		return -1;
	if (sender != NULL &&
	    lt_inbox_queue_receipt(rc, t, doc_id, sender, status, reason, digest, now_ms, err) != 0)
		return -1;
	if (remember && sender != NULL &&
	    lt_inbox_put(t, doc_id,
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

/*
 * A document id seen before: same content gets its receipt again; other
 * content is a conflict. Returns 1 when handled here, 0 when it is to be
 * delivered (new, or pending: then *pending_since is when its target began
 * to fail, kept across restarts), -1 on error.
 */
static int lt_inbox_seen(const struct lt_recv *rc, struct lt_txn *t, const struct lt_record *rec,
                         const Lienthong__Envelope *env, const uint8_t *digest, int64_t now_ms,
                         int64_t *pending_since, lt_err *err)
{
	const Lienthong__Header *h = env->header;
	const void *val;
	size_t vlen;
	int ret;
	if (lt_txn_get(t, LT_DB_INBOX, h->document_id, strlen(h->document_id), &val, &vlen, err) !=
	    0)
		return -1;
	if (val == NULL)
		return 0;
	Lienthong__Store__InboxRecord *old =
	    lienthong__store__inbox_record__unpack(NULL, vlen, val);
	if (old == NULL)
		return lt_err_set(err, LT_EIO, "inbox record of %s is corrupt", h->document_id);
	int same = old->digest.len == LT_DIGEST_LEN &&
	           memcmp(old->digest.data, digest, LT_DIGEST_LEN) == 0;
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
		lt_log_info("document %s from %s received again: not delivered twice, receipt "
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
	         "conflict: document id %s was received before with other content", h->document_id);
	return lt_inbox_refuse(rc, t, rec, env, LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED, reason,
	                       digest, 0, now_ms, err) == 0
	           ? 1
	           : -1;
}

int lt_inbox_handle(const struct lt_recv *rc, struct lt_txn *t, const struct lt_record *rec,
                    int64_t now_ms, int64_t failing_since_ms, lt_err *err)
{
	Lienthong__Envelope *env = NULL;
	uint8_t digest[LT_DIGEST_LEN];
	char path[PATH_MAX];
	lt_err why;
	int ret = -1;

	if (lt_envelope_decode(rec->value, rec->len, rc->cfg, &env, &why) != 0 ||
	    lt_crypt_open_parts(env, rc->signer, (size_t)rc->cfg->max_message_bytes, &why) != 0 ||
	    lt_envelope_verify(env, rc->trust, digest, &why) != 0) {
		if (why.code == LT_EAGAIN && env != NULL) {
			ret = lt_inbox_wait_crl(rc, t, env, digest, &why, failing_since_ms, now_ms,
			                        err);
			goto out;
		}
		ret = lt_inbox_refuse(rc, t, rec, env, LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED,
		                      why.msg, NULL, 0, now_ms, err);
		goto out;
	}
	const Lienthong__Header *h = env->header;
	if (!lt_inbox_addressed_to(env, rc->cfg->agency_code)) {
		snprintf(why.msg, sizeof why.msg,
		         "misdirected: the document is not addressed to this agency (%s)",
		         rc->cfg->agency_code);
		ret = lt_inbox_refuse(rc, t, rec, env, LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED,
		                      why.msg, digest, 1, now_ms, err);
		goto out;
	}
	if (h->expires_at_ms != 0 && h->expires_at_ms < now_ms) {
		char when[LT_TIME_TEXT];
		lt_time_format(h->expires_at_ms, when, sizeof when);
		snprintf(why.msg, sizeof why.msg, "expired: the document expired at %s", when);
		ret = lt_inbox_refuse(rc, t, rec, env, LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED,
		                      why.msg, digest, 1, now_ms, err);
		goto out;
	}
	int64_t pending_since = 0;
	int seen = lt_inbox_seen(rc, t, rec, env, digest, now_ms, &pending_since, err);
	if (seen != 0) {
		ret = seen > 0 ? 0 : -1;
		goto out;
	}
	if (lt_target_deliver(rc->target, env, path, sizeof path, err) != 0) {
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
				ret = 1;
			goto out;
		}
		snprintf(why.msg, sizeof why.msg, "%s%s",
		         err->code == LT_EINVAL ? "target refused the document: "
		                                : "target kept failing past delivery_deadline_s: ",
		         err->msg);
		ret = lt_inbox_refuse(rc, t, rec, env, LIENTHONG__RECEIPT_STATUS__RECEIPT_FAILED,
		                      why.msg, digest, 1, now_ms, err);
		goto out;
	}
	if (lt_inbox_put(t, h->document_id, LIENTHONG__STORE__INBOX_STATUS__INBOX_DELIVERED,
	                 h->sender, digest, "", path, now_ms, err) != 0 ||
	    lt_inbox_queue_receipt(rc, t, h->document_id, h->sender,
	                           LIENTHONG__RECEIPT_STATUS__RECEIPT_DELIVERED, "", digest, now_ms,
	                           err) != 0)
		goto out;
	lt_log_info("delivered document %s from %s (%zu part(s)) to %s", h->document_id, h->sender,
	            env->n_parts, path);
	ret = 0;
out:
	if (env != NULL)
		lienthong__envelope__free_unpacked(env, NULL);
	return ret;
}
