#!/usr/bin/env bash
# Stops the local S3 server. Its buckets stay on disk ($S3_DATA_DIR) for the next start.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
source "$REPO_ROOT/local-stack/s3/s3-env.sh"
stack_stop "$S3_INSTANCE" 10
