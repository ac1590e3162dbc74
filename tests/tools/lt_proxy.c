/*
 * lt-proxy: a loopback TCP proxy for fault tests, whose link can be cut (drop)
 * or silenced (blackhole) while it runs.
 *
 *   lt-proxy --listen PORT --target PORT --control FILE
 *
 * Listens on 127.0.0.1:LISTEN and forwards every accepted connection to
 * 127.0.0.1:TARGET, both ways. Every 100 ms it re-reads FILE, whose first word
 * sets the mode:
 *
 *   up         forward normally (also when FILE does not exist)
 *   drop       reset (RST) every open connection, and reset new connections
 *              right after accepting them
 *   blackhole  keep connections open and accept new ones, but move no bytes in
 *              either direction; buffered data flows again once the mode is up
 *
 * An empty FILE (as seen half-way through `echo drop >FILE`) keeps the current
 * mode; an unknown word is reported once and keeps it too.
 *
 * One thread, one poll() loop, non-blocking sockets, a 64 KiB buffer per
 * direction per connection (a side is not read while its buffer is full), at
 * most 512 connections (more are closed right after accept). When one side
 * sends EOF, what is buffered is written to the other side and then its write
 * half is shut down. Logs one line per event to stderr; exits 0 on SIGTERM or
 * SIGINT after closing every socket. Standalone: does not link the project
 * library. For tests only; never installed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define LT_PROXY_BUF (64 * 1024)
#define LT_PROXY_MAX_CONNS 512
#define LT_PROXY_TICK_MS 100
#define LT_PROXY_NPFD (1 + 2 * LT_PROXY_MAX_CONNS)
#define LT_PROXY_SPARE_FDS 16

enum lt_proxy_mode { LT_PROXY_UP, LT_PROXY_DROP, LT_PROXY_BLACKHOLE };

static const char *const lt_proxy_mode_names[] = {"up", "drop", "blackhole"};
static const char *const lt_proxy_side_names[] = {"client", "target"};

struct lt_proxy_buf {
	char *data;
	size_t off, len; /* pending bytes are data[off, off + len) */
};

/*
 * Side 0 is the accepted client, side 1 the connection to the target.
 * buf[i] holds bytes read from fd[i] not yet written to fd[1 - i].
 */
struct lt_proxy_conn {
	bool used;
	bool connecting; /* fd[1]: non-blocking connect in progress */
	bool eof[2];     /* fd[i] returned EOF */
	bool shut[2];    /* fd[i]: write half shut down */
	int fd[2];
	struct lt_proxy_buf buf[2];
	uint64_t fwd[2]; /* bytes read from fd[i] and written to fd[1 - i] */
	unsigned long id;
};

static struct lt_proxy_conn lt_proxy_conns[LT_PROXY_MAX_CONNS];
static struct pollfd lt_proxy_pfds[LT_PROXY_NPFD];
static int lt_proxy_nconns;
static int lt_proxy_max_conns = LT_PROXY_MAX_CONNS;
static unsigned long lt_proxy_next_id = 1;
static int lt_proxy_target_port;
static volatile sig_atomic_t lt_proxy_signal;

static void lt_proxy_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void lt_proxy_log(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "lt-proxy: %s\n", line);
}

static void lt_proxy_on_signal(int sig)
{
	lt_proxy_signal = sig;
}

static int64_t lt_proxy_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool lt_proxy_again(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

static int lt_proxy_parse_port(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 65535) {
		fprintf(stderr, "lt-proxy: --%s %s is not a TCP port (1-65535)\n", opt, s);
		return -1;
	}
	return (int)v;
}

static struct sockaddr_in lt_proxy_addr(int port)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

/* Closes fd; with reset, aborts the connection with an RST (SO_LINGER 0). */
static void lt_proxy_close_fd(int fd, bool reset)
{
	if (fd < 0)
		return;
	if (reset) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	}
	close(fd);
}

static void lt_proxy_conn_close(struct lt_proxy_conn *c, bool reset, const char *why)
{
	lt_proxy_close_fd(c->fd[0], reset);
	lt_proxy_close_fd(c->fd[1], reset);
	free(c->buf[0].data);
	free(c->buf[1].data);
	lt_proxy_nconns--;
	lt_proxy_log("connection %lu %s (%s): %" PRIu64 " bytes to target, %" PRIu64
	             " bytes to client; %d open",
	             c->id, reset ? "reset" : "closed", why, c->fwd[0], c->fwd[1], lt_proxy_nconns);
	memset(c, 0, sizeof *c);
	c->fd[0] = c->fd[1] = -1;
}

