/**
 * What the local pipeline shows a person: a console table with a short audience and acquisition
 * summary, an NDJSON file of the aggregates and a self-contained HTML report with four sections
 * (pages, audience, acquisition, today), the same views as the four dashboards
 * (docs/serving.md), read back from the five tables' indices in OpenSearch.
 *
 * Rates are ratios of sums over the rows shown, as in the dashboards: bounce rate =
 * sum(bounces) / sum(sessions) (or / sum(entrances) for a page), average session duration =
 * sum(total_duration_seconds) / sum(sessions), bot share = bot_clicks / (clicks + bot_clicks).
 * Days and hours are UTC.
 *
 * The HTML has no script and loads nothing: the charts are inline SVG drawn here, so the file
 * opens in any browser with no network (the machine that runs the pipeline has none). Opening it
 * at `#section-<name>` shows that section alone (CSS `:target`, no script).
 */
import type { Client } from '@opensearch-project/opensearch';
import { mkdirSync, writeFileSync } from 'fs';
import { dirname } from 'path';
import type { AggregateRow as IndexedAggregateRow } from '../lambdas/indexer/documents';
import { TABLE_NAMES, type TableName } from '../lambdas/indexer/tables';

/** One aggregate row as served by OpenSearch (SPEC §3 fields): the indexer's document, with
 *  `computed_at` optional because rows read back from an NDJSON file may lack it. */
export type AggregateRow = Omit<IndexedAggregateRow, 'computed_at'> & { readonly computed_at?: string };

/** One line of the per-stage summary. */
export interface StageSummary {
  readonly stage: string;
  readonly seconds: number;
  /** Ordered label → value pairs (e.g. "produced" → 20000). */
  readonly figures: ReadonlyArray<readonly [string, string | number]>;
}

/** A page's totals over a set of rows. */
export interface PageTotals {
  readonly page_url: string;
  readonly clicks: number;
  /** Sum of the daily unique users (a user active on two days counts twice). */
  readonly user_days: number;
  readonly timed_views: number;
  readonly total_time_spent_seconds: number;
  readonly avg_time_spent_seconds: number | null;
}

export interface CountryTopPages {
  readonly country: string;
  readonly clicks: number;
  readonly pages: readonly PageTotals[];
}

export interface ReportData {
  readonly title: string;
  readonly generatedAt: string;
  readonly stages: readonly StageSummary[];
  readonly rows: readonly AggregateRow[];
  /** Top pages per country, as queried from OpenSearch. */
  readonly topPagesByCountry: readonly CountryTopPages[];
  /** The documents of the other tables, as read back from OpenSearch (readReportTables); a
   *  missing table shows as "no data". */
  readonly tables?: ReportTables;
  /** Endpoints to show when the engines are kept running. */
  readonly endpoints?: ReadonlyArray<readonly [string, string]>;
}

// ------------------------------------------------------------------------------------------------
// Aggregations over rows (exact re-aggregation thanks to the totals kept beside the average)

export function pageTotals(rows: readonly AggregateRow[]): PageTotals[] {
  const byPage = new Map<string, { clicks: number; users: number; timed: number; total: number }>();
  for (const r of rows) {
    const t = byPage.get(r.page_url) ?? { clicks: 0, users: 0, timed: 0, total: 0 };
    t.clicks += r.clicks;
    t.users += r.unique_users;
    t.timed += r.timed_views;
    t.total += r.total_time_spent_seconds;
    byPage.set(r.page_url, t);
  }
  return [...byPage].map(([page_url, t]) => ({
    page_url,
    clicks: t.clicks,
    user_days: t.users,
    timed_views: t.timed,
    total_time_spent_seconds: t.total,
    avg_time_spent_seconds: t.timed === 0 ? null : t.total / t.timed,
  })).sort((a, b) => b.clicks - a.clicks || (a.page_url < b.page_url ? -1 : 1));
}

export function clicksBy(rows: readonly AggregateRow[], key: 'country' | 'event_date'): Array<[string, number]> {
  const m = new Map<string, number>();
  for (const r of rows) m.set(r[key], (m.get(r[key]) ?? 0) + r.clicks);
  return [...m];
}

