#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS TARGET...: runs each libFuzzer target for SECONDS on a
# scratch copy of its committed seed corpus (tests/fuzz/corpus/<kind>), then
# prints its executions and whether it found anything. A crash, leak or
# sanitizer report fails the run; the input is kept in build-fuzz/findings/.
# Seeds: tests/fuzz/corpus/{envelope,receipt} were written by build-fuzz/seed_gen
# (built by make fuzz) with an agency key of the demo CA committed as
# tests/fuzz/ca.pem:  build-fuzz/seed_gen SENDER.conf tests/fuzz/corpus
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=$1
shift
mkdir -p build-fuzz/findings
status=0
for t in "$@"; do
	kind=${t#fuzz_}
	work=$(mktemp -d /tmp/lienthong-fuzz.XXXXXX)
	cp -r "tests/fuzz/corpus/$kind/." "$work/" 2>/dev/null || true
	log=build-fuzz/$t.log
	if "build-fuzz/$t" -max_total_time="$seconds" -max_len=1100000 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix=build-fuzz/findings/"$t"- "$work" >"$log" 2>&1; then
		result="no finding"
	else
		result="FINDING (see $log)"
		status=1
	fi
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
	echo "$t: $execs executions in ${seconds}s, $result"
	rm -rf "$work"
done
exit $status
