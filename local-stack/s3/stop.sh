#!/usr/bin/env bash
# Stops the local S3 server (its in-memory data goes with it).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
stack_stop s3 10
