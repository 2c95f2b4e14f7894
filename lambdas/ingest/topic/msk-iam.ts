/**
 * AWS IAM access to an MSK cluster from kafkajs, without an extra package:
 * - `mskIamAuthToken`: the SASL/OAUTHBEARER token MSK accepts for IAM authentication, built as
 *   AWS's own signer (aws-msk-iam-sasl-signer-js) builds it: a SigV4-presigned
 *   `GET https://kafka.<region>.amazonaws.com/?Action=kafka-cluster:Connect` (service
 *   `kafka-cluster`, valid 900 s) plus a `User-Agent` parameter, base64url-encoded without padding;
 * - `getBootstrapBrokers`: the MSK `GetBootstrapBrokers` REST call, SigV4-signed (service `kafka`),
 *   returning the IAM (port 9098) broker list.
 * Signing is `@smithy/signature-v4` (the AWS SDK's signer) with a node:crypto SHA-256.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, Checksum, SourceData } from '@smithy/types';
import { createHash, createHmac, type Hash, type Hmac } from 'crypto';

/** SHA-256 (or HMAC-SHA-256 with a secret) for the signer, from node:crypto. */
export class NodeSha256 implements Checksum {
  private hash: Hash | Hmac;

  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(this.secret));
  }

  update(data: Uint8Array | string): void {
    this.hash.update(toBuffer(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }

  reset(): void {
    this.hash = this.fresh();
  }
}

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

export const MSK_TOKEN_LIFETIME_SECONDS = 900;
const USER_AGENT = 'clickstream-msk-iam-signer/1.0';

export interface SigningOptions {
  readonly region: string;
  readonly credentials: AwsCredentialIdentity;
  /** @default now */
  readonly signingDate?: Date;
}

function query(params: Record<string, string | string[] | null>): string {
  return Object.entries(params)
    .flatMap(([k, v]) => (v === null ? [] : (Array.isArray(v) ? v : [v]).map((one) => `${encodeURIComponent(k)}=${encodeURIComponent(one)}`)))
    .join('&');
}

/** The OAUTHBEARER token for MSK IAM authentication, and when it expires (epoch ms). */
export async function mskIamAuthToken(options: SigningOptions): Promise<{ token: string; expiresAt: number }> {
  const hostname = `kafka.${options.region}.amazonaws.com`;
  const signer = new SignatureV4({
    service: 'kafka-cluster',
    region: options.region,
    credentials: options.credentials,
    sha256: NodeSha256,
    applyChecksum: false,
  });
  const signingDate = options.signingDate ?? new Date();
  const signed = await signer.presign(
    { method: 'GET', protocol: 'https:', hostname, path: '/', headers: { host: hostname }, query: { Action: 'kafka-cluster:Connect' } },
    { expiresIn: MSK_TOKEN_LIFETIME_SECONDS, signingDate },
  );
  const url = `https://${hostname}/?${query({ ...signed.query, 'User-Agent': USER_AGENT })}`;
  // base64url has no padding in Node's encoder.
  return { token: Buffer.from(url, 'utf8').toString('base64url'), expiresAt: signingDate.getTime() + MSK_TOKEN_LIFETIME_SECONDS * 1000 };
}

export interface BootstrapBrokersOptions extends SigningOptions {
  readonly clusterArn: string;
  /** @default global fetch */
  readonly fetchImpl?: typeof fetch;
}

/** The cluster's IAM bootstrap brokers (`host:9098`), from the MSK API. */
export async function getBootstrapBrokers(options: BootstrapBrokersOptions): Promise<string[]> {
  const hostname = `kafka.${options.region}.amazonaws.com`;
  const path = `/v1/clusters/${encodeURIComponent(options.clusterArn)}/bootstrap-brokers`;
  const signer = new SignatureV4({ service: 'kafka', region: options.region, credentials: options.credentials, sha256: NodeSha256 });
  const signed = await signer.sign(
    { method: 'GET', protocol: 'https:', hostname, path, headers: { host: hostname, accept: 'application/json' } },
    { signingDate: options.signingDate ?? new Date() },
  );
  const response = await (options.fetchImpl ?? fetch)(`https://${hostname}${path}`, { method: 'GET', headers: signed.headers as Record<string, string> });
  const text = await response.text();
  if (!response.ok) throw new Error(`MSK GetBootstrapBrokers for ${options.clusterArn} failed: HTTP ${response.status} ${text.slice(0, 500)}`);
  const body = JSON.parse(text) as Record<string, unknown>;
  const brokers = body.bootstrapBrokerStringSaslIam ?? body.BootstrapBrokerStringSaslIam;
  if (typeof brokers !== 'string' || brokers === '') {
    throw new Error(`cluster ${options.clusterArn} has no IAM bootstrap brokers (is IAM authentication enabled?): ${text.slice(0, 500)}`);
  }
  return brokers.split(',').map((b) => b.trim()).filter(Boolean);
}
