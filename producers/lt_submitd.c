#include "lt_submitd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../clock/lt_clock.h"
#include "../log/lt_log.h"
#include "../pki/lt_pki.h"
#include "../proto/lt_envelope.h"

#define LT_SUBMITD_DELAY_MS 5        /* longest wait for other submissions to join a commit */
#define LT_SUBMITD_IDLE_MS 5000      /* a client silent this long mid-request is dropped */
#define LT_SUBMITD_REQUEST_MS 60000  /* a whole request must arrive within this */
#define LT_SUBMITD_CHUNK (64u << 10) /* the body buffer grows by at least this, as bytes come */

struct lt_submitd_conn {
	int fd;
	uint8_t head[4];
	int in_body;  /* head complete: reading the body */
	size_t got;   /* bytes of head, then of body, read so far */
	uint32_t len; /* body length, once head is complete */
	uint8_t *body;
	size_t cap;                           /* bytes allocated at body: grows as bytes arrive */
	int64_t since_ms, last_ms;            /* connected; last byte read (lt_mono_ms) */
	Lienthong__Store__SubmitRequest *req; /* complete request, waiting for a commit */
};

struct lt_submitd {
	const struct lt_config *cfg;
	struct lt_store *store;
	struct lt_trust *trust;       /* ca_file: this thread's own copy */
	void (*committed)(void *ctx); /* documents were stored (may be NULL) */
	void *ctx;
	int listen_fd;
	int wake[2]; /* stop: the main thread writes a byte */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	pthread_t thread;
	dev_t sock_dev; /* the socket file as bound, to notice it removed or replaced */
	ino_t sock_ino;
	struct lt_submitd_conn conns[LT_SUBMITD_CONNS_MAX];
	size_t n_conns;
};

static int lt_submitd_path(const struct lt_config *cfg, char *buf, size_t size, lt_err *err)
{
	int n = snprintf(buf, size, "%s/submit.sock", cfg->data_dir);
	if (n < 0 || (size_t)n >= size)
		return lt_err_set(err, LT_EINVAL,
		                  "data_dir %s is too long for a UNIX socket path (%zu bytes at "
		                  "most)",
		                  cfg->data_dir, size - 14);
	return 0;
}

static void lt_submitd_close(struct lt_submitd *d, size_t i)
{
	struct lt_submitd_conn *c = &d->conns[i];
	close(c->fd);
	free(c->body);
	if (c->req != NULL)
		lienthong__store__submit_request__free_unpacked(c->req, NULL);
	d->conns[i] = d->conns[--d->n_conns];
}

static void lt_submitd_reply(int fd, int ok, const char *error)
{
	Lienthong__Store__SubmitReply r = LIENTHONG__STORE__SUBMIT_REPLY__INIT;
	uint8_t buf[1200];
	r.ok = ok;
	r.error = (char *)(error ? error : "");
	size_t n = lienthong__store__submit_reply__get_packed_size(&r);
	if (n + 4 > sizeof buf)
		return;
	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	lienthong__store__submit_reply__pack(&r, buf + 4);
	/* A client that left early loses only its answer; its documents are committed. */
	if (send(fd, buf, n + 4, MSG_NOSIGNAL) < 0)
		lt_log_debug("submission client went away before its answer");
}

/* Whether what the store will record of sd (recipients, subject) is what env says. */
static int lt_submitd_same_fields(const Lienthong__Store__SubmitDoc *sd, const Lienthong__Header *h)
{
	if (sd->n_recipients != h->n_recipients || strcmp(sd->subject, h->subject) != 0)
		return 0;
	for (size_t r = 0; r < h->n_recipients; r++) {
		if (strcmp(sd->recipients[r], h->recipients[r]) != 0)
			return 0;
	}
	return 1;
}

/*
 * Checks a request as the recipients will check its envelopes, before
 * accepting it: each envelope decodes within the limits, is signed by this
 * agency (a certificate of ca_file with CN = agency_code, valid now), and the
 * fields stored beside it (document id, digest, recipients, subject) are the
 * envelope's own.
 */
