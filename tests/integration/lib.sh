# Shared helpers of the integration tests (sourced, not run).
#
# Environment (set by tests/run-all.sh):
#   LT_BUILD      build folder with bin/ and tests/ (default build)
#   LT_BOOTSTRAP  Kafka bootstrap servers of the test broker (default 127.0.0.1:18092)
#   LT_WORK       scratch folder for this test (created; removed on success)
#   LT_KAFKA_PORT, LT_KAFKA_DIR  the test broker, for tests that stop and start it
#   LT_KAFKA_PROXY_PORT          where the broker's PROXIED listener is advertised

LT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LT_BUILD=${LT_BUILD:-build}
case "$LT_BUILD" in /*) ;; *) LT_BUILD="$LT_ROOT/$LT_BUILD" ;; esac
LT_BIN="$LT_BUILD/bin"
LT_BOOTSTRAP=${LT_BOOTSTRAP:-127.0.0.1:18092}
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

# lt_figure TEXT: a measured figure, printed for the record; not a check.
lt_figure() {
	echo "figure: $*"
}

# lt_check DESCRIPTION COMMAND...: one assertion.
lt_check() {
	local what=$1
	shift
	if "$@"; then lt_pass "$what"; else lt_fail "$what"; fi
}

# A command that fails outside a check stops the test (set -e): the ERR trap
# (errtrace: in functions and subshells too) says which and where, as a FAIL
# line that the end of `make test` repeats. Not while set +e is on.
lt_stopped() { # status command file line
	[[ $- == *e* ]] || return 0
	local who="the test"
	[ "$BASHPID" = "$$" ] || who="a subshell or background job of the test"
	echo "FAIL: $who stops: '$2' exited with status $1 at ${3##*/}:$4" >&2
}

lt_setup() {
	LT_WORK=${LT_WORK:-$(mktemp -d /tmp/lienthong-test.XXXXXX)}
	mkdir -p "$LT_WORK"
	trap lt_teardown EXIT
	set -E
	trap 'lt_stopped $? "$BASH_COMMAND" "${BASH_SOURCE[0]}" $LINENO' ERR
	"$LT_ROOT/deploy/pki.sh" ca "$LT_WORK/pki" >/dev/null
}

# lt_agency CODE [KEYTYPE]: keys, certificate and configuration in $LT_WORK/CODE/.
lt_agency() {
	local code=$1 type=${2:-ec} dir="$LT_WORK/$1"
	mkdir -p "$dir"
	"$LT_ROOT/deploy/pki.sh" agency "$LT_WORK/pki" "$code" "$type" >/dev/null
	"$LT_ROOT/deploy/agency-conf.sh" "$dir/agency.conf" "$code" ../pki "$LT_BOOTSTRAP" \
		topic_prefix="$LT_PREFIX" topic_partitions=3 poll_interval_ms=50 log_level=debug \
		retry_backoff_min_ms=200 retry_backoff_max_ms=2000 kafka.linger.ms=5
}

lt_conf() { echo "$LT_WORK/$1/agency.conf"; }

# lt_set CODE KEY VALUE: sets (or replaces) one setting in CODE's configuration.
lt_set() {
	local f
	f=$(lt_conf "$1")
	grep -v "^$2 = " "$f" >"$f.new" || true
	echo "$2 = $3" >>"$f.new"
	mv "$f.new" "$f"
}

# HTTP targets (tests/tools/http_target.py), one per agency that delivers over HTTP.
declare -A LT_HTTP_PORT=()

