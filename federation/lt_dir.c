#include "lt_dir.h"

#include <stdlib.h>
#include <string.h>

#include "../proto/lt_canon.h"

#define LT_DIR_CERT_MAX (16 * 1024)

void lt_dir_topic(const char *prefix, char *buf, size_t size)
{
	snprintf(buf, size, "%s.directory", prefix);
}

int lt_dir_seal(const struct lt_dir_in *in, const struct lt_signer *signer, uint8_t **out,
                size_t *len, lt_err *err)
{
	Lienthong__DirectoryEntry e = LIENTHONG__DIRECTORY_ENTRY__INIT;
	Lienthong__Signature sig = LIENTHONG__SIGNATURE__INIT;
	uint8_t *canon = NULL, *value = NULL;
	size_t canon_len, value_len;
	int rc = -1;
	e.version = 1;
	e.code = (char *)in->code;
	e.platform = (char *)in->platform;
	e.certificate.data = (uint8_t *)in->cert_der;
	e.certificate.len = in->cert_der != NULL ? in->cert_len : 0;
	e.serial = in->serial;
	e.issued_at_ms = in->issued_at_ms;
	e.withdrawn = in->withdrawn != 0;
	if (lt_canon_directory(&e, &canon, &canon_len, err) != 0 ||
	    lt_sign(signer, canon, canon_len, &value, &value_len, err) != 0)
		goto out;
	sig.algorithm = (char *)signer->algorithm;
	sig.signer_certificate.data = signer->cert_der;
	sig.signer_certificate.len = signer->cert_der_len;
	sig.value.data = value;
	sig.value.len = value_len;
	e.signature = &sig;
	*len = lienthong__directory_entry__get_packed_size(&e);
	*out = malloc(*len);
	if (*out == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		goto out;
	}
	lienthong__directory_entry__pack(&e, *out);
	rc = 0;
out:
	free(canon);
	free(value);
	return rc;
}

/* The field rules of docs/WIRE.md section 8. */
static int lt_dir_fields(const Lienthong__DirectoryEntry *e, const struct lt_config *cfg,
                         lt_err *err)
{
	if (e->version != 1)
		return lt_err_set(err, LT_EINVAL, "directory entry of version %u (1 expected)",
		                  e->version);
	if (lt_config_check_code(cfg, e->code, err) != 0)
		return lt_err_wrap(err, "directory entry");
	size_t n = strlen(e->platform);
	if (n == 0 || n > LT_CODE_MAX ||
	    strspn(e->platform, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                        "0123456789._-") != n)
		return lt_err_set(
		    err, LT_EINVAL,
		    "directory entry for %s: platform '%.80s' must be 1 to %d letters, "
		    "digits, '.', '_' or '-'",
		    e->code, e->platform, LT_CODE_MAX);
	if (e->serial == 0)
		return lt_err_set(err, LT_EINVAL, "directory entry for %s: serial 0", e->code);
	if (e->certificate.len > LT_DIR_CERT_MAX)
		return lt_err_set(err, LT_EINVAL,
		                  "directory entry for %s: certificate of %zu bytes", e->code,
		                  e->certificate.len);
	if (e->signature == NULL || e->signature->value.len == 0 ||
	    e->signature->value.len > LT_SIG_MAX)
		return lt_err_set(err, LT_EVERIFY, "directory entry for %s is not signed", e->code);
	return 0;
}

/* The agency certificate an entry carries: chains to ca_file, CN = the code. */
static int lt_dir_check_cert(const Lienthong__DirectoryEntry *e, const struct lt_trust *trust,
                             lt_err *err)
{
	char cn[LT_CODE_MAX + 1];
	if (e->certificate.len == 0)
		return 0;
	X509 *c =
	    lt_trust_verify_der(trust, e->certificate.data, e->certificate.len, cn, sizeof cn, err);
	if (c == NULL)
		return lt_err_wrap(err, "directory entry for %s: its agency certificate", e->code);
	X509_free(c);
	if (strcmp(cn, e->code) != 0)
		return lt_err_set(err, LT_EVERIFY,
		                  "directory entry for %s carries the certificate of %s", e->code,
		                  cn);
	return 0;
}

