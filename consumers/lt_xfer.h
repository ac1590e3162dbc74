/*
 * lt_xfer: streamed documents being received (transfers).
 *
 * A document whose parts are too large for one record comes as its signed
 * envelope (the manifest: size, SHA-256 and the SHA-256 of every chunk of
 * each streamed part) followed by chunk records. Once lt_inbox has verified
 * the manifest, lt_xfer_open records a transfer: a TransferRecord in the
 * `transfers` database (proto/store.proto: the manifest, its digest, a bitmap
 * of the chunks recorded, times) and a staging folder with one file per
 * streamed part, named by its index. lt_xfer_chunk checks a chunk against the
 * manifest (lt_chunk_check), writes it with pwrite at index * chunk_bytes and
 * sets its bit. While the chunks of a part are written in order it also
 * keeps their running SHA-256; when the last one gives the part's signed
 * digest, the record says so (TransferRecord.hashed) and delivery checks only
 * the file's size instead of reading it again (lt_xfer_part_check). A chunk's
 * bytes are fixed by its own signed SHA-256, so those bytes are the file's.
 * lt_xfer_sync (fdatasync of every file written) must run
 * before the transaction that recorded those bits commits, so a bit set in a
 * committed record always means the bytes are on disk. lt_inbox decides what
 * becomes of a transfer (delivered once complete, failed past
 * transfer_deadline_s); this module keeps its state and its files.
 *
 * Staging: for the folder target <target_dir>/.lienthong-staging/<sender>.<id>/
 * (the same filesystem as the delivered folder, so delivery moves the files
 * by rename); for the HTTP target <data_dir>/staging/<sender>.<id>/. Nothing
 * below the staging root is followed (O_NOFOLLOW).
 *
 * Chunks are numbered across the streamed parts in part order: chunk k of
 * the bitmap is chunk k - base(p) of part p.
 *
 * Ownership and threads: an lt_xfer caches the decoded manifests, open
 * files and running hashes of the LT_XFER_SLOTS transfers last written (chunks of
 * documents sent at once interleave); one thread (the agent's main loop)
 * uses it. Records returned by lt_xfer_get are the caller's to free
 * (lienthong__store__transfer_record__free_unpacked).
 */
#ifndef LT_XFER_H
#define LT_XFER_H

#include <stddef.h>
#include <stdint.h>

#include "../config/lt_config.h"
#include "../errors/lt_err.h"
#include "../proto/lt_envelope.h"
#include "../store/lt_store.h"

/*
 * Transfers kept open at once: a sender streams several documents at a time
 * (LT_FORWARD_STREAMS) and several agencies may send, so chunks of different
 * documents interleave; switching costs a sync, a reopen and the running hash.
 */
#define LT_XFER_SLOTS 8

struct lt_xfer;

struct lt_xfer *lt_xfer_new(const struct lt_config *cfg, lt_err *err);
void lt_xfer_free(struct lt_xfer *x);

/* Whether env has a streamed part (it is a manifest). */
int lt_xfer_streamed(const Lienthong__Envelope *env);
/* Chunks of all streamed parts of env together. */
uint64_t lt_xfer_total(const Lienthong__Envelope *env);
/* Number in the bitmap of chunk index of part (a streamed part of env). */
uint64_t lt_xfer_number(const Lienthong__Envelope *env, uint32_t part, uint32_t index);
/* Whether bit k of the bitmap have (len bytes) is set; sets it. */
int lt_xfer_has(const uint8_t *have, size_t len, uint64_t k);
void lt_xfer_mark(uint8_t *have, uint64_t k);
/*
 * Names the chunks the record r of env still misses, as "part 0 chunks 3,
 * 5-7; part 2 chunk 0", cut short with "..." to fit out[size].
 */
void lt_xfer_missing(const Lienthong__Envelope *env, const Lienthong__Store__TransferRecord *r,
                     char *out, size_t size);
