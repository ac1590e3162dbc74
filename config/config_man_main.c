/*
 * lt-config-man: prints the settings of the configuration table
 * (config/lt_config.c) as man(7) paragraphs. The build puts them into
 * lienthong.conf(5) (man/lienthong.conf.5.in, at the line @SETTINGS@), so the
 * manual page lists exactly the settings the programs parse and --help shows.
 * Build tool only: not installed. Trusts nothing, reads nothing.
 */
#include <stdio.h>

#include "lt_config.h"

int main(void)
{
	lt_config_print_man(stdout);
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
