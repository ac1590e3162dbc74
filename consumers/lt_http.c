#include "lt_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../clock/lt_clock.h"
#include "lt_edxml_out.h"

#define LT_HTTP_ANSWER_MAX 512   /* bytes of the target's answer kept for messages */
#define LT_HTTP_ANSWER_SHOWN 200 /* bytes of it quoted in an error message */

struct lt_http {
	const struct lt_config *cfg;
	CURL *curl;
	char answer[LT_HTTP_ANSWER_MAX + 1];
	size_t answer_len;
};

static size_t lt_http_on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct lt_http *h = userdata;
	size_t n = size * nmemb;
	size_t room = LT_HTTP_ANSWER_MAX - h->answer_len;
	size_t take = n < room ? n : room;
	memcpy(h->answer + h->answer_len, ptr, take);
	h->answer_len += take;
	h->answer[h->answer_len] = '\0';
	return n; /* the rest is read and ignored: answers are bounded here */
}

struct lt_http *lt_http_new(const struct lt_config *cfg, lt_err *err)
{
	struct lt_http *h = calloc(1, sizeof *h);
	if (h == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		return NULL;
	}
	h->cfg = cfg;
	h->curl = curl_easy_init();
	if (h->curl == NULL) {
		free(h);
		lt_err_set(err, LT_EIO, "cannot initialise libcurl");
		return NULL;
	}
	return h;
}

