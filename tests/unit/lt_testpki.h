/*
 * lt_testpki: throw-away PKI for the unit tests, header only, built in memory
 * with OpenSSL 3 and written as PEM files into a temporary folder, so that
 * lt_signer_load, lt_trust_load and lt_config_load read them as an agent
 * would.
 *
 *   struct lt_tpki pki;  lt_tpki_init(&pki)        mkdtemp /tmp/lt-unit.XXXXXX
 *   struct lt_tca ca;    lt_tpki_ca(&pki, "ca", "Test CA", &ca)
 *                        ECDSA P-256, self-signed, CA:TRUE; PEM in ca.file
 *   struct lt_tagency a; lt_tpki_agency(&pki, &(struct lt_tagency_opts){
 *                            .type = "ec", .cn = "A.1", .issuer = &ca}, &a)
 *                        key and certificate (CN = agency code) in a.key_file
 *                        and a.cert_file
 *   struct lt_config c;  lt_tpki_config(&pki, "a", &ca, &a, "extra = lines\n", &c, &err)
 *   lt_tca_free(&ca); lt_tpki_done(&pki)           frees, removes the folder
 *
 * Every helper returns 0 or -1 and, on failure, says on stderr what failed.
 * The "rsa" key is generated once per lt_tpki and shared by its RSA
 * certificates (RSA key generation is slow, above all under sanitizers).
 */
#ifndef LT_TESTPKI_H
#define LT_TESTPKI_H

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../config/lt_config.h"
#include "../../errors/lt_err.h"
#include "../../pki/lt_pki.h"

#define LT_TESTPKI_UNUSED __attribute__((unused))

struct lt_tpki {
	char dir[64];
	EVP_PKEY *rsa;
	long serial;
	int files;
};

struct lt_tca {
	EVP_PKEY *key;
	X509 *cert;
	char file[PATH_MAX]; /* the CA certificate, PEM */
};

struct lt_tagency_opts {
	/* "ec" (P-256), "ed25519", "rsa" (2048 bits); for refusals: "ec-p384", "rsa-1024", "ed448"
	 */
	const char *type;
	const char *cn; /* the agency code */
	const struct lt_tca *issuer;
	long not_before_s; /* validity in seconds from now; both 0: from an hour ago for 30 days */
	long not_after_s;
	/* keyUsage extension; NULL: "critical,digitalSignature" (CA: keyCertSign, cRLSign) */
	const char *key_usage;
	/* extendedKeyUsage; NULL: clientAuth and the agency signing purpose; "": none */
	const char *ext_key_usage;
	int ca; /* 1: a CA certificate (CA:TRUE, keyCertSign) issued by issuer */
};

struct lt_tagency {
	char key_file[PATH_MAX];
	char cert_file[PATH_MAX];
};

/* Creates a fresh temporary folder under /tmp; dir needs at least 32 bytes. */
LT_TESTPKI_UNUSED static int lt_tmpdir_new(char *dir, size_t size)
{
	if (snprintf(dir, size, "/tmp/lt-unit.XXXXXX") >= (int)size || mkdtemp(dir) == NULL) {
		perror("lt_tmpdir_new: mkdtemp");
		return -1;
	}
	return 0;
}

LT_TESTPKI_UNUSED static int lt_tmpdir_rm_one(const char *path, const struct stat *st, int flag,
                                              struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0)
		perror(path);
	return 0;
}

/* Removes dir and everything under it (symbolic links are not followed). */
LT_TESTPKI_UNUSED static void lt_tmpdir_remove(const char *dir)
{
	if (dir[0] != '\0')
		nftw(dir, lt_tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes text to path (replacing it). */
LT_TESTPKI_UNUSED static int lt_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		return -1;
	}
	int bad = fputs(text, f) < 0;
	bad |= fclose(f) != 0;
	if (bad)
		fprintf(stderr, "lt_write_file: cannot write %s\n", path);
	return bad ? -1 : 0;
}

LT_TESTPKI_UNUSED static void lt_tpki_ssl_fail(const char *what)
{
	fprintf(stderr, "lt_testpki: %s failed:\n", what);
	ERR_print_errors_fp(stderr);
}

