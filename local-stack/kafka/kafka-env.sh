# shellcheck shell=bash
# Paths and helpers shared by the Kafka scripts. Sourced after ../env.sh.
KAFKA_SRC="$REPO_ROOT/local-stack/kafka"
KAFKA_LIB="$LOCAL_STACK_HOME/cache/kafka/lib"
# The name of this broker's pid and log files. Another name (with other KAFKA_PORT,
# KAFKA_CONTROLLER_PORT and KAFKA_DATA_DIR) runs a second, private broker beside the shared one,
# e.g. for a test that stops and starts it.
KAFKA_INSTANCE="${KAFKA_INSTANCE:-kafka}"
# Topics, partitions and consumer groups' offsets live here and survive a stop.
KAFKA_DATA="${KAFKA_DATA_DIR:-$LOCAL_STACK_HOME/data/$KAFKA_INSTANCE}"
KAFKA_CONFIG="$KAFKA_DATA/server.properties"
KAFKA_LOG_DIRS="$KAFKA_DATA/kraft-logs"
KAFKA_INSTALL_STAMP="$KAFKA_LIB/.installed.sha256"

kafka_installed() {
  [ -f "$KAFKA_INSTALL_STAMP" ] && [ "$(cat "$KAFKA_INSTALL_STAMP")" = "$(stack_hash "$KAFKA_SRC/pom.xml")" ]
}

kafka_version() {
  local jar
  jar="$(ls "$KAFKA_LIB"/kafka_2.13-*.jar 2>/dev/null | head -1)"
  [ -n "$jar" ] && basename "$jar" .jar | sed 's/^kafka_2.13-//'
}

# Runs a Kafka tool class with the cached classpath and quiet logging: kafka_tool CLASS ARGS...
kafka_tool() {
  local cls="$1"; shift
  "$JAVA_HOME/bin/java" -Xmx256m -XX:TieredStopAtLevel=1 -Xshare:auto \
    -Dlog4j2.configurationFile="$KAFKA_SRC/log4j2-tools.xml" \
    -cp "$KAFKA_LIB/*" "$cls" "$@"
}