static int lt_submitd_check(const struct lt_submitd *d, const Lienthong__Store__SubmitRequest *req,
                            lt_err *err)
{
	if (req->n_docs == 0)
		return lt_err_set(err, LT_EINVAL, "empty submission");
	for (size_t i = 0; i < req->n_docs; i++) {
		const Lienthong__Store__SubmitDoc *sd = req->docs[i];
		Lienthong__Envelope *env = NULL;
		uint8_t digest[LT_DIGEST_LEN];
		int rc = lt_envelope_decode(sd->envelope.data, sd->envelope.len, d->cfg, &env, err);
		if (rc == 0 && strcmp(env->header->sender, d->cfg->agency_code) != 0)
			rc = lt_err_set(
			    err, LT_EINVAL, "document %s names sender %s, not this agency (%s)",
			    env->header->document_id, env->header->sender, d->cfg->agency_code);
		if (rc == 0 && lt_envelope_verify_sealed(env, d->trust, digest, err) != 0)
			rc = lt_err_wrap(err, "document %s", env->header->document_id);
		if (rc == 0 && (strcmp(env->header->document_id, sd->document_id) != 0 ||
		                sd->digest.len != LT_DIGEST_LEN ||
		                memcmp(sd->digest.data, digest, LT_DIGEST_LEN) != 0 ||
		                strcmp(env->header->replaces_id, sd->replaces_id) != 0 ||
		                (uint32_t)env->header->business_type != sd->business_type ||
		                !lt_submitd_same_fields(sd, env->header)))
			rc = lt_err_set(err, LT_EINVAL,
			                "submission %s: its document id, digest, recipients or "
			                "subject differ from its signed envelope",
			                sd->document_id);
		if (env != NULL)
			lienthong__envelope__free_unpacked(env, NULL);
		if (rc != 0)
			return -1;
	}
	return 0;
}

static void lt_submitd_fill(const Lienthong__Store__SubmitRequest *req, struct lt_submit_doc *out)
{
	for (size_t i = 0; i < req->n_docs; i++) {
		const Lienthong__Store__SubmitDoc *sd = req->docs[i];
		out[i] = (struct lt_submit_doc){.document_id = sd->document_id,
		                                .envelope = sd->envelope.data,
		                                .len = sd->envelope.len,
		                                .digest = sd->digest.data,
		                                .recipients = (const char *const *)sd->recipients,
		                                .n_recipients = sd->n_recipients,
		                                .subject = sd->subject,
		                                .replaces_id = sd->replaces_id,
		                                .business_type = sd->business_type,
		                                .batch_key = sd->batch_key};
	}
}

/* Commits every complete request in one transaction; answers and closes them. */
static void lt_submitd_commit(struct lt_submitd *d)
{
	size_t total = 0, ready = 0;
	for (size_t i = 0; i < d->n_conns; i++) {
		if (d->conns[i].req != NULL) {
			total += d->conns[i].req->n_docs;
			ready++;
		}
	}
	if (ready == 0)
		return;
	struct lt_submit_doc *docs = calloc(total, sizeof *docs);
	lt_err err;
	int rc = -1, alone = 0;
	if (docs != NULL) {
		size_t k = 0;
		for (size_t i = 0; i < d->n_conns; i++) {
			if (d->conns[i].req != NULL) {
				lt_submitd_fill(d->conns[i].req, docs + k);
				k += d->conns[i].req->n_docs;
			}
		}
		rc = lt_submit(d->store, docs, total, lt_now_ms(), &err);
		if (rc == 0 && d->committed != NULL)
			d->committed(d->ctx); /* the forwarder starts while the clients hear ok */
	}
	for (size_t i = d->n_conns; i-- > 0;) {
		struct lt_submitd_conn *c = &d->conns[i];
		if (c->req == NULL)
			continue;
		if (rc == 0) {
			lt_submitd_reply(c->fd, 1, NULL);
		} else if (docs != NULL && ready > 1) {
			/* One request spoiled the group: each alone, so the others go in. */
			lt_submitd_fill(c->req, docs);
			int one = lt_submit(d->store, docs, c->req->n_docs, lt_now_ms(), &err);
			alone |= one == 0;
			lt_submitd_reply(c->fd, one == 0, one == 0 ? NULL : err.msg);
		} else {
			lt_submitd_reply(c->fd, 0, docs ? err.msg : "agent out of memory");
		}
		lt_submitd_close(d, i);
	}
	if (alone && d->committed != NULL)
		d->committed(d->ctx);
	if (rc == 0)
		lt_log_debug("committed %zu document(s) of %zu submission(s) together", total,
		             ready);
	free(docs);
}

/*
 * Room for the next bytes of the body: the buffer grows with what arrived
 * (at least doubling), never beyond the length the head announced.
 */
