/*
 * The agent's HTTP endpoint without HTTP: the listening address check, the
 * counters kept with store transactions (counted on commit, dropped on
 * abort, a nested transaction's joined to its parent's), the health
 * verdict's reasons, the metrics' label escaping and the operator page's
 * escaping of what other agencies wrote (a subject holding <script>).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../monitor/lt_monitor.h"
#include "lt_check.h"

static void test_listen(void)
{
	struct sockaddr_storage a;
	socklen_t len;
	lt_err err;
	CHECK_OK(lt_monitor_check_listen("127.0.0.1:9464", &a, &len, &err), err);
	CHECK(a.ss_family == AF_INET && len == sizeof(struct sockaddr_in));
	CHECK(ntohs(((struct sockaddr_in *)&a)->sin_port) == 9464);
	CHECK_OK(lt_monitor_check_listen("127.8.9.10:1", &a, &len, &err), err);
	CHECK_OK(lt_monitor_check_listen("localhost:9464", &a, &len, &err), err);
	CHECK_OK(lt_monitor_check_listen("[::1]:9464", &a, &len, &err), err);
	CHECK(a.ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6));
	CHECK(lt_monitor_check_listen("10.0.0.5:9464", &a, &len, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "not a loopback address");
	CHECK(lt_monitor_check_listen("0.0.0.0:9464", &a, &len, &err) == -1);
	CHECK(lt_monitor_check_listen("[::]:9464", &a, &len, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "not a loopback address");
	CHECK(lt_monitor_check_listen("[::1:9464", &a, &len, &err) == -1);
	CHECK(lt_monitor_check_listen("127.0.0.1", &a, &len, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "no HOST:PORT");
	CHECK(lt_monitor_check_listen("127.0.0.1:0", &a, &len, &err) == -1);
	CHECK(lt_monitor_check_listen("127.0.0.1:65536", &a, &len, &err) == -1);
	CHECK(lt_monitor_check_listen("127.0.0.1:94x", &a, &len, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "PORT must be a number");
	CHECK(lt_monitor_check_listen(":9464", &a, &len, &err) == -1);
	CHECK(lt_monitor_check_listen("example.org:9464", &a, &len, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "not an IP address");
	CHECK_STR_CONTAINS(err.msg, "http_listen");
}

static void test_counts_follow_commits(void)
{
	char dir[] = "/tmp/lt-test-monitor.XXXXXX";
	struct lt_store *s = NULL;
	struct lt_txn *t = NULL, *child = NULL;
	struct lt_counts before, after;
	lt_err err;
	if (!CHECK(mkdtemp(dir) != NULL) || !CHECK_OK(lt_store_open(&s, dir, 8 << 20, &err), err))
		return;
	lt_counters_read(&before);
	/* Aborted: nothing counted. */
	CHECK_OK(lt_txn_begin(s, 1, &t, &err), err);
	lt_counts_add(lt_txn_counts(t), LT_C_QUARANTINED, 5);
	lt_txn_abort(t);
	lt_counters_read(&after);
	CHECK(after.v[LT_C_QUARANTINED] == before.v[LT_C_QUARANTINED]);
	/* A nested commit joins its parent's; an aborted nested one is dropped. */
	CHECK_OK(lt_txn_begin(s, 1, &t, &err), err);
	lt_counts_add(lt_txn_counts(t), LT_C_QUARANTINED, 1);
	CHECK_OK(lt_txn_begin_nested(t, &child, &err), err);
	lt_counts_add(lt_txn_counts(child), LT_C_RECEIVED_DELIVERED, 2);
	lt_counts_latency(lt_txn_counts(child), 700);
	CHECK_OK(lt_txn_commit(child, &err), err);
	CHECK_OK(lt_txn_begin_nested(t, &child, &err), err);
	lt_counts_add(lt_txn_counts(child), LT_C_RECEIVED_DELIVERED, 100);
	lt_txn_abort(child);
	lt_counters_read(&after);
	CHECK(after.v[LT_C_RECEIVED_DELIVERED] == before.v[LT_C_RECEIVED_DELIVERED]);
	CHECK_OK(lt_txn_commit(t, &err), err);
	lt_counters_read(&after);
	CHECK(after.v[LT_C_QUARANTINED] == before.v[LT_C_QUARANTINED] + 1);
	CHECK(after.v[LT_C_RECEIVED_DELIVERED] == before.v[LT_C_RECEIVED_DELIVERED] + 2);
	/* 700 ms lands in the bucket le=1 (index 3: 0.1, 0.25, 0.5, 1). */
	CHECK(after.v[LT_C_LATENCY + 3] == before.v[LT_C_LATENCY + 3] + 1);
	CHECK(after.v[LT_C_LATENCY_SUM_MS] == before.v[LT_C_LATENCY_SUM_MS] + 700);
	lt_store_close(s);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

