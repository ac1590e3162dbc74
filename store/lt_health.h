/*
 * lt_health: the running agent's account of itself in its own store
 * (meta db, key "health", a HealthRecord of proto/store.proto), so that
 * lienthong-status can say whether receiving works, offline and without
 * asking the agent. Only the agent writes it; anyone reads it.
 *
 * Ownership: lt_health_get returns a record the caller frees with
 * lienthong__store__health_record__free_unpacked (NULL when none was written).
 */
#ifndef LT_HEALTH_H
#define LT_HEALTH_H

#include "lt_store.h"

int lt_health_put(struct lt_store *s, const Lienthong__Store__HealthRecord *rec, lt_err *err);
int lt_health_get(struct lt_store *s, Lienthong__Store__HealthRecord **out, lt_err *err);

#endif
