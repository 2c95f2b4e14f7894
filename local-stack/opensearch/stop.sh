#!/usr/bin/env bash
# Stops the local OpenSearch node: SIGTERM (the launcher closes the node cleanly), then SIGKILL
# after OPENSEARCH_STOP_TIMEOUT seconds (default 30). Stopping a node that is not running is fine.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if ! opensearch_pid >/dev/null; then
  # Either no pid file, or a stale one whose pid now belongs to another program: never signal it.
  rm -f "$(stack_pid_file opensearch)"
  echo "opensearch: not running"
  exit 0
fi
stack_stop opensearch "${OPENSEARCH_STOP_TIMEOUT:-30}"
