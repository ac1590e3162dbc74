#include "lt_backup.h"

#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "../clock/lt_clock.h"
#include "lt_store.h"

int lt_store_backup(const char *data_dir, int64_t map_size, const char *dest, int limit_s,
                    struct lt_backup_result *res, lt_err *err)
{
	struct lt_store *s = NULL;
	char lock[PATH_MAX + 16];
	int64_t start = lt_now_ms();
	if (snprintf(lock, sizeof lock, "%s/lock.mdb", dest) >= (int)sizeof lock)
		return lt_err_set(err, LT_EINVAL, "backup folder name too long: %s", dest);
	if (lt_store_open(&s, data_dir, map_size, err) != 0)
		return lt_err_wrap(err, "cannot back up");
	int rc = lt_store_copy(s, dest, &res->bytes, err);
	lt_store_close(s);
	if (rc != 0)
		return lt_err_wrap(err, "backup of %s into %s", data_dir, dest);
	res->copy_ms = lt_now_ms() - start;
	/* Read back as the agent would read it after a restore. */
	rc = lt_store_check(dest, map_size, limit_s, &res->check, err);
	unlink(lock); /* the check's; a restore copies data.mdb and store-id only */
	if (rc != 0)
		return lt_err_wrap(
		    err,
		    "the copy in %s does not pass the check (left there for "
		    "analysis); the store itself may be damaged: run lienthong-agent "
		    "-c FILE --check",
		    dest);
	return 0;
}