/** Top pages per country computed from rows (used when OpenSearch is not asked, and by tests). */
export function topPagesByCountryFromRows(rows: readonly AggregateRow[], perCountry: number): CountryTopPages[] {
  const byCountry = new Map<string, AggregateRow[]>();
  for (const r of rows) {
    const list = byCountry.get(r.country);
    if (list) list.push(r); else byCountry.set(r.country, [r]);
  }
  return [...byCountry].map(([country, list]) => ({
    country,
    clicks: list.reduce((s, r) => s + r.clicks, 0),
    pages: pageTotals(list).slice(0, perCountry),
  })).sort((a, b) => b.clicks - a.clicks || (a.country < b.country ? -1 : 1));
}

// ------------------------------------------------------------------------------------------------
// The other tables, read back from OpenSearch, and their summaries (ratios of sums)

/** One document of a table, as indexed (a null grain value may be absent or null). */
export type TableRow = Readonly<Record<string, string | number | null | undefined>>;
export type ReportTables = Partial<Readonly<Record<TableName, readonly TableRow[]>>>;

/** Every document of every table's alias; a table whose alias does not exist is left out. */
export async function readReportTables(os: Client, aliases: Readonly<Record<TableName, string>>, pageSize = 5000): Promise<ReportTables> {
  const tables: Partial<Record<TableName, TableRow[]>> = {};
  for (const table of TABLE_NAMES) {
    const alias = aliases[table];
    if (!(await os.indices.existsAlias({ name: alias })).body) continue;
    await os.indices.refresh({ index: alias });
    const rows: TableRow[] = [];
    let response = await os.search({ index: alias, scroll: '1m', body: { size: pageSize, sort: ['_doc'] } });
    let scrollId = (response.body as { _scroll_id?: string })._scroll_id;
    try {
      for (;;) {
        const hits = (response.body as unknown as { hits: { hits: Array<{ _source: TableRow }> } }).hits.hits;
        for (const hit of hits) rows.push(hit._source);
        if (hits.length < pageSize || !scrollId) break;
        response = await os.scroll({ scroll_id: scrollId, scroll: '1m' });
        scrollId = (response.body as { _scroll_id?: string })._scroll_id ?? scrollId;
      }
    } finally {
      if (scrollId) await os.clearScroll({ scroll_id: scrollId }).catch(() => undefined);
    }
    tables[table] = rows;
  }
  return tables;
}

const num = (row: TableRow, field: string): number => Number(row[field] ?? 0);
const label = (row: TableRow, field: string, missing: string): string => (row[field] === null || row[field] === undefined ? missing : String(row[field]));
const ratio = (numerator: number, denominator: number): number | null => (denominator > 0 ? numerator / denominator : null);

/** Sums of `fields` per key, sorted by the first field (most first, then key). */
export function sumsBy(rows: readonly TableRow[], key: (row: TableRow) => string | undefined, fields: readonly string[]): Array<{ key: string; sums: Record<string, number> }> {
  const groups = new Map<string, Record<string, number>>();
  for (const row of rows) {
    const k = key(row);
    if (k === undefined) continue;
    const sums = groups.get(k) ?? Object.fromEntries(fields.map((f) => [f, 0]));
    for (const f of fields) sums[f] += num(row, f);
    groups.set(k, sums);
  }
  return [...groups].map(([k, sums]) => ({ key: k, sums })).sort((a, b) => b.sums[fields[0]] - a.sums[fields[0]] || (a.key < b.key ? -1 : 1));
}

export interface PageBounce {
  readonly page_url: string;
  readonly entrances: number;
  readonly bounces: number;
  /** sum(bounces) / sum(entrances) of the page. */
  readonly bounce_rate: number | null;
}

/** Pages by entrances, with their bounce rate; pages nobody entered through are left out. */
export function pageBounces(rows: readonly TableRow[]): PageBounce[] {
  return sumsBy(rows, (row) => String(row.page_url), ['entrances', 'bounces'])
    .filter(({ sums }) => sums.entrances > 0)
    .map(({ key, sums }) => ({ page_url: key, entrances: sums.entrances, bounces: sums.bounces, bounce_rate: ratio(sums.bounces, sums.entrances) }));
}

export interface AudienceSummary {
  readonly sessions: number;
  readonly bounces: number;
  readonly pageviews: number;
  readonly bounceRate: number | null;
  readonly avgSessionSeconds: number | null;
  /** [label, sessions], most first. */
  readonly devices: Array<[string, number]>;
  readonly browsers: Array<[string, number]>;
  readonly operatingSystems: Array<[string, number]>;
  /** ["City (CC)", sessions] from geo_daily, most first. */
  readonly cities: Array<[string, number]>;
  readonly daily: Array<{ day: string; sessions: number; bounceRate: number | null }>;
}

