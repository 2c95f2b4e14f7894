# shellcheck shell=bash
# Shared by the opensearch/*.sh scripts: paths and the "is it our node?" check. Source, do not run.
OPENSEARCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../env.sh
source "$OPENSEARCH_DIR/../env.sh"

OPENSEARCH_CACHE="$LOCAL_STACK_HOME/cache/opensearch"       # jars + compiled launcher (install.sh)
OPENSEARCH_NODE_HOME="$LOCAL_STACK_HOME/data/opensearch"    # path.home: config/, data/, logs/, tmp/
OPENSEARCH_MAIN_CLASS="clickstream.localstack.LocalOpenSearch"
OPENSEARCH_LOCAL_URL="http://127.0.0.1:$OPENSEARCH_PORT"

# Prints the pid of our node and returns 0 when the pid file names a live LocalOpenSearch JVM.
# A pid file left by a crash whose pid now belongs to another program counts as "not running".
opensearch_pid() {
  local pid
  pid="$(stack_running_pid opensearch)" || return 1
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
