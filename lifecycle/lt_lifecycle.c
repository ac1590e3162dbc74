#include "lt_lifecycle.h"

#include <string.h>

#include "../proto/lt_envelope.h"
#include "../store/lt_index.h"

#define LT_LIFE_STATUS_COUNT (LIENTHONG__STORE__DOC_STATUS__RECALL_REFUSED + 1)

#define NONE LIENTHONG__STORE__DOC_STATUS__DOC_STATUS_UNSPECIFIED
#define QUEUED LIENTHONG__STORE__DOC_STATUS__QUEUED
#define SENT LIENTHONG__STORE__DOC_STATUS__SENT
#define DELIVERED LIENTHONG__STORE__DOC_STATUS__DELIVERED
#define REJECTED LIENTHONG__STORE__DOC_STATUS__REJECTED
#define FAILED LIENTHONG__STORE__DOC_STATUS__FAILED
#define ARRIVED LIENTHONG__STORE__DOC_STATUS__ARRIVED
#define REFUSED LIENTHONG__STORE__DOC_STATUS__REFUSED
#define ACCEPTED LIENTHONG__STORE__DOC_STATUS__ACCEPTED
#define AWAITING LIENTHONG__STORE__DOC_STATUS__AWAITING_ASSIGNMENT
#define PROCESSING LIENTHONG__STORE__DOC_STATUS__IN_PROCESSING
#define PROCESSED LIENTHONG__STORE__DOC_STATUS__PROCESSED
#define RECALLING LIENTHONG__STORE__DOC_STATUS__RECALL_REQUESTED
#define RECALLED LIENTHONG__STORE__DOC_STATUS__RECALL_AGREED
#define NOT_RECALLED LIENTHONG__STORE__DOC_STATUS__RECALL_REFUSED

struct lt_life_entry {
	enum lt_life_verdict verdict;
	Lienthong__Store__DocStatus next; /* MOVED only */
	int reason;                       /* the change's reason (and time) is recorded */
};

/* Table entries: {MOVE(status)}, {KEEP} or {KEEP_REASON}; left out: refused. */
#define MOVE(s) LT_LIFE_MOVED, (s), 1
#define KEEP LT_LIFE_KEPT, NONE, 0
#define KEEP_REASON LT_LIFE_KEPT, NONE, 1
/* After delivery: a resend and a repeated `delivered` receipt change nothing. */
#define TRANSPORT_DONE                                                                             \
	[LT_LIFE_KAFKA_ACK] = {KEEP}, [LT_LIFE_KAFKA_WAIT] = {KEEP}, [LT_LIFE_DELIVERED] = {KEEP}

