#!/usr/bin/env bash
# lienthong-kafka.service as systemd would run it, without systemd: the
# installed unit's Environment=, ExecStartPre=, ExecStart=, PIDFile= and
# ExecStop=, run as an unprivileged user (nobody, for lienthong-kafka) with no
# capabilities and no new privileges, in a mount namespace where every file
# system is read-only but the unit's state folder /var/lib/lienthong-kafka
# (ProtectSystem=strict, StateDirectory=). The jars come from the cache of the
# test machine, mounted read-only where the unit keeps them, so nothing is
# fetched. Asserts: the fetch step finds the jars; the start returns once the
# broker answers (Type=forking); the PIDFile names the live broker; kcat
# lists it; the stop ends it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "service_broker: needs root (mount namespaces), as make test does" >&2; exit 1; }
LT_WORK=$(mktemp -d /tmp/lienthong-test.XXXXXX)
trap lt_teardown EXIT
chmod 0755 "$LT_WORK" # the service user runs the installed kafka.sh from here

build=$LT_BUILD
case "$build" in "$LT_ROOT"/*) build=${build#"$LT_ROOT"/} ;; esac
dest=$LT_WORK/dest
make -s -C "$LT_ROOT" BUILD="$build" install DESTDIR="$dest" >"$LT_WORK/install.log" 2>&1 ||
	{ cat "$LT_WORK/install.log" >&2; exit 1; }
unit=$dest/lib/systemd/system/lienthong-kafka.service
lt_check "the broker unit is installed" test -f "$unit"

version=$(sed -n 's/^default_version=//p' "$LT_ROOT/deploy/kafka.sh")
cache=${LT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lienthong}/kafka-$version
"$LT_ROOT/deploy/kafka.sh" fetch >/dev/null # the suite's broker fetched them already
port=${LT_SVC_BROKER_PORT:-$((LT_KAFKA_PORT + 5))}

# The unit's settings, its commands with the installed tree's paths.
value() { sed -n "s/^$1=//p" "$unit"; }
local_path() { sed "s|^/usr/share/lienthong/|$dest/usr/share/lienthong/|"; }
env_lines=$(value Environment)
pidfile=$(value PIDFile)
start_pre=$(value ExecStartPre | local_path)
start=$(value ExecStart | local_path)
stop=$(value ExecStop | local_path)
user=$(value User)
lt_check "the unit runs as lienthong-kafka" test "$user" = lienthong-kafka
lt_check "the unit is Type=forking with its PIDFile in its state folder" \
	test "$(value Type)" = forking -a "${pidfile#/var/lib/lienthong-kafka/}" != "$pidfile"
state=/var/lib/$(value StateDirectory)

# shellcheck disable=SC2016 # expanded by the inner bash
unshare -m --propagation private bash -c '
	set -euo pipefail
	state=$1 cache=$2 version=$3 env_lines=$4 pidfile=$5 start_pre=$6 start=$7 stop=$8 port=$9
	# StateDirectory=: a fresh folder owned by the service user (nobody here).
	mount -t tmpfs -o mode=0755 tmpfs /var/lib
	mkdir -p "$state/cache/kafka-$version"
	chown 65534:65534 "$state" && chmod 0750 "$state"
	mount --bind "$state" "$state"
	mount --bind "$cache" "$state/cache/kafka-$version"
	mount -o remount,bind,ro "$state/cache/kafka-$version"
	awk "{ print \$5 }" /proc/self/mountinfo | sort -u | while read -r m; do
		m=$(printf "%b" "$m")
		case "$m" in /proc | /proc/* | /sys | /sys/* | /dev | /dev/* | "$state") continue ;; esac
		mount -o remount,bind,ro "$m" 2>/dev/null || true
	done
	while read -r kv; do [ -n "$kv" ] && export "$kv"; done <<<"$env_lines"
	export LT_KAFKA_PORT=$port # what /etc/lienthong/kafka.env would set
	as_service() { setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs \
		--bounding-set=-all --inh-caps=-all --ambient-caps=-all "$@"; }
	trap "as_service $stop >/dev/null 2>&1 || true" EXIT
	as_service touch /etc/.lienthong-probe 2>/dev/null && echo "RESULT writable-outside" || echo "RESULT read-only-outside"
	as_service $start_pre && echo "RESULT fetch-ok"
	as_service $start || exit 1
	echo "RESULT start-ok"
	pid=$(cat "$pidfile")
	kill -0 "$pid" && ps -o args= -p "$pid" | grep -q kafka.Kafka && echo "RESULT pidfile-live"
	[ "$(stat -c %u "/proc/$pid")" = 65534 ] && echo "RESULT runs-as-service-user"
	kcat -L -b "127.0.0.1:$port" -m 10 2>/dev/null | grep -q "broker 1 at 127.0.0.1:$port" && echo "RESULT kcat-lists"
	as_service $stop >/dev/null && echo "RESULT stop-ok"
	sleep 1
	kill -0 "$pid" 2>/dev/null || echo "RESULT stopped"
	trap - EXIT
' service-broker "$state" "$cache" "$version" "$env_lines" "$pidfile" "$start_pre" "$start" "$stop" "$port" \
	>"$LT_WORK/run.log" 2>&1 || true
result() { grep -qx "RESULT $1" "$LT_WORK/run.log" || { tail -n 30 "$LT_WORK/run.log" >&2; return 1; }; }
lt_check "outside the state folder nothing is writable" result read-only-outside
lt_check "ExecStartPre (kafka.sh fetch) finds the jars" result fetch-ok
lt_check "ExecStart (kafka.sh start) returns once the broker answers" result start-ok
lt_check "PIDFile names the live broker" result pidfile-live
lt_check "the broker runs as the service user" result runs-as-service-user
lt_check "kcat lists the broker on 127.0.0.1:$port" result kcat-lists
lt_check "ExecStop (kafka.sh stop) succeeds" result stop-ok
lt_check "the broker is gone after ExecStop" result stopped
