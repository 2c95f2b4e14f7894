#!/usr/bin/env bash
# Kafka's own command-line tools against the local broker ($KAFKA_BROKERS), with the jars the
# stack already installed (no Kafka download, no kcat needed):
#   bash local-stack/kafka/tool.sh produce TOPIC          one message per line from stdin
#   bash local-stack/kafka/tool.sh consume TOPIC [ARGS]   from the beginning; ARGS e.g. --max-messages 5
#   bash local-stack/kafka/tool.sh offsets TOPIC          end offset per partition (TOPIC:PARTITION:OFFSET)
#   bash local-stack/kafka/tool.sh group GROUP            a consumer group's committed offsets and lag
#   bash local-stack/kafka/tool.sh topics                 the topics
# Further arguments go to the tool as they are.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
source "$REPO_ROOT/local-stack/kafka/kafka-env.sh"

usage() { sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
kafka_installed || stack_die "Kafka is not installed: bash local-stack/stack.sh install kafka"
command="$1"; shift
case "$command" in
  produce)
    [ $# -ge 1 ] || usage
    topic="$1"; shift
    kafka_tool org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$KAFKA_BROKERS" --topic "$topic" "$@" ;;
  consume)
    [ $# -ge 1 ] || usage
    topic="$1"; shift
    kafka_tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$KAFKA_BROKERS" --topic "$topic" --from-beginning "$@" ;;
  offsets)
    [ $# -ge 1 ] || usage
    topic="$1"; shift
    kafka_tool org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$KAFKA_BROKERS" --topic "$topic" "$@" ;;
  group)
    [ $# -ge 1 ] || usage
    group="$1"; shift
    kafka_tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$KAFKA_BROKERS" --describe --group "$group" "$@" ;;
  topics)
    kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BROKERS" --list "$@" ;;
  *) usage ;;
esac
