/*
 * lt_relay: the engine of lienthong-relay, store-and-forward between the
 * Kafka clusters of two platforms (the near one of the configuration, the
 * far one of its peer_* settings).
 *
 * Routing. Every platform has the inbox and receipt topics of every agency
 * the directory lists, its own agencies' and the others' ("shadow" topics:
 * the agents of a platform write to them exactly as to a local agency).
 * For each side the relay reads the topics of the agencies whose platform
 * is reached through the other side (lt_relay_reaches: the other side's
 * platform, its `routes`, or anything not claimed by this side when they
 * are `*`), and writes each record under the same name (the other side's
 * prefix) on the other side. The subscriptions follow the directory live
 * (both sides' directory topics; entries are copied across, so every
 * platform's directory holds every entry). A code that moves is routed
 * anew at once. Records of local agencies are never read.
 *
 * Exactly once. A record read is stored in the relay's own LMDB (relayq,
 * one fsync'd transaction per batch) before its offset is stored for
 * commit; it leaves relayq only when the far cluster acknowledged it
 * (idempotent producer, acks=all). A crash or kill -9 repeats at most what
 * was stored and not yet acknowledged; the recipient de-duplicates
 * documents and chunks, receipts are idempotent, so each document is
 * delivered exactly once. Records of one side go out in the order they were
 * stored (one sender's records to one recipient stay in order); after a
 * failure nothing new goes out until everything in flight has reported,
 * then sending starts again from the oldest record not acknowledged.
 *
 * Hops. A document record (an envelope with a header) gets the relay's
 * signed hop appended (federation/lt_hop.h), and a hop notice goes back to
 * its sender's receipt topic on the side it came from. Chunk records,
 * receipts and anything that does not decode cross unchanged: the relay
 * never drops a record, and never changes the sender's bytes.
 *
 * Memory: the consumer's prefetch (lt_kafka), batches of at most 256
 * records, and at most LT_RELAY_WINDOW records or 8 MiB in flight per side.
 * Disk: at most LT_RELAY_QUEUE_MAX records wait for one side; beyond, the
 * other side's partitions are paused until half of them went out. A batch
 * the store cannot take (map full) is read again: each partition rewound to
 * its first record of the batch, and read again at the next turn in
 * batches halved down to one record (doubled again after each success).
 *
 * Refused. A hop notice goes only to a sender the directory places behind
 * the side it came from (the record names the topic); a document carrying
 * this relay's hop, or LT_RELAY_MAX_HOPS hops, is in a loop and is not
 * carried again (logged with its id).
 *
 * Failures. Each side's consumer is watched like the agent's (lt_watch,
 * receive_stall_s): one that makes no progress (records wait and none is
 * read, no group membership, no statistics) or hits a fatal error is
 * replaced, again after a doubling backoff while stalled; the new one is
 * subscribed again and resumes from the committed offsets. The old one is
 * destroyed on a helper thread (lt_reaper); with LT_REAPER_MAX destroys
 * pending the relay exits 1 for its supervisor. A producer with a fatal
 * error is recreated: what it had in flight is sent again from relayq. The
 * state (reading moving or stalled since, replacements; writing working or
 * failing since, with the refusal; storing working or failing) is written to
 * data_dir/relay-health when it changes and at least every 10 s, for
 * lt_relay_status (which says when the relay is gone or the file stale).
 *
 * Threads: one thread calls every function (a replaced consumer is destroyed
 * on a thread of its own, which touches nothing of the relay). Ownership: cfg (the near side),
 * signer, trust and store are borrowed and must outlive the relay.
 */
#ifndef LT_RELAY_H
#define LT_RELAY_H

#include <stdint.h>
#include <stdio.h>

#include "../config/lt_config.h"
#include "../proto/lt_sign.h"
#include "../store/lt_store.h"

#define LT_RELAY_WINDOW 1000
#define LT_RELAY_QUEUE_MAX 100000

struct lt_relay;

struct lt_relay *lt_relay_new(const struct lt_config *cfg, const struct lt_signer *signer,
                              const struct lt_trust *trust, struct lt_store *store, lt_err *err);

/* Reads, stores, sends and records what is due; never blocks long. 1 when it did something. */
int lt_relay_tick(struct lt_relay *r, int64_t now_ms);

/* Waits up to timeout_ms for records in flight, records them, frees. */
void lt_relay_free(struct lt_relay *r, int timeout_ms);

/*
 * Whether platform p is reached through the side configured by via (its
 * platform, or listed in its routes, or its routes are `*` and p is not the
 * other side's platform nor in its routes).
 */
int lt_relay_reaches(const struct lt_config *via, const struct lt_config *other, const char *p);

/*
 * What waits in a relay's store, for lienthong-relay --status: per side and
 * destination platform, how many records and since when (read-only).
 */
int lt_relay_status(const struct lt_config *cfg, struct lt_store *store, FILE *out, lt_err *err);

#endif
