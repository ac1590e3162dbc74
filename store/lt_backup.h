/*
 * lt_backup: a hot backup of an agency's store, taken while the agent runs
 * (`lienthong-agent -c FILE --backup DIR`): a consistent, compacted copy
 * (lt_store_copy) with the store's marker, then every record of the copy
 * read back (lt_store_check), so that a backup that would not restore is
 * known when it is taken, not when it is needed.
 *
 * Threads: call before starting threads (the check forks). Ownership:
 * nothing is kept; the result is the caller's.
 */
#ifndef LT_BACKUP_H
#define LT_BACKUP_H

#include <stdint.h>

#include "../errors/lt_err.h"
#include "lt_check.h"

struct lt_backup_result {
	int64_t bytes;                /* size of the copy's data.mdb */
	int64_t copy_ms;              /* time the copy took */
	struct lt_check_result check; /* the walk of the copy */
};

/*
 * Copies the store in data_dir (opened with map_size) into dest, a new or
 * empty folder, and checks the copy (giving up after limit_s seconds). 0 on
 * success; -1 with a message otherwise (a copy that fails its check is left
 * in dest for analysis, and the message says so).
 */
int lt_store_backup(const char *data_dir, int64_t map_size, const char *dest, int limit_s,
                    struct lt_backup_result *res, lt_err *err);

#endif
