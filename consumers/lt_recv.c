#include "lt_recv.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/lt_batch.h"
#include "../proto/lt_envelope.h"

struct lt_recv_pending {
	uint8_t *buf; /* the receipt without its signature, then with it */
	size_t len;
	uint8_t digest[LT_DIGEST_LEN];
	char doc_id[LT_DOCID_LEN + 1];
	char sender[LT_CODE_MAX + 1];
	int64_t time_ms;
};

struct lt_recv_receipts {
	struct lt_recv_pending *v;
	size_t n, cap;
	int open;
};

int lt_recv_quarantine(struct lt_txn *t, const struct lt_record *rec, const char *reason,
                       const char *doc_id, const char *sender, int64_t now_ms, lt_err *err)
{
	Lienthong__Store__QuarantineRecord q = LIENTHONG__STORE__QUARANTINE_RECORD__INIT;
	q.at_ms = now_ms;
	q.topic = (char *)rec->topic;
	q.partition = rec->partition;
	q.offset = rec->offset;
	q.reason = (char *)reason;
	q.document_id = (char *)(doc_id ? doc_id : "");
	q.sender = (char *)(sender ? sender : "");
	q.raw.data = (uint8_t *)rec->value;
	q.raw.len = rec->len;
	return lt_quarantine_add(t, &q, err);
}

int lt_recv_queue_receipt(struct lt_txn *t, const struct lt_signer *signer,
                          const struct lt_receipt_in *in, lt_err *err)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	if (lt_receipt_seal(in, signer, &buf, &len, err) != 0)
		return -1;
	int r = lt_outq_add(t, LIENTHONG__STORE__OUT_KIND__OUT_RECEIPT, in->document_id, in->sender,
	                    buf, len, in->time_ms, err);
	free(buf);
	return r;
}

struct lt_recv_receipts *lt_recv_receipts_new(void)
{
	return calloc(1, sizeof(struct lt_recv_receipts));
}

void lt_recv_receipts_free(struct lt_recv_receipts *rr)
{
	if (rr == NULL)
		return;
	lt_recv_receipts_drop(rr, 0);
	free(rr->v);
	free(rr);
}

void lt_recv_receipts_begin(struct lt_recv_receipts *rr)
{
	assert(rr->n == 0 && !rr->open);
	rr->open = 1;
}

size_t lt_recv_receipts_mark(const struct lt_recv_receipts *rr)
{
	return rr->n;
}

void lt_recv_receipts_drop(struct lt_recv_receipts *rr, size_t mark)
{
	while (rr->n > mark)
		free(rr->v[--rr->n].buf);
}

int lt_recv_receipts_flush(struct lt_recv_receipts *rr, struct lt_txn *t,
                           const struct lt_signer *signer, const struct lt_config *cfg, lt_err *err)
{
	size_t n = rr->n;
	uint8_t **bufs = calloc(n ? n : 1, sizeof *bufs);
	size_t *lens = calloc(n ? n : 1, sizeof *lens);
	uint8_t(*digests)[LT_DIGEST_LEN] = calloc(n ? n : 1, sizeof *digests);
	lt_err *errs = calloc(n ? n : 1, sizeof *errs);
	int rc = bufs && lens && digests && errs
	             ? 0
	             : lt_err_set(err, LT_EIO, "out of memory for signing %zu receipts", n);
	if (rc == 0 && n > 0) {
		for (size_t i = 0; i < n; i++) {
			bufs[i] = rr->v[i].buf;
			lens[i] = rr->v[i].len;
			memcpy(digests[i], rr->v[i].digest, LT_DIGEST_LEN);
		}
		rc = lt_batch_seal(bufs, lens, digests, n, LT_BATCH_FIELD_RECEIPT, signer,
		                   (size_t)cfg->max_message_bytes, errs, err);
		for (size_t i = 0; i < n; i++) { /* realloc'd, NULL when refused, or as it was */
			rr->v[i].buf = bufs[i];
			rr->v[i].len = lens[i];
		}
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const struct lt_recv_pending *p = &rr->v[i];
		if (p->buf == NULL) { /* a receipt is small: cannot happen with sane limits */
			*err = errs[i];
			rc = -1;
		} else {
			rc = lt_outq_add(t, LIENTHONG__STORE__OUT_KIND__OUT_RECEIPT, p->doc_id,
			                 p->sender, p->buf, p->len, p->time_ms, err);
		}
	}
	free(errs);
	free(digests);
	free(lens);
	free(bufs);
	lt_recv_receipts_drop(rr, 0);
	rr->open = 0;
	return rc;
}

int lt_recv_receipt(const struct lt_recv *rc, struct lt_txn *t, const struct lt_receipt_in *in,
                    lt_err *err)
{
	struct lt_recv_receipts *rr = rc->receipts;
	if (rr == NULL || !rr->open)
		return lt_recv_queue_receipt(t, rc->signer, in, err);
	if (rr->n == rr->cap) {
		size_t cap = rr->cap ? rr->cap * 2 : 64;
		struct lt_recv_pending *v = realloc(rr->v, cap * sizeof *v);
		if (v == NULL)
			return lt_err_set(err, LT_EIO, "out of memory for receipts");
		rr->v = v;
		rr->cap = cap;
	}
	struct lt_recv_pending *p = &rr->v[rr->n];
	if (lt_receipt_build(in, rc->signer, &p->buf, &p->len, p->digest, err) != 0)
		return -1;
	snprintf(p->doc_id, sizeof p->doc_id, "%s", in->document_id);
	snprintf(p->sender, sizeof p->sender, "%s", in->sender);
	p->time_ms = in->time_ms;
	rr->n++;
	return 0;
}
