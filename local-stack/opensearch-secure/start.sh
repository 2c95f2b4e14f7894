#!/usr/bin/env bash
# Starts the security-enabled test node in the background and waits until the admin user gets a
# yellow cluster health (i.e. the security index is initialised).
#   - already running and healthy: says so and exits 0 (nothing is restarted);
#   - a port taken by another process: a clear error naming the port and its variable, exit 1;
#   - not ready within OPENSEARCH_SECURE_START_TIMEOUT seconds (default 180): log tail, node stopped, exit 1.
# Every start begins with an empty data folder: the security index is created again from
# config/opensearch-security/*.yml, so a test never meets users or roles of an earlier run.
# Environment: OPENSEARCH_SECURE_PORT (9250), OPENSEARCH_SECURE_TRANSPORT_PORT (9350),
# OPENSEARCH_SECURE_ADMIN_USER/_PASSWORD, OPENSEARCH_SECURE_HEAP (512m), OPENSEARCH_SECURE_JAVA_OPTS.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

timeout_s="${OPENSEARCH_SECURE_START_TIMEOUT:-180}"

stack_node_already_running opensearch-secure opensearch_secure_pid opensearch_secure_healthy "$OPENSEARCH_SECURE_LOCAL_URL" "$timeout_s" && exit 0

stack_require_free_port OPENSEARCH_SECURE_PORT
stack_require_free_port OPENSEARCH_SECURE_TRANSPORT_PORT

bash "$OPENSEARCH_SECURE_DIR/install.sh" >/dev/null

cache="$OPENSEARCH_SECURE_CACHE"
home="$OPENSEARCH_SECURE_NODE_HOME"
rm -rf "$home/data" "$home/config" "$home/tmp"
mkdir -p "$home/config/opensearch-security" "$home/data" "$home/logs" "$home/tmp"
# The plugin folder lives in the cache; path.home/plugins points at it.
ln -sfn "$cache/plugins" "$home/plugins"
cp "$OPENSEARCH_SECURE_DIR/../opensearch/config/log4j2.properties" "$home/config/log4j2.properties"
cp "$cache/certs/root-ca.pem" "$cache/certs/node.pem" "$cache/certs/node-key.pem" "$home/config/"

# Security configuration: the plugin's defaults, then ours on top (config.yml, roles_mapping.yml,
# internal_users.yml with the admin's bcrypt hash).
cp "$cache/security-config"/*.yml "$home/config/opensearch-security/"
cp "$OPENSEARCH_SECURE_DIR/config/opensearch-security"/*.yml "$home/config/opensearch-security/"
# The hash costs a JVM start (~1 s); it is kept per password.
hash_file="$cache/admin-hash.$(printf '%s' "$OPENSEARCH_SECURE_ADMIN_PASSWORD" | sha256sum | cut -c1-16)"
if [ ! -s "$hash_file" ]; then
  "$JAVA_HOME/bin/java" -cp "$cache/lib/*:$cache/plugins/opensearch-security/*" org.opensearch.security.tools.Hasher \
    -p "$OPENSEARCH_SECURE_ADMIN_PASSWORD" 2>/dev/null | tail -1 >"$hash_file.tmp"
  grep -q '^\$2[aby]\$' "$hash_file.tmp" || stack_die "opensearch-secure: could not hash the admin password with the plugin's Hasher"
  mv "$hash_file.tmp" "$hash_file"
fi
sed -e "s|@ADMIN_USER@|$OPENSEARCH_SECURE_ADMIN_USER|" -e "s|@ADMIN_HASH@|$(cat "$hash_file")|" \
  "$OPENSEARCH_SECURE_DIR/config/opensearch-security/internal_users.yml.template" >"$home/config/opensearch-security/internal_users.yml"
rm -f "$home/config/opensearch-security/internal_users.yml.template"

cat >"$home/config/opensearch.yml" <<YAML
# Written by local-stack/opensearch-secure/start.sh at every start; ports and paths come as -E.
# Transport TLS (mandatory for the plugin), with the certificates install.sh made.
plugins.security.ssl.transport.pemcert_filepath: node.pem
plugins.security.ssl.transport.pemkey_filepath: node-key.pem
plugins.security.ssl.transport.pemtrustedcas_filepath: root-ca.pem
plugins.security.ssl.transport.enforce_hostname_verification: false
# HTTP stays plain: basic auth on 127.0.0.1 only, so the tests need no CA.
plugins.security.ssl.http.enabled: false
plugins.security.nodes_dn:
  - "CN=node.clickstream.local,OU=local-stack,O=clickstream"
plugins.security.authcz.admin_dn:
  - "CN=admin.clickstream.local,OU=local-stack,O=clickstream"
# Create the security index from config/opensearch-security/*.yml at the first start (no securityadmin run).
plugins.security.allow_default_init_securityindex: true
plugins.security.restapi.roles_enabled: ["all_access", "security_rest_api_access"]
plugins.security.system_indices.enabled: true
plugins.security.audit.type: noop
# Test users are created with short passwords-with-symbols; keep the plugin's length rule only.
plugins.security.restapi.password_min_length: 8
YAML

# The plugin warns about every config file other users could read; keep them private.
chmod 700 "$home/config" "$home/config/opensearch-security"
find "$home/config" -type f -exec chmod 600 {} +

heap="${OPENSEARCH_SECURE_HEAP:-512m}"
stack_opensearch_jvm_options opensearch-secure "$home"
jvm_opts=("-Xms$heap" "-Xmx$heap" "${OPENSEARCH_JVM_OPTIONS[@]}")
# shellcheck disable=SC2206 # a space-separated option list on purpose.
extra_opts=(${OPENSEARCH_SECURE_JAVA_OPTS:-})

stack_rotate_log opensearch-secure

started=$SECONDS
stack_spawn opensearch-secure "$JAVA_HOME/bin/java" "${jvm_opts[@]}" "${extra_opts[@]}" \
  -cp "$cache/classes:$cache/lib/*" "$OPENSEARCH_SECURE_MAIN_CLASS" \
  "-Ecluster.name=clickstream-local-secure" \
  "-Enode.name=clickstream-local-secure-node" \
  "-Epath.home=$home" \
  "-Epath.data=$home/data" \
  "-Epath.logs=$home/logs" \
  "-Ehttp.port=$OPENSEARCH_SECURE_PORT" \
  "-Etransport.port=$OPENSEARCH_SECURE_TRANSPORT_PORT" \
  9>&-
pid="$(cat "$(stack_pid_file opensearch-secure)")"

stack_wait_ready opensearch-secure "$timeout_s" opensearch_secure_healthy || exit 1
echo "opensearch-secure started (pid $pid) at $OPENSEARCH_SECURE_LOCAL_URL in $((SECONDS - started))s (log: $(stack_log_file opensearch-secure))"
