#!/usr/bin/env bash
# Long: 5,000 junk records of 1 MB flood an inbox while documents flow.
LT_FLOOD_COUNT=${LT_FLOOD_COUNT:-5000} exec "$(dirname "$0")/../integration/junk_flood.sh"
