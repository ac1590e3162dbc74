/*
 * lt_edxml_in: an edXML document message (edxml/lt_edxml.h) made ready for
 * lienthong-upload: recognised, read, its attachments decoded into files
 * the upload submits as parts (streamed through the spool when large, like
 * any file), the original message added as the part LT_EDXML_ORIGINAL, and
 * the document a recall, update or replacement concerns found among the
 * documents this agency sent.
 *
 * Files: under a folder of the caller's (lt_edxml_in_open's dir, created
 * here), attachments as dir/p/<part name>, the original as the symbolic
 * link dir/edxml-original.xml (no copy of a large message). The caller
 * removes dir when the upload ends (lt_edxml_in_rmdir). The folders of an
 * upload live under one lt_edxml_in_tmpdir, <data_dir>/edxml-tmp.XXXXXX,
 * locked (flock) while the upload runs: the agent's start removes those no
 * running upload holds (lt_edxml_in_sweep), left by an upload killed or
 * crashed.
 *
 * Ownership: an lt_edxml_in owns its doc, paths and types
 * (lt_edxml_in_free). Not shared between threads while being filled; read
 * only afterwards.
 */
#ifndef LT_EDXML_IN_H
#define LT_EDXML_IN_H

#include <stddef.h>

#include "../config/lt_config.h"
#include "../edxml/lt_edxml.h"
#include "../errors/lt_err.h"
#include "../store/lt_store.h"

#define LT_EDXML_ORIGINAL "edxml-original.xml"
#define LT_EDXML_SNIFF_BYTES 4096

struct lt_edxml_in {
	struct lt_edxml_doc doc;
	char **files;       /* the parts' files, in order: attachments, then the original */
	const char **types; /* their media types (pointing into doc, or static) */
	size_t n_files;
	char replaces_id[LT_DOCID_LEN + 1]; /* types 1..3: the document concerned */
};

/*
 * 1 when the first LT_EDXML_SNIFF_BYTES of the file at path show a root
 * element edXML in the edXML namespace, 0 otherwise (also when it cannot be
 * read: reading it as a plain file then says why).
 */
int lt_edxml_in_sniff(const char *path);

/*
 * Reads the edXML message at path into x: its attachments decoded into
 * dir/p/, the original linked as dir/LT_EDXML_ORIGINAL (not for a recall or
 * update, which carry no parts: attachments are refused there). The sender
 * must be cfg's agency; for types 1..3 the document concerned is looked up
 * in store (lt_edxml_in_concerns). Errors name path and what to do.
 */
int lt_edxml_in_open(const struct lt_config *cfg, struct lt_store *store, const char *path,
                     const char *dir, struct lt_edxml_in *x, lt_err *err);
void lt_edxml_in_free(struct lt_edxml_in *x);

/*
 * Finds the newest document this agency sent (a new document or a
 * replacement, envelope still kept) whose meta edxml.DocumentId is
 * edxml_id; its lienthong id goes to out. LT_ENOTFOUND when there is none.
 */
int lt_edxml_in_concerns(struct lt_store *store, const char *edxml_id, char out[LT_DOCID_LEN + 1],
                         lt_err *err);

/* Removes dir and everything under it (never following links); errors ignored. */
void lt_edxml_in_rmdir(const char *dir);

/*
 * Creates <data_dir>/edxml-tmp.XXXXXX (its path into out) and locks it
 * through *lock_fd, which the caller keeps open until it removed the folder
 * (or the process ends: the kernel drops the lock).
 */
int lt_edxml_in_tmpdir(const char *data_dir, char *out, size_t size, int *lock_fd, lt_err *err);

#define LT_EDXML_IN_TMP_GRACE_S 60 /* younger folders are never swept (being created) */

/*
 * Removes the <data_dir>/edxml-tmp.* folders that no running upload locks
 * and that are older than LT_EDXML_IN_TMP_GRACE_S; *removed counts them.
 */
int lt_edxml_in_sweep(const char *data_dir, size_t *removed, lt_err *err);

#endif
