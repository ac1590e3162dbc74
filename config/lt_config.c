#include "lt_config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum lt_config_type { LT_CT_STRING, LT_CT_PATH, LT_CT_INT, LT_CT_SIZE, LT_CT_LEVEL, LT_CT_FORMAT };

struct lt_config_row {
	const char *name;
	enum lt_config_type type;
	size_t offset;
	size_t size;     /* for strings: capacity of the field */
	const char *def; /* NULL: required */
	int64_t min, max;
	const char *doc;
};

#define LT_STR(field) offsetof(struct lt_config, field), sizeof(((struct lt_config *)0)->field)
#define LT_NUM(field) offsetof(struct lt_config, field), 0

static const struct lt_config_row lt_config_rows[] = {
    {"agency_code", LT_CT_STRING, LT_STR(agency_code), NULL, 0, 0,
     "This agency's code (its national electronic identifier); must match "
     "agency_code_pattern and the CN of cert_file."},
    {"agency_code_pattern", LT_CT_STRING, LT_STR(agency_code_pattern),
     "^[A-Za-z0-9]+([.][A-Za-z0-9]+)*$", 0, 0,
     "POSIX extended regular expression every agency code must match (at most 64 "
     "characters; only letters, digits, '.', '_' and '-' are ever allowed, as in Kafka "
     "topic names)."},
    {"data_dir", LT_CT_PATH, LT_STR(data_dir), NULL, 0, 0,
     "Directory of this agency's LMDB environment (outbox, status, inbox, quarantine). "
     "Created if missing. Shared by the agent, lienthong-upload and lienthong-status."},
    {"lmdb_map_size", LT_CT_SIZE, LT_NUM(lmdb_map_size), "1G", 1 << 20, (int64_t)1 << 40,
     "Largest size of the LMDB environment (suffix K, M, G, T). When full, submissions "
     "are refused with an error; raise it and restart."},
    {"key_file", LT_CT_PATH, LT_STR(key_file), NULL, 0, 0,
     "PEM private key of this agency (ECDSA P-256, Ed25519 or RSA >= 2048 bits), "
     "readable by its owner only (mode 0600)."},
    {"cert_file", LT_CT_PATH, LT_STR(cert_file), NULL, 0, 0,
     "PEM X.509 certificate of this agency, issued by the CA in ca_file, with "
     "CN = agency_code and the agency document-signing purpose (see README). It "
     "travels with every signed envelope and receipt."},
    {"ca_file", LT_CT_PATH, LT_STR(ca_file), NULL, 0, 0,
     "PEM file of the certificate authorities (and intermediates) trusted to issue "
     "agency certificates."},
    {"crl_file", LT_CT_PATH, LT_STR(crl_file), "", 0, 0,
     "PEM file of certificate revocation lists. When set, every CA on a signer's chain "
     "must have a CRL here, and revoked signers are rejected. The agent re-reads it when "
     "it changes and every 5 minutes, without a restart. While a CRL is expired, documents "
     "wait (retried, the sender told why) until a current one is written here."},
    {"agency_certs_dir", LT_CT_PATH, LT_STR(agency_certs_dir), "", 0, 0,
     "Folder of other agencies' certificates, named <CODE>.crt, to encrypt parts to them "
     "(checked against ca_file and their CN when used)."},
    {"encrypt_parts", LT_CT_INT, LT_NUM(encrypt_parts), "0", 0, 1,
     "1: lienthong-upload encrypts every part to the recipients' certificates "
     "(agency_certs_dir), so the broker and other agencies see only ciphertext; "
     "--encrypt and --no-encrypt decide per submission."},
    {"target_dir", LT_CT_PATH, LT_STR(target_dir), "", 0, 0,
     "Folder target: each delivered document appears as <target_dir>/<sender>/<document id>/ "
     "holding its parts, moved in by one atomic rename. The agent needs target_dir or target_url."},
    {"target_url", LT_CT_STRING, LT_STR(target_url), "", 0, 0,
     "HTTP target: when set, each verified document is POSTed to this http:// or https:// "
     "URL as multipart/form-data (a 'metadata' JSON field, then one 'part' file field per "
     "part, header Idempotency-Key: <sender>/<document id>) instead of being written to "
     "target_dir. "
     "2xx delivers; 4xx (but 408 and 429) refuses for good (status failed); anything else "
     "is retried."},
    {"target_format", LT_CT_FORMAT, LT_STR(target_format), "files", 0, 0,
     "What the target receives: files (each part as a file, or a multipart/form-data POST) "
     "or edxml (one edXML message, QCVN 102:2016, holding the header and every part: "
     "<target_dir>/<sender>/<document id>/message.edxml, or a POST of it with Content-Type "
     "application/xml), for a document-management system that speaks edXML."},
    {"status_dir", LT_CT_PATH, LT_STR(status_dir), "", 0, 0,
     "Folder where the agent writes each business status (01 to 06, 15, 16) it receives "
     "about a document it sent as an edXML status message, <document id>.<recipient>."
     "<code>.edxml, for the agency's document system (written whole: temporary file, "
     "fsync, rename). Empty: none written."},
    {"target_timeout_ms", LT_CT_INT, LT_NUM(target_timeout_ms), "30000", 100, 120000,
     "Time limit of one HTTP delivery attempt. At most 2 minutes: the agent delivers "
     "between polls of Kafka, which expects a poll at least every 5 minutes."},
    {"target_ca_file", LT_CT_PATH, LT_STR(target_ca_file), "", 0, 0,
     "PEM CA bundle to verify an https target_url (default: the system's)."},
    {"target_cert_file", LT_CT_PATH, LT_STR(target_cert_file), "", 0, 0,
     "PEM client certificate for an https target_url that requires one."},
    {"target_key_file", LT_CT_PATH, LT_STR(target_key_file), "", 0, 0,
     "PEM private key of target_cert_file."},
    {"report_dir", LT_CT_PATH, LT_STR(report_dir), "", 0, 0,
     "Folder where the target system drops business statuses of received documents, one "
     "small JSON file per report (format in the README, lienthong-report) or an edXML "
     "status message (.xml, .edxml); the agent "
     "applies each and moves it into done/ or failed/ (with a .error file saying why). "
     "Empty: reports come from lienthong-report only."},
    {"delivery_deadline_s", LT_CT_INT, LT_NUM(delivery_deadline_s), "86400", 1, 31536000,
     "How long delivery to the target may keep failing before the document is marked "
     "failed (kept in quarantine, a failed receipt goes to the sender)."},
    {"transfer_deadline_s", LT_CT_INT, LT_NUM(transfer_deadline_s), "86400", 1, 31536000,
     "How long a large document being received (its manifest arrived, chunks still "
     "missing) may go without a new chunk before it is marked failed: a failed receipt "
     "naming the missing chunks goes to the sender and the staged data is removed."},
    {"retention_sent_body_s", LT_CT_INT, LT_NUM(retention_sent_body_s), "2592000", 1,
     (int64_t)100 * 31536000,
     "How long the agent keeps the signed envelope (the bytes) of a document it sent once "
     "every recipient reached a final status (delivered, rejected, failed); then only its "
     "status rows are kept. Default 30 days."},
    {"retention_status_s", LT_CT_INT, LT_NUM(retention_status_s), "31536000", 1,
     (int64_t)100 * 31536000,
     "How long a final status (delivered, rejected, failed) of a document sent is kept "
     "after its last change; then lienthong-status no longer knows the document. Default "
     "365 days."},
    {"retention_inbox_s", LT_CT_INT, LT_NUM(retention_inbox_s), "7776000", 1,
     (int64_t)100 * 31536000,
     "How long the agent remembers a document it received (delivered or refused), to "
     "deliver it once however often it comes again. Must stay well above the retention "
     "of the inbox topic on the broker (Kafka's retention.ms, 7 days by default): a "
     "record still on the broker after its memory here is gone would be delivered again. "
     "Default 90 days."},
    {"retention_pass_s", LT_CT_INT, LT_NUM(retention_pass_s), "60", 1, 86400,
     "Pause between two passes of the retention sweep (and after a sweep that failed). "
     "The sweep works in small steps; this only says how soon after one pass the next "
     "begins."},
    {"quarantine_max_bytes", LT_CT_SIZE, LT_NUM(quarantine_max_bytes), "256M", 1 << 20,
     (int64_t)1 << 40,
     "Ceiling of the quarantine in LMDB (suffix K, M, G, T); at the ceiling the oldest "
     "records are dropped first and counted (lienthong-status --summary). Keep it well "
     "below lmdb_map_size."},
    {"quarantine_keep_bytes", LT_CT_SIZE, LT_NUM(quarantine_keep_bytes), "1M", 1024, 64 << 20,
     "Most bytes kept of one quarantined record; of a larger one only the first bytes are "
     "kept, with its full length and SHA-256 (it cannot be released then)."},
    {"topic_prefix", LT_CT_STRING, LT_STR(topic_prefix), "lienthong", 0, 0,
     "Prefix of topic names: <prefix>.inbox.<code> and <prefix>.receipts.<code>."},
    {"topic_partitions", LT_CT_INT, LT_NUM(topic_partitions), "3", 1, 1000,
     "Partitions of the inbox and receipt topics the agent creates for its own agency."},
    {"topic_replication", LT_CT_INT, LT_NUM(topic_replication), "-1", -1, 32,
     "Replication factor of the topics the agent creates: on how many brokers each "
     "partition is kept. -1: the broker's default.replication.factor (1 on deploy/kafka.sh's "
     "single node, 3 on its cluster). On a platform: 3."},
    {"topic_min_insync", LT_CT_INT, LT_NUM(topic_min_insync), "-1", -1, 32,
     "min.insync.replicas of the topics the agent creates: with the producer's acks=all, "
     "a record counts as sent once this many replicas have it; while fewer are in sync, "
     "sending waits (the outbox keeps it). -1: the broker's default (1 on a single node, 2 "
     "on deploy/kafka.sh's cluster). On a platform with replication 3: 2, so that any one "
     "broker can be lost."},
    {"max_message_bytes", LT_CT_SIZE, LT_NUM(max_message_bytes), "1000000", 1024, 64 << 20,
     "Ceiling of one signed envelope or receipt on the wire, parts included; larger "
     "submissions are refused, larger incoming records are quarantined. Keep it at or "
     "below the broker's message.max.bytes."},
    {"max_document_bytes", LT_CT_SIZE, LT_NUM(max_document_bytes), "4G", 1 << 20, (int64_t)1 << 40,
     "Ceiling of one document, all parts together (suffix K, M, G, T). A document whose "
     "signed envelope would exceed max_message_bytes travels as its envelope (the "
     "manifest: sizes and SHA-256 of parts and chunks, signed) followed by chunk records "
     "(chunk_bytes each); larger documents are refused at submission and quarantined at a "
     "recipient."},
    {"chunk_bytes", LT_CT_SIZE, LT_NUM(chunk_bytes), "768K", 4096, 64 << 20,
     "Size of the chunk records a large part is cut into (the last one of a part is "
     "shorter). At most max_message_bytes less 1K (unset, it follows a smaller "
     "max_message_bytes); each chunk's SHA-256 is in the signed "
     "manifest, so the manifest of the largest document must fit in max_message_bytes too."},
    {"max_parts", LT_CT_INT, LT_NUM(max_parts), "64", 1, 10000,
     "Most parts (files) one document may carry; more is refused or quarantined."},
    {"group_id", LT_CT_STRING, LT_STR(group_id), "", 0, 0,
     "Kafka consumer group of the agent (default <topic_prefix>.agent.<agency_code>)."},
    {"receive_stall_s", LT_CT_INT, LT_NUM(receive_stall_s), "60", 5, 86400,
     "How long receiving may make no progress (records wait and none is handled, or no "
     "consumer group membership) before the agent warns, shows it in lienthong-status "
     "--summary and replaces its Kafka consumer (again after 2x, 4x... up to 10 min). The "
     "same for each side of lienthong-relay (shown by lienthong-relay --status)."},
    {"watchdog_s", LT_CT_INT, LT_NUM(watchdog_s), "300", 10, 86400,
     "How long the agent's main loop may not move (a call that never returns) before the "
     "agent logs \"the agent's main loop has not moved for N s\" as an error and exits "
     "with status 1, for its supervisor to restart it. Keep it above target_timeout_ms: "
     "a slower HTTP delivery holds the main loop that long. lienthong-relay does the same "
     "(\"the relay's main loop has not moved for N s\")."},
    {"poll_interval_ms", LT_CT_INT, LT_NUM(poll_interval_ms), "200", 10, 60000,
     "How often the agent looks for documents in the outbox that it was not told "
     "about (a submission through the running agent is forwarded at once)."},
    {"retry_backoff_min_ms", LT_CT_INT, LT_NUM(retry_backoff_min_ms), "500", 10, 3600000,
     "First wait before retrying a failed forward or delivery; doubles each time."},
    {"retry_backoff_max_ms", LT_CT_INT, LT_NUM(retry_backoff_max_ms), "30000", 10, 86400000,
     "Longest wait between retries."},
    {"max_in_flight", LT_CT_INT, LT_NUM(max_in_flight), "2000", 1, 1000000,
     "Most outbox records handed to Kafka and not yet acknowledged."},
    {"log_level", LT_CT_LEVEL, LT_STR(log_level), "info", 0, 0,
     "Least severe messages logged: error, warn, info or debug."},
    {"http_listen", LT_CT_STRING, LT_STR(http_listen), "", 0, 0,
     "Local address HOST:PORT (127.0.0.1:9464, [::1]:9464, localhost:9464) where the agent "
     "serves Prometheus metrics (/metrics), its health (/health: 200 ready, 503 degraded "
     "with the reasons) and a read-only operator page (/). Only loopback addresses: the "
     "endpoint has no authentication. Empty: not served."},
    {"log_format", LT_CT_STRING, LT_STR(log_format), "text", 0, 0,
     "Form of the agent's log lines on standard error (from the moment it has read this "
     "file): text (time, program[pid], level: message) "
     "or json (one JSON object a line, for log collectors: time, level, program, pid, "
     "message, and fields such as document_id, sender, recipient, topic where the message "
     "is about one)."},
    {"platform", LT_CT_STRING, LT_STR(platform), "", 0, 0,
     "Federation: the code of the platform (Kafka cluster) this agency or relay is on, "
     "e.g. LGSP-HN. Set, the agent follows the signed directory (<prefix>.directory) "
     "into its store and lienthong-upload refuses recipients the directory does not "
     "know; documents for agencies of other platforms are carried by lienthong-relay. "
     "Empty: one platform, no directory."},
    {"routes", LT_CT_STRING, LT_STR(routes), "", 0, 0,
     "lienthong-relay: the platforms reached through this side besides its own, comma "
     "separated, or * for every platform not reached through the other side (the side "
     "of a hub such as the national platform)."},
    {"peer_platform", LT_CT_STRING, LT_STR(peer_platform), "", 0, 0,
     "lienthong-relay: the code of the far platform of the link; its cluster is "
     "configured by peer.kafka.* settings (as kafka.* for the near one)."},
    {"peer_topic_prefix", LT_CT_STRING, LT_STR(peer_topic_prefix), "lienthong", 0, 0,
     "lienthong-relay: topic_prefix of the far platform."},
    {"peer_routes", LT_CT_STRING, LT_STR(peer_routes), "", 0, 0,
     "lienthong-relay: routes of the far side (see routes), e.g. * on a provincial "
     "platform's link to the national one."},
};

