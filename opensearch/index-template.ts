/**
 * Names and index templates of the serving indices (SPEC section 4): one alias and one template
 * per table of lambdas/indexer/tables.ts.
 *
 * Analysts, dashboards and the indexer only ever use the aliases. The concrete indices are
 * `<alias>-v<generation>`; a table's template matches `<alias>-v*` (not `<alias>-*`, which would
 * overlap the template of another alias that starts with this one), so every generation (a rebuild
 * creates the next one) gets the same mappings. docs/serving.md describes the mappings and the rebuild.
 */
import { COMPUTATION_FIELDS, FieldSpec, TABLE_ALIASES, TABLES, TableName } from '../lambdas/indexer/tables';
import templateFile from './index-template.json';

/** The alias of the pages table (`url_country_daily`) of a default deployment. */
export const DEFAULT_ALIAS = TABLE_ALIASES.url_country_daily;

/**
 * Longest keyword value (in UTF-16 code units, which is what `ignore_above` counts) that is
 * indexed as a term. A code unit is at most 3 UTF-8 bytes, so 10,922 units are at most 32,766
 * bytes: Lucene's term limit. A longer value (a page_url that percent-encoding made longer than
 * that) is still stored in `_source` and its document indexed; only that field is not searchable
 * nor aggregatable on that document (docs/serving.md, "Long values").
 */
export const KEYWORD_IGNORE_ABOVE = 10_922;

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

export type FieldMapping = { type: string; format?: string; ignore_above?: number };

const DATE_FORMATS: Record<string, string> = {
  event_date: 'strict_date',
  event_hour: 'strict_date_optional_time',
  computed_at: 'strict_date_optional_time||epoch_millis',
};

/** What an index holds: a table's documents, or the computations ledger's entries. */
export type IndexKind = TableName | 'computations';

/** The mapped fields of a table's documents: grain strings keyword, counts long, times and rates double, dates date. */
export function tableFields(kind: IndexKind): Readonly<Record<string, FieldMapping>> {
  const fields: Readonly<Record<string, FieldSpec>> = kind === 'computations' ? COMPUTATION_FIELDS : TABLES[kind].fields;
  return Object.fromEntries(
    Object.entries(fields).map(([name, spec]): [string, FieldMapping] => {
      if (spec.type === 'keyword') return [name, { type: 'keyword', ignore_above: KEYWORD_IGNORE_ABOVE }];
      if (spec.type === 'date') return [name, { type: 'date', format: DATE_FORMATS[name] ?? 'strict_date_optional_time' }];
      return [name, { type: spec.type }];
    }),
  );
}

/** The mapped fields of the pages table (`url_country_daily`). */
export const DOCUMENT_FIELDS: Readonly<Record<string, FieldMapping>> = tableFields('url_country_daily');

/** The mappings of a table's indices; `dynamic: strict`, so a field nobody declared is refused. */
export function tableMappings(kind: IndexKind): Record<string, unknown> {
  const grain =
    kind === 'computations'
      ? 'one entry per (table, event_date); _id = <table>.<event_date>'
      : `one document per (${TABLES[kind].grain.join(', ')}); _id = sha256 of the JSON array of those values (null kept as null)`;
  return {
    dynamic: 'strict',
    _meta: { table: kind, grain, version: 'computed_at in epoch milliseconds, external versioning' },
    properties: tableFields(kind),
  };
}

export interface TemplateOptions {
  /** Replicas per shard: 0 on a single node (else the index stays yellow), 1 with more nodes. */
  readonly replicas: number;
}

/** The body of `PUT _index_template/<templateName>` for a table's (or the ledger's) alias. */
export function buildIndexTemplate(table: IndexKind, alias: string, options: TemplateOptions): Record<string, unknown> {
  const names = indexNames(alias);
  const { template } = templateFile;
  return {
    index_patterns: [names.indexPattern],
    // Above the default 0 so that a broader template (say `*`) never wins over this one.
    priority: 200,
    template: {
      settings: { index: { ...template.settings.index, number_of_replicas: options.replicas } },
      mappings: tableMappings(table),
    },
    _meta: { managed_by: 'clickstream search provisioner', alias, table },
  };
}