export function audienceSummary(tables: ReportTables): AudienceSummary {
  const sessions = tables.sessions_daily ?? [];
  const total = (field: string) => sessions.reduce((s, row) => s + num(row, field), 0);
  const by = (field: string): Array<[string, number]> => sumsBy(sessions, (row) => label(row, field, '(unknown)'), ['sessions']).map(({ key, sums }) => [key, sums.sessions]);
  return {
    sessions: total('sessions'),
    bounces: total('bounces'),
    pageviews: total('pageviews'),
    bounceRate: ratio(total('bounces'), total('sessions')),
    avgSessionSeconds: ratio(total('total_duration_seconds'), total('sessions')),
    devices: by('device_type'),
    browsers: by('browser'),
    operatingSystems: by('os'),
    cities: sumsBy(tables.geo_daily ?? [], (row) => `${label(row, 'city', '(unknown city)')} (${label(row, 'country', '?')})`, ['sessions'])
      .filter(({ sums }) => sums.sessions > 0)
      .map(({ key, sums }) => [key, sums.sessions]),
    daily: sumsBy(sessions, (row) => String(row.event_date), ['sessions', 'bounces'])
      .map(({ key, sums }) => ({ day: key, sessions: sums.sessions, bounceRate: ratio(sums.bounces, sums.sessions) }))
      .sort((a, b) => a.day.localeCompare(b.day)),
  };
}

export interface AcquisitionSummary {
  readonly channels: Array<{ channel: string; sessions: number; pageviews: number; bounceRate: number | null }>;
  /** [referrer host, sessions]; sessions without a referrer are not listed. */
  readonly referrers: Array<[string, number]>;
  readonly campaigns: Array<{ campaign: string; source: string; medium: string; sessions: number }>;
}

export function acquisitionSummary(tables: ReportTables): AcquisitionSummary {
  const rows = tables.traffic_sources_daily ?? [];
  return {
    channels: sumsBy(rows, (row) => label(row, 'channel', '(unknown)'), ['sessions', 'pageviews', 'bounces'])
      .map(({ key, sums }) => ({ channel: key, sessions: sums.sessions, pageviews: sums.pageviews, bounceRate: ratio(sums.bounces, sums.sessions) })),
    referrers: sumsBy(rows, (row) => (row.referrer_host ? String(row.referrer_host) : undefined), ['sessions']).map(({ key, sums }) => [key, sums.sessions]),
    campaigns: sumsBy(rows, (row) => (row.utm_campaign ? JSON.stringify([row.utm_campaign, label(row, 'utm_source', '(none)'), label(row, 'utm_medium', '(none)')]) : undefined), ['sessions'])
      .map(({ key, sums }) => {
        const [campaign, source, medium] = JSON.parse(key) as [string, string, string];
        return { campaign, source, medium, sessions: sums.sessions };
      }),
  };
}

export interface TodaySummary {
  /** The latest UTC day of traffic_hourly (the "today" of the data), or null without data. */
  readonly day: string | null;
  readonly hours: Array<{ hour: string; clicks: number; sessions: number; botClicks: number; botShare: number | null }>;
}

export function todaySummary(tables: ReportTables): TodaySummary {
  const rows = tables.traffic_hourly ?? [];
  const day = rows.map((row) => String(row.event_hour).slice(0, 10)).sort().at(-1) ?? null;
  const hours = sumsBy(rows.filter((row) => String(row.event_hour).startsWith(day ?? '-')), (row) => String(row.event_hour).slice(11, 13), ['clicks', 'sessions', 'bot_clicks'])
    .map(({ key, sums }) => ({ hour: `${key}:00`, clicks: sums.clicks, sessions: sums.sessions, botClicks: sums.bot_clicks, botShare: ratio(sums.bot_clicks, sums.clicks + sums.bot_clicks) }))
    .sort((a, b) => a.hour.localeCompare(b.hour));
  return { day, hours };
}

// ------------------------------------------------------------------------------------------------
// Console

