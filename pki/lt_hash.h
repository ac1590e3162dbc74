/*
 * lt_hash: SHA-256 with the algorithm fetched from OpenSSL's provider once.
 *
 * OpenSSL 3 looks an algorithm up by name on every SHA256() and on every
 * EVP_DigestInit with EVP_sha256(): for the short inputs of canonical
 * bytes, Merkle nodes and digests that lookup cost more than the hash
 * itself (676 against 250 ns for 65 bytes on the test machine) and about a
 * tenth of a sending agent's CPU. Every SHA-256 of lienthong goes through
 * here.
 *
 * Thread-safe: the fetch happens once (pthread_once); the EVP_MD is
 * read-only afterwards and lives until the process ends.
 */
#ifndef LT_HASH_H
#define LT_HASH_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

/* The fetched SHA-256, for EVP_DigestInit_ex of streamed hashing. */
const EVP_MD *lt_sha256_md(void);

/* out = SHA-256(data[0..len)). */
void lt_sha256(const void *data, size_t len, uint8_t out[32]);

#endif
