#include "lt_sign.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include "../pki/lt_hash.h"
#include "../pki/lt_pki.h"

#define LT_ALG_ECDSA "ecdsa-p256-sha256"
#define LT_ALG_ED25519 "ed25519"
#define LT_ALG_RSA "rsa-pss-sha256"

const char *lt_sign_algorithm(EVP_PKEY *key, lt_err *err)
{
	if (EVP_PKEY_is_a(key, "ED25519"))
		return LT_ALG_ED25519;
	if (EVP_PKEY_is_a(key, "EC")) {
		char group[64];
		size_t glen = 0;
		if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                                   sizeof group, &glen) != 1) {
			lt_err_ssl(err, LT_EINVAL, "cannot read the curve of an EC key");
			return NULL;
		}
		if (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0) {
			lt_err_set(err, LT_EINVAL, "EC key on curve %s: only P-256 is supported",
			           group);
			return NULL;
		}
		return LT_ALG_ECDSA;
	}
	if (EVP_PKEY_is_a(key, "RSA")) {
		if (EVP_PKEY_get_bits(key) < 2048) {
			lt_err_set(err, LT_EINVAL, "RSA key of %d bits: at least 2048 are required",
			           EVP_PKEY_get_bits(key));
			return NULL;
		}
		return LT_ALG_RSA;
	}
	lt_err_set(err, LT_EINVAL, "unsupported key type %s (use ECDSA P-256, Ed25519 or RSA)",
	           EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "?");
	return NULL;
}

int lt_signer_load(struct lt_signer *s, const char *key_file, const char *cert_file, lt_err *err)
{
	if (lt_signer_load_any(s, key_file, cert_file, err) != 0)
		return -1;
	if (lt_pki_check_key_file(key_file, err) != 0) {
		lt_signer_free(s);
		return -1;
	}
	if (lt_pki_check_signer_purpose(s->cert, err) != 0) {
		lt_signer_free(s);
		return lt_err_wrap(err, "own certificate %s", cert_file);
	}
	return 0;
}

int lt_signer_load_any(struct lt_signer *s, const char *key_file, const char *cert_file,
                       lt_err *err)
{
	memset(s, 0, sizeof *s);
	s->key = lt_pki_load_key(key_file, err);
	if (s->key == NULL)
		goto fail;
	s->cert = lt_pki_load_cert(cert_file, err);
	if (s->cert == NULL)
		goto fail;
	if (X509_check_private_key(s->cert, s->key) != 1) {
		lt_err_ssl(err, LT_EINVAL, "key %s does not belong to certificate %s", key_file,
		           cert_file);
		goto fail;
	}
	s->algorithm = lt_sign_algorithm(s->key, err);
	if (s->algorithm == NULL) {
		lt_err_wrap(err, "%s", key_file);
		goto fail;
	}
	if (lt_pki_cert_code(s->cert, s->code, sizeof s->code, err) != 0) {
		lt_err_wrap(err, "%s", cert_file);
		goto fail;
	}
	unsigned char *der = NULL;
	int n = i2d_X509(s->cert, &der);
	if (n <= 0) {
		lt_err_ssl(err, LT_EIO, "cannot encode certificate %s", cert_file);
		goto fail;
	}
	s->cert_der = der;
	s->cert_der_len = (size_t)n;
	return 0;
fail:
	lt_signer_free(s);
	return -1;
}

void lt_signer_free(struct lt_signer *s)
{
	EVP_PKEY_free(s->key);
	X509_free(s->cert);
	OPENSSL_free(s->cert_der);
	memset(s, 0, sizeof *s);
}

/* Sets up ctx for the algorithm (digest and padding); returns 0 or -1. */
static int lt_sign_init(EVP_MD_CTX *ctx, EVP_PKEY *key, const char *algorithm, int signing)
{
	EVP_PKEY_CTX *pctx = NULL;
	const char *md = strcmp(algorithm, LT_ALG_ED25519) == 0 ? NULL : "SHA256";
	int ok = signing ? EVP_DigestSignInit_ex(ctx, &pctx, md, NULL, NULL, key, NULL)
	                 : EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, key, NULL);
	if (ok != 1)
		return -1;
	if (strcmp(algorithm, LT_ALG_RSA) == 0) {
		/*
		 * Signing: salt of 32 bytes (the digest's length). Verifying: any salt
		 * length the signature carries (OpenSSL's default when signing is the
		 * largest), as docs/WIRE.md allows.
		 */
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, signing ? 32 : RSA_PSS_SALTLEN_AUTO) !=
		        1 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL) != 1)
			return -1;
	}
	return 0;
}

