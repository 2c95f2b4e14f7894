#!/usr/bin/env bash
# One line about the local S3 server. Exit 0 when running, 3 when not.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
source "$REPO_ROOT/local-stack/s3/s3-env.sh"

if pid="$(stack_running_pid "$S3_INSTANCE")"; then
  echo "$S3_INSTANCE: running (pid $pid) at $S3_ENDPOINT, $(s3_version), data in $S3_DATA_DIR"
  exit 0
fi
if s3_installed; then
  echo "$S3_INSTANCE: stopped (installed: $(s3_version))"
else
  echo "$S3_INSTANCE: stopped (not installed)"
fi
exit 3
