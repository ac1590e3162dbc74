/*
 * Unit tests of lt_business, the recipient's side of business statuses and
 * recalls, on a real LMDB store and folder target (no Kafka): reports in and
 * out of order, the signed receipts they queue, the automatic answer to a
 * recall, the control record in the target, a recall that overtakes its
 * document, and status files in report_dir.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../clock/lt_clock.h"
#include "../../consumers/lt_business.h"
#include "../../consumers/lt_deliver.h"
#include "../../log/lt_log.h"
#include "../../proto/lt_envelope.h"
#include "../../proto/lt_receipt.h"
#include "lt_check.h"
#include "lt_testpki.h"

#define SENDER "SEND.A"
#define NOW now_ms /* receipts are signed now: the certificate is valid */

static int64_t now_ms;

static struct lt_tpki pki;
static struct lt_tca ca;
static struct lt_config cfg;
static struct lt_signer signer;
static struct lt_trust *trust;
static struct lt_store *store;
static struct lt_recv rc;
static uint8_t digest[32] = {7, 7, 7};

static const char *doc(int n)
{
	static char ids[20][LT_DOCID_LEN + 1];
	snprintf(ids[n], sizeof ids[n], "0190f3a2-0000-7000-8000-%012d", n);
	return ids[n];
}

/* The inbox record of a delivered document n, and its folder in the target. */
static void delivered(int n)
{
	char key[64], dir[PATH_MAX];
	size_t a = strlen(SENDER);
	memcpy(key, SENDER, a + 1);
	memcpy(key + a + 1, doc(n), LT_DOCID_LEN);
	Lienthong__Store__InboxRecord r = LIENTHONG__STORE__INBOX_RECORD__INIT;
	r.status = LIENTHONG__STORE__INBOX_STATUS__INBOX_DELIVERED;
	r.sender = SENDER;
	r.digest.data = digest;
	r.digest.len = 32;
	struct lt_txn *t = NULL;
	lt_err err;
	if (CHECK_OK(lt_txn_begin(store, 1, &t, &err), err)) {
		CHECK_OK(lt_txn_put_pb(t, LT_DB_INBOX, key, a + 1 + LT_DOCID_LEN, &r.base, &err),
		         err);
		CHECK_OK(lt_txn_commit(t, &err), err);
	}
	snprintf(dir, sizeof dir, "%s/%s", cfg.target_dir, SENDER);
	mkdir(cfg.target_dir, 0750);
	mkdir(dir, 0750);
	snprintf(dir, sizeof dir, "%s/%s/%s", cfg.target_dir, SENDER, doc(n));
	CHECK(mkdir(dir, 0750) == 0);
}

static int report(int n, const char *code, const char *comment, const char *by, lt_err *err)
{
	struct lt_business_report rep = {.sender = SENDER,
	                                 .document_id = doc(n),
	                                 .code = code,
	                                 .comment = comment,
	                                 .reported_by = by};
	struct lt_txn *t = NULL;
	if (lt_txn_begin(store, 1, &t, err) != 0)
		return -1;
	int v = lt_business_report(&cfg, t, &signer, &rep, NOW, err);
	if (v < 0)
		lt_txn_abort(t);
	else if (lt_txn_commit(t, err) != 0)
		return -1;
	return v;
}

/* Expects report to be refused with code and a message containing want. */
static void refused(int n, const char *code, enum lt_code ecode, const char *want)
{
	lt_err err;
	lt_err_clear(&err);
	CHECK(report(n, code, NULL, NULL, &err) == -1);
	CHECK(err.code == ecode);
	CHECK_STR_CONTAINS(err.msg, want);
}

struct outq_scan {
	size_t n;
	Lienthong__Receipt *last;
};

static int outq_cb(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                   lt_err *err)
{
	struct outq_scan *s = ctx;
	(void)key;
	(void)klen;
	Lienthong__Store__OutItem *it = lienthong__store__out_item__unpack(NULL, vlen, val);
	if (it == NULL)
		return lt_err_set(err, LT_EIO, "bad out item");
	if (it->kind == LIENTHONG__STORE__OUT_KIND__OUT_RECEIPT) {
		s->n++;
		if (s->last != NULL)
			lienthong__receipt__free_unpacked(s->last, NULL);
		s->last = lt_receipt_decode(it->payload.data, it->payload.len, &cfg, err);
	}
	lienthong__store__out_item__free_unpacked(it, NULL);
	return 0;
}

