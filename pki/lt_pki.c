#include "lt_pki.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../clock/lt_clock.h"
#include "../log/lt_log.h"
#include "lt_hash.h"

#define LT_TRUST_CRL_STAT_MS 1000              /* how often crl_file is looked at */
#define LT_TRUST_CRL_REREAD_MS (5 * 60 * 1000) /* re-read at least this often */

#define LT_TRUST_CACHE_SLOTS 32
#define LT_TRUST_CACHE_TTL_MS (60 * 1000)
#define LT_TRUST_SIG_SLOTS 64

/* A signer certificate that passed the chain, CN and purpose checks. */
struct lt_trust_cached {
	uint8_t hash[SHA256_DIGEST_LENGTH]; /* of the DER */
	X509 *cert;                         /* NULL: free slot */
	char code[128];
	int64_t until_ms; /* monotonic: checked again after this */
	uint64_t used;    /* for LRU eviction */
};

/* Behind a pointer: a const lt_trust still caches. */
struct lt_trust_cache {
	pthread_mutex_t lock;
	struct lt_trust_cached slot[LT_TRUST_CACHE_SLOTS];
	int64_t ttl_ms;
	time_t crl_next; /* earliest nextUpdate of the store's CRLs (0: none) */
	uint64_t clock, hits, misses;
	/* Signatures that verified (lt_trust_sig_known): keys, the oldest overwritten. */
	uint8_t sig[LT_TRUST_SIG_SLOTS][SHA256_DIGEST_LENGTH];
	unsigned sig_used, sig_next;
	uint64_t sig_hits;
};

struct lt_trust {
	X509_STORE *store;
	char ca_file[4096];
	char crl_file[4096]; /* empty: no revocation checking */
	struct stat crl_st;  /* crl_file when it was last read */
	int64_t crl_read_ms, crl_looked_ms;
	struct lt_trust_cache *cache;
};

/* The earliest nextUpdate of the CRLs in store, so a cached verdict never outlives one. */
static time_t lt_trust_crl_next(X509_STORE *store)
{
	time_t next = 0;
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509_CRL *crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i));
		const ASN1_TIME *nu = crl != NULL ? X509_CRL_get0_nextUpdate(crl) : NULL;
		struct tm tm;
		if (nu == NULL || ASN1_TIME_to_tm(nu, &tm) != 1)
			continue;
		time_t at = timegm(&tm);
		if (next == 0 || at < next)
			next = at;
	}
	return next;
}

/* Forgets every cached verdict: the store changed. Owner thread of t only. */
static void lt_trust_cache_clear(struct lt_trust *t)
{
	struct lt_trust_cache *c = t->cache;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < LT_TRUST_CACHE_SLOTS; i++) {
		X509_free(c->slot[i].cert);
		c->slot[i].cert = NULL;
	}
	c->crl_next = lt_trust_crl_next(t->store);
	pthread_mutex_unlock(&c->lock);
}

EVP_PKEY *lt_pki_load_key(const char *path, lt_err *err)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		lt_err_errno(err, errno, "cannot open private key %s", path);
		return NULL;
	}
	EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL)
		lt_err_ssl(err, LT_EINVAL,
		           "cannot read private key %s (expected an unencrypted PEM key)", path);
	return key;
}

X509 *lt_pki_load_cert(const char *path, lt_err *err)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		lt_err_errno(err, errno, "cannot open certificate %s", path);
		return NULL;
	}
	X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (cert == NULL)
		lt_err_ssl(err, LT_EINVAL, "cannot read certificate %s (expected PEM)", path);
	return cert;
}

int lt_pki_cert_code(X509 *cert, char *buf, size_t size, lt_err *err)
{
	X509_NAME *name = X509_get_subject_name(cert);
	int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (idx < 0)
		return lt_err_set(err, LT_EVERIFY, "certificate subject has no CN (agency code)");
	if (X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0)
		return lt_err_set(err, LT_EVERIFY, "certificate subject has more than one CN");
	ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
	const unsigned char *data = ASN1_STRING_get0_data(cn);
	int len = ASN1_STRING_length(cn);
	if (len <= 0 || (size_t)len >= size || memchr(data, '\0', (size_t)len) != NULL)
		return lt_err_set(err, LT_EVERIFY, "certificate CN is empty or too long");
	memcpy(buf, data, (size_t)len);
	buf[len] = '\0';
	return 0;
}

