#include "lt_quarantine.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "../clock/lt_clock.h"
#include "../text/lt_text.h"

static void lt_quarantine_print(uint64_t seq, const Lienthong__Store__QuarantineRecord *q, int json,
                                FILE *out)
{
	char at[LT_TIME_TEXT], kept[64] = "";
	/* Records kept before lengths were recorded hold their whole bytes. */
	uint64_t full = q->raw_length > q->raw.len ? q->raw_length : q->raw.len;
	lt_time_format(q->at_ms, at, sizeof at);
	if (full > q->raw.len)
		snprintf(kept, sizeof kept, " (first %zu kept)", q->raw.len);
	if (!json) {
		/* Ids, codes and reasons quote the bad record: shown escaped (lt_text.h). */
		fprintf(out, "%-6llu %s  ", (unsigned long long)seq, at);
		lt_text_fputs(q->topic, out);
		fprintf(out, " [%d] @ %lld  ", (int)q->partition, (long long)q->offset);
		lt_text_fputs(q->document_id[0] ? q->document_id : "-", out);
		fputs("  from ", out);
		lt_text_fputs(q->sender[0] ? q->sender : "-", out);
		fprintf(out, "  %llu bytes%s  ", (unsigned long long)full, kept);
		lt_text_fputs(q->reason, out);
		fputc('\n', out);
		return;
	}
	json_t *o = json_object();
	json_object_set_new(o, "quarantine_id", json_integer((json_int_t)seq));
	json_object_set_new(o, "at", json_string(at));
	json_object_set_new(o, "topic", lt_text_json(q->topic));
	json_object_set_new(o, "partition", json_integer(q->partition));
	json_object_set_new(o, "offset", json_integer(q->offset));
	json_object_set_new(o, "document_id", lt_text_json(q->document_id));
	json_object_set_new(o, "sender", lt_text_json(q->sender));
	json_object_set_new(o, "bytes", json_integer((json_int_t)full));
	json_object_set_new(o, "bytes_kept", json_integer((json_int_t)q->raw.len));
	if (q->raw_sha256.len == 32) {
		char hex[65];
		for (size_t i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", q->raw_sha256.data[i]);
		json_object_set_new(o, "sha256", json_string(hex));
	}
	json_object_set_new(o, "reason", lt_text_json(q->reason));
	char *text = lt_text_json_dumps(o, JSON_COMPACT);
	if (text != NULL)
		fprintf(out, "%s\n", text);
	free(text);
	json_decref(o);
}

struct lt_quarantine_scan {
	int json;
	FILE *out;
	uint64_t count;
};

static int lt_quarantine_row(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                             lt_err *err)
{
	struct lt_quarantine_scan *sc = ctx;
	if (klen != 8)
		return lt_err_set(err, LT_EIO, "quarantine key of %zu bytes is corrupt", klen);
	Lienthong__Store__QuarantineRecord *q =
	    lienthong__store__quarantine_record__unpack(NULL, vlen, val);
	if (q == NULL)
		return lt_err_set(err, LT_EIO, "quarantine record %llu is corrupt",
		                  (unsigned long long)lt_seq_from_key(key));
	lt_quarantine_print(lt_seq_from_key(key), q, sc->json, sc->out);
	lienthong__store__quarantine_record__free_unpacked(q, NULL);
	sc->count++;
	return 0;
}

int lt_quarantine_list(struct lt_store *s, int json, FILE *out, uint64_t *count, lt_err *err)
{
	struct lt_txn *t = NULL;
	struct lt_quarantine_scan sc = {.json = json, .out = out};
	if (lt_txn_begin(s, 0, &t, err) != 0)
		return -1;
	int rc = lt_txn_scan(t, LT_DB_QUARANTINE, NULL, 0, lt_quarantine_row, &sc, err);
	lt_txn_abort(t);
	*count = sc.count;
	return rc;
}

/* Looks up one record in t; caller frees it. */
static Lienthong__Store__QuarantineRecord *lt_quarantine_get(struct lt_txn *t, uint64_t seq,
                                                             lt_err *err)
{
	uint8_t key[8];
	const void *val;
	size_t vlen;
	lt_seq_key(seq, key);
	if (lt_txn_get(t, LT_DB_QUARANTINE, key, sizeof key, &val, &vlen, err) != 0)
		return NULL;
	if (val == NULL) {
		lt_err_set(err, LT_ENOTFOUND,
		           "no quarantined record %llu (list them with lienthong-status "
		           "--quarantine)",
		           (unsigned long long)seq);
		return NULL;
	}
	Lienthong__Store__QuarantineRecord *q =
	    lienthong__store__quarantine_record__unpack(NULL, vlen, val);
	if (q == NULL)
		lt_err_set(err, LT_EIO, "quarantine record %llu is corrupt",
		           (unsigned long long)seq);
	return q;
}

int lt_quarantine_show(struct lt_store *s, uint64_t seq, int json, const char *raw_path, FILE *out,
                       lt_err *err)
{
	struct lt_txn *t = NULL;
	int rc = -1;
	if (lt_txn_begin(s, 0, &t, err) != 0)
		return -1;
	Lienthong__Store__QuarantineRecord *q = lt_quarantine_get(t, seq, err);
	if (q == NULL)
		goto out;
	lt_quarantine_print(seq, q, json, out);
	if (raw_path != NULL) {
		FILE *f = fopen(raw_path, "wb");
		if (f == NULL || fwrite(q->raw.data, 1, q->raw.len, f) != q->raw.len) {
			lt_err_errno(err, errno, "cannot write %s", raw_path);
			if (f != NULL)
				fclose(f);
			goto free;
		}
		if (fclose(f) != 0) {
			lt_err_errno(err, errno, "cannot write %s", raw_path);
			goto free;
		}
	}
	rc = 0;
free:
	lienthong__store__quarantine_record__free_unpacked(q, NULL);
out:
	lt_txn_abort(t);
	return rc;
}

int lt_quarantine_release(struct lt_store *s, uint64_t seq, int64_t now_ms, lt_err *err)
{
	struct lt_txn *t = NULL;
	if (lt_txn_begin(s, 1, &t, err) != 0)
		return -1;
	Lienthong__Store__QuarantineRecord *q = lt_quarantine_get(t, seq, err);
	if (q == NULL)
		goto fail;
	int rc =
	    q->raw_length > q->raw.len
	        ? lt_err_set(err, LT_EINVAL,
	                     "quarantined record %llu was kept truncated (its first %zu of "
	                     "%llu bytes, quarantine_keep_bytes): it cannot be released; "
	                     "ask the sender to send it again",
	                     (unsigned long long)seq, q->raw.len, (unsigned long long)q->raw_length)
	        : lt_outq_add_release(t, q->topic, "", q->raw.data, q->raw.len, now_ms, err);
	lienthong__store__quarantine_record__free_unpacked(q, NULL);
	if (rc != 0 || lt_quarantine_del(t, seq, err) != 0)
		goto fail;
	return lt_txn_commit(t, err);
fail:
	lt_txn_abort(t);
	return -1;
}
