# shellcheck shell=bash
# Shared by the S3 server scripts: paths, version, checks. Sourced after ../env.sh.
#
# The server is s3proxy (Java, Maven Central: org.gaul:s3proxy, the jar-with-dependencies build)
# with its file-system blob store (`filesystem-nio2`): every bucket is a folder and every object a
# file under S3_DATA_DIR, so the data survives a restart. It checks AWS signatures (v2 or v4)
# against the test credentials of env.sh, as S3 does against real ones.
S3PROXY_VERSION="${S3PROXY_VERSION:-4.1.0}"
S3PROXY_HOME="$LOCAL_STACK_HOME/cache/s3proxy"
S3PROXY_JAR="$S3PROXY_HOME/s3proxy-$S3PROXY_VERSION-jar-with-dependencies.jar"
# The name of this server's pid, log and settings files. Another name (with another S3_PORT and
# S3_DATA_DIR) runs a second, private server beside the shared one, e.g. for a restart test.
S3_INSTANCE="${S3_INSTANCE:-s3}"
# Where the buckets live (one folder each).
S3_DATA_DIR="${S3_DATA_DIR:-$LOCAL_STACK_HOME/data/$S3_INSTANCE}"
# The blob store: `filesystem-nio2` (on disk, the default) or `transient` (in memory, lost at a
# stop; what the server used before, kept to measure what the disk costs, see docs/local-pipeline.md).
S3_STORE="${S3_STORE:-filesystem-nio2}"
case "$S3_STORE" in filesystem-nio2|transient) ;; *) echo "ERROR: S3_STORE must be filesystem-nio2 or transient, got $S3_STORE" >&2; exit 1 ;; esac
# Objects are on disk; the heap holds requests in flight and listings.
S3_HEAP="${S3_HEAP:-512m}"

s3_installed() { [ -f "$S3PROXY_JAR" ]; }
s3_version() { echo "s3proxy $S3PROXY_VERSION"; }
# Any HTTP answer (even an error status) means the server is up.
s3_answers() {
  local code
  code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$S3_ENDPOINT/" || true)"
  [ -n "$code" ] && [ "$code" != "000" ]
}
