#include "lt_receipts.h"

#include <string.h>

#include "../clock/lt_clock.h"
#include "../federation/lt_hop.h"
#include "../lifecycle/lt_lifecycle.h"
#include "../log/lt_log.h"
#include "../proto/lt_envelope.h"
#include "../proto/lt_receipt.h"
#include "../store/lt_index.h"
#include "lt_edxml_out.h"

/*
 * The reason a business receipt leaves in the status record: the reporter,
 * the comment and, for a recall's answer, the recipient's reason.
 */
static void lt_receipts_business_reason(const Lienthong__Receipt *r, char *out, size_t size)
{
	snprintf(out, size, "%s%s%s%s%s%s", r->reported_by[0] ? "by " : "", r->reported_by,
	         r->reported_by[0] && (r->comment[0] || r->reason[0]) ? ": " : "", r->comment,
	         r->comment[0] && r->reason[0] ? "; " : "", r->reason);
}

/* Why a verified receipt is refused: its document's status says it (refused by the table). */
static int lt_receipts_refused(struct lt_txn *t, const Lienthong__Receipt *r, lt_err *why,
                               lt_err *err)
{
	Lienthong__Store__StatusRecord *rec = NULL;
	if (lt_status_get(t, r->document_id, r->recipient, &rec, err) != 0)
		return -1;
	const char *what = r->status == LIENTHONG__RECEIPT_STATUS__RECEIPT_BUSINESS
	                       ? r->business_code
	                       : lt_receipt_status_name(r->status);
	lt_err_set(why, LT_ECONFLICT,
	           "%s receipt from %s for document %s refused: its status is %s, which a %s "
	           "receipt may not change",
	           what, r->recipient, r->document_id,
	           rec != NULL ? lt_life_status_text(rec->status) : "gone", what);
	if (rec != NULL)
		lienthong__store__status_record__free_unpacked(rec, NULL);
	return 1;
}

/*
 * Applies a verified receipt in t through the lifecycle table; sets why and
 * returns 1 if it must be quarantined (it changes nothing), -1 on error.
 * *moved is set when it changed the document's status.
 */
static int lt_receipts_apply(struct lt_txn *t, const Lienthong__Receipt *r, lt_err *why, int *moved,
                             lt_err *err)
{
	enum lt_life_event ev;
	char reason[LT_REASON_MAX + 100], since[LT_TIME_TEXT];
	if (r->document_digest.len != LT_DIGEST_LEN) {
		lt_err_set(why, LT_EVERIFY,
		           "receipt for document %s carries no document digest: it cannot be "
		           "about the document sent",
		           r->document_id);
		return 1;
	}
	int business = r->status == LIENTHONG__RECEIPT_STATUS__RECEIPT_BUSINESS;
	if (business ? lt_life_business_event(r->business_code, &ev) != 0
	             : lt_life_receipt_event(r->status, &ev) != 0) {
		lt_err_set(why, LT_EINVAL, "receipt has unknown status %d", (int)r->status);
		return 1;
	}
	if (business) {
		lt_receipts_business_reason(r, reason, sizeof reason);
	} else if (ev == LT_LIFE_DEFERRED) {
		/* It arrived and verified; it waits at the recipient (its target fails, or a CRL is
		 * stale). */
		lt_time_format(r->time_ms, since, sizeof since);
		snprintf(reason, sizeof reason, "at the recipient, waiting since %s: %s", since,
		         r->reason);
	} else {
		snprintf(reason, sizeof reason, "%s", r->reason);
	}
	struct lt_life_change ch = {.event = ev,
	                            .at_ms = r->time_ms,
	                            .reason = reason,
	                            .digest = r->document_digest.data,
	                            .who = business && r->reported_by[0] ? r->reported_by : NULL,
	                            .business_code = business ? r->business_code : NULL};
	int v = lt_life_apply(t, r->document_id, r->recipient, &ch, err);
	switch (v) {
	case LT_LIFE_MOVED:
	case LT_LIFE_KEPT:
		if (v == LT_LIFE_KEPT && ev != LT_LIFE_DEFERRED) {
			lt_log_debug("%s receipt for %s from %s again: status kept",
			             lt_receipt_status_name(r->status), r->document_id,
			             r->recipient);
			return 0;
		}
		*moved = v == LT_LIFE_MOVED;
		lt_log_kv(LT_LOG_INFO,
		          (const char *const[]){"document_id", r->document_id, "recipient",
		                                r->recipient, NULL},
		          "document %s: %s by %s%s%s", r->document_id,
		          business ? lt_life_event_text(ev) : lt_receipt_status_name(r->status),
		          r->recipient, reason[0] ? ": " : "", reason);
		return 0;
	case LT_LIFE_NO_RECORD:
		lt_err_set(why, LT_ENOTFOUND,
		           "receipt for document %s, which this agency did not send to %s",
		           r->document_id, r->recipient);
		return 1;
	case LT_LIFE_OTHER_CONTENT:
		lt_err_set(why, LT_EVERIFY,
		           "receipt for document %s names other content than was sent to %s",
		           r->document_id, r->recipient);
		return 1;
	case LT_LIFE_REFUSED:
		return lt_receipts_refused(t, r, why, err);
	default:
		return -1;
	}
}

