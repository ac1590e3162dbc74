/*
 * lienthong-provision: creates, for a list of agencies, their topics and the
 * ACLs that let each one write to every inbox and receipt topic but read
 * only its own, on a broker that authorizes (deploy/kafka.sh with
 * LT_KAFKA_TLS_DIR).
 *
 *   lienthong-provision -c ADMIN.conf CODE...
 *
 * ADMIN.conf is a lienthong configuration whose kafka.* settings connect with
 * a super user's certificate (LT_KAFKA_SUPER_USERS); its topic_prefix,
 * topic_partitions, topic_replication and topic_min_insync are used. Principals are
 * User:<agency code>, the CN of the agency certificates. Idempotent: run it
 * again after adding an agency.
 *
 * Federation: --directory takes the agencies from the platform's directory
 * topic (entries verified: ADMIN.conf's ca_file), the platform's own ones
 * (platform setting) as agencies, the others' as shadow topics only;
 * --relay NAME grants a relay what its link needs, --operator NAME a
 * directory signer the directory topic.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../config/lt_config.h"
#include "../federation/lt_dirfollow.h"
#include "../log/lt_log.h"
#include "lt_kafka.h"

#define LT_PROVISION_ACLS 11  /* per agency */
#define LT_PROVISION_NAMES 16 /* --relay, --operator */

static void lt_provision_usage(FILE *out)
{
	fprintf(out,
	        "Usage: lienthong-provision -c ADMIN.conf [--directory] [--relay NAME]... "
	        "[--operator NAME]... [CODE...]\n"
	        "\n"
	        "For each agency CODE: creates <prefix>.inbox.CODE and <prefix>.receipts.CODE\n"
	        "and grants User:CODE (the CN of its certificate):\n"
	        "  READ, DESCRIBE on its own inbox and receipt topics and its consumer group\n"
	        "  (<prefix>.agent.CODE);\n"
	        "  WRITE, DESCRIBE on every topic starting <prefix>.inbox. and <prefix>.receipts.\n"
	        "  READ, DESCRIBE on <prefix>.directory (the federation directory).\n"
	        "Nothing else: an agency cannot read another agency's topics.\n"
	        "\n"
	        "Federation (README, Federation):\n"
	        "  --directory      also every agency of the platform's directory topic: those\n"
	        "                   of ADMIN.conf's platform as above, the others' inbox and\n"
	        "                   receipt topics (written to by this platform's agencies,\n"
	        "                   read by its relays) created. Run it again after publishing.\n"
	        "  --relay NAME     User:NAME (a relay's CN) may READ, WRITE, DESCRIBE and\n"
	        "                   CREATE every inbox and receipt topic and the directory, and\n"
	        "                   use its consumer groups (<prefix>.relay.NAME*).\n"
	        "  --operator NAME  User:NAME (a directory signer) may WRITE, READ, DESCRIBE and\n"
	        "                   CREATE <prefix>.directory (compacted, created here).\n"
	        "ADMIN.conf: a lienthong configuration whose kafka.* settings connect as a\n"
	        "super user of the broker. Existing topics and ACLs are kept.\n"
	        "Exit status: 0 when all is in place, 1 on an error, 2 on a usage error.\n");
}

static void lt_provision_dr(void *ctx, void *opaque, rd_kafka_resp_err_t err, int32_t partition,
                            int64_t offset)
{
	(void)ctx, (void)opaque, (void)err, (void)partition, (void)offset;
}

