# shellcheck shell=bash
# Defaults and small helpers for every local-stack script. Source it, do not run it:
#   source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
# Every variable is set only when unset, so a caller can move any port or folder with the
# environment (e.g. `S3_PORT=9100 bash local-stack/stack.sh up s3`). Safe under `set -euo pipefail`.

if [ -z "${REPO_ROOT:-}" ]; then
  REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fi
export REPO_ROOT
export LOCAL_STACK_HOME="${LOCAL_STACK_HOME:-$REPO_ROOT/.local-stack}"

# Java 17 is what Kafka 4, OpenSearch 2.19 and Spark 3.5 all run on. Another JDK on the machine
# (e.g. a Temurin 25) is never picked on purpose: Spark 3.5 does not support it.
if [ -z "${JAVA_HOME:-}" ]; then
  if [ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ]; then
    JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
  else
    for _stack_jdk in /usr/lib/jvm/java-17-* /usr/lib/jvm/*-17-* /usr/lib/jvm/*jdk-17*; do
      if [ -x "$_stack_jdk/bin/java" ]; then JAVA_HOME="$_stack_jdk"; break; fi
    done
    unset _stack_jdk
  fi
fi
if [ -n "${JAVA_HOME:-}" ]; then export JAVA_HOME; fi

export KAFKA_PORT="${KAFKA_PORT:-9092}"
export KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:$KAFKA_PORT}"
export KAFKA_HEAP="${KAFKA_HEAP:-512m}"
# Topics created by `stack.sh up kafka` (auto-creation is off on the broker, as on MSK by default).
# Space-separated name[:partitions]; partitions default to KAFKA_DEFAULT_PARTITIONS.
export KAFKA_TOPICS="${KAFKA_TOPICS:-clickstream}"
export KAFKA_DEFAULT_PARTITIONS="${KAFKA_DEFAULT_PARTITIONS:-3}"

export S3_PORT="${S3_PORT:-9000}"
export S3_ENDPOINT="${S3_ENDPOINT:-http://127.0.0.1:$S3_PORT}"

export OPENSEARCH_PORT="${OPENSEARCH_PORT:-9200}"
export OPENSEARCH_TRANSPORT_PORT="${OPENSEARCH_TRANSPORT_PORT:-9300}"
export OPENSEARCH_ENDPOINT="${OPENSEARCH_ENDPOINT:-http://127.0.0.1:$OPENSEARCH_PORT}"

# The security-enabled OpenSearch 2.19.4 node, for the fine-grained access control tests only
# (local-stack/opensearch-secure/; started on request, never by a plain `stack.sh up`).
# Basic auth over plain HTTP on 127.0.0.1; TLS on the transport layer. Test-only credentials.
export OPENSEARCH_SECURE_PORT="${OPENSEARCH_SECURE_PORT:-9250}"
export OPENSEARCH_SECURE_TRANSPORT_PORT="${OPENSEARCH_SECURE_TRANSPORT_PORT:-9350}"
export OPENSEARCH_SECURE_ENDPOINT="${OPENSEARCH_SECURE_ENDPOINT:-http://127.0.0.1:$OPENSEARCH_SECURE_PORT}"
export OPENSEARCH_SECURE_ADMIN_USER="${OPENSEARCH_SECURE_ADMIN_USER:-admin}"
export OPENSEARCH_SECURE_ADMIN_PASSWORD="${OPENSEARCH_SECURE_ADMIN_PASSWORD:-Local-Stack-Admin-2026!}"

export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-$AWS_REGION}"

export VENV="${VENV:-$LOCAL_STACK_HOME/venv}"
export PYTHON_FOR_VENV="${PYTHON_FOR_VENV:-python3.11}"

# hadoop-aws must be the exact Hadoop version bundled in pyspark (3.5.x ships Hadoop 3.3.4), and
# aws-java-sdk-bundle the version that hadoop-aws release was built against.
# spark/install.sh checks the first against the venv and fails loudly when they drift apart.
export HADOOP_AWS_VERSION="${HADOOP_AWS_VERSION:-3.3.4}"
export AWS_SDK_BUNDLE_VERSION="${AWS_SDK_BUNDLE_VERSION:-1.12.262}"
export SPARK_JARS_DIR="${SPARK_JARS_DIR:-$LOCAL_STACK_HOME/cache/spark/jars}"
export SPARK_JARS="${SPARK_JARS:-$SPARK_JARS_DIR/hadoop-aws-$HADOOP_AWS_VERSION.jar,$SPARK_JARS_DIR/aws-java-sdk-bundle-$AWS_SDK_BUNDLE_VERSION.jar}"
export SPARK_DRIVER_MEMORY="${SPARK_DRIVER_MEMORY:-4g}"
# Spark binds to loopback only (without it, it picks the first non-loopback interface and warns).
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"

# ---------------------------------------------------------------------------------------------
# Helpers (prefixed stack_ so they do not clash with a caller's names)

stack_die() { echo "ERROR: $*" >&2; exit 1; }
stack_log() { echo "[$(date +%H:%M:%S)] $*"; }

# Prints the Java 17 binary or exits with a clear message.
stack_require_java17() {
  if [ -z "${JAVA_HOME:-}" ] || [ ! -x "$JAVA_HOME/bin/java" ]; then
    stack_die "no Java 17 found: install openjdk-17 (apt-get install openjdk-17-jdk-headless) or set JAVA_HOME to a Java 17"
  fi
  local version
  version="$("$JAVA_HOME/bin/java" -version 2>&1 | head -1)"
  case "$version" in
    *'"17.'*|*'"17"'*) ;;
    *) stack_die "JAVA_HOME=$JAVA_HOME is not Java 17 ($version); the local engines need Java 17" ;;
  esac
}

# Prints who listens on TCP port $1 (any address) and returns 0, or returns 1 when the port is free.
stack_port_owner() {
  local port="$1" line
  if command -v ss >/dev/null 2>&1; then
    line="$(ss -Hltnp "( sport = :$port )" 2>/dev/null | head -1)"
    if [ -n "$line" ]; then
      # users:(("java",pid=1234,fd=5)) -> pid 1234 (java): <command line>
      local pid
      pid="$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' <<<"$line")"
      if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ]; then
        echo "pid $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" | sed 's/ $//' | cut -c1-160)"
      else
        echo "$line"
      fi
      return 0
    fi
    return 1
  fi
  # No ss: a connect attempt tells at least whether something answers.
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "unknown process (ss not installed)"
    return 0
  fi
  return 1
}

# Exits with a clear error when the port held by variable $1 (e.g. KAFKA_PORT) is taken.
stack_require_free_port() {
  local var="$1" port owner
  port="${!var}"
  if owner="$(stack_port_owner "$port")"; then
    stack_die "port $port (\$$var) is already in use by $owner; stop that process or start with $var=<other port>"
  fi
}

stack_pid_file() { echo "$LOCAL_STACK_HOME/run/$1.pid"; }
stack_log_file() { echo "$LOCAL_STACK_HOME/logs/$1.log"; }

# Start time of process $1 in clock ticks since boot (field 22 of /proc/PID/stat); empty if gone.
stack_proc_start() { sed -E 's/^.*\) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }

# Prints the pid of engine $1 and returns 0 when its recorded process is alive. The start time
# recorded beside the pid must match too, so a pid reused by another program after a crash
# does not count (and is never signalled by stack_stop).
stack_running_pid() {
  local file pid want
  file="$(stack_pid_file "$1")"
  [ -f "$file" ] || return 1
  pid="$(head -1 "$file" 2>/dev/null || true)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  want="$(cat "$file.start" 2>/dev/null || true)"
  if [ -n "$want" ] && [ "$want" != "$(stack_proc_start "$pid")" ]; then return 1; fi
  echo "$pid"
}

# Starts "$@" detached in its own session (pid = process group id) with output to the engine log,
# and records the pid. Usage: stack_spawn NAME command args...
stack_spawn() {
  local name="$1"; shift
  mkdir -p "$LOCAL_STACK_HOME/run" "$LOCAL_STACK_HOME/logs"
  local log pid file
  log="$(stack_log_file "$name")"
  file="$(stack_pid_file "$name")"
  echo "===== $(date -Is) starting: $*" >>"$log"
  # A background job of a non-interactive shell is not a group leader, so setsid execs in place
  # and $! is the engine itself.
  # Descriptors 3-9 are closed so the engine never inherits a caller's lock file (stack_lock).
  setsid "$@" >>"$log" 2>&1 </dev/null 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  pid=$!
  echo "$pid" >"$file"
  stack_proc_start "$pid" >"$file.start" || true
}

# Stops engine $1: TERM to its process group, up to $2 seconds (default 30), then KILL.
stack_stop() {
  local name="$1" grace="${2:-30}" pid i
  if ! pid="$(stack_running_pid "$name")"; then
    rm -f "$(stack_pid_file "$name")" "$(stack_pid_file "$name").start"
    echo "$name: not running"
    return 0
  fi
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$name: did not stop within ${grace}s, killing pid $pid"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$(stack_pid_file "$name")" "$(stack_pid_file "$name").start"
  echo "$name: stopped (pid $pid)"
}

# Prints to stderr what engine $1 logged since its last start: the first error lines (a broker's
# real cause is often buried under its shutdown chatter) and the last $2 (default 40) lines.
stack_log_tail() {
  local log from
  log="$(stack_log_file "$1")"
  if [ ! -f "$log" ]; then
    echo "(no log at $log)" >&2
    return 0
  fi
  from="$(grep -n '^===== .* starting: ' "$log" | tail -1 | cut -d: -f1)"
  from="${from:-1}"
  if tail -n "+$from" "$log" | grep -q -E 'ERROR|FATAL|Exception|Error:'; then
    echo "----- first errors in $log since the last start -----" >&2
    tail -n "+$from" "$log" | grep -m 10 -E 'ERROR|FATAL|Exception|Error:' | cut -c1-400 >&2
  fi
  echo "----- last ${2:-40} lines of $log -----" >&2
  tail -n "+$from" "$log" | tail -n "${2:-40}" | cut -c1-400 >&2
  echo "-----" >&2
}

# Waits until "$@" succeeds, for at most $2 seconds, while engine $1 stays alive.
# On timeout or death it prints the log tail, stops the engine and returns 1.
# Usage: stack_wait_ready NAME TIMEOUT command args...
stack_wait_ready() {
  local name="$1" timeout="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if ! stack_running_pid "$name" >/dev/null; then
      echo "ERROR: $name exited during startup" >&2
      stack_log_tail "$name"
      rm -f "$(stack_pid_file "$name")" "$(stack_pid_file "$name").start"
      return 1
    fi
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "ERROR: $name not ready after ${timeout}s" >&2
  stack_log_tail "$name"
  stack_stop "$name" 10 >&2
  return 1
}

# Holds an exclusive lock named $1 for the rest of the calling script (on fd 9), waiting at most
# $2 seconds (default 900). Serialises installs and starts run by several processes at once
# (e.g. two jest runs calling `stack.sh up`). Engines started later do not inherit it.
stack_lock() {
  local name="$1" wait_s="${2:-900}"
  mkdir -p "$LOCAL_STACK_HOME/run"
  exec 9>"$LOCAL_STACK_HOME/run/$name.lock"
  flock -w "$wait_s" 9 ||
    stack_die "waited ${wait_s}s for $LOCAL_STACK_HOME/run/$name.lock: another local-stack script still holds it"
}

# Runs Maven for engine $1's install with the rest as arguments: batch mode, on the stack's Java 17,
# into the stack's own local repository (cache/m2). Its output goes to logs/<engine>-install.log
# and is shown only when it fails; a failure stops the calling script with a clear message.
# The goal that copies one artifact (group:artifact:version[:type[:classifier]]) without a project.
MAVEN_DEPENDENCY_COPY="org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy"

stack_maven() {
  local engine="$1" log
  shift
  command -v mvn >/dev/null 2>&1 || stack_die "mvn (Maven) not found: install Maven 3 (apt-get install maven)"
  log="$LOCAL_STACK_HOME/logs/$engine-install.log"
  mkdir -p "$LOCAL_STACK_HOME/logs"
  if ! JAVA_HOME="$JAVA_HOME" mvn -B -Dstyle.color=never -Dmaven.repo.local="$LOCAL_STACK_HOME/cache/m2" "$@" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    stack_die "$engine: Maven could not fetch what it needs (is Maven Central reachable?); full output in $log"
  fi
}

# Sets the array OPENSEARCH_JVM_OPTIONS for an OpenSearch node of engine $1 whose path.home is $2
# (both nodes, opensearch and opensearch-secure, start with it; the heap is the caller's): the
# options the OpenSearch distribution always sets (its SystemJvmOptions), minus
# -XX:+AlwaysPreTouch, which only slows a laptop start.
stack_opensearch_jvm_options() {
  OPENSEARCH_JVM_OPTIONS=(
    -Xss1m
    # C1 only: halves the CPU a start costs (measured 8 s instead of 15 s of CPU on this 2-core
    # machine; most of it is painless building its lookup tables). Peak throughput is lower, which
    # a local node with a few thousand documents never notices. -XX:TieredStopAtLevel=4 in the
    # engine's extra options restores the full JIT (later options win).
    -XX:TieredStopAtLevel=1
    -XX:+UseG1GC -XX:G1ReservePercent=25 -XX:InitiatingHeapOccupancyPercent=30
    -XX:-OmitStackTraceInFastThrow -XX:+ShowCodeDetailsInExceptionMessages
    # A node out of memory is broken; exit so that status/start see it, instead of limping on.
    -XX:+ExitOnOutOfMemoryError
    "-XX:ErrorFile=$LOCAL_STACK_HOME/logs/$1-hs_err_pid%p.log"
    "-Djava.io.tmpdir=$2/tmp"
    -Djava.awt.headless=true -Dfile.encoding=UTF-8 -Djna.nosys=true
    -Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true
    -Dio.netty.recycler.maxCapacityPerThread=0 -Dio.netty.allocator.numDirectArenas=0
    -Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true
    # OpenSearch 2.x date parsing relies on the COMPAT locale data on Java 9+.
    -Djava.locale.providers=SPI,COMPAT
  )
}

# The start, status and stop steps both OpenSearch nodes share. Each takes the engine's name and its
# own checks: PID_FN prints the pid of a live node of that engine (and fails when none runs),
# HEALTHY_FN succeeds when the node answers.

# Start guard: holds the engine's start lock for the rest of the calling start.sh (two concurrent
# starts would both find the port free and race for it; the second waits here, then finds the
# first node). Returns 0 when a node already runs, after waiting up to TIMEOUT seconds for it to
# answer if it was started a moment ago; returns 1 when none runs (a stale pid file is removed).
# Usage: stack_node_already_running ENGINE PID_FN HEALTHY_FN URL TIMEOUT
stack_node_already_running() {
  local engine="$1" pid_fn="$2" healthy_fn="$3" url="$4" timeout_s="$5" pid
  mkdir -p "$LOCAL_STACK_HOME/run"
  exec 9>"$LOCAL_STACK_HOME/run/$engine.start.lock"
  flock -w $((timeout_s + 60)) 9 || stack_die "another $engine start.sh still holds $LOCAL_STACK_HOME/run/$engine.start.lock"
  if ! pid="$("$pid_fn")"; then
    rm -f "$(stack_pid_file "$engine")"
    return 1
  fi
  if ! "$healthy_fn"; then
    stack_log "$engine: pid $pid is up but not answering yet; waiting up to ${timeout_s}s"
    stack_wait_ready "$engine" "$timeout_s" "$healthy_fn" || exit 1
  fi
  echo "$engine already running (pid $pid) at $url"
}

# One line: "ENGINE: running (pid N) URL", with "(not answering yet)" while it starts, or
# "ENGINE: stopped". Usage: stack_node_status ENGINE PID_FN HEALTHY_FN URL
stack_node_status() {
  local engine="$1" pid_fn="$2" healthy_fn="$3" url="$4" pid
  if pid="$("$pid_fn")"; then
    if "$healthy_fn"; then
      echo "$engine: running (pid $pid) $url"
    else
      echo "$engine: running (pid $pid) $url (not answering yet)"
    fi
  else
    echo "$engine: stopped"
  fi
}

# Stops the node: TERM, then KILL after TIMEOUT seconds. A pid file that names no live node of
# this engine (none, or a pid reused by another program) is removed and never signalled.
# Usage: stack_node_stop ENGINE PID_FN TIMEOUT
stack_node_stop() {
  local engine="$1" pid_fn="$2" timeout_s="$3"
  if ! "$pid_fn" >/dev/null; then
    rm -f "$(stack_pid_file "$engine")" "$(stack_pid_file "$engine").start"
    echo "$engine: not running"
    return 0
  fi
  stack_stop "$engine" "$timeout_s"
}

# Engine $1's log is appended to across starts; once it is over 20 MB, keep one previous generation.
stack_rotate_log() {
  local log_file
  log_file="$(stack_log_file "$1")"
  if [ -f "$log_file" ] && [ "$(stat -c %s "$log_file")" -gt $((20 * 1024 * 1024)) ]; then
    mv -f "$log_file" "$log_file.1"
  fi
}

# Hash of files, for "installed already?" stamps.
stack_hash() { cat "$@" | sha256sum | cut -d' ' -f1; }
