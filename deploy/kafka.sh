#!/usr/bin/env bash
# Runs a local Apache Kafka broker (KRaft mode, no ZooKeeper) on 127.0.0.1, or
# a cluster of several (LT_KAFKA_NODES), from the official jars on Maven
# Central, fetched with mvn.
# Run `deploy/kafka.sh help` for usage and the environment variables.
set -euo pipefail

prog=kafka.sh
default_version=3.9.2

usage() {
	cat <<EOF
Usage: deploy/kafka.sh start|stop|status|fetch|fetch-tools|help

Runs a local single-node Apache Kafka broker (KRaft mode, combined
broker+controller, node id 1) listening on 127.0.0.1 only, or with
LT_KAFKA_NODES=N a cluster of N such nodes (ids 1..N, each a broker and a
KRaft controller voter). The jars come from Maven Central through mvn; no
Docker and no Kafka tarball needed. Requires java (17 recommended) and mvn
(for the first fetch only).

Commands:
  start   fetch the jars if needed, write the broker config, format the KRaft
          storage on first use, start the broker in the background and wait
          until it answers metadata requests. Exits 0 if it is already running.
          In a cluster: starts every node that is not running (all of them,
          or one that was stopped or killed) and waits until each answers.
  stop    stop the broker (SIGTERM, then SIGKILL after ${LT_KAFKA_STOP_TIMEOUT:-30} s).
          Exits 0 if it was not running. In a cluster: every node.
  status  print "running (pid N, 127.0.0.1:PORT)" and exit 0,
          or print "stopped" and exit 3. In a cluster: one line per node,
          "node I: running (pid N, 127.0.0.1:PORT)" or "node I: stopped";
          exit 0 when all run, 3 when none does, 4 when some do.
  fetch   download the Kafka jars and all runtime dependencies into the cache
          (does nothing if a previous fetch completed).
  fetch-tools
          download org.apache.kafka:kafka-tools of the same version and its
          runtime dependencies (ProducerPerformance, ConsumerPerformance: the
          reference of make bench) into \$LT_CACHE_DIR/kafka-<version>/tools,
          then print that folder (only prints it if fetched before).
  help    print this text (also -h, --help).

Environment variables (defaults in brackets):
  LT_KAFKA_NODES            number of nodes, 1 to 9 [1]. With N > 1, node I
                            listens on LT_KAFKA_PORT + I - 1 and its controller
                            on LT_KAFKA_CONTROLLER_PORT + I - 1; its state is in
                            LT_KAFKA_DIR/node-I (pid file node-I/kafka.pid, log
                            node-I/logs/server.log). Topics get
                            default.replication.factor min(N, 3) and
                            min.insync.replicas 2 (1 below three nodes), and
                            so do Kafka's own offsets topic. Neither TLS nor
                            the PROXIED listener is available in a cluster.
  LT_KAFKA_PORT             PLAINTEXT listener port on 127.0.0.1 [9092]
  LT_KAFKA_CONTROLLER_PORT  KRaft CONTROLLER listener port on 127.0.0.1
                            [LT_KAFKA_PORT + 10000, must be < 65536]
  LT_KAFKA_TLS_DIR          a CA folder of deploy/pki.sh: the client listener
                            is then TLS only (SSL), every client must present a
                            certificate of that CA, its CN is its principal
                            (User:<CN>), and the StandardAuthorizer grants only
                            what ACLs say (provision them with
                            lienthong-provision). The broker's certificate is
                            issued there as kafka-broker. []
  LT_KAFKA_SUPER_USERS      with LT_KAFKA_TLS_DIR: comma-separated CNs allowed
                            everything, for provisioning [ADMIN]
  LT_KAFKA_PROXY_PORT       set to P to add a second listener, PROXIED, for
                            clients routed through a proxy (fault tests): it
                            listens on 127.0.0.1:LT_KAFKA_PROXIED_PORT and
                            advertises 127.0.0.1:P, so a client bootstrapping
                            at the proxy on P (which forwards to the PROXIED
                            port) is told to keep connecting to P. PLAINTEXT,
                            not used between brokers. [unset: no such listener]
  LT_KAFKA_PROXIED_PORT     PROXIED listener port on 127.0.0.1, the proxy's
                            target; only with LT_KAFKA_PROXY_PORT
                            [LT_KAFKA_PORT + 1]
  LT_KAFKA_VERSION          Kafka version to fetch and run [$default_version]
  LT_CACHE_DIR              cache root [\${XDG_CACHE_HOME:-\$HOME/.cache}/lienthong];
                            jars go to \$LT_CACHE_DIR/kafka-<version>/libs
  LT_KAFKA_DIR              broker state: server.properties, log4j.properties,
                            KRaft data (data/), logs (logs/), pid file
                            [\$LT_CACHE_DIR/broker-\$LT_KAFKA_PORT]
  LT_KAFKA_HEAP             JVM heap options [-Xms256m -Xmx512m]
  LT_KAFKA_JVM_OPTS         extra JVM options appended after the defaults []
  LT_KAFKA_MESSAGE_MAX_BYTES  broker message.max.bytes [1100000]
  LT_KAFKA_START_TIMEOUT    seconds start waits for the broker to answer [90]
  LT_KAFKA_STOP_TIMEOUT     seconds stop waits after SIGTERM before SIGKILL [30]
  LT_KAFKA_RESET            1: stop the broker if running and wipe LT_KAFKA_DIR
                            before start (clean test broker) [0]
  LT_JAVA                   java binary [\$JAVA_HOME/bin/java if set, else java]
  LT_MVN                    maven binary used by fetch [mvn]

Every fetch runs mvn with --strict-checksums: a jar whose checksum differs
from the one Maven Central publishes beside it fails the fetch.

Readiness is checked with "kcat -L" when kcat is installed, otherwise with a
TCP probe plus the broker's "Kafka Server started" log line. Topic
auto-creation is off: create topics with an admin client.
Broker log: \$LT_KAFKA_DIR/logs/server.log (JVM output: \$LT_KAFKA_DIR/kafka.out).
EOF
}