/* Resets both sides after a socket error on side i. */
static void lt_proxy_conn_fail(struct lt_proxy_conn *c, int i, const char *what, int err)
{
	char why[160];
	snprintf(why, sizeof why, "%s %s: %s", lt_proxy_side_names[i], what, strerror(err));
	lt_proxy_conn_close(c, true, why);
}

static void lt_proxy_set_nodelay(int fd)
{
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/*
 * Takes over the accepted socket cfd and starts connecting to the target.
 * Called with fewer than lt_proxy_max_conns connections open, so one of the
 * first lt_proxy_max_conns slots (the ones polled) is free.
 */
static void lt_proxy_conn_open(int cfd)
{
	struct lt_proxy_conn *c = NULL;
	for (int k = 0; k < lt_proxy_max_conns && c == NULL; k++)
		if (!lt_proxy_conns[k].used)
			c = &lt_proxy_conns[k];
	char *b0 = malloc(LT_PROXY_BUF), *b1 = malloc(LT_PROXY_BUF);
	if (c == NULL || b0 == NULL || b1 == NULL) {
		lt_proxy_log("connection refused: %s",
		             c == NULL ? "no free slot" : "out of memory");
		free(b0);
		free(b1);
		lt_proxy_close_fd(cfd, true);
		return;
	}
	int tfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	bool connecting = false;
	if (tfd >= 0) {
		struct sockaddr_in sa = lt_proxy_addr(lt_proxy_target_port);
		if (connect(tfd, (struct sockaddr *)&sa, sizeof sa) == 0)
			connecting = false;
		else if (errno == EINPROGRESS)
			connecting = true;
		else {
			int err = errno;
			close(tfd);
			tfd = -1;
			errno = err;
		}
	}
	if (tfd < 0) {
		lt_proxy_log("connection refused: cannot connect to 127.0.0.1:%d: %s",
		             lt_proxy_target_port, strerror(errno));
		free(b0);
		free(b1);
		lt_proxy_close_fd(cfd, true);
		return;
	}
	lt_proxy_set_nodelay(cfd);
	lt_proxy_set_nodelay(tfd);
	memset(c, 0, sizeof *c);
	c->used = true;
	c->connecting = connecting;
	c->fd[0] = cfd;
	c->fd[1] = tfd;
	c->buf[0].data = b0;
	c->buf[1].data = b1;
	c->id = lt_proxy_next_id++;
	lt_proxy_nconns++;
	lt_proxy_log("connection %lu opened; %d open", c->id, lt_proxy_nconns);
}

/* Accepts what is pending on the listening socket lfd. */
static void lt_proxy_accept(int lfd, enum lt_proxy_mode mode, bool *paused)
{
	for (int k = 0; k < 64; k++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (lt_proxy_again(errno))
				return;
			if (errno == ECONNABORTED)
				continue;
			lt_proxy_log("accept failed: %s; pausing accepts for %d ms",
			             strerror(errno), LT_PROXY_TICK_MS);
			*paused = true;
			return;
		}
		if (mode == LT_PROXY_DROP) {
			lt_proxy_close_fd(fd, true);
			lt_proxy_log("connection reset on accept (mode drop); %d open",
			             lt_proxy_nconns);
		} else if (lt_proxy_nconns >= lt_proxy_max_conns) {
			close(fd);
			lt_proxy_log("connection refused: %d connections open (limit %d)",
			             lt_proxy_nconns, lt_proxy_max_conns);
		} else {
			lt_proxy_conn_open(fd);
		}
	}
}

static bool lt_proxy_want_read(const struct lt_proxy_conn *c, int i)
{
	return !c->eof[i] && c->buf[i].len < LT_PROXY_BUF && !(i == 1 && c->connecting);
}

/* Whether there is something to write to fd[j] (or, for a connecting fd[1], a connect
 * to finish). */
static bool lt_proxy_want_write(const struct lt_proxy_conn *c, int j)
{
	if (c->connecting)
		return j == 1;
	return !c->shut[j] && c->buf[1 - j].len > 0;
}

