#!/usr/bin/env bash
# One line about Spark. Nothing runs between jobs, so this says whether it is installed.
# Exit 0 when installed, 3 when not.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
source "$REPO_ROOT/local-stack/spark/spark-env.sh"

version="$(spark_pyspark_version || true)"
if [ -x "$VENV/bin/spark-submit" ] && [ -n "$version" ] && spark_jars_present; then
  echo "spark: installed (pyspark $version, Hadoop $(spark_hadoop_version), s3a jars present; runs per job, nothing to start)"
  exit 0
fi
missing=()
[ -x "$VENV/bin/spark-submit" ] || missing+=("venv $VENV")
spark_jars_present || missing+=("jars $SPARK_JARS_DIR")
echo "spark: not installed (missing: ${missing[*]})"
exit 3
