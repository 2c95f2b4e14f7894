#!/usr/bin/env bash
# Starts the local OpenSearch node in the background and waits until it answers.
#   - already running and healthy: says so and exits 0 (nothing is restarted);
#   - a port taken by another process: a clear error naming the port and its variable, exit 1;
#   - not ready within OPENSEARCH_START_TIMEOUT seconds (default 120): log tail, node stopped, exit 1.
# Environment: OPENSEARCH_PORT, OPENSEARCH_TRANSPORT_PORT, OPENSEARCH_HEAP (sets -Xms and -Xmx;
# default -Xms512m -Xmx1g), OPENSEARCH_JAVA_OPTS (extra JVM options), LOCAL_STACK_HOME.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

timeout_s="${OPENSEARCH_START_TIMEOUT:-120}"

stack_node_already_running "$OPENSEARCH_INSTANCE" opensearch_pid opensearch_healthy "$OPENSEARCH_LOCAL_URL" "$timeout_s" && exit 0

stack_require_free_port OPENSEARCH_PORT
stack_require_free_port OPENSEARCH_TRANSPORT_PORT

bash "$OPENSEARCH_DIR/install.sh" >/dev/null

mkdir -p "$OPENSEARCH_NODE_HOME/config" "$OPENSEARCH_NODE_HOME/data" "$OPENSEARCH_NODE_HOME/logs" "$OPENSEARCH_NODE_HOME/tmp"
cp "$OPENSEARCH_DIR/config/log4j2.properties" "$OPENSEARCH_NODE_HOME/config/log4j2.properties"

if [ -n "${OPENSEARCH_HEAP:-}" ]; then
  heap=("-Xms$OPENSEARCH_HEAP" "-Xmx$OPENSEARCH_HEAP")
else
  heap=(-Xms512m -Xmx1g)
fi
stack_opensearch_jvm_options "$OPENSEARCH_INSTANCE" "$OPENSEARCH_NODE_HOME"
jvm_opts=("${heap[@]}" "${OPENSEARCH_JVM_OPTIONS[@]}")
# shellcheck disable=SC2206 # OPENSEARCH_JAVA_OPTS is a space-separated option list on purpose.
extra_opts=(${OPENSEARCH_JAVA_OPTS:-})

stack_rotate_log "$OPENSEARCH_INSTANCE"

started=$SECONDS
stack_spawn "$OPENSEARCH_INSTANCE" "$JAVA_HOME/bin/java" "${jvm_opts[@]}" "${extra_opts[@]}" \
  -cp "$OPENSEARCH_CACHE/classes:$OPENSEARCH_CACHE/lib/*" "$OPENSEARCH_MAIN_CLASS" \
  "-Epath.home=$OPENSEARCH_NODE_HOME" \
  "-Epath.data=$OPENSEARCH_NODE_HOME/data" \
  "-Epath.logs=$OPENSEARCH_NODE_HOME/logs" \
  "-Ehttp.port=$OPENSEARCH_PORT" \
  "-Etransport.port=$OPENSEARCH_TRANSPORT_PORT" \
  9>&- # the node must not inherit (and so hold forever) the start lock
pid="$(cat "$(stack_pid_file "$OPENSEARCH_INSTANCE")")"

stack_wait_ready "$OPENSEARCH_INSTANCE" "$timeout_s" opensearch_healthy || exit 1
echo "$OPENSEARCH_INSTANCE started (pid $pid) at $OPENSEARCH_LOCAL_URL in $((SECONDS - started))s, data $OPENSEARCH_NODE_HOME/data (log: $(stack_log_file "$OPENSEARCH_INSTANCE"))"
