#!/usr/bin/env bash
# One line about the local S3 server. Exit 0 when running, 3 when not.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
source "$REPO_ROOT/local-stack/s3/s3-env.sh"

if pid="$(stack_running_pid s3)"; then
  echo "s3: running (pid $pid) at $S3_ENDPOINT, $(s3_version), data in memory"
  exit 0
fi
if s3_installed; then
  echo "s3: stopped (installed: $(s3_version))"
else
  echo "s3: stopped (not installed)"
fi
exit 3
