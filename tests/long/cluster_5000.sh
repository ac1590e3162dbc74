#!/usr/bin/env bash
# Long: the three-broker cluster test with 5,000 documents each way, one
# broker killed with kill -9 mid-transfer and restarted, then another, also
# restarted once everything is delivered.
LT_CLUSTER_DOCS=${LT_CLUSTER_DOCS:-10000} LT_CLUSTER_RESTART_SECOND=1 exec "$(dirname "$0")/../integration/cluster.sh"
