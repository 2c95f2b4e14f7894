/**
 * URL rules of SPEC §1/§2: `url` must be an absolute http(s) URL; `page_url` is its normalized
 * form used for grouping (lower-case scheme and host, path kept, trailing `/` dropped except for
 * the root, query and fragment dropped).
 *
 * Parsing is the WHATWG URL standard (Node's `URL`), the same algorithm browsers use to produce
 * `location.href`, so URLs that come from a web page are already in the form it outputs.
 * Consequences (docs/ingest.md): dot segments (`/a/../b`) are resolved, the default port is
 * dropped, an internationalized host is written in punycode, user info (`user:pass@`) never
 * reaches `page_url`.
 *
 * Hot path: most URLs are plain (ASCII host name, plain path). `simplePageUrl` recognizes those
 * and normalizes them without building a `URL` object, with exactly the WHATWG result (a
 * differential test holds it to that); everything else goes through `URL`.
 */

/** Scheme and exactly two slashes: WHATWG would also repair `https:///host` or `https:\\host`,
 *  but those are not what a page reports as its URL, so they are not absolute http(s) URLs here. */
const ABSOLUTE_HTTP_URL = /^https?:\/\/(?![/\\])/i;

const CH_SLASH = 0x2f;
const CH_COLON = 0x3a;
const CH_DOT = 0x2e;
const CH_DASH = 0x2d;
const CH_QUESTION = 0x3f;
const CH_HASH = 0x23;
const CH_PERCENT = 0x25;

/** ASCII characters WHATWG leaves alone in a path: outside its path percent-encode set, not `\`. */
const PLAIN_PATH_CHAR = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@%/") {
  PLAIN_PATH_CHAR[c.charCodeAt(0)] = 1;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHostChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || isDigit(c) || c === CH_DASH;
}

/** `(text[at] | 0x20) === lower` for the letters of `http`/`https`/`xn`: a case-insensitive match. */
function isLetter(text: string, at: number, lower: number): boolean {
  return (text.charCodeAt(at) | 0x20) === lower;
}

function dropTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === CH_SLASH) end--;
  if (end === path.length) return path;
  return end === 0 ? '/' : path.slice(0, end);
}

/**
 * `page_url` of a plain URL without the WHATWG parser, or `undefined` when the URL is not plain
 * (then the caller uses `URL`). Plain means WHATWG would change nothing but case, the default
 * port and the parts `page_url` drops: `http(s)://`, a host name of non-empty labels of ASCII
 * letters, digits and `-` (no punycode `xn--` label, no IPv4-looking last label), an optional
 * port, a path of characters outside WHATWG's path percent-encode set and without dot segments,
 * then anything after `?` or `#` (dropped; WHATWG never fails there). A character scanner rather
 * than a regular expression: it runs once per event. Exported for the differential test.
 */
export function simplePageUrl(text: string): string | undefined {
  const len = text.length;
  if (!isLetter(text, 0, 0x68) || !isLetter(text, 1, 0x74) || !isLetter(text, 2, 0x74) || !isLetter(text, 3, 0x70)) return undefined;
  let i = 4;
  const secure = isLetter(text, 4, 0x73);
  if (secure) i++;
  if (text.charCodeAt(i) !== CH_COLON || text.charCodeAt(i + 1) !== CH_SLASH || text.charCodeAt(i + 2) !== CH_SLASH) return undefined;
  i += 3;

  // Host: labels of [A-Za-z0-9-], separated by single dots.
  const hostStart = i;
  let labelStart = i;
  let hasUpper = false;
  for (; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c === CH_DOT) {
      if (i === labelStart) return undefined; // empty label
      labelStart = i + 1;
      continue;
    }
    if (!isHostChar(c)) break;
    if (c >= 0x41 && c <= 0x5a) hasUpper = true;
    if (i === labelStart && (c | 0x20) === 0x78 && isLetter(text, i + 1, 0x6e) && text.charCodeAt(i + 2) === CH_DASH && text.charCodeAt(i + 3) === CH_DASH) {
      return undefined; // punycode label: WHATWG validates and may refuse it
    }
  }
  if (i === labelStart || isDigit(text.charCodeAt(labelStart))) return undefined; // trailing dot, empty host, IPv4-like
  const hostEnd = i;

  let port = '';
  if (text.charCodeAt(i) === CH_COLON) {
    const portStart = ++i;
    let n = 0;
    while (i < len && isDigit(text.charCodeAt(i)) && i - portStart < 5) n = n * 10 + (text.charCodeAt(i++) - 0x30);
    if (i === portStart || n > 65535) return undefined;
    if (!(secure ? n === 443 : n === 80)) port = `:${n}`;
  }

  let path = '/';
  const c = text.charCodeAt(i);
  if (c === CH_SLASH) {
    const pathStart = i;
    for (; i < len; i++) {
      const p = text.charCodeAt(i);
      if (p === CH_QUESTION || p === CH_HASH) break;
      if (p >= 128 || PLAIN_PATH_CHAR[p] === 0) return undefined;
      if (p === CH_SLASH && text.charCodeAt(i + 1) === CH_DOT) return undefined; // `.`/`..` segment (or `.x`, left to WHATWG)
      if (p === CH_PERCENT && text.charCodeAt(i + 1) === 0x32 && isLetter(text, i + 2, 0x65)) return undefined; // `%2e`
    }
    path = dropTrailingSlashes(text.slice(pathStart, i));
  } else if (i < len && c !== CH_QUESTION && c !== CH_HASH) {
    return undefined;
  }

  const host = text.slice(hostStart, hostEnd);
  return `${secure ? 'https' : 'http'}://${hasUpper ? host.toLowerCase() : host}${port}${path}`;
}

/**
 * Returns the normalized page URL, or `undefined` when `raw` is not an absolute http(s) URL with
 * a host. Surrounding whitespace is ignored for parsing (the stored `url` keeps it as received).
 */
export function normalizePageUrl(raw: string): string | undefined {
  const text = raw.trim();
  if (!ABSOLUTE_HTTP_URL.test(text)) return undefined;
  return simplePageUrl(text) ?? whatwgPageUrl(text);
}

/** The normalization by the WHATWG parser alone; also the reference the fast path is tested against. */
export function whatwgPageUrl(text: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return undefined;
  }
  if (parsed.hostname === '') return undefined;
  // `protocol` and `host` are already lower-case; `host` keeps a non-default port.
  return `${parsed.protocol}//${parsed.host}${dropTrailingSlashes(parsed.pathname)}`;
}