/* A snapshot of a quiet, healthy agent at time now. */
static struct lt_snap *snap_new(void)
{
	struct lt_snap *s = calloc(1, sizeof *s);
	s->now_ms = 1800000000000LL;
	snprintf(s->agency, sizeof s->agency, "TEST.A01");
	s->view.at_ms = s->now_ms - 500;
	s->view.started_ms = s->now_ms - 600000;
	s->view.receiving.stats_ms = s->now_ms - 2000;
	s->store_ok = 1;
	s->map_used = 1 << 20;
	s->map_size = 1 << 30;
	return s;
}

static void test_health(void)
{
	char r[LT_RENDER_REASONS_MAX][LT_ERR_MSG_MAX];
	struct lt_snap *s = snap_new();
	CHECK(lt_render_health(s, r, LT_RENDER_REASONS_MAX) == 0);
	/* Not a member for 20 s: broker unreachable. */
	s->view.receiving.alone_since_ms = s->now_ms - 20000;
	CHECK(lt_render_health(s, r, LT_RENDER_REASONS_MAX) == 1);
	CHECK_STR_CONTAINS(r[0], "broker unreachable for 20 s: not a member of the Kafka");
	/* ... but not after 5 s (a rebalance). */
	s->view.receiving.alone_since_ms = s->now_ms - 5000;
	CHECK(lt_render_health(s, r, LT_RENDER_REASONS_MAX) == 0);
	s->view.receiving.alone_since_ms = 0;
	s->view.receiving.stats_ms = s->now_ms - 60000;
	CHECK(lt_render_health(s, r, LT_RENDER_REASONS_MAX) == 1);
	CHECK_STR_CONTAINS(r[0], "broker unreachable for 60 s: no statistics");
	s->view.receiving.stats_ms = s->now_ms - 1000;
	/* A failing target, a failing topic, a near-full store, an expired CRL. */
	s->view.receiving.blocked = 1;
	s->view.receiving.blocked_since_ms = s->now_ms - 90000;
	snprintf(s->view.receiving.blocked_reason, sizeof s->view.receiving.blocked_reason,
	         "target answered 503");
	s->view.failing_total = s->view.n_failing = 1;
	snprintf(s->view.failing[0].topic, sizeof s->view.failing[0].topic, "lt.inbox.TEST.B02");
	s->view.failing[0].since_ms = s->now_ms - 30000;
	s->map_used = (uint64_t)(0.95 * (double)s->map_size);
	s->crl_set = s->crl_ok = 1;
	s->crl_next_ms = s->now_ms - 1000;
	size_t n = lt_render_health(s, r, LT_RENDER_REASONS_MAX);
	CHECK(n == 4);
	CHECK_STR_CONTAINS(r[0],
	                   "forwarding failing for 30 s: Kafka does not take the records of 1");
	CHECK_STR_CONTAINS(r[0], "lt.inbox.TEST.B02");
	CHECK_STR_CONTAINS(
	    r[1], "target failing for 90 s: 1 partition(s) held back: target answered 503");
	CHECK_STR_CONTAINS(r[2], "store near full: 95%");
	CHECK_STR_CONTAINS(r[3], "CRL expired");
	/* The main loop silent: said first. */
	s->view.at_ms = s->now_ms - 45000;
	CHECK(lt_render_health(s, r, 1) == 1);
	CHECK_STR_CONTAINS(r[0], "main loop has not reported for 45 s");
	free(s);
}

