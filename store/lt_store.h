/*
 * lt_store: the agent's LMDB environment, one per agency (data_dir), shared
 * by lienthong-agent, lienthong-upload and lienthong-status (LMDB allows
 * many processes, one writer at a time).
 *
 * Named databases:
 *   meta        "seq" -> next sequence number (8 bytes, big-endian)
 *   docs        document id -> signed envelope as sent (the sender's record)
 *   status      "<document id>\0<recipient>" -> StatusRecord (proto/store.proto)
 *   outq        sequence (8 bytes BE) -> OutItem: what still has to reach Kafka
 *   inbox       document id -> InboxRecord: what this agency received, for
 *               exactly-once delivery
 *   quarantine  sequence (8 bytes BE) -> QuarantineRecord (raw bytes + reason)
 *   business    "<sender>\0<document id>" -> BusinessRecord: the business status
 *               of a received document, and recalls that came before it
 *               (consumers/lt_business.h)
 *   keys        batch row key -> KeyRecord: the document submitted for a row
 *               of lienthong-upload, recorded with it (producers/lt_submit.h);
 *               removed by retention once the document has no status row left
 *   transfers   "<sender>\0<document id>" -> TransferRecord: a streamed
 *               document being received chunk by chunk (consumers/lt_xfer.h)
 *   history     every change of a status record, in order; index: the
 *               status records by status, recipient, time and subject word,
 *               and counters (both kept by store/lt_index.h)
 *   sendprog    outbox sequence (8 bytes BE, the outq key) -> SendProgress: how
 *               far a streamed document's manifest and chunks are acknowledged
 *               by Kafka; removed with its outbox record (producers/lt_forward.h)
 *   directory   agency code -> DirectoryEntry (lienthong.proto): the newest
 *               verified entry of the federation directory (federation/lt_dir.h)
 *   relayq      lienthong-relay's store: side (1 byte) || sequence (8 bytes BE)
 *               -> RelayItem: records taken over, still to produce there
 *   dirseen     lienthong-relay's store: "<platform>\0<code>" -> DirectoryEntry:
 *               the newest entry that platform's directory topic holds
 *
 * meta also keeps the quarantine's accounting: "q.bytes" (bytes of its
 * records), "q.dropped" and "q.dropped_bytes" (records dropped at the
 * ceiling, oldest first), each 8 bytes big-endian.
 *
 * Durability: lt_txn_commit returns after LMDB has fsync'd the commit
 * (no NOSYNC flags, which could corrupt the map on power loss), so what a
 * caller acknowledges after it is durable. Batch many changes into one
 * transaction to share the fsync (group commit).
 *
 * Errors: LMDB codes are translated here, once; a full map becomes LT_EFULL
 * with a message naming lmdb_map_size.
 *
 * Ownership and threads: one lt_store per process; a transaction belongs to
 * the thread that began it; at most one write transaction per thread.
 * Values returned by lt_txn_get and scans point into the map and are valid
 * only until the transaction ends.
 */
#ifndef LT_STORE_H
#define LT_STORE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "../errors/lt_err.h"
#include "store.pb-c.h"

enum lt_db {
	LT_DB_META,
	LT_DB_DOCS,
	LT_DB_STATUS,
	LT_DB_OUTQ,
	LT_DB_INBOX,
	LT_DB_QUARANTINE,
	LT_DB_HISTORY, /* store/lt_index.h */
	LT_DB_INDEX,   /* store/lt_index.h */
	LT_DB_BUSINESS,
	LT_DB_KEYS,      /* batch key -> KeyRecord: lt_batch_key_get/put below */
	LT_DB_TRANSFERS, /* consumers/lt_xfer.h */
	LT_DB_SENDPROG,  /* producers/lt_forward.h */
	LT_DB_DIRECTORY, /* federation/lt_dir.h */
	LT_DB_RELAYQ,    /* federation/lt_relay.h */
	LT_DB_DIRSEEN,   /* federation/lt_relay.h */
	LT_DB_COUNT
};

struct lt_store;
struct lt_txn;
struct lt_counts;

/* The name of a database ("docs", "status"...). */
const char *lt_db_name(enum lt_db db);

/*
 * Creates dir if needed and opens (or creates) the environment. Refuses a
 * damaged or replaced store (store/lt_check.h walks every record): a
 * data.mdb shorter than its pages, and a data.mdb that is empty, new or of
 * another store where the marker file `store-id` says this folder's store
 * was (a store gets its random id, in meta and in the marker, when made).
 */
int lt_store_open(struct lt_store **out, const char *dir, int64_t map_size, lt_err *err);
void lt_store_close(struct lt_store *s);

/*
 * A hot backup: writes a consistent, compacted copy of the store (LMDB's
 * copy with MDB_CP_COMPACT, from one read transaction: the agent and other
 * writers go on meanwhile) into dest, a new or empty folder: dest/data.mdb
 * (written as data.mdb.partial, fsync'd, renamed) and the marker
 * dest/store-id of the same identity, so that the copy restored into
 * data_dir is accepted as this folder's store. *bytes: size of the copy.
 */
int lt_store_copy(struct lt_store *s, const char *dest, int64_t *bytes, lt_err *err);

/* The folder the store was opened in (data_dir); valid while s is open. */
const char *lt_store_dir(const struct lt_store *s);

int lt_txn_begin(struct lt_store *s, int write, struct lt_txn **out, lt_err *err);
/*
 * A write transaction inside parent: its changes join parent's when it
 * commits (no fsync), vanish when it aborts. parent is unusable meanwhile.
 */
