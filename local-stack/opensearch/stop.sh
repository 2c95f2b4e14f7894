#!/usr/bin/env bash
# Stops the local OpenSearch node: SIGTERM (the launcher closes the node cleanly), then SIGKILL
# after OPENSEARCH_STOP_TIMEOUT seconds (default 30). Stopping a node that is not running is fine.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

stack_node_stop "$OPENSEARCH_INSTANCE" opensearch_pid "${OPENSEARCH_STOP_TIMEOUT:-30}"
