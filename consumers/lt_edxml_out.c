#include "lt_edxml_out.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../edxml/lt_edxml.h"

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

int lt_edxml_out_write(int out_fd, const Lienthong__Envelope *env, const char *staging,
                       lt_err *err)
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
		if (staging == NULL || (src[i].fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			lt_err_errno(err, staging ? errno : ENOENT, "cannot open staged part %s", file);
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
