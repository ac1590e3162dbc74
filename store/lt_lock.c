#include "lt_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LT_LOCK_FILE "agent.lock"

static int lt_lock_path(const char *dir, char *path, size_t size, lt_err *err)
{
	if ((size_t)snprintf(path, size, "%s/%s", dir, LT_LOCK_FILE) >= size)
		return lt_err_set(err, LT_EINVAL, "data_dir %s: path too long", dir);
	return 0;
}

/* The pid written by the holder; 0 when the file holds none. */
static pid_t lt_lock_read_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	long pid = strtol(buf, NULL, 10);
	return pid > 0 && pid <= INT32_MAX ? (pid_t)pid : 0;
}

int lt_lock_take(struct lt_lock *lock, const char *dir, lt_err *err)
{
	char path[PATH_MAX];
	lock->fd = -1;
	if (lt_lock_path(dir, path, sizeof path, err) != 0)
		return -1;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return lt_err_errno(err, errno, "cannot create data_dir %s", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return lt_err_errno(err, errno, "cannot open the agent lock %s", path);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
		int e = errno;
		pid_t other = lt_lock_read_pid(fd);
		close(fd);
		if (e == EAGAIN || e == EACCES)
			return lt_err_set(
			    err, LT_ECONFLICT,
			    "another lienthong-agent (pid %ld) is already running with "
			    "data_dir %s (it holds %s): stop it first; a second agent "
			    "of the same agency would take over its Kafka consumer",
			    (long)other, dir, path);
		return lt_err_errno(err, e, "cannot lock %s", path);
	}
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		int e = errno;
		close(fd);
		return lt_err_errno(err, e, "cannot write the agent's pid into %s", path);
	}
	lock->fd = fd;
	return 0;
}

void lt_lock_release(struct lt_lock *lock)
{
	if (lock->fd >= 0)
		close(lock->fd);
	lock->fd = -1;
}

int lt_lock_holder(const char *dir, pid_t *pid, lt_err *err)
{
	char path[PATH_MAX];
	*pid = 0;
	if (lt_lock_path(dir, path, sizeof path, err) != 0)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : lt_err_errno(err, errno, "cannot open %s", path);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int rc = 0;
	if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
		rc = lt_err_errno(err, errno, "cannot query the lock %s", path);
	else if (fl.l_type != F_UNLCK)
		*pid = lt_lock_read_pid(fd);
	close(fd);
	if (rc == 0 && fl.l_type != F_UNLCK && *pid == 0)
		*pid = -1; /* held, pid not written yet */
	return rc;
}
