/* libFuzzer target: a receipt record, through decoding, limits and verification. */
#include <stdint.h>

#include "../../proto/lt_receipt.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lt_err err;
	lt_fuzz_init();
	Lienthong__Receipt *r = lt_receipt_decode(data, size, &lt_fuzz_cfg, &err);
	if (r != NULL) {
		if (lt_fuzz_trust != NULL)
			lt_receipt_verify(r, lt_fuzz_trust, &err);
		lienthong__receipt__free_unpacked(r, NULL);
	}
	return 0;
}
