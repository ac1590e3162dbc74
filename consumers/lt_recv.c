#include "lt_recv.h"

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
