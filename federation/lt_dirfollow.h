/*
 * lt_dirfollow: follows one platform's directory topic (<prefix>.directory)
 * and hands every verified entry to a callback inside a store transaction.
 * The topic is compacted and small (one entry per agency code): it is read
 * whole from its beginning at every start and then followed live, so an
 * entry published later takes effect within a poll, without a restart.
 * A record that does not verify (lt_dir_open) is logged and ignored.
 *
 * Threads: one thread calls every function (the agent's or relay's main
 * loop). Ownership: cfg, trust and store are borrowed and must outlive it.
 */
#ifndef LT_DIRFOLLOW_H
#define LT_DIRFOLLOW_H

#include <stdint.h>

#include "lt_dir.h"

struct lt_dirfollow;

/*
 * What to do with a verified entry (raw: its record bytes): 1 it changed
 * something, 0 nothing, -1 error (err set; the batch is read again).
 */
typedef int (*lt_dirfollow_fn)(void *ctx, struct lt_txn *t, const Lienthong__DirectoryEntry *e,
                               const uint8_t *raw, size_t len, lt_err *err);

/* The callback of an agent: keeps the newest entry of each code (lt_dir_keep). */
int lt_dirfollow_keep(void *ctx, struct lt_txn *t, const Lienthong__DirectoryEntry *e,
                      const uint8_t *raw, size_t len, lt_err *err);

struct lt_dirfollow *lt_dirfollow_new(const struct lt_config *cfg, const struct lt_trust *trust,
                                      struct lt_store *store, lt_dirfollow_fn fn, void *ctx,
                                      lt_err *err);

/*
 * Reads what arrived (never blocks), at most 256 records, and commits what
 * fn did with them in one transaction. Returns how many entries changed
 * something (fn returned 1), or -1 with err set (they are read again).
 */
int lt_dirfollow_tick(struct lt_dirfollow *f, lt_err *err);

void lt_dirfollow_free(struct lt_dirfollow *f);

/*
 * Reads cfg's directory topic once, to its end (or 10 s without a record:
 * an empty or missing topic), calling fn(ctx, entry) for each verified
 * entry and logging the others (lienthong-directory list, provisioning).
 */
int lt_dir_read_all(const struct lt_config *cfg, const struct lt_trust *trust,
                    void (*fn)(void *ctx, const Lienthong__DirectoryEntry *e), void *ctx,
                    lt_err *err);

#endif