# lt_http_target CODE: starts CODE's test HTTP target on a free port (LT_HTTP_PORT[CODE]);
# it keeps what it receives in $LT_WORK/http-CODE/ and logs to $LT_WORK/http-CODE.log.
lt_http_target() {
	local code=$1 dir="$LT_WORK/http-$1" port pid try
	mkdir -p "$dir"
	for try in $(seq 0 19); do
		port=$((38000 + ($$ + 97 * try + 389 * ${#LT_HTTP_PORT[@]}) % 1000))
		python3 "$LT_ROOT/tests/tools/http_target.py" --port "$port" --dir "$dir" \
			--mode-file "$dir.mode" 2>>"$dir.log" &
		pid=$!
		while [ ! -s "$dir/server.pid" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
		if [ -s "$dir/server.pid" ] && [ "$(cat "$dir/server.pid")" = "$pid" ]; then
			LT_PIDS+=("$pid") # stopped by lt_teardown (EXIT trap)
			LT_HTTP_PORT[$code]=$port
			return 0
		fi
		wait "$pid" 2>/dev/null || true # port taken: next one
	done
	echo "cannot start tests/tools/http_target.py for $code" >&2
	return 1
}

# lt_http_mode CODE ok|503|400|hang: how CODE's HTTP target answers from now on.
lt_http_mode() { echo "$2" >"$LT_WORK/http-$1.mode"; }

# lt_http_agency CODE: CODE delivers to its HTTP target instead of a folder.
lt_http_agency() {
	local f
	f=$(lt_conf "$1")
	grep -v '^target_dir = ' "$f" >"$f.new"
	mv "$f.new" "$f"
	lt_set "$1" target_url "http://127.0.0.1:${LT_HTTP_PORT[$1]}/inbox"
}

# lt_broker stop|start: the test broker (run-all.sh exports its port and folder).
lt_broker() {
	LT_KAFKA_PORT=${LT_KAFKA_PORT:?} LT_KAFKA_DIR=${LT_KAFKA_DIR:?} \
		"$LT_ROOT/deploy/kafka.sh" "$1" >/dev/null
}

# lt_proxy: starts the test proxy (tests/tools/lt_proxy.c) on the broker's advertised
# proxied port ($LT_PROXY_PORT), forwarding to its proxied listener; the link
# follows lt_proxy_mode up|drop|blackhole (up at first).
lt_proxy() {
	LT_PROXY_PORT=${LT_KAFKA_PROXY_PORT:?the broker needs its proxied listener (tests/run-all.sh sets it)}
	local proxied=${LT_KAFKA_PROXIED_PORT:-$((${LT_KAFKA_PORT:?} + 1))}
	lt_proxy_mode up
	"$LT_BUILD/tests/lt-proxy" --listen "$LT_PROXY_PORT" --target "$proxied" \
		--control "$LT_WORK/proxy.mode" 2>"$LT_WORK/proxy.log" &
	LT_PIDS+=($!)
}
lt_proxy_mode() { echo "$1" >"$LT_WORK/proxy.mode.new" && mv "$LT_WORK/proxy.mode.new" "$LT_WORK/proxy.mode"; }

# lt_pq RELAY Q_BOOTSTRAP "P_AGENCIES" "Q_AGENCIES" [RELAY_SETTING=VALUE...]: two
# platforms P and Q as two topic prefixes ($PP, $QP) on the suite's broker,
# the agencies of each (configured, not started), directories DIR.P and DIR.Q
# listing them, and the configuration of relay RELAY in $LT_WORK/R, reaching Q
# at Q_BOOTSTRAP (start it with lt_pq_relay). PP and QP are set here.
lt_pq() {
	local relay=$1 qbs=$2 pa=$3 qa=$4 c x
	shift 4
	local settings=("$@")
	PP=${LT_PREFIX}p QP=${LT_PREFIX}q
	lt_pq_on() { lt_set "$1" topic_prefix "$3"; lt_set "$1" platform "$2"; }
	for c in $pa; do lt_agency "$c" && lt_pq_on "$c" P "$PP"; done
	for c in $qa; do lt_agency "$c" && lt_pq_on "$c" Q "$QP"; done
	for x in "DIR.P P $PP" "DIR.Q Q $QP"; do
		set -- $x
		"$LT_ROOT/deploy/pki.sh" directory "$LT_WORK/pki" "$1" >/dev/null
		mkdir -p "$LT_WORK/$1"
		"$LT_ROOT/deploy/agency-conf.sh" "$LT_WORK/$1/agency.conf" "$1" ../pki "$LT_BOOTSTRAP"
		lt_pq_on "$1" "$2" "$3"
	done
	local listed=1
	for c in $pa; do lt_pq_dir DIR.P publish "$c" P >/dev/null || listed=0; done
	for c in $qa; do lt_pq_dir DIR.Q publish "$c" Q >/dev/null || listed=0; done
	lt_check "the directories list $pa on P and $qa on Q" [ $listed -eq 1 ]
	"$LT_ROOT/deploy/pki.sh" relay "$LT_WORK/pki" "$relay" >/dev/null
	mkdir -p "$LT_WORK/R"
	"$LT_ROOT/deploy/agency-conf.sh" "$LT_WORK/R/agency.conf" "$relay" ../pki "$LT_BOOTSTRAP" \
		log_level=debug retry_backoff_min_ms=200 retry_backoff_max_ms=2000 kafka.linger.ms=5 \
		peer.kafka.linger.ms=5 "${settings[@]}"
	{
		echo "topic_prefix = $PP"
		echo "platform = P"
		echo "peer_platform = Q"
		echo "peer_topic_prefix = $QP"
		echo "peer.kafka.bootstrap.servers = $qbs"
	} >>"$LT_WORK/R/agency.conf"
}
lt_pq_dir() { "$LT_BIN/lienthong-directory" -c "$(lt_conf "$1")" "${@:2}"; }
# lt_pq_relay: starts the relay configured by lt_pq (pid in $LT_WORK/R.pid).
lt_pq_relay() {
	"$LT_BIN/lienthong-relay" -c "$LT_WORK/R/agency.conf" >>"$LT_WORK/R/relay.log" 2>&1 &
	echo $! >"$LT_WORK/R.pid"
	LT_PIDS+=($!)
}
# lt_pq_relay_stop: SIGTERM to that relay and wait; returns its exit status.
lt_pq_relay_stop() { kill -TERM "$(cat "$LT_WORK/R.pid")" && wait "$(cat "$LT_WORK/R.pid")"; }
# lt_pq_knows CODE OTHER: CODE's directory lists OTHER.
lt_pq_knows() { lt_pq_dir "$1" list | awk -v c="$2" '$1 == c { f = 1 } END { exit !f }'; }

# lt_make_docs DIR COUNT [MAXSIZE]: COUNT files of random bytes (0..MAXSIZE bytes).
lt_make_docs() {
	local max=${3:-20000}
	mkdir -p "$1"
	for i in $(seq 1 "$2"); do
		head -c $(((i * 7919) % max)) /dev/urandom >"$1/doc-$i.pdf"
	done
}

# lt_upload FROM TO IDS_FILE FILE...: submits and appends "id<TAB>file" lines to IDS_FILE.
lt_upload() {
	local from=$1 to=$2 ids=$3
	shift 3
	"$LT_BIN/lienthong-upload" -c "$(lt_conf "$from")" --to "$to" "$@" >>"$ids"
}

# lt_all_delivered SENDER IDS_FILE: every document in IDS_FILE shows delivered
# (for every recipient) in SENDER's status.
lt_all_delivered() {
	local missing
	missing=$("$LT_BIN/lienthong-status" -c "$(lt_conf "$1")" --json |
		awk -v ids="$2" 'BEGIN { while ((getline l < ids) > 0) { split(l, f, "\t"); want[f[1]] = 1 } }
			{ match($0, /"document_id":"[^"]*"/); id = substr($0, RSTART + 15, RLENGTH - 16)
			  if (id in want && $0 !~ /"status":"delivered"/) bad[id] = 1
			  if (id in want) seen[id] = 1 }
			END { n = 0; for (id in want) if (!(id in seen) || (id in bad)) n++; print n }')
	[ "$missing" -eq 0 ]
}

# lt_verify SENDER RECIPIENT IDS_FILE: the guarantees after a run, as checks:
# every file byte-identical exactly once in the recipient's target folder,
# nothing half-written, each written once (agent debug log), all delivered.
lt_verify() {
	local s=$1 r=$2 ids=$3 n bad=0 id file
	n=$(wc -l <"$ids")
	while IFS=$'\t' read -r id file; do
		cmp -s "$file" "$LT_WORK/$r/target/$s/$id/$(basename "$file")" || bad=$((bad + 1))
	done <"$ids"
	lt_check "$r: all $n documents of $s byte-identical ($bad missing or different)" [ "$bad" -eq 0 ]
	lt_check "$r: exactly $n document folders from $s" \
		[ "$(find "$LT_WORK/$r/target/$s" -mindepth 1 -maxdepth 1 -type d ! -name '.tmp-*' | wc -l)" -eq "$n" ]
	lt_check "$r: no half-written delivery left" [ -z "$(find "$LT_WORK/$r/target" -name '.tmp-*')" ]
	# The oracle is the agent's debug line "wrote N part(s) into PATH": it must
	# be there for every document (a changed text or level fails, never passes).
	local dups wrote
	wrote=$(grep -o "wrote [0-9]* part(s) into .*/$s/[0-9a-f-]*" "$LT_WORK/$r/agent.log" | sort -u | wc -l)
	dups=$(grep -o "wrote [0-9]* part(s) into .*/$s/[0-9a-f-]*" "$LT_WORK/$r/agent.log" | sort | uniq -d | wc -l)
	lt_check "$r: the agent's log has a 'wrote ... part(s) into' line for each of the $n documents ($wrote)" \
		[ "$wrote" -eq "$n" ]
	lt_check "$r: no document of $s written twice ($dups duplicates)" [ "$dups" -eq 0 ]
	lt_check "$s: all $n documents show delivered" lt_all_delivered "$s" "$ids"
}

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

# A test's own Kafka cluster of three nodes (deploy/kafka.sh with LT_KAFKA_NODES=3):
# state in $LT_WORK/kafka, node I on 127.0.0.1:LT_CLUSTER_PORT+I-1 (default
# LT_KAFKA_PORT+3, so +3..+5), its controller 10000 above. lt_teardown stops it.
LT_CLUSTER_PORT=${LT_CLUSTER_PORT:-$((${LT_KAFKA_PORT:-18092} + 3))}
LT_CLUSTER_STARTED=0

# lt_cluster start|stop|status: the whole cluster (start: every node not running).
lt_cluster() {
	[ "$1" != start ] || LT_CLUSTER_STARTED=1
	env -u LT_KAFKA_PROXY_PORT -u LT_KAFKA_PROXIED_PORT -u LT_KAFKA_TLS_DIR \
		-u LT_KAFKA_CONTROLLER_PORT LT_KAFKA_NODES=3 LT_KAFKA_PORT="$LT_CLUSTER_PORT" \
		LT_KAFKA_DIR="$LT_WORK/kafka" "$LT_ROOT/deploy/kafka.sh" "$1"
}

# lt_cluster_bootstrap: the bootstrap.servers list of the cluster.
lt_cluster_bootstrap() {
	echo "127.0.0.1:$LT_CLUSTER_PORT,127.0.0.1:$((LT_CLUSTER_PORT + 1)),127.0.0.1:$((LT_CLUSTER_PORT + 2))"
}

# lt_cluster_pid I: the pid of node I's broker.
lt_cluster_pid() { cat "$LT_WORK/kafka/node-$1/kafka.pid"; }

# lt_cluster_leader TOPIC PARTITION: the node leading that partition (metadata of a live node).
lt_cluster_leader() { # prints nothing when the cluster cannot say (a node just restarted)
	{ kcat -L -b "$(lt_cluster_bootstrap)" -t "$1" -m 10 2>/dev/null || true; } |
		sed -n "s/^ *partition $2, leader \([0-9]*\),.*/\1/p"
}

# lt_cluster_in_sync TOPIC...: every partition of the topics has all three replicas in sync.
lt_cluster_in_sync() {
	local t md
	for t in "$@"; do
		md=$(kcat -L -b "$(lt_cluster_bootstrap)" -t "$t" -m 10 2>/dev/null) || return 1
		grep -q 'partition ' <<<"$md" || return 1
		! grep 'partition ' <<<"$md" | grep -vq 'isrs: [0-9]*,[0-9]*,[0-9]*' || return 1
	done
}

lt_teardown() {
	local rc=$?
	for pid in "${LT_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	[ "$LT_CLUSTER_STARTED" = 0 ] || lt_cluster stop >/dev/null 2>&1 || true
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
