#!/usr/bin/env bash
# Installs the local OpenSearch node: every jar from Maven Central into the cache, and our launcher
# compiled against them. Idempotent: a stamp holding the hash of the inputs (pom, launcher source,
# Java version) makes a second run a no-op that neither downloads nor compiles.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

stack_require_java17

stamp="$OPENSEARCH_CACHE/install.stamp"
source_file="$OPENSEARCH_DIR/src/main/java/clickstream/localstack/LocalOpenSearch.java"
wanted="$( { cat "$OPENSEARCH_DIR/pom.xml" "$source_file"; "$JAVA_HOME/bin/java" -version 2>&1 | head -1; } | sha256sum | cut -d' ' -f1)"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] \
   && [ -f "$OPENSEARCH_CACHE/classes/clickstream/localstack/LocalOpenSearch.class" ] \
   && compgen -G "$OPENSEARCH_CACHE/lib/opensearch-2.*.jar" >/dev/null; then
  echo "opensearch: already installed ($OPENSEARCH_CACHE)"
  exit 0
fi

stack_log "opensearch: fetching jars with Maven into $LOCAL_STACK_HOME/cache/m2"
rm -f "$stamp"
rm -rf "$OPENSEARCH_CACHE/lib" "$OPENSEARCH_CACHE/classes"
mkdir -p "$OPENSEARCH_CACHE/lib" "$OPENSEARCH_CACHE/classes"
# A failure leaves no stamp, so the next run carries on from what the local repository already holds.
stack_maven opensearch -f "$OPENSEARCH_DIR/pom.xml" dependency:copy-dependencies \
  -DoutputDirectory="$OPENSEARCH_CACHE/lib" -DincludeScope=runtime

stack_log "opensearch: compiling the launcher"
"$JAVA_HOME/bin/javac" -encoding UTF-8 --release 17 -Xlint:all -Werror \
  -d "$OPENSEARCH_CACHE/classes" -cp "$OPENSEARCH_CACHE/lib/*" "$source_file" \
  || stack_die "opensearch: the launcher did not compile against the fetched jars"

echo "$wanted" >"$stamp"
stack_log "opensearch: installed $(ls "$OPENSEARCH_CACHE/lib" | grep -c '\.jar$') jars ($(basename "$(ls "$OPENSEARCH_CACHE"/lib/opensearch-2.*.jar)" .jar))"
