#!/usr/bin/env bash
# Long: a streamed document of 2 GiB sent with a kill -9 of the sender; peak memory printed.
LT_LARGE_MB=${LT_LARGE_MB:-2048} exec "$(dirname "$0")/../integration/large_forward.sh"
