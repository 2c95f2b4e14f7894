# shellcheck shell=bash
# Shared by the S3 server scripts: paths, version, checks. Sourced after ../env.sh.
#
# The server is s3proxy (Java, Maven Central: org.gaul:s3proxy, the jar-with-dependencies build)
# with jclouds' in-memory `transient` blob store: a restart starts empty. It checks AWS
# signatures (v2 or v4) against the test credentials of env.sh, as S3 does against real ones.
S3PROXY_VERSION="${S3PROXY_VERSION:-4.1.0}"
S3PROXY_HOME="$LOCAL_STACK_HOME/cache/s3proxy"
S3PROXY_JAR="$S3PROXY_HOME/s3proxy-$S3PROXY_VERSION-jar-with-dependencies.jar"
# The blob store holds every object in this JVM's heap.
S3_HEAP="${S3_HEAP:-1g}"

s3_installed() { [ -f "$S3PROXY_JAR" ]; }
s3_version() { echo "s3proxy $S3PROXY_VERSION"; }
# Any HTTP answer (even an error status) means the server is up.
s3_answers() {
  local code
  code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$S3_ENDPOINT/" || true)"
  [ -n "$code" ] && [ "$code" != "000" ]
}
