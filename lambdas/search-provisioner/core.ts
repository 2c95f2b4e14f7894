/**
 * Provisions the serving side of OpenSearch at deploy time (issue: "no manual step"):
 * index template, write index and alias, fine-grained access control roles and mappings, and the
 * Dashboards saved objects. Every step is idempotent, so CloudFormation may run it again on any
 * update (or retry it) safely.
 */
import type { Client } from '@opensearch-project/opensearch';
import { savedObjectsNdjson } from '../../opensearch/saved-objects';
import type { RetryHooks, RetryPolicy } from '../shared/opensearch-client';
import { ImportResponse, provisionDashboards } from './dashboards';
import { ensureWriteIndex, IndexSetupResult } from './indices';
import { ensureSecurity } from './security';

export interface ProvisionConfig {
  readonly alias: string;
  /** `<alias>-v<generation>`; raising it rebuilds the index behind the alias. */
  readonly generation: number;
  readonly replicas: number;
  /** Configure fine-grained access control (needs the security plugin: AWS only). */
  readonly configureSecurity: boolean;
  /** Import the Dashboards saved objects (needs Dashboards: AWS only). */
  readonly importDashboards: boolean;
  readonly indexerRoleArns: readonly string[];
  readonly analystRoleArns: readonly string[];
  readonly retry?: RetryPolicy;
  readonly hooks?: RetryHooks;
  readonly log?: (message: string, attributes?: Record<string, unknown>) => void;
}

export interface ProvisionResult {
  readonly index: IndexSetupResult;
  readonly securityRoles?: string[];
  readonly savedObjects?: ImportResponse;
}

export async function provisionSearch(client: Client, config: ProvisionConfig): Promise<ProvisionResult> {
  const log = config.log ?? (() => undefined);
  // Security first: the indexer may start writing as soon as the alias exists.
  let securityRoles: string[] | undefined;
  if (config.configureSecurity) {
    securityRoles = (await ensureSecurity(client, config)).roles;
    log('security roles and mappings in place', { roles: securityRoles });
  }
  const index = await ensureWriteIndex(client, config);
  log('index template and alias in place', { ...index });
  let savedObjects: ImportResponse | undefined;
  if (config.importDashboards) {
    savedObjects = (await provisionDashboards(client, savedObjectsNdjson(config.alias), config)).savedObjects;
    log('dashboard settings and saved objects in place', { successCount: savedObjects.successCount });
  }
  return { index, securityRoles, savedObjects };
}

/** CloudFormation passes every property as a string; this reads them strictly. */
export function configFromProperties(properties: Record<string, unknown>): ProvisionConfig {
  const text = (name: string): string => {
    const value = properties[name];
    if (typeof value !== 'string' || value === '') throw new Error(`custom resource property ${name} is required`);
    return value;
  };
  const integer = (name: string, min: number): number => {
    const value = Number(text(name));
    if (!Number.isInteger(value) || value < min) throw new Error(`custom resource property ${name} must be an integer >= ${min}`);
    return value;
  };
  const flag = (name: string): boolean => {
    const value = text(name);
    if (value !== 'true' && value !== 'false') throw new Error(`custom resource property ${name} must be "true" or "false"`);
    return value === 'true';
  };
  const list = (name: string): string[] => {
    const value = properties[name] ?? [];
    if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) throw new Error(`custom resource property ${name} must be a list of strings`);
    return value as string[];
  };
  return {
    alias: text('Alias'),
    generation: integer('IndexGeneration', 1),
    replicas: integer('Replicas', 0),
    configureSecurity: flag('ConfigureSecurity'),
    importDashboards: flag('ImportDashboards'),
    indexerRoleArns: list('IndexerRoleArns'),
    analystRoleArns: list('AnalystRoleArns'),
  };
}
