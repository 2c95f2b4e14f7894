#!/usr/bin/env bash
# Installs the security-enabled test node (OpenSearch 2.19.4 + the opensearch-security plugin):
#   - every OpenSearch 2.19.4 jar from Maven Central into the cache (pom.xml), the main node's
#     launcher compiled against them;
#   - the plugin zip from Maven Central, unpacked as a plugin folder (jars the node's classpath
#     already holds are removed from it: OpenSearch refuses to load a plugin whose classes are on
#     the classpath too, its "jar hell" check);
#   - a self-signed CA, a node certificate and an admin certificate made with openssl (transport
#     TLS is mandatory for the plugin).
# Idempotent: a stamp with the hash of the inputs makes a second run a no-op (no download, no
# compile); the certificates are made once and kept.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

stack_lock opensearch-secure-install
stack_require_java17
command -v openssl >/dev/null 2>&1 || stack_die "opensearch-secure: openssl not found (apt-get install openssl)"

cache="${OPENSEARCH_SECURE_CACHE:?}"
stamp="$cache/install.stamp"
plugin_dir="$cache/plugins/opensearch-security"
wanted="$( { cat "$OPENSEARCH_SECURE_DIR/pom.xml" "$OPENSEARCH_SECURE_LAUNCHER_SOURCE" "${BASH_SOURCE[0]}";
             echo "$OPENSEARCH_SECURE_PLUGIN_VERSION"; "$JAVA_HOME/bin/java" -version 2>&1 | head -1; } | sha256sum | cut -d' ' -f1)"

certs_ready() { [ -s "$cache/certs/root-ca.pem" ] && [ -s "$cache/certs/node.pem" ] && [ -s "$cache/certs/node-key.pem" ] && [ -s "$cache/certs/admin.pem" ]; }
# Jars, launcher and plugin of these inputs are in place (the certificates are made separately).
node_ready() {
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] \
    && [ -f "$cache/classes/clickstream/localstack/LocalOpenSearch.class" ] \
    && [ -f "$plugin_dir/plugin-descriptor.properties" ]
}

if node_ready && certs_ready; then
  echo "opensearch-secure: already installed ($cache)"
  exit 0
fi

if ! node_ready; then
  stack_log "opensearch-secure: fetching OpenSearch 2.19.4 jars and opensearch-security $OPENSEARCH_SECURE_PLUGIN_VERSION with Maven into $LOCAL_STACK_HOME/cache/m2"
  rm -f "$stamp"
  rm -rf "${cache:?}/lib" "${cache:?}/classes" "${cache:?}/plugins" "${cache:?}/security-config" "${cache:?}/download"
  mkdir -p "$cache/lib" "$cache/classes" "$cache/download" "$plugin_dir"
  # A failure leaves no stamp, so the next run carries on from what the local repository holds.
  stack_maven opensearch-secure -f "$OPENSEARCH_SECURE_DIR/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$cache/lib" -DincludeScope=runtime
  stack_maven opensearch-secure "$MAVEN_DEPENDENCY_COPY" \
    -Dartifact="org.opensearch.plugin:opensearch-security:$OPENSEARCH_SECURE_PLUGIN_VERSION:zip" -DoutputDirectory="$cache/download"

  stack_log "opensearch-secure: unpacking the plugin"
  # Python's zipfile rather than unzip, which not every machine has (the venv needs Python 3.11 anyway).
  "$PYTHON_FOR_VENV" -m zipfile -e "$cache/download/opensearch-security-$OPENSEARCH_SECURE_PLUGIN_VERSION.zip" "$plugin_dir"
  # The plugin's default security configuration (roles.yml, action_groups.yml, ...): start.sh
  # copies it into config/opensearch-security/, as the distribution's installer does. Its tools
  # (securityadmin.sh, hash.sh) expect the distribution's layout; not used here.
  mv "$plugin_dir/config" "$cache/security-config"
  rm -rf "$plugin_dir/tools"
  # Jars the classpath holds already (netty, transport-netty4-client, mapper-extras-client, the HTTP
  # client of reindex, asm of painless, ...) go: with both copies the node stops at start with
  # "jar hell!". The plugin then uses the classpath's copy, as the distribution's plugins use lib/.
  artifact() { basename "$1" .jar | sed -E 's/-[0-9][0-9A-Za-z.+-]*$//'; }
  declare -A on_classpath=()
  for jar in "$cache/lib"/*.jar; do on_classpath["$(artifact "$jar")"]="$(basename "$jar")"; done
  removed=()
  for jar in "$plugin_dir"/*.jar; do
    name="$(artifact "$jar")"
    if [ -n "${on_classpath[$name]:-}" ]; then
      removed+=("$(basename "$jar")->${on_classpath[$name]}")
      rm -f "$jar"
    fi
  done
  printf '%s\n' "${removed[@]}" >"$cache/plugin-jars-removed.txt"
  stack_log "opensearch-secure: ${#removed[@]} plugin jars replaced by the classpath's copy (list: $cache/plugin-jars-removed.txt)"
  rm -rf "$cache/download"

  stack_log "opensearch-secure: compiling the launcher"
  "$JAVA_HOME/bin/javac" -encoding UTF-8 --release 17 -Xlint:all -Werror \
    -d "$cache/classes" -cp "$cache/lib/*" "$OPENSEARCH_SECURE_LAUNCHER_SOURCE" \
    || stack_die "opensearch-secure: the launcher did not compile against the fetched jars"
fi

if ! certs_ready; then
  stack_log "opensearch-secure: making a self-signed CA, node and admin certificates (openssl)"
  certs="$cache/certs"
  rm -rf "$certs" && mkdir -p "$certs"
  (
    cd "$certs"
    subject="/O=clickstream/OU=local-stack"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out root-ca-key.pem 2>/dev/null
    openssl req -x509 -new -key root-ca-key.pem -sha256 -days 3650 -subj "$subject/CN=clickstream-local-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out root-ca.pem
    # node: transport TLS, both ends (client and server auth), its DN is plugins.security.nodes_dn.
    # admin: a client certificate whose DN is plugins.security.authcz.admin_dn. Unused while HTTP
    # TLS is off (the tests use basic auth); it is there for securityadmin or admin REST calls if
    # HTTPS is ever switched on, without a new install.
    for name in node admin; do
      # PKCS#8 key, the form the plugin reads (genpkey writes PKCS#8).
      openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$name-key.pem" 2>/dev/null
      openssl req -new -key "$name-key.pem" -subj "$subject/CN=$name.clickstream.local" -out "$name.csr"
      if [ "$name" = node ]; then
        ext="subjectAltName=DNS:node.clickstream.local,DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth,clientAuth
keyUsage=critical,digitalSignature,keyEncipherment"
      else
        ext="extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature,keyEncipherment"
      fi
      openssl x509 -req -in "$name.csr" -CA root-ca.pem -CAkey root-ca-key.pem -CAcreateserial -sha256 -days 3650 \
        -extfile <(echo "$ext") -out "$name.pem" 2>/dev/null
      rm -f "$name.csr"
    done
    chmod 600 ./*-key.pem
  )
fi

echo "$wanted" >"$stamp"
jars=("$cache"/lib/*.jar)
stack_log "opensearch-secure: installed ${#jars[@]} jars ($(basename "$(ls "$cache"/lib/opensearch-2.*.jar)" .jar)) + opensearch-security $OPENSEARCH_SECURE_PLUGIN_VERSION"
