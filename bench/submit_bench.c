/*
 * submit_bench: does durability cap submissions at one fsync per document?
 *
 *   submit_bench DIR [THREADS] [DOCS_PER_THREAD]
 *
 * Measures in DIR (on the disk under test):
 *   1. the raw rate of write + fdatasync on one file: the ceiling of a design
 *      that flushes once per document;
 *   2. lt_submit with one document per call (each call durable before it
 *      returns), from 1 thread and from THREADS threads at once;
 *   3. lt_submit with 64 documents per call (one commit, one flush), as
 *      lienthong-upload and the agent's submission service do.
 * Figures are printed, never asserted.
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

#define BENCH_BATCH_MAX 64

struct bench_thread {
	struct lt_store *store;
	int docs;
	int batch; /* documents per lt_submit call */
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
	char ids[BENCH_BATCH_MAX][LT_DOCID_LEN + 1];
	struct lt_submit_doc d[BENCH_BATCH_MAX];
	lt_err err;
	for (int i = 0; i < bt->docs; i += bt->batch) {
		for (int j = 0; j < bt->batch; j++) {
			if (lt_docid_new(ids[j], &err) != 0)
				goto fail;
			d[j] = (struct lt_submit_doc){.document_id = ids[j],
			                              .envelope = envelope,
			                              .len = sizeof envelope,
			                              .digest = digest,
			                              .recipients = recipients,
			                              .n_recipients = 1,
			                              .subject = "bench"};
		}
		if (lt_submit(bt->store, d, (size_t)bt->batch, lt_now_ms(), &err) != 0)
			goto fail;
	}
	return NULL;
fail:
	fprintf(stderr, "submit_bench: %s\n", err.msg);
	bt->failed = 1;
	return NULL;
}

static double bench_submit(struct lt_store *store, int threads, int docs, int batch)
{
	pthread_t tid[64];
	struct bench_thread bt[64];
	double t0 = bench_now();
	for (int i = 0; i < threads; i++) {
		bt[i] = (struct bench_thread){.store = store, .docs = docs, .batch = batch};
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
	double one = bench_submit(store, 1, docs, 1);
	double many = bench_submit(store, threads, docs, 1);
	double batched = bench_submit(store, 1, docs * threads, BENCH_BATCH_MAX);
	printf("raw write+fdatasync:                %8.0f /s (one flush per document)\n", raw);
	printf("lt_submit, 1 document/call, 1 thread:  %8.0f documents/s\n", one);
	printf("lt_submit, 1 document/call, %d threads: %8.0f documents/s\n", threads, many);
	printf("lt_submit, %d documents/call, 1 thread: %8.0f documents/s\n", BENCH_BATCH_MAX,
	       batched);
	printf("ratio batched / raw fdatasync: %.2f\n", batched / raw);
	lt_store_close(store);
	return one < 0 || many < 0 || batched < 0;
}
