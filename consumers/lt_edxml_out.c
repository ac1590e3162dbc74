#include "lt_edxml_out.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../edxml/lt_edxml.h"
#include "../proto/lt_receipt.h"
#include "../store/lt_store.h"

void lt_edxml_out_docid(const char *sender, const char *id, char *out, size_t size)
{
	/* A UUIDv7 starts with its time in milliseconds: 48 bits, 12 hex digits. */
	char hex[13], ts[20] = "1970/01/01 00:00:00";
	if (strlen(id) >= 13) {
		memcpy(hex, id, 8);
		memcpy(hex + 8, id + 9, 4);
		hex[12] = '\0';
		lt_edxml_timestamp((int64_t)strtoll(hex, NULL, 16), ts);
	}
	snprintf(out, size, "%s,%.10s,%s", sender, ts, id);
}

static const char *lt_edxml_out_meta(const Lienthong__Header *h, const char *key)
{
	for (size_t i = 0; i < h->n_meta; i++) {
		if (strcmp(h->meta[i]->key, key) == 0)
			return h->meta[i]->value;
	}
	return NULL;
}

int lt_edxml_out_write(int out_fd, const Lienthong__Envelope *env, const char *staging, lt_err *err)
{
	const Lienthong__Header *h = env->header;
	Lienthong__Header hc = *h;
	Lienthong__Meta extra[2], **meta = calloc(h->n_meta + 2, sizeof *meta);
	struct lt_edxml_part_src *src = calloc(env->n_parts ? env->n_parts : 1, sizeof *src);
	char own_id[256], concerns[256];
	int rc = -1;
	if (meta == NULL || src == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < env->n_parts; i++)
		src[i].fd = -1;
	if (h->n_meta > 0)
		memcpy(meta, h->meta, h->n_meta * sizeof *meta);
	hc.meta = meta;
	if (lt_edxml_out_meta(h, "edxml.DocumentId") == NULL) {
		lt_edxml_out_docid(h->sender, h->document_id, own_id, sizeof own_id);
		lienthong__meta__init(&extra[0]);
		extra[0].key = "edxml.DocumentId";
		extra[0].value = own_id;
		meta[hc.n_meta++] = &extra[0];
	}
	if (h->business_type != LIENTHONG__BUSINESS_TYPE__BUSINESS_NEW &&
	    lt_edxml_out_meta(h, "edxml.Bussiness.DocumentId") == NULL) {
		lt_edxml_out_docid(h->sender, h->replaces_id, concerns, sizeof concerns);
		lienthong__meta__init(&extra[1]);
		extra[1].key = "edxml.Bussiness.DocumentId";
		extra[1].value = concerns;
		meta[hc.n_meta++] = &extra[1];
	}
	for (size_t i = 0; i < env->n_parts; i++) {
		const Lienthong__Part *p = env->parts[i];
		src[i] = (struct lt_edxml_part_src){
		    .name = p->name, .media_type = p->media_type, .fd = -1};
		if (p->chunk_bytes == 0) {
			src[i].data = p->data.data ? p->data.data : (const uint8_t *)"";
			src[i].len = p->data.len;
			continue;
		}
		char file[PATH_MAX];
		snprintf(file, sizeof file, "%s/%zu", staging ? staging : ".", i);
		if (staging == NULL ||
		    (src[i].fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			lt_err_errno(err, staging ? errno : ENOENT, "cannot open staged part %s",
			             file);
			goto out;
		}
	}
	rc = lt_edxml_write(out_fd, &hc, src, env->n_parts, err);
out:
	for (size_t i = 0; src != NULL && i < env->n_parts; i++) {
		if (src[i].fd >= 0)
			close(src[i].fd);
	}
	free(src);
	free(meta);
	return rc;
}

/* The edXML DocumentId of document id sent by this agency: its meta, or the one lienthong gives. */
static void lt_edxml_out_sent_docid(struct lt_txn *t, const char *sender, const char *id, char *out,
                                    size_t size)
{
	const void *v = NULL;
	size_t vlen = 0;
	lt_err err;
	lt_edxml_out_docid(sender, id, out, size);
	if (lt_txn_get(t, LT_DB_DOCS, id, strlen(id), &v, &vlen, &err) != 0 || v == NULL)
		return; /* past retention_sent_body_s: the envelope is gone */
	Lienthong__Envelope *env = lienthong__envelope__unpack(NULL, vlen, v);
	const char *kept =
	    env && env->header ? lt_edxml_out_meta(env->header, "edxml.DocumentId") : NULL;
	if (kept != NULL)
		snprintf(out, size, "%s", kept);
	lienthong__envelope__free_unpacked(env, NULL);
}

int lt_edxml_out_status(const char *dir, struct lt_txn *t, const Lienthong__Receipt *r, lt_err *err)
{
	char name[NAME_MAX + 1], tmp[NAME_MAX + 8], docid[1024], ts[20],
	    desc[2 * LT_REASON_MAX + 8];
	if (snprintf(name, sizeof name, "%s.%s.%s.edxml", r->document_id, r->recipient,
	             r->business_code) >= (int)sizeof name)
		return lt_err_set(err, LT_EINVAL, "status message name too long");
	snprintf(tmp, sizeof tmp, ".tmp-%s", name);
	lt_edxml_out_sent_docid(t, r->sender, r->document_id, docid, sizeof docid);
	snprintf(desc, sizeof desc, "%s%s%s", r->comment, r->comment[0] && r->reason[0] ? "; " : "",
	         r->reason);
	struct lt_edxml_status st = {
	    .from = {.organ_id = r->recipient},
	    .rf_organ_id = r->sender,
	    .rf_document_id = docid,
	    .staff = r->reported_by[0] ? r->reported_by : NULL,
	    .description = desc[0] ? desc : NULL,
	    .timestamp = lt_edxml_timestamp(r->time_ms, ts),
	};
	snprintf(st.code, sizeof st.code, "%s", r->business_code);
	if (mkdir(dir, 0750) != 0 && errno != EEXIST)
		return lt_err_errno(err, errno, "cannot create status_dir %s", dir);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return lt_err_errno(err, errno, "cannot open status_dir %s", dir);
	int rc = -1,
	    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0)
		lt_err_errno(err, errno, "cannot create %s/%s", dir, tmp);
	else if (lt_edxml_status_write(fd, &st, err) != 0)
		lt_err_wrap(err, "%s/%s", dir, name);
	else if (fsync(fd) != 0)
		lt_err_errno(err, errno, "cannot fsync %s/%s", dir, tmp);
	else
		rc = 0;
	if (fd >= 0 && close(fd) != 0 && rc == 0)
		rc = lt_err_errno(err, errno, "cannot close %s/%s", dir, tmp);
	if (rc == 0 && renameat(dfd, tmp, dfd, name) != 0)
		rc = lt_err_errno(err, errno, "cannot rename %s/%s", dir, tmp);
	if (rc == 0 && fsync(dfd) != 0)
		rc = lt_err_errno(err, errno, "cannot fsync %s", dir);
	if (rc != 0)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	return rc;
}
