#!/usr/bin/env bash
# Spark has no server here: each job starts its own local[2] JVM (submit.sh or the pytest
# fixture). "Starting" it means making sure it is installed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
source "$REPO_ROOT/local-stack/spark/spark-env.sh"

if [ ! -x "$VENV/bin/spark-submit" ] || ! spark_jars_present; then
  bash "$REPO_ROOT/local-stack/spark/install.sh"
fi
stack_require_java17
echo "spark: ready (runs per job: bash local-stack/spark/submit.sh SCRIPT.py)"
