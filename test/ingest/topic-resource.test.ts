/**
 * The deploy-time topic resource of a new MSK Serverless cluster (lambdas/ingest/topic/):
 * its core against the real local Kafka, the MSK IAM token and the signed GetBootstrapBrokers
 * call checked against an independent SigV4 computation (MSK itself has no local engine, so the
 * MSK API is a recorded fake `fetch`), and the handler's Delete path.
 */
import { createHash, createHmac } from 'crypto';
import { ConfigResourceTypes } from 'kafkajs';
import { BROKER_DEFAULT_REPLICATION_FACTOR, ensureTopic, parseTopicSpec } from '../../lambdas/ingest/topic/ensure-topic';
import { handler } from '../../lambdas/ingest/topic/handler';
import { getBootstrapBrokers, mskIamAuthToken } from '../../lambdas/ingest/topic/msk-iam';
import { ENGINE_START_TIMEOUT_MS, ensureEngines, uniqueName } from '../support/engines';
import { closeKafka, connectKafka, type KafkaKit } from './engines';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const signingDate = new Date(Date.UTC(2024, 4, 1, 12, 0, 0));

/** RFC 3986 encoding, as SigV4 wants it. */
const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const hmac = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s).digest();

/** SigV4, written out from the specification, as the oracle for the signer's output. */
function sigV4Signature(args: { service: string; region: string; path: string; query: Record<string, string>; headers: Record<string, string> }): string {
  const canonicalQuery = Object.keys(args.query).sort().map((k) => `${enc(k)}=${enc(args.query[k])}`).join('&');
  const headerNames = Object.keys(args.headers).map((h) => h.toLowerCase()).sort();
  const canonicalHeaders = headerNames.map((h) => `${h}:${args.headers[h].trim()}\n`).join('');
  const canonicalRequest = ['GET', args.path, canonicalQuery, canonicalHeaders, headerNames.join(';'), sha256('')].join('\n');
  const scope = `20240501/${args.region}/${args.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', '20240501T120000Z', scope, sha256(canonicalRequest)].join('\n');
  let key: Buffer = hmac(`AWS4${credentials.secretAccessKey}`, '20240501');
  for (const part of [args.region, args.service, 'aws4_request']) key = hmac(key, part);
  return hmac(key, stringToSign).toString('hex');
}

describe('mskIamAuthToken', () => {
  it('is a base64url presigned kafka-cluster:Connect URL whose signature checks out', async () => {
    const { token, expiresAt } = await mskIamAuthToken({ region: 'eu-west-1', credentials, signingDate });
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/); // base64url, no padding
    expect(expiresAt).toBe(signingDate.getTime() + 900_000);
    const url = new URL(Buffer.from(token, 'base64url').toString('utf8'));
    expect(url.origin + url.pathname).toBe('https://kafka.eu-west-1.amazonaws.com/');
    const params = Object.fromEntries(url.searchParams);
    expect(params).toMatchObject({
      Action: 'kafka-cluster:Connect',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': 'AKIDEXAMPLE/20240501/eu-west-1/kafka-cluster/aws4_request',
      'X-Amz-Date': '20240501T120000Z',
      'X-Amz-Expires': '900',
      'X-Amz-SignedHeaders': 'host',
    });
    expect(params['User-Agent']).toBeDefined();
    const { 'X-Amz-Signature': signature, 'User-Agent': _ua, ...signedQuery } = params;
    expect(signature).toBe(
      sigV4Signature({ service: 'kafka-cluster', region: 'eu-west-1', path: '/', query: signedQuery, headers: { host: 'kafka.eu-west-1.amazonaws.com' } }),
    );
  });

  it('carries the session token of temporary credentials (a Lambda role) in the signed query', async () => {
    const { token } = await mskIamAuthToken({ region: 'us-east-1', credentials: { ...credentials, sessionToken: 'session/token+1=' }, signingDate });
    const url = new URL(Buffer.from(token, 'base64url').toString('utf8'));
    expect(url.searchParams.get('X-Amz-Security-Token')).toBe('session/token+1=');
    const { 'X-Amz-Signature': signature, 'User-Agent': _ua, ...signedQuery } = Object.fromEntries(url.searchParams);
    expect(signature).toBe(
      sigV4Signature({ service: 'kafka-cluster', region: 'us-east-1', path: '/', query: signedQuery, headers: { host: 'kafka.us-east-1.amazonaws.com' } }),
    );
  });
});

describe('getBootstrapBrokers', () => {
  const clusterArn = 'arn:aws:kafka:us-east-1:123456789012:cluster/clicks/0f1e2d3c-aaaa-bbbb-cccc-000000000000-s2';

  function fakeMskApi(status: number, body: unknown) {
    const calls: { url: string; headers: Record<string, string> }[] = [];
    const fetchImpl = (async (url: string, init: { headers: Record<string, string> }) => {
      calls.push({ url, headers: init.headers });
      return new Response(JSON.stringify(body), { status });
    }) as unknown as typeof fetch;
    return { calls, fetchImpl };
  }

  it('calls the signed MSK REST API and returns the IAM brokers', async () => {
    const api = fakeMskApi(200, { bootstrapBrokerStringSaslIam: 'boot-a.kafka-serverless.us-east-1.amazonaws.com:9098' });
    const brokers = await getBootstrapBrokers({ region: 'us-east-1', clusterArn, credentials, signingDate, fetchImpl: api.fetchImpl });
    expect(brokers).toEqual(['boot-a.kafka-serverless.us-east-1.amazonaws.com:9098']);
    const [call] = api.calls;
    const path = `/v1/clusters/${encodeURIComponent(clusterArn)}/bootstrap-brokers`;
    expect(call.url).toBe(`https://kafka.us-east-1.amazonaws.com${path}`);
    const auth = /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20240501\/us-east-1\/kafka\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(call.headers.authorization);
    expect(auth).not.toBeNull();
    const signed = Object.fromEntries(auth![1].split(';').map((h) => [h, call.headers[h]]));
    // Non-S3 services sign the path with each segment encoded once more.
    const canonicalPath = path.split('/').map((segment) => enc(segment)).join('/');
    expect(auth![2]).toBe(sigV4Signature({ service: 'kafka', region: 'us-east-1', path: canonicalPath, query: {}, headers: signed }));
  });

  it('fails with the cluster and the API answer when there are no IAM brokers or the call fails', async () => {
    const none = fakeMskApi(200, { bootstrapBrokerStringTls: 'b-1:9094' });
    await expect(getBootstrapBrokers({ region: 'us-east-1', clusterArn, credentials, fetchImpl: none.fetchImpl })).rejects.toThrow(/no IAM bootstrap brokers/);
    const denied = fakeMskApi(403, { message: 'not authorized' });
    await expect(getBootstrapBrokers({ region: 'us-east-1', clusterArn, credentials, fetchImpl: denied.fetchImpl })).rejects.toThrow(/HTTP 403.*not authorized/);
  });
});