static int lt_submitd_grow(struct lt_submitd_conn *c)
{
	if (c->got < c->cap)
		return 0;
	size_t cap =
	    c->cap * 2 > c->got + LT_SUBMITD_CHUNK ? c->cap * 2 : c->got + LT_SUBMITD_CHUNK;
	if (cap > c->len)
		cap = c->len;
	uint8_t *b = realloc(c->body, cap);
	if (b == NULL)
		return -1;
	c->body = b;
	c->cap = cap;
	return 0;
}

/* Reads what is there; returns -1 when the connection must be dropped. */
static int lt_submitd_read(struct lt_submitd *d, struct lt_submitd_conn *c)
{
	lt_err err;
	if (c->req != NULL)
		return 0;
	for (;;) {
		ssize_t n;
		if (!c->in_body) {
			n = recv(c->fd, c->head + c->got, 4 - c->got, MSG_DONTWAIT);
		} else {
			if (lt_submitd_grow(c) != 0) {
				lt_submitd_reply(c->fd, 0, "agent out of memory");
				return -1;
			}
			n = recv(c->fd, c->body + c->got, c->cap - c->got, MSG_DONTWAIT);
		}
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (n == 0)
			return -1;
		c->got += (size_t)n;
		c->last_ms = lt_mono_ms();
		if (!c->in_body && c->got == 4) {
			c->len = (uint32_t)c->head[0] << 24 | (uint32_t)c->head[1] << 16 |
			         (uint32_t)c->head[2] << 8 | c->head[3];
			if (c->len == 0 || c->len > LT_SUBMITD_FRAME_MAX) {
				lt_submitd_reply(c->fd, 0, "submission frame too large or empty");
				return -1;
			}
			c->in_body = 1;
			c->got = 0;
		} else if (c->in_body && c->got == c->len) {
			c->req = lienthong__store__submit_request__unpack(NULL, c->len, c->body);
			free(c->body);
			c->body = NULL;
			c->cap = 0;
			if (c->req == NULL) {
				lt_submitd_reply(c->fd, 0, "malformed submission");
				return -1;
			}
			if (lt_submitd_check(d, c->req, &err) != 0) {
				lt_submitd_reply(c->fd, 0, err.msg);
				return -1;
			}
			return 0;
		}
	}
}

/*
 * Whether to commit now: yes when every open connection has its request
 * complete, or when the oldest complete request has waited LT_SUBMITD_DELAY_MS
 * for the others still arriving (a group commit worth a few milliseconds).
 * *wait_ms receives how long poll may wait before deciding again.
 */
static int lt_submitd_due(const struct lt_submitd *d, int64_t *first_ready_ms, int *wait_ms)
{
	size_t ready = 0;
	for (size_t i = 0; i < d->n_conns; i++)
		ready += d->conns[i].req != NULL;
	*wait_ms = -1;
	if (ready == 0) {
		*first_ready_ms = 0;
		return 0;
	}
	int64_t now = lt_mono_ms();
	if (*first_ready_ms == 0)
		*first_ready_ms = now;
	int64_t left = *first_ready_ms + LT_SUBMITD_DELAY_MS - now;
	if (ready == d->n_conns || left <= 0) {
		*first_ready_ms = 0;
		return 1;
	}
	*wait_ms = (int)left;
	return 0;
}

/*
 * Drops connections whose request stalls: silent for LT_SUBMITD_IDLE_MS, or
 * not complete LT_SUBMITD_REQUEST_MS after connecting. Called right after
 * what poll found readable was read: a client whose bytes waited in its
 * socket while this thread was busy (a commit held up by a slow disk) was
 * not silent. Returns how long poll may wait before the next one is due
 * (-1: none).
 */
static int lt_submitd_expire(struct lt_submitd *d, int64_t now)
{
	int64_t next = -1;
	for (size_t i = d->n_conns; i-- > 0;) {
		const struct lt_submitd_conn *c = &d->conns[i];
		if (c->req != NULL)
			continue; /* complete: waits for the commit */
		int64_t idle = c->last_ms + LT_SUBMITD_IDLE_MS,
		        whole = c->since_ms + LT_SUBMITD_REQUEST_MS;
		int64_t due = idle < whole ? idle : whole;
		if (now >= due) {
			lt_log_warn("submission client dropped: %s (%zu of %s bytes received)",
			            now >= whole ? "request not complete within 60 s"
			                         : "silent for 5 s in the middle of a request",
			            c->got, c->in_body ? "the announced" : "4 header");
			lt_submitd_reply(c->fd, 0,
			                 "submission timed out: send the whole request at once");
			lt_submitd_close(d, i);
		} else if (next < 0 || due - now < next) {
			next = due - now;
		}
	}
	return (int)next;
}

