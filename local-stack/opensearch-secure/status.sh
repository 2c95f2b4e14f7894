#!/usr/bin/env bash
# One line: "opensearch-secure: running (pid N) http://..." or "opensearch-secure: stopped". Exit 0 either way.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

stack_node_status opensearch-secure opensearch_secure_pid opensearch_secure_healthy "$OPENSEARCH_SECURE_LOCAL_URL"
