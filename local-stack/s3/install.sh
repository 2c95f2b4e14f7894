#!/usr/bin/env bash
# Installs the local S3 server: the s3proxy jar (with its dependencies, one file) from Maven
# Central into the cache. Idempotent: when the jar of S3PROXY_VERSION is there, nothing is fetched.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
source "$REPO_ROOT/local-stack/s3/s3-env.sh"

if s3_installed; then
  echo "s3: already installed ($(s3_version), $S3PROXY_JAR)"
  exit 0
fi
stack_require_java17
command -v mvn >/dev/null 2>&1 || stack_die "mvn not found: install Maven 3 (apt-get install maven)"

stack_log "s3: fetching $(s3_version) with Maven into $LOCAL_STACK_HOME/cache/m2"
mkdir -p "$S3PROXY_HOME" "$LOCAL_STACK_HOME/logs"
mvn_log="$LOCAL_STACK_HOME/logs/s3-install.log"
# dependency:copy needs no project; the classifier names the self-contained build.
if ! JAVA_HOME="$JAVA_HOME" mvn -B -Dstyle.color=never -Dmaven.repo.local="$LOCAL_STACK_HOME/cache/m2" \
  org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
  -Dartifact="org.gaul:s3proxy:$S3PROXY_VERSION:jar:jar-with-dependencies" \
  -DoutputDirectory="$S3PROXY_HOME" >"$mvn_log" 2>&1; then
  tail -n 40 "$mvn_log" >&2
  stack_die "s3: Maven could not fetch s3proxy $S3PROXY_VERSION (is Maven Central reachable?); full output in $mvn_log"
fi
s3_installed || stack_die "s3: Maven finished but $S3PROXY_JAR is missing; see $mvn_log"
stack_log "s3: installed $(s3_version) ($(du -h "$S3PROXY_JAR" | cut -f1))"
