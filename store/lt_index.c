#include "lt_index.h"

#include <stdlib.h>
#include <string.h>

#include "../monitor/lt_counters.h"
#include "../text/lt_text.h"

/* Index keys: a kind byte, then at most two codes, a word and a time. */
#define LT_INDEX_KEY_MAX 600
#define LT_INDEX_NAME_MAX 255 /* a document id or recipient in a key */
#define LT_INDEX_QUERY_WORDS 8

struct lt_key {
	uint8_t b[LT_INDEX_KEY_MAX];
	size_t n;
};

static void lt_key_byte(struct lt_key *k, uint8_t c)
{
	if (k->n < sizeof k->b)
		k->b[k->n] = c;
	k->n++;
}

/* Appends s, and its NUL when nul. */
static void lt_key_str(struct lt_key *k, const char *s, int nul)
{
	size_t len = strlen(s);
	if (k->n + len <= sizeof k->b)
		memcpy(k->b + k->n, s, len);
	k->n += len;
	if (nul)
		lt_key_byte(k, 0);
}

static void lt_key_time(struct lt_key *k, int64_t ms)
{
	uint8_t be[8];
	lt_seq_key(ms < 0 ? 0 : (uint64_t)ms, be);
	for (int i = 0; i < 8; i++)
		lt_key_byte(k, be[i]);
}

static int lt_key_check(const struct lt_key *k, lt_err *err)
{
	if (k->n > sizeof k->b)
		return lt_err_set(err, LT_EINVAL, "document id or recipient too long for an index");
	return 0;
}

/* ---- words of a subject ---- */

static uint32_t lt_index_lower(uint32_t c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7))
		return c + 32;
	if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177) ||
	    (c >= 0x1E00 && c <= 0x1E95) || (c >= 0x1EA0 && c <= 0x1EFF))
		return c | 1; /* upper case even, lower case odd */
	if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) && (c & 1))
		return c + 1;
	if (c == 0x1A0 || c == 0x1AF) /* Ơ Ư */
		return c + 1;
	if (c == 0x178)
		return 0xFF;
	return c;
}

static int lt_index_word_char(uint32_t c)
{
	if (c < 0x80)
		return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
	return c >= 0xC0 && c != 0xD7 && c != 0xF7 && !(c >= 0x2000 && c <= 0x2BFF) &&
	       !(c >= 0x3000 && c <= 0x303F) && !(c >= 0xFE30 && c <= 0xFE4F) &&
	       !(c >= 0xFF00 && c <= 0xFF0F);
}

