/*
 * lt_lifecycle: the status of a document this agency sent, per recipient,
 * and the one table of the moves it may make.
 *
 * The sender keeps one status record per (document id, recipient) in the
 * status database (store/lt_store.h). Every change of such a record is an
 * event, and every writer (lt_submit, the forwarder, the receipt handler)
 * applies it through lt_life_apply:
 *
 *   submitted   the document was accepted into the outbox
 *   kafka-ack   Kafka acknowledged the record (partition, offset)
 *   kafka-wait  Kafka did not take the record: it waits (the reason says why)
 *   deferred    the recipient's receipt: verified, its target fails for now
 *   delivered   the recipient's receipt: handed to its target
 *   rejected    the recipient's receipt: refused, a check failed
 *   failed      the recipient's receipt: its target refused it for good
 *
 * lt_life_next says what an event does to a record in a status: refuse it
 * (the record stays exactly as it is), keep the status (the reason, the
 * attempts or the Kafka offset may change), or move it. The table
 * (lt_lifecycle.c), in words:
 *
 *   (none)      submitted -> queued; nothing else applies
 *   queued      kafka-ack -> sent; kafka-wait keeps queued, with the reason;
 *               a receipt moves it as from sent (the acknowledgement may not
 *               be recorded yet), deferred to sent with the recipient's reason
 *   sent        deferred keeps sent, with the recipient's reason (so
 *               `deferred` is "sent, with a reason"); delivered, rejected
 *               and failed move it; Kafka events keep it
 *   delivered   final: rejected, failed and deferred are refused
 *   rejected,   verdicts: the other verdict and deferred are refused;
 *   failed      delivered (the recipient signed that its target has the
 *               document) moves it
 *
 * A repeated verdict and Kafka events (a resend) keep any status; submitted
 * applies only where there is no record. So no replay, late receipt or
 * resend ever turns delivered into rejected or failed.
 *
 * A receipt's event applies only when the change carries the digest
 * recorded for that (document, recipient): only the recipient's statement
 * about the very bytes sent can move a status (the caller has checked that
 * the recipient signed it). Business events from the recipient (every one but
 * recall) are receipts too.
 *
 * Business statuses follow delivery. Their events carry the edXML codes of
 * the national exchange format (QCVN 102:2016); each is a receipt signed by
 * the recipient (statuses of the same name, edXML code in brackets):
 *
 *   arrived (01), refused (02), accepted (03), awaiting-assignment (04),
 *   in-processing (05), processed (06): reported by the recipient
 *   recall-agreed (15), recall-refused (16): its answer to a recall, update
 *   or replacement
 *
 * and one event is the sender's own: recall (13, status recall-requested),
 * recorded when it submits a recall, update or replacement of the document.
 * The order rules, in the table:
 *
 *   delivered   arrived, refused, accepted, recall move it; 04..06 refused
 *               (nothing is processed before it is accepted)
 *   arrived     refused, accepted, recall
 *   refused     final: nothing after 02 (only repeats)
 *   accepted    awaiting-assignment, in-processing, processed, recall
 *   awaiting    in-processing, processed, recall
 *   in-proc.    processed, recall
 *   processed   recall
 *   (a status never goes back: an earlier code after a later one is refused)
 *   queued,     recall moves them: a recall may overtake its document
 *   sent
 *   recall-     recall-agreed, recall-refused move it; business reports,
 *   requested   a deferral or a rejection (a document held back) meanwhile
 *               keep it, recording their reason and time
 *   recall-     final (a repeated 15, the rejection of a held document kept)
 *   agreed
 *   recall-     accepted..processed move it (the recipient goes on: its own
 *   refused     order rules hold there), recall asks again
 *
 * In every business status, Kafka events and a repeated `delivered` receipt
 * keep the status; transport verdicts are refused. The recipient enforces
 * the same table on its own record of a received document
 * (consumers/lt_business.h), so it refuses a report out of order before
 * signing anything. An entry left out of the table is a refusal.
 *
 * Threads: lt_life_next is pure; lt_life_apply writes into the caller's
 * transaction.
 */
#ifndef LT_LIFECYCLE_H
#define LT_LIFECYCLE_H

#include <stdint.h>

#include "../errors/lt_err.h"
#include "../store/lt_store.h"
#include "lienthong.pb-c.h"

