#!/usr/bin/env bash
# One line: "opensearch: running (pid N) http://..." or "opensearch: stopped". Exit 0 either way.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if pid="$(opensearch_pid)"; then
  if opensearch_healthy; then
    echo "opensearch: running (pid $pid) $OPENSEARCH_LOCAL_URL"
  else
    echo "opensearch: running (pid $pid) $OPENSEARCH_LOCAL_URL (not answering yet)"
  fi
else
  echo "opensearch: stopped"
fi
