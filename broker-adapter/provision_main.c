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
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../config/lt_config.h"
#include "../log/lt_log.h"
#include "lt_kafka.h"

#define LT_PROVISION_ACLS 8 /* per agency */

static void lt_provision_usage(FILE *out)
{
	fprintf(out,
	        "Usage: lienthong-provision -c ADMIN.conf CODE...\n"
	        "\n"
	        "For each agency CODE: creates <prefix>.inbox.CODE and <prefix>.receipts.CODE\n"
	        "and grants User:CODE (the CN of its certificate):\n"
	        "  READ, DESCRIBE on its own inbox and receipt topics and its consumer group\n"
	        "  (<prefix>.agent.CODE);\n"
	        "  WRITE, DESCRIBE on every topic starting <prefix>.inbox. and <prefix>.receipts.\n"
	        "Nothing else: an agency cannot read another agency's topics.\n"
	        "ADMIN.conf: a lienthong configuration whose kafka.* settings connect as a\n"
	        "super user of the broker. Existing topics and ACLs are kept.\n"
	        "Exit status: 0 when all is in place, 1 on an error, 2 on a usage error.\n");
}

static void lt_provision_dr(void *ctx, void *opaque, rd_kafka_resp_err_t err, int32_t partition,
                            int64_t offset)
{
	(void)ctx, (void)opaque, (void)err, (void)partition, (void)offset;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *config = NULL;
	int c;
	lt_log_init(argv[0], LT_LOG_WARN);
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		if (c == 'c') {
			config = optarg;
		} else if (c == 'h') {
			lt_provision_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "Try 'lienthong-provision --help'.\n");
			return 2;
		}
	}
	if (config == NULL || optind == argc) {
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
	char inbox_prefix[LT_TOPIC_MAX + 1], receipt_prefix[LT_TOPIC_MAX + 1];
	snprintf(inbox_prefix, sizeof inbox_prefix, "%s.inbox.", cfg.topic_prefix);
	snprintf(receipt_prefix, sizeof receipt_prefix, "%s.receipts.", cfg.topic_prefix);
	for (int i = optind; i < argc; i++) {
		const char *code = argv[i];
		char inbox[LT_TOPIC_MAX + 1], receipts[LT_TOPIC_MAX + 1], group[300], user[100];
		lt_config_inbox_topic(&cfg, code, inbox, sizeof inbox);
		lt_config_receipt_topic(&cfg, code, receipts, sizeof receipts);
		snprintf(group, sizeof group, "%s.agent.%s", cfg.topic_prefix, code);
		snprintf(user, sizeof user, "User:%s", code);
		const char *topics[] = {inbox, receipts};
		if (lt_kafka_create_topics(rk, topics, 2, (int)cfg.topic_partitions,
		                           (int)cfg.topic_replication, (int)cfg.topic_min_insync,
		                           10000, &err) != 0)
			goto fail;
		const rd_kafka_ResourcePatternType_t lit = RD_KAFKA_RESOURCE_PATTERN_LITERAL;
		const rd_kafka_ResourcePatternType_t pre = RD_KAFKA_RESOURCE_PATTERN_PREFIXED;
		const struct lt_kafka_acl acls[LT_PROVISION_ACLS] = {
		    {RD_KAFKA_RESOURCE_TOPIC, inbox, lit, user, RD_KAFKA_ACL_OPERATION_READ},
		    {RD_KAFKA_RESOURCE_TOPIC, receipts, lit, user, RD_KAFKA_ACL_OPERATION_READ},
		    {RD_KAFKA_RESOURCE_GROUP, group, lit, user, RD_KAFKA_ACL_OPERATION_READ},
		    {RD_KAFKA_RESOURCE_TOPIC, inbox_prefix, pre, user,
		     RD_KAFKA_ACL_OPERATION_WRITE},
		    {RD_KAFKA_RESOURCE_TOPIC, receipt_prefix, pre, user,
		     RD_KAFKA_ACL_OPERATION_WRITE},
		    {RD_KAFKA_RESOURCE_TOPIC, inbox_prefix, pre, user,
		     RD_KAFKA_ACL_OPERATION_DESCRIBE},
		    {RD_KAFKA_RESOURCE_TOPIC, receipt_prefix, pre, user,
		     RD_KAFKA_ACL_OPERATION_DESCRIBE},
		    {RD_KAFKA_RESOURCE_GROUP, group, lit, user, RD_KAFKA_ACL_OPERATION_DESCRIBE},
		};
		if (lt_kafka_create_acls(rk, acls, LT_PROVISION_ACLS, 10000, &err) != 0)
			goto fail;
		printf("%s: topics %s, %s; ACLs for %s\n", code, inbox, receipts, user);
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