int lt_sign(const struct lt_signer *s, const uint8_t *msg, size_t len, uint8_t **sig,
            size_t *sig_len, lt_err *err)
{
	int rc = -1;
	uint8_t *buf = NULL;
	size_t n = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL || lt_sign_init(ctx, s->key, s->algorithm, 1) != 0) {
		lt_err_ssl(err, LT_EIO, "cannot start %s signature", s->algorithm);
		goto out;
	}
	if (EVP_DigestSign(ctx, NULL, &n, msg, len) != 1 || (buf = malloc(n)) == NULL ||
	    EVP_DigestSign(ctx, buf, &n, msg, len) != 1) {
		lt_err_ssl(err, LT_EIO, "%s signature failed", s->algorithm);
		goto out;
	}
	*sig = buf;
	*sig_len = n;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	return rc;
}

int lt_sign_verify(EVP_PKEY *pub, const char *algorithm, const uint8_t *msg, size_t len,
                   const uint8_t *sig, size_t sig_len, lt_err *err)
{
	lt_err kerr;
	const char *expected = lt_sign_algorithm(pub, &kerr);
	if (expected == NULL)
		return lt_err_set(err, LT_EVERIFY, "signer key not usable: %s", kerr.msg);
	if (strcmp(expected, algorithm) != 0)
		return lt_err_set(err, LT_EVERIFY,
		                  "signature algorithm '%.40s' does not fit the signer key (%s)",
		                  algorithm, expected);
	if (sig_len == 0 || sig_len > LT_SIG_MAX)
		return lt_err_set(err, LT_EVERIFY, "signature missing or longer than %d bytes",
		                  LT_SIG_MAX);
	int rc = -1;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL || lt_sign_init(ctx, pub, algorithm, 0) != 0) {
		lt_err_ssl(err, LT_EIO, "cannot start %s verification", algorithm);
		goto out;
	}
	if (EVP_DigestVerify(ctx, sig, sig_len, msg, len) != 1) {
		lt_err_set(err, LT_EVERIFY, "signature did not verify (%s)", algorithm);
		ERR_clear_error();
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* A certificate the trust store checked already (but for revocation): parse, name. */
static X509 *lt_sign_parse_cert(const uint8_t *der, size_t len, char *code, size_t size,
                                lt_err *err)
{
	const unsigned char *p = der;
	X509 *cert = d2i_X509(NULL, &p, (long)len);
	if (cert == NULL || lt_pki_cert_code(cert, code, size, err) != 0) {
		if (cert == NULL)
			lt_err_ssl(err, LT_EVERIFY, "signer certificate is not valid DER X.509");
		X509_free(cert);
		return NULL;
	}
	return cert;
}

/* What a verification depended on, hashed: the key of lt_trust_sig_known. */
static int lt_sign_fact(const char *algorithm, const uint8_t *cert_der, size_t cert_len,
                        const uint8_t *msg, size_t len, const uint8_t *sig, size_t sig_len,
                        uint8_t key[SHA256_DIGEST_LENGTH])
{
	const void *piece[] = {algorithm, cert_der, msg, sig};
	size_t n[] = {strlen(algorithm), cert_len, len, sig_len};
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c != NULL && EVP_DigestInit_ex(c, lt_sha256_md(), NULL) == 1;
	for (size_t i = 0; ok && i < sizeof n / sizeof n[0]; i++) {
		uint8_t be[8];
		for (int b = 0; b < 8; b++)
			be[b] = (uint8_t)((uint64_t)n[i] >> (56 - 8 * b));
		ok = EVP_DigestUpdate(c, be, sizeof be) == 1 &&
		     EVP_DigestUpdate(c, piece[i], n[i]) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(c, key, NULL) == 1;
	EVP_MD_CTX_free(c);
	return ok ? 0 : -1;
}

/*
 * signed_at_ms < 0: no signing-time check. remember: the signature is one
 * of many records' (a batch root), verified once and then looked up.
 */
static int lt_sign_check_cert(const struct lt_trust *trust, const char *expected_code,
                              const char *algorithm, const uint8_t *cert_der, size_t cert_len,
                              const uint8_t *msg, size_t len, const uint8_t *sig, size_t sig_len,
                              int64_t signed_at_ms, int remember, lt_err *err)
{
	char code[LT_CODE_MAX + 1];
	lt_err stale = {0};
	X509 *cert = lt_trust_verify_signer(trust, cert_der, cert_len, code, sizeof code, err);
	int purpose_checked = cert != NULL;
	if (cert == NULL && err->code == LT_EAGAIN) {
		/* Only revocation is unknown (a stale CRL): check the rest, then say wait. */
		stale = *err;
		cert = lt_sign_parse_cert(cert_der, cert_len, code, sizeof code, err);
	}
	if (cert == NULL)
		return -1;
	int rc = -1;
	if (strcmp(code, expected_code) != 0) {
		lt_err_set(err, LT_EVERIFY,
		           "signer certificate names agency '%s', but the record claims '%.80s'",
		           code, expected_code);
		goto out;
	}
	if ((!purpose_checked && lt_pki_check_signer_purpose(cert, err) != 0) ||
	    (signed_at_ms >= 0 && lt_pki_check_time(cert, signed_at_ms, err) != 0))
		goto out;
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	if (pub == NULL) {
		lt_err_ssl(err, LT_EVERIFY, "signer certificate has no usable public key");
		goto out;
	}
	uint8_t fact[SHA256_DIGEST_LENGTH];
	if (remember &&
	    lt_sign_fact(algorithm, cert_der, cert_len, msg, len, sig, sig_len, fact) != 0)
		remember = 0; /* out of memory: verified the long way */
	if (remember && lt_trust_sig_known(trust, fact)) {
		rc = 0;
	} else {
		rc = lt_sign_verify(pub, algorithm, msg, len, sig, sig_len, err);
		if (rc == 0 && remember)
			lt_trust_sig_remember(trust, fact);
	}
	if (rc == 0 && stale.code != LT_OK) {
		*err = stale;
		rc = -1;
	}
out:
	X509_free(cert);
	return rc;
}

int lt_sign_check(const struct lt_trust *trust, const char *expected_code, const char *algorithm,
                  const uint8_t *cert_der, size_t cert_len, const uint8_t *msg, size_t len,
                  const uint8_t *sig, size_t sig_len, lt_err *err)
{
	return lt_sign_check_cert(trust, expected_code, algorithm, cert_der, cert_len, msg, len,
	                          sig, sig_len, -1, 0, err);
}

int lt_sign_check_at(const struct lt_trust *trust, const char *expected_code, const char *algorithm,
                     const uint8_t *cert_der, size_t cert_len, const uint8_t *msg, size_t len,
                     const uint8_t *sig, size_t sig_len, int64_t signed_at_ms, lt_err *err)
{
	return lt_sign_check_cert(trust, expected_code, algorithm, cert_der, cert_len, msg, len,
	                          sig, sig_len, signed_at_ms < 0 ? 0 : signed_at_ms, 0, err);
}

int lt_sign_check_shared_at(const struct lt_trust *trust, const char *expected_code,
                            const char *algorithm, const uint8_t *cert_der, size_t cert_len,
                            const uint8_t *msg, size_t len, const uint8_t *sig, size_t sig_len,
                            int64_t signed_at_ms, lt_err *err)
{
	return lt_sign_check_cert(trust, expected_code, algorithm, cert_der, cert_len, msg, len,
	                          sig, sig_len, signed_at_ms < 0 ? 0 : signed_at_ms, 1, err);
}

int lt_sign_check_purpose(const struct lt_trust *trust, const char *oid, const char *what,
                          const char *algorithm, const uint8_t *cert_der, size_t cert_len,
                          const uint8_t *msg, size_t len, const uint8_t *sig, size_t sig_len,
                          char *code, size_t code_size, lt_err *err)
{
	X509 *cert = lt_trust_verify_der(trust, cert_der, cert_len, code, code_size, err);
	if (cert == NULL)
		return lt_err_wrap(err, "%s certificate", what);
	int rc = -1;
	if (lt_pki_check_purpose(cert, oid, what, err) != 0)
		goto out;
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	if (pub == NULL) {
		lt_err_ssl(err, LT_EVERIFY, "%s certificate has no usable public key", what);
		goto out;
	}
	rc = lt_sign_verify(pub, algorithm, msg, len, sig, sig_len, err);
out:
	X509_free(cert);
	return rc;
}
