/*
 * lt_http: the HTTP delivery target (libcurl).
 *
 * POSTs a verified document to target_url as multipart/form-data:
 *   metadata  application/json: document_id, sender, recipients, subject,
 *             document_number, created_at, expires_at, replaces_id,
 *             business_type ("new", or "replace": it supersedes replaces_id) and, per
 *             part, name, media_type, size and sha256 (hex)
 *   part      one file field per part, with its name and media type
 * with the header "Idempotency-Key: <sender>/<document id>" (a document is
 * identified by its sender and its id), so a target can ignore
 * the repeat that follows a crash between its answer and the agent's record.
 *
 * Outcome: 0 on 2xx; -1 with LT_EINVAL when the target refuses for good (4xx
 * other than 408 and 429); -1 with LT_EIO on anything worth retrying (5xx,
 * 408, 429, timeouts, connection errors). Messages carry the HTTP status and
 * the start of the answer.
 *
 * Ownership: an lt_http owns one curl handle (connections are reused); it is
 * used from one thread. curl_global_init is the program's job.
 */
#ifndef LT_HTTP_H
#define LT_HTTP_H

#include "../config/lt_config.h"
#include "../errors/lt_err.h"
#include "lienthong.pb-c.h"

struct lt_http;

struct lt_http *lt_http_new(const struct lt_config *cfg, lt_err *err);
void lt_http_free(struct lt_http *h);
int lt_http_deliver(struct lt_http *h, const Lienthong__Envelope *env, lt_err *err);
/*
 * The same for a streamed document: part i with chunk_bytes > 0 is read from
 * the file <staging>/<i> while it is sent (its SHA-256 was checked before).
 */
int lt_http_deliver_staged(struct lt_http *h, const Lienthong__Envelope *env, const char *staging,
                           lt_err *err);
/*
 * target_format = edxml: POSTs env as one edXML message
 * (consumers/lt_edxml_out.h) with Content-Type application/xml and the same
 * Idempotency-Key. The message is first written to an unlinked temporary
 * file in data_dir, then streamed from it: never held in memory.
 */
int lt_http_deliver_edxml(struct lt_http *h, const Lienthong__Envelope *env, const char *staging,
                          lt_err *err);
/*
 * POSTs a control record (JSON text, application/json) about a delivered
 * document to target_url, with "Idempotency-Key: <sender>/<document id>/<name>"
 * (consumers/lt_business.h). Outcome as lt_http_deliver.
 */
int lt_http_control(struct lt_http *h, const char *sender, const char *doc_id, const char *name,
                    const char *text, lt_err *err);

#endif