struct lt_trust *lt_trust_load(const char *ca_file, lt_err *err)
{
	struct lt_trust *t = calloc(1, sizeof *t);
	if (t == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		return NULL;
	}
	snprintf(t->ca_file, sizeof t->ca_file, "%s", ca_file);
	t->cache = calloc(1, sizeof *t->cache);
	if (t->cache == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->cache->lock, NULL);
	t->cache->ttl_ms = LT_TRUST_CACHE_TTL_MS;
	t->store = X509_STORE_new();
	if (t->store == NULL || X509_STORE_load_file(t->store, ca_file) != 1) {
		lt_err_ssl(err, LT_EINVAL, "cannot load CA certificates from %s", ca_file);
		lt_trust_free(t);
		return NULL;
	}
	return t;
}

static int lt_trust_add_crls(X509_STORE *store, const char *crl_file, lt_err *err)
{
	X509_LOOKUP *lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
	if (lookup == NULL || X509_load_crl_file(lookup, crl_file, X509_FILETYPE_PEM) <= 0)
		return lt_err_ssl(err, LT_EINVAL, "cannot load CRLs from %s (expected PEM)",
		                  crl_file);
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	return 0;
}

int lt_trust_load_crls(struct lt_trust *t, const char *crl_file, lt_err *err)
{
	snprintf(t->crl_file, sizeof t->crl_file, "%s", crl_file);
	if (stat(crl_file, &t->crl_st) != 0)
		memset(&t->crl_st, 0, sizeof t->crl_st);
	int rc = lt_trust_add_crls(t->store, crl_file, err);
	lt_trust_cache_clear(t);
	return rc;
}

/* A new store from ca_file and crl_file replaces the old one, if both read. */
static int lt_trust_reread(struct lt_trust *t, lt_err *err)
{
	X509_STORE *store = X509_STORE_new();
	if (store == NULL || X509_STORE_load_file(store, t->ca_file) != 1) {
		X509_STORE_free(store);
		return lt_err_ssl(err, LT_EINVAL, "cannot load CA certificates from %s",
		                  t->ca_file);
	}
	if (lt_trust_add_crls(store, t->crl_file, err) != 0) {
		X509_STORE_free(store);
		return -1;
	}
	X509_STORE_free(t->store);
	t->store = store;
	lt_trust_cache_clear(t);
	return 0;
}

static int lt_trust_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

void lt_trust_crl_tick(struct lt_trust *t, int64_t now_ms)
{
	struct stat st;
	lt_err err;
	if (t->crl_file[0] == '\0' || now_ms - t->crl_looked_ms < LT_TRUST_CRL_STAT_MS)
		return;
	t->crl_looked_ms = now_ms;
	if (t->crl_read_ms == 0)
		t->crl_read_ms = now_ms; /* read at start */
	int changed = stat(t->crl_file, &st) == 0 && !lt_trust_same_file(&st, &t->crl_st);
	if (!changed && now_ms - t->crl_read_ms < LT_TRUST_CRL_REREAD_MS)
		return;
	t->crl_read_ms = now_ms;
	if (changed)
		t->crl_st = st; /* a broken file is tried again when it changes, or in 5 min */
	if (lt_trust_reread(t, &err) != 0) {
		lt_log_error("%s; the CRLs read before stay in use", err.msg);
		return;
	}
	lt_log_info("CRLs %sread from %s", changed ? "changed: " : "", t->crl_file);
}

int lt_pki_check_time(X509 *cert, int64_t at_ms, lt_err *err)
{
	time_t at = (time_t)(at_ms / 1000);
	if (X509_cmp_time(X509_get0_notBefore(cert), &at) > 0)
		return lt_err_set(err, LT_EVERIFY,
		                  "signer certificate was not yet valid at the signing time");
	if (X509_cmp_time(X509_get0_notAfter(cert), &at) < 0)
		return lt_err_set(err, LT_EVERIFY,
		                  "signer certificate had expired at the signing time");
	return 0;
}

