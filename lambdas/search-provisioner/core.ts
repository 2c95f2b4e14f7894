/**
 * Provisions the serving side of OpenSearch at deploy time (SPEC section 4: dashboards with no manual step):
 * index templates, write indices and aliases (one per table, and the computations ledger),
 * fine-grained access control roles and mappings, and the
 * Dashboards saved objects. Every step is idempotent, so CloudFormation may run it again on any
 * update (or retry it) safely.
 */
import type { Client } from '@opensearch-project/opensearch';
import { savedObjectsNdjson } from '../../opensearch/saved-objects';
import type { RetryHooks, RetryPolicy } from '../shared/opensearch-client';
import { ensureAuditLogging } from './audit';
import { ImportResponse, provisionDashboards } from './dashboards';
import { tableAliases } from '../indexer/tables';
import { ensureServingIndices, IndexSetupResult } from './indices';
import { ensureSecurity } from './security';

export interface ProvisionConfig {
  /** Prefix of every alias: `<prefix>-<table>` and `<prefix>-computations` (lambdas/indexer/tables.ts). */
  readonly aliasPrefix: string;
  /** `<alias>-v<generation>` for every alias; raising it rebuilds the indices behind them. */
  readonly generation: number;
  readonly replicas: number;
  /** Configure fine-grained access control (needs the security plugin: AWS only). */
  readonly configureSecurity: boolean;
  /** Import the Dashboards saved objects (needs Dashboards: AWS only). */
  readonly importDashboards: boolean;
  /** Turn the security plugin's audit logging on (audit.ts; the domain publishes AUDIT_LOGS).
   *  @default false */
  readonly auditLogs?: boolean;
  readonly indexerRoleArns: readonly string[];
  readonly analystRoleArns: readonly string[];
  readonly retry?: RetryPolicy;
  readonly hooks?: RetryHooks;
  readonly log?: (message: string, attributes?: Record<string, unknown>) => void;
}

export interface ProvisionResult {
  /** Per alias. */
  readonly indices: Record<string, IndexSetupResult>;
  readonly securityRoles?: string[];
  /** The audit configuration the plugin holds, when auditLogs was asked for. */
  readonly auditLogging?: Record<string, unknown>;
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
  let auditLogging: Record<string, unknown> | undefined;
  if (config.auditLogs) {
    auditLogging = await ensureAuditLogging(client, config);
    log('audit logging on', { enabled: auditLogging.enabled });
  }
  const indices = await ensureServingIndices(client, config);
  log('index templates and aliases in place', { indices });
  let savedObjects: ImportResponse | undefined;
  if (config.importDashboards) {
    savedObjects = (await provisionDashboards(client, savedObjectsNdjson(tableAliases(config.aliasPrefix)), config)).savedObjects;
    log('dashboard settings and saved objects in place', { successCount: savedObjects.successCount });
  }
  return { indices, securityRoles, auditLogging, savedObjects };
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
    aliasPrefix: text('AliasPrefix'),
    generation: integer('IndexGeneration', 1),
    replicas: integer('Replicas', 0),
    configureSecurity: flag('ConfigureSecurity'),
    importDashboards: flag('ImportDashboards'),
    // Optional: a resource created before the property existed keeps audit logging as it was.
    auditLogs: properties.AuditLogs === undefined ? false : flag('AuditLogs'),
    indexerRoleArns: list('IndexerRoleArns'),
    analystRoleArns: list('AnalystRoleArns'),
  };
}
