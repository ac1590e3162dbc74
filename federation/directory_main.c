/*
 * lienthong-directory: publishes, withdraws and lists entries of the
 * federation directory (federation/lt_dir.h).
 *
 *   lienthong-directory -c OPERATOR.conf publish CODE PLATFORM [--cert FILE] [--serial N]
 *   lienthong-directory -c OPERATOR.conf withdraw CODE PLATFORM [--serial N]
 *   lienthong-directory -c FILE list [--topic]
 *
 * OPERATOR.conf is a lienthong configuration whose key_file and cert_file
 * are a directory signer's (deploy/pki.sh directory), whose kafka.* settings
 * reach the operator's platform and whose topic_prefix is that platform's.
 * Trusts nothing it reads: `list --topic` verifies every record as agents do.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../broker-adapter/lt_kafka.h"
#include "../clock/lt_clock.h"
#include "../log/lt_log.h"
#include "lt_dir.h"
#include "lt_dirfollow.h"

static void lt_directory_usage(FILE *out)
{
	fprintf(out,
	        "Usage: lienthong-directory -c OPERATOR.conf publish CODE PLATFORM [--cert FILE] "
	        "[--serial N]\n"
	        "       lienthong-directory -c OPERATOR.conf withdraw CODE PLATFORM [--serial N]\n"
	        "       lienthong-directory -c FILE list [--topic]\n"
	        "\n"
	        "The federation directory says which platform (Kafka cluster) serves each\n"
	        "agency code. Agents in platform mode (setting platform) and relays follow it\n"
	        "live from the compacted topic <topic_prefix>.directory and keep it in their\n"
	        "store; lienthong-upload refuses a recipient it does not list.\n"
	        "\n"
	        "  publish    signs an entry \"CODE is on PLATFORM\" (with the agency's\n"
	        "             certificate when --cert is given) and writes it to the directory\n"
	        "             topic of OPERATOR.conf's platform (created, compacted, if\n"
	        "             missing). Relays copy it to the other platforms. Publishing a\n"
	        "             code again with another PLATFORM moves it: new documents for it\n"
	        "             go to the new platform, nothing is restarted.\n"
	        "  withdraw   signs an entry that withdraws CODE: submissions to it are refused.\n"
	        "  list       prints the entries known to FILE's agent (its store), or with\n"
	        "             --topic those on the topic (each verified): code, platform,\n"
	        "             serial, issue time, withdrawn, certificate.\n"
	        "\n"
	        "  --serial N the entry's serial (default: the time in milliseconds). Holders\n"
	        "             keep the entry with the highest serial of each code, so an old\n"
	        "             entry replayed changes nothing.\n"
	        "\n"
	        "OPERATOR.conf's key_file and cert_file must be a directory signer's: a\n"
	        "certificate with the directory-signing purpose (deploy/pki.sh directory DIR\n"
	        "NAME); an agency's certificate cannot sign entries.\n"
	        "Exit status: 0 done, 1 on an error, 2 on a usage error.\n");
}

struct lt_directory_dr {
	int done;
	rd_kafka_resp_err_t err;
};

static void lt_directory_on_dr(void *ctx, void *opaque, rd_kafka_resp_err_t err, int32_t partition,
                               int64_t offset)
{
	struct lt_directory_dr *d = ctx;
	(void)opaque, (void)partition, (void)offset;
	d->done = 1;
	d->err = err;
}

static int lt_directory_publish(const struct lt_config *cfg, const char *code, const char *platform,
                                const char *cert_path, uint64_t serial, int withdrawn, lt_err *err)
{
	struct lt_signer signer;
	uint8_t *rec = NULL, *der = NULL;
	size_t len;
	int der_len = 0, rc = -1;
	rd_kafka_t *rk = NULL;
	struct lt_directory_dr dr = {0};
	char topic[LT_TOPIC_MAX + 1];
	if (lt_signer_load_any(&signer, cfg->key_file, cfg->cert_file, err) != 0)
		return -1;
	if (lt_pki_check_key_file(cfg->key_file, err) != 0 ||
	    lt_pki_check_purpose(signer.cert, LT_PKI_DIRECTORY_OID, "directory signing", err) !=
	        0) {
		lt_err_wrap(err, "%s", cfg->cert_file);
		goto out;
	}
	if (cert_path != NULL) {
		X509 *c = lt_pki_load_cert(cert_path, err);
		if (c == NULL)
			goto out;
		der_len = i2d_X509(c, &der);
		X509_free(c);
		if (der_len <= 0) {
			lt_err_ssl(err, LT_EINVAL, "cannot encode %s", cert_path);
			goto out;
		}
	}
	struct lt_dir_in in = {.code = code,
	                       .platform = platform,
	                       .cert_der = der,
	                       .cert_len = (size_t)der_len,
	                       .serial = serial ? serial : (uint64_t)lt_now_ms(),
	                       .issued_at_ms = lt_now_ms(),
	                       .withdrawn = withdrawn};
	if (lt_dir_seal(&in, &signer, &rec, &len, err) != 0)
		goto out;
	/* What agents will check, checked here first. */
	struct lt_trust *trust = lt_trust_load(cfg->ca_file, err);
	if (trust == NULL)
		goto out;
	Lienthong__DirectoryEntry *e = lt_dir_open(rec, len, cfg, trust, NULL, 0, err);
	lt_trust_free(trust);
	if (e == NULL)
		goto out;
	lienthong__directory_entry__free_unpacked(e, NULL);
	lt_dir_topic(cfg->topic_prefix, topic, sizeof topic);
	if ((rk = lt_kafka_producer_new(cfg, lt_directory_on_dr, &dr, err)) == NULL)
		goto out;
	if (lt_kafka_create_compacted(rk, topic, (int)cfg->topic_replication,
	                              (int)cfg->topic_min_insync, 10000, err) != 0 &&
	    err->code != LT_EINVAL) /* not allowed: provisioned (lienthong-provision) */
		goto out;
	if (lt_kafka_produce(rk, topic, code, strlen(code), rec, len, NULL, err) != 0)
		goto out;
	int64_t until = lt_now_ms() + 60000;
	while (!dr.done && lt_now_ms() < until)
		rd_kafka_poll(rk, 100);
	if (!dr.done || dr.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		lt_err_set(err, LT_EIO, "%s not acknowledged by Kafka: %s", topic,
		           dr.done ? rd_kafka_err2str(dr.err) : "no answer within 60 s");
		goto out;
	}
	printf("%s %s %s on %s (serial %llu)\n", topic, code, withdrawn ? "withdrawn" : "published",
	       platform, (unsigned long long)in.serial);
	rc = 0;
