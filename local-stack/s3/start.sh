#!/usr/bin/env bash
# Starts the S3-compatible server (moto in server mode) on 127.0.0.1:$S3_PORT.
# Its data lives in memory: a restart starts empty. Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
source "$REPO_ROOT/local-stack/s3/s3-env.sh"
stack_lock s3-start

if pid="$(stack_running_pid s3)"; then
  echo "s3: already running (pid $pid) at $S3_ENDPOINT"
  exit 0
fi
s3_installed || bash "$REPO_ROOT/local-stack/venv.sh"
stack_require_free_port S3_PORT

# moto answers every AWS service on one port; only S3 is used from it here.
stack_spawn s3 "$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT"
stack_log "s3: starting moto $(s3_version) (pid $(cat "$(stack_pid_file s3)")), log $(stack_log_file s3)"
stack_wait_ready s3 "${S3_START_TIMEOUT:-30}" s3_answers || exit 1
stack_log "s3: ready at $S3_ENDPOINT"