/* Reads from fd[i] into buf[i]. Returns -1 on a socket error (connection failed). */
static int lt_proxy_fill(struct lt_proxy_conn *c, int i)
{
	struct lt_proxy_buf *b = &c->buf[i];
	if (b->off > 0 && LT_PROXY_BUF - (b->off + b->len) < LT_PROXY_BUF / 4) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
	size_t room = LT_PROXY_BUF - (b->off + b->len);
	if (room == 0)
		return 0;
	ssize_t n = recv(c->fd[i], b->data + b->off + b->len, room, 0);
	if (n > 0) {
		b->len += (size_t)n;
	} else if (n == 0) {
		c->eof[i] = true;
	} else if (!lt_proxy_again(errno)) {
		lt_proxy_conn_fail(c, i, "read", errno);
		return -1;
	}
	return 0;
}

/*
 * Writes what buf[i] holds to fd[1 - i]; once side i saw EOF and everything
 * was written, shuts down the write half of fd[1 - i]. Returns -1 on a socket
 * error (connection failed).
 */
static int lt_proxy_pump(struct lt_proxy_conn *c, int i)
{
	int o = 1 - i;
	struct lt_proxy_buf *b = &c->buf[i];
	if (c->connecting || c->shut[o])
		return 0;
	if (b->len > 0) {
		ssize_t n = send(c->fd[o], b->data + b->off, b->len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (lt_proxy_again(errno))
				return 0;
			lt_proxy_conn_fail(c, o, "write", errno);
			return -1;
		}
		b->off += (size_t)n;
		b->len -= (size_t)n;
		c->fwd[i] += (uint64_t)n;
		if (b->len == 0)
			b->off = 0;
	}
	if (b->len == 0 && c->eof[i]) {
		if (shutdown(c->fd[o], SHUT_WR) < 0) {
			lt_proxy_conn_fail(c, o, "shutdown", errno);
			return -1;
		}
		c->shut[o] = true;
	}
	return 0;
}

/* Sets up the two poll entries p[0], p[1] of connection c (mode up). */
static void lt_proxy_conn_events(const struct lt_proxy_conn *c, struct pollfd *p)
{
	for (int j = 0; j < 2; j++) {
		short ev = 0;
		if (lt_proxy_want_read(c, j))
			ev |= POLLIN;
		if (lt_proxy_want_write(c, j))
			ev |= POLLOUT;
		/*
		 * With nothing to do on fd[j], still watch it for errors (POLLERR and
		 * POLLHUP are always reported) unless we shut its write half down: then
		 * POLLHUP is expected once the peer's FIN arrives and would spin.
		 */
		p[j].fd = ev != 0 || !c->shut[j] ? c->fd[j] : -1;
		p[j].events = ev;
		p[j].revents = 0;
	}
}