LT_TESTPKI_UNUSED static int lt_tpki_init(struct lt_tpki *p)
{
	memset(p, 0, sizeof *p);
	return lt_tmpdir_new(p->dir, sizeof p->dir);
}

LT_TESTPKI_UNUSED static void lt_tpki_done(struct lt_tpki *p)
{
	EVP_PKEY_free(p->rsa);
	lt_tmpdir_remove(p->dir);
	memset(p, 0, sizeof *p);
}

LT_TESTPKI_UNUSED static void lt_tca_free(struct lt_tca *ca)
{
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
	memset(ca, 0, sizeof *ca);
}

/* A new key of the type (see lt_tagency_opts), or NULL. The caller frees it. */
LT_TESTPKI_UNUSED static EVP_PKEY *lt_tpki_keygen(struct lt_tpki *p, const char *type)
{
	EVP_PKEY *k = NULL;
	if (strcmp(type, "ec") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(type, "ec-p384") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	else if (strcmp(type, "ed25519") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else if (strcmp(type, "ed448") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
	else if (strcmp(type, "rsa-1024") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	else if (strcmp(type, "rsa") == 0) {
		if (p->rsa == NULL)
			p->rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		if (p->rsa != NULL && EVP_PKEY_up_ref(p->rsa) == 1)
			k = p->rsa;
	} else {
		fprintf(stderr, "lt_testpki: unknown key type '%s'\n", type);
		return NULL;
	}
	if (k == NULL)
		lt_tpki_ssl_fail(type);
	return k;
}

LT_TESTPKI_UNUSED static int lt_tpki_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	if (!ok)
		lt_tpki_ssl_fail(value);
	return ok ? 0 : -1;
}

/*
 * A certificate for key named cn, valid from now + not_before_s to now +
 * not_after_s, signed by issuer (self-signed when issuer is NULL: a CA).
 */
LT_TESTPKI_UNUSED static X509 *lt_tpki_cert(struct lt_tpki *p, EVP_PKEY *key, const char *cn,
                                            long not_before_s, long not_after_s,
                                            const struct lt_tca *issuer, const char *key_usage,
                                            const char *ext_key_usage, int ca)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;
	int self = issuer == NULL, is_ca = self || ca;
	const char *eku = ext_key_usage != NULL ? ext_key_usage : "clientAuth," LT_PKI_SIGNING_OID;
	if (x == NULL || X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), ++p->serial) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), not_before_s) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), not_after_s) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto fail;
	X509_NAME *name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	                               (const unsigned char *)"lienthong unit tests", -1, -1,
	                               0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
	                               0) != 1 ||
	    X509_set_issuer_name(x, self ? name : X509_get_subject_name(issuer->cert)) != 1)
		goto fail;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, self ? x : issuer->cert, x, NULL, NULL, 0);
	if (lt_tpki_ext(x, &ctx, NID_basic_constraints,
	                is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE") != 0 ||
	    lt_tpki_ext(x, &ctx, NID_key_usage,
	                key_usage != NULL ? key_usage
	                : is_ca           ? "critical,keyCertSign,cRLSign"
	                                  : "critical,digitalSignature") != 0 ||
	    ((!is_ca || ext_key_usage != NULL) && eku[0] != '\0' &&
	     lt_tpki_ext(x, &ctx, NID_ext_key_usage, eku) != 0) ||
	    lt_tpki_ext(x, &ctx, NID_subject_key_identifier, "hash") != 0 ||
	    (!self && lt_tpki_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") != 0))
		goto fail_quiet;
	/* Issuers are ECDSA P-256 keys, which sign with SHA-256. */
	if (X509_sign(x, self ? key : issuer->key, EVP_sha256()) <= 0)
		goto fail;
	return x;
fail:
	lt_tpki_ssl_fail("building a certificate");
fail_quiet:
	X509_free(x);
	return NULL;
}

LT_TESTPKI_UNUSED static int lt_tpki_write_pem(const char *path, EVP_PKEY *key, X509 *cert)
{
	/* Private keys readable by their owner only, as lt_signer_load requires. */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, key != NULL ? 0600 : 0644);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL) {
		if (fd >= 0)
			close(fd);
		perror(path);
		return -1;
	}
	int ok = key != NULL ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
	                     : PEM_write_X509(f, cert);
	ok &= fclose(f) == 0;
	if (!ok)
		lt_tpki_ssl_fail(path);
	return ok ? 0 : -1;
}

