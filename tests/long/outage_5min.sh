#!/usr/bin/env bash
# Long: the broker is down for five minutes while 5,000 documents are submitted.
LT_OUTAGE_DOCS=${LT_OUTAGE_DOCS:-5000} LT_OUTAGE_PAUSE=${LT_OUTAGE_PAUSE:-300} \
	exec "$(dirname "$0")/../integration/broker_outage.sh"