Lienthong__DirectoryEntry *lt_dir_open(const uint8_t *buf, size_t len, const struct lt_config *cfg,
                                       const struct lt_trust *trust, char *signer,
                                       size_t signer_size, lt_err *err)
{
	char cn[LT_CODE_MAX + 1];
	uint8_t *canon = NULL;
	size_t canon_len;
	if (len > LT_DIR_RECORD_MAX) {
		lt_err_set(err, LT_EINVAL, "directory record of %zu bytes (at most %d)", len,
		           LT_DIR_RECORD_MAX);
		return NULL;
	}
	Lienthong__DirectoryEntry *e = lienthong__directory_entry__unpack(NULL, len, buf);
	if (e == NULL) {
		lt_err_set(err, LT_EINVAL, "directory record of %zu bytes does not decode", len);
		return NULL;
	}
	if (lt_dir_fields(e, cfg, err) != 0 || lt_canon_directory(e, &canon, &canon_len, err) != 0)
		goto fail;
	const Lienthong__Signature *s = e->signature;
	if (lt_sign_check_purpose(trust, LT_PKI_DIRECTORY_OID, "directory signing", s->algorithm,
	                          s->signer_certificate.data, s->signer_certificate.len, canon,
	                          canon_len, s->value.data, s->value.len, cn, sizeof cn,
	                          err) != 0) {
		lt_err_wrap(err, "directory entry for %s", e->code);
		goto fail;
	}
	if (lt_dir_check_cert(e, trust, err) != 0)
		goto fail;
	if (signer != NULL)
		snprintf(signer, signer_size, "%s", cn);
	free(canon);
	return e;
fail:
	free(canon);
	lienthong__directory_entry__free_unpacked(e, NULL);
	return NULL;
}

int lt_dir_keep(struct lt_txn *t, enum lt_db db, const char *key, size_t klen,
                const Lienthong__DirectoryEntry *e, const uint8_t *raw, size_t raw_len, lt_err *err)
{
	const void *val;
	size_t vlen;
	if (lt_txn_get(t, db, key, klen, &val, &vlen, err) != 0)
		return -1;
	if (val != NULL) {
		Lienthong__DirectoryEntry *old =
		    lienthong__directory_entry__unpack(NULL, vlen, val);
		int newer = old == NULL || e->serial > old->serial;
		if (old != NULL)
			lienthong__directory_entry__free_unpacked(old, NULL);
		if (!newer)
			return 0;
	}
	return lt_txn_put(t, db, key, klen, raw, raw_len, err) == 0 ? 1 : -1;
}

int lt_dir_get(struct lt_txn *t, const char *code, Lienthong__DirectoryEntry **out, lt_err *err)
{
	const void *val;
	size_t vlen;
	*out = NULL;
	if (lt_txn_get(t, LT_DB_DIRECTORY, code, strlen(code), &val, &vlen, err) != 0)
		return -1;
	if (val == NULL)
		return 0;
	*out = lienthong__directory_entry__unpack(NULL, vlen, val);
	if (*out == NULL)
		return lt_err_set(err, LT_EIO, "directory entry of %s in the store is corrupt",
		                  code);
	return 0;
}

int lt_dir_check_recipients(struct lt_store *store, const struct lt_config *cfg,
                            const char *const *codes, size_t n, lt_err *err)
{
	struct lt_txn *t = NULL;
	int rc = -1;
	if (lt_txn_begin(store, 0, &t, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		Lienthong__DirectoryEntry *e = NULL;
		if (lt_dir_get(t, codes[i], &e, err) != 0)
			goto out;
		int absent = e == NULL, bad = absent || e->withdrawn;
		if (e != NULL)
			lienthong__directory_entry__free_unpacked(e, NULL);
		if (bad) {
			lt_err_set(
			    err, LT_ENOTFOUND,
			    "recipient %s is not in the directory of platform %s%s: check the "
			    "code; a new agency must first be published by its platform's "
			    "operator (lienthong-directory publish), and the agent must be "
			    "running to receive the directory (lienthong-directory -c %s list "
			    "shows what it knows)",
			    codes[i], cfg->platform, absent ? "" : " (withdrawn)", cfg->path);
			goto out;
		}
	}
	rc = 0;
out:
	lt_txn_abort(t);
	return rc;
}