/* Checks a hop notice (federation/lt_hop.h) against the document sent: 0, 1 with why set, -1. */
static int lt_receipts_hop_check(const struct lt_recv *rc, struct lt_txn *t,
                                 const Lienthong__Receipt *r, Lienthong__Store__StatusRecord **st,
                                 lt_err *why, lt_err *err)
{
	if (r->version != 1 || r->n_hops != 1 || r->document_digest.len != LT_DIGEST_LEN) {
		lt_err_set(
		    why, LT_EINVAL,
		    "malformed hop notice (version 1, one hop and a 32-byte digest expected)");
		return 1;
	}
	if (lt_docid_check(r->document_id, why) != 0 ||
	    lt_config_check_code(rc->cfg, r->recipient, why) != 0)
		return 1;
	if (strcmp(r->sender, rc->cfg->agency_code) != 0) {
		lt_err_set(why, LT_EINVAL, "hop notice addressed to %.64s, not to %s", r->sender,
		           rc->cfg->agency_code);
		return 1;
	}
	if (lt_hop_verify(r->hops[0], r->document_digest.data, rc->trust, why) != 0)
		return 1;
	if (lt_status_get(t, r->document_id, r->recipient, st, err) != 0)
		return -1;
	if (*st == NULL) {
		lt_err_set(why, LT_ENOTFOUND,
		           "hop notice for document %s, which this agency did not send to %s",
		           r->document_id, r->recipient);
		return 1;
	}
	if ((*st)->digest.len != LT_DIGEST_LEN ||
	    memcmp((*st)->digest.data, r->document_digest.data, LT_DIGEST_LEN) != 0) {
		lt_err_set(why, LT_EVERIFY,
		           "hop notice for document %s names other content than was sent to %s",
		           r->document_id, r->recipient);
		return 1;
	}
	return 0;
}

/*
 * Finds a history event "relayed" of the same hop (platform, relay, origin),
 * whatever its time: a notice carried again, or the document carried again
 * after a relay's crash.
 */
struct lt_receipts_seen {
	char at[LT_CODE_MAX + 8], by[2 * LT_CODE_MAX + 32];
	int found;
};

static int lt_receipts_seen_one(void *ctx, const char *recipient,
                                const Lienthong__Store__HistoryEvent *ev, lt_err *err)
{
	struct lt_receipts_seen *s = ctx;
	(void)recipient, (void)err;
	if (strcmp(ev->event, "relayed") == 0 && strncmp(ev->reason, s->at, strlen(s->at)) == 0 &&
	    strstr(ev->reason, s->by) != NULL) {
		s->found = 1;
		return 1;
	}
	return 0;
}

/*
 * A relay's hop notice: 1 when rec is none (an ordinary receipt), else 0
 * (recorded in the document's history, or quarantined) or -1 on error.
 */
