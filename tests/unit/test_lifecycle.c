/*
 * Unit tests of lt_lifecycle: every move of the transition table, allowed or
 * refused, against a table written out here independently; and lt_life_apply
 * on a real LMDB store (no Kafka): what is written, what is left alone.
 */
#include <stdlib.h>
#include <string.h>

#include "../../lifecycle/lt_lifecycle.h"
#include "lt_check.h"
#include "lt_testpki.h"

#define NOW 1767225600000LL
#define NSTATUS 15

static char tmp[64];
static struct lt_store *store;

/*
 * Rows: no record, then the statuses in enum order. Columns: the events in
 * enum order (submitted, kafka-ack, kafka-wait, deferred, delivered,
 * rejected, failed, then the edXML ones 01 02 03 04 05 06 13 15 16). '-'
 * refused, '=' kept, else the status moved to: Q queued, S sent, D
 * delivered, R rejected, F failed, a arrived, x refused, c accepted, w
 * awaiting assignment, p in processing, P processed, r recall requested,
 * g recall agreed, n recall refused.
 */
static const char *const expected[NSTATUS] = {
    /*                        transport  01..06 13 15 16 */
    /* none                */ "Q---------------",
    /* queued              */ "-S=SDRF------r--",
    /* sent                */ "-===DRF------r--",
    /* delivered           */ "-==-=--axc---r--",
    /* rejected            */ "-==-D=----------",
    /* failed              */ "-==-D-=---------",
    /* arrived (01)        */ "-==-=--=xc---r--",
    /* refused (02)        */ "-==-=---=-------",
    /* accepted (03)       */ "-==-=----=wpPr--",
    /* awaiting (04)       */ "-==-=-----=pPr--",
    /* in processing (05)  */ "-==-=------=Pr--",
    /* processed (06)      */ "-==-=-------=r--",
    /* recall requested    */ "-=====-=======gn",
    /* recall agreed (15)  */ "-==-==--------=-",
    /* recall refused (16) */ "-==-=----cwpPr-=",
};

static char cell(Lienthong__Store__DocStatus cur, enum lt_life_event ev)
{
	Lienthong__Store__DocStatus next = (Lienthong__Store__DocStatus)99;
	enum lt_life_verdict v = lt_life_next(cur, ev, &next);
	if (v == LT_LIFE_REFUSED)
		return next == cur ? '-' : '?';
	if (v == LT_LIFE_KEPT)
		return next == cur ? '=' : '?';
	if (v != LT_LIFE_MOVED || next == cur)
		return '?';
	return "?QSDRFaxcwpPrgn"[next];
}

static void test_table(void)
{
	_Static_assert(LT_LIFE_EVENT_COUNT == 16, "the expected table has one column per event");
	for (int s = 0; s < NSTATUS; s++) {
		for (int e = 0; e < LT_LIFE_EVENT_COUNT; e++) {
			char got = cell((Lienthong__Store__DocStatus)s, (enum lt_life_event)e);
			char detail[160];
			snprintf(
			    detail, sizeof detail, "from %s on %s: expected '%c', table says '%c'",
			    s == 0 ? "no record" : lt_status_name((Lienthong__Store__DocStatus)s),
			    lt_life_event_name((enum lt_life_event)e), expected[s][e], got);
			lt_check(got == expected[s][e], __FILE__, __LINE__, "table entry",
			         got == expected[s][e] ? NULL : detail);
		}
	}
}