/* One agency of this platform: its topics and ACLs. */
static int lt_provision_agency(rd_kafka_t *rk, const struct lt_config *cfg, const char *code,
                               lt_err *err)
{
	char inbox_prefix[LT_TOPIC_MAX + 1], receipt_prefix[LT_TOPIC_MAX + 1];
	char inbox[LT_TOPIC_MAX + 1], receipts[LT_TOPIC_MAX + 1], dir[LT_TOPIC_MAX + 1];
	char group[300], reader[320], user[100];
	snprintf(inbox_prefix, sizeof inbox_prefix, "%s.inbox.", cfg->topic_prefix);
	snprintf(receipt_prefix, sizeof receipt_prefix, "%s.receipts.", cfg->topic_prefix);
	lt_config_inbox_topic(cfg, code, inbox, sizeof inbox);
	lt_config_receipt_topic(cfg, code, receipts, sizeof receipts);
	lt_dir_topic(cfg->topic_prefix, dir, sizeof dir);
	snprintf(group, sizeof group, "%s.agent.%s", cfg->topic_prefix, code);
	snprintf(reader, sizeof reader, "%s.reader", group);
	snprintf(user, sizeof user, "User:%s", code);
	const char *topics[] = {inbox, receipts};
	if (lt_kafka_create_topics(rk, topics, 2, (int)cfg->topic_partitions,
	                           (int)cfg->topic_replication, (int)cfg->topic_min_insync, 10000,
	                           err) != 0)
		return -1;
	const rd_kafka_ResourcePatternType_t lit = RD_KAFKA_RESOURCE_PATTERN_LITERAL;
	const rd_kafka_ResourcePatternType_t pre = RD_KAFKA_RESOURCE_PATTERN_PREFIXED;
	const struct lt_kafka_acl acls[LT_PROVISION_ACLS] = {
	    {RD_KAFKA_RESOURCE_TOPIC, inbox, lit, user, RD_KAFKA_ACL_OPERATION_READ},
	    {RD_KAFKA_RESOURCE_TOPIC, receipts, lit, user, RD_KAFKA_ACL_OPERATION_READ},
	    {RD_KAFKA_RESOURCE_GROUP, group, lit, user, RD_KAFKA_ACL_OPERATION_READ},
	    {RD_KAFKA_RESOURCE_TOPIC, inbox_prefix, pre, user, RD_KAFKA_ACL_OPERATION_WRITE},
	    {RD_KAFKA_RESOURCE_TOPIC, receipt_prefix, pre, user, RD_KAFKA_ACL_OPERATION_WRITE},
	    {RD_KAFKA_RESOURCE_TOPIC, inbox_prefix, pre, user, RD_KAFKA_ACL_OPERATION_DESCRIBE},
	    {RD_KAFKA_RESOURCE_TOPIC, receipt_prefix, pre, user, RD_KAFKA_ACL_OPERATION_DESCRIBE},
	    {RD_KAFKA_RESOURCE_GROUP, group, lit, user, RD_KAFKA_ACL_OPERATION_DESCRIBE},
	    {RD_KAFKA_RESOURCE_TOPIC, dir, lit, user, RD_KAFKA_ACL_OPERATION_READ},
	    {RD_KAFKA_RESOURCE_TOPIC, dir, lit, user, RD_KAFKA_ACL_OPERATION_DESCRIBE},
	    {RD_KAFKA_RESOURCE_GROUP, reader, lit, user, RD_KAFKA_ACL_OPERATION_READ},
	};
	if (lt_kafka_create_acls(rk, acls, LT_PROVISION_ACLS, 10000, err) != 0)
		return -1;
	printf("%s: topics %s, %s; ACLs for %s\n", code, inbox, receipts, user);
	return 0;
}

