#include "lt_hash.h"

#include <openssl/sha.h>
#include <pthread.h>

static pthread_once_t lt_hash_once = PTHREAD_ONCE_INIT;
static EVP_MD *lt_hash_md;

static void lt_hash_fetch(void)
{
	lt_hash_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const EVP_MD *lt_sha256_md(void)
{
	pthread_once(&lt_hash_once, lt_hash_fetch);
	/* No provider answered (a broken OpenSSL configuration): the lookup each time. */
	return lt_hash_md != NULL ? lt_hash_md : EVP_sha256();
}

void lt_sha256(const void *data, size_t len, uint8_t out[32])
{
	/* EVP_Digest fails only when out of memory: then the one-shot SHA256 (no context). */
	if (EVP_Digest(data, len, out, NULL, lt_sha256_md(), NULL) != 1)
		SHA256(data, len, out);
}