static int lt_receipts_hop(const struct lt_recv *rc, struct lt_txn *t, const struct lt_record *rec,
                           int64_t now_ms, lt_err *err)
{
	if (rec->len > (size_t)rc->cfg->max_message_bytes)
		return 1;
	Lienthong__Receipt *r = lienthong__receipt__unpack(NULL, rec->len, rec->value);
	if (r == NULL)
		return 1;
	if (r->status != LIENTHONG__RECEIPT_STATUS__RECEIPT_HOP) {
		lienthong__receipt__free_unpacked(r, NULL);
		return 1;
	}
	Lienthong__Store__StatusRecord *st = NULL;
	lt_err why = {0};
	int ret = -1, q = lt_receipts_hop_check(rc, t, r, &st, &why, err);
	if (q < 0)
		goto out;
	if (q == 0) {
		const Lienthong__Hop *h = r->hops[0];
		char since[LT_TIME_TEXT], reason[LT_CODE_MAX * 3 + LT_TIME_TEXT + 64];
		lt_time_format(h->at_ms, since, sizeof since);
		snprintf(reason, sizeof reason, "at %s since %s (relay %s, from %s)",
		         h->to_platform, since, h->relay, h->from_platform);
		struct lt_history_in ev = {
		    .event = "relayed", .at_ms = h->at_ms, .reason = reason, .offset = -1};
		struct lt_receipts_seen seen = {0};
		snprintf(seen.at, sizeof seen.at, "at %s since ", h->to_platform);
		snprintf(seen.by, sizeof seen.by, "(relay %s, from %s)", h->relay,
		         h->from_platform);
		/* A relay restarted after a crash may carry a notice again: recorded once. */
		if (lt_history_list(t, r->document_id, r->recipient, lt_receipts_seen_one, &seen,
		                    err) != 0)
			goto out;
		if (!seen.found &&
		    lt_index_status_write(t, r->document_id, r->recipient, st, st, &ev, err) != 0)
			goto out;
		if (!seen.found)
			lt_log_info("document %s for %s: %s", r->document_id, r->recipient, reason);
	} else {
		lt_log_warn("quarantined hop notice %s [%d] @ %lld: %s", rec->topic,
		            (int)rec->partition, (long long)rec->offset, why.msg);
		if (lt_recv_quarantine(t, rec, why.msg, r->document_id, r->recipient, now_ms,
		                       err) != 0)
			goto out;
	}
	ret = 0;
out:
	if (st != NULL)
		lienthong__store__status_record__free_unpacked(st, NULL);
	lienthong__receipt__free_unpacked(r, NULL);
	return ret;
}

int lt_receipts_handle(const struct lt_recv *rc, struct lt_txn *t, const struct lt_record *rec,
                       int64_t now_ms, lt_err *err)
{
	lt_err why;
	int ret = -1, q = 1;
	int hop = lt_receipts_hop(rc, t, rec, now_ms, err);
	if (hop <= 0)
		return hop;
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
		int moved = 0;
		q = lt_receipts_apply(t, r, &why, &moved, err);
		if (q < 0)
			goto out;
		/* The document system hears of a business status as an edXML status message. */
		lt_err serr;
		if (moved && r->status == LIENTHONG__RECEIPT_STATUS__RECEIPT_BUSINESS &&
		    rc->cfg->status_dir[0] != '\0' &&
		    lt_edxml_out_status(rc->cfg->status_dir, t, r, &serr) != 0)
			lt_log_warn("document %s: status %s of %s not written for the document "
			            "system: %s",
			            r->document_id, r->business_code, r->recipient, serr.msg);
	}
	if (q) {
		lt_log_kv(LT_LOG_WARN,
		          (const char *const[]){"topic", rec->topic, "document_id",
		                                r ? r->document_id : NULL, NULL},
		          "quarantined receipt %s [%d] @ %lld: %s", rec->topic, (int)rec->partition,
		          (long long)rec->offset, why.msg);
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