/* A self-signed ECDSA P-256 CA named cn; its certificate goes to <dir>/<stem>.pem. */
LT_TESTPKI_UNUSED static int lt_tpki_ca(struct lt_tpki *p, const char *stem, const char *cn,
                                        struct lt_tca *ca)
{
	memset(ca, 0, sizeof *ca);
	snprintf(ca->file, sizeof ca->file, "%s/%s.pem", p->dir, stem);
	ca->key = lt_tpki_keygen(p, "ec");
	if (ca->key == NULL ||
	    (ca->cert = lt_tpki_cert(p, ca->key, cn, -86400, 365L * 86400, NULL, NULL, NULL, 1)) ==
	        NULL ||
	    lt_tpki_write_pem(ca->file, NULL, ca->cert) != 0) {
		lt_tca_free(ca);
		return -1;
	}
	return 0;
}

/* A key and a certificate issued by o->issuer, as PEM files <dir>/<cn>-<type>-<n>.{key,crt}. */
LT_TESTPKI_UNUSED static int lt_tpki_agency(struct lt_tpki *p, const struct lt_tagency_opts *o,
                                            struct lt_tagency *out)
{
	long nb = o->not_before_s, na = o->not_after_s;
	if (nb == 0 && na == 0) {
		nb = -3600;
		na = 30L * 86400;
	}
	p->files++;
	snprintf(out->key_file, sizeof out->key_file, "%s/%s-%s-%d.key", p->dir, o->cn, o->type,
	         p->files);
	snprintf(out->cert_file, sizeof out->cert_file, "%s/%s-%s-%d.crt", p->dir, o->cn, o->type,
	         p->files);
	EVP_PKEY *key = lt_tpki_keygen(p, o->type);
	X509 *cert = NULL;
	int rc = -1;
	if (key != NULL &&
	    (cert = lt_tpki_cert(p, key, o->cn, nb, na, o->issuer, o->key_usage, o->ext_key_usage,
	                         o->ca)) != NULL &&
	    lt_tpki_write_pem(out->key_file, key, NULL) == 0 &&
	    lt_tpki_write_pem(out->cert_file, NULL, cert) == 0)
		rc = 0;
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

/*
 * Writes <dir>/<stem>.conf for agency `code` (key and certificate of a, CA
 * file of ca, data_dir <stem>-data and target_dir <stem>-target, relative to
 * the file), then `extra` lines (may be NULL), and loads it into cfg. The
 * caller calls lt_config_free(cfg) whatever the result.
 */
LT_TESTPKI_UNUSED static int lt_tpki_config(const struct lt_tpki *p, const char *stem,
                                            const char *code, const struct lt_tca *ca,
                                            const struct lt_tagency *a, const char *extra,
                                            struct lt_config *cfg, lt_err *err)
{
	char path[PATH_MAX];
	char text[4 * PATH_MAX + 1024];
	memset(cfg, 0, sizeof *cfg);
	snprintf(path, sizeof path, "%s/%s.conf", p->dir, stem);
	snprintf(text, sizeof text,
	         "agency_code = %s\n"
	         "data_dir = %s-data\n"
	         "key_file = %s\n"
	         "cert_file = %s\n"
	         "ca_file = %s\n"
	         "target_dir = %s-target\n"
	         "%s",
	         code, stem, a->key_file, a->cert_file, ca->file, stem, extra != NULL ? extra : "");
	if (lt_write_file(path, text) != 0)
		return lt_err_set(err, LT_EIO, "lt_tpki_config: cannot write %s", path);
	return lt_config_load(cfg, path, err);
}

#endif
