#include "lt_crypt.h"

#include <openssl/cms.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pki/lt_pki.h"

STACK_OF(X509) * lt_crypt_recipients(const char *dir, const char *const *codes, size_t n,
                                     const struct lt_trust *trust, lt_err *err)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	if (certs == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		char path[4096], cn[LT_CODE_MAX + 1];
		snprintf(path, sizeof path, "%s/%s.crt", dir, codes[i]);
		X509 *cert = lt_pki_load_cert(path, err);
		if (cert == NULL) {
			lt_err_wrap(err, "certificate of recipient %s (agency_certs_dir)",
			            codes[i]);
			goto fail;
		}
		if (lt_trust_verify(trust, cert, err) != 0 ||
		    lt_pki_cert_code(cert, cn, sizeof cn, err) != 0 ||
		    (strcmp(cn, codes[i]) != 0 &&
		     lt_err_set(err, LT_EVERIFY, "it names agency '%s'", cn) != 0)) {
			X509_free(cert);
			lt_err_wrap(err, "%s", path);
			goto fail;
		}
		sk_X509_push(certs, cert);
	}
	return certs;
fail:
	sk_X509_pop_free(certs, X509_free);
	return NULL;
}

int lt_crypt_encrypt(STACK_OF(X509) * certs, const uint8_t *data, size_t len, uint8_t **out,
                     size_t *out_len, lt_err *err)
{
	for (int i = 0; i < sk_X509_num(certs); i++) {
		EVP_PKEY *key = X509_get0_pubkey(sk_X509_value(certs, i));
		char cn[LT_CODE_MAX + 1] = "?";
		lt_err ignore;
		if (key != NULL && (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448"))) {
			lt_pki_cert_code(sk_X509_value(certs, i), cn, sizeof cn, &ignore);
			return lt_err_set(
			    err, LT_EINVAL,
			    "cannot encrypt to %s: an Ed25519 certificate can sign but "
			    "not receive encrypted documents",
			    cn);
		}
	}
	int rc = -1;
	unsigned char *der = NULL;
	BIO *in = BIO_new_mem_buf(len > 0 ? (const void *)data : "", (int)len);
	CMS_ContentInfo *cms = in ? CMS_encrypt(certs, in, EVP_aes_256_gcm(), CMS_BINARY) : NULL;
	if (cms == NULL) {
		lt_err_ssl(err, LT_EINVAL, "cannot encrypt to the recipients' certificates");
		goto out;
	}
	int n = i2d_CMS_ContentInfo(cms, &der);
	if (n <= 0) {
		lt_err_ssl(err, LT_EIO, "cannot encode the encrypted part");
		goto out;
	}
	*out = malloc((size_t)n);
	if (*out == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		goto out;
	}
	memcpy(*out, der, (size_t)n);
	*out_len = (size_t)n;
	rc = 0;
out:
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return rc;
}

/* Decrypts one part; *out is malloc'd. */
static int lt_crypt_open(const struct lt_signer *self, const uint8_t *data, size_t len,
                         size_t max_len, uint8_t **out, size_t *out_len, lt_err *err)
{
	const unsigned char *p = data;
	int rc = -1;
	BIO *plain = BIO_new(BIO_s_mem());
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	if (cms == NULL || p != data + len) {
		lt_err_ssl(err, LT_EINVAL, "encrypted part is not a CMS structure");
		goto out;
	}
	if (plain == NULL ||
	    CMS_decrypt(cms, self->key, self->cert, NULL, plain, CMS_BINARY) != 1) {
		lt_err_ssl(err, LT_EVERIFY,
		           "encrypted part cannot be decrypted with this agency's key (not "
		           "encrypted to it, or altered)");
		goto out;
	}
	char *mem = NULL;
	long n = BIO_get_mem_data(plain, &mem);
	if (n < 0 || (size_t)n > max_len) {
		lt_err_set(err, LT_EINVAL, "decrypted part larger than %zu bytes", max_len);
		goto out;
	}
	*out = malloc(n > 0 ? (size_t)n : 1);
	if (*out == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		goto out;
	}
	if (n > 0)
		memcpy(*out, mem, (size_t)n);
	*out_len = (size_t)n;
	rc = 0;
out:
	CMS_ContentInfo_free(cms);
	BIO_free(plain);
	return rc;
}

int lt_crypt_open_parts(Lienthong__Envelope *env, const struct lt_signer *self, size_t max_len,
                        lt_err *err)
{
	for (size_t i = 0; i < env->n_parts; i++) {
		Lienthong__Part *part = env->parts[i];
		uint8_t *plain = NULL;
		size_t plain_len = 0;
		if (!part->encrypted)
			continue;
		if (lt_crypt_open(self, part->data.data, part->data.len, max_len, &plain,
		                  &plain_len, err) != 0)
			return lt_err_wrap(err, "part %zu ('%s')", i + 1, part->name);
		/* protobuf-c's default allocator is malloc: free_unpacked frees this. */
		free(part->data.data);
		part->data.data = plain;
		part->data.len = plain_len;
		part->encrypted = 0;
	}
	return 0;
}
