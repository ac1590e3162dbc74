#!/usr/bin/env bash
# Batch upload from a manifest: --dry-run reports every problem with its line
# and submits nothing; a batch to three recipients interrupted with kill -9 and
# run again delivers each document exactly once, and the second run reports
# the first part as already submitted.
# LT_BATCH_DOCS documents (default 300), killed once LT_BATCH_KILL_AT rows are
# reported (default 1: after the first commit; the kill finds it mid-way on any
# machine, see below); tests/long/batch_10000.sh runs
# 10,000 killed halfway.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${LT_BATCH_DOCS:-300}
MAXSIZE=${LT_BATCH_MAXSIZE:-6000}
KILL_AT=${LT_BATCH_KILL_AT:-1}
A=BAT.A01
R=(BAT.B02 BAT.C03 BAT.D04)

lt_setup
lt_agency $A
for r in "${R[@]}"; do lt_agency "$r"; done
lt_set $A agency_certs_dir ../pki
upload() { "$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" "$@"; }
docs_in_status() { # distinct document ids in A's status
	"$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json | grep -o '"document_id":"[^"]*"' | sort -u | wc -l
}

# --- dry run: a missing file, an unknown recipient, a bad field; all reported, nothing sent
mkdir -p "$LT_WORK/m"
echo "one" >"$LT_WORK/m/one.txt"
echo "two" >"$LT_WORK/m/two.txt"
cat >"$LT_WORK/m/bad.csv" <<EOF
key,files,recipients,subject,expires
k1,one.txt,${R[0]},"Fine, quoted",3600
k2,missing.pdf,${R[0]},Missing file,
k3,two.txt,${R[1]}|NOBODY.X99,Unknown recipient,
k4,one.txt,${R[2]},Bad expiry,tomorrow
EOF
set +e
out=$(upload -f "$LT_WORK/m/bad.csv" --dry-run 2>&1)
st=$?
set -e
echo "$out"
lt_check "dry run: exit status 1" [ "$st" -eq 1 ]
lt_check "dry run: the missing file, on line 3" grep -q "bad.csv: line 3, field 'files': .*missing.pdf: No such file" <<<"$out"
lt_check "dry run: the unknown recipient, on line 4" grep -q "bad.csv: line 4, field 'recipients': recipient NOBODY.X99 is unknown" <<<"$out"
lt_check "dry run: the bad expiry, on line 5" grep -q "bad.csv: line 5, field 'expires': 'tomorrow'" <<<"$out"
lt_check "dry run: three problems counted" grep -q "dry run: 3 row(s), .* 3 problem(s); nothing was submitted" <<<"$out"
set +e
out=$(upload -f "$LT_WORK/m/bad.csv" 2>&1)
st=$?
set -e
lt_check "without --dry-run the same manifest is refused whole (exit 1)" [ "$st" -eq 1 ]
lt_check "lienthong-status shows no document" [ "$(docs_in_status)" -eq 0 ]

# --- a batch of N documents to three recipients, kill -9 mid-way, run again
lt_make_docs "$LT_WORK/m/docs" "$N" "$MAXSIZE"
{
	echo "files,recipients,subject,number,key"
	for i in $(seq 1 "$N"); do
		echo "docs/doc-$i.pdf,${R[0]}|${R[1]}|${R[2]},\"Batch document $i, to three\",$i/BT,row-$i"
	done
} >"$LT_WORK/m/batch.csv"
out=$(upload -f "$LT_WORK/m/batch.csv" --dry-run 2>&1)
lt_check "dry run of the batch: no problem" grep -q "dry run: $N row(s), .* 0 problem(s)" <<<"$out"
lt_start $A
for r in "${R[@]}"; do lt_start "$r"; done

# The kill must find the upload mid-way on any machine: its report goes into a
# pipe of one page (4 KiB on x86-64, far less than the 300 rows' 33 KB; with
# 64 KiB pages more rows would be needed) that a reader stops draining once
# KILL_AT rows came, so the upload blocks on its next report line (rows are
# reported after their commit) and cannot finish before kill -9, however fast
# it is. The reader then drains what the upload wrote before it died into r1.csv.
mkfifo "$LT_WORK/r1.pipe"
python3 - "$LT_WORK/r1.pipe" "$KILL_AT" "$LT_WORK/r1.csv" "$LT_WORK/r1.reached" "$LT_WORK/r1.drain" <<'EOF' &
import fcntl, os, sys, time
pipe, kill_at, out, reached, drain = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
fd = os.open(pipe, os.O_RDONLY)
fcntl.fcntl(fd, 1031, 4096)  # F_SETPIPE_SZ: one page
lines = 0
with open(out, "wb") as f:
    while lines <= kill_at:  # the header and KILL_AT rows, then stop reading
        data = os.read(fd, 4096)
        if not data:
            sys.exit("the upload closed its report after %d line(s)" % lines)
        f.write(data)
        lines += data.count(b"\n")
    f.flush()
    open(reached, "w").close()
    while not os.path.exists(drain):
        time.sleep(0.01)
    while data := os.read(fd, 65536):
        f.write(data)
EOF
reader=$!
"$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" -f "$LT_WORK/m/batch.csv" --report "$LT_WORK/r1.pipe" \
	>"$LT_WORK/out1" 2>"$LT_WORK/err1" &
pid=$!
lt_wait_until 600 bash -c "[ -e '$LT_WORK/r1.reached' ] || ! kill -0 $reader || ! kill -0 $pid" || true
lt_check "the first run reported $KILL_AT row(s) and went on" test -e "$LT_WORK/r1.reached"
sleep 0.2 # time to fill the pipe and block
lt_check "the first run is still running when killed (blocked on its report)" kill -0 $pid
kill -KILL $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
touch "$LT_WORK/r1.drain"
# A reader still waiting for the report to be opened (the upload ended before) would wait forever.
[ -e "$LT_WORK/r1.reached" ] || kill "$reader" 2>/dev/null || true
lt_check "the report's reader drained what the first run wrote" wait $reader
first=$(($(wc -l <"$LT_WORK/r1.csv") - 1))
lt_figure "the first run reported $first of $N rows before kill -9"
lt_check "the first run was killed before the end" [ "$first" -lt "$N" ]
# A request the tool sent just before it died may still be committed by the agent.
settled() {
	local a b
	a=$(docs_in_status)
	sleep 1
	b=$(docs_in_status)
	[ "$a" -eq "$b" ]
}
lt_wait_until 30 settled || true
before=$(docs_in_status)
lt_figure "$before documents in the outbox after kill -9"
lt_check "the first run submitted at least the rows it reported" [ "$before" -ge "$first" -a "$before" -gt 0 ]

set +e
upload -f "$LT_WORK/m/batch.csv" --report "$LT_WORK/r2.jsonl" >"$LT_WORK/out2" 2>"$LT_WORK/err2"
st=$?
set -e
tail -n 3 "$LT_WORK/err2"
lt_check "the second run exits 0" [ "$st" -eq 0 ]
lt_check "the second run: $((N - before)) submitted, $before already submitted, 0 failed" \
	grep -q "$N row(s): $((N - before)) submitted, $before already submitted, 0 failed" "$LT_WORK/err2"
lt_check "each row already done is named with its document id" \
	[ "$(grep -c 'already submitted as [0-9a-f-]\{36\}$' "$LT_WORK/err2")" -eq "$before" ]
lt_check "the report maps all $N rows" [ "$(wc -l <"$LT_WORK/r2.jsonl")" -eq "$N" ]
lt_check "the report maps the rows to $N distinct documents" \
	[ "$(grep -o '"document_id":"[^"]*"' "$LT_WORK/r2.jsonl" | sort -u | wc -l)" -eq "$N" ]
lt_check "the report: every row submitted or already submitted" \
	[ "$(grep -c '"outcome":"\(submitted\|already-submitted\)"' "$LT_WORK/r2.jsonl")" -eq "$N" ]
lt_check "the outbox holds exactly $N documents" [ "$(docs_in_status)" -eq "$N" ]

# The row -> document map of the report, as "id<TAB>file" for lt_verify.
grep -o '"row":[0-9]*.*"document_id":"[^"]*"' "$LT_WORK/r2.jsonl" |
	sed 's/^"row":\([0-9]*\),.*"document_id":"\([^"]*\)"$/\2\t\1/' |
	while IFS=$'\t' read -r id row; do printf '%s\t%s\n' "$id" "$LT_WORK/m/docs/doc-$row.pdf"; done >"$LT_WORK/ids"
lt_check "every document reaches all three recipients" \
	lt_wait_until $((240 + N / 20)) bash -c "[ \$('$LT_BIN/lienthong-status' -c '$(lt_conf $A)' --json | grep -c '\"status\":\"delivered\"') -eq $((3 * N)) ]"
for r in "${R[@]}"; do lt_verify $A "$r" "$LT_WORK/ids"; done
lt_check "agent $A stops cleanly" lt_stop $A
for r in "${R[@]}"; do lt_check "agent $r stops cleanly" lt_stop "$r"; done