void lt_trust_free(struct lt_trust *t)
{
	if (t == NULL)
		return;
	if (t->cache != NULL) {
		for (int i = 0; i < LT_TRUST_CACHE_SLOTS; i++)
			X509_free(t->cache->slot[i].cert);
		pthread_mutex_destroy(&t->cache->lock);
		free(t->cache);
	}
	X509_STORE_free(t->store);
	free(t);
}

/*
 * A CRL out of its validity (nextUpdate passed, or not yet valid) says
 * nothing about revocation: when the chain is good without revocation
 * checking, the answer is "wait" (LT_EAGAIN with what to do), not a verdict
 * on the signer. Returns 0 when err was set so, -1 otherwise.
 */
static int lt_trust_crl_stale(const struct lt_trust *t, X509 *cert, int code, lt_err *err)
{
	if (code != X509_V_ERR_CRL_HAS_EXPIRED && code != X509_V_ERR_CRL_NOT_YET_VALID)
		return -1;
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = -1;
	if (ctx != NULL && X509_STORE_CTX_init(ctx, t->store, cert, NULL) == 1) {
		X509_VERIFY_PARAM_clear_flags(X509_STORE_CTX_get0_param(ctx),
		                              X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
		if (X509_verify_cert(ctx) == 1) {
			lt_err_set(err, LT_EAGAIN,
			           "revocation of the signer cannot be checked: a CRL in %s %s; "
			           "documents wait until a current CRL is written there "
			           "(deploy/pki.sh crl, or the CA's), no restart needed",
			           t->crl_file,
			           code == X509_V_ERR_CRL_HAS_EXPIRED
			               ? "has expired (nextUpdate passed)"
			               : "is not yet valid");
			rc = 0;
		}
	}
	X509_STORE_CTX_free(ctx);
	return rc;
}

int lt_trust_verify(const struct lt_trust *t, X509 *cert, lt_err *err)
{
	int rc = -1;
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (ctx == NULL || X509_STORE_CTX_init(ctx, t->store, cert, NULL) != 1) {
		lt_err_ssl(err, LT_EIO, "cannot set up certificate verification");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		int code = X509_STORE_CTX_get_error(ctx);
		if (lt_trust_crl_stale(t, cert, code, err) != 0)
			lt_err_set(err, LT_EVERIFY, "signer certificate not trusted: %s",
			           X509_verify_cert_error_string(code));
		ERR_clear_error();
		goto out;
	}
	if ((X509_get_extension_flags(cert) & EXFLAG_KUSAGE) &&
	    !(X509_get_key_usage(cert) & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION))) {
		lt_err_set(err, LT_EVERIFY,
		           "signer certificate key usage allows neither digitalSignature nor "
		           "nonRepudiation");
		goto out;
	}
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	return rc;
}

X509 *lt_trust_verify_der(const struct lt_trust *t, const uint8_t *der, size_t len, char *code,
                          size_t code_size, lt_err *err)
{
	const unsigned char *p = der;
	if (len == 0 || len > 64 * 1024) {
		lt_err_set(err, LT_EVERIFY, "signer certificate missing or larger than 64 KiB");
		return NULL;
	}
	X509 *cert = d2i_X509(NULL, &p, (long)len);
	if (cert == NULL || p != der + len) {
		X509_free(cert);
		lt_err_ssl(err, LT_EVERIFY, "signer certificate is not valid DER X.509");
		return NULL;
	}
	if (lt_trust_verify(t, cert, err) != 0 ||
	    lt_pki_cert_code(cert, code, code_size, err) != 0) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

/* A cached verdict for hash, still good now: the certificate with a reference taken. */
static X509 *lt_trust_cache_get(struct lt_trust_cache *c, const uint8_t *hash, char *code,
                                size_t code_size)
{
	X509 *cert = NULL;
	int64_t now_ms = lt_mono_ms();
	time_t now = time(NULL);
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < LT_TRUST_CACHE_SLOTS; i++) {
		struct lt_trust_cached *e = &c->slot[i];
		if (e->cert == NULL || memcmp(e->hash, hash, sizeof e->hash) != 0)
			continue;
		if (now_ms >= e->until_ms || (c->crl_next != 0 && now >= c->crl_next) ||
		    X509_cmp_time(X509_get0_notAfter(e->cert), &now) < 0 ||
		    strlen(e->code) >= code_size) {
			X509_free(e->cert); /* too old: checked again in full */
			e->cert = NULL;
			break;
		}
		if (X509_up_ref(e->cert) == 1) {
			cert = e->cert;
			snprintf(code, code_size, "%s", e->code);
			e->used = ++c->clock;
		}
		break;
	}
	if (cert != NULL)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	return cert;
}

