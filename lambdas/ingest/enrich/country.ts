/**
 * `country` and `country_raw` (SPEC §2, docs/ingest.md §1 "Enrichment"):
 * - missing, null, empty or blank → `unknown`, `country_raw` null;
 * - two ASCII letters → upper-cased and kept (`de` → `DE`, user-assigned `XK` too), except `UK` → `GB`;
 * - an ISO 3166-1 alpha-3 code (`DEU`, any case) → its alpha-2 code;
 * - an English short name or one of its common alternatives (`Germany`, `united states`,
 *   `Côte d’Ivoire` or `cote d'ivoire`), case-insensitive → its alpha-2 code;
 * - anything else → `unknown`, with the trimmed original in `country_raw`.
 *
 * Codes and names come from i18n-iso-countries (MIT). Only its English locale is registered: the
 * `index` entry point loads no locale, so the Lambda bundle carries one 8 KB JSON file instead of
 * about eighty.
 */
import countries from 'i18n-iso-countries/index';
import english from 'i18n-iso-countries/langs/en.json';
import { BoundedCache } from './cache';

countries.registerLocale(english);

export const UNKNOWN_COUNTRY = 'unknown';

export interface CountryFields {
  readonly country: string;
  readonly country_raw: string | null;
}

const UNKNOWN_WITHOUT_RAW: CountryFields = Object.freeze({ country: UNKNOWN_COUNTRY, country_raw: null });

/** Lower case, typographic apostrophes as `'`: `Côte d’Ivoire` and `côte d'ivoire` meet. Diacritics
 *  are kept (the library lists `Côte d'Ivoire` and `Cote d'Ivoire`, `Türkiye` and `Turkey` itself). */
function fold(text: string): string {
  return text.replace(/[\u2018\u2019\u02bc]/g, "'").toLowerCase();
}

/** Every English name the library knows (official and alternatives), folded, → alpha-2. */
const BY_NAME = new Map<string, string>();
for (const [alpha2, names] of Object.entries(countries.getNames('en', { select: 'all' }))) {
  for (const name of names) {
    const key = fold(name);
    if (!BY_NAME.has(key)) BY_NAME.set(key, alpha2);
  }
}

function isAsciiLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** The alpha-2 code for a trimmed, non-empty country value, or undefined when it names none. */
export function countryCode(trimmed: string): string | undefined {
  if (trimmed.length === 2 && isAsciiLetter(trimmed.charCodeAt(0)) && isAsciiLetter(trimmed.charCodeAt(1))) {
    const upper = trimmed.toUpperCase();
    return upper === 'UK' ? 'GB' : upper;
  }
  if (trimmed.length === 3 && isAsciiLetter(trimmed.charCodeAt(0)) && isAsciiLetter(trimmed.charCodeAt(1)) && isAsciiLetter(trimmed.charCodeAt(2))) {
    const alpha2 = countries.alpha3ToAlpha2(trimmed.toUpperCase());
    if (alpha2 !== undefined) return alpha2;
  }
  return byNameCached(trimmed);
}

/** Names repeat (a producer writes `Germany` every time): folded and looked up once per distinct
 *  spelling, not per event. Bounded: garbage may be endless. */
const nameCache = new BoundedCache<string | null>(1000, (text) => BY_NAME.get(fold(text)) ?? null, 64);

function byNameCached(trimmed: string): string | undefined {
  return nameCache.get(trimmed) ?? undefined;
}

/** `country` and `country_raw` of a record from the message's `country` value (a string or null). */
export function normalizeCountry(raw: string | null): CountryFields {
  if (raw === null) return UNKNOWN_WITHOUT_RAW;
  const trimmed = raw.trim();
  if (trimmed === '') return UNKNOWN_WITHOUT_RAW;
  const code = countryCode(trimmed);
  return code === undefined ? { country: UNKNOWN_COUNTRY, country_raw: trimmed } : { country: code, country_raw: null };
}
