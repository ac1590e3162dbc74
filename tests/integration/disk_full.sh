#!/usr/bin/env bash
# The disk under data_dir fills up: A's data_dir is a small tmpfs. Uploads
# are refused with a message that says the disk is full (not "Input/output
# error"), nothing accepted is lost, the agent stays up, and once space is
# freed everything flows. Needs root (mount).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=DISK.A01
B=DISK.B02

lt_setup
mnt="$LT_WORK/$A/data"
disk_cleanup() {
	local rc=$?
	for pid in "${LT_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	umount -l "$mnt" 2>/dev/null || true
	(exit $rc)
	lt_teardown
}
trap disk_cleanup EXIT
lt_agency $A
lt_agency $B
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=3m,mode=0700 tmpfs "$mnt"; then
	lt_fail "cannot mount a small tmpfs for data_dir (the test needs root)"
	exit 1
fi
lt_start $A
lt_start $B
topics_ready() { grep -q 'topics ready' "$LT_WORK/$A/agent.log" && grep -q 'topics ready' "$LT_WORK/$B/agent.log"; }
lt_check "agents created their topics" lt_wait_until 60 topics_ready

mkdir -p "$LT_WORK/docs"
refused=""
for i in $(seq 1 40); do
	head -c 250000 /dev/urandom >"$LT_WORK/docs/big-$i.pdf"
	if ! "$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B "$LT_WORK/docs/big-$i.pdf" \
		>>"$LT_WORK/ids" 2>"$LT_WORK/upload.err"; then
		refused="$LT_WORK/docs/big-$i.pdf"
		break
	fi
done
lt_check "an upload was refused once the disk was full" [ -n "$refused" ]
lt_check "the refusal says no space is left, and where" \
	grep -q "no space left on the filesystem of data_dir $mnt" "$LT_WORK/upload.err"
lt_check "and not 'Input/output error'" bash -c "! grep -q 'Input/output error' '$LT_WORK/upload.err'"
lt_check "agent $A stays up on a full disk" kill -0 "$(cat "$LT_WORK/$A/agent.pid")"
accepted=$(wc -l <"$LT_WORK/ids")
lt_figure "$accepted documents of 250 kB accepted on a 3 MiB data_dir before the refusal"

mount -o remount,size=64m "$mnt"
lt_check "the refused document is accepted once space is freed" \
	lt_upload $A $B "$LT_WORK/ids" "$refused"
all() { lt_all_delivered $A "$LT_WORK/ids"; }
lt_check "all $((accepted + 1)) documents delivered" lt_wait_until 120 all
lt_verify $A $B "$LT_WORK/ids"
lt_check "agent $A stops cleanly" lt_stop $A
lt_check "agent $B stops cleanly" lt_stop $B
