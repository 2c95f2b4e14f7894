#!/usr/bin/env bash
# Starts the S3-compatible server (s3proxy, in-memory blob store) on 127.0.0.1:$S3_PORT.
# Its data lives in memory: a restart starts empty. Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
source "$REPO_ROOT/local-stack/s3/s3-env.sh"
stack_lock s3-start

if pid="$(stack_running_pid s3)"; then
  echo "s3: already running (pid $pid) at $S3_ENDPOINT"
  exit 0
fi
s3_installed || bash "$REPO_ROOT/local-stack/s3/install.sh"
stack_require_java17
stack_require_free_port S3_PORT

# Written at every start, so a changed port or credential takes effect.
mkdir -p "$LOCAL_STACK_HOME/run"
conf="$LOCAL_STACK_HOME/run/s3proxy.properties"
cat >"$conf" <<PROPERTIES
s3proxy.endpoint=http://127.0.0.1:$S3_PORT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$AWS_ACCESS_KEY_ID
s3proxy.credential=$AWS_SECRET_ACCESS_KEY
jclouds.provider=transient
jclouds.identity=$AWS_ACCESS_KEY_ID
jclouds.credential=$AWS_SECRET_ACCESS_KEY
PROPERTIES

stack_spawn s3 "$JAVA_HOME/bin/java" "-Xmx$S3_HEAP" -XX:+UseSerialGC \
  -jar "$S3PROXY_JAR" --properties "$conf"
stack_log "s3: starting $(s3_version) (pid $(cat "$(stack_pid_file s3)")), log $(stack_log_file s3)"
stack_wait_ready s3 "${S3_START_TIMEOUT:-60}" s3_answers || exit 1
stack_log "s3: ready at $S3_ENDPOINT"