/* The guarantees, stated on their own. */
static void test_guarantees(void)
{
	Lienthong__Store__DocStatus next;
	const enum lt_life_event downgrades[] = {LT_LIFE_DEFERRED, LT_LIFE_REJECTED, LT_LIFE_FAILED,
	                                         LT_LIFE_SUBMITTED};
	for (size_t i = 0; i < sizeof downgrades / sizeof downgrades[0]; i++)
		CHECK(lt_life_next(LIENTHONG__STORE__DOC_STATUS__DELIVERED, downgrades[i], &next) ==
		          LT_LIFE_REFUSED &&
		      next == LIENTHONG__STORE__DOC_STATUS__DELIVERED);
	for (int s = 0; s < NSTATUS; s++) {
		for (int e = 0; e < LT_LIFE_EVENT_COUNT; e++) {
			lt_life_next((Lienthong__Store__DocStatus)s, (enum lt_life_event)e, &next);
			/* Delivered (and what follows it) never becomes a transport failure. */
			if (s == LIENTHONG__STORE__DOC_STATUS__DELIVERED ||
			    s >= LIENTHONG__STORE__DOC_STATUS__ARRIVED)
				CHECK(next != LIENTHONG__STORE__DOC_STATUS__REJECTED &&
				      next != LIENTHONG__STORE__DOC_STATUS__FAILED &&
				      next != LIENTHONG__STORE__DOC_STATUS__SENT);
			if (s != 0)
				CHECK(next != LIENTHONG__STORE__DOC_STATUS__QUEUED ||
				      s == LIENTHONG__STORE__DOC_STATUS__QUEUED);
		}
	}
	/* Statuses and events this version does not know are refused. */
	CHECK(lt_life_next((Lienthong__Store__DocStatus)17, LT_LIFE_DELIVERED, &next) ==
	      LT_LIFE_REFUSED);
	CHECK(lt_life_next(LIENTHONG__STORE__DOC_STATUS__SENT, LT_LIFE_EVENT_COUNT, &next) ==
	      LT_LIFE_REFUSED);
	enum lt_life_event ev;
	CHECK(lt_life_receipt_event(LIENTHONG__RECEIPT_STATUS__RECEIPT_DELIVERED, &ev) == 0 &&
	      ev == LT_LIFE_DELIVERED);
	CHECK(lt_life_receipt_event(LIENTHONG__RECEIPT_STATUS__RECEIPT_DEFERRED, &ev) == 0 &&
	      ev == LT_LIFE_DEFERRED);
	CHECK(lt_life_receipt_event(LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED, &ev) == 0 &&
	      ev == LT_LIFE_REJECTED);
	CHECK(lt_life_receipt_event(LIENTHONG__RECEIPT_STATUS__RECEIPT_FAILED, &ev) == 0 &&
	      ev == LT_LIFE_FAILED);
	CHECK(lt_life_receipt_event(LIENTHONG__RECEIPT_STATUS__RECEIPT_STATUS_UNSPECIFIED, &ev) ==
	      -1);
}

static const char *const doc = "0190f3a2-0001-7000-8000-000000000001";
static const uint8_t digest[32] = {1, 2, 3};
static const uint8_t other[32] = {9, 9, 9};

static int apply(const struct lt_life_change *ch, const char *recipient)
{
	struct lt_txn *t = NULL;
	lt_err err;
	int v = -1;
	if (!CHECK_OK(lt_txn_begin(store, 1, &t, &err), err))
		return -1;
	v = lt_life_apply(t, doc, recipient, ch, &err);
	if (v < 0) {
		lt_check(0, __FILE__, __LINE__, "lt_life_apply", err.msg);
		lt_txn_abort(t);
		return -1;
	}
	CHECK_OK(lt_txn_commit(t, &err), err);
	return v;
}

static Lienthong__Store__StatusRecord *get(const char *recipient)
{
	struct lt_txn *t = NULL;
	Lienthong__Store__StatusRecord *rec = NULL;
	lt_err err;
	if (CHECK_OK(lt_txn_begin(store, 0, &t, &err), err)) {
		CHECK_OK(lt_status_get(t, doc, recipient, &rec, &err), err);
		lt_txn_abort(t);
	}
	return rec;
}