enum lt_life_event {
	LT_LIFE_SUBMITTED,
	LT_LIFE_KAFKA_ACK,
	LT_LIFE_KAFKA_WAIT,
	LT_LIFE_DEFERRED,
	LT_LIFE_DELIVERED,
	LT_LIFE_REJECTED,
	LT_LIFE_FAILED,
	LT_LIFE_ARRIVED,    /* 01 */
	LT_LIFE_REFUSE,     /* 02 */
	LT_LIFE_ACCEPTED,   /* 03 */
	LT_LIFE_AWAITING,   /* 04 */
	LT_LIFE_PROCESSING, /* 05 */
	LT_LIFE_PROCESSED,  /* 06 */
	LT_LIFE_RECALL,     /* 13: the sender's own event, no receipt */
	LT_LIFE_AGREED,     /* 15 */
	LT_LIFE_DISAGREED,  /* 16 */
	LT_LIFE_EVENT_COUNT
};

enum lt_life_verdict {
	LT_LIFE_REFUSED = 0,   /* the event may not change this status: nothing written */
	LT_LIFE_KEPT,          /* allowed, the status stays (details may change) */
	LT_LIFE_MOVED,         /* allowed, the status changes */
	LT_LIFE_NO_RECORD,     /* lt_life_apply: no status for (document, recipient) */
	LT_LIFE_OTHER_CONTENT, /* lt_life_apply: the receipt's digest is not the one sent */
};

/*
 * The transition table: what ev does to a record in status cur
 * (LIENTHONG__STORE__DOC_STATUS__DOC_STATUS_UNSPECIFIED: no record yet).
 * Returns LT_LIFE_REFUSED, LT_LIFE_KEPT (*next = cur) or LT_LIFE_MOVED.
 */
enum lt_life_verdict lt_life_next(Lienthong__Store__DocStatus cur, enum lt_life_event ev,
                                  Lienthong__Store__DocStatus *next);

/* The event a receipt status stands for; -1 for a status that is none. */
int lt_life_receipt_event(Lienthong__ReceiptStatus s, enum lt_life_event *ev);

/* The business event of an edXML code ("01".."06", "13", "15", "16"); -1 for another. */
int lt_life_business_event(const char *code, enum lt_life_event *ev);
/* The edXML code of a business event or status ("01", ...); NULL for a transport one. */
const char *lt_life_event_code(enum lt_life_event ev);
const char *lt_life_status_code(Lienthong__Store__DocStatus s);
/* The event or status in words for messages: "06 processed", "delivered". */
const char *lt_life_event_text(enum lt_life_event ev);
const char *lt_life_status_text(Lienthong__Store__DocStatus s);

const char *lt_life_event_name(enum lt_life_event ev);
const char *lt_life_verdict_name(enum lt_life_verdict v);

struct lt_life_change {
	enum lt_life_event event;
	int64_t at_ms;             /* when it happened (a receipt: its signed time) */
	const char *reason;        /* why, when the table records a reason; NULL: none */
	const uint8_t *digest;     /* 32 bytes. submitted: the document's; receipts:
	                              must equal the recorded digest; else unused */
	const char *subject;       /* submitted only */
	int32_t partition;         /* kafka-ack only */
	int64_t offset;            /* kafka-ack only */
	const char *who;           /* who reported it (a person or unit); NULL: none */
	const char *business_code; /* the edXML code of a business event; NULL: none */
	int progress;              /* kafka-wait: a report of a send under way ("sending: N
	                              of M chunks"), not an attempt of its own */
};

/*
 * Applies ch to the status record of (doc_id, recipient) in t, through the
 * table. Kafka events also count an attempt (but a progress report), and kafka-ack records the
 * partition and offset, whatever the status. Returns the verdict (>= 0;
 * nothing is written unless KEPT or MOVED), or -1 with err set on a store
 * error.
 *
 * What is written goes through lt_index_status_write (store/lt_index.h):
 * the record's indexes and counters follow it, and the change is appended
 * to its history (time, event, status after, reason, Kafka position, who,
 * edXML code). A repeat that changes nothing shown (a Kafka retry waiting
 * for the same reason: only the attempts grow) adds no history event, so
 * the history stays bounded.
 */
int lt_life_apply(struct lt_txn *t, const char *doc_id, const char *recipient,
                  const struct lt_life_change *ch, lt_err *err);

#endif
