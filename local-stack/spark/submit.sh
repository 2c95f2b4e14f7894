#!/usr/bin/env bash
# Runs a PySpark script on local Spark (local[2]) with s3a:// pointed at the local S3 server:
#   bash local-stack/spark/submit.sh SCRIPT [ARGS...]
# The settings come from local_spark.py, the same ones test/python/conftest.py uses; among them
# spark.submit.pyFiles, a fresh zip of the job's package (glue-scripts/clickstream_job), which
# spark-submit puts on the driver's and the workers' Python path as Glue does with --extra-py-files.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
source "$REPO_ROOT/local-stack/spark/spark-env.sh"

[ $# -ge 1 ] || stack_die "usage: $0 SCRIPT.py [ARGS...]"
[ -f "$1" ] || stack_die "no such script: $1"
stack_require_java17
if [ ! -x "$VENV/bin/spark-submit" ] || ! spark_jars_present; then
  bash "$REPO_ROOT/local-stack/spark/install.sh"
fi
# spark-submit finds its home with whatever `python3` is first on PATH: make that the venv's.
export PATH="$VENV/bin:$PATH"
SPARK_HOME="$(dirname "$(spark_pyspark_jars_dir)")"
export SPARK_HOME
export PYSPARK_PYTHON="$VENV/bin/python"
options="$("$VENV/bin/python" "$REPO_ROOT/local-stack/spark/local_spark.py" --submit-args)"
mapfile -t submit_options <<<"$options"
exec "$VENV/bin/spark-submit" "${submit_options[@]}" "$@"
