/*
 * lt_canon: the canonical byte strings that signatures cover.
 *
 * Protobuf encodings are not canonical (field order, unknown fields, varint
 * widths may differ between encoders), so signatures cover a byte string
 * built from the decoded fields, defined here and nowhere else:
 *
 *   str(x)  = 4-byte big-endian length of x, then the bytes of x
 *   u32(n)  = 4-byte big-endian;  i64(n), u64(n) = 8-byte big-endian
 *
 *   envelope = "lienthong-envelope-v2\n"
 *              str(document_id) str(sender)
 *              u32(number of recipients) str(recipient)...   (in envelope order)
 *              str(subject) str(document_number)
 *              i64(created_at_ms) i64(expires_at_ms) str(replaces_id)
 *              u32(business_type)
 *              u32(number of meta fields) str(key) str(value)...  (header order)
 *              u32(number of parts) then per part, in order:
 *                str(name) str(media_type) u64(size) SHA-256(part) (32 bytes)
 *                u32(chunk_bytes), and when chunk_bytes > 0:
 *                SHA-256(chunk_sha256) (32 bytes: the digest of the list of
 *                chunk digests, as the field holds it)
 *
 *   receipt  = "lienthong-receipt-v1\n"
 *              str(document_id) str(sender) str(recipient) u32(status)
 *              i64(time_ms) str(reason) str(document_digest) str(business_code)
 *              str(comment) str(reported_by)
 *
 * The digests of parts carried in the message (data) are computed from
 * their bytes, never taken from the message, so changing one byte of a part
 * makes the signature fail. A streamed part (chunk_bytes > 0) is not in the
 * message: its declared size, SHA-256 and chunk digests are signed, and the
 * recipient checks each chunk and the whole part against them. The
 * SHA-256 of the envelope canonical bytes is the document digest that
 * receipts and the recipient's de-duplication record carry.
 *
 * Ownership: *out is malloc'd and owned by the caller. Thread-safe.
 */
#ifndef LT_CANON_H
#define LT_CANON_H

#include <stddef.h>
#include <stdint.h>

#include "../errors/lt_err.h"
#include "lienthong.pb-c.h"

int lt_canon_envelope(const Lienthong__Envelope *env, uint8_t **out, size_t *len, lt_err *err);
/*
 * The same bytes, built from each part's declared size and SHA-256 instead
 * of its data: for the sender's own check of an envelope whose parts are
 * already encrypted to the recipients (who check the plaintext against the
 * declared values). Equal to lt_canon_envelope when the declarations are true.
 */
int lt_canon_envelope_declared(const Lienthong__Envelope *env, uint8_t **out, size_t *len,
                               lt_err *err);
int lt_canon_receipt(const Lienthong__Receipt *r, uint8_t **out, size_t *len, lt_err *err);
/* Federation (docs/WIRE.md section 8): a directory entry; a hop over a document's digest. */
int lt_canon_directory(const Lienthong__DirectoryEntry *e, uint8_t **out, size_t *len, lt_err *err);
int lt_canon_hop(const uint8_t digest[32], const Lienthong__Hop *hop, uint8_t **out, size_t *len,
                 lt_err *err);

#endif