function fmtSeconds(s: number | null): string {
  if (s === null) return '-';
  if (s < 60) return `${s.toFixed(1)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/** A plain fixed-width table. Numeric columns are right-aligned. */
export function textTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>, rightAligned: readonly boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (rightAligned[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatTopPages(top: readonly CountryTopPages[], pageWidth = 60): string {
  const out: string[] = [];
  for (const c of top) {
    out.push(`\n${c.country} — ${fmtInt(c.clicks)} clicks`);
    out.push(textTable(
      ['#', 'page', 'clicks', 'user-days*', 'avg time on page'],
      c.pages.map((p, i) => [String(i + 1), truncate(p.page_url, pageWidth), fmtInt(p.clicks), fmtInt(p.user_days), fmtSeconds(p.avg_time_spent_seconds)]),
      [true, false, true, true, true],
    ));
  }
  out.push('\n* user-days: the sum of each day\'s unique users (a user seen on two days counts twice).');
  return out.join('\n');
}

function fmtPercent(share: number | null): string {
  return share === null ? '-' : `${(share * 100).toFixed(1)}%`;
}

/** `a 60.0% · b 40.0%`: each item's share of the total, the first `top` items. */
function shares(items: ReadonlyArray<readonly [string, number]>, top: number): string {
  const total = items.reduce((s, [, v]) => s + v, 0);
  return items.slice(0, top).map(([k, v]) => `${k} ${fmtPercent(total > 0 ? v / total : null)}`).join(' · ') || '-';
}

/** The short audience summary `npm run local` prints (sessions_daily, geo_daily). */
export function formatAudienceSummary(summary: AudienceSummary): string {
  return [
    'Audience (all dates, UTC days)',
    `  ${fmtInt(summary.sessions)} sessions · bounce rate ${fmtPercent(summary.bounceRate)} · average session duration ${fmtSeconds(summary.avgSessionSeconds)}`,
    `  device types       ${shares(summary.devices, 5)}`,
    `  browsers           ${shares(summary.browsers, 5)}`,
    `  operating systems  ${shares(summary.operatingSystems, 5)}`,
    `  top cities         ${summary.cities.slice(0, 5).map(([city, n]) => `${city} ${fmtInt(n)}`).join(' · ') || '-'}`,
  ].join('\n');
}

/** The short acquisition summary `npm run local` prints (traffic_sources_daily). */
export function formatAcquisitionSummary(summary: AcquisitionSummary): string {
  return [
    'Acquisition (all dates)',
    `  channels   ${summary.channels.map((c) => `${c.channel} ${fmtInt(c.sessions)} (bounce ${fmtPercent(c.bounceRate)})`).join(' · ') || '-'}`,
    `  referrers  ${summary.referrers.slice(0, 5).map(([host, n]) => `${host} ${fmtInt(n)}`).join(' · ') || '-'}`,
    `  campaigns  ${summary.campaigns.slice(0, 5).map((c) => `${c.campaign} (${c.source} / ${c.medium}) ${fmtInt(c.sessions)}`).join(' · ') || '-'}`,
  ].join('\n');
}

export function formatStages(stages: readonly StageSummary[]): string {
  return stages.map((s) => `${s.stage.padEnd(10)} ${s.seconds.toFixed(1).padStart(6)}s  ${s.figures.map(([k, v]) => `${k}: ${typeof v === 'number' ? fmtInt(v) : v}`).join(', ')}`).join('\n');
}

// ------------------------------------------------------------------------------------------------
// Files

/** Writes the rows as NDJSON, one row per line, sorted by date, page and country. */
export function writeNdjson(file: string, rows: readonly AggregateRow[]): void {
  mkdirSync(dirname(file), { recursive: true });
  const sorted = [...rows].sort((a, b) =>
    a.event_date.localeCompare(b.event_date) || a.page_url.localeCompare(b.page_url) || a.country.localeCompare(b.country));
  writeFileSync(file, sorted.map((r) => JSON.stringify(r)).join('\n') + (sorted.length > 0 ? '\n' : ''));
}

export function writeHtmlReport(file: string, data: ReportData): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, renderHtmlReport(data));
}

// ------------------------------------------------------------------------------------------------
// HTML + SVG

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A "nice" upper bound for an axis. */
function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const PALETTE = ['#2563eb', '#16a34a', '#d97706', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#ea580c', '#4b5563'];

/** Horizontal bar chart. */
export function svgBarChart(id: string, title: string, items: ReadonlyArray<readonly [string, number]>, format: (v: number) => string, color = PALETTE[0]): string {
  const labelWidth = 330;
  const barArea = 420;
  const rowH = 24;
  const top = 34;
  const width = labelWidth + barArea + 90;
  const height = top + Math.max(1, items.length) * rowH + 12;
  const max = niceMax(Math.max(0, ...items.map(([, v]) => v)));
  const bars = items.map(([label, v], i) => {
    const y = top + i * rowH;
    const w = Math.max(1, (v / max) * barArea);
    return `<g class="bar"><title>${esc(label)}: ${esc(format(v))}</title>` +
      `<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end" class="label">${esc(truncate(label, 48))}</text>` +
      `<rect x="${labelWidth}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" rx="3" fill="${color}"/>` +
      `<text x="${labelWidth + w + 6}" y="${y + 16}" class="value">${esc(format(v))}</text></g>`;
  }).join('');
  const empty = items.length === 0 ? `<text x="${width / 2}" y="${top + 16}" text-anchor="middle" class="label">no data</text>` : '';
  return `<svg id="${id}" class="chart" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(title)}">` +
    `<text x="0" y="18" class="title">${esc(title)}</text>${bars}${empty}</svg>`;
}

