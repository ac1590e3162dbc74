#!/usr/bin/env bash
# Runs every unit test program BUILD_DIR/tests/test_* and sums their results.
#
#   tests/run-unit.sh BUILD_DIR        e.g. build, or build-san (ASan/UBSan)
#
# Each program prints "N passed, N failed" (counting checks) as its last line
# of standard output; this prints that line per program, then the total in the
# same form. A program that crashes, exits non-zero without failed checks (a
# sanitizer report, a leak) or prints no summary counts as one more failure.
# Exits 1 if anything failed, 2 on bad usage or when there is nothing to run.
set -u

if [[ $# -ne 1 || ! -d $1 ]]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
build=$1
timeout_s=${LT_UNIT_TIMEOUT:-120}

shopt -s nullglob
programs=("$build"/tests/test_*)
if [[ ${#programs[@]} -eq 0 ]]; then
	echo "$0: no unit test programs in $build/tests (run make first)" >&2
	exit 2
fi

out=$(mktemp /tmp/lt-run-unit.XXXXXX) || exit 2
trap 'rm -f "$out"' EXIT

total_passed=0 total_failed=0 bad=0
for prog in "${programs[@]}"; do
	[[ -f $prog && -x $prog ]] || continue
	name=${prog##*/}
	timeout "$timeout_s" "$prog" >"$out"
	rc=$?
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
	passed=0 failed=0
	if [[ -n $summary ]]; then
		read -r passed _ failed _ <<<"${summary//,/}"
	fi
	total_passed=$((total_passed + passed))
	total_failed=$((total_failed + failed))
	if [[ -z $summary ]]; then
		echo "$name: no summary (exit status $rc: crashed, killed or timed out)"
		total_failed=$((total_failed + 1))
		bad=1
	elif [[ $rc -ne 0 && $failed -eq 0 ]]; then
		echo "$name: $summary, but exit status $rc (a sanitizer report?)"
		total_failed=$((total_failed + 1))
		bad=1
	else
		echo "$name: $summary"
		[[ $rc -eq 0 ]] || bad=1
	fi
done

echo "$total_passed passed, $total_failed failed"
[[ $bad -eq 0 && $total_failed -eq 0 ]]
