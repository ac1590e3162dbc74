/*
 * lt_crypt: end-to-end encryption of parts to the recipients' certificates.
 *
 * A part is signed as plaintext (its SHA-256 in the canonical bytes is of
 * the plaintext), then its bytes are replaced by a CMS AuthEnvelopedData (DER, RFC 5083;
 * AES-256-GCM content key wrapped for each recipient's certificate: RSA
 * key transport or ECDH for EC keys). The broker and agencies that are not
 * recipients see only ciphertext. A recipient decrypts with its own key
 * before verifying; a tampered ciphertext fails decryption or the signature.
 * Ed25519 certificates can sign but not receive encrypted documents.
 *
 * Recipient certificates come from a folder of known agencies
 * (agency_certs_dir/<CODE>.crt), checked against the trust store and the
 * code. Ownership: returned buffers are malloc'd for the caller. Thread-safe.
 */
#ifndef LT_CRYPT_H
#define LT_CRYPT_H

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "../errors/lt_err.h"
#include "lienthong.pb-c.h"
#include "lt_sign.h"

/* Loads and checks <dir>/<code>.crt for each code; caller frees with sk_X509_pop_free. */
STACK_OF(X509) * lt_crypt_recipients(const char *dir, const char *const *codes, size_t n,
                                     const struct lt_trust *trust, lt_err *err);

/* Encrypts data to every certificate in certs. */
int lt_crypt_encrypt(STACK_OF(X509) * certs, const uint8_t *data, size_t len, uint8_t **out,
                     size_t *out_len, lt_err *err);

/*
 * Replaces the data of every encrypted part of env (decoded, not yet verified)
 * by its plaintext, decrypted with this agency's key; at most max_len bytes
 * each. The buffers become owned by env (freed by free_unpacked).
 */
int lt_crypt_open_parts(Lienthong__Envelope *env, const struct lt_signer *self, size_t max_len,
                        lt_err *err);

#endif