/* Remembers cert (a reference is taken) as verified, evicting the least recently used. */
static void lt_trust_cache_put(struct lt_trust_cache *c, const uint8_t *hash, X509 *cert,
                               const char *code)
{
	if (strlen(code) >= sizeof c->slot[0].code)
		return;
	pthread_mutex_lock(&c->lock);
	struct lt_trust_cached *victim = &c->slot[0];
	for (int i = 0; i < LT_TRUST_CACHE_SLOTS; i++) {
		struct lt_trust_cached *e = &c->slot[i];
		if (e->cert != NULL && memcmp(e->hash, hash, sizeof e->hash) == 0) {
			victim = e; /* another thread put it first */
			break;
		}
		if (victim->cert != NULL && (e->cert == NULL || e->used < victim->used))
			victim = e;
	}
	if (X509_up_ref(cert) == 1) {
		X509_free(victim->cert);
		memcpy(victim->hash, hash, sizeof victim->hash);
		victim->cert = cert;
		snprintf(victim->code, sizeof victim->code, "%s", code);
		victim->until_ms = lt_mono_ms() + c->ttl_ms;
		victim->used = ++c->clock;
	}
	pthread_mutex_unlock(&c->lock);
}

X509 *lt_trust_verify_signer(const struct lt_trust *t, const uint8_t *der, size_t len, char *code,
                             size_t code_size, lt_err *err)
{
	uint8_t hash[SHA256_DIGEST_LENGTH];
	if (len == 0 || len > 64 * 1024) {
		lt_err_set(err, LT_EVERIFY, "signer certificate missing or larger than 64 KiB");
		return NULL;
	}
	lt_sha256(der, len, hash);
	X509 *cert = lt_trust_cache_get(t->cache, hash, code, code_size);
	if (cert != NULL)
		return cert;
	cert = lt_trust_verify_der(t, der, len, code, code_size, err);
	if (cert == NULL)
		return NULL;
	if (lt_pki_check_signer_purpose(cert, err) != 0) {
		X509_free(cert);
		return NULL;
	}
	lt_trust_cache_put(t->cache, hash, cert, code);
	return cert;
}

int lt_trust_sig_known(const struct lt_trust *t, const uint8_t key[32])
{
	struct lt_trust_cache *c = t->cache;
	int known = 0;
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->sig_used && !known; i++)
		known = memcmp(c->sig[i], key, SHA256_DIGEST_LENGTH) == 0;
	c->sig_hits += (uint64_t)known;
	pthread_mutex_unlock(&c->lock);
	return known;
}

void lt_trust_sig_remember(const struct lt_trust *t, const uint8_t key[32])
{
	struct lt_trust_cache *c = t->cache;
	pthread_mutex_lock(&c->lock);
	memcpy(c->sig[c->sig_next], key, SHA256_DIGEST_LENGTH);
	c->sig_next = (c->sig_next + 1) % LT_TRUST_SIG_SLOTS;
	if (c->sig_used < LT_TRUST_SIG_SLOTS)
		c->sig_used++;
	pthread_mutex_unlock(&c->lock);
}

uint64_t lt_trust_sig_hits(const struct lt_trust *t)
{
	pthread_mutex_lock(&t->cache->lock);
	uint64_t hits = t->cache->sig_hits;
	pthread_mutex_unlock(&t->cache->lock);
	return hits;
}

