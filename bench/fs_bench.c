/*
 * fs_bench: what the filesystem alone costs per delivered document, in the
 * shape lienthong's folder target writes it (consumers/lt_deliver.c).
 *
 *   fs_bench DIR [DOCUMENTS] [BYTES]
 *
 * For each of DOCUMENTS (default 20000) documents of BYTES (default 1024):
 * a temporary folder .tmp-<n> under DIR/sender, one part file in it,
 * written and closed; every 256 documents (the receive batch) one syncfs,
 * the renames to <n>, and one fsync of the sender folder. No Kafka, no LMDB,
 * no crypto: a floor under the receiving agent's cost, not an estimate of it.
 *
 * Two rounds: "fresh" into DIR/a, then DIR/a is removed and "after_delete"
 * writes DIR/b at once (ext4 without a journal skips inodes freed in the last
 * seconds when it allocates, so a receiver's cost depends on what was deleted
 * just before). Then the disk's own latency: FS_PROBES times, every
 * FS_PROBE_GAP_MS, 4 KiB rewritten in a file and fdatasync'd; every document
 * waits for at least three such syncs (the sender's commit, the receiver's
 * syncfs and its commit), so their tail bounds the latency's. Prints one
 * JSON object with, per round, CPU microseconds (user + system, getrusage)
 * and wall microseconds per document, and the fdatasync latencies. Figures
 * are printed, never asserted. DIR is created and left empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FS_BATCH 256
#define FS_NAME 32
#define FS_PROBES 3000    /* fdatasync latencies measured... */
#define FS_PROBE_GAP_MS 5 /* ...one every this many ms */

struct fs_round {
	double cpu_us; /* per document */
	double wall_us;
};

static double fs_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double fs_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int fs_fail(const char *what, const char *name)
{
	fprintf(stderr, "fs_bench: %s %s: %s\n", what, name, strerror(errno));
	return -1;
}