describe('parseTopicSpec', () => {
  it('reads the CloudFormation properties (all strings) and rejects bad ones, naming each', () => {
    expect(parseTopicSpec({ Topic: 'clickstream', Partitions: '6', Configs: { 'retention.ms': '604800000' } })).toEqual({
      topic: 'clickstream',
      partitions: 6,
      configs: { 'retention.ms': '604800000' },
    });
    expect(() => parseTopicSpec({ Topic: 'bad topic', Partitions: '0', Configs: [] })).toThrow(
      /Topic must be a Kafka topic name.*Partitions must be an integer from 1 to 1000, got "0".*Configs must be an object/,
    );
  });
});

describe('topic resource handler', () => {
  it('leaves the topic alone on Delete (it holds data) and answers with the same physical id', async () => {
    const response = await handler({ RequestType: 'Delete', PhysicalResourceId: 'clickstream', ResourceProperties: {} } as never);
    expect(response).toEqual({ PhysicalResourceId: 'clickstream' });
  });

  it('refuses a Create without a cluster ARN before touching the network', async () => {
    await expect(handler({ RequestType: 'Create', ResourceProperties: { ServiceToken: 'x', Topic: 't', Partitions: '1' } } as never)).rejects.toThrow(
      /ClusterArn must be an MSK cluster ARN/,
    );
  });
});

describe('ensureTopic against the local Kafka', () => {
  let kit: KafkaKit;
  beforeAll(async () => {
    kit = await connectKafka((await ensureEngines(['kafka'])).kafkaBrokers);
  }, ENGINE_START_TIMEOUT_MS);
  afterAll(() => closeKafka(kit));

  it('creates the topic with its configs, is idempotent, adds partitions, never removes any', async () => {
    const topic = uniqueName('topic-resource');
    kit.topics.push(topic);
    const spec = { topic, partitions: 2, configs: { 'retention.ms': '3600000' } };

    expect(await ensureTopic(kit.admin, spec)).toEqual({ created: true, partitions: 2, partitionsAdded: 0 });
    const described = await kit.admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms'] }],
    });
    expect(described.resources[0].configEntries[0].configValue).toBe('3600000');

    expect(await ensureTopic(kit.admin, spec)).toEqual({ created: false, partitions: 2, partitionsAdded: 0 });
    expect(await ensureTopic(kit.admin, { ...spec, partitions: 5 })).toEqual({ created: false, partitions: 5, partitionsAdded: 3 });
    expect(await ensureTopic(kit.admin, { ...spec, partitions: 3 })).toEqual({ created: false, partitions: 5, partitionsAdded: 0 });
    const metadata = await kit.admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0].partitions).toHaveLength(5);
  });

  it('gets the broker-default replication factor from a CreateTopics request older than v4 (KIP-464)', async () => {
    const topic = uniqueName('topic-rf');
    kit.topics.push(topic);
    // The request versions kafkajs actually sends, from its instrumentation events.
    const versions: number[] = [];
    const admin = kit.kafka.admin();
    admin.on(admin.events.REQUEST, (e) => {
      if (e.payload.apiName === 'CreateTopics') versions.push(e.payload.apiVersion);
    });
    await admin.connect();
    try {
      expect(BROKER_DEFAULT_REPLICATION_FACTOR).toBe(-1);
      expect(await ensureTopic(admin, { topic, partitions: 2, configs: {} })).toMatchObject({ created: true, partitions: 2 });
      // The premise of the question: a pre-KIP-464 version, where only the broker can make sense of -1.
      expect(versions.length).toBeGreaterThan(0);
      expect(Math.max(...versions)).toBeLessThan(4);
      const cluster = await admin.describeCluster();
      const broker = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.BROKER, name: String(cluster.brokers[0].nodeId), configNames: ['default.replication.factor'] }],
      });
      const brokerDefault = Number(broker.resources[0].configEntries.find((c) => c.configName === 'default.replication.factor')?.configValue);
      expect(brokerDefault).toBeGreaterThanOrEqual(1);
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      for (const partition of metadata.topics[0].partitions) expect(partition.replicas).toHaveLength(brokerDefault);
    } finally {
      await admin.disconnect();
    }
  });
});
