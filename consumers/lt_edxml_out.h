/*
 * lt_edxml_out: a verified document written as an edXML message
 * (edxml/lt_edxml.h) for a target with target_format = edxml.
 *
 * Every part becomes an attachment, in order (the original message of a
 * document uploaded from edXML, edxml-original.xml, too: the one file
 * carries everything). A document that did not come from edXML gets the
 * meta fields the format needs: edxml.DocumentId "<sender>,<yyyy/mm/dd>,
 * <document id>" (the day of its id, a UUIDv7, in Vietnam's time) and, for
 * business types 1..3, edxml.Bussiness.DocumentId made the same way from
 * replaces_id, so that a replacement names what the earlier delivery
 * called its DocumentId.
 *
 * Ownership: env and the descriptors stay the caller's. Thread-safe.
 */
#ifndef LT_EDXML_OUT_H
#define LT_EDXML_OUT_H

#include "../errors/lt_err.h"
#include "../proto/lt_envelope.h"

/* Writes env to out_fd; streamed parts are read from staging/<index> (NULL: none). */
int lt_edxml_out_write(int out_fd, const Lienthong__Envelope *env, const char *staging,
                       lt_err *err);

/* The edXML DocumentId lienthong gives document id of sender: "<sender>,<yyyy/mm/dd>,<id>". */
void lt_edxml_out_docid(const char *sender, const char *id, char *out, size_t size);

/*
 * Writes the business receipt r (verified, just applied: its document was
 * sent by this agency; t is the transaction it was applied in, to find the
 * document's edxml.DocumentId) as an edXML status message
 * <dir>/<document id>.<recipient>.<code>.edxml, whole: a temporary file
 * .tmp-<name>, fsync, rename, fsync of dir (created if missing). Written
 * again, it is replaced.
 */
struct lt_txn;
int lt_edxml_out_status(const char *dir, struct lt_txn *t, const Lienthong__Receipt *r,
                        lt_err *err);

#endif
