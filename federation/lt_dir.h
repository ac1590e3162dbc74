/*
 * lt_dir: the federation directory: which platform serves each agency code.
 *
 * An entry (DirectoryEntry in proto/lienthong.proto, docs/WIRE.md section 8)
 * is signed by a directory signer: a certificate that chains to ca_file, is
 * not a CA and carries the directory-signing purpose LT_PKI_DIRECTORY_OID
 * (deploy/pki.sh directory). Agency, relay and Kafka client certificates
 * lack it, so none of them can sign an entry. Entries travel on the compacted
 * topic <prefix>.directory, key = the agency code; each holder keeps the
 * newest verified entry per code (the highest serial: an older one, replayed,
 * changes nothing) in its store's `directory` database, so routing and the
 * submission check work without Kafka.
 *
 * Trust: everything in an entry is checked before use (bounded size, field
 * rules, signature, and the agency certificate it carries, if any, must
 * chain to ca_file with CN = code).
 *
 * Ownership: decoded entries are freed with lienthong__directory_entry__
 * free_unpacked(e, NULL); sealed bytes are malloc'd, the caller frees.
 * Thread-safe (the store's rules for transactions apply).
 */
#ifndef LT_DIR_H
#define LT_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "../config/lt_config.h"
#include "../errors/lt_err.h"
#include "../pki/lt_pki.h"
#include "../proto/lt_sign.h"
#include "../store/lt_store.h"
#include "lienthong.pb-c.h"

#define LT_DIR_RECORD_MAX (64 * 1024) /* one entry on the wire, certificates included */

struct lt_dir_in {
	const char *code;
	const char *platform;
	const uint8_t *cert_der; /* the agency's certificate, NULL: none */
	size_t cert_len;
	uint64_t serial;
	int64_t issued_at_ms;
	int withdrawn;
};

/* Signs and encodes an entry with a directory signer's key. */
int lt_dir_seal(const struct lt_dir_in *in, const struct lt_signer *signer, uint8_t **out,
                size_t *len, lt_err *err);

/*
 * Decodes and verifies a record of a directory topic: the entry, or NULL with
 * err saying what is wrong (the record is then ignored by every holder).
 * signer, if not NULL, receives the CN of the directory signer.
 */
Lienthong__DirectoryEntry *lt_dir_open(const uint8_t *buf, size_t len, const struct lt_config *cfg,
                                       const struct lt_trust *trust, char *signer,
                                       size_t signer_size, lt_err *err);

/*
 * Keeps a verified entry (raw: its record bytes) in db under key if it is
 * newer than the one there: 1 kept, 0 not newer (nothing written), -1 error.
 */
int lt_dir_keep(struct lt_txn *t, enum lt_db db, const char *key, size_t klen,
                const Lienthong__DirectoryEntry *e, const uint8_t *raw, size_t raw_len,
                lt_err *err);

/* The entry of code in the directory database; *out NULL when absent. */
int lt_dir_get(struct lt_txn *t, const char *code, Lienthong__DirectoryEntry **out, lt_err *err);

/*
 * Submission in platform mode: every code must be in the directory and not
 * withdrawn. The error names the first one that is not and what to do.
 */
int lt_dir_check_recipients(struct lt_store *store, const struct lt_config *cfg,
                            const char *const *codes, size_t n, lt_err *err);

/* The directory topic of a prefix: <prefix>.directory. */
void lt_dir_topic(const char *prefix, char *buf, size_t size);

#endif
