#include "lt_counters.h"

#include <stdatomic.h>

const double lt_latency_bounds_s[LT_LATENCY_BUCKETS] = {0.1, 0.25, 0.5, 1,   2,    5,
                                                        10,  30,   60,  300, 3600, 86400};

static _Atomic uint64_t lt_counters[LT_C_COUNT];

void lt_counts_add(struct lt_counts *c, enum lt_counter k, uint64_t n)
{
	c->v[k] += n;
}

void lt_counts_latency(struct lt_counts *c, int64_t ms)
{
	size_t b = 0;
	if (ms < 0)
		ms = 0;
	while (b < LT_LATENCY_BUCKETS && (double)ms > lt_latency_bounds_s[b] * 1000.0)
		b++;
	c->v[LT_C_LATENCY + b]++;
	c->v[LT_C_LATENCY_SUM_MS] += (uint64_t)ms;
}

void lt_counts_merge(struct lt_counts *c, const struct lt_counts *d)
{
	for (size_t i = 0; i < LT_C_COUNT; i++)
		c->v[i] += d->v[i];
}

void lt_counters_publish(const struct lt_counts *c)
{
	for (size_t i = 0; i < LT_C_COUNT; i++) {
		if (c->v[i] != 0)
			atomic_fetch_add_explicit(&lt_counters[i], c->v[i], memory_order_relaxed);
	}
}

void lt_counter_add(enum lt_counter k, uint64_t n)
{
	atomic_fetch_add_explicit(&lt_counters[k], n, memory_order_relaxed);
}

void lt_counters_read(struct lt_counts *out)
{
	for (size_t i = 0; i < LT_C_COUNT; i++)
		out->v[i] = atomic_load_explicit(&lt_counters[i], memory_order_relaxed);
}
