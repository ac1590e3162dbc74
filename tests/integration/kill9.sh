#!/usr/bin/env bash
# Fault 3: kill -9 the sending agent at random moments while documents flow,
# restarting it each time; then the same for the receiving agent. Nothing is
# lost, nothing is delivered twice, nothing is left half-written.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${LT_KILL_DOCS:-1000}
KILLS=${LT_KILLS:-5}
A=KILL.A01
B=KILL.B02

lt_setup
lt_agency $A
lt_agency $B
# A killed consumer leaves no group: its partitions return after the session
# timeout; the broker's least (6 s) instead of 15 s keeps the drains short.
lt_set $B kafka.session.timeout.ms 6000
lt_start $A
lt_start $B

kill9_restart() { # code
	local pid
	pid=$(cat "$LT_WORK/$1/agent.pid")
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	echo "--- killed with SIGKILL" >>"$LT_WORK/$1/agent.log"
	lt_start "$1"
}

# run VICTIM IDS_FILE: uploads N documents in chunks while VICTIM is killed KILLS times.
run() {
	local victim=$1 ids=$2 docs="$LT_WORK/docs-$1"
	lt_make_docs "$docs" "$N" 20000
	# Pace the uploads so that they last as long as the kills (about 1 s apart).
	local pause
	pause=$(awk -v k="$KILLS" -v n="$N" 'BEGIN { p = k * 1.05 / (n / 50); printf "%.2f", p < 0.05 ? 0.05 : p }')
	(
		files=("$docs"/*.pdf)
		for ((i = 0; i < ${#files[@]}; i += 50)); do
			lt_upload $A $B "$ids" "${files[@]:i:50}"
			sleep "$pause"
		done
	) &
	local uploader=$!
	for _ in $(seq 1 "$KILLS"); do
		sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.3 + (r % 140) / 100 }')"
		kill9_restart "$victim"
	done
	wait "$uploader"
	lt_check "all $N documents submitted while $victim was killed $KILLS times" [ "$(wc -l <"$ids")" -eq "$N" ]
	local start=$SECONDS
	lt_check "all delivered after the last kill of $victim" lt_wait_until 300 lt_all_delivered $A "$ids"
	lt_figure "drained $((SECONDS - start)) s after the last kill of $victim"
}

run $A "$LT_WORK/ids-sender-killed"
run $B "$LT_WORK/ids-receiver-killed"
cat "$LT_WORK/ids-sender-killed" "$LT_WORK/ids-receiver-killed" >"$LT_WORK/ids"
lt_verify $A $B "$LT_WORK/ids"
resent=$(grep -c 'received again' "$LT_WORK/$B/agent.log" || true)
lt_figure "$resent document(s) arrived again after kills and were not delivered twice"
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
