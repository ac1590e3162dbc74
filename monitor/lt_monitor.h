/*
 * lt_monitor: the agent's local HTTP endpoint (setting http_listen), served
 * with libmicrohttpd: Prometheus metrics at /metrics, the health verdict at
 * /health (200 "ready", 503 "degraded" with one reason a line) and a
 * read-only operator page at / (monitor/lt_render.h renders all three).
 *
 * Security stance: serves only GET and HEAD of those three paths, reads
 * nothing of a request but its method and path, and refuses bodies;
 * connections, their memory and their time are bounded (LT_MONITOR_*
 * below), so junk or slow clients cannot grow the agent. It listens only on
 * a loopback address (lt_monitor_check_listen): the page is not
 * authenticated and shows subjects of documents; reach it from elsewhere
 * through a reverse proxy that authenticates. Nothing is written anywhere.
 *
 * Threads: lt_monitor_start starts libmicrohttpd's one thread, which
 * serves every request. That thread never takes an LMDB write transaction:
 * it reads the store in one short read-only transaction per request (the
 * store is opened with MDB_NOTLS), the process's counters with atomics, and
 * what the main loop published under a mutex held only for a copy. The main
 * loop calls lt_monitor_publish (once a second), which takes that mutex for
 * a copy too: a slow client or a slow store read never blocks the main loop.
 * lt_monitor_start, lt_monitor_publish and lt_monitor_stop are for the
 * main thread. The configuration and the store are borrowed and must
 * outlive the monitor.
 */
#ifndef LT_MONITOR_H
#define LT_MONITOR_H

#include <sys/socket.h>

#include "../config/lt_config.h"
#include "../errors/lt_err.h"
#include "../store/lt_store.h"
#include "lt_render.h"

#define LT_MONITOR_CONNECTIONS 16         /* clients served at once */
#define LT_MONITOR_PER_IP 8               /* of them from one address */
#define LT_MONITOR_TIMEOUT_S 10           /* a connection silent this long is closed */
#define LT_MONITOR_REQUEST_BYTES 16384    /* memory for one request (its header lines) */
#define LT_MONITOR_RESPONSE_BYTES 4194304 /* ceiling of one answer */

struct lt_monitor;

/*
 * Parses http_listen, "HOST:PORT" (HOST an IPv4 address, [an IPv6
 * address] or localhost; PORT 1 to 65535), into addr (len: its length),
 * and refuses an address that is not loopback. The error names the setting.
 */
int lt_monitor_check_listen(const char *listen, struct sockaddr_storage *addr, socklen_t *len,
                            lt_err *err);

/* Listens on cfg->http_listen (set) and starts serving. NULL with err set on failure. */
struct lt_monitor *lt_monitor_start(const struct lt_config *cfg, struct lt_store *store,
                                    lt_err *err);

/* The main loop's state as of now (copied); also moves the traffic chart's minutes. */
void lt_monitor_publish(struct lt_monitor *m, const struct lt_monitor_view *view);

/* Stops serving (waits for the thread) and frees; NULL is fine. */
void lt_monitor_stop(struct lt_monitor *m);

#endif
