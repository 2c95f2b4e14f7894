# shellcheck shell=bash
# Shared by the opensearch-secure/*.sh scripts: paths, ports, credentials and the "is it our node?"
# check. Source, do not run.
OPENSEARCH_SECURE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../env.sh
source "$OPENSEARCH_SECURE_DIR/../env.sh"

# Own ports, away from the main node's 9200/9300 (env.sh holds the defaults).
OPENSEARCH_SECURE_CACHE="$LOCAL_STACK_HOME/cache/opensearch-secure"      # jars, launcher, plugin, certificates
OPENSEARCH_SECURE_NODE_HOME="$LOCAL_STACK_HOME/data/opensearch-secure"   # path.home: config/, plugins/, data/, logs/, tmp/
# The main node's launcher, compiled again against the 2.19.4 jars; the security plugin comes in
# through path.home/plugins/, where OpenSearch loads it in its own class loader.
OPENSEARCH_SECURE_LAUNCHER_SOURCE="$OPENSEARCH_SECURE_DIR/../opensearch/src/main/java/clickstream/localstack/LocalOpenSearch.java"
OPENSEARCH_SECURE_MAIN_CLASS="clickstream.localstack.LocalOpenSearch"
OPENSEARCH_SECURE_PLUGIN_VERSION="${OPENSEARCH_SECURE_PLUGIN_VERSION:-2.19.4.0}"
OPENSEARCH_SECURE_LOCAL_URL="http://127.0.0.1:$OPENSEARCH_SECURE_PORT"

# Prints the pid of our node and returns 0 when the pid file names a live JVM of this node
# (the main node runs the same class, so the node home in the command line tells them apart).
opensearch_secure_pid() {
  local pid
  pid="$(stack_running_pid opensearch-secure)" || return 1
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "-Epath.home=$OPENSEARCH_SECURE_NODE_HOME "; then
    echo "$pid"
    return 0
  fi
  return 1
}

# True when the node answers the admin user and the cluster is at least yellow. It answers 401/503
# until the security index is initialised, so this is also "security is ready".
opensearch_secure_healthy() {
  curl -fsS --max-time 5 -u "$OPENSEARCH_SECURE_ADMIN_USER:$OPENSEARCH_SECURE_ADMIN_PASSWORD" \
    "$OPENSEARCH_SECURE_LOCAL_URL/_cluster/health?wait_for_status=yellow&timeout=2s" >/dev/null 2>&1
}