static void *lt_submitd_main(void *arg)
{
	struct lt_submitd *d = arg;
	struct pollfd pfd[LT_SUBMITD_CONNS_MAX + 2];
	int64_t first_ready_ms = 0;
	int wait_ms = -1;
	for (;;) {
		pfd[0] = (struct pollfd){.fd = d->wake[0], .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = d->listen_fd, .events = POLLIN};
		for (size_t i = 0; i < d->n_conns; i++)
			pfd[2 + i] = (struct pollfd){.fd = d->conns[i].fd, .events = POLLIN};
		if (poll(pfd, 2 + d->n_conns, wait_ms) < 0) {
			/* Only a kernel out of resources fails poll: wait, never stop serving. */
			if (errno != EINTR) {
				lt_log_warn("submission service: poll: %s; retrying",
				            strerror(errno));
				usleep(100000);
			}
			continue;
		}
		if (pfd[0].revents)
			break;
		for (size_t i = d->n_conns; i-- > 0;) {
			if (pfd[2 + i].revents && lt_submitd_read(d, &d->conns[i]) != 0)
				lt_submitd_close(d, i);
		}
		/* Stalled clients are judged after their waiting bytes were read (above),
		 * and before a new connection takes a slot. */
		int expire_ms = lt_submitd_expire(d, lt_mono_ms());
		if (pfd[1].revents & POLLIN) {
			int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd >= 0 && d->n_conns == LT_SUBMITD_CONNS_MAX) {
				lt_submitd_reply(fd, 0, "agent busy: too many submissions at once");
				close(fd);
			} else if (fd >= 0) {
				int64_t now = lt_mono_ms();
				d->conns[d->n_conns++] = (struct lt_submitd_conn){
				    .fd = fd, .since_ms = now, .last_ms = now};
				if (expire_ms < 0 || expire_ms > LT_SUBMITD_IDLE_MS)
					expire_ms = LT_SUBMITD_IDLE_MS;
			}
		}
		/* What is complete is committed together, once the rest arrived or waited enough.
		 */
		if (lt_submitd_due(d, &first_ready_ms, &wait_ms))
			lt_submitd_commit(d);
		if (expire_ms >= 0 && (wait_ms < 0 || expire_ms < wait_ms))
			wait_ms = expire_ms + 1;
	}
	return NULL;
}

struct lt_submitd *lt_submitd_start(const struct lt_config *cfg, struct lt_store *store,
                                    void (*committed)(void *ctx), void *ctx, lt_err *err)
{
	struct lt_submitd *d = calloc(1, sizeof *d);
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (d == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		return NULL;
	}
	d->cfg = cfg;
	d->store = store;
	d->committed = committed;
	d->ctx = ctx;
	d->listen_fd = d->wake[0] = d->wake[1] = -1;
	if (lt_submitd_path(cfg, d->path, sizeof d->path, err) != 0 ||
	    (d->trust = lt_trust_load(cfg->ca_file, err)) == NULL)
		goto fail;
	memcpy(addr.sun_path, d->path, sizeof d->path);
	unlink(d->path); /* a socket left by an agent that was killed */
	d->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	mode_t old = umask(0077);
	int brc = d->listen_fd < 0 ? -1 : bind(d->listen_fd, (struct sockaddr *)&addr, sizeof addr);
	umask(old);
	if (brc != 0 || listen(d->listen_fd, LT_SUBMITD_CONNS_MAX) != 0 ||
	    pipe2(d->wake, O_CLOEXEC) != 0) {
		lt_err_errno(err, errno, "cannot listen on %s", d->path);
		goto fail;
	}
	struct stat st;
	if (stat(d->path, &st) != 0) {
		lt_err_errno(err, errno, "cannot stat %s", d->path);
		goto fail;
	}
	d->sock_dev = st.st_dev;
	d->sock_ino = st.st_ino;
	if (pthread_create(&d->thread, NULL, lt_submitd_main, d) != 0) {
		lt_err_set(err, LT_EIO, "cannot start the submission thread");
		goto fail;
	}
	return d;
fail:
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		unlink(d->path);
	}
	if (d->wake[0] >= 0) {
		close(d->wake[0]);
		close(d->wake[1]);
	}
	lt_trust_free(d->trust);
	free(d);
	return NULL;
}

