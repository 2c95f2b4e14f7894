#!/usr/bin/env bash
# The S3 server is moto[server] from the venv: installing it is installing the venv.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
bash "$REPO_ROOT/local-stack/venv.sh"
