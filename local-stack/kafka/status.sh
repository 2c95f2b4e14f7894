#!/usr/bin/env bash
# One line about the local Kafka. Exit 0 when running, 3 when not.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
source "$REPO_ROOT/local-stack/kafka/kafka-env.sh"

if pid="$(stack_running_pid "$KAFKA_INSTANCE")"; then
  echo "$KAFKA_INSTANCE: running (pid $pid) at $KAFKA_BROKERS, Kafka $(kafka_version), data $KAFKA_DATA"
  exit 0
fi
if kafka_installed; then
  echo "$KAFKA_INSTANCE: stopped (installed: Kafka $(kafka_version))"
else
  echo "$KAFKA_INSTANCE: stopped (not installed)"
fi
exit 3