/* How many receipts are queued; *last (if not NULL) gets the last one, verified. */
static size_t receipts(Lienthong__Receipt **last)
{
	struct outq_scan s = {0};
	struct lt_txn *t = NULL;
	lt_err err;
	if (CHECK_OK(lt_txn_begin(store, 0, &t, &err), err)) {
		CHECK_OK(lt_txn_scan(t, LT_DB_OUTQ, NULL, 0, outq_cb, &s, &err), err);
		lt_txn_abort(t);
	}
	if (s.last != NULL)
		CHECK_OK(lt_receipt_verify(s.last, trust, &err), err);
	if (last != NULL)
		*last = s.last;
	else if (s.last != NULL)
		lienthong__receipt__free_unpacked(s.last, NULL);
	return s.n;
}

static int last_is(const char *doc_id, const char *code, const char *text)
{
	Lienthong__Receipt *r = NULL;
	receipts(&r);
	int ok = r != NULL && r->status == LIENTHONG__RECEIPT_STATUS__RECEIPT_BUSINESS &&
	         strcmp(r->document_id, doc_id) == 0 && strcmp(r->business_code, code) == 0 &&
	         strcmp(r->sender, SENDER) == 0 && r->document_digest.len == 32 &&
	         memcmp(r->document_digest.data, digest, 32) == 0 &&
	         (strstr(r->reason, text) != NULL || strstr(r->comment, text) != NULL);
	if (r != NULL)
		lienthong__receipt__free_unpacked(r, NULL);
	return ok;
}

static void test_reports(void)
{
	lt_err err;
	delivered(1);
	size_t before = receipts(NULL);
	refused(1, "06", LT_ECONFLICT,
	        "document 0190f3a2-0000-7000-8000-000000000001 from SEND.A: 06 processed before "
	        "03 accepted is not allowed");
	refused(1, "04", LT_ECONFLICT, "04 awaiting assignment before 03 accepted");
	refused(2, "01", LT_ENOTFOUND, "was never received here");
	refused(1, "07", LT_EINVAL, "status code '07' is not one a recipient reports");
	refused(1, "15", LT_EINVAL, "the agent gives them");
	refused(1, "13", LT_EINVAL, "not one a recipient reports");
	CHECK(receipts(NULL) == before); /* nothing refused was signed */

	CHECK(report(1, "01", NULL, "Văn thư", &err) == 0);
	CHECK(last_is(doc(1), "01", ""));
	CHECK(report(1, "01", NULL, NULL, &err) == 1); /* a repeat: nothing sent */
	CHECK(receipts(NULL) == before + 1);
	CHECK(report(1, "03", "số đến 125", "Văn thư", &err) == 0);
	CHECK(last_is(doc(1), "03", "số đến 125"));
	refused(1, "01", LT_ECONFLICT, "01 arrived after 03 accepted is not allowed");
	refused(1, "02", LT_ECONFLICT, "02 refused after 03 accepted is not allowed");
	CHECK(report(1, "05", NULL, NULL, &err) == 0);
	refused(1, "04", LT_ECONFLICT, "04 awaiting assignment after 05 in processing");
	CHECK(report(1, "06", "xong", "Chuyên viên", &err) == 0);
	CHECK(last_is(doc(1), "06", "xong"));
	CHECK(receipts(NULL) == before + 4);

	/* Nothing follows 02. */
	delivered(3);
	CHECK(report(3, "02", "không thuộc thẩm quyền", NULL, &err) == 0);
	refused(3, "03", LT_ECONFLICT, "03 accepted after 02 refused is not allowed");

	/* Bounds. */
	char long_by[LT_REPORTED_BY_MAX + 2];
	memset(long_by, 'x', sizeof long_by - 1);
	long_by[sizeof long_by - 1] = '\0';
	lt_err_clear(&err);
	CHECK(report(1, "06", NULL, long_by, &err) == -1 && err.code == LT_EINVAL);
	CHECK(report(1, "06", "\xff", NULL, &err) == -1 && err.code == LT_EINVAL);
}

static int control_has(int n, const char *name, const char *want)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s/%s/%s", cfg.target_dir, SENDER, doc(n), name);
	FILE *f = fopen(path, "r");
	char buf[2048] = "";
	if (f == NULL)
		return 0;
	size_t len = fread(buf, 1, sizeof buf - 1, f);
	buf[len] = '\0';
	fclose(f);
	return strstr(buf, want) != NULL;
}

