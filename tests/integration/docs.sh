#!/usr/bin/env bash
# The README's configuration reference is the one the programs print: every
# setting of `lienthong-agent --help` is documented in README.md, and every
# program has a --help that exits 0.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
LT_WORK=$(mktemp -d /tmp/lienthong-test.XXXXXX)
trap lt_teardown EXIT
for key in $("$LT_BIN/lienthong-agent" --help | awk '/^Configuration file/ { on = 1; next } on && /^  [a-z]/ { print $1 }'); do
	lt_check "README documents '$key'" grep -q "^  $key " "$LT_ROOT/README.md"
done
for prog in lienthong-agent lienthong-upload lienthong-status lienthong-quarantine lienthong-provision lienthong-report \
	lienthong-directory lienthong-relay; do
	lt_check "$prog --help" "$LT_BIN/$prog" --help >/dev/null
	lt_check "README describes $prog" grep -q "^### $prog" "$LT_ROOT/README.md"
done