/* One document in its temporary folder, not yet durable. */
static int fs_write_one(int sender_fd, long i, const char *data, size_t bytes)
{
	char tmp[FS_NAME];
	snprintf(tmp, sizeof tmp, ".tmp-%ld", i);
	if (mkdirat(sender_fd, tmp, 0750) != 0)
		return fs_fail("mkdir", tmp);
	int dfd = openat(sender_fd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fs_fail("open", tmp);
	int fd = openat(dfd, "part", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	close(dfd);
	if (fd < 0)
		return fs_fail("create the part in", tmp);
	ssize_t w = write(fd, data, bytes);
	close(fd);
	if (w != (ssize_t)bytes)
		return fs_fail("write the part in", tmp);
	return 0;
}

/* Makes documents first..last-1 durable and renames them, as lt_target_flush does. */
static int fs_flush(int sender_fd, long first, long last)
{
	char tmp[FS_NAME], name[FS_NAME];
	if (syncfs(sender_fd) != 0)
		return fs_fail("syncfs", "sender");
	for (long i = first; i < last; i++) {
		snprintf(tmp, sizeof tmp, ".tmp-%ld", i);
		snprintf(name, sizeof name, "%ld", i);
		if (renameat(sender_fd, tmp, sender_fd, name) != 0)
			return fs_fail("rename", tmp);
	}
	if (fsync(sender_fd) != 0)
		return fs_fail("fsync", "sender");
	return 0;
}

static int fs_round(const char *dir, long n, const char *data, size_t bytes, struct fs_round *out)
{
	char sender[4096];
	snprintf(sender, sizeof sender, "%s/sender", dir);
	if (mkdir(dir, 0750) != 0 || mkdir(sender, 0750) != 0)
		return fs_fail("mkdir", dir);
	int sender_fd = open(sender, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sender_fd < 0)
		return fs_fail("open", sender);
	double c0 = fs_cpu(), t0 = fs_now();
	long first = 0;
	int rc = 0;
	for (long i = 0; rc == 0 && i < n; i++) {
		rc = fs_write_one(sender_fd, i, data, bytes);
		if (rc == 0 && (i + 1 - first == FS_BATCH || i + 1 == n)) {
			rc = fs_flush(sender_fd, first, i + 1);
			first = i + 1;
		}
	}
	out->cpu_us = (fs_cpu() - c0) * 1e6 / (double)n;
	out->wall_us = (fs_now() - t0) * 1e6 / (double)n;
	close(sender_fd);
	return rc;
}

/* Removes what fs_round wrote under dir (documents 0..n-1), then dir. */
static int fs_remove(const char *dir, long n)
{
	char path[4200];
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/sender/%ld/part", dir, i);
		if (unlink(path) != 0)
			return fs_fail("unlink", path);
		snprintf(path, sizeof path, "%s/sender/%ld", dir, i);
		if (rmdir(path) != 0)
			return fs_fail("rmdir", path);
	}
	snprintf(path, sizeof path, "%s/sender", dir);
	if (rmdir(path) != 0 || rmdir(dir) != 0)
		return fs_fail("rmdir", dir);
	return 0;
}

static int fs_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* FS_PROBES fdatasync latencies of a 4 KiB rewrite, sorted, in ms. */
static int fs_probe(const char *dir, double *ms)
{
	char path[4200], block[4096];
	snprintf(path, sizeof path, "%s/probe", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return fs_fail("create", path);
	memset(block, 'x', sizeof block);
	struct timespec gap = {0, FS_PROBE_GAP_MS * 1000000L};
	int rc = 0;
	for (int i = 0; rc == 0 && i < FS_PROBES; i++) {
		if (pwrite(fd, block, sizeof block, 0) != (ssize_t)sizeof block)
			rc = fs_fail("write", path);
		double t0 = fs_now();
		if (rc == 0 && fdatasync(fd) != 0)
			rc = fs_fail("fdatasync", path);
		ms[i] = (fs_now() - t0) * 1e3;
		nanosleep(&gap, NULL);
	}
	close(fd);
	unlink(path);
	qsort(ms, FS_PROBES, sizeof *ms, fs_cmp);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: fs_bench DIR [DOCUMENTS] [BYTES]\n");
		return 2;
	}
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 20000;
	long bytes = argc > 3 ? strtol(argv[3], NULL, 10) : 1024;
	if (n < 1 || n > 10000000 || bytes < 0 || bytes > (1 << 20)) {
		fprintf(stderr, "fs_bench: DOCUMENTS is 1-10000000, BYTES 0-1048576\n");
		return 2;
	}
	char *data = malloc((size_t)bytes + 1);
	char a[4096], b[4096];
	struct fs_round fresh, after;
	static double ms[FS_PROBES];
	if (data == NULL)
		return 1;
	memset(data, 'x', (size_t)bytes + 1);
	snprintf(a, sizeof a, "%s/a", argv[1]);
	snprintf(b, sizeof b, "%s/b", argv[1]);
	if ((mkdir(argv[1], 0750) != 0 && errno != EEXIST) ||
	    fs_round(a, n, data, (size_t)bytes, &fresh) != 0 || fs_remove(a, n) != 0 ||
	    fs_round(b, n, data, (size_t)bytes, &after) != 0 || fs_remove(b, n) != 0 ||
	    fs_probe(argv[1], ms) != 0) {
		free(data);
		return 1;
	}
	free(data);
	int over = 0;
	for (int i = 0; i < FS_PROBES; i++)
		over += ms[i] > 50.0;
	printf("{\"documents\": %ld, \"bytes\": %ld, \"batch\": %d, "
	       "\"fresh\": {\"cpu_us_per_doc\": %.1f, \"wall_us_per_doc\": %.1f}, "
	       "\"after_delete\": {\"cpu_us_per_doc\": %.1f, \"wall_us_per_doc\": %.1f}, "
	       "\"fdatasync_4k\": {\"count\": %d, \"p50_ms\": %.2f, \"p99_ms\": %.2f, "
	       "\"p999_ms\": %.1f, \"max_ms\": %.1f, \"over_50_ms\": %d}}\n",
	       n, bytes, FS_BATCH, fresh.cpu_us, fresh.wall_us, after.cpu_us, after.wall_us,
	       FS_PROBES, ms[FS_PROBES / 2], ms[FS_PROBES * 99 / 100], ms[FS_PROBES * 999 / 1000],
	       ms[FS_PROBES - 1], over);
	return 0;
}