int lt_txn_begin_nested(struct lt_txn *parent, struct lt_txn **out, lt_err *err);
/* Commits (durably) and frees the transaction, also on failure. */
int lt_txn_commit(struct lt_txn *t, lt_err *err);
/*
 * What the transaction counts (monitor/lt_counters.h): published to the
 * process's counters when it commits (joined to its parent's when nested),
 * dropped when it aborts. Valid until the transaction ends.
 */
struct lt_counts *lt_txn_counts(struct lt_txn *t);
/* Bytes of the map in use (up to its last page) and the map's size. Any thread. */
int lt_store_usage(struct lt_store *s, uint64_t *used, uint64_t *map_size, lt_err *err);
void lt_txn_abort(struct lt_txn *t);

/* *val is NULL when the key is absent (not an error). */
int lt_txn_get(struct lt_txn *t, enum lt_db db, const void *key, size_t klen, const void **val,
               size_t *vlen, lt_err *err);
int lt_txn_put(struct lt_txn *t, enum lt_db db, const void *key, size_t klen, const void *val,
               size_t vlen, lt_err *err);
/* Deleting an absent key is not an error. */
int lt_txn_del(struct lt_txn *t, enum lt_db db, const void *key, size_t klen, lt_err *err);
/* Packs a protobuf-c message as the value. */
int lt_txn_put_pb(struct lt_txn *t, enum lt_db db, const void *key, size_t klen,
                  const ProtobufCMessage *msg, lt_err *err);

/* Next value of the durable sequence (starts at 1). */
int lt_txn_next_seq(struct lt_txn *t, uint64_t *seq, lt_err *err);

/*
 * Calls cb for each record with key >= from (all when from is NULL), in key
 * order, until cb returns non-zero: 1 stops the scan (returns 0), -1 stops
 * with an error the callback set in err.
 */
typedef int (*lt_scan_cb)(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                          lt_err *err);
int lt_txn_scan(struct lt_txn *t, enum lt_db db, const void *from, size_t flen, lt_scan_cb cb,
                void *ctx, lt_err *err);

/* As lt_txn_scan, from the last key back to the first. */
int lt_txn_scan_back(struct lt_txn *t, enum lt_db db, lt_scan_cb cb, void *ctx, lt_err *err);

/* Number of records in a database. */
int lt_txn_count(struct lt_txn *t, enum lt_db db, uint64_t *count, lt_err *err);

/* Sequence keys: 8 bytes big-endian so that byte order is numeric order. */
void lt_seq_key(uint64_t seq, uint8_t key[8]);
uint64_t lt_seq_from_key(const void *key);

/*
 * A key of two strings, "<first>\0<second>" (status: document id and
 * recipient; inbox and business: sender and document id), in key[size]; its
 * length, or 0 when it does not fit.
 */
size_t lt_pair_key(const char *first, const char *second, char *key, size_t size);

/*
 * Status records, keyed by document id and recipient. *out NULL if absent.
 * lt_status_put writes the record alone: writers go through lt_life_apply
 * (lifecycle/lt_lifecycle.h), which keeps the history and the indexes with it
 * (lt_index_status_write); lt_status_forget (store/lt_index.h) removes all.
 */
int lt_status_get(struct lt_txn *t, const char *doc_id, const char *recipient,
                  Lienthong__Store__StatusRecord **out, lt_err *err);
int lt_status_put(struct lt_txn *t, const char *doc_id, const char *recipient,
                  const Lienthong__Store__StatusRecord *rec, lt_err *err);
const char *lt_status_name(Lienthong__Store__DocStatus s);

/* Appends a record for Kafka to the outbox queue under the next sequence number. */
int lt_outq_add(struct lt_txn *t, Lienthong__Store__OutKind kind, const char *doc_id,
                const char *destination, const uint8_t *payload, size_t len, int64_t now_ms,
                lt_err *err);

/* Queues a quarantined record to be published again to `topic` (release). */
int lt_outq_add_release(struct lt_txn *t, const char *topic, const char *destination,
                        const uint8_t *payload, size_t len, int64_t now_ms, lt_err *err);

/*
 * Bounds of the quarantine, so that nothing an outsider sends grows the store
 * without end: max_bytes for all its records together (the oldest are
 * dropped first to make room, and counted), record_bytes for one record
 * (a larger one keeps only its first record_bytes bytes, with its full length
 * and SHA-256). 0 means no bound. Set once from configuration by the agent
 * (lt_retention_tick) before records are quarantined; main thread only.
 */
void lt_store_set_quarantine_limits(struct lt_store *s, int64_t max_bytes, int64_t record_bytes);

/*
 * Keeps a record that failed a check, with its raw bytes (rec->raw: the whole
 * record as received) and the reason, within the bounds above.
 */
int lt_quarantine_add(struct lt_txn *t, const Lienthong__Store__QuarantineRecord *rec, lt_err *err);
/* Removes quarantined record seq (released), keeping the accounting right. */
int lt_quarantine_del(struct lt_txn *t, uint64_t seq, lt_err *err);

struct lt_quarantine_stats {
	uint64_t records, bytes;         /* kept now */
	uint64_t dropped, dropped_bytes; /* dropped at the ceiling since the store was made */
};
int lt_quarantine_stats(struct lt_txn *t, struct lt_quarantine_stats *st, lt_err *err);

/*
 * Batch keys (keys db): a key is 1 to LT_BATCH_KEY_MAX bytes without NUL.
 * lt_batch_key_get: 1 and the document id in doc_id[size] when the key is
 * recorded, 0 when it is not, -1 on error. lt_batch_key_put records it.
 */
#define LT_BATCH_KEY_MAX 200
int lt_batch_key_get(struct lt_txn *t, const char *key, char *doc_id, size_t size, lt_err *err);
int lt_batch_key_put(struct lt_txn *t, const char *key, const char *doc_id, int64_t now_ms,
                     lt_err *err);

#endif
