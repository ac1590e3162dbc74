/*
 * lt_spool: the sender's spool of streamed parts (large documents).
 *
 * Layout: the bytes of streamed part p (its index in the envelope, from 0) of
 * document D are exactly the file
 *     <data_dir>/spool/D/p
 * (mode 0600, folders 0700). Only streamed parts are spooled; parts carried
 * in the envelope are not. A spool is written under
 *     <data_dir>/spool/.tmp-D/
 * and renamed to spool/D only when every part is written and fsync'd (files,
 * then the folder; spool/ after the rename), so spool/D is always whole: a
 * crash leaves at most a .tmp- folder, which nothing reads and the sweep
 * removes.
 *
 * Life: lienthong-upload writes the spool (lt_spool_write), then seals the
 * manifest with the digests it computed and submits; lt_submit refuses a
 * streamed document whose spool files are missing or of another size
 * (lt_spool_check_envelope). The forwarder reads chunks (lt_spool_open,
 * lt_spool_read_chunk) and checks each against the signed list
 * (lt_spool_chunk_verify) before it publishes it. The spool goes with the
 * document's envelope (retention) or with a failed submission
 * (lt_spool_remove); lt_spool_sweep removes orphans: spool folders whose
 * document has no docs record, and unfinished .tmp- folders, once untouched
 * for LT_SPOOL_ORPHAN_MS (a spool is renamed into place just before its
 * submission commits, so a young one without a record may be about to get
 * it).
 *
 * Memory: writing holds one chunk_bytes buffer per thread (at most
 * LT_SPOOL_THREADS) and the chunk digests (32 bytes a chunk); reading, the
 * caller's buffer. Never a whole part.
 *
 * Errors: LT_ENOTFOUND a spool file is missing; LT_EVERIFY it has another
 * size than declared, or a chunk's SHA-256 differs from the signed one (the
 * spool was altered: the document cannot be sent); LT_EINVAL a source file
 * changed while it was copied; LT_EIO the file system failed.
 *
 * Ownership: lt_spool_write fills caller-owned lt_spool_part records whose
 * chunk_sha256 the caller frees with lt_spool_part_free. A descriptor from
 * lt_spool_open belongs to the caller (close it).
 * Threads: every function may be called from any thread; the spool of one
 * document is written by one caller. lt_spool_write itself hashes and copies
 * the parts of a document on up to LT_SPOOL_THREADS threads (when it has
 * several parts), joined before it returns.
 */
#ifndef LT_SPOOL_H
#define LT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "../errors/lt_err.h"
#include "../store/lt_store.h"
#include "lienthong.pb-c.h"

#define LT_SPOOL_ORPHAN_MS (3600 * 1000)
#define LT_SPOOL_THREADS 2

/* A streamed part to spool: read with pread from offset 0 to size (its end). */
struct lt_spool_src {
	uint32_t index;   /* the part's index in the envelope (the spool file's name) */
	int fd;           /* open for reading; left open, its offset untouched */
	const char *name; /* for messages (the file's path) */
	uint64_t size;    /* bytes expected; a file of another length is refused */
};

/* What copying a part computed: ready for struct lt_part_in (lt_envelope.h). */
struct lt_spool_part {
	uint64_t size;
	uint32_t chunk_bytes;
	uint8_t sha256[32];
	uint8_t *chunk_sha256; /* 32 bytes a chunk, lt_part_chunks(size, chunk_bytes) */
};

/* "<data_dir>/spool/<doc_id>[/<part>]" (part < 0: the folder) in buf. */
int lt_spool_path(const char *data_dir, const char *doc_id, int64_t part, char *buf, size_t size,
                  lt_err *err);

/*
 * Writes the spool of doc_id: copies each src to its spool file in chunks of
 * chunk_bytes, computing the part's SHA-256 and each chunk's into out[i]
 * (n entries), fsyncs, and renames the whole into place. On failure nothing
 * is left (out[] freed) and err names the part and file.
 */
int lt_spool_write(const char *data_dir, const char *doc_id, uint32_t chunk_bytes,
                   const struct lt_spool_src *src, size_t n, struct lt_spool_part *out,
                   lt_err *err);
void lt_spool_part_free(struct lt_spool_part *p);

/* 0 if the spool file of part `part` exists with `size` bytes; name is for messages. */
int lt_spool_check(const char *data_dir, const char *doc_id, uint32_t part, const char *name,
                   uint64_t size, lt_err *err);
/* lt_spool_check for every streamed part of env. */
int lt_spool_check_envelope(const char *data_dir, const Lienthong__Envelope *env, lt_err *err);

/* Opens the spool file of a part for reading, checking its size; *fd for the caller. */
int lt_spool_open(const char *data_dir, const char *doc_id, uint32_t part, uint64_t size, int *fd,
                  lt_err *err);
/*
 * Reads chunk `index` of a part of `size` bytes cut in chunk_bytes (pread at
 * index * chunk_bytes) into buf (room for chunk_bytes); *len is its length
 * (chunk_bytes, the last one the rest).
 */
int lt_spool_read_chunk(int fd, uint64_t size, uint32_t chunk_bytes, uint64_t index, uint8_t *buf,
                        size_t *len, lt_err *err);
/* 0 if data is chunk `index` of streamed part p as signed (length and SHA-256). */
int lt_spool_chunk_verify(const Lienthong__Part *p, uint64_t index, const uint8_t *data, size_t len,
                          lt_err *err);

/* Removes the spool of doc_id (none is not an error). */
int lt_spool_remove(const char *data_dir, const char *doc_id, lt_err *err);

/* 1 if store holds the document doc_id (a docs record), 0 if not, -1 on error. */
int lt_spool_has_doc(struct lt_store *store, const char *doc_id, lt_err *err);

/*
 * The spool of a document that was not submitted: removed unless store holds
 * the document after all (the agent committed it, then went away before
 * saying so); when the store cannot tell, kept for the orphan sweep to decide.
 * store NULL (never opened: nothing was committed): removed.
 */
int lt_spool_discard(const char *data_dir, struct lt_store *store, const char *doc_id, lt_err *err);

/*
 * Removes orphans older than LT_SPOOL_ORPHAN_MS at now_ms: spool folders of
 * documents without a docs record in store, unfinished .tmp- folders. Adds
 * the number removed to *removed. Other names are left alone.
 */
int lt_spool_sweep(const char *data_dir, struct lt_store *store, int64_t now_ms, size_t *removed,
                   lt_err *err);

#endif
