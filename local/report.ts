/**
 * What the local pipeline shows a person: a console table, an NDJSON file of the aggregates and
 * a self-contained HTML report with charts.
 *
 * The HTML has no script and loads nothing: the charts are inline SVG drawn here, so the file
 * opens in any browser with no network (the machine that runs the pipeline has none).
 */
import { mkdirSync, writeFileSync } from 'fs';
import { dirname } from 'path';
import type { AggregateRow as IndexedAggregateRow } from '../lambdas/indexer/documents';

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
  return `<svg id="${id}" class="chart" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(title)}">` +
    `<text x="0" y="18" class="title">${esc(title)}</text>${ticks}${cols}</svg>`;
}

export function renderHtmlReport(data: ReportData): string {
  const rows = data.rows;
  const pages = pageTotals(rows);
  const totalClicks = rows.reduce((s, r) => s + r.clicks, 0);
  const dates = [...new Set(rows.map((r) => r.event_date))].sort();
  const topPages = pages.slice(0, 12).map((p) => [p.page_url, p.clicks] as const);
  const byCountry = clicksBy(rows, 'country').sort((a, b) => b[1] - a[1]);
  const byDay = clicksBy(rows, 'event_date').sort((a, b) => a[0].localeCompare(b[0]));
  // Average time on page for the most visited pages that have timed views.
  const avgTime = pages.filter((p) => p.avg_time_spent_seconds !== null).slice(0, 12)
    .map((p) => [p.page_url, p.avg_time_spent_seconds as number] as const);

  const stageRows = data.stages.map((s) =>
    `<tr><th>${esc(s.stage)}</th><td class="num">${s.seconds.toFixed(1)} s</td><td>${s.figures.map(([k, v]) => `${esc(k)}: <b>${esc(typeof v === 'number' ? fmtInt(v) : v)}</b>`).join(' · ')}</td></tr>`).join('');

  const countryTables = data.topPagesByCountry.map((c) =>
    `<section class="country"><h3>${esc(c.country)} <small>${fmtInt(c.clicks)} clicks</small></h3><table><thead><tr><th>#</th><th>page</th><th class="num">clicks</th><th class="num">user-days*</th><th class="num">avg time on page</th></tr></thead><tbody>` +
    c.pages.map((p, i) => `<tr><td>${i + 1}</td><td class="url">${esc(p.page_url)}</td><td class="num">${fmtInt(p.clicks)}</td><td class="num">${fmtInt(p.user_days)}</td><td class="num">${esc(fmtSeconds(p.avg_time_spent_seconds))}</td></tr>`).join('') +
    `</tbody></table></section>`).join('');

  const endpoints = data.endpoints && data.endpoints.length > 0
    ? `<h2>Endpoints</h2><ul>${data.endpoints.map(([k, v]) => `<li>${esc(k)}: <code>${esc(v)}</code></li>`).join('')}</ul>` : '';

  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(data.title)}</title>
<style>
  body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #111827; background: #f9fafb; }
  h1 { margin: 0 0 4px; font-size: 24px; } h2 { margin-top: 28px; font-size: 18px; } h3 { margin: 0 0 6px; font-size: 15px; }
  .sub { color: #6b7280; margin-bottom: 16px; }
  .kpis { display: flex; gap: 12px; flex-wrap: wrap; }
  .kpi { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 16px; min-width: 140px; }
  .kpi b { display: block; font-size: 22px; }
  .card { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px; margin: 12px 0; overflow-x: auto; }
  .grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(840px, 1fr)); gap: 12px; }
  table { border-collapse: collapse; font-size: 13px; } th, td { padding: 4px 8px; border-bottom: 1px solid #f3f4f6; text-align: left; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; } td.url { max-width: 520px; overflow-wrap: anywhere; }
  .countries { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 12px; }
  .country { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px; }
  small { color: #6b7280; font-weight: normal; }
  svg.chart text { font-size: 12px; fill: #374151; } svg.chart text.title { font-size: 15px; font-weight: 600; fill: #111827; }
  svg.chart .grid { stroke: #e5e7eb; } .note { color: #6b7280; font-size: 12px; }
</style></head>
<body>
<h1>${esc(data.title)}</h1>
<div class="sub">Generated ${esc(data.generatedAt)} from the OpenSearch index · ${dates.length > 0 ? `${esc(dates[0])} to ${esc(dates[dates.length - 1])}` : 'no data'}</div>
<div class="kpis">
  <div class="kpi">clicks<b>${fmtInt(totalClicks)}</b></div>
  <div class="kpi">pages<b>${fmtInt(pages.length)}</b></div>
  <div class="kpi">countries<b>${fmtInt(byCountry.length)}</b></div>
  <div class="kpi">days<b>${fmtInt(dates.length)}</b></div>
  <div class="kpi">aggregate rows<b>${fmtInt(rows.length)}</b></div>
</div>
<h2>Pipeline run</h2>
<div class="card"><table><tbody>${stageRows}</tbody></table></div>
<h2>Charts</h2>
<div class="grid2">
  <div class="card">${svgBarChart('chart-top-pages', 'Top pages by clicks', topPages, fmtInt, PALETTE[0])}</div>
  <div class="card">${svgBarChart('chart-clicks-by-country', 'Clicks by country', byCountry, fmtInt, PALETTE[2])}</div>
  <div class="card">${svgBarChart('chart-avg-time', 'Average time on page (most visited pages)', avgTime, (v) => fmtSeconds(v), PALETTE[4])}</div>
  <div class="card">${svgColumnChart('chart-daily-trend', 'Daily clicks (UTC)', byDay, fmtInt)}</div>
</div>
<h2>Top pages per country</h2>
<div class="countries">${countryTables}</div>
<p class="note">* user-days: the sum of each day's unique users; a user seen on two days counts twice (unique users are exact per day only).</p>
${endpoints}
</body></html>
`;
}
