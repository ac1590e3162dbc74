/* Unit tests of lt_config: parsing, defaults, path resolution and error messages. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../../config/lt_config.h"
#include "lt_check.h"
#include "lt_testpki.h"

static char tmp[64];

/* The settings every configuration needs, for tests about something else. */
#define REQUIRED                                                                                   \
	"agency_code = G22\n"                                                                      \
	"data_dir = /var/lib/lt\n"                                                                 \
	"key_file = /k.pem\n"                                                                      \
	"cert_file = /c.pem\n"                                                                     \
	"ca_file = /ca.pem\n"

/* Parses text as file "cfg"; returns what lt_config_parse returned, err filled. */
static int parse(const char *text, struct lt_config *cfg, lt_err *err)
{
	lt_err_clear(err);
	int rc = lt_config_parse(cfg, "cfg", text, strlen(text), err);
	lt_config_free(cfg);
	return rc;
}

/* Expects text to be refused as LT_EINVAL with a message containing each of want[]. */
static void refused(const char *text, const char *const *want, size_t n)
{
	struct lt_config cfg;
	lt_err err;
	CHECK(parse(text, &cfg, &err) == -1);
	CHECK(err.code == LT_EINVAL);
	for (size_t i = 0; i < n; i++)
		CHECK_STR_CONTAINS(err.msg, want[i]);
}