die() {
	echo "$prog: $*" >&2
	exit 1
}

say() {
	echo "$prog: $*"
}

is_uint() {
	[[ $1 =~ ^(0|[1-9][0-9]*)$ ]]
}

check_port() { # name value
	is_uint "$2" && [ "$2" -ge 1 ] && [ "$2" -le 65535 ] ||
		die "$1=$2 is not a valid TCP port (1-65535)"
}

# --- settings ---------------------------------------------------------------

load_settings() {
	version=${LT_KAFKA_VERSION:-$default_version}
	[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
		die "LT_KAFKA_VERSION=$version is not a version like $default_version"

	nodes=${LT_KAFKA_NODES:-1}
	[[ $nodes =~ ^[1-9]$ ]] || die "LT_KAFKA_NODES=$nodes is not a number of nodes from 1 to 9"
	port=${LT_KAFKA_PORT:-9092}
	check_port LT_KAFKA_PORT "$port"
	if [ -n "${LT_KAFKA_CONTROLLER_PORT:-}" ]; then
		cport=$LT_KAFKA_CONTROLLER_PORT
	else
		cport=$((port + 10000))
		[ "$cport" -lt 65536 ] ||
			die "default controller port LT_KAFKA_PORT+10000=$cport is above 65535; set LT_KAFKA_CONTROLLER_PORT to a free port"
	fi
	check_port LT_KAFKA_CONTROLLER_PORT "$cport"
	[ "$cport" != "$port" ] ||
		die "LT_KAFKA_CONTROLLER_PORT must differ from LT_KAFKA_PORT ($port)"
	if [ "$nodes" -gt 1 ]; then
		[ $((port + nodes - 1)) -le 65535 ] && [ $((cport + nodes - 1)) -le 65535 ] ||
			die "$nodes nodes need ports up to LT_KAFKA_PORT+$((nodes - 1)) and LT_KAFKA_CONTROLLER_PORT+$((nodes - 1)), above 65535"
		[ "$cport" -ge $((port + nodes)) ] || [ $((cport + nodes)) -le "$port" ] ||
			die "the client ports $port..$((port + nodes - 1)) and controller ports $cport..$((cport + nodes - 1)) of $nodes nodes overlap; choose LT_KAFKA_CONTROLLER_PORT apart"
		[ -z "${LT_KAFKA_TLS_DIR:-}" ] && [ -z "${LT_KAFKA_PROXY_PORT:-}" ] ||
			die "LT_KAFKA_TLS_DIR and LT_KAFKA_PROXY_PORT are for a single node; unset them or LT_KAFKA_NODES"
	fi
	base_port=$port
	base_cport=$cport
	voters=
	local i
	for ((i = 1; i <= nodes; i++)); do
		voters+="${voters:+,}$i@127.0.0.1:$((cport + i - 1))"
	done

	# Optional TLS with client certificates and ACLs (StandardAuthorizer).
	tls_dir=${LT_KAFKA_TLS_DIR:-}
	super_users=${LT_KAFKA_SUPER_USERS:-ADMIN}
	if [ -n "$tls_dir" ]; then
		[ -f "$tls_dir/ca.crt" ] && [ -f "$tls_dir/ca.key" ] ||
			die "LT_KAFKA_TLS_DIR=$tls_dir holds no CA (ca.crt, ca.key): create one with deploy/pki.sh ca $tls_dir"
		[ -z "${LT_KAFKA_PROXY_PORT:-}" ] ||
			die "LT_KAFKA_TLS_DIR and LT_KAFKA_PROXY_PORT cannot be combined"
	fi

	# Optional PROXIED listener: listens on $pport, advertises $proxy_port.
	proxy_port=${LT_KAFKA_PROXY_PORT:-}
	pport=
	if [ -n "$proxy_port" ]; then
		check_port LT_KAFKA_PROXY_PORT "$proxy_port"
		if [ -n "${LT_KAFKA_PROXIED_PORT:-}" ]; then
			pport=$LT_KAFKA_PROXIED_PORT
		else
			pport=$((port + 1))
			[ "$pport" -lt 65536 ] ||
				die "default proxied port LT_KAFKA_PORT+1=$pport is above 65535; set LT_KAFKA_PROXIED_PORT to a free port"
		fi
		check_port LT_KAFKA_PROXIED_PORT "$pport"
		[ "$pport" != "$port" ] && [ "$pport" != "$cport" ] ||
			die "LT_KAFKA_PROXIED_PORT=$pport must differ from LT_KAFKA_PORT ($port) and LT_KAFKA_CONTROLLER_PORT ($cport)"
		[ "$proxy_port" != "$port" ] && [ "$proxy_port" != "$cport" ] && [ "$proxy_port" != "$pport" ] ||
			die "LT_KAFKA_PROXY_PORT=$proxy_port must differ from LT_KAFKA_PORT ($port), LT_KAFKA_CONTROLLER_PORT ($cport) and LT_KAFKA_PROXIED_PORT ($pport): it is the proxy's own port"
	fi

	if [ -n "${LT_CACHE_DIR:-}" ]; then
		cache_dir=$LT_CACHE_DIR
	else
		[ -n "${XDG_CACHE_HOME:-}" ] || [ -n "${HOME:-}" ] ||
			die "neither LT_CACHE_DIR, XDG_CACHE_HOME nor HOME is set; set LT_CACHE_DIR"
		cache_dir=${XDG_CACHE_HOME:-$HOME/.cache}/lienthong
	fi
	state_dir=${LT_KAFKA_DIR:-$cache_dir/broker-$port}
	dist_dir=$cache_dir/kafka-$version
	libs_dir=$dist_dir/libs
	marker=$dist_dir/.fetch-complete
	tools_dir=$dist_dir/tools
	tools_marker=$dist_dir/.fetch-tools-complete

	heap=${LT_KAFKA_HEAP:--Xms256m -Xmx512m}
	jvm_extra=${LT_KAFKA_JVM_OPTS:-}
	max_bytes=${LT_KAFKA_MESSAGE_MAX_BYTES:-1100000}
	is_uint "$max_bytes" || die "LT_KAFKA_MESSAGE_MAX_BYTES=$max_bytes is not a number"
	start_timeout=${LT_KAFKA_START_TIMEOUT:-90}
	is_uint "$start_timeout" || die "LT_KAFKA_START_TIMEOUT=$start_timeout is not a number of seconds"
	stop_timeout=${LT_KAFKA_STOP_TIMEOUT:-30}
	is_uint "$stop_timeout" || die "LT_KAFKA_STOP_TIMEOUT=$stop_timeout is not a number of seconds"

	if [ -n "${LT_JAVA:-}" ]; then
		java_bin=$LT_JAVA
	elif [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
		java_bin=$JAVA_HOME/bin/java
	else
		java_bin=java
	fi
	mvn_bin=${LT_MVN:-mvn}

	# Paths end up in Java properties files and a comma-separated log.dirs.
	local d
	for d in "$cache_dir" "$state_dir"; do
		[[ $d == /* ]] || die "cache and state dirs must be absolute paths, got '$d'"
		[[ $d != *[[:space:],]* ]] ||
			die "path '$d' contains whitespace or a comma; set LT_CACHE_DIR/LT_KAFKA_DIR to a plain path"
	done
	# Keep broker state and jars out of the git repository.
	local repo
	repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
	for d in "$cache_dir" "$state_dir"; do
		case "$(realpath -m "$d")/" in
		"$repo"/*) die "'$d' is inside the repository $repo; point LT_CACHE_DIR/LT_KAFKA_DIR outside it" ;;
		esac
	done

	tls_state=$state_dir/tls
	owner_mark=$state_dir/.lienthong-kafka
	cluster_id_file=$state_dir/cluster-id
	select_node 1
}

# Points the per-node variables at node $1 (a single node keeps its state
# directly in $state_dir, as before clusters existed).
select_node() {
	node_id=$1
	port=$((base_port + node_id - 1))
	cport=$((base_cport + node_id - 1))
	local dir=$state_dir
	[ "$nodes" -eq 1 ] || dir=$state_dir/node-$node_id
	node_dir=$dir
	pid_file=$dir/kafka.pid
	config=$dir/server.properties
	log4j_config=$dir/log4j.properties
	data_dir=$dir/data
	logs_dir=$dir/logs
	out_file=$dir/kafka.out
}

# "node I: " in a cluster, nothing for a single node.
node_label() {
	[ "$nodes" -eq 1 ] || echo "node $node_id: "
}

# Takes an exclusive lock on $1 with fd 9 (waits); no-op without flock.
take_lock() {
	command -v flock >/dev/null 2>&1 || return 0
	exec 9>"$1"
	flock 9 || die "could not lock $1"
}

# --- fetch ------------------------------------------------------------------

fetched() {
	[ -f "$marker" ] && [ -d "$libs_dir" ]
}

do_fetch() {
	if fetched; then
		return 0
	fi
	command -v "$mvn_bin" >/dev/null 2>&1 ||
		die "mvn not found (LT_MVN=$mvn_bin); install Maven (apt-get install maven) to fetch the Kafka jars"
	mkdir -p "$cache_dir" || die "cannot create cache dir $cache_dir"
	take_lock "$cache_dir/.kafka-$version.lock"
	if fetched; then # another process finished the fetch while we waited
		return 0
	fi

	say "fetching Kafka $version jars from Maven Central into $libs_dir ..."
	tmp=$(mktemp -d "$cache_dir/.fetch-kafka-$version.XXXXXX") ||
		die "cannot create a temporary dir in $cache_dir"
	# shellcheck disable=SC2064 # expand $tmp now
	trap "rm -rf '$tmp'" EXIT
	cat >"$tmp/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
	xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
	xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
	<modelVersion>4.0.0</modelVersion>
	<groupId>lienthong.local</groupId>
	<artifactId>kafka-broker-jars</artifactId>
	<version>1</version>
	<packaging>pom</packaging>
	<dependencies>
		<!-- server (kafka.Kafka) and storage tool (kafka.tools.StorageTool) -->
		<dependency>
			<groupId>org.apache.kafka</groupId>
			<artifactId>kafka_2.13</artifactId>
			<version>$version</version>
		</dependency>
		<!-- the logging binding Kafka 3.x ships: slf4j 1.7 -> reload4j -->
		<dependency>
			<groupId>org.slf4j</groupId>
			<artifactId>slf4j-reload4j</artifactId>
			<version>1.7.36</version>
		</dependency>
		<dependency>
			<groupId>ch.qos.reload4j</groupId>
			<artifactId>reload4j</artifactId>
			<version>1.2.25</version>
		</dependency>
	</dependencies>
	<build>
		<plugins>
			<plugin>
				<groupId>org.apache.maven.plugins</groupId>
				<artifactId>maven-dependency-plugin</artifactId>
				<version>3.8.1</version>
			</plugin>
		</plugins>
	</build>
</project>
EOF
	if ! (cd "$tmp" && "$mvn_bin" -q -B --strict-checksums -Dstyle.color=never dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$tmp/libs" \
		>"$tmp/mvn.log" 2>&1); then
		tail -n 40 "$tmp/mvn.log" >&2
		die "mvn could not fetch org.apache.kafka:kafka_2.13:$version and its dependencies (output above); check that Maven Central is reachable (mvn settings/proxy) and that LT_KAFKA_VERSION=$version exists"
	fi
	local n
	n=$(find "$tmp/libs" -maxdepth 1 -name '*.jar' 2>/dev/null | wc -l)
	[ -f "$tmp/libs/kafka_2.13-$version.jar" ] && [ "$n" -gt 10 ] ||
		die "mvn finished but $tmp/libs lacks kafka_2.13-$version.jar or its dependencies ($n jars); see mvn output, then retry: deploy/kafka.sh fetch"

	mkdir -p "$dist_dir"
	rm -rf "$libs_dir" # left over from an interrupted fetch (no marker)
	mv "$tmp/libs" "$libs_dir"
	find "$libs_dir" -maxdepth 1 -name '*.jar' -printf '%f\n' | sort >"$tmp/marker"
	mv "$tmp/marker" "$marker"
	rm -rf "$tmp"
	trap - EXIT
	say "fetched $n jars for Kafka $version into $libs_dir"
}

# kafka-tools (the perf tools) and its runtime dependencies into $tools_dir,
# apart from the broker's libs so that the broker's class path stays as it is.
do_fetch_tools() {
	if [ -f "$tools_marker" ] && [ -d "$tools_dir" ]; then
		return 0
	fi
	command -v "$mvn_bin" >/dev/null 2>&1 ||
		die "mvn not found (LT_MVN=$mvn_bin); install Maven (apt-get install maven) to fetch kafka-tools"
	mkdir -p "$cache_dir" || die "cannot create cache dir $cache_dir"
	take_lock "$cache_dir/.kafka-$version.lock"
	if [ -f "$tools_marker" ] && [ -d "$tools_dir" ]; then
		return 0
	fi
	say "fetching org.apache.kafka:kafka-tools:$version from Maven Central into $tools_dir ..." >&2
	tmp=$(mktemp -d "$cache_dir/.fetch-tools-$version.XXXXXX") ||
		die "cannot create a temporary dir in $cache_dir"
	# shellcheck disable=SC2064 # expand $tmp now
	trap "rm -rf '$tmp'" EXIT
	cat >"$tmp/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
	<modelVersion>4.0.0</modelVersion>
	<groupId>lienthong.local</groupId>
	<artifactId>kafka-tools-jars</artifactId>
	<version>1</version>
	<packaging>pom</packaging>
	<dependencies>
		<dependency>
			<groupId>org.apache.kafka</groupId>
			<artifactId>kafka-tools</artifactId>
			<version>$version</version>
		</dependency>
		<dependency>
			<groupId>org.slf4j</groupId>
			<artifactId>slf4j-reload4j</artifactId>
			<version>1.7.36</version>
		</dependency>
	</dependencies>
</project>
EOF
	if ! (cd "$tmp" && "$mvn_bin" -q -B --strict-checksums -Dstyle.color=never \
		org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$tmp/tools" >"$tmp/mvn.log" 2>&1); then
		tail -n 40 "$tmp/mvn.log" >&2
		die "mvn could not fetch org.apache.kafka:kafka-tools:$version and its dependencies (output above); check that Maven Central is reachable"
	fi
	[ -f "$tmp/tools/kafka-tools-$version.jar" ] && [ -f "$tmp/tools/kafka-clients-$version.jar" ] ||
		die "mvn finished but $tmp/tools lacks kafka-tools-$version.jar or kafka-clients-$version.jar; retry: deploy/kafka.sh fetch-tools"
	mkdir -p "$dist_dir"
	rm -rf "$tools_dir" # left over from an interrupted fetch (no marker)
	mv "$tmp/tools" "$tools_dir"
	find "$tools_dir" -maxdepth 1 -name '*.jar' -printf '%f\n' | sort >"$tmp/marker"
	mv "$tmp/marker" "$tools_marker"
	rm -rf "$tmp"
	trap - EXIT
	say "fetched $(wc -l <"$tools_marker") jars for kafka-tools $version into $tools_dir" >&2
}

cmd_fetch_tools() {
	do_fetch_tools
	echo "$tools_dir"
}

# --- process helpers --------------------------------------------------------

# Prints the pid from the pid file if it names a live Kafka broker started
# with this state dir's config; returns 1 otherwise.
running_pid() {
	local pid args
	[ -f "$pid_file" ] || return 1
	pid=$(cat "$pid_file" 2>/dev/null) || return 1
	is_uint "$pid" || return 1
	args=$(ps -ww -o args= -p "$pid" 2>/dev/null) || return 1
	[[ $args == *java* && $args == *kafka.Kafka* && $args == *"$config"* ]] || return 1
	echo "$pid"
}

port_open() { # port
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Shows the end of what this start wrote to the broker log (it appends;
# log_offset is its size before the start) and of the JVM's own output.
show_logs() {
	local log=$logs_dir/server.log
	if [ -f "$log" ] && [ "$(wc -c <"$log")" -gt "${log_offset:-0}" ]; then
		echo "$prog: last 30 lines of $log:" >&2
		tail -c "+$((${log_offset:-0} + 1))" "$log" | tail -n 30 >&2
	else
		echo "$prog: nothing new in $log" >&2
	fi
	if [ -s "$out_file" ]; then
		echo "$prog: last 30 lines of $out_file:" >&2
		tail -n 30 "$out_file" >&2
	fi
}

broker_ready() {
	port_open "$port" || return 1
	if command -v kcat >/dev/null 2>&1; then
		local md tls=()
		[ -z "$tls_dir" ] || tls=(-X security.protocol=ssl -X "ssl.ca.location=$tls_dir/ca.crt"
			-X "ssl.certificate.location=$tls_dir/kafka-broker.crt"
			-X "ssl.key.location=$tls_dir/kafka-broker.key")
		md=$(kcat -L -b "127.0.0.1:$port" -m 5 "${tls[@]}" 2>/dev/null) || return 1
		[[ $md == *"broker $node_id at 127.0.0.1:$port"* ]]
	else
		tail -c "+$((${log_offset:-0} + 1))" "$logs_dir/server.log" 2>/dev/null |
			grep 'Kafka Server started' >/dev/null
	fi
}

# --- config -----------------------------------------------------------------

write_configs() {
	local listeners="PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport"
	local advertised="PLAINTEXT://127.0.0.1:$port"
	local protocols="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
	if [ -n "$pport" ]; then
		listeners+=",PROXIED://127.0.0.1:$pport"
		advertised+=",PROXIED://127.0.0.1:$proxy_port"
		protocols+=",PROXIED:PLAINTEXT"
	fi
	local inter=PLAINTEXT
	if [ -n "$tls_dir" ]; then
		listeners="SSL://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport"
		advertised="SSL://127.0.0.1:$port"
		protocols="CONTROLLER:SSL,SSL:SSL"
		inter=SSL
	fi
	# Replication: every partition on min(nodes, 3) brokers, a write acknowledged
	# (acks=all) once two of them have it, so that one broker can be lost.
	local rf=$((nodes < 3 ? nodes : 3)) isr=$((nodes < 3 ? 1 : 2))
	cat >"$config.tmp" <<EOF
# Written by deploy/kafka.sh on every start; edits are overwritten.
process.roles=broker,controller
node.id=$node_id
controller.quorum.voters=$voters
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=$inter
listener.security.protocol.map=$protocols
log.dirs=$data_dir
num.partitions=3
default.replication.factor=$rf
min.insync.replicas=$isr
unclean.leader.election.enable=false
auto.create.topics.enable=false
message.max.bytes=$max_bytes
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=3
group.initial.rebalance.delay.ms=0
# small machine: few threads
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4
log.retention.hours=24
log.segment.bytes=67108864
EOF
	if [ -n "$tls_dir" ]; then
		# Every connection presents a certificate of the CA; its CN is the principal
		# (User:<agency code>); only ACLs grant anything, but to the super users.
		local supers="User:kafka-broker" u
		for u in ${super_users//,/ }; do supers+=";User:$u"; done
		cat >>"$config.tmp" <<EOF
ssl.client.auth=required
ssl.keystore.type=PEM
ssl.keystore.location=$tls_state/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$tls_dir/ca.crt
ssl.principal.mapping.rules=RULE:^.*CN=([^,]+).*\$/\$1/,DEFAULT
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=$supers
EOF
	fi
	mv "$config.tmp" "$config"

	cat >"$log4j_config.tmp" <<EOF
# Written by deploy/kafka.sh on every start; edits are overwritten.
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$logs_dir/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=3
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel\$=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.authorizer.logger=WARN
log4j.logger.org.apache.zookeeper=WARN
EOF
	mv "$log4j_config.tmp" "$log4j_config"
}

random_cluster_id() {
	# 16 random bytes, base64url without padding (Kafka's Uuid string form);
	# avoid a leading '-' as kafka.tools.StorageTool random-uuid does.
	local id
	while :; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
		[ "${#id}" -eq 22 ] || die "could not generate a cluster id from /dev/urandom"
		[[ $id == -* ]] || break
	done
	echo "$id"
}

format_storage() {
	[ -f "$data_dir/meta.properties" ] && return 0
	local cid
	if [ "$nodes" -eq 1 ]; then
		cid=$(random_cluster_id)
	else # every node of a cluster is formatted with the same id
		[ -s "$cluster_id_file" ] || random_cluster_id >"$cluster_id_file"
		cid=$(cat "$cluster_id_file")
	fi
	say "$(node_label)formatting KRaft storage in $data_dir (cluster id $cid)"
	# shellcheck disable=SC2086 # heap options are a word list
	if ! "$java_bin" $heap -Dlog4j.configuration="file:$log4j_config" \
		-cp "$libs_dir/*" kafka.tools.StorageTool format \
		--cluster-id "$cid" --config "$config" >"$node_dir/format.out" 2>&1; then
		cat "$node_dir/format.out" >&2
		die "formatting the KRaft storage failed (output above); try LT_KAFKA_RESET=1 deploy/kafka.sh start"
	fi
}

# --- commands ---------------------------------------------------------------

cmd_fetch() {
	if fetched; then
		say "Kafka $version jars already in $libs_dir ($(wc -l <"$marker") jars)"
		return 0
	fi
	do_fetch
}

cmd_status() {
	local pid i up=0
	for ((i = 1; i <= nodes; i++)); do
		select_node "$i"
		if pid=$(running_pid); then
			echo "$(node_label)running (pid $pid, 127.0.0.1:$port)"
			up=$((up + 1))
		else
			echo "$(node_label)stopped"
		fi
	done
	[ "$up" -eq "$nodes" ] && return 0
	[ "$up" -eq 0 ] && return 3
	return 4
}

stop_pid() { # pid
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < stop_timeout * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	say "broker (pid $pid) still alive after ${stop_timeout}s, sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	die "broker (pid $pid) survived SIGKILL; check it with: ps -p $pid"
}

# Stops every running node: all are told at once (a cluster's last nodes
# would otherwise wait for a quorum that is gone), then each is waited for.
stop_all() {
	local pid i pids=()
	for ((i = 1; i <= nodes; i++)); do
		select_node "$i"
		if pid=$(running_pid); then
			say "$(node_label)stopping broker (pid $pid, 127.0.0.1:$port)"
			kill -TERM "$pid" 2>/dev/null || true
			pids[i]=$pid
		else
			rm -f "$pid_file"
		fi
	done
	for i in "${!pids[@]}"; do
		select_node "$i"
		stop_pid "${pids[i]}"
		rm -f "$pid_file"
	done
	[ "${#pids[@]}" -gt 0 ]
}

cmd_stop() {
	if [ -d "$state_dir" ]; then
		take_lock "$state_dir/.lock"
	fi
	if ! stop_all; then
		say "broker not running (state dir $state_dir)"
		return 0
	fi
	say "stopped"
}

reset_state() {
	case "$(realpath -m "$state_dir")" in
	/ | "$(realpath -m "${HOME:-/}")" | "$(realpath -m "$cache_dir")")
		die "refusing to wipe LT_KAFKA_DIR=$state_dir; point it at a dedicated broker dir"
		;;
	esac
	if [ -d "$state_dir" ] && [ -n "$(ls -A "$state_dir")" ] && [ ! -f "$owner_mark" ]; then
		die "refusing to wipe $state_dir: it was not created by kafka.sh (no $owner_mark); remove it yourself"
	fi
	stop_all >/dev/null || true
	say "LT_KAFKA_RESET=1: wiping $state_dir"
	rm -rf "$state_dir"
}

# Launches the node selected (select_node) in the background; its pid file
# is written by the child.
# Waits up to 10 s while a socket that is not listening holds one of the
# ports as its own: the default ports lie in Linux's ephemeral range
# (32768-60999), so a client's connection (an agent reconnecting while the
# broker is down) can hold one for a moment, and the broker's bind would fail.
# Sockets in TIME_WAIT do not count (the broker binds with SO_REUSEADDR).
wait_ports_unheld() {
	local p deadline=$((SECONDS + 10)) held
	command -v ss >/dev/null 2>&1 || return 0
	while :; do
		held=
		for p in "$@"; do
			if [ -n "$(ss -Htan state all exclude time-wait "( sport = :$p )" 2>/dev/null)" ]; then
				held+=" $p"
			fi
		done
		[ -z "$held" ] && return 0
		if [ $SECONDS -ge $deadline ]; then
			say "$(node_label)port(s)$held of 127.0.0.1 still held by a connection after 10 s; starting anyway"
			return 0
		fi
		sleep 0.2
	done
}

launch_node() {
	local p
	for p in "$port" "$cport" $pport; do
		if port_open "$p"; then
			die "127.0.0.1:$p is already in use by another process; stop it or choose other ports (LT_KAFKA_PORT, LT_KAFKA_CONTROLLER_PORT${pport:+, LT_KAFKA_PROXIED_PORT})"
		fi
	done
	wait_ports_unheld "$port" "$cport" $pport
	mkdir -p "$node_dir" "$logs_dir" || die "cannot create state dir $node_dir"
	rm -f "$pid_file"
	log_offsets[node_id]=0
	if [ -f "$logs_dir/server.log" ]; then
		log_offsets[node_id]=$(wc -c <"$logs_dir/server.log")
	fi
	write_configs
	format_storage
	say "$(node_label)starting Kafka $version broker on 127.0.0.1:$port (controller 127.0.0.1:$cport${pport:+, proxied 127.0.0.1:$pport advertised as 127.0.0.1:$proxy_port}, state $node_dir)"
	# The child writes its own pid and closes the lock fd before exec'ing
	# java, so the pid file names java and the lock is not inherited.
	# shellcheck disable=SC2016,SC2086 # $$ is for the inner bash; option lists split
	setsid nohup bash -c 'echo $$ >"$1"; shift; exec 9>&-; exec "$@"' kafka-sh \
		"$pid_file" "$java_bin" \
		-server $heap \
		-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
		-XX:+ExplicitGCInvokesConcurrent -XX:-OmitStackTraceInFastThrow \
		-Djava.awt.headless=true \
		-Dlog4j.configuration="file:$log4j_config" \
		-Dkafka.logs.dir="$logs_dir" \
		$jvm_extra \
		-cp "$libs_dir/*" kafka.Kafka "$config" \
		</dev/null >"$out_file" 2>&1 &
}

# Stops the nodes this start launched, after a failure.
abandon_launched() {
	local i pid
	for i in "${launched[@]}"; do
		select_node "$i"
		pid=$(cat "$pid_file" 2>/dev/null) || continue
		if is_uint "$pid" && kill -0 "$pid" 2>/dev/null; then
			stop_pid "$pid"
		fi
		rm -f "$pid_file"
	done
}

cmd_start() {
	local pid i
	if [ "${LT_KAFKA_RESET:-0}" = 1 ]; then
		reset_state
	elif cmd_status >/dev/null; then
		for ((i = 1; i <= nodes; i++)); do
			select_node "$i"
			say "$(node_label)broker already running (pid $(running_pid), 127.0.0.1:$port)"
		done
		return 0
	fi

	do_fetch
	command -v "$java_bin" >/dev/null 2>&1 ||
		die "java not found (LT_JAVA=$java_bin); install a JRE 17 (apt-get install default-jre-headless)"

	if [ -d "$state_dir" ] && [ -n "$(ls -A "$state_dir")" ] && [ ! -f "$owner_mark" ]; then
		die "$state_dir exists and was not created by kafka.sh; choose another LT_KAFKA_DIR"
	fi
	mkdir -p "$state_dir" || die "cannot create state dir $state_dir"
	touch "$owner_mark"
	take_lock "$state_dir/.lock"

	if [ -n "$tls_dir" ]; then
		# The broker's own certificate (CN kafka-broker, a super user), from the CA.
		# It is a TLS server and client certificate only: it cannot sign documents.
		# Key files are created unreadable to others from the start (umask 077).
		local old_umask
		old_umask=$(umask)
		umask 077
		mkdir -p "$tls_state"
		[ -f "$tls_dir/kafka-broker.crt" ] ||
			"$(dirname "$0")/pki.sh" server "$tls_dir" kafka-broker >/dev/null ||
			die "cannot issue the broker certificate from $tls_dir"
		cat "$tls_dir/kafka-broker.key" "$tls_dir/kafka-broker.crt" >"$tls_state/broker.pem"
		chmod 600 "$tls_state/broker.pem"
		umask "$old_umask"
	fi

	# Every node not running is launched first (a node of a cluster answers
	# only once a quorum of controllers runs), then each is waited for.
	local t0=$SECONDS
	launched=()
	log_offsets=()
	for ((i = 1; i <= nodes; i++)); do
		select_node "$i"
		if pid=$(running_pid); then # running, or started by a concurrent call
			say "$(node_label)broker already running (pid $pid, 127.0.0.1:$port)"
			continue
		fi
		launch_node
		launched+=("$i")
	done

	local deadline=$((SECONDS + start_timeout))
	for i in "${launched[@]}"; do
		select_node "$i"
		log_offset=${log_offsets[i]}
		pid=
		while :; do
			if [ -z "$pid" ] && [ -s "$pid_file" ]; then
				pid=$(cat "$pid_file")
			fi
			if [ -n "$pid" ]; then
				if ! kill -0 "$pid" 2>/dev/null; then
					rm -f "$pid_file"
					show_logs
					abandon_launched
					die "$(node_label)broker process exited during startup (logs above); fix the cause, or retry with LT_KAFKA_RESET=1 for a clean broker"
				fi
				if broker_ready; then
					break
				fi
			elif [ $((SECONDS - t0)) -ge 10 ]; then
				show_logs
				abandon_launched
				die "the broker launcher did not write $pid_file within 10s; check that setsid, nohup and $java_bin work"
			fi
			if [ "$SECONDS" -ge "$deadline" ]; then
				show_logs
				abandon_launched
				die "$(node_label)broker did not answer on 127.0.0.1:$port within ${start_timeout}s (logs above); raise LT_KAFKA_START_TIMEOUT or check the logs"
			fi
			sleep 0.5
		done
		say "$(node_label)running (pid $pid, 127.0.0.1:$port), ready after $((SECONDS - t0))s"
	done
}

main() {
	local cmd=${1:-}
	case "$cmd" in
	help | -h | --help)
		usage
		return 0
		;;
	start | stop | status | fetch | fetch-tools) ;;
	"")
		usage >&2
		exit 2
		;;
	*)
		echo "$prog: unknown command '$cmd'" >&2
		usage >&2
		exit 2
		;;
	esac
	[ $# -eq 1 ] || die "'$cmd' takes no arguments; see deploy/kafka.sh help"
	load_settings
	case "$cmd" in
	start) cmd_start ;;
	stop) cmd_stop ;;
	status) cmd_status ;;
	fetch) cmd_fetch ;;
	fetch-tools) cmd_fetch_tools ;;
	esac
}

main "$@"
