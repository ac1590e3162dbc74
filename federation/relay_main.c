/*
 * lienthong-relay: one link between two platforms (federation/lt_relay.h).
 *
 *   lienthong-relay -c FILE [--status]
 *
 * Security stance: the relay trusts neither cluster. It verifies every
 * directory entry before routing by it, never changes the bytes a sender
 * signed (its hop goes after them, signed with its own key), and holds no
 * agency's key: it cannot sign documents or receipts (its certificate has
 * only the relay purpose), so whatever it alters or invents is refused by
 * the recipient or the sender.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../clock/lt_clock.h"
#include "../clock/lt_watchdog.h"
#include "../log/lt_log.h"
#include "../pki/lt_pki.h"
#include "../store/lt_lock.h"
#include "lt_relay.h"

static volatile sig_atomic_t lt_relay_stop;

static void lt_relay_on_signal(int sig)
{
	(void)sig;
	lt_relay_stop = 1;
}

static void lt_relay_usage(FILE *out)
{
	fprintf(out,
	        "Usage: lienthong-relay -c FILE [--status]\n"
	        "\n"
	        "Carries documents, their chunks and receipts between the Kafka clusters of two\n"
	        "platforms (one relay per link), store-and-forward: each record read is stored\n"
	        "in the relay's LMDB (data_dir) before its offset is committed, and leaves it\n"
	        "only when the other cluster acknowledged it. Killed, restarted, or with a\n"
	        "cluster down for hours, it loses nothing; the recipients' de-duplication makes\n"
	        "each document arrive exactly once. It follows both platforms' directories\n"
	        "(<prefix>.directory), copies their entries across, and carries the records of\n"
	        "exactly the agencies reached through the other side. On each document it\n"
	        "appends a hop record signed with its key, and tells the sender (\"at <platform>\n"
	        "since T\" in lienthong-status --history).\n"
	        "\n"
	        "FILE is a lienthong configuration:\n"
	        "  agency_code      the relay's name: the CN of cert_file, e.g. RELAY.HN.NGSP\n"
	        "  key_file, cert_file  the relay's key and certificate (deploy/pki.sh relay):\n"
	        "                   a certificate with the relay purpose, which cannot sign\n"
	        "                   documents\n"
	        "  ca_file          the CAs of every platform's agencies (the national root)\n"
	        "  data_dir         the relay's own store\n"
	        "  platform, topic_prefix, kafka.*      the near platform and its cluster\n"
	        "  peer_platform, peer_topic_prefix, peer.kafka.*  the far one\n"
	        "  routes, peer_routes  which other platforms lie beyond each side: `*` on the\n"
	        "                   side of the national platform (it relays to every other)\n"
	        "\n"
	        "Example, the link of a province to the national platform:\n"
	        "  agency_code = RELAY.HN.NGSP      platform = HN     topic_prefix = lgsp\n"
	        "  kafka.bootstrap.servers = kafka.hn:9092\n"
	        "  peer_platform = NGSP   peer_topic_prefix = ngsp   peer_routes = *\n"
	        "  peer.kafka.bootstrap.servers = kafka.ngsp:9092\n"
	        "\n"
	        "  --status   prints what waits in the store, for each platform, and since when,\n"
	        "             and the relay's health: each side's reading moving or stalled\n"
	        "             since when, consumers replaced, producers recreated (read-only:\n"
	        "             the running relay is not disturbed)\n"
	        "\n"
	        "Failures: a consumer that stops receiving for receive_stall_s, or hits a fatal\n"
	        "error, is replaced (again after 2x, 4x... while stalled); a producer with a\n"
	        "fatal error is recreated; a main loop stuck for watchdog_s ends the relay\n"
	        "with \"the relay's main loop has not moved for N s\" and status 1.\n"
	        "\n"
	        "Exit status: 0 after a clean stop (SIGTERM, SIGINT) or a status shown, 1 on an\n"
	        "error (the supervisor restarts it: nothing stored is lost), 2 on a usage\n"
	        "error. README.md, section Federation, has the topology and the steps to\n"
	        "connect a new platform.\n");
}

/* The relay's own key and certificate: the relay purpose, CN = agency_code. */
static int lt_relay_identity(const struct lt_config *cfg, struct lt_signer *signer, lt_err *err)
{
	if (lt_signer_load_any(signer, cfg->key_file, cfg->cert_file, err) != 0)
		return -1;
	if (lt_pki_check_key_file(cfg->key_file, err) != 0 ||
	    lt_pki_check_purpose(signer->cert, LT_PKI_RELAY_OID, "relay", err) != 0)
		return lt_err_wrap(err, "%s", cfg->cert_file);
	if (strcmp(signer->code, cfg->agency_code) != 0)
		return lt_err_set(err, LT_EINVAL,
		                  "%s names '%s' (CN) but agency_code is '%s' in %s",
		                  cfg->cert_file, signer->code, cfg->agency_code, cfg->path);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"status", no_argument, NULL, 's'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *config = NULL;
	int c, status = 0;
	lt_log_init(argv[0], LT_LOG_INFO);
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			status = 1;
			break;
		case 'h':
			lt_relay_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'lienthong-relay --help'.\n");
			return 2;
		}
	}
	if (config == NULL || optind != argc) {
		fprintf(stderr, "lienthong-relay: %s\nTry 'lienthong-relay --help'.\n",
		        config == NULL ? "-c FILE is required" : "unexpected argument");
		return 2;
	}
	static struct lt_config cfg;
	struct lt_signer signer = {0};
	struct lt_trust *trust = NULL;
	struct lt_store *store = NULL;
	struct lt_relay *relay = NULL;
	struct lt_lock lock = {.fd = -1};
	enum lt_log_level level;
	lt_err err;
	int rc = 1;
	if (lt_config_load(&cfg, config, &err) != 0)
		goto fail;
	lt_log_level_parse(cfg.log_level, &level);
	lt_log_set_level(level);
	if (status) {
		if (lt_store_open(&store, cfg.data_dir, cfg.lmdb_map_size, &err) != 0 ||
		    lt_relay_status(&cfg, store, stdout, &err) != 0)
			goto fail;
		rc = 0;
		goto out;
	}
	if (lt_relay_identity(&cfg, &signer, &err) != 0)
		goto fail;
	if (cfg.peer_platform[0] == '\0' || cfg.platform[0] == '\0') {
		lt_err_set(&err, LT_EINVAL,
		           "%s: set platform and peer_platform (and peer.kafka.bootstrap.servers): "
		           "a relay links two platforms",
		           config);
		goto fail;
	}
	if ((trust = lt_trust_load(cfg.ca_file, &err)) == NULL ||
	    (cfg.crl_file[0] != '\0' && lt_trust_load_crls(trust, cfg.crl_file, &err) != 0) ||
	    lt_lock_take(&lock, cfg.data_dir, &err) != 0 ||
	    lt_store_open(&store, cfg.data_dir, cfg.lmdb_map_size, &err) != 0 ||
	    (relay = lt_relay_new(&cfg, &signer, trust, store, &err)) == NULL)
		goto fail;
	struct sigaction sa = {.sa_handler = lt_relay_on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	lt_log_info("relay %s started: %s <-> %s, store %s", cfg.agency_code, cfg.platform,
	            cfg.peer_platform, cfg.data_dir);
	lt_watchdog_start("relay", cfg.watchdog_s);
	while (!lt_relay_stop) {
		int64_t now = lt_now_ms();
		lt_watchdog_beat();
		lt_trust_crl_tick(trust, now);
		if (!lt_relay_tick(relay, now))
			usleep(20 * 1000);
	}
	lt_log_info("stopping");
	rc = 0;
	goto out;
fail:
	lt_log_error("%s", err.msg);
out:
	lt_relay_free(relay, 5000);
	lt_store_close(store);
	lt_trust_free(trust);
	lt_signer_free(&signer);
	lt_lock_release(&lock);
	lt_config_free(&cfg);
	return rc;
}
