/*
 * Unit tests of the trust store's CRLs: a stale CRL means "wait" (LT_EAGAIN,
 * and only for a signature that is otherwise good), and lt_trust_crl_tick
 * re-reads crl_file when it changes, on a fake clock, keeping the old CRLs
 * when the new file cannot be read. The cache of verified signers gives the
 * same verdicts, still checks every signature, forgets what it knew when the
 * CRLs are re-read (a revocation takes effect at once) and when its time is up.
 */
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../pki/lt_pki.h"
#include "../../proto/lt_sign.h"
#include "lt_check.h"
#include "lt_testpki.h"

static struct lt_tpki pki;
static struct lt_tca ca;
static struct lt_tagency agency;
static struct lt_signer signer;
static char crl_file[PATH_MAX];
static const uint8_t msg[] = "a document's canonical bytes";

/*
 * Writes a CRL of ca valid from now + from_s to now + to_s (revoking the
 * agency when asked) to a new file renamed over crl_file, as a CA would.
 */
static int write_crl(long from_s, long to_s, int revoke_agency)
{
	char tmp[PATH_MAX + 8];
	time_t now = time(NULL);
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *last = ASN1_TIME_adj(NULL, now, 0, from_s),
	          *next = ASN1_TIME_adj(NULL, now, 0, to_s);
	int ok = crl != NULL && last != NULL && next != NULL && X509_CRL_set_version(crl, 1) &&
	         X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca.cert)) &&
	         X509_CRL_set1_lastUpdate(crl, last) && X509_CRL_set1_nextUpdate(crl, next);
	if (ok && revoke_agency) {
		X509_REVOKED *r = X509_REVOKED_new();
		ok = r != NULL &&
		     X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(signer.cert)) &&
		     X509_REVOKED_set_revocationDate(r, last) && X509_CRL_add0_revoked(crl, r);
		X509_CRL_sort(crl);
	}
	ok = ok && X509_CRL_sign(crl, ca.key, EVP_sha256()) > 0;
	snprintf(tmp, sizeof tmp, "%s.new", crl_file);
	FILE *f = ok ? fopen(tmp, "w") : NULL;
	ok = f != NULL && PEM_write_X509_CRL(f, crl) == 1;
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	ok = ok && rename(tmp, crl_file) == 0;
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	X509_CRL_free(crl);
	return CHECK(ok) ? 0 : -1;
}

/* lt_sign_check of a signature by the agency (or of a broken one). */
static int check(struct lt_trust *t, int broken, lt_err *err)
{
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	if (!CHECK_OK(lt_sign(&signer, msg, sizeof msg, &sig, &sig_len, err), *err))
		return -2;
	if (broken)
		sig[sig_len / 2] ^= 1;
	int rc = lt_sign_check(t, signer.code, signer.algorithm, signer.cert_der,
	                       signer.cert_der_len, msg, sizeof msg, sig, sig_len, err);
	free(sig);
	return rc;
}

static void test_reload(void)
{
	lt_err err;
	struct lt_trust *t = NULL;
	const int64_t t0 = 1767225600000LL; /* the fake clock of the ticks */
	if (write_crl(-3600, 86400, 0) != 0 || (t = lt_trust_load(ca.file, &err)) == NULL ||
	    !CHECK_OK(lt_trust_load_crls(t, crl_file, &err), err)) {
		lt_trust_free(t);
		return;
	}
	lt_trust_crl_tick(t, t0);
	CHECK_OK(check(t, 0, &err), err);

	/* The CRL expired: a good signature waits, a broken one is refused. */
	write_crl(-7200, -3600, 0);
	lt_trust_crl_tick(t, t0 + 500); /* looked at once a second: not yet */
	CHECK_OK(check(t, 0, &err), err);
	lt_trust_crl_tick(t, t0 + 1000);
	CHECK(check(t, 0, &err) == -1);
	CHECK(err.code == LT_EAGAIN);
	CHECK_STR_CONTAINS(err.msg, "has expired");
	CHECK_STR_CONTAINS(err.msg, crl_file);
	CHECK(check(t, 1, &err) == -1);
	CHECK(err.code == LT_EVERIFY);

	/* Renewed: accepted again, no new trust store needed. */
	write_crl(-60, 86400, 0);
	lt_trust_crl_tick(t, t0 + 2000);
	CHECK_OK(check(t, 0, &err), err);

	/* Not yet valid also waits. */
	write_crl(3600, 7200, 0);
	lt_trust_crl_tick(t, t0 + 3000);
	CHECK(check(t, 0, &err) == -1 && err.code == LT_EAGAIN);
	CHECK_STR_CONTAINS(err.msg, "not yet valid");

	/* A CRL revoking the signer takes effect. */
	write_crl(-60, 86400, 1);
	lt_trust_crl_tick(t, t0 + 4000);
	CHECK(check(t, 0, &err) == -1);
	CHECK(err.code == LT_EVERIFY);
	CHECK_STR_CONTAINS(err.msg, "revoked");

	/* A broken file: the CRLs read before stay in use. */
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof tmp, "%s.new", crl_file);
	if (CHECK(lt_write_file(tmp, "not a CRL\n") == 0 && rename(tmp, crl_file) == 0)) {
		lt_trust_crl_tick(t, t0 + 5000);
		CHECK(check(t, 0, &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "revoked");
	}
	/* Then a good one again. */
	write_crl(-60, 86400, 0);
	lt_trust_crl_tick(t, t0 + 6000);
	CHECK_OK(check(t, 0, &err), err);
	lt_trust_free(t);
}

