# shellcheck shell=bash
# Shared by the opensearch/*.sh scripts: paths and the "is it our node?" check. Source, do not run.
OPENSEARCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../env.sh
source "$OPENSEARCH_DIR/../env.sh"

OPENSEARCH_CACHE="$LOCAL_STACK_HOME/cache/opensearch"       # jars + compiled launcher (install.sh)
# The name of this node's pid and log files. Another name (with other OPENSEARCH_PORT,
# OPENSEARCH_TRANSPORT_PORT and OPENSEARCH_DATA_DIR) runs a second, private node beside the shared
# one, e.g. for a test that stops and starts it.
OPENSEARCH_INSTANCE="${OPENSEARCH_INSTANCE:-opensearch}"
# path.home: config/, data/ (the indices, kept across a stop), logs/, tmp/
OPENSEARCH_NODE_HOME="${OPENSEARCH_DATA_DIR:-$LOCAL_STACK_HOME/data/$OPENSEARCH_INSTANCE}"
OPENSEARCH_MAIN_CLASS="clickstream.localstack.LocalOpenSearch"
OPENSEARCH_LOCAL_URL="http://127.0.0.1:$OPENSEARCH_PORT"

# Prints the pid of our node and returns 0 when the pid file names a live LocalOpenSearch JVM.
# A pid file left by a crash whose pid now belongs to another program counts as "not running".
opensearch_pid() {
  local pid
  pid="$(stack_running_pid "$OPENSEARCH_INSTANCE")" || return 1
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$OPENSEARCH_MAIN_CLASS"; then
    echo "$pid"
    return 0
  fi
  return 1
}

# True when the node answers and the cluster is at least yellow.
opensearch_healthy() {
  curl -fsS --max-time 5 "$OPENSEARCH_LOCAL_URL/_cluster/health?wait_for_status=yellow&timeout=2s" >/dev/null 2>&1
}
