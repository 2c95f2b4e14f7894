#!/usr/bin/env bash
# Fetches the Kafka broker and its runtime dependencies (versions in pom.xml) from Maven Central
# into $LOCAL_STACK_HOME/cache/kafka/lib. A stamp with pom.xml's hash makes a second run a no-op.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
source "$REPO_ROOT/local-stack/kafka/kafka-env.sh"
stack_lock kafka-install

if kafka_installed; then
  echo "kafka: installed ($(kafka_version), $KAFKA_LIB)"
  exit 0
fi
stack_require_java17

stack_log "kafka: fetching jars with Maven into $KAFKA_LIB"
rm -rf "$KAFKA_LIB"
mkdir -p "$KAFKA_LIB"
stack_maven kafka -q -f "$KAFKA_SRC/pom.xml" \
  dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIB"
ls "$KAFKA_LIB"/kafka_2.13-*.jar >/dev/null 2>&1 || stack_die "kafka: Maven finished but kafka_2.13 jar is missing in $KAFKA_LIB"
stack_hash "$KAFKA_SRC/pom.xml" >"$KAFKA_INSTALL_STAMP"
stack_log "kafka: installed $(kafka_version)"
