/*
 * lt_sign: signatures over canonical bytes with OpenSSL 3 EVP.
 *
 * Algorithms follow the key: ECDSA P-256 keys sign "ecdsa-p256-sha256"
 * (DER-encoded ECDSA over SHA-256), Ed25519 keys sign "ed25519" (pure
 * Ed25519), RSA keys of at least 2048 bits sign "rsa-pss-sha256" (PSS,
 * MGF1-SHA-256, salt length 32; verification takes any salt length). A verifier accepts a signature
 * only when the algorithm named in it is the one that the signer certificate's key implies, so no
 * algorithm can be substituted.
 *
 * Ownership: an lt_signer owns its key, certificate and DER copy; it is
 * read-only after lt_signer_load, and EVP signing with it is thread-safe.
 */
#ifndef LT_SIGN_H
#define LT_SIGN_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "../config/lt_config.h"
#include "../errors/lt_err.h"

#define LT_SIG_MAX 1024 /* largest signature accepted (RSA-8192 is 1024 bytes) */

struct lt_signer {
	EVP_PKEY *key;
	X509 *cert;
	uint8_t *cert_der;
	size_t cert_der_len;
	const char *algorithm;
	char code[LT_CODE_MAX + 1]; /* the CN of cert */
};

/*
 * Loads key and certificate, checks they match; code from the CN. Refuses a
 * key file readable by group or others and a certificate without the agency
 * signing purpose (lt_pki_check_key_file, lt_pki_check_signer_purpose).
 */
int lt_signer_load(struct lt_signer *s, const char *key_file, const char *cert_file, lt_err *err);
/* lt_signer_load without those two checks: for test tools that play an attacker. */
int lt_signer_load_any(struct lt_signer *s, const char *key_file, const char *cert_file,
                       lt_err *err);
void lt_signer_free(struct lt_signer *s);

/* Algorithm name for a key, or NULL (err set) for unsupported keys. */
const char *lt_sign_algorithm(EVP_PKEY *key, lt_err *err);

/* Signs msg; *sig is malloc'd, caller frees. */
int lt_sign(const struct lt_signer *s, const uint8_t *msg, size_t len, uint8_t **sig,
            size_t *sig_len, lt_err *err);

/* Verifies sig over msg with pub, requiring `algorithm` to fit the key. */
int lt_sign_verify(EVP_PKEY *pub, const char *algorithm, const uint8_t *msg, size_t len,
                   const uint8_t *sig, size_t sig_len, lt_err *err);

struct lt_trust;

/*
 * The whole check of a signature as it travels: the signer certificate (DER)
 * chains to a trusted CA, is meant for signing (lt_pki_check_signer_purpose)
 * and names `expected_code` as its CN, and `sig` over msg verifies with its
 * key under `algorithm`. The error says which step failed.
 * LT_EAGAIN: all of it holds, but revocation cannot be checked yet (a CRL in
 * crl_file is stale): neither accepted nor refused, to be tried again.
 */
int lt_sign_check(const struct lt_trust *trust, const char *expected_code, const char *algorithm,
                  const uint8_t *cert_der, size_t cert_len, const uint8_t *msg, size_t len,
                  const uint8_t *sig, size_t sig_len, lt_err *err);

/* lt_sign_check, and the certificate was also valid at signed_at_ms (the claimed signing time). */
int lt_sign_check_at(const struct lt_trust *trust, const char *expected_code, const char *algorithm,
                     const uint8_t *cert_der, size_t cert_len, const uint8_t *msg, size_t len,
                     const uint8_t *sig, size_t sig_len, int64_t signed_at_ms, lt_err *err);

/*
 * lt_sign_check_at for a signature that many records share (a batch root,
 * proto/lt_batch.h): the certificate is checked every time, the signature
 * math once (lt_trust_sig_known remembers it).
 */
int lt_sign_check_shared_at(const struct lt_trust *trust, const char *expected_code,
                            const char *algorithm, const uint8_t *cert_der, size_t cert_len,
                            const uint8_t *msg, size_t len, const uint8_t *sig, size_t sig_len,
                            int64_t signed_at_ms, lt_err *err);

/*
 * A signature of another role (federation: directory signers, relays): the
 * certificate chains to a trusted CA and is valid now (lt_trust_verify_der),
 * has the purpose oid (lt_pki_check_purpose; `what` names it), and sig over
 * msg verifies. On success its CN is in code.
 */
int lt_sign_check_purpose(const struct lt_trust *trust, const char *oid, const char *what,
                          const char *algorithm, const uint8_t *cert_der, size_t cert_len,
                          const uint8_t *msg, size_t len, const uint8_t *sig, size_t sig_len,
                          char *code, size_t code_size, lt_err *err);
#endif
