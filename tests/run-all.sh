#!/usr/bin/env bash
# make test: everything the default suite needs, from a fresh machine.
#   1. installs missing Debian packages (deploy/install-deps.sh)
#   2. builds normally and with ASan/UBSan; runs the unit tests in both builds
#   3. starts a private Kafka broker (KRaft, 127.0.0.1:$LT_TEST_KAFKA_PORT, state in a
#      temporary folder), runs the integration tests against it, and stops it again,
#      also on failure or interruption
# Ends with one line "N passed, N failed"; exits non-zero on any failure.
#   tests/run-all.sh --long    also runs the long campaigns (tests/long/*.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
long=0
[ "${1:-}" = "--long" ] && long=1

# Below Linux's ephemeral range (32768-60999), with every port derived from
# it (controllers at +10000, the federation's brokers at +300 and +400): a
# broker restarted while agents reconnect could otherwise find its port taken
# by one of their connections ("Address already in use").
export LT_TEST_KAFKA_PORT=${LT_TEST_KAFKA_PORT:-18092}
# The broker's second listener, advertised at the port of the tests' flapping proxy.
export LT_KAFKA_PROXY_PORT=$((LT_TEST_KAFKA_PORT + 100))
passed=0
failed=0
kafka_dir=$(mktemp -d /tmp/lienthong-kafka.XXXXXX)
times=$(mktemp) # wall time of each part, printed at the end, slowest first
# The failed checks of every part, repeated at the end: a run's last lines must
# say what failed, not only how many.
failures=$(mktemp)

cleanup() {
	LT_KAFKA_PORT=$LT_TEST_KAFKA_PORT LT_KAFKA_DIR=$kafka_dir deploy/kafka.sh stop >/dev/null 2>&1 || true
	rm -rf "$kafka_dir" "$times" "$failures"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Adds the "N passed, N failed" line of a log to the totals; a missing line is
# a failure. A part that failed has its name and failed checks (lines with
# "FAIL", "CHECK failed", "no summary" or a sanitizer's "ERROR:") kept for the
# end of the run.
tally() { # name log status
	local line before=$failed
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$2" | tail -n 1 || true)
	if [ -z "$line" ]; then
		failed=$((failed + 1))
		echo "  (no result line: counted as one failure)" | tee -a "$2"
	else
		passed=$((passed + $(awk '{print $1}' <<<"$line")))
		failed=$((failed + $(awk '{print $3}' <<<"$line")))
		if [ "$3" -ne 0 ] && [ "$(awk '{print $3}' <<<"$line")" -eq 0 ]; then
			failed=$((failed + 1))
			echo "  (exit status $3 without a failed check: counted as one failure)" | tee -a "$2"
		fi
	fi
	if [ "$failed" -ne "$before" ]; then
		{
			echo "--- $1"
			grep -E 'FAIL|CHECK failed|no summary|ERROR:|counted as one failure|, but exit status' "$2" |
				head -n 40 || true
		} >>"$failures"
	fi
}

run() { # name command...
	local name=$1 log st=0 t0
	shift
	log=$(mktemp)
	echo "=== $name"
	t0=$(date +%s)
	"$@" 2>&1 | tee "$log" || st=$?
	echo "$(($(date +%s) - t0)) s  $name" >>"$times"
	tally "$name" "$log" "$st"
	rm -f "$log"
}

# A part run in the background (bg_start NAME LOG COMMAND...), its output and
# result reported once it ended (bg_end NAME LOG PID).
bg_start() {
	local log=$2
	shift 2
	(
		t0=$(date +%s)
		"$@" >"$log" 2>&1 && st=0 || st=$?
		echo "$st $(($(date +%s) - t0))" >"$log.st"
	) &
}
bg_end() {
	local st=1 secs=0
	wait "$3" || true
	[ -s "$2.st" ] && read -r st secs <"$2.st"
	echo "=== $1"
	cat "$2"
	echo "$secs s  $1" >>"$times"
	tally "$1" "$2" "$st"
	rm -f "$2" "$2.st"
}

deploy/install-deps.sh
make -j2 all
make -j2 SAN=1 all
# The two unit runs are independent (build/ and build-san/), and mostly wait on
# librdkafka's mock cluster: side by side.
san_log=$(mktemp)
bg_start "unit tests under ASan/UBSan" "$san_log" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1 tests/run-unit.sh build-san
san_pid=$!
run "unit tests" tests/run-unit.sh build
bg_end "unit tests under ASan/UBSan" "$san_log" "$san_pid"

echo "=== starting the test Kafka broker on 127.0.0.1:$LT_TEST_KAFKA_PORT"
LT_KAFKA_PORT=$LT_TEST_KAFKA_PORT LT_KAFKA_DIR=$kafka_dir LT_KAFKA_RESET=1 deploy/kafka.sh start
export LT_BOOTSTRAP=127.0.0.1:$LT_TEST_KAFKA_PORT
export LT_KAFKA_PORT=$LT_TEST_KAFKA_PORT LT_KAFKA_DIR=$kafka_dir

for t in tests/integration/*.sh; do
	[ "$(basename "$t")" = lib.sh ] && continue
	LT_BUILD=build run "integration: $(basename "$t" .sh)" "$t"
done
if [ $long -eq 1 ]; then
	for t in tests/long/*.sh; do
		[ -e "$t" ] || continue
		LT_BUILD=build run "long: $(basename "$t" .sh)" "$t"
	done
	fuzz_log=$(mktemp)
	echo "=== fuzzing, ${LT_FUZZ_SECONDS:-60} s per target"
	if make -s fuzz-run FUZZ_SECONDS="${LT_FUZZ_SECONDS:-60}" 2>&1 | tee "$fuzz_log"; then
		passed=$((passed + $(grep -c 'no finding' "$fuzz_log")))
	else
		failed=$((failed + 1))
		{
			echo "--- fuzzing"
			grep -E 'crash|leak|timeout|ERROR' "$fuzz_log" | head -n 40 || true
		} >>"$failures"
	fi
	rm -f "$fuzz_log"
fi

echo "=== wall time per part, slowest first"
sort -rn "$times"
if [ -s "$failures" ]; then
	echo "=== what failed"
	cat "$failures"
fi
echo "=== total"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
