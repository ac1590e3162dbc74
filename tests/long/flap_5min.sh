#!/usr/bin/env bash
# Long: the link flaps for five minutes while 10,000 documents flow both ways.
LT_FLAP_SECONDS=${LT_FLAP_SECONDS:-300} LT_FLAP_DOCS=${LT_FLAP_DOCS:-10000} \
	exec "$(dirname "$0")/../integration/link_flap.sh"
