/* libFuzzer target: an inbox record, through decoding, limits and verification. */
#include <stdint.h>

#include "../../proto/lt_envelope.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Lienthong__Envelope *env = NULL;
	uint8_t digest[LT_DIGEST_LEN];
	lt_err err;
	lt_fuzz_init();
	if (lt_envelope_decode(data, size, &lt_fuzz_cfg, &env, &err) == 0 && lt_fuzz_trust != NULL)
		lt_envelope_verify(env, lt_fuzz_trust, digest, &err);
	if (env != NULL)
		lienthong__envelope__free_unpacked(env, NULL);
	return 0;
}
