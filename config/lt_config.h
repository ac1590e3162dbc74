/*
 * lt_config: the one configuration file format shared by every lienthong
 * program (one file per agency).
 *
 *   # comment
 *   agency_code = 000.00.00.G22
 *   kafka.bootstrap.servers = 127.0.0.1:9092
 *
 * Every setting is one row of a table in lt_config.c (name, type, default,
 * bounds, description); parsing, validation, --help and the README reference
 * all come from that table. Keys starting with "kafka." are handed to
 * librdkafka unchanged (without the prefix). Relative paths are resolved
 * against the directory of the configuration file.
 *
 * Ownership: lt_config_load fills a caller-owned struct; lt_config_free
 * releases what it holds. Read-only after load, so any thread may read it.
 */
#ifndef LT_CONFIG_H
#define LT_CONFIG_H

#include <limits.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>

#include "../errors/lt_err.h"

#define LT_CODE_MAX 64
#define LT_TOPIC_MAX 249
#define LT_CONFIG_KAFKA_MAX 128
#define LT_CONFIG_PEER_KAFKA_MAX 32 /* peer.kafka.* settings (lienthong-relay) */
#define LT_CONFIG_LINE_MAX 4096
#define LT_CONFIG_FILE_MAX (1024 * 1024)

struct lt_config_kv {
	char key[128];
	char value[1024];
};

struct lt_config {
	char path[PATH_MAX];
	char agency_code[LT_CODE_MAX + 1];
	char agency_code_pattern[256];
	char data_dir[PATH_MAX];
	int64_t lmdb_map_size;
	char key_file[PATH_MAX];
	char cert_file[PATH_MAX];
	char ca_file[PATH_MAX];
	char crl_file[PATH_MAX];
	char agency_certs_dir[PATH_MAX];
	int64_t encrypt_parts;
	char target_dir[PATH_MAX];
	char target_url[1024];
	char target_format[8]; /* files or edxml */
	char status_dir[PATH_MAX];
	int64_t target_timeout_ms;
	char target_ca_file[PATH_MAX];
	char target_cert_file[PATH_MAX];
	char target_key_file[PATH_MAX];
	char report_dir[PATH_MAX];
	int64_t delivery_deadline_s;
	int64_t transfer_deadline_s;
	int64_t retention_sent_body_s;
	int64_t retention_status_s;
	int64_t retention_inbox_s;
	int64_t retention_pass_s;
	int64_t quarantine_max_bytes;
	int64_t quarantine_keep_bytes;
	char topic_prefix[128];
	int64_t topic_partitions;
	int64_t topic_replication;
	int64_t topic_min_insync; /* -1: the broker's default */
	int64_t max_message_bytes;
	int64_t max_document_bytes;
	int64_t chunk_bytes;
	int64_t max_parts;
	char group_id[256];
	int64_t receive_stall_s;
	int64_t watchdog_s;
	int64_t poll_interval_ms;
	int64_t retry_backoff_min_ms;
	int64_t retry_backoff_max_ms;
	int64_t max_in_flight;
	char log_level[16];
	char http_listen[80];
	char log_format[8];                  /* "text" or "json" */
	char platform[LT_CODE_MAX + 1];      /* federation: this platform ("" single platform) */
	char routes[1024];                   /* lienthong-relay: platforms reached beyond */
	char peer_platform[LT_CODE_MAX + 1]; /* lienthong-relay: the far platform */
	char peer_topic_prefix[128];         /* lienthong-relay: its topic prefix */
	char peer_routes[1024];              /* lienthong-relay: platforms reached beyond it */
	size_t n_kafka;
	struct lt_config_kv kafka[LT_CONFIG_KAFKA_MAX];
	size_t n_peer_kafka; /* lienthong-relay: peer.kafka.* settings, for the far cluster */
	struct lt_config_kv peer_kafka[LT_CONFIG_PEER_KAFKA_MAX];
	regex_t code_re; /* compiled agency_code_pattern */
	int code_re_ok;
};

/* Parses FILE into cfg (defaults first). Errors name the file, line and key. */
int lt_config_load(struct lt_config *cfg, const char *path, lt_err *err);
/* Parses text as if read from a file named `name` (used by tests and fuzzing). */
int lt_config_parse(struct lt_config *cfg, const char *name, const char *text, size_t len,
                    lt_err *err);
void lt_config_free(struct lt_config *cfg);

/* Checks an agency code against the length limit and agency_code_pattern. */
int lt_config_check_code(const struct lt_config *cfg, const char *code, lt_err *err);

/* Topic names: <topic_prefix>.inbox.<code> and <topic_prefix>.receipts.<code>. */
void lt_config_inbox_topic(const struct lt_config *cfg, const char *code, char *buf, size_t size);
void lt_config_receipt_topic(const struct lt_config *cfg, const char *code, char *buf, size_t size);

/*
 * The configuration of a relay's far side: a copy of cfg with the peer_*
 * settings in place of platform, topic_prefix and routes, and the peer.kafka.*
 * settings in place of kafka.* (lienthong-relay). Fails when peer_platform
 * is not set.
 */
int lt_config_peer(const struct lt_config *cfg, struct lt_config *peer, lt_err *err);

/* Value of a kafka.* setting (key without the prefix), or NULL. */
const char *lt_config_kafka_get(const struct lt_config *cfg, const char *key);

/* Prints the settings reference (name, type, default, description) to out. */
void lt_config_print_reference(FILE *out);
/* Prints the same reference as man(7) paragraphs (one .TP per setting), for lienthong.conf(5). */
void lt_config_print_man(FILE *out);

#endif
