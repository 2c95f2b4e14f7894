/**
 * The core of the deploy-time topic resource (lib/ingest.ts creates the clickstream topic on a new
 * MSK Serverless cluster, where nobody else would): make sure a topic exists with at least the
 * requested partitions. Idempotent, so CloudFormation retries and updates are safe; it never
 * deletes a topic and never lowers a partition count (Kafka cannot).
 */
import type { Admin } from 'kafkajs';

export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  /** Topic configs applied when the topic is created (e.g. `retention.ms`). */
  readonly configs: Readonly<Record<string, string>>;
}

export interface EnsureTopicResult {
  readonly created: boolean;
  /** Partitions the topic has now. */
  readonly partitions: number;
  readonly partitionsAdded: number;
}

/** The admin calls used: a subset of kafkajs's `Admin`. */
export type TopicAdmin = Pick<Admin, 'createTopics' | 'fetchTopicMetadata' | 'createPartitions'>;

const KAFKA_TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
/** A sanity bound on a request, far above what a click topic needs; the cluster's own partition
 *  quota (MSK Serverless has per-cluster limits) is enforced by the cluster itself. */
export const MAX_PARTITIONS = 1000;

/**
 * The replication factor the topic is created with: -1, the cluster's default.
 *
 * kafkajs 2.2.4 speaks CreateTopics v0-v3, and the protocol only names -1 ("use the broker
 * default") from v4 on (KIP-464). That version gate is in the Java client, though: a broker
 * resolves -1 to `default.replication.factor` whatever the request version (Apache Kafka's
 * ReplicationControlManager/AdminManager), which test/ingest/topic-resource.test.ts checks
 * against the real local Kafka on the request version kafkajs actually sends. MSK Serverless
 * manages replication itself (AWS's own tutorial creates topics without a factor, and AWS's
 * data-solutions-framework, which creates MSK Serverless topics with kafkajs too, sends none);
 * an explicit factor is the one value here that could disagree with the cluster, so none is sent.
 */
export const BROKER_DEFAULT_REPLICATION_FACTOR = -1;

/** Reads and checks the custom resource's properties (CloudFormation passes every value as a string). */
export function parseTopicSpec(properties: Record<string, unknown>): TopicSpec {
  const problems: string[] = [];
  const topic = properties.Topic;
  if (typeof topic !== 'string' || !KAFKA_TOPIC_NAME.test(topic) || topic === '.' || topic === '..') {
    problems.push(`Topic must be a Kafka topic name (1-249 of [a-zA-Z0-9._-]), got ${JSON.stringify(topic)}`);
  }
  const partitions = Number(properties.Partitions);
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    problems.push(`Partitions must be an integer from 1 to ${MAX_PARTITIONS}, got ${JSON.stringify(properties.Partitions)}`);
  }
  const configs: Record<string, string> = {};
  const rawConfigs = properties.Configs ?? {};
  if (typeof rawConfigs !== 'object' || rawConfigs === null || Array.isArray(rawConfigs)) {
    problems.push(`Configs must be an object of strings, got ${JSON.stringify(rawConfigs)}`);
  } else {
    for (const [name, value] of Object.entries(rawConfigs)) {
      if (typeof value !== 'string' && typeof value !== 'number') problems.push(`Configs.${name} must be a string, got ${JSON.stringify(value)}`);
      else configs[name] = String(value);
    }
  }
  if (problems.length > 0) throw new Error(`invalid topic resource properties: ${problems.join('; ')}`);
  return { topic: topic as string, partitions, configs };
}

async function partitionCount(admin: TopicAdmin, topic: string): Promise<number> {
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
  return metadata.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
}

export async function ensureTopic(admin: TopicAdmin, spec: TopicSpec): Promise<EnsureTopicResult> {
  // createTopics resolves false (no error) when the topic exists already.
  const created = await admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic: spec.topic,
        numPartitions: spec.partitions,
        replicationFactor: BROKER_DEFAULT_REPLICATION_FACTOR,
        configEntries: Object.entries(spec.configs).map(([name, value]) => ({ name, value })),
      },
    ],
  });
  const existing = await partitionCount(admin, spec.topic);
  if (existing >= spec.partitions) return { created, partitions: existing, partitionsAdded: 0 };
  await admin.createPartitions({ topicPartitions: [{ topic: spec.topic, count: spec.partitions }] });
  return { created, partitions: spec.partitions, partitionsAdded: spec.partitions - existing };
}
