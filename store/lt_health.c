#include "lt_health.h"

#include <string.h>

#define LT_HEALTH_KEY "health"

int lt_health_put(struct lt_store *s, const Lienthong__Store__HealthRecord *rec, lt_err *err)
{
	struct lt_txn *t = NULL;
	if (lt_txn_begin(s, 1, &t, err) != 0)
		return -1;
	if (lt_txn_put_pb(t, LT_DB_META, LT_HEALTH_KEY, strlen(LT_HEALTH_KEY), &rec->base, err) !=
	    0) {
		lt_txn_abort(t);
		return -1;
	}
	return lt_txn_commit(t, err);
}

int lt_health_get(struct lt_store *s, Lienthong__Store__HealthRecord **out, lt_err *err)
{
	struct lt_txn *t = NULL;
	const void *val;
	size_t len;
	*out = NULL;
	if (lt_txn_begin(s, 0, &t, err) != 0)
		return -1;
	int rc = lt_txn_get(t, LT_DB_META, LT_HEALTH_KEY, strlen(LT_HEALTH_KEY), &val, &len, err);
	if (rc == 0 && val != NULL) {
		*out = lienthong__store__health_record__unpack(NULL, len, val);
		if (*out == NULL)
			rc = lt_err_set(err, LT_EIO, "the agent's health record is corrupt");
	}
	lt_txn_abort(t);
	return rc;
}
