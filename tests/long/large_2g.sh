#!/usr/bin/env bash
# Long: a 2 GiB document of three parts and 200 documents of 5 MiB between two
# agents, with a kill -9 of the receiver and a broker stop in the middle.
LT_LARGE_MIB=${LT_LARGE_MIB:-2048} LT_LARGE_SMALL=${LT_LARGE_SMALL:-200} \
	exec "$(dirname "$0")/../integration/large_exchange.sh"