int lt_submitd_alive(const struct lt_submitd *d, lt_err *err)
{
	struct stat st;
	if (stat(d->path, &st) != 0)
		return lt_err_errno(err, errno, "submission socket %s is gone", d->path);
	if (st.st_dev != d->sock_dev || st.st_ino != d->sock_ino || !S_ISSOCK(st.st_mode))
		return lt_err_set(err, LT_EIO, "submission socket %s was replaced by another file",
		                  d->path);
	return 0;
}

void lt_submitd_stop(struct lt_submitd *d)
{
	if (d == NULL)
		return;
	if (write(d->wake[1], "x", 1) != 1)
		lt_log_warn("cannot wake the submission thread");
	pthread_join(d->thread, NULL);
	while (d->n_conns > 0)
		lt_submitd_close(d, d->n_conns - 1);
	close(d->listen_fd);
	unlink(d->path);
	close(d->wake[0]);
	close(d->wake[1]);
	lt_trust_free(d->trust);
	free(d);
}

static int lt_submitd_io(int fd, void *buf, size_t len, int sending)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = sending ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int lt_submitd_send(const struct lt_config *cfg, const struct lt_submit_doc *docs, size_t n,
                    lt_err *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	Lienthong__Store__SubmitRequest req = LIENTHONG__STORE__SUBMIT_REQUEST__INIT;
	Lienthong__Store__SubmitDoc *sd = calloc(n, sizeof *sd);
	Lienthong__Store__SubmitDoc **sdp = calloc(n, sizeof *sdp);
	uint8_t *frame = NULL, head[4], *reply = NULL;
	int fd = -1, rc = -1;
	if (sd == NULL || sdp == NULL) {
		lt_err_set(err, LT_EIO, "out of memory");
		goto out;
	}
	if (lt_submitd_path(cfg, addr.sun_path, sizeof addr.sun_path, err) != 0) {
		err->code = LT_ENOTFOUND;
		goto out;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
		lt_err_set(err, LT_ENOTFOUND, "no agent listens on %s", addr.sun_path);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		lienthong__store__submit_doc__init(&sd[i]);
		sd[i].document_id = (char *)docs[i].document_id;
		sd[i].envelope.data = (uint8_t *)docs[i].envelope;
		sd[i].envelope.len = docs[i].len;
		sd[i].digest.data = (uint8_t *)docs[i].digest;
		sd[i].digest.len = LT_DIGEST_LEN;
		sd[i].recipients = (char **)docs[i].recipients;
		sd[i].n_recipients = docs[i].n_recipients;
		sd[i].subject = (char *)(docs[i].subject ? docs[i].subject : "");
		sd[i].replaces_id = (char *)(docs[i].replaces_id ? docs[i].replaces_id : "");
		sd[i].business_type = docs[i].business_type;
		sd[i].batch_key = (char *)(docs[i].batch_key ? docs[i].batch_key : "");
		sdp[i] = &sd[i];
	}
	req.docs = sdp;
	req.n_docs = n;
	size_t len = lienthong__store__submit_request__get_packed_size(&req);
	if (len > LT_SUBMITD_FRAME_MAX || (frame = malloc(len + 4)) == NULL) {
		lt_err_set(err, LT_EINVAL, "submission of %zu bytes is too large for one frame",
		           len);
		goto out;
	}
	frame[0] = (uint8_t)(len >> 24);
	frame[1] = (uint8_t)(len >> 16);
	frame[2] = (uint8_t)(len >> 8);
	frame[3] = (uint8_t)len;
	lienthong__store__submit_request__pack(&req, frame + 4);
	uint32_t rlen;
	if (lt_submitd_io(fd, frame, len + 4, 1) != 0 || lt_submitd_io(fd, head, 4, 0) != 0 ||
	    (rlen = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 |
	            head[3]) > 4096 ||
	    (reply = malloc(rlen ? rlen : 1)) == NULL || lt_submitd_io(fd, reply, rlen, 0) != 0) {
		lt_err_set(err, LT_EAGAIN, "the agent went away during the submission");
		goto out;
	}
	Lienthong__Store__SubmitReply *r =
	    lienthong__store__submit_reply__unpack(NULL, rlen, reply);
	if (r == NULL) {
		lt_err_set(err, LT_EAGAIN, "the agent answered something unreadable");
	} else {
		if (r->ok)
			rc = 0;
		else
			lt_err_set(err, LT_EINVAL, "the agent refused the submission: %s",
			           r->error);
		lienthong__store__submit_reply__free_unpacked(r, NULL);
	}
out:
	if (fd >= 0)
		close(fd);
	free(reply);
	free(frame);
	free(sdp);
	free(sd);
	return rc;
}