static void test_page_escapes(void)
{
	struct lt_snap *s = snap_new();
	struct lt_buf b;
	struct lt_render_doc *d = &s->waiting[0];
	s->n_waiting = 1;
	snprintf(d->doc_id, sizeof d->doc_id, "0190d7a2-0000-7000-8000-000000000001");
	snprintf(d->recipient, sizeof d->recipient, "TEST.B02");
	snprintf(d->subject, sizeof d->subject,
	         "<script>document.title='pwned'</script> quyết định \"x\" & \x1b[31m");
	snprintf(d->reason, sizeof d->reason, "<img src=x onerror=alert(1)>");
	d->status = LIENTHONG__STORE__DOC_STATUS__SENT;
	d->since_ms = s->now_ms - 3 * 3600 * 1000;
	s->n_quarantined = 1;
	snprintf(s->quarantined[0].reason, sizeof s->quarantined[0].reason,
	         "</td><script>x()</script>");
	snprintf(s->quarantined[0].sender, sizeof s->quarantined[0].sender, "EVIL\"><b>");
	s->view.receiving.blocked = 1;
	snprintf(s->view.receiving.blocked_reason, sizeof s->view.receiving.blocked_reason,
	         "target: <iframe>");
	s->traffic[LT_RENDER_MINUTES - 1][LT_TR_SENT] = 7;
	lt_buf_init(&b, 1 << 20);
	lt_render_page(s, &b);
	CHECK(!b.over && b.p != NULL);
	CHECK_STR_CONTAINS(b.p, "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt; quyết "
	                        "định &quot;x&quot; &amp; \\x1b[31m");
	CHECK_STR_CONTAINS(b.p, "&lt;img src=x onerror=alert(1)&gt;");
	CHECK_STR_CONTAINS(b.p, "&lt;/td&gt;&lt;script&gt;x()&lt;/script&gt;");
	CHECK_STR_CONTAINS(b.p, "EVIL&quot;&gt;&lt;b&gt;");
	CHECK_STR_CONTAINS(b.p, "target: &lt;iframe&gt;");
	CHECK(strstr(b.p, "<script") == NULL && strstr(b.p, "<img") == NULL &&
	      strstr(b.p, "<iframe") == NULL && strstr(b.p, "<b>") == NULL);
	CHECK(strchr(b.p, '\x1b') == NULL);
	CHECK_STR_CONTAINS(b.p, "<span id=\"health\" class=\"degraded\">degraded</span>");
	CHECK_STR_CONTAINS(b.p, "3 h 00 min ago");
	CHECK_STR_CONTAINS(b.p, "<svg id=\"traffic\"");
	CHECK_STR_CONTAINS(b.p, "sent to Kafka 7");
	lt_buf_free(&b);
	free(s);
}

static void test_metrics(void)
{
	struct lt_snap *s = snap_new();
	struct lt_buf b;
	s->n_recipients = s->recipients_total = 1;
	snprintf(s->recipients[0].code, sizeof s->recipients[0].code, "A\"B\\C");
	s->recipients[0].n[LIENTHONG__STORE__DOC_STATUS__QUEUED] = 3;
	s->by_status[LIENTHONG__STORE__DOC_STATUS__QUEUED] = 3;
	s->outbox = 3;
	s->outbox_oldest_ms = s->now_ms - 12500;
	s->counts.v[LT_C_LATENCY + 0] = 2;
	s->counts.v[LT_C_LATENCY + LT_LATENCY_BUCKETS] = 1;
	s->counts.v[LT_C_LATENCY_SUM_MS] = 100000;
	lt_buf_init(&b, 1 << 20);
	lt_render_metrics(s, &b);
	CHECK(!b.over && b.p != NULL);
	CHECK_STR_CONTAINS(
	    b.p, "lienthong_recipient_documents{recipient=\"A\\\"B\\\\C\",status=\"queued\"} 3\n");
	CHECK_STR_CONTAINS(b.p, "lienthong_documents{status=\"queued\"} 3\n");
	CHECK_STR_CONTAINS(b.p, "lienthong_outbox_oldest_age_seconds 12.5\n");
	CHECK_STR_CONTAINS(b.p, "lienthong_delivery_latency_seconds_bucket{le=\"0.1\"} 2\n");
	CHECK_STR_CONTAINS(b.p, "lienthong_delivery_latency_seconds_bucket{le=\"86400\"} 2\n");
	CHECK_STR_CONTAINS(b.p, "lienthong_delivery_latency_seconds_bucket{le=\"+Inf\"} 3\n");
	CHECK_STR_CONTAINS(b.p, "lienthong_delivery_latency_seconds_count 3\n");
	CHECK_STR_CONTAINS(b.p, "lienthong_delivery_latency_seconds_sum 100.000\n");
	CHECK_STR_CONTAINS(b.p, "lienthong_ready 1\n");
	CHECK(strstr(b.p, "lienthong_crl_age_seconds") == NULL); /* no crl_file */
	lt_buf_free(&b);
	/* A ceiling: past it the buffer says so, and holds nothing more. */
	lt_buf_init(&b, 100);
	lt_render_metrics(s, &b);
	CHECK(b.over && b.len < 100);
	lt_buf_free(&b);
	free(s);
}

int main(void)
{
	LT_RUN(test_listen);
	LT_RUN(test_counts_follow_commits);
	LT_RUN(test_health);
	LT_RUN(test_page_escapes);
	LT_RUN(test_metrics);
	return lt_check_summary();
}
