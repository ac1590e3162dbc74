/* libFuzzer target: the configuration file parser. */
#include <stdint.h>
#include <string.h>

#include "../../config/lt_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lt_config cfg;
	lt_err err;
	if (size > LT_CONFIG_FILE_MAX)
		return 0;
	lt_config_parse(&cfg, "fuzz.conf", (const char *)data, size, &err);
	lt_config_free(&cfg);
	return 0;
}
