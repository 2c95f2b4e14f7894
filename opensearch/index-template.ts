/**
 * Names and index template of the serving index (SPEC section 4).
 *
 * Analysts, dashboards and the indexer only ever use the alias. The concrete indices are
 * `<alias>-v<generation>`; the template matches `<alias>-v*` (not `<alias>-*`, which would
 * overlap the template of another alias that starts with this one), so every generation (a rebuild
 * creates the next one) gets the same mappings. docs/serving.md describes the rebuild.
 */
import templateFile from './index-template.json';

export const DEFAULT_ALIAS = 'clickstream-url-country-daily';

export interface IndexNames {
  /** What everything reads and writes through. */
  readonly alias: string;
  /** Name of the index template (the alias's own name). */
  readonly templateName: string;
  /** Index pattern of the template: every generation of the index. */
  readonly indexPattern: string;
}

export function indexNames(alias: string = DEFAULT_ALIAS): IndexNames {
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(alias)) {
    throw new Error(`alias "${alias}" must be lower case letters, digits, "-" and "_"`);
  }
  return { alias, templateName: alias, indexPattern: `${alias}-v*` };
}

/** The concrete index of a generation: `<alias>-v1`, `<alias>-v2`, ... */
export function generationIndex(alias: string, generation: number): string {
  if (!Number.isInteger(generation) || generation < 1) throw new Error(`index generation must be a positive integer, got ${generation}`);
  return `${alias}-v${generation}`;
}

type FieldMapping = { type: string; format?: string };

/** The mapped fields of a document, from the template file. */
export const DOCUMENT_FIELDS: Readonly<Record<string, FieldMapping>> = templateFile.template.mappings.properties;

export interface TemplateOptions {
  /** Replicas per shard: 0 on a single node (else the index stays yellow), 1 with more nodes. */
  readonly replicas: number;
}

/** The body of `PUT _index_template/<templateName>`. */
export function buildIndexTemplate(alias: string, options: TemplateOptions): Record<string, unknown> {
  const names = indexNames(alias);
  const { template } = templateFile;
  return {
    index_patterns: [names.indexPattern],
    // Above the default 0 so that a broader template (say `*`) never wins over this one.
    priority: 200,
    template: {
      settings: { index: { ...template.settings.index, number_of_replicas: options.replicas } },
      mappings: template.mappings,
    },
    _meta: { managed_by: 'clickstream search provisioner', alias },
  };
}