/* The one table. An entry left out is {LT_LIFE_REFUSED}. */
static const struct lt_life_entry lt_life_table[LT_LIFE_STATUS_COUNT][LT_LIFE_EVENT_COUNT] =
    {
        [NONE] =
            {
                [LT_LIFE_SUBMITTED] = {MOVE(QUEUED)},
            },
        [QUEUED] =
            {
                [LT_LIFE_KAFKA_ACK] = {MOVE(SENT)},
                [LT_LIFE_KAFKA_WAIT] = {KEEP_REASON},
                [LT_LIFE_DEFERRED] = {MOVE(SENT)},
                [LT_LIFE_DELIVERED] = {MOVE(DELIVERED)},
                [LT_LIFE_REJECTED] = {MOVE(REJECTED)},
                [LT_LIFE_FAILED] = {MOVE(FAILED)},
                [LT_LIFE_RECALL] = {MOVE(RECALLING)},
            },
        [SENT] =
            {
                [LT_LIFE_KAFKA_ACK] = {KEEP},
                [LT_LIFE_KAFKA_WAIT] = {KEEP},
                [LT_LIFE_DEFERRED] = {KEEP_REASON},
                [LT_LIFE_DELIVERED] = {MOVE(DELIVERED)},
                [LT_LIFE_REJECTED] = {MOVE(REJECTED)},
                [LT_LIFE_FAILED] = {MOVE(FAILED)},
                [LT_LIFE_RECALL] = {MOVE(RECALLING)},
            },
        [DELIVERED] =
            {
                TRANSPORT_DONE,
                [LT_LIFE_ARRIVED] = {MOVE(ARRIVED)},
                [LT_LIFE_REFUSE] = {MOVE(REFUSED)},
                [LT_LIFE_ACCEPTED] = {MOVE(ACCEPTED)},
                [LT_LIFE_RECALL] = {MOVE(RECALLING)},
            },
        [REJECTED] =
            {
                [LT_LIFE_KAFKA_ACK] = {KEEP},
                [LT_LIFE_KAFKA_WAIT] = {KEEP},
                [LT_LIFE_DELIVERED] = {MOVE(DELIVERED)},
                [LT_LIFE_REJECTED] = {KEEP},
            },
        [FAILED] =
            {
                [LT_LIFE_KAFKA_ACK] = {KEEP},
                [LT_LIFE_KAFKA_WAIT] = {KEEP},
                [LT_LIFE_DELIVERED] = {MOVE(DELIVERED)},
                [LT_LIFE_FAILED] = {KEEP},
            },
        /* Business statuses: forward only, 04..06 only after 03, nothing after 02. */
        [ARRIVED] =
            {
                TRANSPORT_DONE,
                [LT_LIFE_ARRIVED] = {KEEP},
                [LT_LIFE_REFUSE] = {MOVE(REFUSED)},
                [LT_LIFE_ACCEPTED] = {MOVE(ACCEPTED)},
                [LT_LIFE_RECALL] = {MOVE(RECALLING)},
            },
        [REFUSED] =
            {
                TRANSPORT_DONE,
                [LT_LIFE_REFUSE] = {KEEP},
            },
        [ACCEPTED] =
            {
                TRANSPORT_DONE,
                [LT_LIFE_ACCEPTED] = {KEEP},
                [LT_LIFE_AWAITING] = {MOVE(AWAITING)},
                [LT_LIFE_PROCESSING] = {MOVE(PROCESSING)},
                [LT_LIFE_PROCESSED] = {MOVE(PROCESSED)},
                [LT_LIFE_RECALL] = {MOVE(RECALLING)},
            },
        [AWAITING] =
            {
                TRANSPORT_DONE,
                [LT_LIFE_AWAITING] = {KEEP},
                [LT_LIFE_PROCESSING] = {MOVE(PROCESSING)},
                [LT_LIFE_PROCESSED] = {MOVE(PROCESSED)},
                [LT_LIFE_RECALL] = {MOVE(RECALLING)},
            },
        [PROCESSING] =
            {
                TRANSPORT_DONE,
                [LT_LIFE_PROCESSING] = {KEEP},
                [LT_LIFE_PROCESSED] = {MOVE(PROCESSED)},
                [LT_LIFE_RECALL] = {MOVE(RECALLING)},
            },
        [PROCESSED] =
            {
                TRANSPORT_DONE,
                [LT_LIFE_PROCESSED] = {KEEP},
                [LT_LIFE_RECALL] = {MOVE(RECALLING)},
            },
        /*
         * Recall, update, replacement asked: the recipient answers 15 or 16. What
         * it reports meanwhile, and its verdict on a document it held back, are
         * recorded (reason and time) without leaving the request.
         */
        [RECALLING] =
            {
                TRANSPORT_DONE,
                [LT_LIFE_DEFERRED] = {KEEP_REASON},
                [LT_LIFE_REJECTED] = {KEEP_REASON},
                [LT_LIFE_ARRIVED] = {KEEP_REASON},
                [LT_LIFE_REFUSE] = {KEEP_REASON},
                [LT_LIFE_ACCEPTED] = {KEEP_REASON},
                [LT_LIFE_AWAITING] = {KEEP_REASON},
                [LT_LIFE_PROCESSING] = {KEEP_REASON},
                [LT_LIFE_PROCESSED] = {KEEP_REASON},
                [LT_LIFE_RECALL] = {KEEP},
                [LT_LIFE_AGREED] = {MOVE(RECALLED)},
                [LT_LIFE_DISAGREED] = {MOVE(NOT_RECALLED)},
            },
        [RECALLED] =
            {
                TRANSPORT_DONE,
                [LT_LIFE_REJECTED] = {KEEP},
                [LT_LIFE_AGREED] = {KEEP},
            },
        /* Refused: the recipient goes on with the document (its own order rules hold there). */
        [NOT_RECALLED] =
            {
                TRANSPORT_DONE,
                [LT_LIFE_ACCEPTED] = {MOVE(ACCEPTED)},
                [LT_LIFE_AWAITING] = {MOVE(AWAITING)},
                [LT_LIFE_PROCESSING] = {MOVE(PROCESSING)},
                [LT_LIFE_PROCESSED] = {MOVE(PROCESSED)},
                [LT_LIFE_RECALL] = {MOVE(RECALLING)},
                [LT_LIFE_DISAGREED] = {KEEP},
            },
};

