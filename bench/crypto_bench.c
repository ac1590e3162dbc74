/*
 * crypto_bench: the crypto ceiling of one core, through lienthong's own code.
 *
 *   crypto_bench KEY_FILE CERT_FILE [SECONDS]
 *
 * On one thread, for SECONDS (default 2) each:
 *   1. lt_sign over a message the size of a document's canonical bytes with
 *      one part (header and one SHA-256): signatures per second;
 *   2. lt_sign_verify of that signature with the certificate's public key:
 *      verifications per second;
 *   3. SHA-256 (OpenSSL EVP) over 1 MiB buffers: MiB per second.
 * Prints one JSON object: algorithm, sign_per_s, verify_per_s, sha256_mib_s.
 * Figures are printed, never asserted.
 */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../proto/lt_sign.h"

#define BENCH_MSG_LEN 320 /* about the canonical bytes of a one-part document */
#define BENCH_HASH_BUF (1024 * 1024)

static double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Signatures per second over seconds; -1 on an error (printed). */
static double bench_sign(const struct lt_signer *s, const uint8_t *msg, double seconds)
{
	lt_err err;
	long n = 0;
	double t0 = bench_now(), t;
	do {
		uint8_t *sig;
		size_t sig_len;
		for (int i = 0; i < 16; i++, n++) {
			if (lt_sign(s, msg, BENCH_MSG_LEN, &sig, &sig_len, &err) != 0) {
				fprintf(stderr, "crypto_bench: lt_sign: %s\n", err.msg);
				return -1;
			}
			free(sig);
		}
		t = bench_now() - t0;
	} while (t < seconds);
	return (double)n / t;
}

static double bench_verify(const struct lt_signer *s, const uint8_t *msg, double seconds)
{
	lt_err err;
	uint8_t *sig;
	size_t sig_len;
	if (lt_sign(s, msg, BENCH_MSG_LEN, &sig, &sig_len, &err) != 0) {
		fprintf(stderr, "crypto_bench: lt_sign: %s\n", err.msg);
		return -1;
	}
	EVP_PKEY *pub = X509_get0_pubkey(s->cert);
	long n = 0;
	double t0 = bench_now(), t;
	do {
		for (int i = 0; i < 16; i++, n++) {
			if (lt_sign_verify(pub, s->algorithm, msg, BENCH_MSG_LEN, sig, sig_len,
			                   &err) != 0) {
				fprintf(stderr, "crypto_bench: lt_sign_verify: %s\n", err.msg);
				free(sig);
				return -1;
			}
		}
		t = bench_now() - t0;
	} while (t < seconds);
	free(sig);
	return (double)n / t;
}

/* SHA-256 MiB per second over 1 MiB buffers. */
static double bench_sha256(double seconds)
{
	uint8_t *buf = malloc(BENCH_HASH_BUF);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!buf || !ctx) {
		fprintf(stderr, "crypto_bench: out of memory\n");
		free(buf);
		EVP_MD_CTX_free(ctx);
		return -1;
	}
	memset(buf, 0x5a, BENCH_HASH_BUF);
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned md_len;
	long n = 0;
	double t0 = bench_now(), t;
	int ok = 1;
	do {
		ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		     EVP_DigestUpdate(ctx, buf, BENCH_HASH_BUF) == 1 &&
		     EVP_DigestFinal_ex(ctx, md, &md_len) == 1;
		n++;
		t = bench_now() - t0;
	} while (ok && t < seconds);
	free(buf);
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		fprintf(stderr, "crypto_bench: EVP SHA-256 failed\n");
		return -1;
	}
	return (double)n / t;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: crypto_bench KEY_FILE CERT_FILE [SECONDS]\n");
		return 2;
	}
	double seconds = argc > 3 ? atof(argv[3]) : 2.0;
	if (!(seconds > 0 && seconds <= 600)) {
		fprintf(stderr, "crypto_bench: SECONDS must be in (0, 600], got '%s'\n", argv[3]);
		return 2;
	}
	struct lt_signer s;
	lt_err err;
	if (lt_signer_load(&s, argv[1], argv[2], &err) != 0) {
		fprintf(stderr, "crypto_bench: %s\n", err.msg);
		return 1;
	}
	uint8_t msg[BENCH_MSG_LEN];
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (uint8_t)(i * 31 + 7);
	double sign = bench_sign(&s, msg, seconds);
	double verify = sign < 0 ? -1 : bench_verify(&s, msg, seconds);
	double sha = verify < 0 ? -1 : bench_sha256(seconds);
	if (sha < 0) {
		lt_signer_free(&s);
		return 1;
	}
	printf("{\"algorithm\":\"%s\",\"sign_per_s\":%.0f,\"verify_per_s\":%.0f,"
	       "\"sha256_mib_s\":%.1f}\n",
	       s.algorithm, sign, verify, sha);
	lt_signer_free(&s);
	return 0;
}
