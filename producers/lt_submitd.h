/*
 * lt_submitd: the agent's local submission service, for group commit.
 *
 * The agent listens on the UNIX socket <data_dir>/submit.sock (mode 0600).
 * lienthong-upload sends its sealed envelopes there; one thread of the agent
 * takes every request that has arrived, commits them all in one LMDB
 * transaction (one fsync), then answers each client. A complete request
 * waits at most a few milliseconds for other connected clients to finish
 * sending theirs, and clients that arrive while a commit is being flushed are
 * served together by the next one, so concurrent submitters share fsyncs
 * instead of paying one each. A client hears "ok" only after the durable
 * commit.
 *
 * Frames: a 4-byte big-endian length, then a SubmitRequest (client) or a
 * SubmitReply (agent), see proto/store.proto; one request per connection.
 * Requests are bounded (LT_SUBMITD_FRAME_MAX), as are connections; the
 * buffer of a request grows with the bytes that arrive, never reserved from
 * the announced length. A client silent for 5 s in the middle of a request,
 * or whose request is not complete 60 s after it connected, is dropped.
 *
 * When the agent does not run (no socket, connection refused), the client
 * commits to LMDB itself (lt_submit). If the agent goes away after taking a
 * request, the client cannot know whether it was committed and submits
 * again itself: lt_submit accepts the same bytes twice, so this is safe.
 *
 * Security: the socket is created 0600 in data_dir, so only the agency's own
 * user may submit; still nothing a client sends is trusted: every envelope
 * is decoded within the limits and verified (signed by this agency with a
 * certificate of ca_file valid now; parts encrypted to the recipients are
 * taken as sealed), and the document id, digest, recipients and subject
 * stored beside it must be the envelope's own; a request with one bad
 * envelope is refused whole, with the reason, and nothing of it is stored.
 * Streamed parts (a manifest) are taken as declared (their bytes are in the
 * spool, not in the envelope), and lt_submit refuses the document unless
 * each spool file is in place with the declared size.
 * Revocation is the recipients' check (a CRL does not stop submissions).
 * Threads: lt_submitd_start runs one thread, with its own copy of the trust
 * store, which serves until stop joins it (it never ends by itself); alive
 * and stop are for the thread that started it. After each commit that stored
 * documents the service thread calls committed(ctx) (when not NULL), so the
 * agent's forwarder looks at the outbox at once: it must be thread-safe and
 * quick.
 */
#ifndef LT_SUBMITD_H
#define LT_SUBMITD_H

#include <stddef.h>
#include <stdint.h>

#include "../config/lt_config.h"
#include "../errors/lt_err.h"
#include "../store/lt_store.h"
#include "lt_submit.h"

#define LT_SUBMITD_FRAME_MAX (64u << 20)
#define LT_SUBMITD_CONNS_MAX 64

struct lt_submitd;

/* Starts the service; NULL with err when the socket cannot be set up. */
struct lt_submitd *lt_submitd_start(const struct lt_config *cfg, struct lt_store *store,
                                    void (*committed)(void *ctx), void *ctx, lt_err *err);
void lt_submitd_stop(struct lt_submitd *d);

/*
 * Whether clients can still reach the service: 0, or -1 when its socket file
 * was removed or replaced (a clean-up job, an operator): then uploads would
 * silently bypass the agent. The agent then stops and starts the service.
 */
int lt_submitd_alive(const struct lt_submitd *d, lt_err *err);

/*
 * Client: hands docs to the running agent. Returns 0 once they are durable;
 * -1 with LT_ENOTFOUND when no agent listens (submit directly), or another
 * code when the agent refused them or went away (err says which).
 */
int lt_submitd_send(const struct lt_config *cfg, const struct lt_submit_doc *docs, size_t n,
                    lt_err *err);

#endif
