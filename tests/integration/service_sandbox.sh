#!/usr/bin/env bash
# The agent inside the sandbox of lienthong-agent@.service, as far as it can
# be rebuilt without systemd: a private mount namespace where every file
# system is read-only but data_dir and target_dir (ProtectSystem=strict plus
# the ReadWritePaths drop-in), no capabilities at all and no new privileges
# (setpriv), traced with strace. Two such agents exchange documents both
# ways, small and large (streamed): all delivered byte-identical, once; every
# system call they made is allowed by the unit's SystemCallFilter
# (@system-service without @privileged and @resources), and every socket
# family by its RestrictAddressFamilies. A third agent whose target folder
# was not made writable (no drop-in) delivers nothing and its sender's
# status says why. Not rebuilt: the namespaces of
# PrivateTmp, PrivateDevices, ProtectProc and the seccomp filter itself.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=TEST.A01
B=TEST.B02
C=TEST.C03 # its target folder left out of the writable ones (no drop-in)
N=${LT_SANDBOX_DOCS:-20}

[ "$(id -u)" -eq 0 ] || { echo "service_sandbox: needs root (mount namespaces), as make test does" >&2; exit 1; }
for tool in unshare setpriv strace systemd-analyze; do
	command -v $tool >/dev/null || { echo "service_sandbox: $tool is missing (deploy/install-deps.sh)" >&2; exit 1; }
done
lt_setup
lt_agency $A
lt_agency $B
lt_agency $C
for c in $A $B $C; do mkdir -p "$LT_WORK/$c/data" "$LT_WORK/$c/target" "$LT_WORK/$c/trace"; done