static size_t lt_index_utf8_put(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xC0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xE0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		out[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	out[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

int lt_index_next_word(const char *s, size_t *pos, char word[LT_INDEX_WORD_MAX + 1])
{
	size_t len = strlen(s), i = *pos, n = 0;
	while (i < len) {
		uint32_t c;
		size_t w = lt_text_utf8_char(s + i, len - i, &c);
		if (w == 0 || !lt_index_word_char(c)) {
			i += w == 0 ? 1 : w;
			if (n > 0)
				break;
			continue;
		}
		i += w;
		char enc[4];
		size_t el = lt_index_utf8_put(lt_index_lower(c), enc);
		if (n + el <= LT_INDEX_WORD_MAX) { /* past the limit: the rest is dropped */
			memcpy(word + n, enc, el);
			n += el;
		}
	}
	*pos = i;
	word[n] = '\0';
	return n > 0;
}

/* ---- writing ---- */

static int lt_index_put_or_del(struct lt_txn *t, const struct lt_key *k, int put, lt_err *err)
{
	if (lt_key_check(k, err) != 0)
		return -1;
	return put ? lt_txn_put(t, LT_DB_INDEX, k->b, k->n, "", 0, err)
	           : lt_txn_del(t, LT_DB_INDEX, k->b, k->n, err);
}

int64_t lt_index_time(const Lienthong__Store__StatusRecord *r)
{
	return r->status_since_ms != 0 ? r->status_since_ms : r->updated_at_ms;
}

/* The by-status, by-recipient and by-time entries of a record: put or delete. */
static int lt_index_entries(struct lt_txn *t, const char *doc_id, const char *recipient,
                            const Lienthong__Store__StatusRecord *r, int put, lt_err *err)
{
	struct lt_key s = {.n = 0}, rc = {.n = 0}, tm = {.n = 0};
	lt_key_byte(&s, 's');
	lt_key_byte(&s, (uint8_t)r->status);
	lt_key_time(&s, lt_index_time(r));
	lt_key_str(&s, doc_id, 1);
	lt_key_str(&s, recipient, 0);
	lt_key_byte(&rc, 'r');
	lt_key_str(&rc, recipient, 1);
	lt_key_time(&rc, lt_index_time(r));
	lt_key_str(&rc, doc_id, 0);
	lt_key_byte(&tm, 't');
	lt_key_time(&tm, lt_index_time(r));
	lt_key_str(&tm, doc_id, 1);
	lt_key_str(&tm, recipient, 0);
	if (lt_index_put_or_del(t, &s, put, err) != 0 ||
	    lt_index_put_or_del(t, &rc, put, err) != 0 ||
	    lt_index_put_or_del(t, &tm, put, err) != 0)
		return -1;
	return 0;
}

static int lt_index_words(struct lt_txn *t, const char *doc_id, const char *recipient,
                          const char *subject, int put, lt_err *err)
{
	char word[LT_INDEX_WORD_MAX + 1];
	size_t pos = 0;
	while (lt_index_next_word(subject, &pos, word)) {
		struct lt_key k = {.n = 0};
		lt_key_byte(&k, 'w');
		lt_key_str(&k, word, 1);
		lt_key_str(&k, doc_id, 1);
		lt_key_str(&k, recipient, 0);
		if (lt_index_put_or_del(t, &k, put, err) != 0)
			return -1;
	}
	return 0;
}

/* Adds delta to a counter (recipient NULL: the total of status); a zero counter is removed. */
static int lt_index_count_add(struct lt_txn *t, const char *recipient,
                              Lienthong__Store__DocStatus status, int delta, lt_err *err)
{
	struct lt_key k = {.n = 0};
	lt_key_byte(&k, 'c');
	lt_key_byte(&k, recipient ? 'r' : 's');
	if (recipient != NULL)
		lt_key_str(&k, recipient, 1);
	lt_key_byte(&k, (uint8_t)status);
	if (lt_key_check(&k, err) != 0)
		return -1;
	const void *val;
	size_t vlen;
	if (lt_txn_get(t, LT_DB_INDEX, k.b, k.n, &val, &vlen, err) != 0)
		return -1;
	uint64_t n = val != NULL && vlen == 8 ? lt_seq_from_key(val) : 0;
	if (delta < 0 && n < (uint64_t)-delta)
		n = 0;
	else
		n = (uint64_t)((int64_t)n + delta);
	if (n == 0)
		return lt_txn_del(t, LT_DB_INDEX, k.b, k.n, err);
	uint8_t be[8];
	lt_seq_key(n, be);
	return lt_txn_put(t, LT_DB_INDEX, k.b, k.n, be, sizeof be, err);
}

static int lt_index_counts_move(struct lt_txn *t, const char *recipient,
                                Lienthong__Store__DocStatus status, int delta, lt_err *err)
{
	if (lt_index_count_add(t, NULL, status, delta, err) != 0 ||
	    lt_index_count_add(t, recipient, status, delta, err) != 0)
		return -1;
	return 0;
}

static int lt_history_add(struct lt_txn *t, const char *doc_id, const char *recipient,
                          const Lienthong__Store__StatusRecord *old,
                          const Lienthong__Store__StatusRecord *rec, const struct lt_history_in *ev,
                          lt_err *err)
{
	/* The history's own sequence (meta "history-seq"), apart from the outbox's. */
	const void *val;
	size_t vlen;
	uint8_t next[8];
	if (lt_txn_get(t, LT_DB_META, "history-seq", 11, &val, &vlen, err) != 0)
		return -1;
	uint64_t seq = val != NULL && vlen == 8 ? lt_seq_from_key(val) : 1;
	lt_seq_key(seq + 1, next);
	if (lt_txn_put(t, LT_DB_META, "history-seq", 11, next, sizeof next, err) != 0)
		return -1;
	struct lt_key k = {.n = 0};
	lt_key_str(&k, doc_id, 1);
	lt_key_str(&k, recipient, 1);
	lt_key_time(&k, (int64_t)seq);
	if (lt_key_check(&k, err) != 0)
		return -1;
	Lienthong__Store__HistoryEvent h = LIENTHONG__STORE__HISTORY_EVENT__INIT;
	h.at_ms = ev->at_ms;
	h.event = (char *)(ev->event ? ev->event : "");
	h.status = rec->status;
	h.moved = old == NULL || old->status != rec->status;
	h.reason = (char *)(ev->reason ? ev->reason : "");
	h.partition = ev->offset >= 0 ? ev->partition : -1;
	h.offset = ev->offset >= 0 ? ev->offset : -1;
	h.who = (char *)(ev->who ? ev->who : "");
	h.business_code = (char *)(ev->business_code ? ev->business_code : "");
	return lt_txn_put_pb(t, LT_DB_HISTORY, k.b, k.n, &h.base, err);
}

/* The change's counts for the metrics (monitor/lt_counters.h), counted when t commits. */
static void lt_index_count_change(struct lt_counts *c, const Lienthong__Store__StatusRecord *old,
                                  const Lienthong__Store__StatusRecord *rec, int moved)
{
	if (moved && (size_t)rec->status < LT_STATUS_SLOTS)
		lt_counts_add(c, LT_C_STATUS + rec->status, 1);
	if (moved && rec->status == LIENTHONG__STORE__DOC_STATUS__DELIVERED)
		lt_counts_latency(c, rec->updated_at_ms - rec->queued_at_ms);
	/* A Kafka failure counts an attempt and keeps the record queued (an ack moves it). */
	if (old != NULL && rec->attempts > old->attempts &&
	    rec->status == LIENTHONG__STORE__DOC_STATUS__QUEUED)
		lt_counts_add(c, LT_C_RETRY_FORWARD, rec->attempts - old->attempts);
}

int lt_index_status_write(struct lt_txn *t, const char *doc_id, const char *recipient,
                          const Lienthong__Store__StatusRecord *old,
                          const Lienthong__Store__StatusRecord *rec, const struct lt_history_in *ev,
                          lt_err *err)
{
	int moved = old == NULL || old->status != rec->status;
	Lienthong__Store__StatusRecord w = *rec; /* shallow: only status_since_ms is set */
	w.status_since_ms = moved ? rec->updated_at_ms : lt_index_time(old);
	int resubject = old == NULL || strcmp(old->subject, rec->subject) != 0;
	if (moved && old != NULL && lt_index_entries(t, doc_id, recipient, old, 0, err) != 0)
		return -1;
	if (moved && lt_index_entries(t, doc_id, recipient, &w, 1, err) != 0)
		return -1;
	if (resubject && old != NULL &&
	    lt_index_words(t, doc_id, recipient, old->subject, 0, err) != 0)
		return -1;
	if (resubject && lt_index_words(t, doc_id, recipient, rec->subject, 1, err) != 0)
		return -1;
	if (moved && old != NULL && lt_index_counts_move(t, recipient, old->status, -1, err) != 0)
		return -1;
	if (moved && lt_index_counts_move(t, recipient, rec->status, 1, err) != 0)
		return -1;
	if (lt_status_put(t, doc_id, recipient, &w, err) != 0)
		return -1;
	if (ev != NULL && lt_history_add(t, doc_id, recipient, old, rec, ev, err) != 0)
		return -1;
	lt_index_count_change(lt_txn_counts(t), old, rec, moved);
	return 0;
}

/* ---- reading ---- */

/* Splits "<a>\0<b>" (len bytes) into two strings; -1 if it is not that. */
static int lt_index_split(const uint8_t *p, size_t len, char a[LT_INDEX_NAME_MAX + 1],
                          char b[LT_INDEX_NAME_MAX + 1])
{
	const uint8_t *nul = memchr(p, 0, len);
	if (nul == NULL)
		return -1;
	size_t la = (size_t)(nul - p), lb = len - la - 1;
	if (la == 0 || lb == 0 || la > LT_INDEX_NAME_MAX || lb > LT_INDEX_NAME_MAX ||
	    memchr(nul + 1, 0, lb) != NULL)
		return -1;
	memcpy(a, p, la);
	a[la] = '\0';
	memcpy(b, nul + 1, lb);
	b[lb] = '\0';
	return 0;
}

static int lt_index_corrupt(lt_err *err, size_t klen)
{
	return lt_err_set(err, LT_EIO,
	                  "index entry of %zu bytes is corrupt: the store is damaged; restore "
	                  "data_dir from a backup",
	                  klen);
}

struct lt_keyset {
	uint8_t *buf;
	size_t len, cap;
	size_t count;
};

/* Collects whole keys (length-prefixed) to delete after a scan. */
static int lt_keyset_add(struct lt_keyset *ks, const void *key, size_t klen, lt_err *err)
{
	size_t need = ks->len + sizeof(size_t) + klen;
	if (need > ks->cap) {
		size_t cap = ks->cap ? ks->cap * 2 : 4096;
		while (cap < need)
			cap *= 2;
		uint8_t *b = realloc(ks->buf, cap);
		if (b == NULL)
			return lt_err_set(err, LT_EIO, "out of memory");
		ks->buf = b;
		ks->cap = cap;
	}
	memcpy(ks->buf + ks->len, &klen, sizeof klen);
	memcpy(ks->buf + ks->len + sizeof klen, key, klen);
	ks->len = need;
	ks->count++;
	return 0;
}

struct lt_prefix_scan {
	const uint8_t *prefix;
	size_t plen;
	struct lt_keyset *ks;
};

static int lt_prefix_collect(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                             lt_err *err)
{
	struct lt_prefix_scan *ps = ctx;
	(void)val;
	(void)vlen;
	if (klen < ps->plen || memcmp(key, ps->prefix, ps->plen) != 0)
		return 1;
	return lt_keyset_add(ps->ks, key, klen, err) == 0 ? 0 : -1;
}

static int lt_prefix_delete(struct lt_txn *t, enum lt_db db, const void *prefix, size_t plen,
                            lt_err *err)
{
	struct lt_keyset ks = {0};
	struct lt_prefix_scan ps = {.prefix = prefix, .plen = plen, .ks = &ks};
	int ret = lt_txn_scan(t, db, prefix, plen, lt_prefix_collect, &ps, err);
	for (size_t off = 0; ret == 0 && off < ks.len;) {
		size_t klen;
		memcpy(&klen, ks.buf + off, sizeof klen);
		ret = lt_txn_del(t, db, ks.buf + off + sizeof klen, klen, err);
		off += sizeof klen + klen;
	}
	free(ks.buf);
	return ret;
}

static int lt_status_forget_one(struct lt_txn *t, const char *doc_id, const char *recipient,
                                lt_err *err)
{
	Lienthong__Store__StatusRecord *r = NULL;
	if (lt_status_get(t, doc_id, recipient, &r, err) != 0)
		return -1;
	int ret = -1;
	if (r != NULL) {
		char key[2 * (LT_INDEX_NAME_MAX + 1)];
		size_t a = strlen(doc_id), b = strlen(recipient);
		memcpy(key, doc_id, a + 1);
		memcpy(key + a + 1, recipient, b);
		if (lt_index_entries(t, doc_id, recipient, r, 0, err) != 0 ||
		    lt_index_words(t, doc_id, recipient, r->subject, 0, err) != 0 ||
		    lt_index_counts_move(t, recipient, r->status, -1, err) != 0 ||
		    lt_txn_del(t, LT_DB_STATUS, key, a + 1 + b, err) != 0)
			goto out;
	}
	struct lt_key h = {.n = 0};
	lt_key_str(&h, doc_id, 1);
	lt_key_str(&h, recipient, 1);
	if (lt_key_check(&h, err) != 0 || lt_prefix_delete(t, LT_DB_HISTORY, h.b, h.n, err) != 0)
		goto out;
	ret = 0;
out:
	if (r != NULL)
		lienthong__store__status_record__free_unpacked(r, NULL);
	return ret;
}

int lt_status_forget(struct lt_txn *t, const char *doc_id, const char *recipient, lt_err *err)
{
	if (strlen(doc_id) > LT_INDEX_NAME_MAX ||
	    (recipient != NULL && strlen(recipient) > LT_INDEX_NAME_MAX))
		return lt_err_set(err, LT_EINVAL, "document id or recipient too long");
	if (recipient != NULL)
		return lt_status_forget_one(t, doc_id, recipient, err);
	/* Every recipient's record: their keys first, then each removed. */
	struct lt_keyset ks = {0};
	struct lt_key p = {.n = 0};
	lt_key_str(&p, doc_id, 1);
	struct lt_prefix_scan ps = {.prefix = p.b, .plen = p.n, .ks = &ks};
	int ret = lt_txn_scan(t, LT_DB_STATUS, p.b, p.n, lt_prefix_collect, &ps, err);
	for (size_t off = 0; ret == 0 && off < ks.len;) {
		size_t klen;
		char d[LT_INDEX_NAME_MAX + 1], r[LT_INDEX_NAME_MAX + 1];
		memcpy(&klen, ks.buf + off, sizeof klen);
		if (lt_index_split(ks.buf + off + sizeof klen, klen, d, r) != 0)
			ret = lt_index_corrupt(err, klen);
		else
			ret = lt_status_forget_one(t, doc_id, r, err);
		off += sizeof klen + klen;
	}
	free(ks.buf);
	if (ret == 0) /* history left without a record (none is expected) */
		ret = lt_prefix_delete(t, LT_DB_HISTORY, p.b, p.n, err);
	return ret;
}

#define LT_INDEX_UPGRADE_BATCH 5000

struct lt_upgrade_run {
	struct lt_txn *t;
	uint8_t last[2 * (LT_INDEX_NAME_MAX + 1)]; /* the next scan starts after this key */
	size_t last_len;
	size_t done;
};

static int lt_upgrade_record(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                             lt_err *err)
{
	struct lt_upgrade_run *u = ctx;
	if (u->last_len > 0 && klen == u->last_len && memcmp(key, u->last, klen) == 0)
		return 0; /* where the previous batch stopped */
	if (u->done == LT_INDEX_UPGRADE_BATCH)
		return 1;
	char doc_id[LT_INDEX_NAME_MAX + 1], recipient[LT_INDEX_NAME_MAX + 1];
	if (klen > sizeof u->last || lt_index_split(key, klen, doc_id, recipient) != 0)
		return lt_err_set(err, LT_EIO, "status key of %zu bytes is corrupt", klen);
	memcpy(u->last, key, klen);
	u->last_len = klen;
	u->done++;
	Lienthong__Store__StatusRecord *r =
	    lienthong__store__status_record__unpack(NULL, vlen, val);
	if (r == NULL)
		return lt_err_set(err, LT_EIO, "status record of %s for %s is corrupt", doc_id,
		                  recipient);
	/* Indexed already (written by this version): its time entry is there. */
	struct lt_key tm = {.n = 0};
	lt_key_byte(&tm, 't');
	lt_key_time(&tm, lt_index_time(r));
	lt_key_str(&tm, doc_id, 1);
	lt_key_str(&tm, recipient, 0);
	const void *v;
	size_t vl;
	int ret = lt_key_check(&tm, err) == 0 &&
	                  lt_txn_get(u->t, LT_DB_INDEX, tm.b, tm.n, &v, &vl, err) == 0
	              ? 0
	              : -1;
	if (ret == 0 && v == NULL &&
	    (lt_index_entries(u->t, doc_id, recipient, r, 1, err) != 0 ||
	     lt_index_words(u->t, doc_id, recipient, r->subject, 1, err) != 0 ||
	     lt_index_counts_move(u->t, recipient, r->status, 1, err) != 0))
		ret = -1;
	lienthong__store__status_record__free_unpacked(r, NULL);
	return ret;
}

int lt_index_upgrade(struct lt_store *s, lt_err *err)
{
	static const char version_key[] = "index-version";
	struct lt_upgrade_run *u = calloc(1, sizeof *u);
	if (u == NULL)
		return lt_err_set(err, LT_EIO, "out of memory");
	int ret = -1;
	for (;;) {
		const void *v;
		size_t vl;
		if (lt_txn_begin(s, 1, &u->t, err) != 0)
			goto out;
		if (lt_txn_get(u->t, LT_DB_META, version_key, sizeof version_key - 1, &v, &vl,
		               err) != 0)
			goto abort;
		if (v != NULL) { /* done */
			lt_txn_abort(u->t);
			ret = 0;
			goto out;
		}
		u->done = 0;
		if (lt_txn_scan(u->t, LT_DB_STATUS, u->last_len ? u->last : NULL, u->last_len,
		                lt_upgrade_record, u, err) != 0)
			goto abort;
		if (u->done < LT_INDEX_UPGRADE_BATCH &&
		    lt_txn_put(u->t, LT_DB_META, version_key, sizeof version_key - 1, "1", 1,
		               err) != 0)
			goto abort;
		if (lt_txn_commit(u->t, err) != 0)
			goto out;
	}
abort:
	lt_txn_abort(u->t);
out:
	free(u);
	return ret;
}

struct lt_query_run {
	struct lt_txn *t;
	const struct lt_index_query *q;
	lt_index_cb cb;
	void *ctx;
	char kind;           /* the index read: 's', 'r', 't', 'w'; 0: the status db */
	struct lt_key start; /* keys read are >= start */
	struct lt_key end;   /* and < end (n 0: no bound) */
	size_t plen;         /* and start with start's first plen bytes */
	char words[LT_INDEX_QUERY_WORDS][LT_INDEX_WORD_MAX + 1];
	size_t n_words;
	int stopped;
};

static int lt_query_has_words(const struct lt_query_run *qr, const char *subject)
{
	for (size_t i = 0; i < qr->n_words; i++) {
		char w[LT_INDEX_WORD_MAX + 1];
		size_t pos = 0;
		int found = 0;
		while (!found && lt_index_next_word(subject, &pos, w))
			found = strcmp(w, qr->words[i]) == 0;
		if (!found)
			return 0;
	}
	return 1;
}

/* Reads the record of (doc, recipient), checks every condition, calls back. */
static int lt_query_visit(struct lt_query_run *qr, const char *doc_id, const char *recipient,
                          lt_err *err)
{
	const struct lt_index_query *q = qr->q;
	if ((q->doc_id != NULL && strcmp(q->doc_id, doc_id) != 0) ||
	    (q->recipient != NULL && strcmp(q->recipient, recipient) != 0))
		return 0;
	Lienthong__Store__StatusRecord *r = NULL;
	if (lt_status_get(qr->t, doc_id, recipient, &r, err) != 0)
		return -1;
	if (r == NULL)
		return lt_err_set(err, LT_EIO,
		                  "index names document %s for %s, which has no status record",
		                  doc_id, recipient);
	int ret = 0;
	if ((q->statuses == 0 || ((unsigned)r->status < 64 && (q->statuses >> r->status) & 1)) &&
	    (q->since_ms == 0 || lt_index_time(r) >= q->since_ms) &&
	    (q->until_ms == 0 || lt_index_time(r) < q->until_ms) &&
	    lt_query_has_words(qr, r->subject))
		ret = qr->cb(qr->ctx, doc_id, recipient, r, err);
	lienthong__store__status_record__free_unpacked(r, NULL);
	if (ret > 0)
		qr->stopped = 1;
	return ret;
}

static int lt_query_entry(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                          lt_err *err)
{
	struct lt_query_run *qr = ctx;
	const uint8_t *k = key;
	(void)val;
	(void)vlen;
	if (klen < qr->plen || memcmp(k, qr->start.b, qr->plen) != 0)
		return 1;
	if (qr->end.n > 0) {
		int cmp = memcmp(k, qr->end.b, klen < qr->end.n ? klen : qr->end.n);
		if (cmp > 0 || (cmp == 0 && klen >= qr->end.n))
			return 1;
	}
	char doc_id[LT_INDEX_NAME_MAX + 1], recipient[LT_INDEX_NAME_MAX + 1];
	const uint8_t *p = k;
	size_t n = klen;
	switch (qr->kind) {
	case 's': /* 's' status time doc\0recipient */
		p += 10;
		n -= 10;
		break;
	case 't': /* 't' time doc\0recipient */
		p += 9;
		n -= 9;
		break;
	case 'w': /* 'w' word\0 doc\0recipient */
		p += qr->plen;
		n -= qr->plen;
		break;
	case 'r': /* 'r' recipient\0 time doc */
		if (klen < qr->plen + 8 + 1 || klen - qr->plen - 8 > LT_INDEX_NAME_MAX)
			return lt_index_corrupt(err, klen);
		memcpy(recipient, k + 1, qr->plen - 2);
		recipient[qr->plen - 2] = '\0';
		memcpy(doc_id, k + qr->plen + 8, klen - qr->plen - 8);
		doc_id[klen - qr->plen - 8] = '\0';
		return lt_query_visit(qr, doc_id, recipient, err);
	default: /* the status db: doc\0recipient */
		break;
	}
	if ((qr->kind == 's' || qr->kind == 't') && klen < 10)
		return lt_index_corrupt(err, klen);
	if (lt_index_split(p, n, doc_id, recipient) != 0)
		return lt_index_corrupt(err, klen);
	return lt_query_visit(qr, doc_id, recipient, err);
}

static int lt_query_range(struct lt_query_run *qr, lt_err *err)
{
	if (lt_key_check(&qr->start, err) != 0 || lt_key_check(&qr->end, err) != 0)
		return -1;
	return lt_txn_scan(qr->t, qr->kind ? LT_DB_INDEX : LT_DB_STATUS, qr->start.b, qr->start.n,
	                   lt_query_entry, qr, err);
}

/* start = prefix + since, end = prefix + until (exclusive). */
static void lt_query_times(struct lt_query_run *qr)
{
	const struct lt_index_query *q = qr->q;
	qr->plen = qr->start.n;
	qr->end = qr->start;
	lt_key_time(&qr->start, q->since_ms);
	lt_key_time(&qr->end, q->until_ms > 0 ? q->until_ms : INT64_MAX);
}

int lt_index_query(struct lt_txn *t, const struct lt_index_query *q, lt_index_cb cb, void *ctx,
                   lt_err *err)
{
	struct lt_query_run *qr = calloc(1, sizeof *qr);
	if (qr == NULL)
		return lt_err_set(err, LT_EIO, "out of memory");
	qr->t = t;
	qr->q = q;
	qr->cb = cb;
	qr->ctx = ctx;
	size_t pos = 0;
	while (q->word != NULL && qr->n_words < LT_INDEX_QUERY_WORDS &&
	       lt_index_next_word(q->word, &pos, qr->words[qr->n_words]))
		qr->n_words++;
	int ret = 0;
	if (q->word != NULL && qr->n_words == 0) {
		ret = lt_err_set(err, LT_EINVAL, "subject text \"%s\" has no word to look for",
		                 q->word);
	} else if (q->doc_id != NULL) {
		lt_key_str(&qr->start, q->doc_id, 1);
		qr->plen = qr->start.n;
		ret = lt_query_range(qr, err);
	} else if (qr->n_words > 0) {
		qr->kind = 'w';
		lt_key_byte(&qr->start, 'w');
		lt_key_str(&qr->start, qr->words[0], 1);
		qr->plen = qr->start.n;
		ret = lt_query_range(qr, err);
	} else if (q->recipient != NULL) {
		qr->kind = 'r';
		lt_key_byte(&qr->start, 'r');
		lt_key_str(&qr->start, q->recipient, 1);
		lt_query_times(qr);
		ret = lt_query_range(qr, err);
	} else if (q->statuses != 0) {
		qr->kind = 's';
		for (unsigned s = 0; ret == 0 && !qr->stopped && s < 64; s++) {
			if (!((q->statuses >> s) & 1))
				continue;
			qr->start.n = 0;
			lt_key_byte(&qr->start, 's');
			lt_key_byte(&qr->start, (uint8_t)s);
			lt_query_times(qr);
			ret = lt_query_range(qr, err);
		}
	} else if (q->since_ms != 0 || q->until_ms != 0) {
		qr->kind = 't';
		lt_key_byte(&qr->start, 't');
		lt_query_times(qr);
		ret = lt_query_range(qr, err);
	} else {
		ret = lt_txn_scan(t, LT_DB_STATUS, NULL, 0, lt_query_entry, qr, err);
	}
	free(qr);
	return ret;
}

struct lt_count_run {
	lt_count_cb cb;
	void *ctx;
	char which; /* 's' or 'r' */
};

static int lt_count_entry(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                          lt_err *err)
{
	struct lt_count_run *cr = ctx;
	const uint8_t *k = key;
	if (klen < 3 || k[0] != 'c' || k[1] != cr->which)
		return 1;
	if (vlen != 8)
		return lt_index_corrupt(err, klen);
	uint64_t n = lt_seq_from_key(val);
	Lienthong__Store__DocStatus st = (Lienthong__Store__DocStatus)k[klen - 1];
	if (cr->which == 's')
		return klen == 3 ? cr->cb(cr->ctx, NULL, st, n, err) : lt_index_corrupt(err, klen);
	char recipient[LT_INDEX_NAME_MAX + 1];
	if (klen < 5 || klen - 4 > LT_INDEX_NAME_MAX || k[klen - 2] != 0)
		return lt_index_corrupt(err, klen);
	memcpy(recipient, k + 2, klen - 4);
	recipient[klen - 4] = '\0';
	return cr->cb(cr->ctx, recipient, st, n, err);
}

int lt_index_counts(struct lt_txn *t, lt_count_cb cb, void *ctx, lt_err *err)
{
	struct lt_count_run cr = {.cb = cb, .ctx = ctx, .which = 's'};
	if (lt_txn_scan(t, LT_DB_INDEX, "cs", 2, lt_count_entry, &cr, err) != 0)
		return -1;
	cr.which = 'r';
	return lt_txn_scan(t, LT_DB_INDEX, "cr", 2, lt_count_entry, &cr, err);
}

struct lt_history_run {
	const uint8_t *prefix;
	size_t plen;
	lt_history_cb cb;
	void *ctx;
};

static int lt_history_entry(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                            lt_err *err)
{
	struct lt_history_run *hr = ctx;
	const uint8_t *k = key;
	if (klen < hr->plen || memcmp(k, hr->prefix, hr->plen) != 0)
		return 1;
	char doc_id[LT_INDEX_NAME_MAX + 1], recipient[LT_INDEX_NAME_MAX + 1];
	if (klen < 9 || k[klen - 9] != 0 || lt_index_split(k, klen - 9, doc_id, recipient) != 0)
		return lt_index_corrupt(err, klen);
	Lienthong__Store__HistoryEvent *ev =
	    lienthong__store__history_event__unpack(NULL, vlen, val);
	if (ev == NULL)
		return lt_err_set(err, LT_EIO, "history event of %s for %s is corrupt", doc_id,
		                  recipient);
	int ret = hr->cb(hr->ctx, recipient, ev, err);
	lienthong__store__history_event__free_unpacked(ev, NULL);
	return ret;
}

int lt_history_list(struct lt_txn *t, const char *doc_id, const char *recipient, lt_history_cb cb,
                    void *ctx, lt_err *err)
{
	struct lt_key p = {.n = 0};
	lt_key_str(&p, doc_id, 1);
	if (recipient != NULL)
		lt_key_str(&p, recipient, 1);
	if (lt_key_check(&p, err) != 0)
		return -1;
	struct lt_history_run hr = {.prefix = p.b, .plen = p.n, .cb = cb, .ctx = ctx};
	return lt_txn_scan(t, LT_DB_HISTORY, p.b, p.n, lt_history_entry, &hr, err);
}