/** Vertical column chart with a y axis, for a time series (one column per day). */
export function svgColumnChart(id: string, title: string, items: ReadonlyArray<readonly [string, number]>, format: (v: number) => string): string {
  const width = 840;
  const height = 300;
  const left = 70, right = 20, top = 34, bottom = 50;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const max = niceMax(Math.max(0, ...items.map(([, v]) => v)));
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const y = top + plotH - f * plotH;
    return `<line x1="${left}" x2="${width - right}" y1="${y}" y2="${y}" class="grid"/>` +
      `<text x="${left - 6}" y="${y + 4}" text-anchor="end" class="value">${esc(format(f * max))}</text>`;
  }).join('');
  const slot = plotW / Math.max(1, items.length);
  const colW = Math.min(60, slot * 0.7);
  const cols = items.map(([label, v], i) => {
    const h = (v / max) * plotH;
    const x = left + i * slot + (slot - colW) / 2;
    return `<g class="bar"><title>${esc(label)}: ${esc(format(v))}</title>` +
      `<rect x="${x.toFixed(1)}" y="${(top + plotH - h).toFixed(1)}" width="${colW.toFixed(1)}" height="${Math.max(1, h).toFixed(1)}" rx="3" fill="${PALETTE[1]}"/>` +
      `<text x="${(x + colW / 2).toFixed(1)}" y="${(top + plotH - h - 5).toFixed(1)}" text-anchor="middle" class="value">${esc(format(v))}</text>` +
      `<text x="${(x + colW / 2).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle" class="label">${esc(label)}</text></g>`;
  }).join('');
  const empty = items.length === 0 ? `<text x="${width / 2}" y="${top + plotH / 2}" text-anchor="middle" class="label">no data</text>` : '';
  return `<svg id="${id}" class="chart" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(title)}">` +
    `<text x="0" y="18" class="title">${esc(title)}</text>${ticks}${cols}${empty}</svg>`;
}

/** The four sections of the report, in order, with their anchors (`#section-<name>`). */
export const REPORT_SECTIONS = ['pages', 'audience', 'acquisition', 'today'] as const;

/** The id of every chart of each section (the Chromium test checks each has data). */
export const REPORT_CHARTS: Readonly<Record<(typeof REPORT_SECTIONS)[number], readonly string[]>> = {
  pages: ['chart-top-pages', 'chart-clicks-by-country', 'chart-avg-time', 'chart-page-bounce-rate', 'chart-daily-trend'],
  audience: ['chart-daily-sessions', 'chart-devices', 'chart-browsers', 'chart-os', 'chart-cities'],
  acquisition: ['chart-channels', 'chart-channel-bounce-rate', 'chart-referrers', 'chart-campaigns'],
  today: ['chart-hourly-clicks', 'chart-hourly-sessions', 'chart-bot-share'],
};

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const card = (svg: string) => `<div class="card">${svg}</div>`;
const kpi = (name: string, value: string) => `<div class="kpi">${esc(name)}<b>${esc(value)}</b></div>`;