out:
	lt_kafka_destroy(rk, 0);
	free(rec);
	OPENSSL_free(der);
	lt_signer_free(&signer);
	return rc;
}

static void lt_directory_print(const Lienthong__DirectoryEntry *e)
{
	char when[LT_TIME_TEXT];
	lt_time_format(e->issued_at_ms, when, sizeof when);
	printf("%s\t%s\t%llu\t%s\t%s\t%s\n", e->code, e->platform, (unsigned long long)e->serial,
	       when, e->withdrawn ? "withdrawn" : "-", e->certificate.len ? "certificate" : "-");
}

static int lt_directory_list_one(void *ctx, const void *key, size_t klen, const void *val,
                                 size_t vlen, lt_err *err)
{
	(void)ctx, (void)key, (void)klen, (void)err;
	Lienthong__DirectoryEntry *e = lienthong__directory_entry__unpack(NULL, vlen, val);
	if (e == NULL)
		return 0;
	lt_directory_print(e);
	lienthong__directory_entry__free_unpacked(e, NULL);
	return 0;
}

static int lt_directory_list_store(const struct lt_config *cfg, lt_err *err)
{
	struct lt_store *s = NULL;
	struct lt_txn *t = NULL;
	int rc = -1;
	if (lt_store_open(&s, cfg->data_dir, cfg->lmdb_map_size, err) != 0 ||
	    lt_txn_begin(s, 0, &t, err) != 0)
		goto out;
	rc = lt_txn_scan(t, LT_DB_DIRECTORY, NULL, 0, lt_directory_list_one, NULL, err);
out:
	if (t != NULL)
		lt_txn_abort(t);
	lt_store_close(s);
	return rc;
}

static void lt_directory_list_entry(void *ctx, const Lienthong__DirectoryEntry *e)
{
	(void)ctx;
	lt_directory_print(e);
}

static int lt_directory_list_topic(const struct lt_config *cfg, lt_err *err)
{
	struct lt_trust *trust = lt_trust_load(cfg->ca_file, err);
	if (trust == NULL)
		return -1;
	int rc = lt_dir_read_all(cfg, trust, lt_directory_list_entry, NULL, err);
	lt_trust_free(trust);
	return rc;
}

int main(int argc, char **argv)
{
	enum { OPT_CERT = 256, OPT_SERIAL, OPT_TOPIC };
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"cert", required_argument, NULL, OPT_CERT},
	                                     {"serial", required_argument, NULL, OPT_SERIAL},
	                                     {"topic", no_argument, NULL, OPT_TOPIC},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *config = NULL, *cert = NULL;
	unsigned long long serial = 0;
	int c, topic = 0;
	lt_log_init(argv[0], LT_LOG_WARN);
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case OPT_CERT:
			cert = optarg;
			break;
		case OPT_SERIAL: {
			char *end = NULL;
			serial = strtoull(optarg, &end, 10);
			if (end == optarg || *end != '\0' || serial == 0) {
				fprintf(stderr,
				        "lienthong-directory: --serial takes a number above 0\n");
				return 2;
			}
			break;
		}
		case OPT_TOPIC:
			topic = 1;
			break;
		case 'h':
			lt_directory_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'lienthong-directory --help'.\n");
			return 2;
		}
	}
	const char *cmd = optind < argc ? argv[optind] : NULL;
	int nargs = argc - optind - 1;
	int ok = config != NULL && cmd != NULL &&
	         ((strcmp(cmd, "publish") == 0 && nargs == 2) ||
	          (strcmp(cmd, "withdraw") == 0 && nargs == 2 && cert == NULL) ||
	          (strcmp(cmd, "list") == 0 && nargs == 0 && cert == NULL && serial == 0));
	if (!ok || (topic && strcmp(cmd, "list") != 0)) {
		fprintf(stderr, "lienthong-directory: %s\nTry 'lienthong-directory --help'.\n",
		        config == NULL ? "-c FILE is required" : "bad command or arguments");
		return 2;
	}
	static struct lt_config cfg;
	lt_err err;
	int rc;
	if (lt_config_load(&cfg, config, &err) != 0) {
		lt_log_error("%s", err.msg);
		return 1;
	}
	if (strcmp(cmd, "list") == 0) {
		rc = topic ? lt_directory_list_topic(&cfg, &err)
		           : lt_directory_list_store(&cfg, &err);
	} else {
		const char *code = argv[optind + 1], *platform = argv[optind + 2];
		rc = lt_config_check_code(&cfg, code, &err);
		if (rc == 0)
			rc = lt_directory_publish(&cfg, code, platform, cert, serial,
			                          strcmp(cmd, "withdraw") == 0, &err);
	}
	if (rc != 0)
		lt_log_error("%s", err.msg);
	lt_config_free(&cfg);
	return rc == 0 ? 0 : 1;
}
