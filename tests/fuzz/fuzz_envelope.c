/*
 * libFuzzer target: an inbox record (a document envelope or a chunk record),
 * through decoding, limits and verification; a chunk record is checked
 * against the manifest of the seeds' streamed document (fuzz_stream.h).
 */
#include <stdint.h>

#include "../../proto/lt_envelope.h"
#include "fuzz_common.h"
#include "fuzz_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The seeds' manifest, as a verified one would be decoded (no signature needed here). */
static const Lienthong__Envelope *fuzz_manifest(void)
{
	static char *recipients[] = {"FUZZ.B"};
	static Lienthong__Header h = LIENTHONG__HEADER__INIT;
	static Lienthong__Part part = LIENTHONG__PART__INIT;
	static Lienthong__Part *parts[] = {&part};
	static Lienthong__Envelope env = LIENTHONG__ENVELOPE__INIT;
	if (env.header != NULL)
		return &env;
	lt_fuzz_stream_init();
	h.document_id = LT_FUZZ_STREAM_ID;
	h.sender = "FUZZ.A";
	h.recipients = recipients;
	h.n_recipients = 1;
	part.name = "streamed.bin";
	part.media_type = "application/octet-stream";
	part.size = LT_FUZZ_STREAM_SIZE;
	part.sha256.data = lt_fuzz_stream_sha;
	part.sha256.len = sizeof lt_fuzz_stream_sha;
	part.chunk_bytes = LT_FUZZ_CHUNK;
	part.chunk_sha256.data = lt_fuzz_stream_chunks;
	part.chunk_sha256.len = sizeof lt_fuzz_stream_chunks;
	env.version = 1;
	env.header = &h;
	env.parts = parts;
	env.n_parts = 1;
	return &env;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Lienthong__Envelope *env = NULL;
	uint8_t digest[LT_DIGEST_LEN];
	lt_err err;
	lt_fuzz_init();
	if (lt_envelope_decode_any(data, size, &lt_fuzz_cfg, &env, &err) == 0) {
		if (env->chunk != NULL)
			lt_chunk_check(fuzz_manifest(), env->chunk, &err);
		else if (lt_fuzz_trust != NULL)
			lt_envelope_verify(env, lt_fuzz_trust, digest, &err);
	}
	if (env != NULL)
		lienthong__envelope__free_unpacked(env, NULL);
	return 0;
}