/* Handles the poll results p[0], p[1] of connection c (mode up). */
static void lt_proxy_conn_service(struct lt_proxy_conn *c, const struct pollfd *p)
{
	short rev[2] = {p[0].fd >= 0 ? p[0].revents : 0, p[1].fd >= 0 ? p[1].revents : 0};
	short ev[2] = {p[0].fd >= 0 ? p[0].events : 0, p[1].fd >= 0 ? p[1].events : 0};

	if (c->connecting && rev[1] != 0) {
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err != 0) {
			char why[160];
			snprintf(why, sizeof why, "cannot connect to 127.0.0.1:%d: %s",
			         lt_proxy_target_port, strerror(err));
			lt_proxy_conn_close(c, true, why);
			return;
		}
		c->connecting = false;
		rev[1] &= POLLOUT;
		ev[1] = POLLOUT;
	}
	bool got[2] = {false, false};
	for (int i = 0; i < 2; i++) {
		if ((ev[i] & POLLIN) && (rev[i] & (POLLIN | POLLHUP | POLLERR))) {
			if (lt_proxy_fill(c, i) < 0)
				return;
			got[i] = true;
		}
	}
	for (int i = 0; i < 2; i++) {
		if (got[i] || rev[1 - i] != 0 || (c->eof[i] && !c->shut[1 - i])) {
			if (lt_proxy_pump(c, i) < 0)
				return;
		}
	}
	for (int j = 0; j < 2; j++) {
		/* an error or hang-up on a socket we had nothing to do with */
		if ((rev[j] & (POLLERR | POLLHUP)) && !(ev[j] & (POLLIN | POLLOUT))) {
			int err = 0;
			socklen_t len = sizeof err;
			if (getsockopt(c->fd[j], SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				err = errno;
			lt_proxy_conn_fail(c, j, "hang-up", err != 0 ? err : ECONNRESET);
			return;
		}
	}
	if (c->eof[0] && c->eof[1] && c->shut[0] && c->shut[1])
		lt_proxy_conn_close(c, false, "both sides done");
}

static void lt_proxy_set_mode(enum lt_proxy_mode *mode, enum lt_proxy_mode m)
{
	if (m == *mode)
		return;
	lt_proxy_log("mode %s -> %s; %d connections open%s", lt_proxy_mode_names[*mode],
	             lt_proxy_mode_names[m], lt_proxy_nconns,
	             m == LT_PROXY_DROP && lt_proxy_nconns > 0 ? ", resetting them" : "");
	*mode = m;
	if (m == LT_PROXY_DROP) {
		for (int k = 0; k < LT_PROXY_MAX_CONNS; k++)
			if (lt_proxy_conns[k].used)
				lt_proxy_conn_close(&lt_proxy_conns[k], true, "mode drop");
	}
}

/* Logs msg unless it is the same as the previous complaint about the control file. */
static void lt_proxy_complain(const char *msg)
{
	static char last[256];
	if (msg == NULL) {
		last[0] = '\0';
		return;
	}
	if (strcmp(last, msg) != 0) {
		lt_proxy_log("%s", msg);
		snprintf(last, sizeof last, "%s", msg);
	}
}

/* Reads the control file. Returns 1 with *m set, or 0 to keep the current mode. */
static int lt_proxy_read_control(const char *path, enum lt_proxy_mode cur, enum lt_proxy_mode *m)
{
	char buf[64], msg[256];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT) {
			lt_proxy_complain(NULL);
			*m = LT_PROXY_UP;
			return 1;
		}
		snprintf(msg, sizeof msg, "cannot open control file %s: %s; keeping mode %s", path,
		         strerror(errno), lt_proxy_mode_names[cur]);
		lt_proxy_complain(msg);
		return 0;
	}
	ssize_t n = read(fd, buf, sizeof buf - 1);
	int err = errno;
	close(fd);
	if (n < 0) {
		snprintf(msg, sizeof msg, "cannot read control file %s: %s; keeping mode %s", path,
		         strerror(err), lt_proxy_mode_names[cur]);
		lt_proxy_complain(msg);
		return 0;
	}
	buf[n] = '\0';
	char *w = buf + strspn(buf, " \t\r\n");
	w[strcspn(w, " \t\r\n")] = '\0';
	if (*w == '\0')
		return 0; /* empty: probably being rewritten */
	for (int k = 0; k < 3; k++) {
		if (strcmp(w, lt_proxy_mode_names[k]) == 0) {
			lt_proxy_complain(NULL);
			*m = (enum lt_proxy_mode)k;
			return 1;
		}
	}
	snprintf(msg, sizeof msg,
	         "unknown mode '%.32s' in %s (want up, drop or blackhole); keeping mode %s", w,
	         path, lt_proxy_mode_names[cur]);
	lt_proxy_complain(msg);
	return 0;
}

/* Raises the open-file limit to what 512 connections need, or lowers the connection limit. */
static void lt_proxy_fd_limit(void)
{
	const rlim_t need = 2 * LT_PROXY_MAX_CONNS + LT_PROXY_SPARE_FDS;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? rl.rlim_max : need;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
		return;
	lt_proxy_max_conns = rl.rlim_cur > LT_PROXY_SPARE_FDS + 2
	                         ? (int)((rl.rlim_cur - LT_PROXY_SPARE_FDS) / 2)
	                         : 1;
	lt_proxy_log("open-file limit %llu is too low for %d connections; allowing %d",
	             (unsigned long long)rl.rlim_cur, LT_PROXY_MAX_CONNS, lt_proxy_max_conns);
}