#define LT_CONFIG_NROWS (sizeof lt_config_rows / sizeof lt_config_rows[0])

/* Whether the file set the setting called name. */
static int lt_config_seen(const uint8_t *seen, const char *name)
{
	for (size_t i = 0; i < LT_CONFIG_NROWS; i++) {
		if (strcmp(lt_config_rows[i].name, name) == 0)
			return seen[i];
	}
	return 0;
}

static const char *lt_config_type_name(enum lt_config_type t)
{
	switch (t) {
	case LT_CT_STRING:
		return "string";
	case LT_CT_PATH:
		return "path";
	case LT_CT_INT:
		return "integer";
	case LT_CT_SIZE:
		return "size";
	case LT_CT_LEVEL:
		return "level";
	case LT_CT_FORMAT:
		return "format";
	}
	return "?";
}

/* Parses a decimal integer with an optional K/M/G/T (binary) suffix for sizes. */
static int lt_config_parse_int(const char *s, int allow_suffix, int64_t *out)
{
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	if (allow_suffix && *end != '\0' && end[1] == '\0') {
		int shift = 0;
		switch (toupper((unsigned char)*end)) {
		case 'K':
			shift = 10;
			break;
		case 'M':
			shift = 20;
			break;
		case 'G':
			shift = 30;
			break;
		case 'T':
			shift = 40;
			break;
		default:
			return -1;
		}
		if (v < 0 || v > (INT64_MAX >> shift))
			return -1;
		v <<= shift;
		end++;
	}
	if (*end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* dir of the config file, for resolving relative paths. */
static void lt_config_dir_of(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, size, ".");
	else if (slash == path)
		snprintf(dir, size, "/");
	else
		snprintf(dir, size, "%.*s", (int)(slash - path), path);
}

static int lt_config_set(struct lt_config *cfg, const struct lt_config_row *row, const char *value,
                         const char *where, lt_err *err)
{
	char *base = (char *)cfg;
	int64_t num;

	switch (row->type) {
	case LT_CT_STRING:
	case LT_CT_LEVEL:
	case LT_CT_FORMAT:
		if (strlen(value) >= row->size)
			return lt_err_set(err, LT_EINVAL,
			                  "%s: value of '%s' is too long (at most %zu characters)",
			                  where, row->name, row->size - 1);
		if (row->type == LT_CT_LEVEL && strcmp(value, "error") != 0 &&
		    strcmp(value, "warn") != 0 && strcmp(value, "info") != 0 &&
		    strcmp(value, "debug") != 0)
			return lt_err_set(err, LT_EINVAL,
			                  "%s: bad value for '%s': '%s' (use error, warn, info or "
			                  "debug)",
			                  where, row->name, value);
		if (row->type == LT_CT_FORMAT && strcmp(value, "files") != 0 &&
		    strcmp(value, "edxml") != 0)
			return lt_err_set(err, LT_EINVAL,
			                  "%s: bad value for '%s': '%s' (use files or edxml)",
			                  where, row->name, value);
		memcpy(base + row->offset, value, strlen(value) + 1);
		return 0;
	case LT_CT_PATH: {
		char dir[PATH_MAX];
		int n;
		if (value[0] == '/' || value[0] == '\0' || cfg->path[0] == '\0') {
			n = snprintf(base + row->offset, row->size, "%s", value);
		} else {
			lt_config_dir_of(cfg->path, dir, sizeof dir);
			n = snprintf(base + row->offset, row->size, "%s/%s", dir, value);
		}
		if (n < 0 || (size_t)n >= row->size)
			return lt_err_set(err, LT_EINVAL, "%s: path of '%s' is too long", where,
			                  row->name);
		return 0;
	}
	case LT_CT_INT:
	case LT_CT_SIZE:
		if (lt_config_parse_int(value, row->type == LT_CT_SIZE, &num) != 0)
			return lt_err_set(err, LT_EINVAL, "%s: bad value for '%s': '%s' is not %s",
			                  where, row->name, value,
			                  row->type == LT_CT_SIZE
			                      ? "a size (a number with optional K, M, G or T)"
			                      : "an integer");
		if (num < row->min || num > row->max)
			return lt_err_set(err, LT_EINVAL,
			                  "%s: bad value for '%s': %lld is outside %lld..%lld",
			                  where, row->name, (long long)num, (long long)row->min,
			                  (long long)row->max);
		*(int64_t *)(void *)(base + row->offset) = num;
		return 0;
	}
	return lt_err_set(err, LT_EINVAL, "%s: internal: bad row type", where);
}

static char *lt_config_trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static int lt_config_defaults(struct lt_config *cfg, lt_err *err)
{
	for (size_t i = 0; i < LT_CONFIG_NROWS; i++) {
		const struct lt_config_row *row = &lt_config_rows[i];
		if (row->def != NULL && lt_config_set(cfg, row, row->def, "defaults", err) != 0)
			return -1;
	}
	return 0;
}

/* A kafka.* (or peer.kafka.*) setting: k is the name without its prefix. */
static int lt_config_kv_add(struct lt_config_kv *list, size_t *n, size_t max, const char *key,
                            const char *k, const char *value, const char *where, lt_err *err)
{
	if (*k == '\0' || strlen(k) >= sizeof list[0].key)
		return lt_err_set(err, LT_EINVAL, "%s: bad kafka setting name '%.60s'", where, key);
	if (strlen(value) >= sizeof list[0].value)
		return lt_err_set(err, LT_EINVAL, "%s: value of '%s' is too long", where, key);
	for (size_t i = 0; i < *n; i++) {
		if (strcmp(list[i].key, k) == 0)
			return lt_err_set(err, LT_EINVAL, "%s: '%s' is set twice; keep one line",
			                  where, key);
	}
	if (*n == max)
		return lt_err_set(err, LT_EINVAL, "%s: more than %zu %s settings", where, max,
		                  k == key + 6 ? "kafka.*" : "peer.kafka.*");
	snprintf(list[*n].key, sizeof list[0].key, "%s", k);
	snprintf(list[*n].value, sizeof list[0].value, "%s", value);
	(*n)++;
	return 0;
}

static int lt_config_line(struct lt_config *cfg, char *line, const char *where, uint8_t *seen,
                          lt_err *err)
{
	char *s = lt_config_trim(line);
	if (*s == '\0' || *s == '#')
		return 0;
	char *eq = strchr(s, '=');
	if (eq == NULL)
		return lt_err_set(err, LT_EINVAL, "%s: expected 'key = value', found '%.60s'",
		                  where, s);
	*eq = '\0';
	char *key = lt_config_trim(s);
	char *value = lt_config_trim(eq + 1);
	if (*key == '\0')
		return lt_err_set(err, LT_EINVAL, "%s: missing key before '='", where);

	if (strncmp(key, "kafka.", 6) == 0)
		return lt_config_kv_add(cfg->kafka, &cfg->n_kafka, LT_CONFIG_KAFKA_MAX, key,
		                        key + 6, value, where, err);
	if (strncmp(key, "peer.kafka.", 11) == 0)
		return lt_config_kv_add(cfg->peer_kafka, &cfg->n_peer_kafka,
		                        LT_CONFIG_PEER_KAFKA_MAX, key, key + 11, value, where, err);
	for (size_t i = 0; i < LT_CONFIG_NROWS; i++) {
		if (strcmp(lt_config_rows[i].name, key) != 0)
			continue;
		if (seen[i])
			return lt_err_set(err, LT_EINVAL, "%s: '%s' is set twice; keep one line",
			                  where, key);
		seen[i] = 1;
		return lt_config_set(cfg, &lt_config_rows[i], value, where, err);
	}
	return lt_err_set(err, LT_EINVAL,
	                  "%s: unknown key '%.60s' (the settings are listed by 'lienthong-agent "
	                  "--help'; librdkafka settings take the prefix 'kafka.')",
	                  where, key);
}

static int lt_config_topic_chars(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (!isalnum(c) && c != '.' && c != '_' && c != '-')
			return 0;
	}
	return 1;
}

