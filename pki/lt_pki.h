/*
 * lt_pki: agency keys, certificates and the trust store, on OpenSSL 3.
 *
 * An agency certificate binds a key to an agency code: the code is the
 * certificate's subject commonName (CN). It must be issued by a CA in the
 * configured ca_file (intermediates may be in the same file) and, when the
 * certificate has a keyUsage extension, allow digitalSignature.
 *
 * Ownership: returned EVP_PKEY and X509 belong to the caller (free with
 * EVP_PKEY_free / X509_free). An lt_trust is created once; any thread may
 * verify against it, except that lt_trust_crl_tick replaces its CRLs: a
 * trust with a crl_file belongs to the one thread that verifies with it and
 * calls the tick. Each lt_trust has its own cache of verified signer
 * certificates (lt_trust_verify_signer), behind a mutex.
 */
#ifndef LT_PKI_H
#define LT_PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "../errors/lt_err.h"

struct lt_trust;

/*
 * The purpose "sign lienthong documents and receipts": an extendedKeyUsage
 * OID under the arc 2.25 (ITU-T X.667: an OID made of a random UUID, needing
 * no registration; UUID 34026f9a-0bd0-4734-95da-33c846c0b6ac). deploy/pki.sh
 * puts it into agency certificates and into no other kind.
 */
#define LT_PKI_SIGNING_OID "2.25.69132503926791855514943689871763486380"

/*
 * Federation purposes (README "Federation"), OIDs made the same way:
 * signing directory entries (UUID c32320c1-1df3-47c1-b180-c4e9b5f5ccd8) and
 * signing relays' hop records (UUID ad45efb0-0821-4cdc-a98b-051c5a53b714).
 * deploy/pki.sh puts each into its own kind of certificate only, so an
 * agency certificate can sign neither.
 */
#define LT_PKI_DIRECTORY_OID "2.25.259381853905519169409729357295230766296"
#define LT_PKI_RELAY_OID "2.25.230319573196597361979453267187214825236"
EVP_PKEY *lt_pki_load_key(const char *path, lt_err *err);
X509 *lt_pki_load_cert(const char *path, lt_err *err);

/* Copies the subject CN (the agency code) into buf. */
int lt_pki_cert_code(X509 *cert, char *buf, size_t size, lt_err *err);

struct lt_trust *lt_trust_load(const char *ca_file, lt_err *err);

/*
 * Adds the CRLs of a PEM file and turns on revocation checking for the whole
 * chain: from then on a certificate is accepted only if every CA on its chain
 * has a current CRL in the store and the certificate is not on it. Call
 * before the store is shared between threads.
 */
int lt_trust_load_crls(struct lt_trust *t, const char *crl_file, lt_err *err);

/*
 * Certificates used for their purpose: a signer certificate is not a CA
 * (basicConstraints CA:TRUE is refused) and its extendedKeyUsage names
 * LT_PKI_SIGNING_OID, so Kafka client, broker and CA certificates issued by
 * the same CA cannot sign documents. The error says which rule failed.
 */
int lt_pki_check_signer_purpose(X509 *cert, lt_err *err);
/*
 * The same rules for another purpose: not a CA, and an extendedKeyUsage that
 * names oid; `what` names the purpose in the error ("directory signing").
 */
int lt_pki_check_purpose(X509 *cert, const char *oid, const char *what, lt_err *err);

/*
 * A private key file readable only by its owner: refused (with the chmod to
 * run) when group or others may read or write it.
 */
int lt_pki_check_key_file(const char *path, lt_err *err);

/*
 * The certificate in path (already loaded as cert) is valid at now_ms; the
 * error names the file and its validity period.
 */
int lt_pki_check_valid_now(X509 *cert, const char *path, int64_t now_ms, lt_err *err);

/*
 * Re-reads crl_file (with ca_file) when the file changed (inode, size or
 * modification time, looked at once a second) and at least every 5 minutes,
 * so that a renewed CRL or a new revocation takes effect without a restart.
 * A file that cannot be read is logged and the CRLs read before stay in use.
 * Nothing to do without crl_file. Called by the agent's main loop.
 */
void lt_trust_crl_tick(struct lt_trust *t, int64_t now_ms);

/* Checks that at_ms (Unix ms) lies within the certificate's validity period. */
int lt_pki_check_time(X509 *cert, int64_t at_ms, lt_err *err);
void lt_trust_free(struct lt_trust *t);

/*
 * Parses a DER certificate, checks its chain to a trusted CA, its validity
 * now, and its key usage. When only revocation cannot be checked (a CRL in
 * crl_file expired or is not yet valid) the error is LT_EAGAIN: the signer is
 * not at fault, the caller should wait for a current CRL. On success returns the certificate
 * (caller frees) and writes its agency code into code.
 */
X509 *lt_trust_verify_der(const struct lt_trust *t, const uint8_t *der, size_t len, char *code,
                          size_t code_size, lt_err *err);

/*
 * lt_trust_verify_der and lt_pki_check_signer_purpose, remembered: a
 * certificate that passed both is kept, parsed, under the SHA-256 of its DER
 * (32 certificates, least recently used evicted) and accepted again without
 * the checks for at most 60 s, and never past its notAfter or the earliest
 * nextUpdate of the store's CRLs. Loading or re-reading the CRLs
 * (lt_trust_load_crls, lt_trust_crl_tick) forgets every verdict, so a
 * revocation takes effect at the next check. Failures are not remembered.
 * Returns the certificate (caller frees; it is shared with the cache:
 * read-only) and writes its agency code into code. Thread-safe.
 */
X509 *lt_trust_verify_signer(const struct lt_trust *t, const uint8_t *der, size_t len, char *code,
                             size_t code_size, lt_err *err);

/*
 * Signatures that verified, remembered (batch signatures, proto/lt_batch.h:
 * one signature covers many records). key is the SHA-256 of everything the
 * verification depended on (algorithm, signer certificate, message,
 * signature), so a hit is a fact that no later event changes; certificate
 * checks are not part of it and are made for every record. The last 64
 * keys are kept. Thread-safe.
 */
int lt_trust_sig_known(const struct lt_trust *t, const uint8_t key[32]);
void lt_trust_sig_remember(const struct lt_trust *t, const uint8_t key[32]);
/* How many verifications lt_trust_sig_known spared, since load. */
uint64_t lt_trust_sig_hits(const struct lt_trust *t);

/* Cache lookups that found a verdict (hits) and that did not (misses), since load. */
void lt_trust_cache_stats(const struct lt_trust *t, uint64_t *hits, uint64_t *misses);

/* How long a verdict is kept (60 s when loaded); tests shorten it. */
void lt_trust_set_cache_ttl(struct lt_trust *t, int64_t ttl_ms);

/* Verifies a certificate already parsed (same checks as above). */
int lt_trust_verify(const struct lt_trust *t, X509 *cert, lt_err *err);

#endif