unit=$LT_ROOT/deploy/systemd/lienthong-agent@.service.in
# lt_start_sandboxed CODE [TARGET]: the agent of CODE in the sandbox, its system
# calls in CODE/trace/strace; TARGET (default CODE/target) is its writable folder.
lt_start_sandboxed() {
	local code=$1 dir="$LT_WORK/$1" rw=${2:-$LT_WORK/$1/target}
	# shellcheck disable=SC2016 # expanded by the inner bash
	unshare -m --propagation private bash -c '
		set -e
		data=$1 target=$2 trace=$3
		shift 3
		mount --bind "$data" "$data"
		mount --bind "$target" "$target"
		mount --bind "$(dirname "$trace")" "$(dirname "$trace")" # the trace, not the agent
		# Every other mount read-only (not /proc, /sys, /dev: the unit has its own rules for them).
		awk "{ print \$5 }" /proc/self/mountinfo | sort -u | while read -r m; do
			m=$(printf "%b" "$m")
			case "$m" in /proc | /proc/* | /sys | /sys/* | /dev | /dev/* | "$data" | "$target" | "$(dirname "$trace")") continue ;; esac
			mount -o remount,bind,ro "$m" 2>/dev/null || true
		done
		exec setpriv --no-new-privs --bounding-set=-all --inh-caps=-all --ambient-caps=-all \
			strace -f -qq -o "$trace" "$@"
	' sandbox "$dir/data" "$rw" "$dir/trace/strace" \
		"$LT_BIN/lienthong-agent" -c "$(lt_conf "$code")" >>"$dir/agent.log" 2>&1 &
	echo $! >"$dir/sandbox.pid"
	LT_PIDS+=($!)
}
lt_start_sandboxed $A
lt_start_sandboxed $B
lt_start_sandboxed $C "$LT_WORK/$C/trace"

# The sandbox holds: outside the two folders nothing can be written.
sandbox_ro() { # code
	local pid
	pid=$(cat "$LT_WORK/$1/sandbox.pid")
	nsenter -t "$pid" -m sh -c "! touch '$LT_WORK/$1/outside' 2>/dev/null && touch '$LT_WORK/$1/data/.probe' && rm '$LT_WORK/$1/data/.probe'"
}
lt_wait_until 30 test -s "$LT_WORK/$A/trace/strace"
lt_check "$A's sandbox: read-only outside data_dir and target_dir, data_dir writable" sandbox_ro $A

lt_make_docs "$LT_WORK/out-$A" "$N"
lt_make_docs "$LT_WORK/out-$B" "$N"
head -c 3000000 /dev/urandom >"$LT_WORK/out-$A/large.bin" # streamed: above max_message_bytes
lt_upload $A $B "$LT_WORK/ids-$A" "$LT_WORK/out-$A"/*
lt_upload $B $A "$LT_WORK/ids-$B" "$LT_WORK/out-$B"/*
both() { lt_all_delivered $A "$LT_WORK/ids-$A" && lt_all_delivered $B "$LT_WORK/ids-$B"; }
lt_check "every document delivered both ways between sandboxed agents" lt_wait_until 240 both
lt_verify $A $B "$LT_WORK/ids-$A"
lt_verify $B $A "$LT_WORK/ids-$B"
lt_check "the large document was streamed (chunk records)" grep -q "chunk" "$LT_WORK/$B/agent.log"

# Without the drop-in the target folder is read-only: the document waits, its
# sender told why, and nothing is written.
lt_upload $A $C "$LT_WORK/ids-$C" "$LT_WORK/out-$A/doc-1.pdf"
id_c=$(cut -f1 "$LT_WORK/ids-$C")
waits_readonly() {
	"$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json "$id_c" |
		grep '"status":"sent"' | grep -q 'at the recipient, waiting since .*Read-only file system'
}
lt_check "$C without the drop-in: $A's status says sent, waiting at the recipient: Read-only file system" \
	lt_wait_until 120 waits_readonly
lt_check "$C's target folder holds nothing" test -z "$(ls -A "$LT_WORK/$C/target")"

# Stop the agents (SIGTERM to the agent, the child of strace) so that the traces are complete.
for c in $A $B $C; do
	spid=$(cat "$LT_WORK/$c/sandbox.pid")
	apid=$(ps -o pid= --ppid "$spid" | tr -d ' ' | head -n 1)
	[ -n "$apid" ] && kill -TERM "$apid"
	wait "$spid" || true
done

# The unit's filter, every group expanded: @system-service less @privileged and @resources.
syscalls_of() { # group...
	systemd-analyze syscall-filter --no-pager | awk -v want="$*" '
		/^@/ { g = $1; next }
		/^ *#/ || NF == 0 { next }
		{ members[g] = members[g] " " $1 }
		function expand(x,   n, i, parts) {
			if (x !~ /^@/) { out[x] = 1; return }
			if (seen[x]++) return
			n = split(members[x], parts, " ")
			for (i = 1; i <= n; i++) expand(parts[i])
		}
		END { n = split(want, w, " "); for (i = 1; i <= n; i++) expand(w[i]); for (s in out) print s }' | sort -u
}
syscalls_of @system-service >"$LT_WORK/allowed"
syscalls_of @privileged @resources >"$LT_WORK/denied"
filter=$(sed -n 's/^SystemCallFilter=//p' "$unit" | tr '\n' ' ')
lt_check "the unit's filter is @system-service less @privileged and @resources" \
	test "$filter" = "@system-service ~@privileged @resources "
families=$(sed -n 's/^RestrictAddressFamilies=//p' "$unit")
for c in $A $B $C; do
	used=$(sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' "$LT_WORK/$c/trace/strace" | sort -u)
	lt_figure "$c made $(wc -w <<<"$used") distinct system calls"
	bad=$(comm -23 <(echo "$used") "$LT_WORK/allowed" | tr '\n' ' ')
	lt_check "$c: every system call in @system-service (outside: ${bad:-none})" test -z "$bad"
	bad=$(comm -12 <(echo "$used") "$LT_WORK/denied" | tr '\n' ' ')
	lt_check "$c: no system call of @privileged or @resources (used: ${bad:-none})" test -z "$bad"
	bad=
	for f in $(grep -oE '^[0-9]+ +socket\(AF_[A-Z0-9]+' "$LT_WORK/$c/trace/strace" | grep -oE 'AF_[A-Z0-9]+' | sort -u); do
		[[ " $families " == *" $f "* ]] || bad+="$f "
	done
	lt_check "$c: every socket family in RestrictAddressFamilies (outside: ${bad:-none})" test -z "$bad"
done