int lt_config_check_code(const struct lt_config *cfg, const char *code, lt_err *err)
{
	size_t n = strlen(code);
	if (n == 0 || n > LT_CODE_MAX)
		return lt_err_set(err, LT_EINVAL,
		                  "agency code '%.80s' must have 1 to %d characters", code,
		                  LT_CODE_MAX);
	if (strcmp(code, ".") == 0 || strcmp(code, "..") == 0)
		return lt_err_set(err, LT_EINVAL, "agency code '%s' is not allowed", code);
	if (!lt_config_topic_chars(code))
		return lt_err_set(err, LT_EINVAL,
		                  "agency code '%.80s' has a character that cannot appear in a "
		                  "topic name (only letters, digits, '.', '_', '-')",
		                  code);
	if (cfg->code_re_ok && regexec(&cfg->code_re, code, 0, NULL, 0) != 0)
		return lt_err_set(err, LT_EINVAL,
		                  "agency code '%s' does not match agency_code_pattern '%s'", code,
		                  cfg->agency_code_pattern);
	return 0;
}

int lt_config_parse(struct lt_config *cfg, const char *name, const char *text, size_t len,
                    lt_err *err)
{
	uint8_t seen[LT_CONFIG_NROWS] = {0};
	char line[LT_CONFIG_LINE_MAX + 2];
	char where[PATH_MAX + 32];
	size_t lineno = 0;
	size_t pos = 0;

	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->path, sizeof cfg->path, "%s", name);
	if (lt_config_defaults(cfg, err) != 0)
		return -1;

	while (pos < len) {
		size_t start = pos;
		while (pos < len && text[pos] != '\n')
			pos++;
		size_t n = pos - start;
		lineno++;
		snprintf(where, sizeof where, "%s:%zu", name, lineno);
		if (pos < len)
			pos++; /* the newline */
		if (n > LT_CONFIG_LINE_MAX)
			return lt_err_set(err, LT_EINVAL, "%s: line longer than %d bytes", where,
			                  LT_CONFIG_LINE_MAX);
		if (memchr(text + start, '\0', n) != NULL)
			return lt_err_set(err, LT_EINVAL, "%s: NUL byte in a text file", where);
		memcpy(line, text + start, n);
		line[n] = '\0';
		if (lt_config_line(cfg, line, where, seen, err) != 0)
			return -1;
	}

	for (size_t i = 0; i < LT_CONFIG_NROWS; i++) {
		if (lt_config_rows[i].def == NULL && !seen[i])
			return lt_err_set(err, LT_EINVAL, "%s: missing required setting '%s' (%s)",
			                  name, lt_config_rows[i].name, lt_config_rows[i].doc);
	}
	if (cfg->retry_backoff_min_ms > cfg->retry_backoff_max_ms)
		return lt_err_set(err, LT_EINVAL,
		                  "%s: retry_backoff_min_ms (%lld) is above retry_backoff_max_ms "
		                  "(%lld)",
		                  name, (long long)cfg->retry_backoff_min_ms,
		                  (long long)cfg->retry_backoff_max_ms);
	/* Unset, chunk_bytes follows a smaller max_message_bytes (in whole 4K pages). */
	if (cfg->chunk_bytes > cfg->max_message_bytes - 1024 &&
	    !lt_config_seen(seen, "chunk_bytes"))
		cfg->chunk_bytes = (cfg->max_message_bytes - 1024) / 4096 * 4096;
	if (cfg->chunk_bytes > cfg->max_message_bytes - 1024)
		return lt_err_set(
		    err, LT_EINVAL,
		    "%s: chunk_bytes (%lld) must leave 1K of max_message_bytes (%lld) "
		    "for the chunk record's fields",
		    name, (long long)cfg->chunk_bytes, (long long)cfg->max_message_bytes);
	const char *stats = lt_config_kafka_get(cfg, "statistics.interval.ms");
	if (stats != NULL && (atoll(stats) <= 0 || atoll(stats) * 2 > cfg->receive_stall_s * 1000))
		return lt_err_set(err, LT_EINVAL,
		                  "%s: kafka.statistics.interval.ms = %s: the agent watches its "
		                  "consumer through these statistics; set it between 1 and half of "
		                  "receive_stall_s (%lld s), or remove it (default 5000)",
		                  name, stats, (long long)cfg->receive_stall_s);
	int rc = regcomp(&cfg->code_re, cfg->agency_code_pattern, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[256];
		regerror(rc, &cfg->code_re, msg, sizeof msg);
		return lt_err_set(err, LT_EINVAL, "%s: bad agency_code_pattern '%s': %s", name,
		                  cfg->agency_code_pattern, msg);
	}
	cfg->code_re_ok = 1;
	if (lt_config_check_code(cfg, cfg->agency_code, err) != 0)
		return lt_err_wrap(err, "%s: agency_code", name);
	if (cfg->topic_prefix[0] == '\0' || !lt_config_topic_chars(cfg->topic_prefix))
		return lt_err_set(err, LT_EINVAL,
		                  "%s: topic_prefix '%s' must be non-empty and use only letters, "
		                  "digits, '.', '_' and '-'",
		                  name, cfg->topic_prefix);
	if (cfg->topic_replication == 0 || cfg->topic_min_insync == 0 ||
	    (cfg->topic_replication > 0 && cfg->topic_min_insync > cfg->topic_replication))
		return lt_err_set(
		    err, LT_EINVAL,
		    "%s: topic_replication (%lld) and topic_min_insync (%lld) must be "
		    "-1 (the broker's default) or at least 1, topic_min_insync at most "
		    "topic_replication",
		    name, (long long)cfg->topic_replication, (long long)cfg->topic_min_insync);
	if (strcmp(cfg->log_format, "text") != 0 && strcmp(cfg->log_format, "json") != 0)
		return lt_err_set(err, LT_EINVAL,
		                  "%s: bad value for 'log_format': '%s' (use text or json)", name,
		                  cfg->log_format);
	if (!lt_config_topic_chars(cfg->platform) || !lt_config_topic_chars(cfg->peer_platform) ||
	    !lt_config_topic_chars(cfg->peer_topic_prefix))
		return lt_err_set(err, LT_EINVAL,
		                  "%s: platform, peer_platform and peer_topic_prefix may use only "
		                  "letters, digits, '.', '_' and '-'",
		                  name);
	if (cfg->group_id[0] == '\0')
		snprintf(cfg->group_id, sizeof cfg->group_id, "%s.agent.%s", cfg->topic_prefix,
		         cfg->agency_code);
	return 0;
}

