#!/usr/bin/env bash
# A Kafka cluster of three brokers (deploy/kafka.sh, LT_KAFKA_NODES=3): the
# agents create their topics replicated three times with min.insync.replicas
# 2; documents flow both ways while one broker is killed with kill -9 and
# restarted later, then another. The agents ride through the leader changes
# without help: everything is delivered byte-identical exactly once.
# LT_CLUSTER_DOCS documents in all, half each way (tests/long/cluster_5000.sh: 10,000,
# and the second broker restarted at the end too: LT_CLUSTER_RESTART_SECOND=1).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${LT_CLUSTER_DOCS:-240}
A=CLUSTER.A01
B=CLUSTER.B02

lt_setup
t0=$SECONDS
lt_check "a cluster of three brokers starts" lt_cluster start
lt_figure "cluster started in $((SECONDS - t0)) s"
LT_BOOTSTRAP=$(lt_cluster_bootstrap)
for code in $A $B; do
	lt_agency $code
done
lt_set $A topic_min_insync 2 # B keeps the defaults: the broker's (3 replicas, 2 in sync)
lt_start $A
lt_start $B
pid_a=$(cat "$LT_WORK/$A/agent.pid")
pid_b=$(cat "$LT_WORK/$B/agent.pid")
topics_ready() { grep -q 'topics ready' "$LT_WORK/$A/agent.log" && grep -q 'topics ready' "$LT_WORK/$B/agent.log"; }
lt_check "agents created their topics" lt_wait_until 60 topics_ready
inbox_a=$LT_PREFIX.inbox.$A
inbox_b=$LT_PREFIX.inbox.$B
topics=("$inbox_a" "$inbox_b" "$LT_PREFIX.receipts.$A" "$LT_PREFIX.receipts.$B")
lt_check "every partition of the four topics has three replicas, all in sync" \
	lt_wait_until 30 lt_cluster_in_sync "${topics[@]}"
configs=$(java -Xmx128m -Dlog4j.configuration=file:/dev/null \
	-cp "${LT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lienthong}/kafka-${LT_KAFKA_VERSION:-3.9.2}/libs/*" \
	kafka.admin.ConfigCommand --bootstrap-server "$LT_BOOTSTRAP" --describe \
	--entity-type topics --entity-name "$inbox_a" 2>/dev/null || true)
lt_check "$A's inbox topic was created with min.insync.replicas=2 (topic_min_insync)" \
	grep -q 'min.insync.replicas=2 .*DYNAMIC_TOPIC_CONFIG' <<<"$configs"

half=$((N / 2))
q=$((half / 4))
lt_make_docs "$LT_WORK/docs-$A" "$half" 20000
lt_make_docs "$LT_WORK/docs-$B" "$half" 20000
fa=("$LT_WORK/docs-$A"/*.pdf)
fb=("$LT_WORK/docs-$B"/*.pdf)
upload() { # FROM-INDEX COUNT: both ways at once; fails if either upload failed (error above)
	local p1 p2 st=0
	lt_upload $A $B "$LT_WORK/ids-$A" "${fa[@]:$1:$2}" &
	p1=$!
	lt_upload $B $A "$LT_WORK/ids-$B" "${fb[@]:$1:$2}" &
	p2=$!
	wait $p1 || st=$?
	wait $p2 || st=$?
	return $st
}
all() { lt_all_delivered $A "$LT_WORK/ids-$A" && lt_all_delivered $B "$LT_WORK/ids-$B"; }

lt_check "the first $((2 * q)) documents accepted" upload 0 "$q"
lt_check "first $((2 * q)) documents delivered" lt_wait_until 120 all

# kill_during FROM COUNT NODE: uploads COUNT documents each way from index FROM
# and kills NODE with kill -9 while they are on their way: as soon as B has
# written the first of them.
kill_during() {
	local up seen before i
	written() { grep -c 'wrote [0-9]* part(s) into' "$LT_WORK/$B/agent.log" || true; }
	before=$(written)
	upload "$1" "$2" &
	up=$!
	for ((i = 0; i < 600; i++)); do
		[ "$(written)" -le "$before" ] || break
		sleep 0.05
	done
	kill -KILL "$(lt_cluster_pid "$3")"
	seen=$(($(lt_count_status $A delivered) + $(lt_count_status $B delivered)))
	lt_figure "node $3 killed; just after, $seen of $(cat "$LT_WORK/ids-$A" "$LT_WORK/ids-$B" | wc -l) documents were delivered"
	wait $up || lt_fail "an upload while node $3 was killed failed (its error is above)"
}

# First victim: the leader of B's inbox partition 0.
victim=$(lt_cluster_leader "$inbox_b" 0)
lt_check "the leader of $inbox_b partition 0 is known (node $victim)" [ -n "$victim" ]
kill_during "$q" "$q" "$victim"
lt_check "$((2 * q)) more accepted while it is down" upload $((2 * q)) "$q"
lt_check "all $((6 * q)) documents so far delivered with node $victim down" lt_wait_until 180 all
lt_check "node $victim restarts (deploy/kafka.sh start starts the missing node)" lt_cluster start
lt_check "its replicas catch up: all in sync again" lt_wait_until 120 lt_cluster_in_sync "${topics[@]}"
lt_figure "first kill, delivery, restart and catch-up done at $((SECONDS - t0)) s"

# Second victim: another node, the leader of A's inbox partition 1 if not the first.
second=$(lt_cluster_leader "$inbox_a" 1)
[ -n "$second" ] && [ "$second" != "$victim" ] || second=$((victim % 3 + 1))
kill_during $((3 * q)) $((half - 3 * q)) "$second"
lt_check "all $N documents accepted" [ "$(cat "$LT_WORK/ids-$A" "$LT_WORK/ids-$B" | wc -l)" -eq "$N" ]
start=$SECONDS
lt_check "all $N delivered with node $second down, without restarting an agent" lt_wait_until 300 all
lt_figure "drained $((SECONDS - start)) s after the second kill"
if [ "${LT_CLUSTER_RESTART_SECOND:-0}" = 1 ]; then # the long variant; saves time here
	lt_check "node $second restarts" lt_cluster start
	lt_check "its replicas catch up too" lt_wait_until 300 lt_cluster_in_sync "${topics[@]}"
fi
lt_verify $A $B "$LT_WORK/ids-$A"
lt_verify $B $A "$LT_WORK/ids-$B"
lt_check "both agents ran through it all (the same processes)" kill -0 "$pid_a" "$pid_b"
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