static int lt_proxy_listen(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in sa = lt_proxy_addr(port);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 128) < 0) {
		int err = errno;
		fprintf(stderr, "lt-proxy: cannot listen on 127.0.0.1:%d: %s\n", port,
		        strerror(err));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void lt_proxy_usage(FILE *f)
{
	fprintf(f, "usage: lt-proxy --listen PORT --target PORT --control FILE\n"
	           "  forwards 127.0.0.1:LISTEN to 127.0.0.1:TARGET; FILE holds the mode:\n"
	           "  up (default, also when FILE is missing), drop or blackhole\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
	                                     {"target", required_argument, NULL, 't'},
	                                     {"control", required_argument, NULL, 'c'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *control = NULL;
	int listen_port = 0, c;
	while ((c = getopt_long(argc, argv, "l:t:c:h", opts, NULL)) != -1) {
		if (c == 'l') {
			if ((listen_port = lt_proxy_parse_port("listen", optarg)) < 0)
				return 2;
		} else if (c == 't') {
			if ((lt_proxy_target_port = lt_proxy_parse_port("target", optarg)) < 0)
				return 2;
		} else if (c == 'c') {
			control = optarg;
		} else if (c == 'h') {
			lt_proxy_usage(stdout);
			return 0;
		} else {
			lt_proxy_usage(stderr);
			return 2;
		}
	}
	if (listen_port == 0 || lt_proxy_target_port == 0 || control == NULL || *control == '\0' ||
	    optind != argc) {
		lt_proxy_usage(stderr);
		return 2;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = lt_proxy_on_signal; /* no SA_RESTART: poll() returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	for (int k = 0; k < LT_PROXY_MAX_CONNS; k++)
		lt_proxy_conns[k].fd[0] = lt_proxy_conns[k].fd[1] = -1;
	lt_proxy_fd_limit();
	int lfd = lt_proxy_listen(listen_port);
	if (lfd < 0)
		return 1;

	enum lt_proxy_mode mode = LT_PROXY_UP, m;
	if (lt_proxy_read_control(control, mode, &m))
		mode = m;
	lt_proxy_log("listening on 127.0.0.1:%d, forwarding to 127.0.0.1:%d, control %s, mode %s",
	             listen_port, lt_proxy_target_port, control, lt_proxy_mode_names[mode]);

	int rc = 0;
	int64_t next_check = lt_proxy_now_ms() + LT_PROXY_TICK_MS;
	bool accept_paused = false;
	while (!lt_proxy_signal) {
		int64_t now = lt_proxy_now_ms();
		if (now >= next_check) {
			if (lt_proxy_read_control(control, mode, &m))
				lt_proxy_set_mode(&mode, m);
			next_check = now + LT_PROXY_TICK_MS;
			accept_paused = false;
		}

		struct pollfd *pfds = lt_proxy_pfds;
		pfds[0].fd = accept_paused ? -1 : lfd;
		pfds[0].events = POLLIN;
		pfds[0].revents = 0;
		for (int k = 0; k < lt_proxy_max_conns; k++) {
			struct pollfd *p = &pfds[1 + 2 * k];
			if (lt_proxy_conns[k].used && mode == LT_PROXY_UP) {
				lt_proxy_conn_events(&lt_proxy_conns[k], p);
			} else { /* blackhole: do not touch the sockets at all */
				p[0].fd = p[1].fd = -1;
				p[0].events = p[1].events = 0;
				p[0].revents = p[1].revents = 0;
			}
		}
		int timeout = (int)(next_check - now);
		int n = poll(pfds, (nfds_t)(1 + 2 * lt_proxy_max_conns), timeout > 0 ? timeout : 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			lt_proxy_log("poll failed: %s", strerror(errno));
			rc = 1;
			break;
		}
		if (n == 0)
			continue;
		if (pfds[0].revents != 0)
			lt_proxy_accept(lfd, mode, &accept_paused);
		if (mode != LT_PROXY_UP)
			continue;
		for (int k = 0; k < lt_proxy_max_conns; k++) {
			struct pollfd *p = &pfds[1 + 2 * k];
			/* skip free slots and connections opened by the accept above */
			if (lt_proxy_conns[k].used && (p[0].fd >= 0 || p[1].fd >= 0))
				lt_proxy_conn_service(&lt_proxy_conns[k], p);
		}
	}

	int nopen = lt_proxy_nconns;
	for (int k = 0; k < LT_PROXY_MAX_CONNS; k++)
		if (lt_proxy_conns[k].used)
			lt_proxy_conn_close(&lt_proxy_conns[k], false, "exiting");
	close(lfd);
	if (lt_proxy_signal)
		lt_proxy_log("%s: closed %d connections, exiting",
		             lt_proxy_signal == SIGINT ? "SIGINT" : "SIGTERM", nopen);
	return rc;
}