void lt_http_free(struct lt_http *h)
{
	if (h == NULL)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

/* Length (1..4) of the well-formed UTF-8 character at p[0..n), 0 if malformed or cut. */
static size_t lt_http_utf8_char(const unsigned char *p, size_t n)
{
	size_t len;
	uint32_t cp;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/*
 * The target's answer, as quoted in logs, the status and the signed receipt:
 * one line of well-formed UTF-8 of at most LT_HTTP_ANSWER_SHOWN bytes, cut on
 * a character boundary. Control characters become spaces, malformed bytes '?'.
 */
static void lt_http_answer_text(const struct lt_http *h, char *out, size_t size)
{
	const unsigned char *in = (const unsigned char *)h->answer;
	size_t o = 0, i = 0, max = size - 1;
	while (i < h->answer_len) {
		size_t len = lt_http_utf8_char(in + i, h->answer_len - i);
		if (o + (len > 1 ? len : 1) > max)
			break;
		if (len > 1) {
			memcpy(out + o, in + i, len);
			o += len;
			i += len;
			continue;
		}
		out[o++] = len == 0 ? '?' : in[i] < 0x20 || in[i] == 0x7f ? ' ' : (char)in[i];
		i++;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

static void lt_http_hex(const uint8_t *b, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static char *lt_http_metadata(const Lienthong__Envelope *env)
{
	const Lienthong__Header *hd = env->header;
	char created[LT_TIME_TEXT], expires[LT_TIME_TEXT];
	json_t *o = json_object(), *rcpt = json_array(), *parts = json_array();
	for (size_t i = 0; i < hd->n_recipients; i++)
		json_array_append_new(rcpt, json_string(hd->recipients[i]));
	for (size_t i = 0; i < env->n_parts; i++) {
		const Lienthong__Part *p = env->parts[i];
		char sha[65];
		lt_http_hex(p->sha256.data, p->sha256.len < 32 ? p->sha256.len : 32, sha);
		json_t *po = json_object();
		json_object_set_new(po, "name", json_string(p->name));
		json_object_set_new(po, "media_type", json_string(p->media_type));
		json_object_set_new(
		    po, "size",
		    json_integer((json_int_t)(p->chunk_bytes > 0 ? p->size : p->data.len)));
		json_object_set_new(po, "sha256", json_string(sha));
		json_array_append_new(parts, po);
	}
	lt_time_format(hd->created_at_ms, created, sizeof created);
	lt_time_format(hd->expires_at_ms, expires, sizeof expires);
	json_object_set_new(o, "document_id", json_string(hd->document_id));
	json_object_set_new(o, "sender", json_string(hd->sender));
	json_object_set_new(o, "recipients", rcpt);
	json_object_set_new(o, "subject", json_string(hd->subject));
	json_object_set_new(o, "document_number", json_string(hd->document_number));
	json_object_set_new(o, "created_at", json_string(created));
	json_object_set_new(o, "expires_at",
	                    hd->expires_at_ms ? json_string(expires) : json_null());
	json_object_set_new(o, "replaces_id", json_string(hd->replaces_id));
	json_object_set_new(
	    o, "business_type",
	    json_string(hd->business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_REPLACE ? "replace"
	                                                                                : "new"));
	json_object_set_new(o, "parts", parts);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/*
 * Sends the request set up on h->curl (body and its headers) to target_url
 * with the common options, and reads the outcome as lt_http.h says.
 */
static int lt_http_perform(struct lt_http *h, struct curl_slist *headers, lt_err *err)
{
	const struct lt_config *cfg = h->cfg;
	CURL *c = h->curl;
	char curl_err[CURL_ERROR_SIZE] = "";
	int rc = -1;
	h->answer_len = 0;
	h->answer[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, cfg->target_url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cfg->target_timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->target_timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, lt_http_on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "lienthong-agent");
	if (cfg->target_ca_file[0] != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, cfg->target_ca_file);
	if (cfg->target_cert_file[0] != '\0')
		curl_easy_setopt(c, CURLOPT_SSLCERT, cfg->target_cert_file);
	if (cfg->target_key_file[0] != '\0')
		curl_easy_setopt(c, CURLOPT_SSLKEY, cfg->target_key_file);

	CURLcode cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		lt_err_set(err, LT_EIO, "HTTP target %s: %s", cfg->target_url,
		           curl_err[0] ? curl_err : curl_easy_strerror(cc));
		goto out;
	}
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300) {
		rc = 0;
		goto out;
	}
	int permanent = status >= 400 && status < 500 && status != 408 && status != 429;
	char shown[LT_HTTP_ANSWER_SHOWN + 1];
	lt_http_answer_text(h, shown, sizeof shown);
	lt_err_set(err, permanent ? LT_EINVAL : LT_EIO, "HTTP target %s answered %ld%s%s",
	           cfg->target_url, status, shown[0] ? ": " : "", shown);
out:
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL); /* curl_err lives on this stack only */
	return rc;
}

int lt_http_deliver(struct lt_http *h, const Lienthong__Envelope *env, lt_err *err)
{
	return lt_http_deliver_staged(h, env, NULL, err);
}

int lt_http_deliver_staged(struct lt_http *h, const Lienthong__Envelope *env, const char *staging,
                           lt_err *err)
{
	CURL *c = h->curl;
	curl_mime *mime = NULL;
	struct curl_slist *headers = NULL;
	char *meta = lt_http_metadata(env);
	char idem[160];

	if (meta == NULL)
		return lt_err_set(err, LT_EIO, "out of memory for the metadata of %s",
		                  env->header->document_id);
	curl_easy_reset(c);
	mime = curl_mime_init(c);
	curl_mimepart *mp = curl_mime_addpart(mime);
	curl_mime_name(mp, "metadata");
	curl_mime_type(mp, "application/json");
	curl_mime_data(mp, meta, CURL_ZERO_TERMINATED);
	for (size_t i = 0; i < env->n_parts; i++) {
		const Lienthong__Part *p = env->parts[i];
		mp = curl_mime_addpart(mime);
		curl_mime_name(mp, "part");
		curl_mime_type(mp, p->media_type);
		if (p->chunk_bytes > 0) {
			/* Streamed from the staged file, never held in memory. */
			char file[PATH_MAX];
			if (snprintf(file, sizeof file, "%s/%zu", staging, i) >= (int)sizeof file ||
			    curl_mime_filedata(mp, file) != CURLE_OK) {
				curl_mime_free(mime);
				free(meta);
				return lt_err_set(err, LT_EIO, "cannot read staged part %s", file);
			}
		} else {
			curl_mime_data(mp, (const char *)p->data.data, p->data.len);
		}
		curl_mime_filename(mp, p->name);
	}
	snprintf(idem, sizeof idem, "Idempotency-Key: %s/%s", env->header->sender,
	         env->header->document_id);
	headers = curl_slist_append(headers, idem);
	headers = curl_slist_append(headers, "Expect:");
	curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
	int rc = lt_http_perform(h, headers, err);
	curl_slist_free_all(headers);
	curl_mime_free(mime);
	free(meta);
	return rc;
}

int lt_http_deliver_edxml(struct lt_http *h, const Lienthong__Envelope *env, const char *staging,
                          lt_err *err)
{
	CURL *c = h->curl;
	struct curl_slist *headers = NULL;
	char tmp[PATH_MAX], idem[160];
	struct stat st;
	snprintf(tmp, sizeof tmp, "%s/.edxml-post.XXXXXX", h->cfg->data_dir);
	int fd = mkstemp(tmp);
	if (fd < 0)
		return lt_err_errno(err, errno, "cannot create a temporary file in %s",
		                    h->cfg->data_dir);
	unlink(tmp);
	FILE *f = NULL;
	int rc = -1;
	if (lt_edxml_out_write(fd, env, staging, err) != 0) {
		lt_err_wrap(err, "edXML of %s", env->header->document_id);
	} else if (fstat(fd, &st) != 0 || lseek(fd, 0, SEEK_SET) != 0 ||
	           (f = fdopen(fd, "rb")) == NULL) {
		lt_err_errno(err, errno, "cannot read back the edXML of %s",
		             env->header->document_id);
	} else {
		fd = -1; /* f owns it */
		curl_easy_reset(c);
		snprintf(idem, sizeof idem, "Idempotency-Key: %s/%s", env->header->sender,
		         env->header->document_id);
		headers = curl_slist_append(headers, idem);
		headers = curl_slist_append(headers, "Content-Type: application/xml");
		headers = curl_slist_append(headers, "Expect:");
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READDATA, f);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st.st_size);
		rc = lt_http_perform(h, headers, err);
		curl_slist_free_all(headers);
	}
	if (f != NULL)
		fclose(f);
	if (fd >= 0)
		close(fd);
	return rc;
}

int lt_http_control(struct lt_http *h, const char *sender, const char *doc_id, const char *name,
                    const char *text, lt_err *err)
{
	CURL *c = h->curl;
	struct curl_slist *headers = NULL;
	char idem[200];
	curl_easy_reset(c);
	snprintf(idem, sizeof idem, "Idempotency-Key: %s/%s/%s", sender, doc_id, name);
	headers = curl_slist_append(headers, idem);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Expect:");
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
	int rc = lt_http_perform(h, headers, err);
	curl_slist_free_all(headers);
	return rc;
}