/* A relay of this platform: every inbox and receipt topic, the directory, its groups. */
static int lt_provision_relay(rd_kafka_t *rk, const struct lt_config *cfg, const char *name,
                              lt_err *err)
{
	char inbox_prefix[LT_TOPIC_MAX + 1], receipt_prefix[LT_TOPIC_MAX + 1];
	char dir[LT_TOPIC_MAX + 1], group[300], user[100];
	snprintf(inbox_prefix, sizeof inbox_prefix, "%s.inbox.", cfg->topic_prefix);
	snprintf(receipt_prefix, sizeof receipt_prefix, "%s.receipts.", cfg->topic_prefix);
	lt_dir_topic(cfg->topic_prefix, dir, sizeof dir);
	snprintf(group, sizeof group, "%s.relay.%s", cfg->topic_prefix, name);
	snprintf(user, sizeof user, "User:%s", name);
	const rd_kafka_ResourcePatternType_t lit = RD_KAFKA_RESOURCE_PATTERN_LITERAL;
	const rd_kafka_ResourcePatternType_t pre = RD_KAFKA_RESOURCE_PATTERN_PREFIXED;
	const rd_kafka_AclOperation_t ops[] = {
	    RD_KAFKA_ACL_OPERATION_READ, RD_KAFKA_ACL_OPERATION_WRITE,
	    RD_KAFKA_ACL_OPERATION_DESCRIBE, RD_KAFKA_ACL_OPERATION_CREATE};
	struct lt_kafka_acl acls[14];
	size_t n = 0;
	for (size_t i = 0; i < 4; i++) {
		acls[n++] =
		    (struct lt_kafka_acl){RD_KAFKA_RESOURCE_TOPIC, inbox_prefix, pre, user, ops[i]};
		acls[n++] = (struct lt_kafka_acl){RD_KAFKA_RESOURCE_TOPIC, receipt_prefix, pre,
		                                  user, ops[i]};
		acls[n++] = (struct lt_kafka_acl){RD_KAFKA_RESOURCE_TOPIC, dir, lit, user, ops[i]};
	}
	acls[n++] = (struct lt_kafka_acl){RD_KAFKA_RESOURCE_GROUP, group, pre, user,
	                                  RD_KAFKA_ACL_OPERATION_READ};
	acls[n++] = (struct lt_kafka_acl){RD_KAFKA_RESOURCE_GROUP, group, pre, user,
	                                  RD_KAFKA_ACL_OPERATION_DESCRIBE};
	if (lt_kafka_create_acls(rk, acls, n, 10000, err) != 0)
		return -1;
	printf("relay %s: ACLs for %s on %s*, %s*, %s\n", name, user, inbox_prefix, receipt_prefix,
	       dir);
	return 0;
}

/* A directory signer of this platform: the directory topic. */
static int lt_provision_operator(rd_kafka_t *rk, const struct lt_config *cfg, const char *name,
                                 lt_err *err)
{
	char dir[LT_TOPIC_MAX + 1], user[100];
	lt_dir_topic(cfg->topic_prefix, dir, sizeof dir);
	snprintf(user, sizeof user, "User:%s", name);
	if (lt_kafka_create_compacted(rk, dir, (int)cfg->topic_replication,
	                              (int)cfg->topic_min_insync, 10000, err) != 0)
		return -1;
	const rd_kafka_ResourcePatternType_t lit = RD_KAFKA_RESOURCE_PATTERN_LITERAL;
	const struct lt_kafka_acl acls[] = {
	    {RD_KAFKA_RESOURCE_TOPIC, dir, lit, user, RD_KAFKA_ACL_OPERATION_WRITE},
	    {RD_KAFKA_RESOURCE_TOPIC, dir, lit, user, RD_KAFKA_ACL_OPERATION_READ},
	    {RD_KAFKA_RESOURCE_TOPIC, dir, lit, user, RD_KAFKA_ACL_OPERATION_DESCRIBE},
	    {RD_KAFKA_RESOURCE_TOPIC, dir, lit, user, RD_KAFKA_ACL_OPERATION_CREATE},
	};
	if (lt_kafka_create_acls(rk, acls, sizeof acls / sizeof acls[0], 10000, err) != 0)
		return -1;
	printf("operator %s: ACLs for %s on %s\n", name, user, dir);
	return 0;
}

/* --directory: what the platform's directory lists. */
struct lt_provision_dir {
	rd_kafka_t *rk;
	const struct lt_config *cfg;
	int failed;
	lt_err err;
};

