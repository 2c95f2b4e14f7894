# shellcheck shell=bash
# Helpers shared by the Spark scripts. Sourced after ../env.sh.
spark_jars_present() {
  local jar
  for jar in ${SPARK_JARS//,/ }; do [ -s "$jar" ] || return 1; done
}
spark_pyspark_jars_dir() { ls -d "$VENV"/lib/python3*/site-packages/pyspark/jars 2>/dev/null | head -1; }
spark_hadoop_version() {
  local dir jar
  dir="$(spark_pyspark_jars_dir)"
  [ -n "$dir" ] || return 0
  jar="$(ls "$dir"/hadoop-client-api-*.jar 2>/dev/null | head -1)"
  [ -n "$jar" ] && basename "$jar" .jar | sed 's/^hadoop-client-api-//'
}
spark_pyspark_version() {
  local dir
  dir="$(spark_pyspark_jars_dir)"
  [ -n "$dir" ] && sed -nE "s/^__version__[^'\"]*['\"]([^'\"]+)['\"].*/\1/p" "$dir/../version.py"
}
