#!/usr/bin/env bash
# One line: "opensearch: running (pid N) http://..." or "opensearch: stopped". Exit 0 either way.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

stack_node_status "$OPENSEARCH_INSTANCE" opensearch_pid opensearch_healthy "$OPENSEARCH_LOCAL_URL"
