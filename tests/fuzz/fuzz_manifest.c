/* libFuzzer target: the batch manifest parser (first byte: odd = JSON Lines, even = CSV). */
#include <stdint.h>
#include <string.h>

#include "../../producers/lt_manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lt_manifest m = {0};
	struct lt_problems p = {0};
	lt_err err;
	if (size == 0)
		return 0;
	lt_manifest_parse("fuzz", (const char *)data + 1, size - 1,
	                  data[0] & 1 ? LT_MANIFEST_JSONL : LT_MANIFEST_CSV, &m, &p, &err);
	lt_manifest_free(&m);
	lt_problems_free(&p);
	return 0;
}