/* The record of recipient has status s, reason (prefix) and updated time. */
static int record_is(const char *recipient, Lienthong__Store__DocStatus s, const char *reason,
                     int64_t updated)
{
	Lienthong__Store__StatusRecord *rec = get(recipient);
	int ok = rec != NULL && rec->status == s && strcmp(rec->reason, reason) == 0 &&
	         rec->updated_at_ms == updated;
	if (rec != NULL)
		lienthong__store__status_record__free_unpacked(rec, NULL);
	return ok;
}

static void test_apply(void)
{
	struct lt_life_change ch = {
	    .event = LT_LIFE_SUBMITTED, .at_ms = NOW, .digest = digest, .subject = "subject"};
	CHECK(apply(&ch, "RECV.B") == LT_LIFE_MOVED);
	CHECK(record_is("RECV.B", LIENTHONG__STORE__DOC_STATUS__QUEUED, "", NOW));
	CHECK(apply(&ch, "RECV.B") == LT_LIFE_REFUSED); /* submitted twice */

	/* Kafka fails, then acknowledges: attempts counted, offset recorded. */
	ch = (struct lt_life_change){
	    .event = LT_LIFE_KAFKA_WAIT, .at_ms = NOW + 1, .reason = "waiting: Kafka fails"};
	CHECK(apply(&ch, "RECV.B") == LT_LIFE_KEPT);
	CHECK(record_is("RECV.B", LIENTHONG__STORE__DOC_STATUS__QUEUED, "waiting: Kafka fails",
	                NOW + 1));
	ch = (struct lt_life_change){
	    .event = LT_LIFE_KAFKA_ACK, .at_ms = NOW + 2, .partition = 2, .offset = 40};
	CHECK(apply(&ch, "RECV.B") == LT_LIFE_MOVED);
	CHECK(record_is("RECV.B", LIENTHONG__STORE__DOC_STATUS__SENT, "", NOW + 2));

	/* Receipts: no record, no digest, other digest change nothing. */
	ch = (struct lt_life_change){.event = LT_LIFE_REJECTED, .at_ms = NOW + 3, .reason = "no"};
	CHECK(apply(&ch, "RECV.C") == LT_LIFE_NO_RECORD);
	CHECK(apply(&ch, "RECV.B") == LT_LIFE_OTHER_CONTENT);
	ch.digest = other;
	CHECK(apply(&ch, "RECV.B") == LT_LIFE_OTHER_CONTENT);
	CHECK(record_is("RECV.B", LIENTHONG__STORE__DOC_STATUS__SENT, "", NOW + 2));

	/* Deferred: sent with the recipient's reason. */
	ch = (struct lt_life_change){
	    .event = LT_LIFE_DEFERRED, .at_ms = NOW + 4, .reason = "target down", .digest = digest};
	CHECK(apply(&ch, "RECV.B") == LT_LIFE_KEPT);
	CHECK(record_is("RECV.B", LIENTHONG__STORE__DOC_STATUS__SENT, "target down", NOW + 4));

	/* Delivered, then every later downgrade is refused and changes nothing. */
	ch.event = LT_LIFE_DELIVERED;
	ch.at_ms = NOW + 5;
	ch.reason = "";
	CHECK(apply(&ch, "RECV.B") == LT_LIFE_MOVED);
	CHECK(record_is("RECV.B", LIENTHONG__STORE__DOC_STATUS__DELIVERED, "", NOW + 5));
	const enum lt_life_event later[] = {LT_LIFE_REJECTED, LT_LIFE_FAILED, LT_LIFE_DEFERRED,
	                                    LT_LIFE_SUBMITTED};
	for (size_t i = 0; i < sizeof later / sizeof later[0]; i++) {
		ch = (struct lt_life_change){.event = later[i],
		                             .at_ms = NOW + 60000,
		                             .reason = "replayed",
		                             .digest = digest};
		CHECK(apply(&ch, "RECV.B") == LT_LIFE_REFUSED);
	}
	ch.event = LT_LIFE_DELIVERED;
	CHECK(apply(&ch, "RECV.B") == LT_LIFE_KEPT); /* a repeat: nothing written */
	CHECK(record_is("RECV.B", LIENTHONG__STORE__DOC_STATUS__DELIVERED, "", NOW + 5));

	/* A resend acknowledged after the verdict: the offset is recorded, the verdict stays. */
	ch = (struct lt_life_change){
	    .event = LT_LIFE_KAFKA_ACK, .at_ms = NOW + 6, .partition = 1, .offset = 77};
	CHECK(apply(&ch, "RECV.B") == LT_LIFE_KEPT);
	Lienthong__Store__StatusRecord *rec = get("RECV.B");
	if (CHECK(rec != NULL)) {
		CHECK(rec->status == LIENTHONG__STORE__DOC_STATUS__DELIVERED);
		CHECK(rec->partition == 1 && rec->offset == 77);
		CHECK(rec->attempts == 3);
		CHECK(rec->queued_at_ms == NOW && rec->updated_at_ms == NOW + 5);
		CHECK(strcmp(rec->subject, "subject") == 0);
		CHECK(rec->digest.len == 32 && memcmp(rec->digest.data, digest, 32) == 0);
		lienthong__store__status_record__free_unpacked(rec, NULL);
	}

	/* A refusal then a delivery: delivered wins; the other verdict does not. */
	ch = (struct lt_life_change){.event = LT_LIFE_SUBMITTED, .at_ms = NOW, .digest = digest};
	CHECK(apply(&ch, "RECV.A") == LT_LIFE_MOVED);
	ch = (struct lt_life_change){
	    .event = LT_LIFE_REJECTED, .at_ms = NOW + 1, .reason = "expired", .digest = digest};
	CHECK(apply(&ch, "RECV.A") == LT_LIFE_MOVED);
	ch.event = LT_LIFE_FAILED;
	ch.reason = "target refused";
	CHECK(apply(&ch, "RECV.A") == LT_LIFE_REFUSED);
	CHECK(record_is("RECV.A", LIENTHONG__STORE__DOC_STATUS__REJECTED, "expired", NOW + 1));
	ch.event = LT_LIFE_DELIVERED;
	ch.reason = "";
	ch.at_ms = NOW + 2;
	CHECK(apply(&ch, "RECV.A") == LT_LIFE_MOVED);
	CHECK(record_is("RECV.A", LIENTHONG__STORE__DOC_STATUS__DELIVERED, "", NOW + 2));
}