static const struct lt_life_entry *lt_life_entry(Lienthong__Store__DocStatus cur,
                                                 enum lt_life_event ev)
{
	static const struct lt_life_entry refused = {LT_LIFE_REFUSED, NONE, 0};
	if ((int)cur < 0 || (int)cur >= LT_LIFE_STATUS_COUNT || (int)ev < 0 ||
	    ev >= LT_LIFE_EVENT_COUNT)
		return &refused; /* a status this version does not know: left alone */
	return &lt_life_table[cur][ev];
}

enum lt_life_verdict lt_life_next(Lienthong__Store__DocStatus cur, enum lt_life_event ev,
                                  Lienthong__Store__DocStatus *next)
{
	const struct lt_life_entry *e = lt_life_entry(cur, ev);
	*next = e->verdict == LT_LIFE_MOVED ? e->next : cur;
	return e->verdict;
}

int lt_life_receipt_event(Lienthong__ReceiptStatus s, enum lt_life_event *ev)
{
	switch (s) {
	case LIENTHONG__RECEIPT_STATUS__RECEIPT_DEFERRED:
		*ev = LT_LIFE_DEFERRED;
		return 0;
	case LIENTHONG__RECEIPT_STATUS__RECEIPT_DELIVERED:
		*ev = LT_LIFE_DELIVERED;
		return 0;
	case LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED:
		*ev = LT_LIFE_REJECTED;
		return 0;
	case LIENTHONG__RECEIPT_STATUS__RECEIPT_FAILED:
		*ev = LT_LIFE_FAILED;
		return 0;
	default:
		return -1;
	}
}

/* Business events: their edXML code and words; the status each leads to. */
static const struct {
	enum lt_life_event ev;
	const char *code, *text;
	Lienthong__Store__DocStatus status;
} lt_life_business[] = {
    {LT_LIFE_ARRIVED, "01", "01 arrived", ARRIVED},
    {LT_LIFE_REFUSE, "02", "02 refused", REFUSED},
    {LT_LIFE_ACCEPTED, "03", "03 accepted", ACCEPTED},
    {LT_LIFE_AWAITING, "04", "04 awaiting assignment", AWAITING},
    {LT_LIFE_PROCESSING, "05", "05 in processing", PROCESSING},
    {LT_LIFE_PROCESSED, "06", "06 processed", PROCESSED},
    {LT_LIFE_RECALL, "13", "13 recall requested", RECALLING},
    {LT_LIFE_AGREED, "15", "15 recall agreed", RECALLED},
    {LT_LIFE_DISAGREED, "16", "16 recall refused", NOT_RECALLED},
};
#define LT_LIFE_N_BUSINESS (sizeof lt_life_business / sizeof lt_life_business[0])