export function renderHtmlReport(data: ReportData): string {
  const rows = data.rows;
  const tables = data.tables ?? {};
  const pages = pageTotals(rows);
  const totalClicks = rows.reduce((s, r) => s + r.clicks, 0);
  const dates = [...new Set(rows.map((r) => r.event_date))].sort();
  const topPages = pages.slice(0, 12).map((p) => [p.page_url, p.clicks] as const);
  const byCountry = clicksBy(rows, 'country').sort((a, b) => b[1] - a[1]);
  const byDay = clicksBy(rows, 'event_date').sort((a, b) => a[0].localeCompare(b[0]));
  // Average time on page for the most visited pages that have timed views.
  const avgTime = pages.filter((p) => p.avg_time_spent_seconds !== null).slice(0, 12)
    .map((p) => [p.page_url, p.avg_time_spent_seconds as number] as const);
  const bounces = pageBounces(rows as unknown as TableRow[]).slice(0, 12);
  const audience = audienceSummary(tables);
  const acquisition = acquisitionSummary(tables);
  const today = todaySummary(tables);

  const stageRows = data.stages.map((s) =>
    `<tr><th>${esc(s.stage)}</th><td class="num">${s.seconds.toFixed(1)} s</td><td>${s.figures.map(([k, v]) => `${esc(k)}: <b>${esc(typeof v === 'number' ? fmtInt(v) : v)}</b>`).join(' · ')}</td></tr>`).join('');

  const countryTables = data.topPagesByCountry.map((c) =>
    `<section class="country"><h3>${esc(c.country)} <small>${fmtInt(c.clicks)} clicks</small></h3><table><thead><tr><th>#</th><th>page</th><th class="num">clicks</th><th class="num">user-days*</th><th class="num">avg time on page</th></tr></thead><tbody>` +
    c.pages.map((p, i) => `<tr><td>${i + 1}</td><td class="url">${esc(p.page_url)}</td><td class="num">${fmtInt(p.clicks)}</td><td class="num">${fmtInt(p.user_days)}</td><td class="num">${esc(fmtSeconds(p.avg_time_spent_seconds))}</td></tr>`).join('') +
    `</tbody></table></section>`).join('');

  const endpoints = data.endpoints && data.endpoints.length > 0
    ? `<h2>Endpoints</h2><ul>${data.endpoints.map(([k, v]) => `<li>${esc(k)}: <code>${esc(v)}</code></li>`).join('')}</ul>` : '';

  const nav = REPORT_SECTIONS.map((name) => `<a href="#section-${name}">${name}</a>`).join(' · ');

  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(data.title)}</title>
