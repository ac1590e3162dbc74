#!/usr/bin/env bash
# Long: a manifest of 10,000 documents to three recipients, the upload killed
# with kill -9 halfway (5,000 rows reported), then run again: each document
# reaches each recipient exactly once, the second run reports the first part
# as already submitted.
LT_BATCH_DOCS=${LT_BATCH_DOCS:-10000} LT_BATCH_KILL_AT=${LT_BATCH_KILL_AT:-5000} \
	exec "$(dirname "$0")/../integration/batch_upload.sh"
