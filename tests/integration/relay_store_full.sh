#!/usr/bin/env bash
# A relay whose store fills up, provoked: lmdb_map_size of 2 MiB, and 80
# documents of up to 200 KiB from A (platform P) to two recipients B1 and B2
# (platform Q), so that the relay's batches interleave two topics' partitions
# and do not fit its store. Storing fails, each partition is read again from
# its first record of the failed batch (a partition rewound to a later record
# of the batch would lose the ones before it), the store drains as Q
# acknowledges, and every document crosses exactly once without a restart.
# --status shows the failure while it lasts and "working" after. About 60 s.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${LT_RELAY_FULL_DOCS:-40} # to each recipient
A=RF.A01
B1=RF.B01
B2=RF.B02
R=RELAY.RF

lt_setup
lt_pq $R "$LT_BOOTSTRAP" $A "$B1 $B2" lmdb_map_size=2M
lt_pq_relay
lt_start $A
lt_start $B1
lt_start $B2
both() { lt_pq_knows $A $B1 && lt_pq_knows $A $B2; }
lt_check "$A's agent learns $B1 and $B2 through the relay" lt_wait_until 90 both

lt_make_docs "$LT_WORK/docs1" "$N" 200000
lt_make_docs "$LT_WORK/docs2" "$N" 200000
lt_stop $A # everything waits in A's outbox, then goes out at once
lt_upload $A $B1 "$LT_WORK/ids1" "$LT_WORK/docs1"/*.pdf
lt_upload $A $B2 "$LT_WORK/ids2" "$LT_WORK/docs2"/*.pdf
lt_start $A
full() { grep -q 'P: cannot store what was read: LMDB store .* is full' "$LT_WORK/R/relay.log"; }
lt_check "the relay's store filled up (its log says so)" lt_wait_until 90 full
lt_check "all $N documents for $B1 delivered" lt_wait_until 180 lt_all_delivered $A "$LT_WORK/ids1"
lt_check "all $N documents for $B2 delivered" lt_wait_until 180 lt_all_delivered $A "$LT_WORK/ids2"
lt_verify $A $B1 "$LT_WORK/ids1"
lt_verify $A $B2 "$LT_WORK/ids2"
works() {
	local o
	o=$("$LT_BIN/lienthong-relay" -c "$LT_WORK/R/agency.conf" --status) &&
		grep -q '^storing what P sends: working' <<<"$o" && grep -q '^storing what Q sends: working' <<<"$o" &&
		grep -q '^nothing waits' <<<"$o"
}
lt_check "--status shows storing working again and nothing waiting" lt_wait_until 30 works
lt_check "the relay logged that storing works again" grep -q 'P: storing works again' "$LT_WORK/R/relay.log"
lt_check "the relay is still the one started at first (no restart)" kill -0 "$(cat "$LT_WORK/R.pid")"
lt_figure "store failures logged: $(grep -c 'cannot store what was read' "$LT_WORK/R/relay.log" || true) (once per episode at error level)"
lt_check "the relay stops cleanly" lt_pq_relay_stop
gone() { "$LT_BIN/lienthong-relay" -c "$LT_WORK/R/agency.conf" --status | grep -q "^NOT RUNNING: relay pid $(cat "$LT_WORK/R.pid") is gone"; }
lt_check "--status of the stopped relay says NOT RUNNING with its pid" gone
for c in $A $B1 $B2; do lt_check "agent $c stops cleanly" lt_stop $c; done