/* Runs lt_business_inbound for a header; returns its verdict. */
static int inbound(Lienthong__Header *h, char *why, size_t why_size)
{
	Lienthong__Envelope env = LIENTHONG__ENVELOPE__INIT;
	char path[PATH_MAX];
	struct lt_txn *t = NULL;
	lt_err err;
	env.header = h;
	if (!CHECK_OK(lt_txn_begin(store, 1, &t, &err), err))
		return -1;
	int v =
	    lt_business_inbound(&rc, t, &env, digest, NOW, path, sizeof path, why, why_size, &err);
	if (v < 0) {
		lt_check(0, __FILE__, __LINE__, "lt_business_inbound", err.msg);
		lt_txn_abort(t);
		return -1;
	}
	CHECK_OK(lt_txn_commit(t, &err), err);
	return v;
}

static Lienthong__Header request(int id, int about, Lienthong__BusinessType type)
{
	Lienthong__Header h = LIENTHONG__HEADER__INIT;
	h.document_id = (char *)doc(id);
	h.sender = SENDER;
	h.replaces_id = (char *)(about ? doc(about) : "");
	h.business_type = type;
	h.subject = "sửa trích yếu";
	return h;
}

static void test_recall(void)
{
	char why[300] = "";
	lt_err err;

	/* Accepted (03), not in processing: agreed; the target has the control record. */
	delivered(4);
	CHECK(report(4, "03", NULL, NULL, &err) == 0);
	Lienthong__Header h = request(5, 4, LIENTHONG__BUSINESS_TYPE__BUSINESS_REVOKE);
	CHECK(inbound(&h, why, sizeof why) == LT_BUSINESS_CONTROL);
	CHECK(last_is(doc(4), "15", "recall agreed"));
	CHECK(control_has(4, ".recall.json", "\"decision\":\"agreed\""));
	CHECK(control_has(4, ".recall.json", doc(5)));
	refused(4, "05", LT_ECONFLICT, "05 in processing after 15 recall agreed is not allowed");

	/* In processing (05): refused, and processing goes on. */
	delivered(6);
	CHECK(report(6, "03", NULL, NULL, &err) == 0);
	CHECK(report(6, "05", NULL, NULL, &err) == 0);
	h = request(7, 6, LIENTHONG__BUSINESS_TYPE__BUSINESS_REVOKE);
	CHECK(inbound(&h, why, sizeof why) == LT_BUSINESS_CONTROL);
	CHECK(last_is(doc(6), "16", "the document is 05 in processing here"));
	CHECK(control_has(6, ".recall.json", "\"code\":\"16\""));
	CHECK(report(6, "06", NULL, NULL, &err) == 0);

	/* An update before processing: agreed, the document goes on; the record has the metadata.
	 */
	delivered(8);
	h = request(9, 8, LIENTHONG__BUSINESS_TYPE__BUSINESS_UPDATE);
	CHECK(inbound(&h, why, sizeof why) == LT_BUSINESS_CONTROL);
	CHECK(last_is(doc(8), "15", "update agreed"));
	CHECK(control_has(8, ".update.json", "sửa trích yếu"));
	CHECK(report(8, "03", NULL, NULL, &err) == 0);

	/* The target system moved the document away: answered all the same, saying so. */
	char dir[PATH_MAX];
	delivered(10);
	snprintf(dir, sizeof dir, "%s/%s/%s", cfg.target_dir, SENDER, doc(10));
	CHECK(rmdir(dir) == 0);
	h = request(11, 10, LIENTHONG__BUSINESS_TYPE__BUSINESS_REVOKE);
	CHECK(inbound(&h, why, sizeof why) == LT_BUSINESS_CONTROL);
	CHECK(last_is(doc(10), "15", "the target system was not told"));
}

static void test_overtake(void)
{
	char why[300] = "";
	/* The recall of document 2 comes first: nothing to answer yet. */
	size_t before = receipts(NULL);
	Lienthong__Header h = request(0, 2, LIENTHONG__BUSINESS_TYPE__BUSINESS_REVOKE);
	CHECK(inbound(&h, why, sizeof why) == LT_BUSINESS_CONTROL);
	CHECK(receipts(NULL) == before);
	/* Then the document: held back, and 15 goes to the sender with its digest. */
	h = request(2, 0, LIENTHONG__BUSINESS_TYPE__BUSINESS_NEW);
	CHECK(inbound(&h, why, sizeof why) == LT_BUSINESS_HELD);
	CHECK_STR_CONTAINS(why, "recalled");
	CHECK(last_is(doc(2), "15", "not delivered"));
	CHECK(inbound(&h, why, sizeof why) == LT_BUSINESS_HELD); /* again: held, nothing sent */
	CHECK(receipts(NULL) == before + 1);
	/* A new document nobody asked about is delivered. */
	Lienthong__Header other = request(3, 0, LIENTHONG__BUSINESS_TYPE__BUSINESS_NEW);
	other.document_id = "0190f3a2-0000-7000-8000-0000000000aa";
	CHECK(inbound(&other, why, sizeof why) == LT_BUSINESS_DELIVER);
}

