#!/usr/bin/env bash
# One line: "opensearch-secure: running (pid N) http://..." or "opensearch-secure: stopped". Exit 0 either way.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if pid="$(opensearch_secure_pid)"; then
  if opensearch_secure_healthy; then
    echo "opensearch-secure: running (pid $pid) $OPENSEARCH_SECURE_LOCAL_URL"
  else
    echo "opensearch-secure: running (pid $pid) $OPENSEARCH_SECURE_LOCAL_URL (not answering yet)"
  fi
else
  echo "opensearch-secure: stopped"
fi
