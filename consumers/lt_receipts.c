#include "lt_receipts.h"

#include <string.h>

#include "../clock/lt_clock.h"
#include "../log/lt_log.h"
#include "../proto/lt_envelope.h"
#include "../proto/lt_receipt.h"

static Lienthong__Store__DocStatus lt_receipts_doc_status(Lienthong__ReceiptStatus s)
{
	switch (s) {
	case LIENTHONG__RECEIPT_STATUS__RECEIPT_DEFERRED:
		return LIENTHONG__STORE__DOC_STATUS__SENT;
	case LIENTHONG__RECEIPT_STATUS__RECEIPT_DELIVERED:
		return LIENTHONG__STORE__DOC_STATUS__DELIVERED;
	case LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED:
		return LIENTHONG__STORE__DOC_STATUS__REJECTED;
	default:
		return LIENTHONG__STORE__DOC_STATUS__FAILED;
	}
}

static int lt_receipts_terminal(Lienthong__Store__DocStatus s)
{
	return s == LIENTHONG__STORE__DOC_STATUS__DELIVERED ||
	       s == LIENTHONG__STORE__DOC_STATUS__REJECTED ||
	       s == LIENTHONG__STORE__DOC_STATUS__FAILED;
}

/* Applies a verified receipt in t; sets why and returns 1 if it must be quarantined. */
static int lt_receipts_apply(struct lt_txn *t, const Lienthong__Receipt *r, lt_err *why,
                             lt_err *err)
{
	Lienthong__Store__StatusRecord *rec = NULL;
	if (lt_status_get(t, r->document_id, r->recipient, &rec, err) != 0)
		return -1;
	if (rec == NULL) {
		lt_err_set(why, LT_ENOTFOUND,
		           "receipt for document %s, which this agency did not send to %s",
		           r->document_id, r->recipient);
		return 1;
	}
	int ret = 0;
	if (r->document_digest.len == LT_DIGEST_LEN && rec->digest.len == LT_DIGEST_LEN &&
	    memcmp(r->document_digest.data, rec->digest.data, LT_DIGEST_LEN) != 0) {
		lt_err_set(why, LT_EVERIFY,
		           "receipt for document %s names other content than was sent",
		           r->document_id);
		ret = 1;
		goto out;
	}
	Lienthong__Store__DocStatus next = lt_receipts_doc_status(r->status);
	int deferred = r->status == LIENTHONG__RECEIPT_STATUS__RECEIPT_DEFERRED;
	if (lt_receipts_terminal(rec->status) && (deferred || rec->updated_at_ms > r->time_ms)) {
		lt_log_debug("older receipt for %s from %s ignored", r->document_id, r->recipient);
		goto out;
	}
	char reason[LT_REASON_MAX + 100], since[LT_TIME_TEXT];
	if (deferred) {
		/* It arrived and verified; its delivery waits for the recipient's target. */
		lt_time_format(r->time_ms, since, sizeof since);
		snprintf(reason, sizeof reason, "at the recipient, target failing since %s: %s",
		         since, r->reason);
	} else {
		snprintf(reason, sizeof reason, "%s", r->reason);
	}
	char *own_reason = rec->reason;
	rec->status = next;
	rec->updated_at_ms = r->time_ms;
	rec->reason = reason; /* local, for the write only */
	ret = lt_status_put(t, r->document_id, r->recipient, rec, err);
	rec->reason = own_reason; /* free_unpacked frees only what unpack allocated */
	if (ret == 0)
		lt_log_info("document %s: %s by %s%s%s", r->document_id, lt_status_name(next),
		            r->recipient, r->reason[0] ? ": " : "", r->reason);
out:
	lienthong__store__status_record__free_unpacked(rec, NULL);
	return ret;
}

int lt_receipts_handle(const struct lt_recv *rc, struct lt_txn *t, const struct lt_record *rec,
                       int64_t now_ms, lt_err *err)
{
	lt_err why;
	int ret = -1, q = 1;
	Lienthong__Receipt *r = lt_receipt_decode(rec->value, rec->len, rc->cfg, &why);
	if (r != NULL) {
		if (strcmp(r->sender, rc->cfg->agency_code) != 0)
			lt_err_set(&why, LT_EINVAL,
			           "receipt addressed to %s, not to this agency (%s)", r->sender,
			           rc->cfg->agency_code);
		else if (lt_receipt_verify(r, rc->trust, &why) == 0)
			q = 0;
		else if (why.code == LT_EAGAIN) {
			*err = why; /* a stale CRL: the receipt waits (retried), not quarantined */
			goto out;
		}
	}
	if (!q) {
		q = lt_receipts_apply(t, r, &why, err);
		if (q < 0)
			goto out;
	}
	if (q) {
		lt_log_warn("quarantined receipt %s [%d] @ %lld: %s", rec->topic,
		            (int)rec->partition, (long long)rec->offset, why.msg);
		if (lt_recv_quarantine(t, rec, why.msg, r ? r->document_id : NULL,
		                       r ? r->recipient : NULL, now_ms, err) != 0)
			goto out;
	}
	ret = 0;
out:
	if (r != NULL)
		lienthong__receipt__free_unpacked(r, NULL);
	return ret;
}
