/*
 * lt_business: the recipient's side of a received document's business life.
 *
 * Reports. After a document is delivered, the recipient reports its business
 * statuses, with the codes of the edXML exchange format: 01 arrived, 02
 * refused, 03 accepted, 04 awaiting assignment, 05 in processing, 06
 * processed; from lienthong-report or from a status file the target system
 * drops into report_dir (lt_business_scan). The business record of the
 * document (sender, document id) keeps where it is; a report goes through
 * the same transition table as the sender's record (lifecycle/lt_lifecycle.h),
 * so a report out of order is refused with a message saying why, e.g.
 * "document X from A: 06 processed before 03 accepted is not allowed", and
 * nothing is signed or sent. An accepted report becomes a signed business
 * receipt to the sender (code, time, comment, reporter, the document's
 * digest); a repeated one changes nothing and sends nothing.
 *
 * Recall, update, replacement (lt_business_inbound). A verified document
 * whose business type is REVOKE, UPDATE or REPLACE asks about the earlier
 * document replaces_id from the same sender. Policy (automatic, so that the
 * sender learns at once): the recipient agrees (15) while the document is
 * not yet in processing here (delivered, 01, 03 or 04), and refuses (16)
 * once it is (05, 06) or was refused (02). The target is told through a
 * control record beside the document (lt_target_control): the folder target
 * gets <target_dir>/<sender>/<id>/.recall.json, .update.json or
 * .replace.json; the HTTP target a JSON POST; both say what was asked and
 * what was answered. The answer travels to the sender as a business receipt
 * about the earlier document (15 or 16, with the reason). A recalled or
 * replaced document is not reported on again (15 is final here); an updated
 * one goes on.
 *
 * A recall or replacement that comes before its document (or while the
 * document waits for its target) holds it back: when the document comes, it
 * is not delivered (lt_inbox quarantines it as rejected, with the reason),
 * and the sender gets 15. An update that comes before its document is
 * answered 16 when the document comes (the update is to be sent again).
 *
 * Writes into the caller's transaction; runs in the agent's main loop or in
 * lienthong-report. lt_business_inbound writes the control record (target
 * I/O, small and rare) before the caller commits: writing it again is
 * harmless (replaced). Documents themselves are delivered outside any write
 * transaction (lt_inbox_deliver), after lt_business_holds said so.
 */
#ifndef LT_BUSINESS_H
#define LT_BUSINESS_H

#include <stddef.h>
#include <stdint.h>

#include "../errors/lt_err.h"
#include "../proto/lt_sign.h"
#include "../store/lt_store.h"
#include "lienthong.pb-c.h"
#include "lt_recv.h"

struct lt_business_report {
	const char *sender;      /* the document's sender (agency code) */
	const char *document_id; /* the received document */
	const char *code;        /* "01".."06" */
	const char *comment;     /* may be NULL */
	const char *reported_by; /* the person or unit; may be NULL */
};

/*
 * Applies a report in t and queues its signed receipt. Returns 0 when
 * applied, 1 when it repeats the status already recorded (nothing sent),
 * -1 with err: LT_EINVAL (malformed report), LT_ENOTFOUND (never received),
 * LT_ECONFLICT (not delivered here, or out of order), else a store error.
 */
int lt_business_report(const struct lt_config *cfg, struct lt_txn *t,
                       const struct lt_signer *signer, const struct lt_business_report *rep,
                       int64_t now_ms, lt_err *err);

enum lt_business_verdict {
	LT_BUSINESS_DELIVER = 0, /* deliver the document to the target as usual */
	LT_BUSINESS_CONTROL = 1, /* a recall or update, handled: path names its control record */
	LT_BUSINESS_HELD = 2,    /* recalled before delivery: do not deliver; why says so */
};

/*
 * Called for a verified document addressed to this agency, before delivery.
 * Returns a verdict (path: the control record, "" when there is none yet),
 * or -1 with err (the record is to be handled again later).
 */
int lt_business_inbound(const struct lt_recv *rc, struct lt_txn *t, const Lienthong__Envelope *env,
                        const uint8_t *digest, int64_t now_ms, char *path, size_t path_size,
                        char *why, size_t why_size, lt_err *err);

/*
 * Applies the status files in report_dir (at most one scan a second, a
 * bounded number of files per scan), each in its own transaction, and moves
 * each into report_dir/done/ or report_dir/failed/ (with <name>.error). A
 * file that cannot be applied for a store error stays for the next scan.
 * Returns how many files were applied. Main loop thread.
 */
size_t lt_business_scan(const struct lt_recv *rc, int64_t now_ms);

/*
 * Read-only, before delivery and outside any write transaction: *holds is 1
 * when the document in h is not to be delivered to the target now (a recall
 * or update, which lt_business_inbound answers; or a document a recall that
 * came first holds back), 0 when lt_business_inbound will say DELIVER.
 */
int lt_business_holds(struct lt_txn *t, const Lienthong__Header *h, int *holds, lt_err *err);

#endif