static void lt_provision_entry(void *ctx, const Lienthong__DirectoryEntry *e)
{
	struct lt_provision_dir *d = ctx;
	char inbox[LT_TOPIC_MAX + 1], receipts[LT_TOPIC_MAX + 1];
	if (d->failed || e->withdrawn)
		return;
	if (strcmp(e->platform, d->cfg->platform) == 0) {
		d->failed = lt_provision_agency(d->rk, d->cfg, e->code, &d->err) != 0;
		return;
	}
	lt_config_inbox_topic(d->cfg, e->code, inbox, sizeof inbox);
	lt_config_receipt_topic(d->cfg, e->code, receipts, sizeof receipts);
	const char *topics[] = {inbox, receipts};
	d->failed = lt_kafka_create_topics(d->rk, topics, 2, (int)d->cfg->topic_partitions,
	                                   (int)d->cfg->topic_replication,
	                                   (int)d->cfg->topic_min_insync, 10000, &d->err) != 0;
	if (!d->failed)
		printf("%s (on %s): topics %s, %s\n", e->code, e->platform, inbox, receipts);
}

int main(int argc, char **argv)
{
	enum { OPT_DIRECTORY = 256, OPT_RELAY, OPT_OPERATOR };
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"directory", no_argument, NULL, OPT_DIRECTORY},
	                                     {"relay", required_argument, NULL, OPT_RELAY},
	                                     {"operator", required_argument, NULL, OPT_OPERATOR},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *config = NULL, *relays[LT_PROVISION_NAMES], *operators[LT_PROVISION_NAMES];
	size_t n_relays = 0, n_operators = 0;
	int c, directory = 0;
	lt_log_init(argv[0], LT_LOG_WARN);
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		if (c == 'c') {
			config = optarg;
		} else if (c == OPT_DIRECTORY) {
			directory = 1;
		} else if (c == OPT_RELAY && n_relays < LT_PROVISION_NAMES) {
			relays[n_relays++] = optarg;
		} else if (c == OPT_OPERATOR && n_operators < LT_PROVISION_NAMES) {
			operators[n_operators++] = optarg;
		} else if (c == 'h') {
			lt_provision_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "Try 'lienthong-provision --help'.\n");
			return 2;
		}
	}
	if (config == NULL || (optind == argc && !directory && n_relays + n_operators == 0)) {
		fprintf(stderr, "lienthong-provision: %s\nTry 'lienthong-provision --help'.\n",
		        config == NULL ? "-c ADMIN.conf is required" : "no agency CODE given");
		return 2;
	}
	static struct lt_config cfg;
	rd_kafka_t *rk = NULL;
	lt_err err;
	int rc = 1;
	if (lt_config_load(&cfg, config, &err) != 0)
		goto fail;
	for (int i = optind; i < argc; i++) {
		if (lt_config_check_code(&cfg, argv[i], &err) != 0)
			goto fail;
	}
	rk = lt_kafka_producer_new(&cfg, lt_provision_dr, NULL, &err);
	if (rk == NULL)
		goto fail;
	for (size_t i = 0; i < n_operators; i++)
		if (lt_provision_operator(rk, &cfg, operators[i], &err) != 0)
			goto fail;
	for (size_t i = 0; i < n_relays; i++)
		if (lt_provision_relay(rk, &cfg, relays[i], &err) != 0)
			goto fail;
	for (int i = optind; i < argc; i++)
		if (lt_provision_agency(rk, &cfg, argv[i], &err) != 0)
			goto fail;
	if (directory) {
		struct lt_provision_dir d = {.rk = rk, .cfg = &cfg};
		struct lt_trust *trust = NULL;
		if (cfg.platform[0] == '\0') {
			lt_err_set(
			    &err, LT_EINVAL,
			    "%s: --directory needs the platform setting (this platform's code)",
			    config);
			goto fail;
		}
		if ((trust = lt_trust_load(cfg.ca_file, &err)) == NULL)
			goto fail;
		int r = lt_dir_read_all(&cfg, trust, lt_provision_entry, &d, &err);
		lt_trust_free(trust);
		if (r != 0)
			goto fail;
		if (d.failed) {
			err = d.err;
			goto fail;
		}
	}
	rc = 0;
	goto out;
fail:
	lt_log_error("%s", err.msg);
out:
	lt_kafka_destroy(rk, 0);
	lt_config_free(&cfg);
	return rc;
}
