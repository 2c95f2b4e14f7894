/**
 * The search provisioner custom resource's `onEvent` handler (custom_resources.Provider).
 * Create and Update provision (idempotently); Delete leaves the index and dashboards in place:
 * the domain and its data outlive the custom resource (docs/serving.md).
 *
 * Environment: OPENSEARCH_ENDPOINT (the domain endpoint, signed with this function's role, which
 * is the domain's master user), OPENSEARCH_AUTH (optional).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { describeError, openSearchClientFromEnv } from '../shared/opensearch-client';
import { configFromProperties, provisionSearch } from './core';

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'search-provisioner' });
const client = openSearchClientFromEnv();

export interface ProviderResponse {
  PhysicalResourceId: string;
  Data?: Record<string, string>;
}

async function onEvent(event: CloudFormationCustomResourceEvent): Promise<ProviderResponse> {
  const config = configFromProperties(event.ResourceProperties as Record<string, unknown>);
  const physicalId = `opensearch-serving-${config.aliasPrefix}`;
  if (event.RequestType === 'Delete') {
    logger.info('delete: indices, aliases and dashboards are kept', { aliasPrefix: config.aliasPrefix });
    return { PhysicalResourceId: event.PhysicalResourceId };
  }
  const result = await provisionSearch(client, {
    ...config,
    hooks: {
      onRetry: (error, attempt, delayMs) => logger.warn('request failed, retrying', { attempt, delayMs, error: describeError(error) }),
    },
    // The domain may still be settling right after creation: give it a few minutes.
    retry: { maxAttempts: 10, baseDelayMs: 1000, maxDelayMs: 30_000 },
    log: (message, attributes) => logger.info(message, { ...attributes }),
  });
  return {
    PhysicalResourceId: physicalId,
    Data: { AliasPrefix: config.aliasPrefix, WriteIndices: Object.values(result.indices).map((index) => index.writeIndex).join(',') },
  };
}

export const handler = middy(onEvent).use(injectLambdaContext(logger));