int lt_config_peer(const struct lt_config *cfg, struct lt_config *peer, lt_err *err)
{
	if (cfg->peer_platform[0] == '\0' || cfg->peer_topic_prefix[0] == '\0' ||
	    cfg->platform[0] == '\0')
		return lt_err_set(err, LT_EINVAL,
		                  "%s: a relay needs platform, peer_platform and peer_topic_prefix "
		                  "(and peer.kafka.bootstrap.servers)",
		                  cfg->path);
	if (strcmp(cfg->routes, "*") == 0 && strcmp(cfg->peer_routes, "*") == 0)
		return lt_err_set(
		    err, LT_EINVAL,
		    "%s: routes and peer_routes are both *: each side would claim every "
		    "other platform and records would go back and forth; set * on the "
		    "side towards the national platform only",
		    cfg->path);
	*peer = *cfg;
	peer->code_re_ok = 0; /* the compiled pattern stays cfg's (freed with it) */
	snprintf(peer->platform, sizeof peer->platform, "%s", cfg->peer_platform);
	snprintf(peer->topic_prefix, sizeof peer->topic_prefix, "%s", cfg->peer_topic_prefix);
	snprintf(peer->routes, sizeof peer->routes, "%s", cfg->peer_routes);
	snprintf(peer->peer_platform, sizeof peer->peer_platform, "%s", cfg->platform);
	snprintf(peer->peer_topic_prefix, sizeof peer->peer_topic_prefix, "%s", cfg->topic_prefix);
	snprintf(peer->peer_routes, sizeof peer->peer_routes, "%s", cfg->routes);
	/* The far side's kafka.* settings; the near side's are not needed there. */
	peer->n_kafka = cfg->n_peer_kafka;
	memcpy(peer->kafka, cfg->peer_kafka, cfg->n_peer_kafka * sizeof cfg->peer_kafka[0]);
	peer->n_peer_kafka = 0;
	return 0;
}

