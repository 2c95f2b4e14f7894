#!/usr/bin/env bash
# Creates $VENV (Python 3.11) with the pinned local-stack/python-requirements.txt.
# Installed once: a stamp holding the requirements' hash makes the next run a no-op.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# checkov lives in a venv of its own (its pins conflict with this one's): local-stack/checkov-venv.sh.
bash "$(dirname "${BASH_SOURCE[0]}")/checkov-venv.sh"

requirements="$REPO_ROOT/local-stack/python-requirements.txt"
stamp="$VENV/.requirements.sha256"
want="$(stack_hash "$requirements")"
stack_lock venv

if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ]; then
  echo "venv: up to date ($VENV)"
  exit 0
fi

command -v "$PYTHON_FOR_VENV" >/dev/null 2>&1 ||
  stack_die "$PYTHON_FOR_VENV not found; install Python 3.11 or set PYTHON_FOR_VENV"

stack_log "venv: installing $requirements into $VENV"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON_FOR_VENV" -m venv "$VENV"
fi
rm -f "$stamp"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -r "$requirements"
echo "$want" >"$stamp"
stack_log "venv: ready ($("$VENV/bin/python" --version), pyspark $("$VENV/bin/python" -c 'import pyspark; print(pyspark.__version__)'))"
