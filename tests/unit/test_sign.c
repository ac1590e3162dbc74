/* Unit tests of lt_sign and lt_pki: keys, signatures and signer certificates. */
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../../pki/lt_pki.h"
#include "../../proto/lt_sign.h"
#include "lt_check.h"
#include "lt_testpki.h"

#define DAY 86400L

static struct lt_tpki pki;
static struct lt_tca ca, rogue_ca, other_ca;
static struct lt_trust *trust;

static const char *const types[] = {"ec", "ed25519", "rsa"};
static const char *const algs[] = {"ecdsa-p256-sha256", "ed25519", "rsa-pss-sha256"};
static const char *const codes[] = {"SIGN.EC", "SIGN.ED25519", "SIGN.RSA"};
static const size_t sig_lens[] = {0, 64, 256}; /* 0: varies (DER) */
static struct lt_tagency agency[3];

static uint8_t msg[1500];

/* A signer from agency files; CHECKed. */
static int load(struct lt_signer *s, const struct lt_tagency *a)
{
	lt_err err;
	return CHECK_OK(lt_signer_load(s, a->key_file, a->cert_file, &err), err);
}

static int make_agency(const char *type, const char *cn, const struct lt_tca *issuer, long nb,
                       long na, struct lt_tagency *out)
{
	struct lt_tagency_opts o = {
	    .type = type, .cn = cn, .issuer = issuer, .not_before_s = nb, .not_after_s = na};
	return CHECK(lt_tpki_agency(&pki, &o, out) == 0);
}