int lt_config_load(struct lt_config *cfg, const char *path, lt_err *err)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return lt_err_errno(err, errno, "cannot open configuration file %s", path);
	char *text = malloc(LT_CONFIG_FILE_MAX + 1);
	if (text == NULL) {
		fclose(f);
		return lt_err_set(err, LT_EIO, "out of memory reading %s", path);
	}
	size_t len = fread(text, 1, LT_CONFIG_FILE_MAX + 1, f);
	int rerr = ferror(f);
	fclose(f);
	int rc = -1;
	if (rerr)
		lt_err_set(err, LT_EIO, "cannot read configuration file %s", path);
	else if (len > LT_CONFIG_FILE_MAX)
		lt_err_set(err, LT_EINVAL,
		           "%s: larger than %d bytes; is this a configuration file?", path,
		           LT_CONFIG_FILE_MAX);
	else
		rc = lt_config_parse(cfg, path, text, len, err);
	free(text);
	return rc;
}

void lt_config_free(struct lt_config *cfg)
{
	if (cfg->code_re_ok)
		regfree(&cfg->code_re);
	cfg->code_re_ok = 0;
}

void lt_config_inbox_topic(const struct lt_config *cfg, const char *code, char *buf, size_t size)
{
	snprintf(buf, size, "%s.inbox.%s", cfg->topic_prefix, code);
}

