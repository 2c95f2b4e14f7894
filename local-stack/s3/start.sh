#!/usr/bin/env bash
# Starts the S3-compatible server (s3proxy, file-system blob store under $S3_DATA_DIR) on
# 127.0.0.1:$S3_PORT. Its buckets and objects survive a restart. Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
source "$REPO_ROOT/local-stack/s3/s3-env.sh"
stack_lock "$S3_INSTANCE-start"

if pid="$(stack_running_pid "$S3_INSTANCE")"; then
  echo "$S3_INSTANCE: already running (pid $pid) at $S3_ENDPOINT, data in $S3_DATA_DIR"
  exit 0
fi
s3_installed || bash "$REPO_ROOT/local-stack/s3/install.sh"
stack_require_java17
stack_require_free_port S3_PORT
stack_rotate_log "$S3_INSTANCE"

# Written at every start, so a changed port, folder or credential takes effect.
mkdir -p "$LOCAL_STACK_HOME/run" "$S3_DATA_DIR"
conf="$LOCAL_STACK_HOME/run/$S3_INSTANCE.properties"
cat >"$conf" <<PROPERTIES
s3proxy.endpoint=http://127.0.0.1:$S3_PORT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$AWS_ACCESS_KEY_ID
s3proxy.credential=$AWS_SECRET_ACCESS_KEY
jclouds.provider=$S3_STORE
jclouds.filesystem.basedir=$S3_DATA_DIR
jclouds.identity=$AWS_ACCESS_KEY_ID
jclouds.credential=$AWS_SECRET_ACCESS_KEY
PROPERTIES

stack_spawn "$S3_INSTANCE" "$JAVA_HOME/bin/java" "-Xmx$S3_HEAP" -XX:+UseSerialGC \
  -jar "$S3PROXY_JAR" --properties "$conf"
stack_log "$S3_INSTANCE: starting $(s3_version) (pid $(cat "$(stack_pid_file "$S3_INSTANCE")")), $([ "$S3_STORE" = transient ] && echo "data in memory" || echo "data in $S3_DATA_DIR"), log $(stack_log_file "$S3_INSTANCE")"
stack_wait_ready "$S3_INSTANCE" "${S3_START_TIMEOUT:-60}" s3_answers || exit 1
stack_log "$S3_INSTANCE: ready at $S3_ENDPOINT"