static void drop(const char *name, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", cfg.report_dir, name);
	CHECK(lt_write_file(path, text) == 0);
}

static int exists(const char *sub, const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s%s%s", cfg.report_dir, sub, sub[0] ? "/" : "", name);
	return stat(path, &st) == 0;
}

static void test_scan(void)
{
	char text[512], path[PATH_MAX];
	delivered(7 + 2); /* document 9 */
	mkdir(cfg.report_dir, 0750);
	snprintf(text, sizeof text,
	         "{\"sender\":\"%s\",\"document_id\":\"%s\",\"code\":\"03\",\"reported_by\":\"Văn "
	         "thư\"}",
	         SENDER, doc(9));
	drop("good.json", text);
	snprintf(text, sizeof text, "{\"sender\":\"%s\",\"document_id\":\"%s\",\"code\":\"06\"}",
	         SENDER, doc(3));
	drop("order.json", text);
	drop("junk.json", "not json");
	drop("extra.json", "{\"sender\":\"SEND.A\",\"colour\":\"red\"}");
	drop(".writing.json", "{}");
	drop("note.txt", "{}");
	CHECK(lt_business_scan(&rc, NOW) == 1);
	CHECK(exists("done", "good.json") && !exists("", "good.json"));
	CHECK(exists("failed", "order.json") && exists("failed", "order.json.error"));
	CHECK(exists("failed", "junk.json") && exists("failed", "extra.json"));
	CHECK(exists("", ".writing.json") && exists("", "note.txt"));
	CHECK(last_is(doc(9), "03", ""));
	snprintf(path, sizeof path, "%s/failed/order.json.error", cfg.report_dir);
	FILE *f = fopen(path, "r");
	char buf[512] = "";
	if (CHECK(f != NULL)) {
		buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
		fclose(f);
	}
	CHECK_STR_CONTAINS(buf, "06 processed after 02 refused is not allowed");
	snprintf(path, sizeof path, "%s/failed/extra.json.error", cfg.report_dir);
	f = fopen(path, "r");
	if (CHECK(f != NULL)) {
		buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
		fclose(f);
	}
	CHECK_STR_CONTAINS(buf, "unknown field \"colour\"");
	CHECK(lt_business_scan(&rc, NOW + 10) == 0); /* at most one scan a second */
}

struct batch_scan {
	char ids[256][LT_DOCID_LEN + 1];
	uint32_t batch[256];
	size_t n;
};

static int batch_cb(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                    lt_err *err)
{
	struct batch_scan *s = ctx;
	(void)key;
	(void)klen;
	Lienthong__Store__OutItem *it = lienthong__store__out_item__unpack(NULL, vlen, val);
	if (it == NULL)
		return lt_err_set(err, LT_EIO, "bad out item");
	Lienthong__Receipt *r =
	    it->kind == LIENTHONG__STORE__OUT_KIND__OUT_RECEIPT
	        ? lt_receipt_decode(it->payload.data, it->payload.len, &cfg, err)
	        : NULL;
	if (r != NULL && s->n < 256 && lt_receipt_verify(r, trust, err) == 0) {
		snprintf(s->ids[s->n], sizeof s->ids[s->n], "%s", r->document_id);
		s->batch[s->n++] = r->signature->batch_size;
	}
	if (r != NULL)
		lienthong__receipt__free_unpacked(r, NULL);
	lienthong__store__out_item__free_unpacked(it, NULL);
	return 0;
}

/* Receipt n (delivered) for the receive loop's collector, in t. */
static int loop_receipt(int n, struct lt_txn *t, lt_err *err)
{
	struct lt_receipt_in in = {.document_id = doc(n),
	                           .sender = SENDER,
	                           .status = LIENTHONG__RECEIPT_STATUS__RECEIPT_DELIVERED,
	                           .time_ms = NOW,
	                           .reason = "",
	                           .document_digest = digest};
	return lt_recv_receipt(&rc, t, &in, err);
}

/*
 * The receive loop's receipts (lt_recv_receipts): collected in a batch, the
 * one of an aborted nested transaction dropped, the rest signed together and
 * queued in the batch's transaction; outside a batch, queued at once.
 */
