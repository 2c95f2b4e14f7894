#!/usr/bin/env bash
# Creates $CHECKOV_VENV (Python 3.11) with the pinned local-stack/checkov-requirements.txt: checkov
# for test/ops/checkov.test.ts, in a venv of its own because its pins conflict with the local
# stack's venv (see the requirements file). Installed once: a stamp holding the requirements' hash
# makes the next run a no-op. local-stack/venv.sh runs it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

CHECKOV_VENV="${CHECKOV_VENV:-$LOCAL_STACK_HOME/checkov-venv}"
requirements="$REPO_ROOT/local-stack/checkov-requirements.txt"
stamp="$CHECKOV_VENV/.requirements.sha256"
want="$(stack_hash "$requirements")"
stack_lock checkov-venv

if [ -x "$CHECKOV_VENV/bin/checkov" ] && [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ]; then
  echo "checkov venv: up to date ($CHECKOV_VENV)"
  exit 0
fi

command -v "$PYTHON_FOR_VENV" >/dev/null 2>&1 ||
  stack_die "$PYTHON_FOR_VENV not found; install Python 3.11 or set PYTHON_FOR_VENV"

stack_log "checkov venv: installing $requirements into $CHECKOV_VENV"
if [ ! -x "$CHECKOV_VENV/bin/python" ]; then
  "$PYTHON_FOR_VENV" -m venv "$CHECKOV_VENV"
fi
rm -f "$stamp"
"$CHECKOV_VENV/bin/python" -m pip install --quiet --upgrade pip
"$CHECKOV_VENV/bin/python" -m pip install --quiet -r "$requirements"
echo "$want" >"$stamp"
stack_log "checkov venv: ready (checkov $("$CHECKOV_VENV/bin/checkov" --version))"
