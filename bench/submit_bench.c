/*
 * submit_bench: does durability cap submissions at one fsync per document?
 *
 *   submit_bench DIR [THREADS] [DOCS_PER_THREAD]
 *
 * Measures in DIR (on the disk under test):
 *   1. the raw rate of write + fdatasync on one file: the ceiling of a design
 *      that flushes once per document;
 *   2. lt_submit with one document per call (each call durable before it
 *      returns), from 1 thread and from THREADS threads at once.
 * With group commit, concurrent submitters share flushes, so (2) with several
 * threads goes above (1). Figures are printed, never asserted.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../clock/lt_clock.h"
#include "../producers/lt_submit.h"
#include "../proto/lt_envelope.h"

struct bench_thread {
	struct lt_store *store;
	int docs;
	int failed;
};

static double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *bench_submitter(void *arg)
{
	struct bench_thread *bt = arg;
	static const uint8_t envelope[4096];
	static const uint8_t digest[32];
	const char *recipients[] = {"BENCH.B"};
	for (int i = 0; i < bt->docs; i++) {
		char id[LT_DOCID_LEN + 1];
		lt_err err;
		struct lt_submit_doc d = {.document_id = id,
					  .envelope = envelope,
					  .len = sizeof envelope,
					  .digest = digest,
					  .recipients = recipients,
					  .n_recipients = 1,
					  .subject = "bench"};
		if (lt_docid_new(id, &err) != 0 || lt_submit(bt->store, &d, 1, lt_now_ms(), &err) != 0) {
			fprintf(stderr, "submit_bench: %s\n", err.msg);
			bt->failed = 1;
			return NULL;
		}
	}
	return NULL;
}

static double bench_submit(struct lt_store *store, int threads, int docs)
{
	pthread_t tid[64];
	struct bench_thread bt[64];
	double t0 = bench_now();
	for (int i = 0; i < threads; i++) {
		bt[i] = (struct bench_thread){.store = store, .docs = docs};
		pthread_create(&tid[i], NULL, bench_submitter, &bt[i]);
	}
	int failed = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		failed |= bt[i].failed;
	}
	double t1 = bench_now();
	return failed ? -1.0 : (double)threads * docs / (t1 - t0);
}

static double bench_fsync_rate(const char *dir, int n)
{
	char path[4096];
	char block[4096] = {0};
	snprintf(path, sizeof path, "%s/fsync-probe", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1.0;
	double t0 = bench_now();
	for (int i = 0; i < n; i++) {
		if (pwrite(fd, block, sizeof block, (off_t)i * (off_t)sizeof block) < 0 ||
		    fdatasync(fd) != 0)
			break;
	}
	double t1 = bench_now();
	close(fd);
	unlink(path);
	return n / (t1 - t0);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: submit_bench DIR [THREADS] [DOCS_PER_THREAD]\n");
		return 2;
	}
	int threads = argc > 2 ? atoi(argv[2]) : 4;
	int docs = argc > 3 ? atoi(argv[3]) : 300;
	if (threads < 1 || threads > 64 || docs < 1) {
		fprintf(stderr, "submit_bench: THREADS 1..64, DOCS_PER_THREAD >= 1\n");
		return 2;
	}
	struct lt_store *store = NULL;
	lt_err err;
	if (lt_store_open(&store, argv[1], (int64_t)1 << 30, &err) != 0) {
		fprintf(stderr, "submit_bench: %s\n", err.msg);
		return 1;
	}
	double raw = bench_fsync_rate(argv[1], 300);
	double one = bench_submit(store, 1, docs);
	double many = bench_submit(store, threads, docs);
	printf("raw write+fdatasync:                %8.0f /s (one flush per document)\n", raw);
	printf("lt_submit, 1 document/call, 1 thread:  %8.0f documents/s\n", one);
	printf("lt_submit, 1 document/call, %d threads: %8.0f documents/s\n", threads, many);
	printf("ratio %d threads / raw fdatasync: %.2f\n", threads, many / raw);
	lt_store_close(store);
	return one < 0 || many < 0;
}
