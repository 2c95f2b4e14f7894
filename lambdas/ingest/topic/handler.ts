/**
 * `onEvent` of the deploy-time topic custom resource (cr.Provider in lib/ingest.ts). It runs in
 * the cluster's VPC, asks the MSK API for the IAM bootstrap brokers, connects with kafkajs over
 * TLS with SASL/OAUTHBEARER (an MSK IAM token signed with the function's own role), and makes sure
 * the topic exists. Delete leaves the topic alone: it holds data, and deleting the cluster (dev)
 * removes it anyway.
 *
 * Properties: ClusterArn, Topic, Partitions, Configs (object of strings, applied at creation).
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { Kafka, logLevel } from 'kafkajs';
import { ensureTopic, parseTopicSpec } from './ensure-topic';
import { getBootstrapBrokers, mskIamAuthToken } from './msk-iam';

export interface TopicResourceResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

export async function handler(event: CloudFormationCustomResourceEvent): Promise<TopicResourceResponse> {
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
  const spec = parseTopicSpec(event.ResourceProperties);
  const clusterArn = String(event.ResourceProperties.ClusterArn ?? '');
  if (!clusterArn.startsWith('arn:')) throw new Error(`ClusterArn must be an MSK cluster ARN, got ${JSON.stringify(clusterArn)}`);
  const region = clusterArn.split(':')[3] || process.env.AWS_REGION || '';
  const credentialsProvider = defaultProvider();

  const brokers = await getBootstrapBrokers({ region, clusterArn, credentials: await credentialsProvider() });
  const kafka = new Kafka({
    clientId: 'clickstream-topic-resource',
    brokers,
    ssl: true,
    sasl: {
      mechanism: 'oauthbearer',
      oauthBearerProvider: async () => ({ value: (await mskIamAuthToken({ region, credentials: await credentialsProvider() })).token }),
    },
    logLevel: logLevel.WARN,
    retry: { retries: 8, initialRetryTime: 500, maxRetryTime: 10_000 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const result = await ensureTopic(admin, spec);
    console.log(JSON.stringify({ message: 'topic ensured', clusterArn, ...spec, ...result }));
    return {
      PhysicalResourceId: spec.topic,
      Data: { Topic: spec.topic, Partitions: String(result.partitions), Created: String(result.created) },
    };
  } finally {
    await admin.disconnect();
  }
}
