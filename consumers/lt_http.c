#include "lt_http.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../clock/lt_clock.h"

#define LT_HTTP_ANSWER_MAX 512 /* bytes of the target's answer kept for messages */

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
		json_object_set_new(po, "size", json_integer((json_int_t)p->data.len));
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
	json_object_set_new(o, "expires_at", hd->expires_at_ms ? json_string(expires) : json_null());
	json_object_set_new(o, "replaces_id", json_string(hd->replaces_id));
	json_object_set_new(o, "parts", parts);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

int lt_http_deliver(struct lt_http *h, const Lienthong__Envelope *env, lt_err *err)
{
	const struct lt_config *cfg = h->cfg;
	CURL *c = h->curl;
	curl_mime *mime = NULL;
	struct curl_slist *headers = NULL;
	char *meta = lt_http_metadata(env);
	char idem[80], curl_err[CURL_ERROR_SIZE] = "";
	int rc = -1;

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
		curl_mime_filename(mp, p->name);
		curl_mime_type(mp, p->media_type);
		curl_mime_data(mp, (const char *)p->data.data, p->data.len);
	}
	snprintf(idem, sizeof idem, "Idempotency-Key: %s", env->header->document_id);
	headers = curl_slist_append(headers, idem);
	headers = curl_slist_append(headers, "Expect:");
	h->answer_len = 0;
	h->answer[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, cfg->target_url);
	curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
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
	lt_err_set(err, permanent ? LT_EINVAL : LT_EIO, "HTTP target %s answered %ld%s%.200s",
		   cfg->target_url, status, h->answer_len ? ": " : "", h->answer);
out:
	curl_slist_free_all(headers);
	curl_mime_free(mime);
	free(meta);
	return rc;
}
