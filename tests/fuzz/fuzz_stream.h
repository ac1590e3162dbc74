#ifndef LT_FUZZ_STREAM_H
#define LT_FUZZ_STREAM_H

#include <openssl/sha.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The streamed document the chunk seeds belong to: one part of
 * LT_FUZZ_STREAM_SIZE bytes (byte i is i * 7 + 3) in chunks of
 * LT_FUZZ_CHUNK bytes. seed_gen signs its manifest and writes some of its
 * chunks; fuzz_envelope checks fuzzed chunk records against it.
 */
#define LT_FUZZ_STREAM_ID "0190f3a2-7c41-7d2e-9a4b-1c2d3e4f5a6b"
#define LT_FUZZ_STREAM_SIZE 10000u
#define LT_FUZZ_CHUNK 4096u
#define LT_FUZZ_CHUNKS 3u

static uint8_t lt_fuzz_stream_data[LT_FUZZ_STREAM_SIZE];
static uint8_t lt_fuzz_stream_sha[32];
static uint8_t lt_fuzz_stream_chunks[LT_FUZZ_CHUNKS * 32];

static void lt_fuzz_stream_init(void)
{
	for (size_t i = 0; i < LT_FUZZ_STREAM_SIZE; i++)
		lt_fuzz_stream_data[i] = (uint8_t)(i * 7 + 3);
	SHA256(lt_fuzz_stream_data, LT_FUZZ_STREAM_SIZE, lt_fuzz_stream_sha);
	for (size_t c = 0; c < LT_FUZZ_CHUNKS; c++) {
		size_t off = c * LT_FUZZ_CHUNK, n = LT_FUZZ_STREAM_SIZE - off;
		SHA256(lt_fuzz_stream_data + off, n < LT_FUZZ_CHUNK ? n : LT_FUZZ_CHUNK,
		       lt_fuzz_stream_chunks + 32 * c);
	}
}

#endif
