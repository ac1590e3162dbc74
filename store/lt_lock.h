/*
 * lt_lock: one agent per data_dir, for the agent's whole life.
 *
 * The agent takes an exclusive open-file-description lock (fcntl
 * F_OFD_SETLK) on <data_dir>/agent.lock and writes its pid there. A second
 * agent started with the same data_dir is refused with a message naming the
 * running one, instead of fencing its Kafka consumer or rebinding its
 * submission socket. The kernel drops the lock when the agent exits in any
 * way (kill -9 included), so a stale file never blocks a restart.
 *
 * lt_lock_holder lets other programs (lienthong-status) ask whether an agent
 * runs on a data_dir without taking the lock (F_OFD_GETLK).
 *
 * Ownership: the lt_lock handle belongs to the caller; lt_lock_release
 * closes it (and so drops the lock). Not thread-aware: call from main.
 */
#ifndef LT_LOCK_H
#define LT_LOCK_H

#include <sys/types.h>

#include "../errors/lt_err.h"

struct lt_lock {
	int fd;
};

/*
 * Takes the lock of dir (created if needed). Fails with LT_ECONFLICT when
 * another process holds it (err names its pid), LT_EIO otherwise.
 */
int lt_lock_take(struct lt_lock *lock, const char *dir, lt_err *err);
void lt_lock_release(struct lt_lock *lock);

/* *pid: the holder's pid, 0 when no agent holds the lock of dir, -1 when one holds it
 * but has not written its pid yet. */
int lt_lock_holder(const char *dir, pid_t *pid, lt_err *err);

#endif
