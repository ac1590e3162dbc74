#include "lt_backoff.h"

#include <assert.h>
#include <openssl/rand.h>

void lt_backoff_init(struct lt_backoff *b, int64_t min_ms, int64_t max_ms)
{
	assert(min_ms > 0 && min_ms <= max_ms);
	*b = (struct lt_backoff){.min_ms = min_ms, .max_ms = max_ms, .next_ms = min_ms};
}

int64_t lt_backoff_next(struct lt_backoff *b)
{
	int64_t wait = b->next_ms;
	b->next_ms = wait > b->max_ms / 2 ? b->max_ms : wait * 2;
	return wait;
}

int64_t lt_backoff_jitter(int64_t wait_ms)
{
	uint32_t r = 0;
	if (wait_ms < 2)
		return wait_ms;
	if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
		return wait_ms; /* no randomness: the full wait, still correct */
	return wait_ms / 2 + (int64_t)(r % (uint64_t)(wait_ms / 2 + 1));
}