int lt_life_business_event(const char *code, enum lt_life_event *ev)
{
	for (size_t i = 0; code != NULL && i < LT_LIFE_N_BUSINESS; i++) {
		if (strcmp(code, lt_life_business[i].code) == 0) {
			*ev = lt_life_business[i].ev;
			return 0;
		}
	}
	return -1;
}

const char *lt_life_event_code(enum lt_life_event ev)
{
	for (size_t i = 0; i < LT_LIFE_N_BUSINESS; i++) {
		if (lt_life_business[i].ev == ev)
			return lt_life_business[i].code;
	}
	return NULL;
}

const char *lt_life_status_code(Lienthong__Store__DocStatus s)
{
	for (size_t i = 0; i < LT_LIFE_N_BUSINESS; i++) {
		if (lt_life_business[i].status == s)
			return lt_life_business[i].code;
	}
	return NULL;
}

const char *lt_life_event_text(enum lt_life_event ev)
{
	for (size_t i = 0; i < LT_LIFE_N_BUSINESS; i++) {
		if (lt_life_business[i].ev == ev)
			return lt_life_business[i].text;
	}
	return lt_life_event_name(ev);
}

const char *lt_life_status_text(Lienthong__Store__DocStatus s)
{
	for (size_t i = 0; i < LT_LIFE_N_BUSINESS; i++) {
		if (lt_life_business[i].status == s)
			return lt_life_business[i].text;
	}
	return lt_status_name(s);
}

const char *lt_life_event_name(enum lt_life_event ev)
{
	static const char *const names[LT_LIFE_EVENT_COUNT] = {
	    [LT_LIFE_SUBMITTED] = "submitted",
	    [LT_LIFE_KAFKA_ACK] = "kafka-ack",
	    [LT_LIFE_KAFKA_WAIT] = "kafka-wait",
	    [LT_LIFE_DEFERRED] = "deferred",
	    [LT_LIFE_DELIVERED] = "delivered",
	    [LT_LIFE_REJECTED] = "rejected",
	    [LT_LIFE_FAILED] = "failed",
	    [LT_LIFE_ARRIVED] = "arrived",
	    [LT_LIFE_REFUSE] = "refused",
	    [LT_LIFE_ACCEPTED] = "accepted",
	    [LT_LIFE_AWAITING] = "awaiting-assignment",
	    [LT_LIFE_PROCESSING] = "in-processing",
	    [LT_LIFE_PROCESSED] = "processed",
	    [LT_LIFE_RECALL] = "recall",
	    [LT_LIFE_AGREED] = "recall-agreed",
	    [LT_LIFE_DISAGREED] = "recall-refused",
	};
	return (int)ev >= 0 && ev < LT_LIFE_EVENT_COUNT ? names[ev] : "unknown";
}

const char *lt_life_verdict_name(enum lt_life_verdict v)
{
	switch (v) {
	case LT_LIFE_REFUSED:
		return "refused";
	case LT_LIFE_KEPT:
		return "kept";
	case LT_LIFE_MOVED:
		return "moved";
	case LT_LIFE_NO_RECORD:
		return "no record";
	case LT_LIFE_OTHER_CONTENT:
		return "other content";
	}
	return "unknown";
}

static int lt_life_is_receipt(enum lt_life_event ev)
{
	return ev == LT_LIFE_DEFERRED || ev == LT_LIFE_DELIVERED || ev == LT_LIFE_REJECTED ||
	       ev == LT_LIFE_FAILED || (ev >= LT_LIFE_ARRIVED && ev != LT_LIFE_RECALL);
}

/* The change as its history event says it. */
static struct lt_history_in lt_life_history(const struct lt_life_change *ch)
{
	int ack = ch->event == LT_LIFE_KAFKA_ACK;
	return (struct lt_history_in){.event = lt_life_event_name(ch->event),
	                              .at_ms = ch->at_ms,
	                              .reason = ch->reason,
	                              .partition = ack ? ch->partition : -1,
	                              .offset = ack ? ch->offset : -1,
	                              .who = ch->who,
	                              .business_code = ch->business_code};
}

