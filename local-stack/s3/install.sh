#!/usr/bin/env bash
# Installs the local S3 server: the s3proxy jar (with its dependencies, one file) from Maven
# Central into the cache. Idempotent: when the jar of S3PROXY_VERSION is there, nothing is fetched.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
source "$REPO_ROOT/local-stack/s3/s3-env.sh"

stack_lock s3-install

if s3_installed; then
  echo "s3: already installed ($(s3_version), $S3PROXY_JAR)"
  exit 0
fi
stack_require_java17

stack_log "s3: fetching $(s3_version) with Maven into $LOCAL_STACK_HOME/cache/m2"
mkdir -p "$S3PROXY_HOME"
# dependency:copy needs no project; the classifier names the self-contained build.
stack_maven s3 "$MAVEN_DEPENDENCY_COPY" \
  -Dartifact="org.gaul:s3proxy:$S3PROXY_VERSION:jar:jar-with-dependencies" -DoutputDirectory="$S3PROXY_HOME"
s3_installed || stack_die "s3: Maven finished but $S3PROXY_JAR is missing; see $LOCAL_STACK_HOME/logs/s3-install.log"
stack_log "s3: installed $(s3_version) ($(du -h "$S3PROXY_JAR" | cut -f1))"
