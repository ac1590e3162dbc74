/*
 * What the libFuzzer targets share: a configuration parsed once from text
 * (default limits, as an agent would have) and the trust store of the demo
 * CA whose certificate is committed beside the seeds (tests/fuzz/ca.pem, or
 * $LT_FUZZ_CA), so the seeds' signatures verify and the fuzzer reaches past
 * the signature check.
 */
#ifndef LT_FUZZ_COMMON_H
#define LT_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../config/lt_config.h"
#include "../../pki/lt_pki.h"

static struct lt_config lt_fuzz_cfg;
static struct lt_trust *lt_fuzz_trust;

static void lt_fuzz_init(void)
{
	static const char text[] = "agency_code = FUZZ.B\n"
	                           "data_dir = /nonexistent\n"
	                           "key_file = k\ncert_file = c\nca_file = a\n"
	                           "target_dir = /nonexistent\n";
	lt_err err;
	if (lt_fuzz_cfg.code_re_ok)
		return;
	if (lt_config_parse(&lt_fuzz_cfg, "fuzz.conf", text, strlen(text), &err) != 0) {
		fprintf(stderr, "fuzz: %s\n", err.msg);
		abort();
	}
	const char *ca = getenv("LT_FUZZ_CA") ? getenv("LT_FUZZ_CA") : "tests/fuzz/ca.pem";
	lt_fuzz_trust = lt_trust_load(ca, &err);
	if (lt_fuzz_trust == NULL)
		fprintf(stderr, "fuzz: %s (signature checks will fail early)\n", err.msg);
}

#endif