/* Whether r has every chunk. */
int lt_xfer_complete(const Lienthong__Store__TransferRecord *r);
/*
 * Whether r, incomplete, has had no progress for deadline_ms at now_ms,
 * counted from start_ms at the earliest (when this agent began receiving:
 * chunks may wait in Kafka while it was stopped).
 */
int lt_xfer_expired(const Lienthong__Store__TransferRecord *r, int64_t deadline_ms,
                    int64_t start_ms, int64_t now_ms);

/* The transfer of (sender, document id) in t; *out NULL when there is none. */
int lt_xfer_get(struct lt_txn *t, const char *sender, const char *doc_id,
                Lienthong__Store__TransferRecord **out, lt_err *err);
/* Removes the record in t (the staging folder is removed by lt_xfer_remove, after the commit). */
int lt_xfer_del(struct lt_txn *t, const char *sender, const char *doc_id, lt_err *err);

/*
 * Opens a transfer for the verified manifest env (the record rec, digest) in
 * t and creates its staging folder. A transfer of the same manifest already
 * open is left as it is (0); one of another manifest under the same
 * (sender, document id) is LT_ECONFLICT.
 */
struct lt_record;
int lt_xfer_open(struct lt_xfer *x, struct lt_txn *t, const struct lt_record *rec,
                 const Lienthong__Envelope *env, const uint8_t digest[LT_DIGEST_LEN],
                 int64_t now_ms, lt_err *err);

enum lt_xfer_outcome {
	LT_XFER_WRITTEN, /* written and recorded in t (durable once lt_xfer_sync, then t commit) */
	LT_XFER_REPEAT,  /* recorded before: nothing written */
	LT_XFER_UNKNOWN, /* no transfer for its document */
	LT_XFER_BAD,     /* fails lt_chunk_check: why says how */
};

/*
 * Handles chunk c in t: its outcome in *out; *complete set when the transfer
 * now has every chunk. -1 on a store or file error (retry later).
 */
int lt_xfer_chunk(struct lt_xfer *x, struct lt_txn *t, const Lienthong__Chunk *c, int64_t now_ms,
                  enum lt_xfer_outcome *out, int *complete, lt_err *why, lt_err *err);
/* fdatasync of every staged file written since the last call. */
int lt_xfer_sync(struct lt_xfer *x, lt_err *err);

/* Closes the files of the transfer and removes its staging folder (after it was recorded). */
int lt_xfer_remove(struct lt_xfer *x, const char *staging, lt_err *err);
/*
 * Removes staging folders that have no transfer record (left by a crash
 * between the record's removal and the folder's). Once per process.
 */
void lt_xfer_sweep(struct lt_xfer *x, struct lt_store *store);

/*
 * A streamed document's staged parts, for delivery: their folder, and the
 * bitmap of the parts hashed as they were written (TransferRecord.hashed;
 * NULL, 0 for none).
 */
struct lt_staged {
	const char *dir;
	const uint8_t *hashed;
	size_t hashed_len;
};
/*
 * Checks the staged part p (index index of its envelope) at (dirfd, name):
 * a part hashed as it was written only for its size, any other by reading
 * it for its signed size and SHA-256. LT_EINVAL when it differs.
 */
int lt_xfer_part_check(int dirfd, const char *name, const char *path, const Lienthong__Part *p,
                       size_t index, const struct lt_staged *staged, lt_err *err);

/*
 * Scheduling of lt_inbox_transfers: lt_xfer_due says whether a scan is due
 * (a transfer completed, or every few seconds for deadlines and retries);
 * lt_xfer_scanned records one, with a retry wanted soon when delivery failed.
 */
int lt_xfer_due(const struct lt_xfer *x, int64_t now_ms);
/* When the first scan was due: this agent's start, for lt_xfer_expired. */
int64_t lt_xfer_started(const struct lt_xfer *x);
void lt_xfer_scanned(struct lt_xfer *x, int64_t now_ms, int failed);

#endif
