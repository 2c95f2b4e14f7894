#!/usr/bin/env bash
# Stops the local Kafka (controlled shutdown on TERM; KILL after 30 s).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
stack_stop kafka 30