void lt_config_receipt_topic(const struct lt_config *cfg, const char *code, char *buf, size_t size)
{
	snprintf(buf, size, "%s.receipts.%s", cfg->topic_prefix, code);
}

const char *lt_config_kafka_get(const struct lt_config *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->n_kafka; i++) {
		if (strcmp(cfg->kafka[i].key, key) == 0)
			return cfg->kafka[i].value;
	}
	return NULL;
}

/* Prints text word-wrapped at width columns, each line after indent. */
static void lt_config_wrap(FILE *out, const char *text, const char *indent, size_t width)
{
	size_t col = 0;
	while (*text != '\0') {
		size_t word = strcspn(text, " ");
		if (col > 0 && col + 1 + word > width) {
			fputc('\n', out);
			col = 0;
		}
		if (col == 0)
			col = (size_t)fprintf(out, "%s", indent);
		else
			col += (size_t)fprintf(out, " ");
		col += (size_t)fprintf(out, "%.*s", (int)word, text);
		text += word;
		while (*text == ' ')
			text++;
	}
	fputc('\n', out);
}

/* The kafka.<property> row's description, for --help and the man page. */
static const char lt_config_kafka_doc[] =
    "Passed unchanged to librdkafka (kcat -X style), after lienthong's defaults "
    "(bootstrap.servers 127.0.0.1:9092; producer: enable.idempotence true, acks "
    "all, linger.ms 5, compression.type lz4; consumer: enable.auto.offset.store "
    "false, auto.offset.reset earliest, topic.metadata.refresh.interval.ms 10000, "
    "dynamic group membership; memory: producer "
    "queue.buffering.max.kbytes 16384, consumer queued.max.messages.kbytes 12288), so any "
    "of them "
    "can be overridden. Example: kafka.security.protocol = ssl.";

