/*
 * lt_deliver: the folder delivery target.
 *
 * A verified document appears as <target_dir>/<sender>/<document id>/ with
 * one file per part, all at once or not at all:
 *   1. parts are written into <target_dir>/<sender>/.tmp-<document id>/
 *      (O_EXCL, full write, fsync each file, fsync the folder);
 *   2. the folder is renamed to its final name (atomic) and the parent
 *      folder is fsync'd.
 * A leftover temporary folder (a crash between 1 and 2) is removed and
 * written again. If the final folder already exists, the document was
 * delivered before (a crash after 2, before the inbox record was committed):
 * that is success, never a second copy.
 *
 * Below target_dir nothing is followed: the sender folder, the temporary
 * folder and the files are opened relative to their parent's descriptor
 * with O_NOFOLLOW (files also O_EXCL) and renamed with renameat, so a
 * symbolic link planted under target_dir (as the sender folder, or as the
 * document's folder before it is delivered) makes delivery fail with an
 * error naming the link, and nothing is written where it points. A new
 * sender folder is made durable by an fsync of target_dir.
 *
 * A batch of documents (lt_target_deliver_deferred, then lt_target_flush)
 * pays one syncfs and one fsync per sender folder instead of three fsyncs
 * each: every document is written into its temporary folder (no fsync),
 * then one syncfs of the target's filesystem makes all of them durable,
 * then the renames, then one fsync of each sender folder, and only then
 * does the caller commit the inbox records. A crash before that commit
 * leaves folders that the next attempt finds delivered (written nothing
 * twice) and temporary folders that it removes and writes again.
 *
 * Part names were checked by lt_envelope_decode (no '/', no leading '.').
 * Thread-safe for different documents.
 */
#ifndef LT_DELIVER_H
#define LT_DELIVER_H

#include <stddef.h>

#include "../errors/lt_err.h"
#include "lienthong.pb-c.h"

/* path receives the final folder. Errors are transient (retry later). */
int lt_deliver_folder(const char *target_dir, const Lienthong__Envelope *env, char *path,
                      size_t path_size, lt_err *err);
/*
 * The same for a streamed document (consumers/lt_xfer.h): part i with
 * chunk_bytes > 0 is the file <staged->dir>/<i>, moved into the temporary
 * folder by rename (staging is on target_dir's filesystem) and checked there
 * (lt_xfer_part_check: its SHA-256, or its size when it was hashed as it was
 * written); the other parts are written as above, then the folder is renamed
 * as above. An interrupted attempt is completed by the next (parts moved in
 * stay). A part whose SHA-256 differs is LT_EINVAL (refused for good: the
 * temporary folder is removed).
 */
struct lt_staged;
int lt_deliver_folder_staged(const char *target_dir, const Lienthong__Envelope *env,
                             const struct lt_staged *staged, char *path, size_t path_size,
                             lt_err *err);

/*
 * The same for target_format = edxml: the folder holds one file,
 * LT_DELIVER_EDXML_FILE, the document as an edXML message
 * (consumers/lt_edxml_out.h), streamed parts read from staging (checked by
 * the caller), never moved.
 */
#define LT_DELIVER_EDXML_FILE "message.edxml"
int lt_deliver_folder_edxml(const char *target_dir, const Lienthong__Envelope *env,
                            const char *staging, char *path, size_t path_size, lt_err *err);

/*
 * A control record about a delivered document (a recall, update or
 * replacement and the answer given: consumers/lt_business.h) as the file
 * <target_dir>/<sender>/<document id>/<name> (name starts with '.'),
 * written whole (a temporary file, fsync, rename, fsync of the folder) and
 * replaced when written again. The document's folder must exist (when it
 * is gone, moved away by the target system, err->code is LT_EINVAL: no
 * retry helps); nothing below target_dir is followed. path receives the
 * file.
 */
int lt_deliver_folder_control(const char *target_dir, const char *sender, const char *doc_id,
                              const char *name, const char *text, char *path, size_t path_size,
                              lt_err *err);

/*
 * The configured target: the HTTP target when target_url is set (see
 * lt_http.h), else the folder target. lt_target_deliver writes where the
 * document went (folder or URL) into `where`; on failure err->code is
 * LT_EINVAL when the target refused the document for good, anything else
 * when a later attempt may succeed. One thread uses a target.
 */
struct lt_target;
struct lt_config;
struct lt_target *lt_target_new(const struct lt_config *cfg, lt_err *err);
void lt_target_free(struct lt_target *t);
int lt_target_deliver(struct lt_target *t, const Lienthong__Envelope *env, char *where,
                      size_t where_size, lt_err *err);
/*
 * lt_target_deliver for a batch: the folder target writes the document into
 * its temporary folder and leaves the rest to lt_target_flush, which writes
 * the outcome into *delivered and *err (both borrowed until then: 1 now,
 * 0 with err if the flush fails); a document already pending is flushed
 * first. -1 (and *delivered 0) when it failed at once. The HTTP target
 * delivers at once.
 */
int lt_target_deliver_deferred(struct lt_target *t, const Lienthong__Envelope *env, char *where,
                               size_t where_size, int *delivered, lt_err *err);
/*
 * Completes the deferred deliveries: one syncfs per filesystem, the renames,
 * one fsync per sender folder. Returns how many there were. Call it before
 * recording their outcomes (lt_target_free drops what was not flushed: the
 * temporary folders stay, and the next attempt writes them again).
 */
size_t lt_target_flush(struct lt_target *t);
/* lt_target_deliver of a streamed document whose parts are staged (lt_xfer.h). */
int lt_target_deliver_staged(struct lt_target *t, const Lienthong__Envelope *env,
                             const struct lt_staged *staged, char *where, size_t where_size,
                             lt_err *err);
/*
 * Whether the target itself recognises a document delivered before (the
 * folder target: the document's folder exists), so that recording a
 * delivery may wait for the end of a batch. Another target's deliveries are
 * recorded one by one, so a crash repeats at most the one in flight.
 */
int lt_target_remembers(const struct lt_target *t);

/* Tells the target a control record (JSON text): lt_deliver_folder_control or lt_http_control. */
int lt_target_control(struct lt_target *t, const char *sender, const char *doc_id, const char *name,
                      const char *text, char *where, size_t where_size, lt_err *err);

#endif
