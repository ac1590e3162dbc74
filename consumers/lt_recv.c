#include "lt_recv.h"

#include <stdlib.h>

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