static const char lt_config_peer_kafka_doc[] =
    "lienthong-relay: the same for the cluster of the far platform (peer_platform), e.g. "
    "peer.kafka.bootstrap.servers.";

void lt_config_print_reference(FILE *out)
{
	fprintf(out, "Configuration file (-c FILE): one 'key = value' per line, '#' starts a "
	             "comment.\n\n");
	for (size_t i = 0; i < LT_CONFIG_NROWS; i++) {
		const struct lt_config_row *row = &lt_config_rows[i];
		fprintf(out, "  %-22s %-8s %s%s%s\n", row->name, lt_config_type_name(row->type),
		        row->def == NULL ? "(required)" : "default: ",
		        row->def == NULL ? "" : (row->def[0] ? row->def : "(none)"), "");
		lt_config_wrap(out, row->doc, "      ", 78);
	}
	fprintf(out, "  %-22s %-8s\n", "kafka.<property>", "string");
	lt_config_wrap(out, lt_config_kafka_doc, "      ", 78);
	fprintf(out, "  %-22s %-8s\n", "peer.kafka.<property>", "string");
	lt_config_wrap(out, lt_config_peer_kafka_doc, "      ", 78);
}

/* Prints text for roff: backslashes and hyphens escaped, a leading control character disarmed. */
static void lt_config_roff(FILE *out, const char *text)
{
	if (text[0] == '.' || text[0] == '\'')
		fputs("\\&", out);
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\\')
			fputs("\\e", out);
		else if (*p == '-')
			fputs("\\-", out);
		else
			fputc(*p, out);
	}
}

void lt_config_print_man(FILE *out)
{
	for (size_t i = 0; i < LT_CONFIG_NROWS; i++) {
		const struct lt_config_row *row = &lt_config_rows[i];
		fprintf(out, ".TP\n.B %s\n\\fI%s\\fR, ", row->name, lt_config_type_name(row->type));
		if (row->def == NULL) {
			fputs("required", out);
		} else {
			fputs("default: \\fB", out);
			lt_config_roff(out, row->def[0] ? row->def : "(none)");
			fputs("\\fR", out);
		}
		fputs("\n.br\n", out);
		lt_config_roff(out, row->doc);
		fputc('\n', out);
	}
	fputs(".TP\n.BI kafka. property\n\\fIstring\\fR\n.br\n", out);
	lt_config_roff(out, lt_config_kafka_doc);
	fputc('\n', out);
	fputs(".TP\n.BI peer.kafka. property\n\\fIstring\\fR\n.br\n", out);
	lt_config_roff(out, lt_config_peer_kafka_doc);
	fputc('\n', out);
}
