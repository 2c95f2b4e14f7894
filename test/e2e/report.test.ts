/**
 * The local report from the five tables as OpenSearch serves them: a known data set
 * (test/search/dashboard-fixtures.ts) is indexed under test aliases, read back with
 * readReportTables, summarized (ratios of sums, UTC days and hours) and rendered; headless
 * Chromium then shows each of the four sections alone (`report.html#section-<name>`), a
 * screenshot of each is kept in test-artifacts/, and every chart of every section has data.
 */
import type { Client } from '@opensearch-project/opensearch';
import { createHash } from 'crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join, resolve } from 'path';
import { TABLE_NAMES, TableName } from '../../lambdas/indexer/tables';
import {
  acquisitionSummary,
  audienceSummary,
  formatAcquisitionSummary,
  formatAudienceSummary,
  pageBounces,
  readReportTables,
  renderHtmlReport,
  REPORT_CHARTS,
  REPORT_SECTIONS,
  todaySummary,
  topPagesByCountryFromRows,
  type AggregateRow,
  type ReportTables,
} from '../../local/report';
import { localClient } from '../indexer/fixtures';
import { dropFixtureTables, indexFixtureTables } from '../search/dashboard-fixtures';
import { ENGINE_START_TIMEOUT_MS, ensureEngines, uniqueName } from '../support/engines';
import { dumpDom, pngSize, screenshot } from './chromium';

const ARTIFACTS = join(resolve(__dirname, '..', '..'), 'test-artifacts');
const prefix = uniqueName('report');
const aliases = Object.fromEntries(TABLE_NAMES.map((table) => [table, `${prefix}-${table.replace(/_/g, '-')}`])) as Record<TableName, string>;
let client: Client;
let tables: ReportTables;

beforeAll(async () => {
  client = localClient((await ensureEngines(['opensearch'])).openSearchEndpoint);
  await indexFixtureTables(client, aliases);
  tables = await readReportTables(client, aliases);
}, ENGINE_START_TIMEOUT_MS);

afterAll(async () => {
  await dropFixtureTables(client, aliases);
  await client.close();
});

describe('the report\'s figures, from the tables read back from OpenSearch', () => {
  it('reads every document of the five tables, and leaves out a table whose alias does not exist', async () => {
    expect(Object.fromEntries(TABLE_NAMES.map((t) => [t, tables[t]?.length]))).toEqual({
      url_country_daily: 10, sessions_daily: 7, traffic_sources_daily: 7, geo_daily: 7, traffic_hourly: 6,
    });
    const partial = await readReportTables(client, { ...aliases, geo_daily: `${prefix}-no-such-alias` });
    expect(partial.geo_daily).toBeUndefined();
    expect(partial.sessions_daily).toHaveLength(7);
  });

  it('audience: bounce rate and session duration are ratios of sums; null browsers and cities are "(unknown)"', () => {
    const audience = audienceSummary(tables);
    expect([audience.sessions, audience.bounces]).toEqual([250, 64]);
    expect(audience.bounceRate).toBeCloseTo(0.256, 12); // not the rows' average rate, 0.44
    expect(audience.avgSessionSeconds).toBeCloseTo(75.6, 12);
    expect(audience.devices).toEqual([['desktop', 160], ['mobile', 80], ['tablet', 10]]);
    expect(audience.browsers).toContainEqual(['(unknown)', 10]);
    expect(audience.cities.slice(0, 3)).toEqual([['Berlin (DE)', 100], ['New York (US)', 50], ['Paris (FR)', 40]]);
    expect(audience.cities).toContainEqual(['(unknown city) (DE)', 10]);
    expect(audience.daily).toEqual([
      { day: '2026-07-01', sessions: 150, bounceRate: 0.2 },
      { day: '2026-07-02', sessions: 40, bounceRate: 0.5 },
      { day: '2026-07-03', sessions: 60, bounceRate: 14 / 60 },
    ]);
    expect(formatAudienceSummary(audience)).toContain('250 sessions · bounce rate 25.6% · average session duration 1m16s');
  });

  it('acquisition: channels with their bounce rate, referrers without the direct sessions, campaigns with source and medium', () => {
    const acquisition = acquisitionSummary(tables);
    expect(acquisition.channels.map((c) => [c.channel, c.sessions, c.bounceRate])).toEqual([
      ['organic_search', 100, 0.1], ['direct', 50, 0.4], ['paid_search', 40, 0.1], ['social', 30, 0.5], ['email', 25, 11 / 25], ['referral', 10, 0.5],
    ]);
    expect(acquisition.referrers).toEqual([['www.google.com', 140], ['www.facebook.com', 30], ['blog.example.org', 10]]);
    expect(acquisition.campaigns).toEqual([
      { campaign: 'summer_sale', source: 'google', medium: 'cpc', sessions: 40 },
      { campaign: 'summer_sale', source: 'facebook', medium: 'social', sessions: 30 },
      { campaign: 'july_news', source: 'newsletter', medium: 'email', sessions: 20 },
      { campaign: 'july_news', source: 'newsletter', medium: '(none)', sessions: 5 },
    ]);
    expect(formatAcquisitionSummary(acquisition)).toContain('organic_search 100 (bounce 10.0%)');
  });

  it('today: the latest UTC day, by UTC hour, bot share over all clicks', () => {
    const today = todaySummary(tables);
    expect(today.day).toBe('2026-07-03');
    expect(today.hours).toEqual([
      { hour: '00:00', clicks: 40, sessions: 15, botClicks: 10, botShare: 0.2 },
      { hour: '09:00', clicks: 50, sessions: 12, botClicks: 55, botShare: 55 / 105 },
      { hour: '17:00', clicks: 94, sessions: 30, botClicks: 6, botShare: 0.06 },
    ]);
  });

  it('pages: bounce rate per page = bounces / entrances, pages without entrances left out', () => {
    expect(pageBounces(tables.url_country_daily!).map((p) => [p.page_url, p.entrances, p.bounce_rate])).toEqual([
      ['https://shop.example/home', 300, 65 / 300],
      ['https://shop.example/p/1', 44, 5 / 44],
      ['https://shop.example/p/2', 20, 5 / 20],
      ['https://shop.example/cart', 15, 1],
    ]);
  });
});