/* Cache hits and misses since the last call. */
static void cache_delta(struct lt_trust *t, uint64_t *hits, uint64_t *misses)
{
	static uint64_t h0, m0;
	uint64_t h, m;
	lt_trust_cache_stats(t, &h, &m);
	*hits = h - h0;
	*misses = m - m0;
	h0 = h;
	m0 = m;
}

static void test_cache(void)
{
	lt_err err;
	uint64_t hits, misses;
	struct lt_trust *t = NULL;
	const int64_t t0 = 1767225600000LL;
	if (write_crl(-3600, 86400, 0) != 0 || (t = lt_trust_load(ca.file, &err)) == NULL ||
	    !CHECK_OK(lt_trust_load_crls(t, crl_file, &err), err)) {
		lt_trust_free(t);
		return;
	}
	lt_trust_crl_tick(t, t0);
	cache_delta(t, &hits, &misses);

	/* The first check verifies the certificate, the next ones find it. */
	CHECK_OK(check(t, 0, &err), err);
	cache_delta(t, &hits, &misses);
	CHECK(hits == 0 && misses == 1);
	CHECK_OK(check(t, 0, &err), err);
	CHECK_OK(check(t, 0, &err), err);
	cache_delta(t, &hits, &misses);
	CHECK(hits == 2 && misses == 0);

	/* A hit still verifies the signature itself. */
	CHECK(check(t, 1, &err) == -1);
	CHECK(err.code == LT_EVERIFY);
	CHECK_STR_CONTAINS(err.msg, "signature did not verify");
	cache_delta(t, &hits, &misses);
	CHECK(hits == 1 && misses == 0);

	/* A claim of another agency is refused on a hit as on a miss. */
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	if (CHECK_OK(lt_sign(&signer, msg, sizeof msg, &sig, &sig_len, &err), err)) {
		CHECK(lt_sign_check(t, "OTHER.A2", signer.algorithm, signer.cert_der,
		                    signer.cert_der_len, msg, sizeof msg, sig, sig_len,
		                    &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "but the record claims 'OTHER.A2'");
	}
	free(sig);
	cache_delta(t, &hits, &misses);
	CHECK(hits == 1);

	/* The CRLs re-read with the signer revoked: the very next check fails. */
	write_crl(-60, 86400, 1);
	lt_trust_crl_tick(t, t0 + 1000);
	CHECK(check(t, 0, &err) == -1);
	CHECK(err.code == LT_EVERIFY);
	CHECK_STR_CONTAINS(err.msg, "revoked");
	CHECK(check(t, 0, &err) == -1); /* failures are not cached */
	CHECK_STR_CONTAINS(err.msg, "revoked");
	cache_delta(t, &hits, &misses);
	CHECK(hits == 0 && misses == 2);

	/* Reinstated: verified again, then found. */
	write_crl(-60, 86400, 0);
	lt_trust_crl_tick(t, t0 + 2000);
	CHECK_OK(check(t, 0, &err), err);
	CHECK_OK(check(t, 0, &err), err);
	cache_delta(t, &hits, &misses);
	CHECK(hits == 1 && misses == 1);

	/* A verdict older than its time is checked again in full. */
	lt_trust_set_cache_ttl(t, 50);
	CHECK_OK(check(t, 0, &err), err); /* stored with the old time: still a hit */
	write_crl(-60, 86400, 0);
	lt_trust_crl_tick(t, t0 + 3000); /* forgets: the next entry takes the short time */
	CHECK_OK(check(t, 0, &err), err);
	CHECK_OK(check(t, 0, &err), err);
	cache_delta(t, &hits, &misses);
	CHECK(hits == 2 && misses == 1);
	nanosleep(&(struct timespec){.tv_nsec = 120 * 1000 * 1000}, NULL);
	CHECK_OK(check(t, 0, &err), err);
	cache_delta(t, &hits, &misses);
	CHECK(hits == 0 && misses == 1);
	lt_trust_free(t);
}

int main(void)
{
	lt_err err;
	if (lt_tpki_init(&pki) != 0)
		return 1;
	snprintf(crl_file, sizeof crl_file, "%s/crl.pem", pki.dir);
	int ok = lt_tpki_ca(&pki, "ca", "Test CA", &ca) == 0 &&
	         lt_tpki_agency(
	             &pki, &(struct lt_tagency_opts){.type = "ec", .cn = "CRL.A1", .issuer = &ca},
	             &agency) == 0;
	if (ok && !CHECK_OK(lt_signer_load(&signer, agency.key_file, agency.cert_file, &err), err))
		ok = 0;
	if (CHECK(ok))
		LT_RUN(test_reload);
	if (ok)
		LT_RUN(test_cache);
	lt_signer_free(&signer);
	lt_tca_free(&ca);
	lt_tpki_done(&pki);
	return lt_check_summary();
}