void lt_trust_cache_stats(const struct lt_trust *t, uint64_t *hits, uint64_t *misses)
{
	pthread_mutex_lock(&t->cache->lock);
	*hits = t->cache->hits;
	*misses = t->cache->misses;
	pthread_mutex_unlock(&t->cache->lock);
}

void lt_trust_set_cache_ttl(struct lt_trust *t, int64_t ttl_ms)
{
	pthread_mutex_lock(&t->cache->lock);
	t->cache->ttl_ms = ttl_ms;
	pthread_mutex_unlock(&t->cache->lock);
}

/* Whether cert's extendedKeyUsage lists oid. */
static int lt_pki_has_eku(X509 *cert, const char *oid)
{
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL, NULL);
	ASN1_OBJECT *want = OBJ_txt2obj(oid, 1);
	int found = 0;
	for (int i = 0; eku != NULL && want != NULL && i < sk_ASN1_OBJECT_num(eku); i++)
		found |= OBJ_cmp(sk_ASN1_OBJECT_value(eku, i), want) == 0;
	ASN1_OBJECT_free(want);
	EXTENDED_KEY_USAGE_free(eku);
	ERR_clear_error();
	return found;
}

int lt_pki_check_signer_purpose(X509 *cert, lt_err *err)
{
	if (X509_check_ca(cert) != 0)
		return lt_err_set(err, LT_EVERIFY,
		                  "signer certificate is a CA certificate (basicConstraints "
		                  "CA:TRUE): a CA issues agency certificates, it does not sign "
		                  "documents");
	if (!lt_pki_has_eku(cert, LT_PKI_SIGNING_OID))
		return lt_err_set(err, LT_EVERIFY,
		                  "signer certificate lacks the agency document-signing purpose "
		                  "(extendedKeyUsage " LT_PKI_SIGNING_OID "): it is not an agency "
		                  "certificate (a Kafka client or broker certificate?); issue one "
		                  "with deploy/pki.sh agency");
	return 0;
}

int lt_pki_check_purpose(X509 *cert, const char *oid, const char *what, lt_err *err)
{
	if (X509_check_ca(cert) != 0)
		return lt_err_set(err, LT_EVERIFY,
		                  "certificate is a CA certificate (basicConstraints CA:TRUE): it "
		                  "cannot be used for %s",
		                  what);
	if (!lt_pki_has_eku(cert, oid))
		return lt_err_set(err, LT_EVERIFY,
		                  "certificate lacks the %s purpose (extendedKeyUsage %s): issue "
		                  "one for it (deploy/pki.sh)",
		                  what, oid);
	return 0;
}

int lt_pki_check_key_file(const char *path, lt_err *err)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return lt_err_errno(err, errno, "cannot examine private key %s", path);
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return lt_err_set(err, LT_EINVAL,
		                  "private key %s is accessible to group or others (mode %04o): "
		                  "run 'chmod 600 %s' (and keep it owned by the agent's user)",
		                  path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

int lt_pki_check_valid_now(X509 *cert, const char *path, int64_t now_ms, lt_err *err)
{
	time_t now = (time_t)(now_ms / 1000);
	int early = X509_cmp_time(X509_get0_notBefore(cert), &now) > 0;
	int late = X509_cmp_time(X509_get0_notAfter(cert), &now) < 0;
	if (!early && !late)
		return 0;
	char from[64] = "?", until[64] = "?";
	BIO *b = BIO_new(BIO_s_mem());
	if (b != NULL && ASN1_TIME_print(b, X509_get0_notBefore(cert)) == 1) {
		int n = BIO_read(b, from, sizeof from - 1);
		from[n > 0 ? n : 0] = '\0';
	}
	if (b != NULL && ASN1_TIME_print(b, X509_get0_notAfter(cert)) == 1) {
		int n = BIO_read(b, until, sizeof until - 1);
		until[n > 0 ? n : 0] = '\0';
	}
	BIO_free(b);
	ERR_clear_error();
	return lt_err_set(err, LT_EINVAL,
	                  "certificate %s is %s (valid from %s until %s): recipients would "
	                  "reject what it signs; renew it",
	                  path, early ? "not yet valid" : "expired", from, until);
}