static void test_sign_verify(size_t i)
{
	struct lt_signer s;
	lt_err err;
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	if (!load(&s, &agency[i]))
		return;
	CHECK(strcmp(s.algorithm, algs[i]) == 0);
	CHECK(strcmp(s.code, codes[i]) == 0);
	const unsigned char *p = s.cert_der;
	X509 *der_cert = d2i_X509(NULL, &p, (long)s.cert_der_len);
	CHECK(der_cert != NULL && X509_cmp(der_cert, s.cert) == 0);
	X509_free(der_cert);

	if (!CHECK_OK(lt_sign(&s, msg, sizeof msg, &sig, &sig_len, &err), err))
		goto out;
	CHECK(sig_len > 0 && sig_len <= LT_SIG_MAX);
	if (sig_lens[i] != 0)
		CHECK(sig_len == sig_lens[i]);
	EVP_PKEY *pub = X509_get0_pubkey(s.cert);
	CHECK_OK(lt_sign_verify(pub, s.algorithm, msg, sizeof msg, sig, sig_len, &err), err);

	/* One flipped bit in the message, anywhere. */
	size_t where[] = {0, 700, sizeof msg - 1};
	for (size_t k = 0; k < 3; k++) {
		msg[where[k]] ^= 0x10;
		lt_err_clear(&err);
		CHECK(lt_sign_verify(pub, s.algorithm, msg, sizeof msg, sig, sig_len, &err) == -1);
		CHECK(err.code == LT_EVERIFY);
		CHECK_STR_CONTAINS(err.msg, "signature did not verify");
		msg[where[k]] ^= 0x10;
	}
	/* One flipped bit in the signature, anywhere; a signature one byte short. */
	size_t swhere[] = {0, sig_len / 2, sig_len - 1};
	for (size_t k = 0; k < 3; k++) {
		sig[swhere[k]] ^= 0x01;
		CHECK(lt_sign_verify(pub, s.algorithm, msg, sizeof msg, sig, sig_len, &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "signature did not verify");
		sig[swhere[k]] ^= 0x01;
	}
	CHECK(lt_sign_verify(pub, s.algorithm, msg, sizeof msg, sig, sig_len - 1, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "signature did not verify");
	CHECK(lt_sign_verify(pub, s.algorithm, msg, sizeof msg, sig, 0, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "signature missing");
	/* A signature in another algorithm's name is refused whatever its bytes. */
	for (size_t j = 0; j < 3; j++) {
		if (j == i)
			continue;
		CHECK(lt_sign_verify(pub, algs[j], msg, sizeof msg, sig, sig_len, &err) == -1);
		CHECK(err.code == LT_EVERIFY);
		CHECK_STR_CONTAINS(err.msg, "does not fit the signer key");
	}
	CHECK(lt_sign_verify(pub, "none", msg, sizeof msg, sig, sig_len, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "does not fit");
	/* Everything put back: still good. */
	CHECK_OK(lt_sign_verify(pub, s.algorithm, msg, sizeof msg, sig, sig_len, &err), err);

	/* The whole check, as a receiver does it. */
	CHECK_OK(lt_sign_check(trust, codes[i], s.algorithm, s.cert_der, s.cert_der_len, msg,
	                       sizeof msg, sig, sig_len, &err),
	         err);
	CHECK(lt_sign_check(trust, "SIGN.OTHER", s.algorithm, s.cert_der, s.cert_der_len, msg,
	                    sizeof msg, sig, sig_len, &err) == -1);
	CHECK(err.code == LT_EVERIFY);
	CHECK_STR_CONTAINS(err.msg, "names agency");
	CHECK_STR_CONTAINS(err.msg, codes[i]);
	CHECK_STR_CONTAINS(err.msg, "SIGN.OTHER");
	msg[3] ^= 1;
	CHECK(lt_sign_check(trust, codes[i], s.algorithm, s.cert_der, s.cert_der_len, msg,
	                    sizeof msg, sig, sig_len, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "signature did not verify");
	msg[3] ^= 1;
	CHECK(lt_sign_check(trust, codes[i], algs[(i + 1) % 3], s.cert_der, s.cert_der_len, msg,
	                    sizeof msg, sig, sig_len, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "does not fit");
	/* The signer certificate must be one whole DER certificate. */
	CHECK(lt_sign_check(trust, codes[i], s.algorithm, s.cert_der, s.cert_der_len - 1, msg,
	                    sizeof msg, sig, sig_len, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "not valid DER");
	uint8_t *longer = malloc(s.cert_der_len + 1);
	if (longer != NULL) {
		memcpy(longer, s.cert_der, s.cert_der_len);
		longer[s.cert_der_len] = 0;
		CHECK(lt_sign_check(trust, codes[i], s.algorithm, longer, s.cert_der_len + 1, msg,
		                    sizeof msg, sig, sig_len, &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "not valid DER");
		free(longer);
	}
	CHECK(lt_sign_check(trust, codes[i], s.algorithm, s.cert_der, 0, msg, sizeof msg, sig,
	                    sig_len, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "signer certificate missing");
out:
	free(sig);
	lt_signer_free(&s);
}

static void test_ec(void)
{
	test_sign_verify(0);
}

static void test_ed25519(void)
{
	test_sign_verify(1);
}

/* An RSA-PSS signature as another implementation may make it: salt length s. */
static int rsa_pss_sign(EVP_PKEY *key, int salt, uint8_t *sig, size_t *len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok = ctx != NULL &&
	         EVP_DigestSignInit_ex(ctx, &pctx, "SHA256", NULL, NULL, key, NULL) == 1 &&
	         EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
	         (salt == 0 || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt) == 1) &&
	         EVP_DigestSign(ctx, sig, len, msg, sizeof msg) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

static void test_rsa(void)
{
	test_sign_verify(2);
	/* Any PSS salt length verifies (OpenSSL's default when signing is the largest). */
	struct lt_signer s;
	if (!load(&s, &agency[2]))
		return;
	uint8_t sig[1024];
	size_t len = sizeof sig;
	lt_err err;
	static const int salts[] = {0 /* OpenSSL's default */, RSA_PSS_SALTLEN_MAX, 20, 32, 0};
	for (size_t i = 0; i + 1 < sizeof salts / sizeof salts[0]; i++) {
		len = sizeof sig;
		if (CHECK(rsa_pss_sign(s.key, salts[i], sig, &len)))
			CHECK_OK(lt_sign_verify(s.key, "rsa-pss-sha256", msg, sizeof msg, sig, len,
			                        &err),
			         err);
	}
	lt_signer_free(&s);
}

/* Signs msg with the agency's key and runs lt_sign_check_at; returns its result. */
static int sign_and_check(const struct lt_tagency *a, const char *code, int64_t at_ms, lt_err *err)
{
	struct lt_signer s;
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	int rc = -2;
	if (!load(&s, a))
		return rc;
	if (CHECK_OK(lt_sign(&s, msg, sizeof msg, &sig, &sig_len, err), *err)) {
		lt_err_clear(err);
		if (at_ms < 0)
			rc = lt_sign_check(trust, code, s.algorithm, s.cert_der, s.cert_der_len,
			                   msg, sizeof msg, sig, sig_len, err);
		else
			rc = lt_sign_check_at(trust, code, s.algorithm, s.cert_der, s.cert_der_len,
			                      msg, sizeof msg, sig, sig_len, at_ms, err);
	}
	free(sig);
	lt_signer_free(&s);
	return rc;
}

static void test_untrusted(void)
{
	struct lt_tagency a;
	lt_err err;
	/* A CA with the same name as the trusted one but another key. */
	if (make_agency("ec", "SIGN.ROGUE", &rogue_ca, 0, 0, &a)) {
		CHECK(sign_and_check(&a, "SIGN.ROGUE", -1, &err) == -1);
		CHECK(err.code == LT_EVERIFY);
		CHECK_STR_CONTAINS(err.msg, "not trusted");
	}
	/* A CA of another name. */
	if (make_agency("ed25519", "SIGN.OTHER", &other_ca, 0, 0, &a)) {
		CHECK(sign_and_check(&a, "SIGN.OTHER", -1, &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "signer certificate not trusted");
		CHECK_STR_CONTAINS(err.msg, "local issuer");
	}
	/* The same agency code from the trusted CA works (the failures are the issuer's). */
	if (make_agency("ed25519", "SIGN.OTHER", &ca, 0, 0, &a))
		CHECK_OK(sign_and_check(&a, "SIGN.OTHER", -1, &err), err);
}

static void test_validity(void)
{
	struct lt_tagency a;
	lt_err err;
	int64_t now_ms = (int64_t)time(NULL) * 1000;
	if (make_agency("ec", "SIGN.EXPIRED", &ca, -2 * DAY, -DAY, &a)) {
		CHECK(sign_and_check(&a, "SIGN.EXPIRED", -1, &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "not trusted");
		CHECK_STR_CONTAINS(err.msg, "expired");
	}
	if (make_agency("ed25519", "SIGN.FUTURE", &ca, DAY, 2 * DAY, &a)) {
		CHECK(sign_and_check(&a, "SIGN.FUTURE", -1, &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "not trusted");
		CHECK_STR_CONTAINS(err.msg, "not yet valid");
	}
	/* Valid now, from an hour ago for a day: the claimed signing time must fit too. */
	if (make_agency("ec", "SIGN.NOW", &ca, -3600, DAY, &a)) {
		CHECK_OK(sign_and_check(&a, "SIGN.NOW", now_ms, &err), err);
		CHECK_OK(sign_and_check(&a, "SIGN.NOW", now_ms - 1800 * 1000, &err), err);
		CHECK(sign_and_check(&a, "SIGN.NOW", now_ms - 7200 * 1000, &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "not yet valid at the signing time");
		CHECK(sign_and_check(&a, "SIGN.NOW", now_ms + 2 * DAY * 1000, &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "had expired at the signing time");
	}
}

static void test_key_usage(void)
{
	struct lt_tagency a;
	lt_err err;
	struct lt_tagency_opts o = {
	    .type = "ec", .cn = "SIGN.KU", .issuer = &ca, .key_usage = "critical,keyAgreement"};
	if (CHECK(lt_tpki_agency(&pki, &o, &a) == 0)) {
		CHECK(sign_and_check(&a, "SIGN.KU", -1, &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "key usage allows neither digitalSignature");
	}
	o.key_usage = "critical,nonRepudiation";
	if (CHECK(lt_tpki_agency(&pki, &o, &a) == 0))
		CHECK_OK(sign_and_check(&a, "SIGN.KU", -1, &err), err);
}

static void test_load_errors(void)
{
	struct lt_signer s;
	lt_err err;
	/* A key that does not belong to the certificate: another type, and the same type. */
	CHECK(lt_signer_load(&s, agency[0].key_file, agency[1].cert_file, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "does not belong to certificate");
	CHECK_STR_CONTAINS(err.msg, agency[1].cert_file);
	CHECK(s.key == NULL && s.cert == NULL && s.cert_der == NULL);
	struct lt_tagency a;
	if (make_agency("ec", "SIGN.EC", &ca, 0, 0, &a)) {
		CHECK(lt_signer_load(&s, a.key_file, agency[0].cert_file, &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "does not belong to certificate");
	}
	/* Missing and unreadable files. */
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/missing.key", pki.dir);
	CHECK(lt_signer_load(&s, path, agency[0].cert_file, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "cannot open private key");
	CHECK_STR_CONTAINS(err.msg, path);
	CHECK(lt_signer_load(&s, agency[0].cert_file, agency[0].cert_file, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "cannot read private key");
	CHECK(lt_signer_load(&s, agency[0].key_file, agency[0].key_file, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "cannot read certificate");
	CHECK(lt_trust_load(path, &err) == NULL);
	CHECK_STR_CONTAINS(err.msg, "cannot load CA certificates from");
	CHECK_STR_CONTAINS(err.msg, path);
}

/* Signs with a certificate lienthong would not load as its own, then verifies. */
static int sign_any_and_check(const struct lt_tagency *a, const char *code, lt_err *err)
{
	struct lt_signer s;
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	int rc = -2;
	if (!CHECK_OK(lt_signer_load_any(&s, a->key_file, a->cert_file, err), *err))
		return rc;
	if (CHECK_OK(lt_sign(&s, msg, sizeof msg, &sig, &sig_len, err), *err)) {
		lt_err_clear(err);
		rc = lt_sign_check(trust, code, s.algorithm, s.cert_der, s.cert_der_len, msg,
		                   sizeof msg, sig, sig_len, err);
	}
	free(sig);
	lt_signer_free(&s);
	return rc;
}

/*
 * Certificates of the same CA made for something else (no extendedKeyUsage,
 * e-mail, a TLS server or Kafka client, a CA) sign nothing lienthong accepts,
 * and lienthong refuses to load them as its own signer.
 */
static void test_purpose(void)
{
	static const char *const ekus[] = {"", "clientAuth,emailProtection",
	                                   "serverAuth,clientAuth", "clientAuth"};
	struct lt_tagency a;
	struct lt_signer s;
	lt_err err;
	for (size_t i = 0; i < sizeof ekus / sizeof ekus[0]; i++) {
		struct lt_tagency_opts o = {
		    .type = "ec", .cn = "SIGN.NOPURPOSE", .issuer = &ca, .ext_key_usage = ekus[i]};
		if (!CHECK(lt_tpki_agency(&pki, &o, &a) == 0))
			continue;
		CHECK(sign_any_and_check(&a, "SIGN.NOPURPOSE", &err) == -1);
		CHECK(err.code == LT_EVERIFY);
		CHECK_STR_CONTAINS(err.msg, "lacks the agency document-signing purpose");
		CHECK_STR_CONTAINS(err.msg, LT_PKI_SIGNING_OID);
		CHECK(lt_signer_load(&s, a.key_file, a.cert_file, &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "own certificate");
		CHECK_STR_CONTAINS(err.msg, a.cert_file);
		CHECK_STR_CONTAINS(err.msg, "lacks the agency document-signing purpose");
	}
	/* A CA certificate issued by the trusted CA, even with the purpose and digitalSignature. */
	struct lt_tagency_opts o = {.type = "ec",
	                            .cn = "SIGN.SUBCA",
	                            .issuer = &ca,
	                            .ca = 1,
	                            .key_usage = "critical,keyCertSign,cRLSign,digitalSignature",
	                            .ext_key_usage = "clientAuth," LT_PKI_SIGNING_OID};
	if (CHECK(lt_tpki_agency(&pki, &o, &a) == 0)) {
		CHECK(sign_any_and_check(&a, "SIGN.SUBCA", &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "is a CA certificate");
		CHECK(lt_signer_load(&s, a.key_file, a.cert_file, &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "is a CA certificate");
	}
	/* With the purpose (and clientAuth beside it, as deploy/pki.sh issues): accepted. */
	o = (struct lt_tagency_opts){
	    .type = "ec", .cn = "SIGN.PURPOSE", .issuer = &ca, .ext_key_usage = LT_PKI_SIGNING_OID};
	if (CHECK(lt_tpki_agency(&pki, &o, &a) == 0))
		CHECK_OK(sign_any_and_check(&a, "SIGN.PURPOSE", &err), err);
}

/* A private key readable by group or others is refused, with the fix. */
static void test_key_file_mode(void)
{
	struct lt_signer s;
	lt_err err;
	const char *key = agency[0].key_file;
	if (!CHECK(chmod(key, 0640) == 0))
		return;
	CHECK(lt_signer_load(&s, key, agency[0].cert_file, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, key);
	CHECK_STR_CONTAINS(err.msg, "mode 0640");
	CHECK_STR_CONTAINS(err.msg, "chmod 600");
	CHECK(s.key == NULL && s.cert == NULL);
	CHECK(chmod(key, 0604) == 0);
	CHECK(lt_signer_load(&s, key, agency[0].cert_file, &err) == -1);
	CHECK(chmod(key, 0600) == 0);
	if (load(&s, &agency[0]))
		lt_signer_free(&s);
}

/* lienthong-upload's check of its own certificate: valid now, or a clear refusal. */
static void test_valid_now(void)
{
	struct lt_tagency a;
	lt_err err;
	int64_t now_ms = (int64_t)time(NULL) * 1000;
	if (make_agency("ec", "SIGN.OLD", &ca, -10 * DAY, -DAY, &a)) {
		X509 *cert = lt_pki_load_cert(a.cert_file, &err);
		CHECK(lt_pki_check_valid_now(cert, a.cert_file, now_ms, &err) == -1);
		CHECK_STR_CONTAINS(err.msg, a.cert_file);
		CHECK_STR_CONTAINS(err.msg, "is expired (valid from ");
		CHECK_STR_CONTAINS(err.msg, "renew it");
		X509_free(cert);
	}
	if (make_agency("ec", "SIGN.NEW", &ca, DAY, 10 * DAY, &a)) {
		X509 *cert = lt_pki_load_cert(a.cert_file, &err);
		CHECK(lt_pki_check_valid_now(cert, a.cert_file, now_ms, &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "is not yet valid");
		X509_free(cert);
	}
	X509 *cert = lt_pki_load_cert(agency[0].cert_file, &err);
	CHECK_OK(lt_pki_check_valid_now(cert, agency[0].cert_file, now_ms, &err), err);
	X509_free(cert);
}

/* Keys of unsupported kinds: refused by lt_sign_algorithm and at lt_signer_load. */
static void refused_key(const char *type, const char *want)
{
	struct lt_tagency a;
	struct lt_signer s;
	lt_err err;
	if (!make_agency(type, "SIGN.WEAK", &ca, 0, 0, &a))
		return;
	EVP_PKEY *key = lt_pki_load_key(a.key_file, &err);
	if (!CHECK(key != NULL))
		return;
	lt_err_clear(&err);
	CHECK(lt_sign_algorithm(key, &err) == NULL);
	CHECK(err.code == LT_EINVAL);
	CHECK_STR_CONTAINS(err.msg, want);
	/* A verifier refuses such a key, whatever algorithm is named. */
	uint8_t sig[64] = {1};
	for (size_t j = 0; j < 3; j++) {
		CHECK(lt_sign_verify(key, algs[j], msg, sizeof msg, sig, sizeof sig, &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "signer key not usable");
	}
	EVP_PKEY_free(key);
	CHECK(lt_signer_load(&s, a.key_file, a.cert_file, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, want);
	CHECK_STR_CONTAINS(err.msg, a.key_file);
}

static void test_refused_keys(void)
{
	refused_key("ec-p384", "only P-256 is supported");
	refused_key("rsa-1024", "RSA key of 1024 bits: at least 2048 are required");
	refused_key("ed448", "unsupported key type");
}

int main(void)
{
	lt_err err;
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (uint8_t)(i * 31 + 7);
	if (lt_tpki_init(&pki) != 0)
		return 1;
	int ok = lt_tpki_ca(&pki, "ca", "Test CA", &ca) == 0 &&
	         lt_tpki_ca(&pki, "rogue", "Test CA", &rogue_ca) == 0 &&
	         lt_tpki_ca(&pki, "other", "Other CA", &other_ca) == 0;
	for (size_t i = 0; ok && i < 3; i++)
		ok = make_agency(types[i], codes[i], &ca, 0, 0, &agency[i]);
	if (ok && (trust = lt_trust_load(ca.file, &err)) == NULL)
		fprintf(stderr, "lt_trust_load: %s\n", err.msg);
	if (CHECK(ok && trust != NULL)) {
		LT_RUN(test_ec);
		LT_RUN(test_ed25519);
		LT_RUN(test_rsa);
		LT_RUN(test_untrusted);
		LT_RUN(test_validity);
		LT_RUN(test_key_usage);
		LT_RUN(test_load_errors);
		LT_RUN(test_refused_keys);
		LT_RUN(test_purpose);
		LT_RUN(test_key_file_mode);
		LT_RUN(test_valid_now);
	}
	lt_trust_free(trust);
	lt_tca_free(&ca);
	lt_tca_free(&rogue_ca);
	lt_tca_free(&other_ca);
	lt_tpki_done(&pki);
	return lt_check_summary();
}