/* Whether a kept change shows nothing new (only an attempt counted): no history event. */
static int lt_life_unseen(const Lienthong__Store__StatusRecord *before,
                          const Lienthong__Store__StatusRecord *after,
                          const struct lt_life_change *ch)
{
	return before->status == after->status && strcmp(before->reason, after->reason) == 0 &&
	       before->partition == after->partition && before->offset == after->offset &&
	       ch->who == NULL && ch->business_code == NULL;
}

static int lt_life_create(struct lt_txn *t, const char *doc_id, const char *recipient,
                          const struct lt_life_change *ch, lt_err *err)
{
	Lienthong__Store__StatusRecord rec = LIENTHONG__STORE__STATUS_RECORD__INIT;
	rec.status = QUEUED;
	rec.queued_at_ms = ch->at_ms;
	rec.updated_at_ms = ch->at_ms;
	rec.partition = -1;
	rec.offset = -1;
	rec.reason = (char *)(ch->reason ? ch->reason : "");
	rec.subject = (char *)(ch->subject ? ch->subject : "");
	rec.digest.data = (uint8_t *)ch->digest;
	rec.digest.len = ch->digest != NULL ? LT_DIGEST_LEN : 0;
	struct lt_history_in ev = lt_life_history(ch);
	return lt_index_status_write(t, doc_id, recipient, NULL, &rec, &ev, err) == 0
	           ? LT_LIFE_MOVED
	           : -1;
}

int lt_life_apply(struct lt_txn *t, const char *doc_id, const char *recipient,
                  const struct lt_life_change *ch, lt_err *err)
{
	Lienthong__Store__StatusRecord *rec = NULL;
	if (lt_status_get(t, doc_id, recipient, &rec, err) != 0)
		return -1;
	if (rec == NULL)
		return ch->event == LT_LIFE_SUBMITTED
		           ? lt_life_create(t, doc_id, recipient, ch, err)
		           : LT_LIFE_NO_RECORD;
	int ret;
	if (lt_life_is_receipt(ch->event) &&
	    (ch->digest == NULL || rec->digest.len != LT_DIGEST_LEN ||
	     memcmp(rec->digest.data, ch->digest, LT_DIGEST_LEN) != 0)) {
		ret = LT_LIFE_OTHER_CONTENT;
		goto out;
	}
	const struct lt_life_entry *e = lt_life_entry(rec->status, ch->event);
	int kafka = ch->event == LT_LIFE_KAFKA_ACK || ch->event == LT_LIFE_KAFKA_WAIT;
	ret = e->verdict;
	if (ret == LT_LIFE_REFUSED || (ret == LT_LIFE_KEPT && !e->reason && !kafka))
		goto out;                             /* refused, or a repeat: nothing to write */
	char *own_reason = rec->reason;               /* restored before free_unpacked */
	Lienthong__Store__StatusRecord before = *rec; /* shallow: its strings stay rec's own */
	if (ret == LT_LIFE_MOVED)
		rec->status = e->next;
	if (e->reason) {
		rec->reason = (char *)(ch->reason ? ch->reason : "");
		rec->updated_at_ms = ch->at_ms;
	}
	if (kafka && !ch->progress)
		rec->attempts++;
	if (ch->event == LT_LIFE_KAFKA_ACK) {
		rec->partition = ch->partition;
		rec->offset = ch->offset;
	}
	struct lt_history_in ev = lt_life_history(ch);
	int rc = lt_index_status_write(t, doc_id, recipient, &before, rec,
	                               lt_life_unseen(&before, rec, ch) ? NULL : &ev, err);
	rec->reason = own_reason;
	if (rc != 0)
		ret = -1;
out:
	lienthong__store__status_record__free_unpacked(rec, NULL);
	return ret;
}
