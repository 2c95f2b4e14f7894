#!/usr/bin/env bash
# Stops the local Kafka (controlled shutdown on TERM; KILL after 30 s). Its topics and the
# consumer groups' offsets stay on disk ($KAFKA_DATA) for the next start.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
source "$REPO_ROOT/local-stack/kafka/kafka-env.sh"
stack_stop "$KAFKA_INSTANCE" 30
