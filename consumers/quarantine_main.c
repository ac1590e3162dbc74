/*
 * lienthong-quarantine: the operator's view of this agency's quarantine.
 *
 *   lienthong-quarantine -c FILE list [--json]
 *   lienthong-quarantine -c FILE show ID [--json] [--raw OUT]
 *   lienthong-quarantine -c FILE release ID
 *
 * Reads and changes only the local LMDB store; release queues the record for
 * the agent, which publishes it to the topic it came from and checks it again.
 * What it prints of a record (ids, codes, reasons quoting the record) came
 * from the network and is printed escaped (text/lt_text.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../clock/lt_clock.h"
#include "../config/lt_config.h"
#include "../log/lt_log.h"
#include "../store/lt_check.h"
#include "lt_quarantine.h"

static void lt_quarantine_usage(FILE *out)
{
	fprintf(out,
	        "Usage: lienthong-quarantine -c FILE list [--json]\n"
	        "       lienthong-quarantine -c FILE show ID [--json] [--raw OUT]\n"
	        "       lienthong-quarantine -c FILE release ID\n"
	        "\n"
	        "Records that failed a check (bad signature, unknown or revoked signer,\n"
	        "misdirected, expired, malformed, oversize) and documents the target refused\n"
	        "are kept in the agency's quarantine with their raw bytes and the reason;\n"
	        "they were never delivered.\n"
	        "\n"
	        "  list       one line per record: ID, time, topic [partition] @ offset,\n"
	        "             document id, sender, size, reason\n"
	        "  show ID    one record; --raw OUT writes its raw bytes to OUT\n"
	        "  release ID once the cause is fixed (for example a missing CA added to\n"
	        "             ca_file and the agent restarted), hand the record back to the\n"
	        "             agent: it is published again to its topic and checked again\n"
	        "             like any other record. It leaves the quarantine.\n"
	        "\n"
	        "Options: -c, --config FILE (required); -j, --json; -r, --raw OUT; -h, --help\n"
	        "Exit status: 0; 1 on an error (unknown ID, store); 2 on a usage error.\n");
}

static int lt_quarantine_id(const char *s, uint64_t *id)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v == 0)
		return -1;
	*id = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"raw", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL, *raw = NULL;
	int json = 0, c;
	lt_log_init(argv[0], LT_LOG_INFO);
	lt_store_crash_guard("lienthong-quarantine");
	while ((c = getopt_long(argc, argv, "c:jr:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'r':
			raw = optarg;
			break;
		case 'h':
			lt_quarantine_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'lienthong-quarantine --help'.\n");
			return 2;
		}
	}
	const char *cmd = optind < argc ? argv[optind] : NULL;
	uint64_t id = 0;
	int wants_id = cmd && (strcmp(cmd, "show") == 0 || strcmp(cmd, "release") == 0);
	if (config == NULL || cmd == NULL || (!wants_id && strcmp(cmd, "list") != 0) ||
	    argc - optind != (wants_id ? 2 : 1) ||
	    (wants_id && lt_quarantine_id(argv[optind + 1], &id) != 0)) {
		fprintf(stderr, "lienthong-quarantine: %s\nTry 'lienthong-quarantine --help'.\n",
		        config == NULL ? "-c FILE is required"
		        : cmd == NULL  ? "a command is required: list, show ID or release ID"
		        : wants_id     ? "ID must be a quarantine number as printed by list"
		                       : "unknown command or extra argument");
		return 2;
	}

	static struct lt_config cfg;
	struct lt_store *store = NULL;
	uint64_t count = 0;
	lt_err err;
	int rc = 1;
	if (lt_config_load(&cfg, config, &err) != 0 ||
	    lt_store_open(&store, cfg.data_dir, cfg.lmdb_map_size, &err) != 0)
		goto fail;
	if (strcmp(cmd, "list") == 0) {
		if (lt_quarantine_list(store, json, stdout, &count, &err) != 0)
			goto fail;
		if (!json && count == 0)
			printf("quarantine is empty\n");
	} else if (strcmp(cmd, "show") == 0) {
		if (lt_quarantine_show(store, id, json, raw, stdout, &err) != 0)
			goto fail;
	} else {
		if (lt_quarantine_release(store, id, lt_now_ms(), &err) != 0)
			goto fail;
		printf("released %llu: the agent publishes it again and checks it again\n",
		       (unsigned long long)id);
	}
	rc = 0;
	goto out;
fail:
	lt_log_error("%s", err.msg);
out:
	lt_store_close(store);
	lt_config_free(&cfg);
	return rc;
}