static void test_loop_receipts(void)
{
	struct lt_txn *t = NULL, *child = NULL;
	struct batch_scan s = {0};
	lt_err err;
	struct lt_recv_receipts *rr = lt_recv_receipts_new();
	if (!CHECK(rr != NULL))
		goto out;
	rc.receipts = rr;
	lt_recv_receipts_begin(rr);
	if (!CHECK_OK(lt_txn_begin(store, 1, &t, &err), err))
		goto out;
	CHECK_OK(lt_txn_begin_nested(t, &child, &err) || loop_receipt(15, child, &err) ||
	             lt_txn_commit(child, &err),
	         err);
	size_t mark = lt_recv_receipts_mark(rr);
	CHECK(mark == 1);
	if (CHECK_OK(lt_txn_begin_nested(t, &child, &err), err)) {
		CHECK_OK(loop_receipt(16, child, &err), err);
		lt_txn_abort(child);
		lt_recv_receipts_drop(rr, mark);
	}
	CHECK_OK(lt_txn_begin_nested(t, &child, &err) || loop_receipt(17, child, &err) ||
	             lt_txn_commit(child, &err),
	         err);
	CHECK_OK(lt_recv_receipts_flush(rr, t, &signer, &cfg, &err), err);
	CHECK(lt_recv_receipts_mark(rr) == 0);
	CHECK_OK(lt_txn_commit(t, &err), err);
	/* Outside a batch: signed alone and queued at once. */
	if (CHECK_OK(lt_txn_begin(store, 1, &t, &err), err)) {
		CHECK_OK(loop_receipt(18, t, &err), err);
		CHECK(lt_recv_receipts_mark(rr) == 0);
		CHECK_OK(lt_txn_commit(t, &err), err);
	}
	if (CHECK_OK(lt_txn_begin(store, 0, &t, &err), err)) {
		CHECK_OK(lt_txn_scan(t, LT_DB_OUTQ, NULL, 0, batch_cb, &s, &err), err);
		lt_txn_abort(t);
	}
	size_t seen = 0;
	for (size_t i = 0; i < s.n; i++) {
		int which = strcmp(s.ids[i], doc(15)) == 0   ? 15
		            : strcmp(s.ids[i], doc(16)) == 0 ? 16
		            : strcmp(s.ids[i], doc(17)) == 0 ? 17
		            : strcmp(s.ids[i], doc(18)) == 0 ? 18
		                                             : 0;
		CHECK(which != 16); /* its nested transaction aborted */
		if (which == 15 || which == 17)
			seen += CHECK(s.batch[i] == 2); /* one signature for both */
		if (which == 18)
			seen += CHECK(s.batch[i] == 0); /* a plain signature */
	}
	CHECK(seen == 3);
out:
	rc.receipts = NULL;
	lt_recv_receipts_free(rr);
}

int main(void)
{
	lt_err err;
	struct lt_tagency a;
	struct lt_target *target = NULL;
	lt_log_init("test_business", LT_LOG_ERROR);
	now_ms = lt_now_ms();
	char extra[PATH_MAX + 64];
	if (!CHECK(lt_tpki_init(&pki) == 0) || !CHECK(lt_tpki_ca(&pki, "ca", "Test CA", &ca) == 0))
		return lt_check_summary();
	struct lt_tagency_opts o = {.cn = "RECV.B", .type = "ec", .issuer = &ca};
	snprintf(extra, sizeof extra, "report_dir = %s/reports\n", pki.dir);
	if (CHECK(lt_tpki_agency(&pki, &o, &a) == 0) &&
	    CHECK_OK(lt_tpki_config(&pki, "b", "RECV.B", &ca, &a, extra, &cfg, &err), err) &&
	    CHECK_OK(lt_signer_load(&signer, cfg.key_file, cfg.cert_file, &err), err) &&
	    CHECK((trust = lt_trust_load(cfg.ca_file, &err)) != NULL) &&
	    CHECK_OK(lt_store_open(&store, cfg.data_dir, 16 << 20, &err), err) &&
	    CHECK((target = lt_target_new(&cfg, &err)) != NULL)) {
		rc = (struct lt_recv){.cfg = &cfg,
		                      .store = store,
		                      .signer = &signer,
		                      .trust = trust,
		                      .target = target};
		LT_RUN(test_reports);
		LT_RUN(test_recall);
		LT_RUN(test_overtake);
		LT_RUN(test_scan);
		LT_RUN(test_loop_receipts);
	}
	lt_target_free(target);
	lt_store_close(store);
	lt_trust_free(trust);
	lt_signer_free(&signer);
	lt_config_free(&cfg);
	lt_tca_free(&ca);
	lt_tpki_done(&pki);
	return lt_check_summary();
}