#define REFUSED(text, ...)                                                                         \
	refused((text), (const char *const[]){__VA_ARGS__},                                        \
	        sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static void test_good_file(void)
{
	char path[PATH_MAX], sub[PATH_MAX], want[PATH_MAX + 64];
	struct lt_config cfg;
	lt_err err;
	snprintf(sub, sizeof sub, "%s/etc", tmp);
	if (!CHECK(mkdir(sub, 0700) == 0))
		return;
	snprintf(path, sizeof path, "%s/agency.conf", sub);
	CHECK(lt_write_file(path, "# lienthong test agency\n"
	                          "\n"
	                          "agency_code = 000.00.00.G22\n"
	                          "  data_dir\t=  data  \r\n"
	                          "key_file = /abs/agency.key\n"
	                          "cert_file = certs/agency.crt\n"
	                          "ca_file = ../ca.pem\n"
	                          "target_dir = out\n"
	                          "lmdb_map_size = 2G\n"
	                          "max_message_bytes = 512k\n"
	                          "topic_partitions = 6\n"
	                          "topic_replication = 3\n"
	                          "topic_min_insync = 2\n"
	                          "log_level = debug\n"
	                          "log_format = json\n"
	                          "kafka.bootstrap.servers = 10.0.0.1:9092,10.0.0.2:9092\n"
	                          "kafka.security.protocol = ssl\n") == 0);
	lt_err_clear(&err);
	if (!CHECK_OK(lt_config_load(&cfg, path, &err), err)) {
		lt_config_free(&cfg);
		return;
	}
	CHECK(strcmp(cfg.path, path) == 0);
	CHECK(strcmp(cfg.agency_code, "000.00.00.G22") == 0);
	/* Relative paths are resolved against the file's folder; absolute ones are kept. */
	snprintf(want, sizeof want, "%s/data", sub);
	CHECK(strcmp(cfg.data_dir, want) == 0);
	snprintf(want, sizeof want, "%s/certs/agency.crt", sub);
	CHECK(strcmp(cfg.cert_file, want) == 0);
	snprintf(want, sizeof want, "%s/../ca.pem", sub);
	CHECK(strcmp(cfg.ca_file, want) == 0);
	snprintf(want, sizeof want, "%s/out", sub);
	CHECK(strcmp(cfg.target_dir, want) == 0);
	CHECK(strcmp(cfg.key_file, "/abs/agency.key") == 0);
	/* An empty optional path stays empty, not "<dir>/". */
	CHECK(cfg.crl_file[0] == '\0');
	CHECK(cfg.target_ca_file[0] == '\0');
	/* Values and size suffixes (binary, either case). */
	CHECK(cfg.lmdb_map_size == 2LL * 1024 * 1024 * 1024);
	CHECK(cfg.max_message_bytes == 512 * 1024);
	CHECK(cfg.topic_partitions == 6);
	CHECK(cfg.topic_replication == 3);
	CHECK(cfg.topic_min_insync == 2);
	CHECK(strcmp(cfg.log_level, "debug") == 0);
	CHECK(strcmp(cfg.log_format, "json") == 0);
	/* Defaults. */
	CHECK(cfg.max_parts == 64);
	CHECK(cfg.poll_interval_ms == 200);
	CHECK(cfg.delivery_deadline_s == 86400);
	CHECK(cfg.target_timeout_ms == 30000);
	CHECK(cfg.retry_backoff_min_ms == 500);
	CHECK(cfg.retry_backoff_max_ms == 30000);
	CHECK(cfg.max_in_flight == 2000);
	CHECK(strcmp(cfg.topic_prefix, "lienthong") == 0);
	CHECK(strcmp(cfg.group_id, "lienthong.agent.000.00.00.G22") == 0);
	CHECK(cfg.target_url[0] == '\0');
	/* kafka.* settings are stored without the prefix, in file order. */
	CHECK(cfg.n_kafka == 2);
	CHECK(strcmp(cfg.kafka[0].key, "bootstrap.servers") == 0);
	const char *v = lt_config_kafka_get(&cfg, "bootstrap.servers");
	CHECK(v != NULL && strcmp(v, "10.0.0.1:9092,10.0.0.2:9092") == 0);
	v = lt_config_kafka_get(&cfg, "security.protocol");
	CHECK(v != NULL && strcmp(v, "ssl") == 0);
	CHECK(lt_config_kafka_get(&cfg, "kafka.bootstrap.servers") == NULL);
	CHECK(lt_config_kafka_get(&cfg, "acks") == NULL);
	/* Topic names. */
	char topic[300];
	lt_config_inbox_topic(&cfg, "H7", topic, sizeof topic);
	CHECK(strcmp(topic, "lienthong.inbox.H7") == 0);
	lt_config_receipt_topic(&cfg, "H7", topic, sizeof topic);
	CHECK(strcmp(topic, "lienthong.receipts.H7") == 0);
	lt_config_free(&cfg);
}

static void test_defaults_and_group_id(void)
{
	struct lt_config cfg;
	lt_err err;
	lt_err_clear(&err);
	/* Text without a file: paths are kept as written. */
	static const char only_required[] = REQUIRED;
	if (CHECK_OK(lt_config_parse(&cfg, "", only_required, strlen(only_required), &err), err)) {
		CHECK(cfg.lmdb_map_size == 1LL << 30); /* default "1G" */
		CHECK(cfg.max_message_bytes == 1000000);
		CHECK(cfg.topic_partitions == 3);
		CHECK(cfg.topic_replication == -1);
		CHECK(cfg.topic_min_insync == -1);
		CHECK(strcmp(cfg.log_format, "text") == 0);
		CHECK(strcmp(cfg.log_level, "info") == 0);
		CHECK(strcmp(cfg.agency_code_pattern, "^[A-Za-z0-9]+([.][A-Za-z0-9]+)*$") == 0);
		CHECK(strcmp(cfg.group_id, "lienthong.agent.G22") == 0);
		CHECK(cfg.n_kafka == 0);
	}
	lt_config_free(&cfg);

	static const char prefixed[] = REQUIRED "topic_prefix = gov.vn\n";
	if (CHECK_OK(lt_config_parse(&cfg, "cfg", prefixed, strlen(prefixed), &err), err)) {
		CHECK(strcmp(cfg.group_id, "gov.vn.agent.G22") == 0);
		char topic[300];
		lt_config_inbox_topic(&cfg, "G22", topic, sizeof topic);
		CHECK(strcmp(topic, "gov.vn.inbox.G22") == 0);
	}
	lt_config_free(&cfg);

	static const char grouped[] = REQUIRED "group_id = my-group\n";
	if (CHECK_OK(lt_config_parse(&cfg, "cfg", grouped, strlen(grouped), &err), err))
		CHECK(strcmp(cfg.group_id, "my-group") == 0);
	lt_config_free(&cfg);

	/* Sizes without suffix, with lower-case suffix, and at the bounds. */
	static const char sizes[] = REQUIRED "lmdb_map_size = 1048576\n"
	                                     "max_message_bytes = 64M\n"
	                                     "max_parts = 10000\n";
	if (CHECK_OK(lt_config_parse(&cfg, "cfg", sizes, strlen(sizes), &err), err)) {
		CHECK(cfg.lmdb_map_size == 1 << 20);
		CHECK(cfg.max_message_bytes == 64 << 20);
		CHECK(cfg.max_parts == 10000);
	}
	lt_config_free(&cfg);

	static const char one_t[] = REQUIRED "lmdb_map_size = 1t\n";
	if (CHECK_OK(lt_config_parse(&cfg, "cfg", one_t, strlen(one_t), &err), err))
		CHECK(cfg.lmdb_map_size == 1LL << 40);
	lt_config_free(&cfg);

	/* A custom agency code pattern is applied to this agency and to others. */
	static const char pattern[] = "agency_code_pattern = ^G[0-9]+$\n" REQUIRED;
	if (CHECK_OK(lt_config_parse(&cfg, "cfg", pattern, strlen(pattern), &err), err)) {
		CHECK(lt_config_check_code(&cfg, "G7", &err) == 0);
		CHECK(lt_config_check_code(&cfg, "H7", &err) == -1);
		CHECK_STR_CONTAINS(err.msg, "does not match agency_code_pattern '^G[0-9]+$'");
	}
	lt_config_free(&cfg);
}

static void test_check_code(void)
{
	struct lt_config cfg;
	lt_err err;
	static const char text[] = REQUIRED;
	if (!CHECK_OK(lt_config_parse(&cfg, "cfg", text, strlen(text), &err), err)) {
		lt_config_free(&cfg);
		return;
	}
	char long_code[LT_CODE_MAX + 2];
	memset(long_code, 'A', sizeof long_code - 1);
	long_code[LT_CODE_MAX + 1] = '\0';
	CHECK(lt_config_check_code(&cfg, "000.00.00.G22", &err) == 0);
	long_code[LT_CODE_MAX] = '\0'; /* exactly the limit */
	CHECK(lt_config_check_code(&cfg, long_code, &err) == 0);
	long_code[LT_CODE_MAX] = 'A';
	CHECK(lt_config_check_code(&cfg, long_code, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "must have 1 to 64 characters");
	CHECK(lt_config_check_code(&cfg, "", &err) == -1);
	CHECK(lt_config_check_code(&cfg, "A/B", &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "cannot appear in a topic name");
	CHECK(lt_config_check_code(&cfg, "A B", &err) == -1);
	CHECK(err.code == LT_EINVAL);
	/* Topic-safe characters that the default pattern still refuses. */
	CHECK(lt_config_check_code(&cfg, "A_B", &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "does not match agency_code_pattern");
	CHECK(lt_config_check_code(&cfg, "A..B", &err) == -1);
	CHECK(lt_config_check_code(&cfg, ".A", &err) == -1);
	lt_config_free(&cfg);
}

static void test_errors(void)
{
	/* Unknown key: file, line (comments and blank lines count), key. */
	REFUSED("# comment\n\nfoo = 1\n" REQUIRED, "cfg:3: unknown key 'foo'", "kafka.");
	/* Bad integer and size values. */
	REFUSED(REQUIRED "topic_partitions = abc\n",
	        "cfg:6: bad value for 'topic_partitions': 'abc' is not an integer");
	REFUSED(REQUIRED "max_parts = 12x\n", "cfg:6: bad value for 'max_parts'");
	REFUSED(REQUIRED "max_parts = \n", "cfg:6: bad value for 'max_parts'");
	REFUSED(REQUIRED "topic_partitions = 3K\n", "cfg:6: bad value for 'topic_partitions'",
	        "not an integer");
	REFUSED(REQUIRED "lmdb_map_size = 1X\n", "cfg:6: bad value for 'lmdb_map_size'",
	        "not a size");
	REFUSED(REQUIRED "lmdb_map_size = 1.5G\n", "cfg:6: bad value for 'lmdb_map_size'");
	REFUSED(REQUIRED "lmdb_map_size = 99999999999999999999\n",
	        "cfg:6: bad value for 'lmdb_map_size'");
	REFUSED(REQUIRED "lmdb_map_size = 9999999999T\n", "cfg:6: bad value for 'lmdb_map_size'");
	/* Out of range. */
	REFUSED(REQUIRED "topic_partitions = 0\n",
	        "cfg:6: bad value for 'topic_partitions': 0 is outside 1..1000");
	REFUSED(REQUIRED "lmdb_map_size = 512K\n", "cfg:6: bad value for 'lmdb_map_size'",
	        "524288 is outside 1048576..");
	REFUSED(REQUIRED "max_message_bytes = 65M\n", "'max_message_bytes'", "is outside");
	REFUSED(REQUIRED "poll_interval_ms = -5\n", "'poll_interval_ms': -5 is outside");
	REFUSED(REQUIRED "retry_backoff_min_ms = 5000\nretry_backoff_max_ms = 1000\n",
	        "retry_backoff_min_ms (5000) is above retry_backoff_max_ms (1000)");
	REFUSED(REQUIRED "log_level = verbose\n", "cfg:6: bad value for 'log_level': 'verbose'");
	REFUSED(REQUIRED "log_format = xml\n", "cfg: bad value for 'log_format': 'xml'");
	REFUSED(REQUIRED "topic_replication = 2\ntopic_min_insync = 3\n",
	        "topic_min_insync at most topic_replication");
	REFUSED(REQUIRED "topic_replication = 0\n",
	        "must be -1 (the broker's default) or at least 1");
	/* Missing required settings, each named. */
	REFUSED("agency_code = G22\ndata_dir = /d\nkey_file = /k\ncert_file = /c\n",
	        "cfg: missing required setting 'ca_file'");
	REFUSED("data_dir = /d\nkey_file = /k\ncert_file = /c\nca_file = /a\n",
	        "cfg: missing required setting 'agency_code'");
	REFUSED("", "missing required setting");
	/* Duplicates. */
	REFUSED(REQUIRED "data_dir = /other\n", "cfg:6: 'data_dir' is set twice");
	REFUSED(REQUIRED "kafka.acks = 1\nkafka.acks = all\n", "cfg:7: 'kafka.acks' is set twice");
	/* Syntax. */
	REFUSED(REQUIRED "just some words\n", "cfg:6: expected 'key = value'", "just some words");
	REFUSED(REQUIRED " = 5\n", "cfg:6: missing key before '='");
	REFUSED(REQUIRED "kafka. = 5\n", "cfg:6: bad kafka setting name");
	/* Agency codes. */
	REFUSED("agency_code = A..B\ndata_dir = /d\nkey_file = /k\ncert_file = /c\nca_file = /a\n",
	        "cfg: agency_code", "'A..B' does not match agency_code_pattern");
	REFUSED("agency_code = A/B\ndata_dir = /d\nkey_file = /k\ncert_file = /c\nca_file = /a\n",
	        "cfg: agency_code", "cannot appear in a topic name");
	REFUSED(REQUIRED "agency_code_pattern = ^H[0-9]+$\n", "cfg: agency_code",
	        "'G22' does not match agency_code_pattern '^H[0-9]+$'");
	REFUSED(REQUIRED "agency_code_pattern = ([\n", "cfg: bad agency_code_pattern '(['");
	/* Topic prefix. */
	REFUSED(REQUIRED "topic_prefix = lien/thong\n", "cfg: topic_prefix 'lien/thong'",
	        "only letters, digits");
	REFUSED(REQUIRED "topic_prefix = lien thong\n", "topic_prefix 'lien thong'");
	REFUSED(REQUIRED "topic_prefix =\n", "topic_prefix ''");
}

/* A NUL byte inside the text (the length is given, not found by strlen). */
static void test_nul_byte(void)
{
	static const char text[] = REQUIRED "max_parts = 5\0junk\n";
	struct lt_config cfg;
	lt_err err;
	CHECK(lt_config_parse(&cfg, "cfg", text, sizeof text - 1, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "cfg:6: NUL byte in a text file");
	lt_config_free(&cfg);
}

static void test_long_line(void)
{
	static char text[LT_CONFIG_LINE_MAX + 200];
	struct lt_config cfg;
	lt_err err;
	size_t n = (size_t)snprintf(text, sizeof text, "%s# ", REQUIRED);
	memset(text + n, 'x', LT_CONFIG_LINE_MAX);
	text[n + LT_CONFIG_LINE_MAX] = '\0';
	CHECK(lt_config_parse(&cfg, "cfg", text, strlen(text), &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "cfg:6: line longer than 4096 bytes");
	lt_config_free(&cfg);
}

static void test_file_errors(void)
{
	char path[PATH_MAX];
	struct lt_config cfg;
	lt_err err;
	snprintf(path, sizeof path, "%s/no-such.conf", tmp);
	CHECK(lt_config_load(&cfg, path, &err) == -1);
	CHECK(err.code == LT_EIO);
	CHECK_STR_CONTAINS(err.msg, path);
	CHECK_STR_CONTAINS(err.msg, "No such file or directory");

	/* Errors in a file name the file's path and the line. */
	snprintf(path, sizeof path, "%s/bad.conf", tmp);
	CHECK(lt_write_file(path, REQUIRED "max_parts = many\n") == 0);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof want, "%s:6: bad value for 'max_parts'", path);
	CHECK(lt_config_load(&cfg, path, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, want);
	lt_config_free(&cfg);
}

int main(void)
{
	if (lt_tmpdir_new(tmp, sizeof tmp) != 0)
		return 1;
	LT_RUN(test_good_file);
	LT_RUN(test_defaults_and_group_id);
	LT_RUN(test_check_code);
	LT_RUN(test_errors);
	LT_RUN(test_nul_byte);
	LT_RUN(test_long_line);
	LT_RUN(test_file_errors);
	lt_tmpdir_remove(tmp);
	return lt_check_summary();
}
