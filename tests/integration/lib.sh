# Shared helpers of the integration tests (sourced, not run).
#
# Environment (set by tests/run-all.sh):
#   LT_BUILD      build folder with bin/ and tests/ (default build)
#   LT_BOOTSTRAP  Kafka bootstrap servers of the test broker (default 127.0.0.1:39092)
#   LT_WORK       scratch folder for this test (created; removed on success)

LT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LT_BUILD=${LT_BUILD:-build}
case "$LT_BUILD" in /*) ;; *) LT_BUILD="$LT_ROOT/$LT_BUILD" ;; esac
LT_BIN="$LT_BUILD/bin"
LT_BOOTSTRAP=${LT_BOOTSTRAP:-127.0.0.1:39092}
LT_PREFIX="lt$(date +%s)$$"
LT_PIDS=()
lt_checks_passed=0
lt_checks_failed=0

lt_fail() {
	echo "FAIL: $*" >&2
	lt_checks_failed=$((lt_checks_failed + 1))
}

lt_pass() {
	echo "ok: $*"
	lt_checks_passed=$((lt_checks_passed + 1))
}

# lt_check DESCRIPTION COMMAND...: one assertion.
lt_check() {
	local what=$1
	shift
	if "$@"; then lt_pass "$what"; else lt_fail "$what"; fi
}

lt_setup() {
	LT_WORK=${LT_WORK:-$(mktemp -d /tmp/lienthong-test.XXXXXX)}
	mkdir -p "$LT_WORK"
	"$LT_ROOT/deploy/pki.sh" ca "$LT_WORK/pki" >/dev/null
	trap lt_teardown EXIT
}

# lt_agency CODE [KEYTYPE]: keys, certificate and configuration in $LT_WORK/CODE/.
lt_agency() {
	local code=$1 type=${2:-ec} dir="$LT_WORK/$1"
	mkdir -p "$dir"
	"$LT_ROOT/deploy/pki.sh" agency "$LT_WORK/pki" "$code" "$type" >/dev/null
	cat >"$dir/agency.conf" <<CONF
agency_code = $code
data_dir = data
key_file = ../pki/$code.key
cert_file = ../pki/$code.crt
ca_file = ../pki/ca.crt
target_dir = target
topic_prefix = $LT_PREFIX
topic_partitions = 3
poll_interval_ms = 50
retry_backoff_min_ms = 200
retry_backoff_max_ms = 2000
kafka.bootstrap.servers = $LT_BOOTSTRAP
kafka.linger.ms = 5
CONF
}

lt_conf() { echo "$LT_WORK/$1/agency.conf"; }

# lt_start CODE: starts the agent of CODE in the background, log in $LT_WORK/CODE/agent.log.
lt_start() {
	local code=$1
	"$LT_BIN/lienthong-agent" -c "$(lt_conf "$code")" >>"$LT_WORK/$code/agent.log" 2>&1 &
	echo $! >"$LT_WORK/$code/agent.pid"
	LT_PIDS+=($!)
}

# lt_stop CODE: SIGTERM and wait; returns the agent's exit status.
lt_stop() {
	local pid
	pid=$(cat "$LT_WORK/$1/agent.pid")
	kill -TERM "$pid" 2>/dev/null || return 0
	wait "$pid"
}

# lt_wait_until SECONDS COMMAND...: polls COMMAND every 0.5 s until it succeeds.
lt_wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.5
	done
}

# lt_count_status CODE STATUS: how many (document, recipient) rows have STATUS.
lt_count_status() {
	"$LT_BIN/lienthong-status" -c "$(lt_conf "$1")" --json | grep -c "\"status\":\"$2\"" || true
}

lt_teardown() {
	local rc=$?
	for pid in "${LT_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ "$lt_checks_failed" -eq 0 ] && [ $rc -eq 0 ]; then
		rm -rf "$LT_WORK"
	else
		echo "test files kept in $LT_WORK" >&2
		for log in "$LT_WORK"/*/agent.log; do
			[ -f "$log" ] && { echo "--- last lines of $log" >&2; tail -n 20 "$log" >&2; }
		done
	fi
	echo "$lt_checks_passed passed, $lt_checks_failed failed"
	[ "$lt_checks_failed" -eq 0 ] && [ $rc -eq 0 ] || exit 1
}
