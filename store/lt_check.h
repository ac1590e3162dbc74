/*
 * lt_check: reads every record of an agency's store and decodes each value
 * as the record type of its database, so that a damaged store is found
 * before it is used (`lienthong-agent --check`, and the agent's start).
 *
 * LMDB does not checksum its pages: a damaged page may make a reader crash
 * or loop rather than fail. The walk therefore runs in a child process with
 * its own environment and a time limit; a child killed by a signal, or one
 * that runs out of time, means a damaged store, and the report names the
 * database it was reading.
 *
 * Threads: call before starting threads (it forks). Ownership: nothing is
 * kept; the result is the caller's.
 */
#ifndef LT_CHECK_H
#define LT_CHECK_H

#include <stdint.h>

#include "../errors/lt_err.h"
#include "lt_store.h"

struct lt_check_result {
	uint64_t records[LT_DB_COUNT]; /* per database */
	uint64_t total;
	int64_t elapsed_ms;
};

/*
 * Walks the store in dir (opened with map_size), giving up after limit_s
 * seconds. 0 with the counts when every record reads and decodes; else -1
 * with LT_EINVAL and a message naming the database, the record and how to
 * restore.
 */
int lt_store_check(const char *dir, int64_t map_size, int limit_s, struct lt_check_result *res,
                   lt_err *err);

/*
 * For programs that read the store (lienthong-status and the other tools):
 * a crash while reading (LMDB's assertion, SIGSEGV, SIGBUS, as a damaged page
 * can cause) ends the program with exit status 1 and a message naming the
 * likely cause and `lienthong-agent --check`, instead of a bare core dump.
 * prog names the program in the message. Call once at start.
 */
void lt_store_crash_guard(const char *prog);

#endif
