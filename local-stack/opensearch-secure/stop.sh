#!/usr/bin/env bash
# Stops the security-enabled test node: SIGTERM (the launcher closes the node cleanly), then SIGKILL
# after OPENSEARCH_SECURE_STOP_TIMEOUT seconds (default 30). Stopping a node that is not running is fine.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if ! opensearch_secure_pid >/dev/null; then
  rm -f "$(stack_pid_file opensearch-secure)" "$(stack_pid_file opensearch-secure).start"
  echo "opensearch-secure: not running"
  exit 0
fi
stack_stop opensearch-secure "${OPENSEARCH_SECURE_STOP_TIMEOUT:-30}"
