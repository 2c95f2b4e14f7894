import { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';

/**
 * The S3 client every function uses. In AWS the endpoint is the regional default; locally
 * `S3_ENDPOINT` points at the S3-compatible server, which needs path-style addressing.
 * The SDK's standard retry strategy (exponential backoff with jitter) is kept, with a bound.
 */
export function s3ClientFromEnv(env: NodeJS.ProcessEnv = process.env, maxAttempts = 5): S3Client {
  const config: S3ClientConfig = { maxAttempts };
  if (env.S3_ENDPOINT) {
    config.endpoint = env.S3_ENDPOINT;
    config.forcePathStyle = true;
    config.region = env.AWS_REGION ?? 'us-east-1';
  }
  return new S3Client(config);
}

/** Reads a required environment variable, failing with the variable's name. */
export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new Error(`environment variable ${name} is required but not set`);
  }
  return value;
}
