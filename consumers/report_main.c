/*
 * lienthong-report: reports a business status of a received document.
 *
 * The recipient's clerk (or a script of its document system) says where a
 * document from another agency is: 01 arrived, 02 refused, 03 accepted, 04
 * awaiting assignment, 05 in processing, 06 processed. The report is checked
 * against what is recorded for the document (received and delivered here,
 * the order rules of lifecycle/lt_lifecycle.h), recorded, and signed into a
 * business receipt queued for the sender in one fsync'd transaction; the
 * agent forwards it (also later, if it is stopped now). See lt_business.h.
 *
 * Trusts its configuration and key (it signs in the agency's name); every
 * argument is checked and bounded.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../clock/lt_clock.h"
#include "../log/lt_log.h"
#include "../pki/lt_pki.h"
#include "../store/lt_check.h"
#include "lt_business.h"

static void lt_report_usage(FILE *out)
{
	fprintf(out,
	        "Usage: lienthong-report -c FILE --sender CODE --document ID --code CODE\n"
	        "                        [--comment TEXT] [--by \"person or unit\"]\n"
	        "\n"
	        "Reports the business status of a document received from agency --sender:\n"
	        "records it and queues a receipt signed by this agency to the sender, whose\n"
	        "lienthong-status then shows it. Works while the agent is stopped.\n"
	        "\n"
	        "Status codes (edXML, QCVN 102:2016), in their order:\n"
	        "  01 arrived              02 refused (final: nothing may follow)\n"
	        "  03 accepted (registered)\n"
	        "  04 awaiting assignment  05 in processing  06 processed\n"
	        "A status never goes back, and 04, 05 and 06 need 03 first. A report out of\n"
	        "order is refused with the reason (exit status 1); the same status again is\n"
	        "accepted and changes nothing. 15 and 16 (recall agreed or refused) are given\n"
	        "by the agent itself (see README, Recall, update, replace).\n"
	        "\n"
	        "Options:\n"
	        "  -c, --config FILE     the agency's configuration file (required)\n"
	        "  -s, --sender CODE     agency code of the document's sender (required)\n"
	        "  -d, --document ID     the document id (required)\n"
	        "  -k, --code CODE       the status code, e.g. 03 (required)\n"
	        "  -m, --comment TEXT    a comment for the sender (at most 1000 bytes)\n"
	        "  -b, --by TEXT         who reports it: a person or unit (at most 200 bytes)\n"
	        "  -h, --help            this text\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},   {"sender", required_argument, NULL, 's'},
	    {"document", required_argument, NULL, 'd'}, {"code", required_argument, NULL, 'k'},
	    {"comment", required_argument, NULL, 'm'},  {"by", required_argument, NULL, 'b'},
	    {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	struct lt_business_report rep = {0};
	int c;
	lt_log_init(argv[0], LT_LOG_INFO);
	lt_store_crash_guard("lienthong-report");
	while ((c = getopt_long(argc, argv, "c:s:d:k:m:b:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			rep.sender = optarg;
			break;
		case 'd':
			rep.document_id = optarg;
			break;
		case 'k':
			rep.code = optarg;
			break;
		case 'm':
			rep.comment = optarg;
			break;
		case 'b':
			rep.reported_by = optarg;
			break;
		case 'h':
			lt_report_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'lienthong-report --help'.\n");
			return 2;
		}
	}
	if (config == NULL || rep.sender == NULL || rep.document_id == NULL || rep.code == NULL ||
	    optind != argc) {
		fprintf(stderr, "lienthong-report: %s\nTry 'lienthong-report --help'.\n",
		        optind != argc ? "unexpected argument"
		                       : "-c FILE, --sender, --document and --code are required");
		return 2;
	}

	static struct lt_config cfg;
	struct lt_signer signer = {0};
	struct lt_store *store = NULL;
	struct lt_txn *t = NULL;
	lt_err err;
	int rc = 1;
	if (lt_config_load(&cfg, config, &err) != 0 ||
	    lt_signer_load(&signer, cfg.key_file, cfg.cert_file, &err) != 0 ||
	    lt_pki_check_valid_now(signer.cert, cfg.cert_file, lt_now_ms(), &err) != 0 ||
	    lt_store_open(&store, cfg.data_dir, cfg.lmdb_map_size, &err) != 0 ||
	    lt_txn_begin(store, 1, &t, &err) != 0) {
		lt_log_error("%s", err.msg);
		goto out;
	}
	int v = lt_business_report(&cfg, t, &signer, &rep, lt_now_ms(), &err);
	if (v < 0) {
		lt_txn_abort(t);
		lt_log_error("%s", err.msg);
		goto out;
	}
	if (lt_txn_commit(t, &err) != 0) {
		lt_log_error("%s", err.msg);
		goto out;
	}
	printf("%s\t%s\t%s\t%s\n", rep.document_id, rep.sender, rep.code,
	       v == 0 ? "reported" : "already reported");
	rc = 0;
out:
	lt_store_close(store);
	lt_signer_free(&signer);
	lt_config_free(&cfg);
	return rc;
}
