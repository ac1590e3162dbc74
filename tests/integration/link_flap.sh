#!/usr/bin/env bash
# Fault 2: the link flaps. The agents reach the broker only through a TCP
# proxy (tests/tools/lt_proxy.c) that drops or black-holes every connection
# every few seconds for a while, as documents flow both ways. Afterwards
# everything is delivered exactly once, byte-identical.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${LT_FLAP_DOCS:-2000} # in total, half each way
FLAP=${LT_FLAP_SECONDS:-60}
A=FLAP.A01
B=FLAP.B02

lt_setup
lt_proxy

for code in $A $B; do
	lt_agency $code
	lt_set $code kafka.bootstrap.servers "127.0.0.1:$LT_PROXY_PORT"
	# Notice a dead link sooner than the defaults (60 s): keeps the test short.
	lt_set $code kafka.socket.timeout.ms 10000
	lt_set $code kafka.message.timeout.ms 30000
	lt_start $code
done
topics_ready() { grep -q 'topics ready' "$LT_WORK/$A/agent.log" && grep -q 'topics ready' "$LT_WORK/$B/agent.log"; }
lt_check "agents created their topics through the proxy" lt_wait_until 60 topics_ready

half=$((N / 2))
lt_make_docs "$LT_WORK/docs-$A" "$half" 20000
lt_make_docs "$LT_WORK/docs-$B" "$half" 20000
upload_paced() { # from to ids dir: chunks of 50 spread over the flapping
	local files=("$4"/*.pdf) pause
	pause=$(awk -v f="$FLAP" -v n="${#files[@]}" 'BEGIN { printf "%.2f", f * 0.8 / (n / 50 + 1) }')
	for ((i = 0; i < ${#files[@]}; i += 50)); do
		lt_upload "$1" "$2" "$3" "${files[@]:i:50}"
		sleep "$pause"
	done
}
upload_paced $A $B "$LT_WORK/ids-$A" "$LT_WORK/docs-$A" &
up1=$!
upload_paced $B $A "$LT_WORK/ids-$B" "$LT_WORK/docs-$B" &
up2=$!

end=$((SECONDS + FLAP))
flaps=0
while [ $SECONDS -lt $end ]; do
	case $((RANDOM % 3)) in
	0) lt_proxy_mode drop ;;
	1) lt_proxy_mode blackhole ;;
	2) lt_proxy_mode up ;;
	esac
	flaps=$((flaps + 1))
	sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.1f", 2 + (r % 30) / 10 }')"
done
lt_proxy_mode up
lt_check "every upload of $A went through while the link flapped" wait $up1
lt_check "every upload of $B went through while the link flapped" wait $up2
lt_figure "link flapped $flaps times in ${FLAP}s while $N documents were submitted"
start=$SECONDS
both() { lt_all_delivered $A "$LT_WORK/ids-$A" && lt_all_delivered $B "$LT_WORK/ids-$B"; }
lt_check "all $N delivered after the link settled" lt_wait_until 300 both
lt_figure "drained $((SECONDS - start)) s after the link settled"
lt_verify $A $B "$LT_WORK/ids-$A"
lt_verify $B $A "$LT_WORK/ids-$B"
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