describe('the HTML report in headless Chromium', () => {
  it('shows each of the four sections with every chart holding data; a screenshot of each is kept', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const rows = tables.url_country_daily as unknown as AggregateRow[];
    const html = join(ARTIFACTS, 'report.html');
    writeFileSync(html, renderHtmlReport({
      title: 'Clickstream — report test',
      generatedAt: '2026-07-04T01:00:00.000Z',
      stages: [{ stage: 'index', seconds: 0, figures: [['documents', 37]] }],
      rows,
      topPagesByCountry: topPagesByCountryFromRows(rows, 5),
      tables,
    }));

    const dom = await dumpDom(html);
    for (const section of REPORT_SECTIONS) {
      const body = new RegExp(`<section class="report" id="section-${section}">([\\s\\S]*?)</section>\\s*(<section class="report"|<h2>Endpoints|</body>)`).exec(dom);
      expect([section, body !== null]).toEqual([section, true]);
      for (const id of REPORT_CHARTS[section]) {
        const svg = new RegExp(`<svg[^>]*id="${id}"[\\s\\S]*?</svg>`).exec(body![1]);
        expect([id, svg !== null]).toEqual([id, true]);
        expect([id, (svg![0].match(/<rect /g) ?? []).length > 0, svg![0].includes('>no data<')]).toEqual([id, true, false]);
      }
    }

    // A page with nothing on it, as the baseline of "blank".
    const blankHtml = join(ARTIFACTS, 'report-blank.html');
    writeFileSync(blankHtml, '<!DOCTYPE html><html><body style="background:#f9fafb"></body></html>');
    const blankPng = join(ARTIFACTS, 'report-blank.png');
    await screenshot(blankHtml, blankPng, 1400, 1600);
    const blank = readFileSync(blankPng).length;

    const hashes = new Set<string>();
    for (const section of REPORT_SECTIONS) {
      const png = join(ARTIFACTS, `report-${section}.png`);
      await screenshot(html, png, 1400, 1600, 60_000, `section-${section}`);
      const image = readFileSync(png);
      expect(pngSize(image)).toEqual({ width: 1400, height: 1600 });
      expect([section, image.length > 3 * blank]).toEqual([section, true]);
      hashes.add(createHash('sha256').update(image).digest('hex'));
    }
    // Each screenshot shows its own section.
    expect(hashes.size).toBe(REPORT_SECTIONS.length);
  }, 4 * 60_000);

  it('says "no data" in the charts of a table that is not there', () => {
    const rows = tables.url_country_daily as unknown as AggregateRow[];
    const html = renderHtmlReport({ title: 't', generatedAt: 'now', stages: [], rows, topPagesByCountry: [], tables: { ...tables, traffic_hourly: undefined } });
    const today = /id="section-today">([\s\S]*?)<\/section>/.exec(html)![1];
    for (const id of REPORT_CHARTS.today) expect(new RegExp(`id="${id}"[\\s\\S]*?>no data<`).test(today)).toBe(true);
  });
});
