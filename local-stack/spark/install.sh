#!/usr/bin/env bash
# Spark for the local stack: pyspark from the venv, plus the two jars that give it s3a://
# (hadoop-aws for the exact Hadoop bundled in pyspark, and the AWS SDK bundle it was built
# against) fetched from Maven Central into $SPARK_JARS_DIR.
#   install.sh          venv + jars + check that hadoop-aws matches pyspark's Hadoop
#   install.sh --jars   only the jars (stack.sh fetches them while pip is busy)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
source "$REPO_ROOT/local-stack/spark/spark-env.sh"
stack_lock spark-install

fetch_jars() {
  if spark_jars_present; then
    echo "spark: jars present ($SPARK_JARS_DIR)"
    return 0
  fi
  stack_log "spark: fetching hadoop-aws $HADOOP_AWS_VERSION and aws-java-sdk-bundle $AWS_SDK_BUNDLE_VERSION into $SPARK_JARS_DIR"
  mkdir -p "$SPARK_JARS_DIR"
  local artifact
  for artifact in "org.apache.hadoop:hadoop-aws:$HADOOP_AWS_VERSION" "com.amazonaws:aws-java-sdk-bundle:$AWS_SDK_BUNDLE_VERSION"; do
    # Not transitive: everything else hadoop-aws needs is already in pyspark's jars.
    stack_maven spark -q "$MAVEN_DEPENDENCY_COPY" -Dartifact="$artifact" -DoutputDirectory="$SPARK_JARS_DIR"
  done
  spark_jars_present || stack_die "spark: Maven finished but a jar of SPARK_JARS is missing: $SPARK_JARS"
}

fetch_jars
[ "${1:-}" = "--jars" ] && exit 0

bash "$REPO_ROOT/local-stack/venv.sh"
hadoop="$(spark_hadoop_version)"
[ -n "$hadoop" ] || stack_die "spark: no hadoop-client-api jar in $(spark_pyspark_jars_dir); is pyspark installed?"
if [ "$hadoop" != "$HADOOP_AWS_VERSION" ]; then
  stack_die "spark: pyspark bundles Hadoop $hadoop but HADOOP_AWS_VERSION is $HADOOP_AWS_VERSION; set HADOOP_AWS_VERSION (and the matching AWS_SDK_BUNDLE_VERSION) in local-stack/env.sh"
fi
echo "spark: installed (pyspark $(spark_pyspark_version), Hadoop $hadoop, hadoop-aws $HADOOP_AWS_VERSION, aws-java-sdk-bundle $AWS_SDK_BUNDLE_VERSION)"