/* A document's business life at the sender: codes, digests, order, recall. */
static void test_business(void)
{
	static const char *const codes[] = {"01", "02", "03", "04", "05", "06", "13", "15", "16"};
	enum lt_life_event ev;
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		CHECK(lt_life_business_event(codes[i], &ev) == 0 &&
		      (size_t)ev == LT_LIFE_ARRIVED + i &&
		      strcmp(lt_life_event_code(ev), codes[i]) == 0);
	}
	CHECK(lt_life_business_event("07", &ev) == -1);
	CHECK(lt_life_business_event("", &ev) == -1);
	CHECK(lt_life_business_event(NULL, &ev) == -1);
	CHECK(lt_life_event_code(LT_LIFE_DELIVERED) == NULL);
	CHECK(strcmp(lt_life_status_code(LIENTHONG__STORE__DOC_STATUS__PROCESSED), "06") == 0);
	CHECK(lt_life_status_code(LIENTHONG__STORE__DOC_STATUS__SENT) == NULL);
	CHECK(strcmp(lt_life_event_text(LT_LIFE_PROCESSED), "06 processed") == 0);
	CHECK(strcmp(lt_life_status_text(LIENTHONG__STORE__DOC_STATUS__ACCEPTED), "03 accepted") ==
	      0);
	CHECK(strcmp(lt_life_status_text(LIENTHONG__STORE__DOC_STATUS__DELIVERED), "delivered") ==
	      0);

	const char *r = "RECV.BIZ";
	struct lt_life_change ch = {.event = LT_LIFE_SUBMITTED, .at_ms = NOW, .digest = digest};
	CHECK(apply(&ch, r) == LT_LIFE_MOVED);
	ch =
	    (struct lt_life_change){.event = LT_LIFE_DELIVERED, .at_ms = NOW + 1, .digest = digest};
	CHECK(apply(&ch, r) == LT_LIFE_MOVED);
	/* A business receipt without the document's digest changes nothing. */
	ch = (struct lt_life_change){
	    .event = LT_LIFE_ACCEPTED, .at_ms = NOW + 2, .reason = "registered", .who = "clerk"};
	CHECK(apply(&ch, r) == LT_LIFE_OTHER_CONTENT);
	ch.digest = other;
	CHECK(apply(&ch, r) == LT_LIFE_OTHER_CONTENT);
	/* 06 before 03 is refused; 03 then 06 moves. */
	ch =
	    (struct lt_life_change){.event = LT_LIFE_PROCESSED, .at_ms = NOW + 2, .digest = digest};
	CHECK(apply(&ch, r) == LT_LIFE_REFUSED);
	CHECK(record_is(r, LIENTHONG__STORE__DOC_STATUS__DELIVERED, "", NOW + 1));
	ch = (struct lt_life_change){.event = LT_LIFE_ACCEPTED,
	                             .at_ms = NOW + 3,
	                             .reason = "registered",
	                             .digest = digest,
	                             .who = "clerk",
	                             .business_code = "03"};
	CHECK(apply(&ch, r) == LT_LIFE_MOVED);
	CHECK(record_is(r, LIENTHONG__STORE__DOC_STATUS__ACCEPTED, "registered", NOW + 3));
	ch.event = LT_LIFE_PROCESSED;
	ch.at_ms = NOW + 4;
	ch.reason = "done";
	CHECK(apply(&ch, r) == LT_LIFE_MOVED);
	ch.event = LT_LIFE_PROCESSING; /* back to 05: refused */
	CHECK(apply(&ch, r) == LT_LIFE_REFUSED);
	CHECK(record_is(r, LIENTHONG__STORE__DOC_STATUS__PROCESSED, "done", NOW + 4));
	/* The sender's recall needs no digest; the recipient's 16 then ends it. */
	ch = (struct lt_life_change){.event = LT_LIFE_RECALL, .at_ms = NOW + 5, .reason = "recall"};
	CHECK(apply(&ch, r) == LT_LIFE_MOVED);
	CHECK(record_is(r, LIENTHONG__STORE__DOC_STATUS__RECALL_REQUESTED, "recall", NOW + 5));
	ch = (struct lt_life_change){
	    .event = LT_LIFE_DISAGREED, .at_ms = NOW + 6, .reason = "processed", .digest = digest};
	CHECK(apply(&ch, r) == LT_LIFE_MOVED);
	CHECK(record_is(r, LIENTHONG__STORE__DOC_STATUS__RECALL_REFUSED, "processed", NOW + 6));
	ch.event = LT_LIFE_AGREED; /* no request pending */
	CHECK(apply(&ch, r) == LT_LIFE_REFUSED);
}

static void test_names(void)
{
	CHECK(strcmp(lt_life_event_name(LT_LIFE_KAFKA_WAIT), "kafka-wait") == 0);
	CHECK(strcmp(lt_life_event_name(LT_LIFE_EVENT_COUNT), "unknown") == 0);
	CHECK(strcmp(lt_life_verdict_name(LT_LIFE_OTHER_CONTENT), "other content") == 0);
}

int main(void)
{
	lt_err err;
	if (lt_tmpdir_new(tmp, sizeof tmp) != 0)
		return 1;
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/data", tmp);
	LT_RUN(test_table);
	LT_RUN(test_guarantees);
	LT_RUN(test_names);
	if (CHECK_OK(lt_store_open(&store, dir, 16 << 20, &err), err)) {
		LT_RUN(test_apply);
		LT_RUN(test_business);
		lt_store_close(store);
	}
	lt_tmpdir_remove(tmp);
	return lt_check_summary();
}