<style>
  body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #111827; background: #f9fafb; }
  h1 { margin: 0 0 4px; font-size: 24px; } h2 { margin-top: 28px; font-size: 18px; } h3 { margin: 0 0 6px; font-size: 15px; }
  .sub { color: #6b7280; margin-bottom: 16px; }
  .kpis { display: flex; gap: 12px; flex-wrap: wrap; margin: 8px 0; }
  .kpi { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 16px; min-width: 140px; }
  .kpi b { display: block; font-size: 22px; }
  .card { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px; margin: 12px 0; overflow-x: auto; }
  .grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(840px, 1fr)); gap: 12px; }
  table { border-collapse: collapse; font-size: 13px; } th, td { padding: 4px 8px; border-bottom: 1px solid #f3f4f6; text-align: left; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; } td.url { max-width: 520px; overflow-wrap: anywhere; }
  .countries { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 12px; }
  .country { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px; }
  section.report { border-top: 3px solid #2563eb; margin-top: 24px; padding-top: 4px; }
  small { color: #6b7280; font-weight: normal; }
  svg.chart text { font-size: 12px; fill: #374151; } svg.chart text.title { font-size: 15px; font-weight: 600; fill: #111827; }
  svg.chart .grid { stroke: #e5e7eb; } .note { color: #6b7280; font-size: 12px; }
  /* Opened at #section-<name>: that section alone (for a screenshot or a link). */
  body:has(section.report:target) > :not(section.report:target) { display: none; }
</style></head>
<body>
<header class="page-head">
<h1>${esc(data.title)}</h1>
<div class="sub">Generated ${esc(data.generatedAt)} from the OpenSearch indices · ${dates.length > 0 ? `${esc(dates[0])} to ${esc(dates[dates.length - 1])} (UTC days)` : 'no data'} · ${nav}</div>
<div class="kpis">
  ${kpi('clicks', fmtInt(totalClicks))}${kpi('pages', fmtInt(pages.length))}${kpi('countries', fmtInt(byCountry.length))}${kpi('days', fmtInt(dates.length))}${kpi('aggregate rows', fmtInt(rows.length))}
</div>
<h2>Pipeline run</h2>
<div class="card"><table><tbody>${stageRows}</tbody></table></div>
</header>
<section class="report" id="section-pages">
<h2>Pages</h2>
<div class="grid2">
  ${card(svgBarChart('chart-top-pages', 'Top pages by clicks', topPages, fmtInt, PALETTE[0]))}
  ${card(svgBarChart('chart-clicks-by-country', 'Clicks by country', byCountry, fmtInt, PALETTE[2]))}
  ${card(svgBarChart('chart-avg-time', 'Average time on page (most visited pages; time / timed views)', avgTime, (v) => fmtSeconds(v), PALETTE[4]))}
  ${card(svgBarChart('chart-page-bounce-rate', 'Bounce rate of the pages with most entrances (bounces / entrances)', bounces.map((b) => [`${b.page_url} (${fmtInt(b.entrances)} entrances)`, b.bounce_rate ?? 0] as const), pct, PALETTE[3]))}
  ${card(svgColumnChart('chart-daily-trend', 'Daily clicks (UTC)', byDay, fmtInt))}
</div>
<h3>Top pages per country</h3>
<div class="countries">${countryTables}</div>
<p class="note">* user-days: the sum of each day's unique users; a user seen on two days counts twice (unique users are exact per day only).</p>
</section>
<section class="report" id="section-audience">
<h2>Audience</h2>
<div class="kpis">${kpi('sessions', fmtInt(audience.sessions))}${kpi('bounce rate', audience.bounceRate === null ? '-' : pct(audience.bounceRate))}${kpi('avg session duration', fmtSeconds(audience.avgSessionSeconds))}${kpi('pageviews', fmtInt(audience.pageviews))}</div>
<div class="grid2">
  ${card(svgColumnChart('chart-daily-sessions', 'Sessions per day (UTC)', audience.daily.map((d) => [d.day, d.sessions] as const), fmtInt))}
  ${card(svgBarChart('chart-devices', 'Sessions by device type', audience.devices, fmtInt, PALETTE[5]))}
  ${card(svgBarChart('chart-browsers', 'Sessions by browser', audience.browsers.slice(0, 10), fmtInt, PALETTE[6]))}
  ${card(svgBarChart('chart-os', 'Sessions by operating system', audience.operatingSystems.slice(0, 10), fmtInt, PALETTE[7]))}
  ${card(svgBarChart('chart-cities', 'Top cities by sessions', audience.cities.slice(0, 12), fmtInt, PALETTE[8]))}
</div>
</section>
<section class="report" id="section-acquisition">
<h2>Acquisition</h2>
<div class="grid2">
  ${card(svgBarChart('chart-channels', 'Sessions by channel', acquisition.channels.map((c) => [c.channel, c.sessions] as const), fmtInt, PALETTE[0]))}
  ${card(svgBarChart('chart-channel-bounce-rate', 'Bounce rate by channel (bounces / sessions)', acquisition.channels.map((c) => [c.channel, c.bounceRate ?? 0] as const), pct, PALETTE[3]))}
  ${card(svgBarChart('chart-referrers', 'Top referrers by sessions', acquisition.referrers.slice(0, 12), fmtInt, PALETTE[1]))}
  ${card(svgBarChart('chart-campaigns', 'Campaigns by sessions (source / medium)', acquisition.campaigns.slice(0, 12).map((c) => [`${c.campaign} · ${c.source} / ${c.medium}`, c.sessions] as const), fmtInt, PALETTE[4]))}
</div>
</section>
<section class="report" id="section-today">
<h2>Today <small>${today.day ? `${esc(today.day)}, the latest UTC day of the data, by UTC hour` : 'no data'}</small></h2>
<div class="grid2">
  ${card(svgColumnChart('chart-hourly-clicks', 'Clicks by hour (UTC)', today.hours.map((h) => [h.hour, h.clicks] as const), fmtInt))}
  ${card(svgColumnChart('chart-hourly-sessions', 'Sessions by hour (UTC)', today.hours.map((h) => [h.hour, h.sessions] as const), fmtInt))}
  ${card(svgColumnChart('chart-bot-share', 'Bot share by hour (UTC): bot clicks / all clicks', today.hours.map((h) => [h.hour, h.botShare ?? 0] as const), pct))}
</div>
</section>
${endpoints}
</body></html>
`;
}
